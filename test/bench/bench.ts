// `npm run bench`: the WORKLOAD.md measurement (DESIGN §8) for one sinker process.
//   1. an 8-partition topic pre-filled with ≥ 2,000,000 clean canonical messages (reused when present);
//   2. ceiling: kafka-consumer-perf-test on that topic, fresh group;
//   3. throughput: one sinker child (JSON lines, backend route, Redis exactly-once state on) consuming the
//      whole topic from earliest into a PRIVATE emulator in counting mode; msgs/s and MiB/s over the
//      steady-state window (10% → 90% of the rows acknowledged), CPU s per million messages over the
//      same window, peak RSS (VmHWM) of the whole run;
//   4. latency: a fresh topic, kafka-producer-perf-test offering half the measured throughput, the
//      sinker with max_batch_interval 1 s; latency of a message = the emulator's finish time of the
//      load holding its offset − the message's CreateTime (set by the producer at send());
//   5. peer: the official Doris Kafka connector if it can be had (else the evidence why not).
// Writes test/bench/results/<date>-<commit>[-tag].json and .svg and prints a summary table.
//
// Kafka: a private broker from the test bed's jars (own ports; other helpers' fault tests restart the
// shared one), unless --shared-kafka.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeEvents } from '../support/events.ts';
import { testbed } from '../support/testbed.ts';
import { defineCli } from './support/cli.ts';
import { summarizeProfile } from './support/cpuprofile.ts';
import { type BenchEmulator, REPO, startBenchEmulator } from './support/emulator.ts';
import { type ConsumerPerf, consumerPerfTest, runTool } from './support/kafka-tools.ts';
import { probePeer } from './support/peer.ts';
import { startPrivateKafka } from './support/private-kafka.ts';
import { cpuSeconds, loadAverage, machineCpu, memory } from './support/proc.ts';
import {
  type BatchSettings,
  DEFAULT_BATCH,
  IMAGE_MALLOC_ENV,
  IMAGE_NODE_FLAGS,
  metricSum,
  operatorDefaults,
  SINKER_RUNTIMES,
  type SinkerRuntime,
  startSinker,
} from './support/sinker.ts';
import { chartSvg } from './support/svg.ts';
import { createTopic, deleteTopic, ensurePrefilled } from './support/topic.ts';

export const CLI = defineCli(import.meta, {
  npm: 'bench',
  options: {
    messages: {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 2_000_000,
      value: 'N',
      description: 'messages the topic holds (pre-filled up to this) and the throughput run consumes',
    },
    topic: { type: 'string', default: 'bench-tb-event-clean-8p', value: 'T', description: 'the pre-filled topic' },
    settings: {
      type: 'string',
      default: 'sinker',
      value: 'sinker|operator',
      description:
        "the batch and fetch settings: the sinker's own config defaults, or what the operator renders for a DorisSink that sets none of them",
    },
    'flush-workers': {
      type: 'string',
      number: 'positive',
      integer: true,
      defaultText: 'from --settings',
      value: 'N',
      description: 'batch.flush_worker_count',
    },
    'batch-rows': {
      type: 'string',
      number: 'positive',
      integer: true,
      defaultText: 'from --settings',
      value: 'N',
      description: 'batch.max_batch_rows',
    },
    'buffer-bytes': {
      type: 'string',
      number: 'positive',
      integer: true,
      defaultText: 'from --settings',
      value: 'N',
      description: 'batch.max_buffer_bytes',
    },
    'batch-bytes': {
      type: 'string',
      number: 'positive',
      integer: true,
      defaultText: 'from --settings',
      value: 'N',
      description: 'batch.max_batch_size',
    },
    'fetch-bytes': {
      type: 'string',
      number: 'positive',
      integer: true,
      defaultText: 'from --settings',
      value: 'N',
      description: 'kafka.max_fetch_bytes (per partition)',
    },
    'map-workers': {
      type: 'string',
      number: 'non-negative',
      integer: true,
      defaultText: "the sinker's own",
      value: 'N',
      description: 'batch.map_workers (0: map on the main thread)',
    },
    'latency-seconds': {
      type: 'string',
      number: 'positive',
      default: 40,
      value: 'S',
      description: 'how long the latency run produces',
    },
    'latency-rate': {
      type: 'string',
      number: 'positive',
      defaultText: 'half the measured msgs/s',
      value: 'N',
      description: 'msg/s offered in the latency run',
    },
    'skip-ceiling': { type: 'boolean', description: 'no kafka-consumer-perf-test ceiling' },
    'skip-throughput': { type: 'boolean', description: 'no throughput run (its figures are then n/a)' },
    'skip-latency': { type: 'boolean', description: 'no latency run' },
    'skip-peer': { type: 'boolean', description: 'no probe for the Doris Kafka connector' },
    profile: {
      type: 'string',
      number: 'non-negative',
      default: 0,
      value: 'S',
      description:
        "CPU-profile S seconds of the throughput run via the sinker's pprof endpoint (0: off; a profiled run's figures are marked as such)",
    },
    'heap-snapshot': {
      type: 'string',
      value: 'FILE',
      description:
        "write a heap snapshot of the sinker (via its pprof endpoint) to FILE halfway through the throughput run; that run's figures include the pause",
    },
    'sinker-root': {
      type: 'string',
      defaultText: 'this tree',
      value: 'DIR',
      description: 'run the sinker from another tree, for before/after comparisons',
    },
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
    'key-fields': {
      type: 'string',
      defaultText: 'none, content dedupe off',
      value: 'F,...',
      description: 'dedupe.key_fields (content dedupe on), e.g. id',
    },
    tag: { type: 'string', defaultText: 'none', value: 'NAME', description: 'suffix of the result file names' },
    'no-write': { type: 'boolean', description: 'write no result files' },
    'shared-kafka': { type: 'boolean', description: "use the test bed's broker instead of a private one" },
  },
});
const opts = CLI.parse();
const RUNTIME = opts.runtime as SinkerRuntime;

