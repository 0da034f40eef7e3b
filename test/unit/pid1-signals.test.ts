// The images start node itself as PID 1 (exec-form ENTRYPOINT, no init), and the kernel ignores a
// signal sent to a PID namespace's init for which it has no handler. A sinker still starting (waiting
// for Kafka, Redis, its table or topic) must stop on SIGTERM there too: otherwise a pod being deleted,
// scaled in or rolled (a fixed broker address) waits its whole grace period for SIGKILL. The sinker
// runs here as PID 1 of a new PID namespace (`unshare --pid --fork`, as root), pointed at a Kafka
// address nothing listens on; it needs no server.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../sinker/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pid1-signals-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A port on 127.0.0.1 that was free a moment ago: a Kafka broker that refuses connections. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The process `unshare --fork` started: PID 1 of its namespace. */
async function namespaceInit(unshare: ChildProcess): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const children = readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim();
    if (children) return Number(children.split(' ')[0]);
    await sleep(50);
  }
  throw new Error('unshare started no child within 5 s');
}

async function startingSinkerAsPid1(tag: string): Promise<{ unshare: ChildProcess; pid: number; out: () => string }> {
  assert.equal(process.getuid?.(), 0, 'unshare --pid needs root here (the test bed machine runs as root)');
  const config = join(dir, `${tag}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      name: `pid1-${tag}`,
      kafka: { brokers: [`127.0.0.1:${await closedPort()}`], topic: 'pid1' },
      schema: { mode: 'manual', manual: { columns: [{ name: 'id', type: 'bigint', nullable: false }] } },
      metrics: { port: 0, port_file: join(dir, `${tag}.port`) },
    }),
  );
  const unshare = spawn('unshare', ['--pid', '--fork', process.execPath, MAIN, '-config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  unshare.stdout?.on('data', (b: Buffer) => {
    out += b.toString('utf8');
  });
  unshare.stderr?.on('data', (b: Buffer) => {
    out += b.toString('utf8');
  });
  const pid = await namespaceInit(unshare);
  const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.split(/\s+/);
  assert.equal(nspid?.at(-1), '1', `the sinker is not PID 1 of its namespace (NSpid ${nspid?.join(' ')})`);
  // Still starting: waiting for Kafka, which refuses every connection.
  for (let i = 0; !/Kafka unreachable at start/.test(out); i++) {
    assert.ok(i < 600 && unshare.exitCode === null, `no 'Kafka unreachable at start' line within 30 s:\n${out}`);
    await sleep(50);
  }
  return { unshare, pid, out: () => out };
}

/** The exit code of unshare (its child's), or undefined when it still runs after `ms`. */
async function exitWithin(p: ChildProcess, ms: number): Promise<number | null | undefined> {
  if (p.exitCode !== null) return p.exitCode;
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  return Promise.race([exited, sleep(ms).then(() => undefined)]);
}

for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  test(`${signal} to a sinker that is PID 1 and still starting stops it at once, exit ${code} (128 + the signal)`, async () => {
    const { unshare, pid, out } = await startingSinkerAsPid1(signal.toLowerCase());
    try {
      process.kill(pid, signal);
      const exit = await exitWithin(unshare, 10_000);
      assert.notEqual(exit, undefined, `still running 10 s after ${signal}: PID 1 ignored it:\n${out().slice(-2000)}`);
      assert.equal(exit, code, out().slice(-2000));
      assert.match(out(), new RegExp(`"signal":"${signal}".*stopped while starting`));
    } finally {
      unshare.kill('SIGKILL');
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  });
}
