// `npm run soak -- [--minutes 30] [options]` (`--help` lists them): the short, repeatable form of
// the seed's 7×24 stability ask. One sinker child holds a fixed offered load of the DIRTY mix
// (kafka-producer-perf-test over a payload file of generated dirty events) into a private emulator in
// counting mode, while a few emulator faults are injected at spread-out times. Every 10 s it samples
// the sinker's RSS, V8 heap used, event-loop lag (p99), consumer-group lag and rows loaded.
// Default rate: half the msgs_per_sec of the newest bench result (else 20,000/s).
// Verdicts, after a warm-up of max(60 s, 20% of the run):
//   flat    — the last third of the samples ≤ 1.10 × the first third: RSS by medians, heap used by
//             lower quartiles (the floor of its GC sawtooth);
//   bounded — consumer lag never exceeds rate × 30 s and its least-squares slope over the run is below
//             1% of the offered rate (lag is not growing without bound).
// Also checks the books: rows loaded + messages dead-lettered = messages produced (each exactly once,
// faults and retries included). Writes test/bench/results/soak-<date>-<commit>.json and .svg.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeEvents } from '../support/events.ts';
import { testbed } from '../support/testbed.ts';
import { defineCli } from './support/cli.ts';
import { REPO, startBenchEmulator } from './support/emulator.ts';
import { runTool } from './support/kafka-tools.ts';
import { startPrivateKafka } from './support/private-kafka.ts';
import { cpuSeconds, loadAverage } from './support/proc.ts';
import {
  DEFAULT_BATCH,
  IMAGE_NODE_FLAGS,
  metricSum,
  SINKER_RUNTIMES,
  type SinkerRuntime,
  startSinker,
} from './support/sinker.ts';
import { chartSvg } from './support/svg.ts';
import { createTopic, deleteTopic, groupLag, kafka } from './support/topic.ts';

export const CLI = defineCli(import.meta, {
  npm: 'soak',
  options: {
    minutes: {
      type: 'string',
      number: 'positive',
      default: 30,
      value: 'M',
      description: 'how long the load is offered',
    },
    rate: {
      type: 'string',
      number: 'positive',
      integer: true,
      defaultText: 'half the msgs_per_sec of the newest bench result, else 20000',
      value: 'N',
      description: 'msg/s offered',
    },
    'no-faults': { type: 'boolean', description: 'inject no emulator faults' },
    'heap-snapshots': {
      type: 'string',
      value: 'DIR',
      description:
        'write heap snapshots of the sinker (pprof endpoint) into DIR at 25% and at 100% of the offered load, to compare what grew (each pauses the sinker briefly)',
    },
    'merge-partitions': { type: 'boolean', description: 'batch.merge_partitions on (merged two-phase loads)' },
    'batch-interval': {
      type: 'string',
      number: 'positive',
      defaultText: String(DEFAULT_BATCH.max_batch_interval),
      value: 'S',
      description: 'batch.max_batch_interval in seconds',
    },
    tag: { type: 'string', defaultText: 'none', value: 'NAME', description: 'suffix of the result file names' },
    'shared-kafka': { type: 'boolean', description: "use the test bed's broker instead of a private one" },
    runtime: {
      type: 'string',
      default: 'image',
      value: 'image|source',
      check: (v: string) => (SINKER_RUNTIMES.includes(v as SinkerRuntime) ? undefined : 'expected image or source'),
      description:
        'how the sinker child runs: as its image does (compiled with tsc, dist/sinker/main.js) or from source (sinker/main.ts, as npm start)',
    },
    'node-flags': {
      type: 'string',
      defaultText: `the image's: ${IMAGE_NODE_FLAGS.join(' ')}`,
      value: '"F ..."',
      description: "node flags for the sinker child, space separated, instead of its image's",
    },
    recompute: {
      type: 'string',
      value: 'FILE',
      defaultText: 'none',
      description: "recompute a soak result file's verdicts from its own samples and rewrite it (no run)",
    },
  },
});
const opts = CLI.parse();
const RUNTIME = opts.runtime as SinkerRuntime;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 0) => Math.round(v * 10 ** d) / 10 ** d;
/** The q-quantile (nearest rank below) of xs. */
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q)]!;

