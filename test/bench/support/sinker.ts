// Runs one sinker process as a child for a benchmark, as its image runs it (the compiled JavaScript)
// or from source (sinker/main.ts, as `npm start` does): writes its config, finds its status port from
// the log, scrapes its /metrics, and stops it with SIGTERM.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { API_VERSION, KIND } from '../../../operator/api/schema.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import { renderSinkerConfig } from '../../../operator/desired/config.ts';
import type { BenchEmulator } from './emulator.ts';
import { freePort, NODE, REPO } from './emulator.ts';

export interface BatchSettings {
  max_batch_rows: number;
  max_batch_size: number;
  max_batch_interval: number;
  flush_worker_count: number;
  max_buffer_bytes: number;
  /** Mapping worker threads (the sinker's default when absent). */
  map_workers?: number;
  /** Merged multi-partition loads (the sinker's default, off, when absent). */
  merge_partitions?: boolean;
}

/** kafka.max_fetch_bytes / max_fetch_records, when not the sinker's defaults. */
export interface FetchSettings {
  max_fetch_bytes?: number;
  max_fetch_records?: number;
}

/**
 * What the operator renders for a DorisSink that sets no batch or fetch field: its CRD defaults, taken
 * from the operator's own renderer so the bench follows them.
 */
export function operatorDefaults(): { batch: BatchSettings; fetch: FetchSettings } {
  const config = renderSinkerConfig({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'bench', namespace: 'bench' },
    spec: {
      kafka: { brokers: ['127.0.0.1:9092'], topic: 'bench' },
      doris: { feHosts: ['127.0.0.1:8030'], database: 'test_db', table: 'tb_event' },
      dedupe: {},
    },
  } as DorisSink);
  const b = config.batch;
  return {
    batch: {
      max_batch_rows: b.max_batch_rows,
      max_batch_size: b.max_batch_size,
      max_batch_interval: b.max_batch_interval,
      flush_worker_count: b.flush_worker_count,
      max_buffer_bytes: b.max_buffer_bytes,
      ...(b.map_workers !== undefined ? { map_workers: b.map_workers } : {}),
      ...(b.merge_partitions !== undefined ? { merge_partitions: b.merge_partitions } : {}),
    },
    fetch: { max_fetch_bytes: config.kafka.max_fetch_bytes, max_fetch_records: config.kafka.max_fetch_records },
  };
}

/** The config defaults (config.example.yaml): what a user gets without tuning. */
export const DEFAULT_BATCH: BatchSettings = {
  max_batch_rows: 10_000,
  max_batch_size: 10_485_760,
  max_batch_interval: 30,
  flush_worker_count: 4,
  max_buffer_bytes: 134_217_728,
};

/**
 * How the sinker runs in its image (Dockerfile.sinker's NODE_OPTIONS and MALLOC_* lines; a unit test
 * keeps the two the same), so a benchmark measures the process users run.
 */
export const IMAGE_NODE_FLAGS = ['--enable-source-maps', '--max-semi-space-size=16'];
export const IMAGE_MALLOC_ENV: Record<string, string> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1',
};

export interface SinkerOptions {
  name: string;
  topic: string;
  group: string;
  brokers: string;
  redisUrl: string;
  emulator: BenchEmulator;
  batch: BatchSettings;
  fetch?: FetchSettings;
  workDir: string;
  format?: 'json' | 'csv';
  keyFields?: string[];
  /** Node flags instead of the image's (IMAGE_NODE_FLAGS), e.g. to add --cpu-prof. */
  nodeFlags?: string[];
  pprof?: boolean;
  logLevel?: string;
  /** Run the sinker from another tree (an A/B comparison against an exported commit). */
  sinkerRoot?: string;
  /** 'image' (default): the compiled JavaScript, as Dockerfile.sinker builds and runs it; 'source': sinker/main.ts. */
  runtime?: SinkerRuntime;
}

/**
 * How the child runs: 'image' compiles the tree with tsc like Dockerfile.sinker and runs
 * dist/sinker/main.js; 'source' runs sinker/main.ts through Node's type stripping, which loads a
 * TypeScript transformer into the main thread and into each map worker (about 25 MiB RSS more at idle).
 */
export type SinkerRuntime = 'image' | 'source';
export const SINKER_RUNTIMES: readonly SinkerRuntime[] = ['image', 'source'];