const MESSAGES = opts.messages;
const TOPIC = opts.topic;
const PARTITIONS = 8;
const PROFILE_S = opts.profile;
const HEAP_FILE = opts['heap-snapshot'];
const KEY_FIELDS = opts['key-fields']?.split(',') ?? [];
const TAG = opts.tag;
/** A/B: the sinker from another tree, e.g. `git archive <commit> sinker operator package.json tsconfig.json | tar -x -C DIR` + a node_modules link. */
const SINKER_ROOT = opts['sinker-root'];
/** Extra node flags for the sinker child, space separated (e.g. "--max-old-space-size=192"). */
const NODE_FLAGS = opts['node-flags']?.split(' ').filter(Boolean) ?? IMAGE_NODE_FLAGS;
if (opts.settings !== 'sinker' && opts.settings !== 'operator') {
  console.error(`--settings: expected sinker or operator, found ${JSON.stringify(opts.settings)}`);
  process.exit(2);
}
const BASE = opts.settings === 'operator' ? operatorDefaults() : { batch: DEFAULT_BATCH, fetch: {} };
const BATCH: BatchSettings = {
  ...BASE.batch,
  ...(opts['flush-workers'] !== undefined ? { flush_worker_count: opts['flush-workers'] } : {}),
  ...(opts['batch-rows'] !== undefined ? { max_batch_rows: opts['batch-rows'] } : {}),
  ...(opts['buffer-bytes'] !== undefined ? { max_buffer_bytes: opts['buffer-bytes'] } : {}),
  ...(opts['batch-bytes'] !== undefined ? { max_batch_size: opts['batch-bytes'] } : {}),
  ...(opts['map-workers'] !== undefined ? { map_workers: opts['map-workers'] } : {}),
};
/** kafka.max_fetch_* when they differ from the sinker's defaults (the operator's). */
const FETCH = { ...BASE.fetch, ...(opts['fetch-bytes'] !== undefined ? { max_fetch_bytes: opts['fetch-bytes'] } : {}) };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 0) => Math.round(v * 10 ** d) / 10 ** d;

interface Sample {
  t: number;
  rows: number;
  bytes: number;
  cpu: number;
  emuCpu: number;
  rssMb: number;
  machineBusy: number;
  machineTotal: number;
}