const MINUTES = opts.minutes;
const FAULTS = !opts['no-faults'];
const HEAP_DIR = opts['heap-snapshots'];
/** batch.merge_partitions on: the same soak through merged two-phase loads. */
const BATCH = {
  ...DEFAULT_BATCH,
  ...(opts['merge-partitions'] ? { merge_partitions: true } : {}),
  ...(opts['batch-interval'] !== undefined ? { max_batch_interval: opts['batch-interval'] } : {}),
};
const TAG = opts.tag;
const SAMPLE_S = 10;
/** Node flags for the sinker child instead of its image's (as bench.ts). */
const NODE_FLAGS = opts['node-flags']?.split(' ').filter(Boolean) ?? IMAGE_NODE_FLAGS;

function defaultRate(): { rate: number; from: string } {
  const dir = join(REPO, 'test/bench/results');
  try {
    const files = readdirSync(dir)
      .filter((f) => /^\d{4}-\d{2}-\d{2}-.*\.json$/.test(f))
      .map((f) => ({
        f,
        r: JSON.parse(readFileSync(join(dir, f), 'utf8')) as { date: string; msgs_per_sec: number; profiled?: boolean },
      }))
      .filter((x) => x.r.msgs_per_sec > 0 && !x.r.profiled)
      .sort((a, b) => a.r.date.localeCompare(b.r.date));
    const last = files.at(-1);
    if (last) return { rate: Math.round(last.r.msgs_per_sec / 2), from: `half of ${last.f}` };
  } catch {
    // no results yet
  }
  return { rate: 20_000, from: 'default (no bench result found)' };
}

/** Emulator faults spread over the run: each is a few failed or odd loads the sinker must ride out. */
const FAULT_PLAN: Array<{ at: number; spec: Record<string, unknown> }> = [
  { at: 0.2, spec: { type: 'http_error', status: 503, count: 3 } },
  { at: 0.35, spec: { type: 'slow_reply', delayMs: 5000, commit: 'after', count: 2 } },
  { at: 0.5, spec: { type: 'commit_then_drop', count: 2 } },
  { at: 0.65, spec: { type: 'too_many_versions', count: 3 } },
  { at: 0.8, spec: { type: 'publish_timeout', delayMs: 2000, count: 1 } },
];

/**
 * Verdicts over the producing period after the warm-up. Memory: the first third of the samples
 * against the last third — RSS by their medians; V8's heap used by their lower quartiles, since
 * samples land anywhere on its GC sawtooth (26 → 88 MB between two samples) and what a leak raises
 * is the floor the collector gets back to, not where a sample happens to land. Lag: bounded when it never passes rate × 30 s and it does not trend up (least-squares
 * slope below 1% of the rate; a falling lag is bounded).
 */
export function verdicts(samples: SoakSample[], rate: number, seconds: number) {
  const warmup = Math.max(60, seconds * 0.2);
  const steady = samples.filter((s) => s.t >= warmup && s.t <= seconds);
  const third = Math.max(3, Math.floor(steady.length / 3));
  const growth = (key: 'rss_mb' | 'heap_used_mb') => {
    if (steady.length < 6) return null;
    const q = key === 'heap_used_mb' ? 0.25 : 0.5;
    const first = quantile(
      steady.slice(0, third).map((s) => s[key]),
      q,
    );
    const last = quantile(
      steady.slice(-third).map((s) => s[key]),
      q,
    );
    return round((last / first - 1) * 100, 1);
  };
  const rss = growth('rss_mb');
  const heap = growth('heap_used_mb');
  const pts = steady.filter((s) => Number.isFinite(s.consumer_lag));
  const n = pts.length;
  const mt = pts.reduce((a, p) => a + p.t, 0) / (n || 1);
  const ml = pts.reduce((a, p) => a + p.consumer_lag, 0) / (n || 1);
  const slope =
    n > 1
      ? pts.reduce((a, p) => a + (p.t - mt) * (p.consumer_lag - ml), 0) / pts.reduce((a, p) => a + (p.t - mt) ** 2, 0)
      : 0;
  const maxLag = n ? Math.max(...pts.map((p) => p.consumer_lag)) : Number.NaN;
  return {
    warmup_seconds: warmup,
    rss_growth_pct: rss,
    heap_growth_pct: heap,
    rss_flat: rss === null ? null : rss < 10,
    heap_flat: heap === null ? null : heap < 10,
    max_consumer_lag: maxLag,
    lag_slope_msgs_per_sec: round(slope, 1),
    lag_bounded: n > 1 ? maxLag <= rate * 30 && slope < rate * 0.01 : null,
  };
}

interface SoakSample {
  t: number;
  rss_mb: number;
  heap_used_mb: number;
  event_loop_lag_p99_ms: number;
  consumer_lag: number;
  rows_loaded: number;
  dlq: number;
}

