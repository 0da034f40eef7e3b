// A private single-node Kafka (KRaft) for benchmarks, from the test bed's Kafka jars (KAFKA_LIBS), on its
// own ports and data directory. Other helpers' fault tests restart the shared test-bed broker; a bench
// run on it is then measuring their restarts. The data directory persists (under the cache), so the
// pre-filled topic survives between runs; the broker itself runs only while the bench does.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

const PORT = 29092;
const CONTROLLER_PORT = 29093;

function portOpen(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });
}

export interface PrivateKafka {
  bootstrap: string;
  /** Where the broker keeps its logs (for free-space checks). */
  dataDir: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export async function startPrivateKafka(libs: string, bin: string): Promise<PrivateKafka> {
  const dir = join(process.env.DORIS_SINKER_CACHE ?? join(homedir(), '.cache', 'doris-sinker'), 'bench-kafka');
  const bootstrap = `127.0.0.1:${PORT}`;
  if (await portOpen(PORT)) {
    // Left running by an earlier bench (or started by hand): use it, leave it.
    return { bootstrap, dataDir: join(dir, 'data'), pid: undefined, stop: async () => {} };
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}`,
      `listeners=PLAINTEXT://127.0.0.1:${PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${PORT}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=4',
      // The pre-filled topic is the cache: keep it a week.
      'log.retention.hours=168',
      // Size-bounded topics (the soak's) are trimmed every 30 s, not every 5 minutes: at 40k msg/s a
      // partition grows by gigabytes in 5 minutes.
      'log.retention.check.interval.ms=30000',
      // A deleted topic's files go within half a minute (default: a minute or more), before a soak stops the broker.
      'log.segment.delete.delay.ms=1000',
      '',
    ].join('\n'),
  );
  const cp = `${libs}/*`;
  if (!existsSync(join(dir, 'data', 'meta.properties'))) {
    const id = execFileSync('java', ['-cp', cp, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' }).trim();
    execFileSync('java', ['-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', id, '-c', props, '-g'], {
      stdio: 'ignore',
    });
  }
  const log = openSync(join(dir, 'broker.log'), 'a');
  const child = spawn(
    'java',
    [
      '-Xms512m',
      '-Xmx1g',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      '-cp',
      cp,
      'kafka.Kafka',
      props,
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`private kafka exited with ${child.exitCode}; see ${join(dir, 'broker.log')}`);
    if (await portOpen(PORT)) {
      try {
        execFileSync(join(bin, 'kafka-topics'), ['--bootstrap-server', bootstrap, '--list'], {
          stdio: 'ignore',
          timeout: 60_000,
        });
        break;
      } catch {
        // controller not ready yet
      }
    }
    if (Date.now() > deadline) throw new Error(`private kafka not ready in 120 s; see ${join(dir, 'broker.log')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  return {
    dataDir: join(dir, 'data'),
    bootstrap,
    pid: child.pid,
    stop: () =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}