interface Throughput {
  msgs_per_sec: number;
  mb_per_sec: number;
  body_mb_per_sec: number;
  avg_message_bytes: number;
  cpu_seconds_per_million_msgs: number;
  emulator_cpu_seconds_per_million_msgs: number;
  peak_rss_mb: number;
  window: { from_rows: number; to_rows: number; seconds: number };
  machine_busy_pct_in_window: number;
  other_processes_cpu_cores_in_window: number;
  loads: number;
  total_seconds: number;
  samples: Sample[];
  profile?: ReturnType<typeof summarizeProfile> & { seconds: number; file: string };
}

async function measureThroughput(
  brokers: string,
  redisUrl: string,
  emu: BenchEmulator,
  work: string,
  runId: string,
): Promise<Throughput> {
  const before = await emu.counters();
  const sinker = await startSinker({
    name: `bench${runId}`,
    topic: TOPIC,
    group: `bench-${runId}`,
    brokers,
    redisUrl,
    emulator: emu,
    batch: BATCH,
    fetch: FETCH,
    workDir: work,
    keyFields: KEY_FIELDS,
    pprof: PROFILE_S > 0 || HEAP_FILE !== undefined,
    nodeFlags: NODE_FLAGS,
    runtime: RUNTIME,
    ...(SINKER_ROOT ? { sinkerRoot: SINKER_ROOT } : {}),
  });
  console.log(`sinker pid ${sinker.pid} consuming ${TOPIC} (group bench-${runId}); log ${work}/bench${runId}.log`);
  const samples: Sample[] = [];
  const t0 = performance.now();
  let lastProgress = t0;
  let lastRows = 0;
  let lastPrint = 0;
  let profile: Promise<string> | undefined;
  let heapTaken = false;
  for (;;) {
    const c = await emu.counters();
    const m = machineCpu();
    const s: Sample = {
      t: (performance.now() - t0) / 1000,
      rows: c.loadedRows - before.loadedRows,
      bytes: c.bytes - before.bytes,
      cpu: cpuSeconds(sinker.pid),
      emuCpu: cpuSeconds(emu.pid),
      rssMb: memory(sinker.pid).rssMb,
      machineBusy: m.busy,
      machineTotal: m.total,
    };
    samples.push(s);
    if (s.rows > lastRows) {
      lastRows = s.rows;
      lastProgress = performance.now();
    }
    if (s.t - lastPrint >= 10) {
      lastPrint = s.t;
      const prev = samples[Math.max(0, samples.length - 11)]!;
      const rate = (s.rows - prev.rows) / (s.t - prev.t || 1);
      // Where the memory is: V8's heap, buffers outside it, and the rows the batcher holds.
      const mm = await sinker.metrics().catch(() => new Map<string, number>());
      const mib = (name: string) => (metricSum(mm, name) / 1048576).toFixed(0);
      console.log(
        `  t=${s.t.toFixed(0)}s rows ${s.rows.toLocaleString('en')} (${Math.round(rate).toLocaleString('en')}/s) rss ${s.rssMb.toFixed(0)} MiB` +
          ` (heap ${mib('nodejs_heap_size_used_bytes')}/${mib('nodejs_heap_size_total_bytes')}, external ${mib('nodejs_external_memory_bytes')}, batches ${mib('batch_buffer_bytes')})`,
      );
    }
    if (PROFILE_S > 0 && !profile && s.rows >= MESSAGES * 0.15) {
      const file = join(work, `sinker-${runId}.cpuprofile`);
      console.log(`  CPU profile for ${PROFILE_S}s → ${file}`);
      profile = fetch(`http://127.0.0.1:${sinker.pprofPort}/debug/pprof/profile?seconds=${PROFILE_S}`)
        .then((r) => r.text())
        .then((t) => {
          writeFileSync(file, t);
          return file;
        });
    }
    if (HEAP_FILE !== undefined && !heapTaken && s.rows >= MESSAGES * 0.5) {
      // Which buffers are live mid-run (the snapshot's full GC drops garbage): e.g. sum the
      // `system / JSArrayBufferData` nodes by retainer. The sinker pauses while it is written.
      heapTaken = true;
      const r = await fetch(`http://127.0.0.1:${sinker.pprofPort}/debug/pprof/heap`);
      if (!r.ok) throw new Error(`heap snapshot: HTTP ${r.status} ${await r.text()}`);
      writeFileSync(HEAP_FILE, Buffer.from(await r.arrayBuffer()));
      console.log(`  heap snapshot → ${HEAP_FILE}`);
    }
    if (s.rows >= MESSAGES) break;
    if (sinker.child.exitCode !== null) throw new Error(`sinker exited with ${sinker.child.exitCode}`);
    if (performance.now() - lastProgress > 90_000)
      throw new Error(`no rows acknowledged for 90 s (at ${s.rows}); see the sinker log`);
    await sleep(1000);
  }
  const profFile = profile ? await profile : undefined;
  const metrics = await sinker.metrics();
  const peak = memory(sinker.pid).peakRssMb;
  const code = await sinker.stop();
  if (code !== 0) console.log(`  note: sinker exit code ${code}`);
  const after = await emu.counters();
  const at = (frac: number) => samples.find((x) => x.rows >= MESSAGES * frac)!;
  const a = at(0.1);
  const b = at(0.9);
  const dt = b.t - a.t;
  const rows = b.rows - a.rows;
  const avgBytes =
    metricSum(metrics, 'kafka_bytes_consumed_total') / metricSum(metrics, 'kafka_messages_consumed_total');
  const msgsPerSec = rows / dt;
  const machineCores = ((b.machineBusy - a.machineBusy) / (b.machineTotal - a.machineTotal)) * 2;
  const ours = (b.cpu - a.cpu + b.emuCpu - a.emuCpu) / dt;
  return {
    msgs_per_sec: Math.round(msgsPerSec),
    mb_per_sec: round((msgsPerSec * avgBytes) / 1048576, 1),
    body_mb_per_sec: round((b.bytes - a.bytes) / dt / 1048576, 1),
    avg_message_bytes: Math.round(avgBytes),
    cpu_seconds_per_million_msgs: round(((b.cpu - a.cpu) / rows) * 1e6, 2),
    emulator_cpu_seconds_per_million_msgs: round(((b.emuCpu - a.emuCpu) / rows) * 1e6, 2),
    peak_rss_mb: round(peak, 1),
    window: { from_rows: a.rows, to_rows: b.rows, seconds: round(dt, 1) },
    machine_busy_pct_in_window: round((machineCores / 2) * 100, 1),
    other_processes_cpu_cores_in_window: round(Math.max(0, machineCores - ours), 2),
    loads: after.loads - before.loads,
    total_seconds: round(samples.at(-1)!.t, 1),
    samples,
    ...(profFile ? { profile: { ...summarizeProfile(profFile, 25), seconds: PROFILE_S, file: profFile } } : {}),
  };
}