async function main(): Promise<void> {
  const bin = testbed('KAFKA_BIN');
  const shared = opts['shared-kafka'];
  const pk = shared ? undefined : await startPrivateKafka(testbed('KAFKA_LIBS'), bin);
  try {
    await soak(
      pk?.bootstrap ?? testbed('KAFKA_BOOTSTRAP'),
      pk?.dataDir ?? join(testbed('TESTBED_RUN_DIR'), 'kafka', 'data'),
      bin,
      shared,
    );
  } finally {
    await pk?.stop();
  }
}

/**
 * The soak topic keeps at most RETENTION_BYTES a partition (whole SEGMENT_BYTES segments are deleted
 * once read): 30 minutes at 40k msg/s is ~85 GB of messages, more than a test machine's disk. A
 * gigabyte a partition is minutes of data at any rate measured here, far more than the bounded lag.
 */
const PARTITIONS = 8;
const RETENTION_BYTES = 1 << 30;
const SEGMENT_BYTES = 128 << 20;
/** Free space the soak needs before it starts: every partition full, plus room for everything else. */
const DISK_NEEDED = PARTITIONS * (RETENTION_BYTES + 3 * SEGMENT_BYTES) + (2 << 30);
/** Below this much free space during the run the soak stops (a full disk takes the broker down). */
const DISK_FLOOR = 2 << 30;
/** Samples in a row without the group's lag (Kafka unreachable) before the soak gives up. */
const LAG_MISSES = 6;

const gib = (n: number) => `${(n / (1 << 30)).toFixed(1)} GiB`;

/**
 * Waits (at most a minute) until Kafka has removed the deleted topic's files: a broker stopped before
 * that keeps gigabytes of `-delete` directories until its next start.
 */
async function waitDeleted(kafkaDir: string, topic: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  const left = () => readdirSync(kafkaDir).filter((d) => d.startsWith(`${topic}-`));
  while (left().length > 0 && Date.now() < deadline) await sleep(1000);
  const still = left();
  if (still.length > 0)
    console.log(`Kafka has not removed ${still.length} directories of ${topic} yet (under ${kafkaDir})`);
}

function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

