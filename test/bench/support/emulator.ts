// A private Doris emulator for benchmarks: its own ports, counting mode (rows framed and counted, nothing
// stored), every label kept (so /txns can time each load), so the shared test-bed emulator that other
// tests use is never switched into counting mode or slowed down.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const NODE = process.execPath;

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export interface BenchEmulator {
  pid: number;
  fe: string;
  be: string;
  queryPort: number;
  control: string;
  password: string;
  child: ChildProcess;
  counters(): Promise<EmulatorCounters>;
  txns(): Promise<EmulatorTxn[]>;
  fault(spec: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export interface EmulatorCounters {
  loads: number;
  rows: number;
  loadedRows: number;
  filteredRows: number;
  bytes: number;
  status: Record<string, number>;
  faultsFired: Record<string, number>;
}

export interface EmulatorTxn {
  id: number;
  label: string;
  state: string;
  prepareTime: number;
  commitTime: number;
  finishTime: number;
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

export async function startBenchEmulator(mode: 'count' | 'validate' | 'full' = 'count'): Promise<BenchEmulator> {
  const [fe, be, query, control] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const password = 'bench';
  const args = [
    resolve(REPO, 'test/emulator/main.ts'),
    ...['--fe-port', String(fe), '--be-ports', String(be), '--query-port', String(query)],
    ...['--control-port', String(control), '--mode', mode, '--password', password, '--label-max', '-1'],
  ];
  const child = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ok, fail) => {
    let out = '';
    const onExit = (code: number | null) => fail(new Error(`bench emulator exited with ${code}: ${out}`));
    child.once('exit', onExit);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('doris-emulator ready')) {
        child.off('exit', onExit);
        ok();
      }
    });
  });
  const base = `http://127.0.0.1:${control}`;
  return {
    pid: child.pid!,
    fe: `127.0.0.1:${fe}`,
    be: `127.0.0.1:${be}`,
    queryPort: query,
    control: `127.0.0.1:${control}`,
    password,
    child,
    counters: () => json<EmulatorCounters>(`${base}/counters`),
    txns: async () => (await json<{ txns: EmulatorTxn[] }>(`${base}/txns`)).txns,
    fault: async (spec) => {
      await json(`${base}/faults`, { method: 'POST', body: JSON.stringify(spec) });
    },
    stop: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}
