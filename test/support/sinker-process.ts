// Runs the real sinker as a child process (`node sinker/main.ts -config FILE`), the way an operator
// or a user does: writes the config file, spawns it, waits for /readyz, scrapes /metrics, stops it
// with SIGTERM (graceful) or SIGKILL (crash), and keeps its log for assertions and post-mortems.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SINKER_MAIN = join(ROOT, 'sinker', 'main.ts');

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, for a process to bind next. Drawn at
 * random from 30000–32767: above the test beds' fixed ports and below the kernel's ephemeral range
 * (32768+), so an outgoing connection cannot take it before it is bound, as one could with a port the
 * kernel hands out for `listen(0)`. Where the process can bind port 0 itself (a sinker's metrics port),
 * prefer that.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 30000 + Math.floor(Math.random() * 2768);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 30000-32767 after 100 tries');
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Directory for the config file and the log; created if missing. */
  dir: string;
  /** Name used for the config/log files (several processes may share `dir`). */
  tag: string;
  /** The config as an object (written as JSON, which YAML reads). */
  config: Record<string, unknown>;
  /** Extra command-line words before `-config` (e.g. `check`, `replay`). */
  command?: string[];
  /** Extra arguments after the config. */
  extraArgs?: string[];
  env?: Record<string, string>;
}

/** One sinker child process. */
export class SinkerProcess {
  readonly child: ChildProcess;
  readonly configPath: string;
  readonly logPath: string;
  readonly exited: Promise<Exit>;
  /** The configured metrics port, or the bound one once read from the port file (port 0). */
  #metricsPort: number | undefined;
  readonly #portFile: string | undefined;
  #out: string[] = [];
  #exit: Exit | undefined;

  constructor(opts: SpawnOptions) {
    mkdirSync(opts.dir, { recursive: true });
    this.configPath = join(opts.dir, `${opts.tag}.config.yaml`);
    this.logPath = join(opts.dir, `${opts.tag}.log`);
    let config = opts.config;
    const metrics = config.metrics as { port?: number; port_file?: string } | undefined;
    if (metrics?.port === 0) {
      // Port 0: the sinker binds any free port and writes it to this file (metrics.port_file).
      this.#portFile = metrics.port_file ?? join(opts.dir, `${opts.tag}.metrics-port`);
      rmSync(this.#portFile, { force: true });
      config = { ...config, metrics: { ...metrics, port_file: this.#portFile } };
    } else this.#metricsPort = metrics?.port ?? 9090;
    writeFileSync(this.configPath, `${JSON.stringify(config, null, 2)}\n`);
    this.child = spawn(
      process.execPath,
      [SINKER_MAIN, ...(opts.command ?? []), '-config', this.configPath, ...(opts.extraArgs ?? [])],
      { cwd: opts.dir, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      const s = chunk.toString('utf8');
      this.#out.push(s);
      try {
        writeFileSync(this.logPath, s, { flag: 'a' });
      } catch {
        // the log file is a convenience; memory holds the output too
      }
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  /** Everything the process wrote (stdout + stderr). */
  get output(): string {
    return this.#out.join('');
  }

  /** The JSON log lines the process wrote, parsed (other lines dropped). */
  get logLines(): Record<string, unknown>[] {
    const lines: Record<string, unknown>[] = [];
    for (const l of this.output.split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // a line cut by a kill
      }
    }
    return lines;
  }

  /** The port of /metrics, /healthz and /readyz; throws while a port-0 sinker has not bound yet. */
  get metricsPort(): number {
    const port = this.#boundPort();
    if (port === undefined) throw new Error(`the sinker has not written its metrics port yet:\n${this.tail()}`);
    return port;
  }

  #boundPort(): number | undefined {
    if (this.#metricsPort === undefined && this.#portFile !== undefined) {
      try {
        const port = Number(readFileSync(this.#portFile, 'utf8').trim());
        if (port > 0) this.#metricsPort = port;
      } catch {
        // not written yet
      }
    }
    return this.#metricsPort;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Whether /readyz answers 200 now (false while not bound or not listening). */
  async isReady(): Promise<boolean> {
    const port = this.#boundPort();
    if (port === undefined) return false;
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
      return r.status === 200;
    } catch {
      return false;
    }
  }

  /** Resolves when /readyz answers 200; throws with the log tail if the process exits or time runs out. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`sinker exited ${JSON.stringify(this.#exit)} before ready:\n${this.tail()}`);
      if (await this.isReady()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`sinker not ready within ${timeoutMs} ms:\n${this.tail()}`);
  }

  /**
   * Resolves with the first JSON log line whose `msg` matches; throws with the log tail if the process
   * exits or time runs out. A start on a loaded machine can take seconds before its first line.
   */
  async waitForLog(msg: RegExp, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.logLines.find((l) => msg.test(String(l.msg)));
      if (line) return line;
      if (!this.running)
        throw new Error(`sinker exited ${JSON.stringify(this.#exit)} before logging ${msg}:\n${this.tail()}`);
      if (Date.now() >= deadline) throw new Error(`sinker logged no ${msg} within ${timeoutMs} ms:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The Prometheus text of /metrics. */
  async scrape(): Promise<string> {
    const r = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`GET /metrics: HTTP ${r.status}`);
    return r.text();
  }

  /** SIGTERM and wait for the exit (SIGKILL after `timeoutMs`, reported as a signal exit). */
  async term(timeoutMs = 40_000): Promise<Exit> {
    if (!this.running) return this.#exit!;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL (a crash: nothing flushed, nothing committed) and wait for the exit. */
  async kill(): Promise<Exit> {
    if (!this.running) return this.#exit!;
    this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGSTOP: the process freezes (no heartbeats, loads hang mid-way) until `resume()`; a zombie. */
  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.child.kill('SIGCONT');
  }

  /** The last `n` lines of output, for failure messages. */
  tail(n = 40): string {
    return this.output.split('\n').slice(-n).join('\n');
  }
}

/** Runs a one-shot command (`check`, `replay`) to its exit; resolves with the exit and the output. */
export async function runSinkerCommand(
  opts: SpawnOptions,
  timeoutMs = 60_000,
): Promise<{ exit: Exit; output: string }> {
  const p = new SinkerProcess(opts);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const exit = await p.exited;
  clearTimeout(timer);
  // Let the pipes drain.
  await new Promise((r) => setTimeout(r, 50));
  return { exit, output: p.output };
}

/** A value of one metric series from Prometheus text (sum over series matching every given label). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}