async function soak(brokers: string, kafkaDir: string, bin: string, shared: boolean): Promise<void> {
  const free = freeBytes(kafkaDir);
  if (free < DISK_NEEDED) {
    throw new Error(
      `soak needs ${gib(DISK_NEEDED)} free where Kafka keeps its data (${kafkaDir}), ${gib(free)} free: remove old topics or free space`,
    );
  }
  const redisUrl = testbed('REDIS_URL');
  const given = opts.rate;
  const { rate: dflt, from: dfltFrom } = defaultRate();
  const rate = given ?? dflt;
  const from = given === undefined ? dfltFrom : '--rate';
  const seconds = Math.round(MINUTES * 60);
  const runId = Date.now().toString(36);
  const work = mkdtempSync(join(tmpdir(), 'sinker-soak-'));
  const topic = `soak-${runId}`;
  const commit = execFileSync('git', ['rev-parse', '--short=10', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  console.log(
    `soak ${runId}: ${MINUTES} min at ${rate.toLocaleString('en')} msg/s (${from}), dirty mix, faults ${FAULTS ? 'on' : 'off'}; commit ${commit}; work ${work}`,
  );
  console.log(`load average at start: ${loadAverage().join(' ')} (2 shared cores)`);

  await createTopic(brokers, topic, PARTITIONS, {
    'retention.bytes': String(RETENTION_BYTES),
    'segment.bytes': String(SEGMENT_BYTES),
  });
  const payload = join(work, 'dirty.txt');
  const events = takeEvents({ seed: 11, mix: 'dirty' }, 20_000);
  if (events.some((e) => e.value.includes('\n')))
    throw new Error('a dirty payload holds a raw newline: the payload file would split it');
  writeFileSync(payload, `${events.map((e) => e.value).join('\n')}\n`);
  const emu = await startBenchEmulator('count');
  const group = `soak-${runId}`;
  const sinker = await startSinker({
    name: `soak${runId}`,
    topic,
    group,
    brokers,
    redisUrl,
    emulator: emu,
    batch: BATCH,
    workDir: work,
    nodeFlags: NODE_FLAGS,
    runtime: RUNTIME,
    pprof: HEAP_DIR !== undefined,
  });
  const admin = kafka(brokers).admin();
  await admin.connect();
  const samples: SoakSample[] = [];
  const faultsArmed: Array<{ t: number; spec: Record<string, unknown> }> = [];
  const total = rate * seconds;
  const t0 = performance.now();
  const cpu0 = cpuSeconds(sinker.pid);
  const producer = runTool(
    bin,
    'kafka-producer-perf-test',
    [
      ...['--topic', topic, '--num-records', String(total), '--throughput', String(rate), '--payload-file', payload],
      ...['--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'linger.ms=5', 'batch.size=262144'],
    ],
    seconds * 1000 + 600_000,
  );
  let produced = false;
  void producer.then(() => {
    produced = true;
  });
  const plan = FAULTS ? [...FAULT_PLAN] : [];
  let drainedAt: number | undefined;
  /** Fractions of the offered load's duration at which heap snapshots are due (--heap-snapshots). */
  const snapshotsAt = [0.25, 1];
  let lagMisses = 0;
  let cpu = 0;
  let exit: number | null = null;
  let counters: Awaited<ReturnType<typeof emu.counters>> | undefined;
  try {
    for (let next = SAMPLE_S; ; next += SAMPLE_S) {
      while ((performance.now() - t0) / 1000 < next) {
        const t = (performance.now() - t0) / 1000;
        while (plan.length > 0 && t >= plan[0]!.at * seconds) {
          const f = plan.shift()!;
          await emu.fault(f.spec);
          faultsArmed.push({ t: round(t), spec: f.spec });
          console.log(`  t=${t.toFixed(0)}s armed fault ${JSON.stringify(f.spec)}`);
        }
        await sleep(250);
      }
      if (sinker.child.exitCode !== null) throw new Error(`sinker exited with ${sinker.child.exitCode}`);
      const left = freeBytes(kafkaDir);
      if (left < DISK_FLOOR)
        throw new Error(`only ${gib(left)} free under ${kafkaDir}: soak stopped before the disk fills`);
      const lag = await groupLag(admin, topic, group).catch(() => undefined);
      lagMisses = lag === undefined ? lagMisses + 1 : 0;
      if (lagMisses >= LAG_MISSES)
        throw new Error(`Kafka at ${brokers} unreachable for ${LAG_MISSES * SAMPLE_S} s: soak stopped`);
      if (lag && lag.overtaken.length > 0) {
        throw new Error(
          `retention deleted messages the sinker had not read (${lag.overtaken.join('; ')}): raise RETENTION_BYTES`,
        );
      }
      const m = await sinker.metrics();
      const s: SoakSample = {
        t: round((performance.now() - t0) / 1000),
        rss_mb: round(metricSum(m, 'process_resident_memory_bytes') / 1048576, 1),
        heap_used_mb: round(metricSum(m, 'nodejs_heap_size_used_bytes') / 1048576, 1),
        event_loop_lag_p99_ms: round(metricSum(m, 'nodejs_eventloop_lag_p99_seconds') * 1000, 1),
        consumer_lag: lag?.lag ?? Number.NaN,
        rows_loaded: metricSum(m, 'doris_rows_loaded_total'),
        dlq: metricSum(m, 'dlq_messages_total'),
      };
      samples.push(s);
      console.log(
        `  t=${s.t}s rss ${s.rss_mb} MiB heap ${s.heap_used_mb} MiB loop p99 ${s.event_loop_lag_p99_ms} ms lag ${s.consumer_lag} loaded ${s.rows_loaded.toLocaleString('en')} dlq ${s.dlq}`,
      );
      while (HEAP_DIR !== undefined && snapshotsAt.length > 0 && s.t >= snapshotsAt[0]! * seconds) {
        const at = snapshotsAt.shift()!;
        const file = join(HEAP_DIR, `soak-${runId}-${Math.round(at * 100)}pct.heapsnapshot`);
        const r = await fetch(`http://127.0.0.1:${sinker.pprofPort}/debug/pprof/heap`);
        if (!r.ok) throw new Error(`heap snapshot: HTTP ${r.status} ${await r.text()}`);
        mkdirSync(HEAP_DIR, { recursive: true });
        writeFileSync(file, Buffer.from(await r.arrayBuffer()));
        console.log(`  t=${s.t}s heap snapshot → ${file}`);
      }
      if (produced && s.rows_loaded + s.dlq >= total && s.consumer_lag === 0) {
        drainedAt = s.t;
        break;
      }
      if (produced && s.t > seconds + 300) break;
    }
  } finally {
    const prod = await producer;
    if (prod.code !== 0) console.log(`producer exit ${prod.code}: ${prod.stderr.slice(-500)}`);
    await admin.disconnect();
    cpu = cpuSeconds(sinker.pid) - cpu0;
    exit = await sinker.stop();
    counters = await emu.counters();
    await emu.stop();
    await deleteTopic(brokers, topic);
    await waitDeleted(kafkaDir, topic);
  }

  const v = verdicts(samples, rate, seconds);
  const last = samples.at(-1)!;
  const result = {
    date: new Date().toISOString(),
    commit,
    command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
    node: process.version,
    sinker_runtime: RUNTIME,
    node_flags: NODE_FLAGS,
    minutes: MINUTES,
    offered_msgs_per_sec: rate,
    rate_from: from,
    mix: 'dirty',
    kafka: shared ? 'shared test-bed broker' : 'private broker (test bed Kafka jars, own ports and data dir)',
    batch: BATCH,
    format: 'json',
    emulator: 'private instance, counting mode',
    faults: faultsArmed,
    faults_fired: counters?.faultsFired ?? null,
    ...v,
    peak_rss_mb: Math.max(...samples.map((s) => s.rss_mb)),
    max_event_loop_lag_p99_ms: Math.max(...samples.map((s) => s.event_loop_lag_p99_ms)),
    messages_produced: total,
    rows_loaded: last.rows_loaded,
    dead_lettered: last.dlq,
    books_balance: last.rows_loaded + last.dlq === total,
    drained_at_s: drainedAt ?? null,
    cpu_seconds_per_million_msgs: round((cpu / total) * 1e6, 2),
    sinker_exit_code: exit,
    load_average_at_end: loadAverage(),
    samples,
  };
  const stamp = `soak-${result.date.slice(0, 10)}-${commit}${TAG ? `-${TAG}` : ''}`;
  const dir = join(REPO, 'test/bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(dir, `${stamp}.svg`), soakSvg(result));
  console.log(`\nwrote test/bench/results/${stamp}.json and .svg`);
  const { samples: _s, ...summary } = result;
  console.log(JSON.stringify(summary, null, 2));
}

interface SoakResultForChart {
  date: string;
  commit: string;
  minutes: number;
  offered_msgs_per_sec: number;
  faults: Array<{ t: number; spec: Record<string, unknown> }>;
  samples: SoakSample[];
  rss_growth_pct: number | null;
  heap_growth_pct: number | null;
  warmup_seconds: number;
  max_consumer_lag: number;
  lag_slope_msgs_per_sec: number;
}

function soakSvg(r: SoakResultForChart): string {
  const pts = (k: keyof SoakSample) => r.samples.map((s) => [s.t, s[k]] as [number, number]);
  const faultMarks = r.faults.map((f) => `${String(f.spec.type)}@${f.t}s`).join(', ');
  return chartSvg(
    `doris-sinker soak ${r.minutes} min at ${r.offered_msgs_per_sec.toLocaleString('en')} msg/s, dirty mix (${r.date.slice(0, 16)}, ${r.commit})`,
    [
      {
        title: `Memory (RSS growth ${r.rss_growth_pct}%, heap growth ${r.heap_growth_pct}% after ${r.warmup_seconds}s warm-up)`,
        yLabel: 'MiB',
        xLabel: 's',
        series: [
          { name: 'RSS', points: pts('rss_mb') },
          { name: 'V8 heap used', points: pts('heap_used_mb') },
        ],
      },
      {
        title: `Consumer lag (max ${r.max_consumer_lag}, slope ${r.lag_slope_msgs_per_sec} msg/s)`,
        yLabel: 'messages',
        xLabel: 's',
        series: [{ name: 'lag', points: pts('consumer_lag') }],
      },
      {
        title: 'Event-loop lag p99',
        yLabel: 'ms',
        xLabel: 's',
        series: [{ name: 'p99', points: pts('event_loop_lag_p99_ms') }],
      },
      {
        title: 'Rows loaded (cumulative)',
        yLabel: 'rows',
        xLabel: 's',
        series: [{ name: 'loaded', points: pts('rows_loaded') }],
      },
    ],
    `faults: ${faultMarks || 'none'}`,
  );
}

/** `--recompute FILE`: recompute a result file's verdicts from its own samples (after a verdict fix). */
async function recompute(file: string): Promise<void> {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
    samples: SoakSample[];
    offered_msgs_per_sec: number;
    minutes: number;
  };
  const v = verdicts(r.samples, r.offered_msgs_per_sec, Math.round(r.minutes * 60));
  const { samples, ...rest } = r;
  writeFileSync(
    file,
    `${JSON.stringify({ ...rest, ...v, verdicts_recomputed: new Date().toISOString(), samples }, null, 2)}\n`,
  );
  console.log(JSON.stringify(v, null, 2));
}

const recomputeFile = opts.recompute;
if (import.meta.main)
  (recomputeFile ? recompute(recomputeFile) : main()).then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