function emptyThroughput(): Throughput {
  const s: Sample = { t: 0, rows: 0, bytes: 0, cpu: 0, emuCpu: 0, rssMb: 0, machineBusy: 0, machineTotal: 1 };
  return {
    msgs_per_sec: 0,
    mb_per_sec: 0,
    body_mb_per_sec: 0,
    avg_message_bytes: 0,
    cpu_seconds_per_million_msgs: 0,
    emulator_cpu_seconds_per_million_msgs: 0,
    peak_rss_mb: 0,
    window: { from_rows: 0, to_rows: 0, seconds: 0 },
    machine_busy_pct_in_window: 0,
    other_processes_cpu_cores_in_window: 0,
    loads: 0,
    total_seconds: 0,
    samples: [s],
  };
}

interface Latency {
  offered_msgs_per_sec: number;
  achieved_produce_msgs_per_sec: number;
  seconds: number;
  warmup_seconds: number;
  messages_measured: number;
  p50_latency_ms: number;
  p90_latency_ms: number;
  p99_latency_ms: number;
  max_latency_ms: number;
  /**
   * The producer's own send → broker-ack latency (kafka-producer-perf-test's summary): a message's
   * CreateTime is taken at send(), so time it waited in a CPU-starved producer counts above too.
   */
  producer_ack_latency_ms: { avg: number; p50: number; p99: number; max: number } | null;
  batch_interval_s: number;
  method: string;
  histogram: Array<[number, number]>;
}

