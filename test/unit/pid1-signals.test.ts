// The images start node itself as PID 1 (exec-form ENTRYPOINT, no init), and the kernel ignores a
// signal sent to a PID namespace's init for which it has no handler. A sinker still starting (waiting
// for Kafka, Redis, its table or topic) must stop on SIGTERM there too: otherwise a pod being deleted,
// scaled in or rolled (a fixed broker address) waits its whole grace period for SIGKILL. The sinker
// runs here as PID 1 of a new PID namespace (`unshare --pid --fork`), pointed at a Kafka
// address nothing listens on; it needs no server. `check` and `replay` (run in a Job, or `docker run
// -it … replay` and Ctrl-C) stop on a signal the same way.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
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

/** `doris-sinker [command] -config FILE` as PID 1 of a new PID namespace; returns once it is PID 1. */
async function sinkerAsPid1(
  tag: string,
  config: Record<string, unknown>,
  command: string[] = [],
): Promise<{ unshare: ChildProcess; pid: number; out: () => string }> {
  const path = join(dir, `${tag}.yaml`);
  writeFileSync(path, JSON.stringify({ name: `pid1-${tag}`, ...config }));
  // Not root: a user namespace first, in which this user may make the PID namespace.
  const userns = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
  const argv = [...userns, '--pid', '--fork', process.execPath, MAIN, ...command, '-config', path];
  const unshare = spawn('unshare', argv, {
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
  return { unshare, pid, out: () => out };
}

/** Waits until the output matches (the process is where the test wants it). */
async function waitOutput(p: { unshare: ChildProcess; out: () => string }, re: RegExp): Promise<void> {
  for (let i = 0; !re.test(p.out()); i++) {
    assert.ok(i < 600 && p.unshare.exitCode === null, `no ${re} within 30 s:\n${p.out()}`);
    await sleep(50);
  }
}

async function startingSinkerAsPid1(tag: string): Promise<{ unshare: ChildProcess; pid: number; out: () => string }> {
  const p = await sinkerAsPid1(tag, {
    kafka: { brokers: [`127.0.0.1:${await closedPort()}`], topic: 'pid1' },
    schema: { mode: 'manual', manual: { columns: [{ name: 'id', type: 'bigint', nullable: false }] } },
    metrics: { port: 0, port_file: join(dir, `${tag}.port`) },
  });
  // Still starting: waiting for Kafka, which refuses every connection.
  await waitOutput(p, /Kafka unreachable at start/);
  return p;
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

test('SIGTERM to `check` as PID 1 while it waits for answers stops it at once, exit 143', async () => {
  // Every address is a server that takes connections and never answers: each check waits its 15 s.
  const held: Socket[] = [];
  const silent = createServer((sock) => held.push(sock));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const at = `127.0.0.1:${(silent.address() as { port: number }).port}`;
  const p = await sinkerAsPid1(
    'check',
    {
      kafka: { brokers: [at], topic: 'pid1' },
      doris: { fe_hosts: [at], query_port: Number(at.split(':')[1]) },
      dedupe: { redis_url: `redis://${at}` },
    },
    ['check'],
  );
  try {
    // Connected (held) is where it waits; a second in, the checks have been sent.
    for (let i = 0; held.length === 0; i++) {
      assert.ok(i < 600 && p.unshare.exitCode === null, `check connected to nothing within 30 s:\n${p.out()}`);
      await sleep(50);
    }
    await sleep(1000);
    process.kill(p.pid, 'SIGTERM');
    const exit = await exitWithin(p.unshare, 5_000);
    assert.notEqual(exit, undefined, `still running 5 s after SIGTERM: PID 1 ignored it:\n${p.out().slice(-2000)}`);
    assert.equal(exit, 143, p.out().slice(-2000));
  } finally {
    p.unshare.kill('SIGKILL');
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {}
    for (const s of held) s.destroy();
    silent.close();
  }
});