const builds = new Map<string, string>();

/**
 * The entry point for `runtime` of the tree at `root`. 'image' compiles once per tree and process
 * into `<workDir>/sinker-build` (tsc --noCheck, the image's build command), with package.json beside
 * the output as in the image and a link to the tree's node_modules.
 */
export function sinkerEntry(root: string, runtime: SinkerRuntime, workDir: string): string {
  if (runtime === 'source') return resolve(root, 'sinker/main.ts');
  const built = builds.get(root);
  if (built) return built;
  const out = join(workDir, `sinker-build-${builds.size}`);
  mkdirSync(out, { recursive: true });
  const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(NODE, [tsc, '-p', resolve(root, 'tsconfig.json'), '--noCheck', '--outDir', out], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(`compiling ${root} for the image runtime failed (tsc exit ${r.status}): ${r.stdout}${r.stderr}`);
  }
  copyFileSync(resolve(root, 'package.json'), join(out, 'package.json'));
  if (!existsSync(join(out, 'node_modules'))) symlinkSync(resolve(root, 'node_modules'), join(out, 'node_modules'));
  const entry = join(out, 'sinker/main.js');
  builds.set(root, entry);
  return entry;
}

export interface SinkerChild {
  pid: number;
  child: ChildProcess;
  statusPort: number;
  pprofPort: number;
  config: Record<string, unknown>;
  metrics(): Promise<Map<string, number>>;
  stop(): Promise<number | null>;
}

/** Prometheus text → series (name plus labels, as written) → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Sum of every series of a metric name, whatever its labels. */
export function metricSum(m: Map<string, number>, name: string): number {
  let s = 0;
  for (const [k, v] of m) if (k === name || k.startsWith(`${name}{`)) s += v;
  return s;
}

export async function startSinker(o: SinkerOptions): Promise<SinkerChild> {
  const pprofPort = await freePort();
  const statusPort = await freePort();
  const config = {
    name: o.name,
    shutdown_timeout: 30,
    kafka: { brokers: o.brokers.split(','), topic: o.topic, group_id: o.group, from_earliest: true, ...o.fetch },
    doris: {
      fe_hosts: [o.emulator.fe],
      query_port: o.emulator.queryPort,
      database: 'test_db',
      table: 'tb_event',
      user: 'root',
      password: o.emulator.password,
      load_route: 'backend',
      format: o.format ?? 'json',
    },
    batch: o.batch,
    schema: { mode: 'auto' },
    dedupe: { redis_url: o.redisUrl, required: true, key_prefix: o.name, key_fields: o.keyFields ?? [] },
    dlq: { file_path: join(o.workDir, `${o.name}-dlq.jsonl`) },
    log: { level: o.logLevel ?? 'info', output: 'stdout' },
    metrics: { enabled: true, port: statusPort },
    pprof: { enabled: o.pprof ?? false, port: pprofPort, host: '127.0.0.1' },
  };
  const configPath = join(o.workDir, `${o.name}.yaml`);
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  // No env overrides leak in from the caller's shell: the config file is the whole truth.
  const env = { ...process.env, ...IMAGE_MALLOC_ENV };
  for (const k of ['DORIS_PASSWORD', 'DORIS_FE_HOSTS', 'KAFKA_BROKERS', 'REDIS_URL', 'KAFKA_SASL_PASSWORD'])
    delete env[k];
  const child = spawn(
    NODE,
    [
      ...(o.nodeFlags ?? IMAGE_NODE_FLAGS),
      sinkerEntry(o.sinkerRoot ?? REPO, o.runtime ?? 'image', o.workDir),
      '--config',
      configPath,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      cwd: o.workDir,
    },
  );
  const log = createWriteStream(join(o.workDir, `${o.name}.log`));
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const base = `http://127.0.0.1:${statusPort}`;
  // Ready = the status server answers /readyz 200 (schema loaded, consumer joined).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`sinker exited with ${child.exitCode}; see ${join(o.workDir, `${o.name}.log`)}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`sinker not ready in 60 s; see ${join(o.workDir, `${o.name}.log`)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid!,
    child,
    statusPort,
    pprofPort,
    config,
    metrics: async () => parseMetrics(await (await fetch(`${base}/metrics`)).text()),
    stop: () =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok(child.exitCode);
        child.once('exit', (code) => ok(code));
        child.kill('SIGTERM');
      }),
  };
}