/** The closing summary line of kafka-producer-perf-test: its send → ack latencies, ms. */
export function producerSummary(stdout: string): Latency['producer_ack_latency_ms'] {
  const m =
    /records sent,.*?([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th/.exec(
      stdout,
    );
  return m ? { avg: Number(m[1]), max: Number(m[2]), p50: Number(m[3]), p99: Number(m[4]) } : null;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measureLatency(
  bin: string,
  brokers: string,
  redisUrl: string,
  emu: BenchEmulator,
  work: string,
  runId: string,
  rate: number,
  seconds: number,
): Promise<Latency> {
  const topic = `bench-latency-${runId}`;
  const name = `lat${runId}`;
  await createTopic(brokers, topic, PARTITIONS);
  const payload = join(work, 'payload.txt');
  writeFileSync(
    payload,
    `${takeEvents({ seed: 7, mix: 'clean' }, 20_000)
      .map((e) => e.value)
      .join('\n')}\n`,
  );
  const batch = { ...BATCH, max_batch_interval: 1 };
  const sinker = await startSinker({
    name,
    topic,
    group: `lat-${runId}`,
    brokers,
    redisUrl,
    emulator: emu,
    ...(SINKER_ROOT ? { sinkerRoot: SINKER_ROOT } : {}),
    batch,
    fetch: FETCH,
    workDir: work,
    keyFields: KEY_FIELDS,
    nodeFlags: NODE_FLAGS,
    runtime: RUNTIME,
  });
  try {
    const total = Math.round(rate * seconds);
    console.log(
      `latency: producing ${total.toLocaleString('en')} messages at ${rate.toLocaleString('en')}/s into ${topic}`,
    );
    const started = Date.now();
    const prod = await runTool(bin, 'kafka-producer-perf-test', [
      ...['--topic', topic, '--num-records', String(total), '--throughput', String(rate), '--payload-file', payload],
      ...['--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'linger.ms=5', 'batch.size=262144'],
    ]);
    if (prod.code !== 0) throw new Error(`kafka-producer-perf-test exited ${prod.code}: ${prod.stderr.slice(-1500)}`);
    const achieved = total / ((Date.now() - started) / 1000);
    const producerAck = producerSummary(prod.stdout);
    // Wait until every message is acknowledged by the emulator (loads of this sink only).
    const prefix = `${name}:${topic}:`;
    const deadline = Date.now() + 60_000;
    let txns = (await emu.txns()).filter((t) => t.label.startsWith(prefix));
    for (;;) {
      const c = await sinker.metrics();
      if (metricSum(c, 'doris_rows_loaded_total') >= total || Date.now() > deadline) break;
      await sleep(500);
    }
    txns = (await emu.txns()).filter(
      (t) => t.label.startsWith(prefix) && (t.state === 'VISIBLE' || t.state === 'COMMITTED'),
    );
    // Load ranges per partition: a load covers [its first offset, the next load's first offset).
    const loads = new Map<number, Array<{ first: number; prepare: number; finish: number }>>();
    for (const t of txns) {
      const [p, off] = t.label.slice(prefix.length).split(':').map(Number) as [number, number];
      const list = loads.get(p) ?? [];
      list.push({ first: off, prepare: t.prepareTime, finish: t.finishTime });
      loads.set(p, list);
    }
    for (const l of loads.values()) l.sort((x, y) => x.first - y.first);
    // Produce times: the CreateTime of each record, read back with Kafka's console consumer.
    const cc = await runTool(bin, 'kafka-console-consumer', [
      ...['--bootstrap-server', brokers, '--topic', topic, '--from-beginning', '--max-messages', String(total)],
      ...[
        '--timeout-ms',
        '20000',
        '--formatter-property',
        'print.timestamp=true',
        '--formatter-property',
        'print.partition=true',
      ],
      ...['--formatter-property', 'print.offset=true', '--formatter-property', 'print.value=false'],
    ]);
    const lat: number[] = [];
    let firstTs = Number.POSITIVE_INFINITY;
    const rowsTs: Array<[number, number, number]> = [];
    for (const line of cc.stdout.split('\n')) {
      const m = /CreateTime:(\d+)\s+Partition:(\d+)\s+Offset:(\d+)/.exec(line);
      if (!m) continue;
      const ts = Number(m[1]);
      firstTs = Math.min(firstTs, ts);
      rowsTs.push([ts, Number(m[2]), Number(m[3])]);
    }
    const warmup = Math.min(10, seconds / 4);
    let unacked = 0;
    for (const [ts, p, off] of rowsTs) {
      if (ts < firstTs + warmup * 1000) continue;
      const l = loads.get(p);
      let lo = 0;
      let hi = (l?.length ?? 0) - 1;
      let found = -1;
      while (l && lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (l[mid]!.first <= off) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (found < 0) {
        unacked++;
        continue;
      }
      lat.push(l![found]!.finish - ts);
    }
    if (unacked > 0) console.log(`  note: ${unacked} messages without an acknowledged load`);
    // For checking the method by hand: each load with the CreateTime of its first record.
    const firstTsOf = new Map(rowsTs.map(([ts, p, off]) => [`${p}:${off}`, ts]));
    writeFileSync(
      join(work, `latency-loads-${runId}.json`),
      JSON.stringify(
        [...loads].flatMap(([p, l]) =>
          l.map((x) => ({
            p,
            first: x.first,
            prepare: x.prepare,
            finish: x.finish,
            firstCreate: firstTsOf.get(`${p}:${x.first}`),
          })),
        ),
      ),
    );
    lat.sort((x, y) => x - y);
    const hist = new Map<number, number>();
    for (const v of lat) {
      const bucket = Math.floor(v / 50) * 50;
      hist.set(bucket, (hist.get(bucket) ?? 0) + 1);
    }
    return {
      offered_msgs_per_sec: rate,
      achieved_produce_msgs_per_sec: Math.round(achieved),
      seconds,
      warmup_seconds: warmup,
      messages_measured: lat.length,
      p50_latency_ms: percentile(lat, 50),
      p90_latency_ms: percentile(lat, 90),
      p99_latency_ms: percentile(lat, 99),
      max_latency_ms: lat.at(-1)!,
      producer_ack_latency_ms: producerAck,
      batch_interval_s: 1,
      method:
        'produce time = the record CreateTime kafka-producer-perf-test sets at send(); acknowledged = finishTime of the ' +
        'emulator transaction whose label (sink:topic:partition:firstOffset) starts the load holding the offset; ' +
        `messages produced in the first ${warmup} s are left out; same machine clock`,
      histogram: [...hist].sort((x, y) => x[0] - y[0]),
    };
  } finally {
    await sinker.stop();
    await deleteTopic(brokers, topic);
  }
}

function gitCommit(): { commit: string; dirty: boolean } {
  const commit = execFileSync('git', ['rev-parse', '--short=10', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  const dirty =
    execFileSync('git', ['status', '--porcelain', '--', 'sinker', 'test/bench'], {
      cwd: REPO,
      encoding: 'utf8',
    }).trim() !== '';
  return { commit, dirty };
}

async function main(): Promise<void> {
  const redisUrl = testbed('REDIS_URL');
  const bin = testbed('KAFKA_BIN');
  const shared = opts['shared-kafka'];
  const privateKafka = shared ? undefined : await startPrivateKafka(testbed('KAFKA_LIBS'), bin);
  const brokers = privateKafka?.bootstrap ?? testbed('KAFKA_BOOTSTRAP');
  try {
    await run(brokers, redisUrl, bin, shared);
  } finally {
    await privateKafka?.stop();
  }
}

async function run(brokers: string, redisUrl: string, bin: string, shared: boolean): Promise<void> {
  const runId = Date.now().toString(36);
  const work = mkdtempSync(join(tmpdir(), 'sinker-bench-'));
  const { commit, dirty } = gitCommit();
  console.log(
    `bench run ${runId}: commit ${commit}${dirty ? ' (uncommitted changes)' : ''}, node ${process.version}, sinker runtime ${RUNTIME}, work dir ${work}`,
  );
  console.log(`load average at start: ${loadAverage().join(' ')} (2 shared cores)`);
  console.log(`kafka: ${shared ? 'the shared test-bed broker' : 'a private broker'} at ${brokers}`);

  await ensurePrefilled(brokers, TOPIC, PARTITIONS, MESSAGES);

  let ceiling: ConsumerPerf | undefined;
  if (!opts['skip-ceiling']) {
    console.log('ceiling: kafka-consumer-perf-test ...');
    ceiling = await consumerPerfTest(bin, brokers, TOPIC, MESSAGES);
    console.log(
      `  ${Math.round(ceiling.fetchMsgsPerSec).toLocaleString('en')} msg/s (fetch), ${Math.round(ceiling.msgsPerSec).toLocaleString('en')} msg/s (with group join)`,
    );
  }

  const emu = await startBenchEmulator('count');
  let tp: Throughput;
  let latency: Latency | undefined;
  try {
    console.log(`throughput: emulator (count mode) fe=${emu.fe} be=${emu.be}`);
    tp = opts['skip-throughput'] ? emptyThroughput() : await measureThroughput(brokers, redisUrl, emu, work, runId);
    if (!opts['skip-latency']) {
      const rate = opts['latency-rate'] ?? Math.round(tp.msgs_per_sec / 2);
      latency = await measureLatency(bin, brokers, redisUrl, emu, work, runId, rate, opts['latency-seconds']);
    }
  } finally {
    await emu.stop();
  }
  const peer = opts['skip-peer'] ? undefined : probePeer();

  const ceilingRate = ceiling?.fetchMsgsPerSec;
  const ratio = ceilingRate ? round(tp.msgs_per_sec / ceilingRate, 3) : undefined;
  // (null: not measured in this run)
  const measured = !opts['skip-throughput'];
  const targets = {
    msgs_per_sec_ge_150000: measured ? tp.msgs_per_sec >= 150_000 : null,
    ratio_ge_0_5: ratio === undefined || !measured ? null : ratio >= 0.5,
    p99_latency_lt_2000_ms: latency ? latency.p99_latency_ms < 2000 : null,
    peak_rss_lt_300_mb: measured ? tp.peak_rss_mb < 300 : null,
  };
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const { samples, profile, ...tpFigures } = tp;
  const result = {
    date: new Date().toISOString(),
    commit,
    commit_dirty: dirty,
    sinker_root: SINKER_ROOT ?? null,
    sinker_runtime: RUNTIME,
    sinker_node_flags: NODE_FLAGS,
    sinker_env: IMAGE_MALLOC_ENV,
    command,
    node: process.version,
    profiled: PROFILE_S > 0 || HEAP_FILE !== undefined,
    topic: { name: TOPIC, partitions: PARTITIONS, messages: MESSAGES, mix: 'clean' },
    kafka: shared ? 'shared test-bed broker' : 'private broker (test bed Kafka jars, own ports and data dir)',
    format: 'json',
    load_route: 'backend',
    settings: opts.settings,
    batch: BATCH,
    fetch: FETCH,
    dedupe: { redis: true, content_key_fields: KEY_FIELDS },
    emulator: 'private instance, counting mode (frames rows, stores nothing)',
    ...tpFigures,
    ceiling_msgs_per_sec: ceilingRate === undefined ? null : Math.round(ceilingRate),
    ratio,
    ceiling,
    p50_latency_ms: latency?.p50_latency_ms ?? null,
    p99_latency_ms: latency?.p99_latency_ms ?? null,
    latency: latency ? { ...latency, histogram: undefined } : null,
    targets,
    peer: peer ?? null,
    noise: {
      cores: 2,
      load_average_at_end: loadAverage(),
      machine_busy_pct_in_window: tp.machine_busy_pct_in_window,
      other_processes_cpu_cores_in_window: tp.other_processes_cpu_cores_in_window,
    },
    profile: profile ?? null,
    series: samples.map((s) => [round(s.t, 1), s.rows, round(s.rssMb, 1)]),
  };

  // Chart: acknowledged msgs/s over time against the ceiling, RSS, and the latency histogram.
  const rateSeries: Array<[number, number]> = [];
  for (let i = 5; i < samples.length; i += 5) {
    const a = samples[i - 5]!;
    const b = samples[i]!;
    rateSeries.push([round(b.t, 1), (b.rows - a.rows) / (b.t - a.t)]);
  }
  const panels = [
    {
      title: `Throughput: one sinker, ${MESSAGES.toLocaleString('en')} canonical messages, 8 partitions`,
      yLabel: 'msgs/s acknowledged',
      xLabel: 'seconds since sinker start',
      series: [
        { name: `sinker (steady ${tp.msgs_per_sec.toLocaleString('en')}/s)`, points: rateSeries },
        ...(ceilingRate
          ? [
              {
                name: `Kafka consumer perf test ${Math.round(ceilingRate).toLocaleString('en')}/s`,
                points: [[0, ceilingRate]] as Array<[number, number]>,
                level: true,
              },
            ]
          : []),
        { name: 'target 150k/s', points: [[0, 150_000]] as Array<[number, number]>, level: true },
      ],
    },
    {
      title: `Sinker RSS (peak ${tp.peak_rss_mb} MiB)`,
      yLabel: 'MiB',
      xLabel: 'seconds since sinker start',
      series: [
        { name: 'RSS', points: samples.map((s) => [round(s.t, 1), s.rssMb] as [number, number]) },
        { name: 'target 300 MiB', points: [[0, 300]] as Array<[number, number]>, level: true },
      ],
    },
    ...(latency
      ? [
          {
            title: `Latency produce → acknowledged at ${latency.offered_msgs_per_sec.toLocaleString('en')} msg/s (p50 ${latency.p50_latency_ms} ms, p99 ${latency.p99_latency_ms} ms)`,
            yLabel: 'messages per 50 ms bucket',
            xLabel: 'latency ms',
            series: [{ name: 'messages', points: latency.histogram }],
          },
        ]
      : []),
  ];
  const svg = chartSvg(
    `doris-sinker bench ${result.date.slice(0, 16)} commit ${commit}`,
    panels,
    `node ${process.version}; ${command}`,
  );

  const stamp = `${result.date.slice(0, 10)}-${commit}${TAG ? `-${TAG}` : ''}`;
  if (!opts['no-write']) {
    const dir = join(REPO, 'test/bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(dir, `${stamp}.svg`), svg);
    console.log(`wrote test/bench/results/${stamp}.json and .svg`);
  }

  const yes = (v: boolean | null) => (v === null ? 'n/a' : v ? 'met' : 'NOT met');
  const rows: Array<[string, string, string]> = [
    ['msgs_per_sec (steady)', tp.msgs_per_sec.toLocaleString('en'), `≥150,000: ${yes(targets.msgs_per_sec_ge_150000)}`],
    ['mb_per_sec (MiB/s of values)', String(tp.mb_per_sec), ''],
    ['ceiling_msgs_per_sec', ceilingRate ? Math.round(ceilingRate).toLocaleString('en') : '-', ''],
    ['ratio', ratio === undefined ? '-' : String(ratio), `≥0.5: ${yes(targets.ratio_ge_0_5)}`],
    ['p50_latency_ms', latency ? String(latency.p50_latency_ms) : '-', ''],
    ['p99_latency_ms', latency ? String(latency.p99_latency_ms) : '-', `<2000: ${yes(targets.p99_latency_lt_2000_ms)}`],
    [
      '  producer send → ack p99 ms',
      latency?.producer_ack_latency_ms ? String(latency.producer_ack_latency_ms.p99) : '-',
      latency?.producer_ack_latency_ms ? `max ${latency.producer_ack_latency_ms.max}` : '',
    ],
    ['peak_rss_mb', String(tp.peak_rss_mb), `<300: ${yes(targets.peak_rss_lt_300_mb)}`],
    [
      'cpu_seconds_per_million_msgs',
      String(tp.cpu_seconds_per_million_msgs),
      `emulator: ${tp.emulator_cpu_seconds_per_million_msgs}`,
    ],
    [
      'machine busy in window',
      `${tp.machine_busy_pct_in_window}%`,
      `other processes: ${tp.other_processes_cpu_cores_in_window} cores`,
    ],
    ['peer', peer ? (peer.available ? 'available' : 'unavailable (see peer.evidence)') : 'skipped', ''],
  ];
  console.log('');
  for (const [k, v, t] of rows) console.log(`${k.padEnd(32)} ${v.padStart(14)}  ${t}`);
  if (profile) {
    console.log(`\nCPU profile (${profile.seconds}s, ${profile.file}): self time by area`);
    for (const a of profile.areas.slice(0, 12)) console.log(`  ${a.fn.padEnd(28)} ${String(a.pct).padStart(5)}%`);
    console.log('top functions by self time');
    for (const f of profile.top.slice(0, 20)) console.log(`  ${String(f.pct).padStart(5)}%  ${f.fn}  ${f.where}`);
  }
}

if (import.meta.main)
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
