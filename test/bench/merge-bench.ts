// `node test/bench/merge-bench.ts`: what batch.merge_partitions buys and costs (DESIGN §3 asks for
// the trade-off in figures). The same sinker, merge off then on, in one run:
//   quiet: a topic with many partitions (--partitions, 32) fed at a modest rate (--rate msg/s for
//          --seconds) with max_batch_interval 1 s — the case merging is for: Doris transactions
//          (each a tablet version, the -235 "too many versions" risk), Stream Load requests, rows per
//          load, sinker CPU, and how long after the last message the sink caught up;
//   busy:  an 8-partition backlog (--backlog messages, produced once and kept) consumed as fast as
//          possible with the default batch settings but a 1 s interval — what the 2PC round trip
//          costs when batches fill up anyway.
// The Doris emulator is private and counts (stores nothing); Kafka and Redis are the test bed's.
// Prints a table and writes test/bench/results/<date>-<commit>-merge[-tag].json unless --no-write.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeEvents } from '../support/events.ts';
import { idempotentProducer } from '../support/produce.ts';
import { testbed } from '../support/testbed.ts';
import { defineCli } from './support/cli.ts';
import { type BenchEmulator, REPO, startBenchEmulator } from './support/emulator.ts';
import { cpuSeconds } from './support/proc.ts';
import { type BatchSettings, DEFAULT_BATCH, metricSum, type SinkerChild, startSinker } from './support/sinker.ts';
import { createTopic, deleteTopic, ensurePrefilled, kafka } from './support/topic.ts';

export const CLI = defineCli(import.meta, {
  options: {
    partitions: {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 32,
      value: 'N',
      description: 'partitions of the quiet topic',
    },
    rate: {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 4000,
      value: 'N',
      description: 'msg/s produced into the quiet topic',
    },
    seconds: {
      type: 'string',
      number: 'positive',
      default: 30,
      value: 'S',
      description: 'how long the quiet topic is fed',
    },
    backlog: {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 1_000_000,
      value: 'N',
      description: 'messages of the busy 8-partition backlog (bench-merge-busy-8p, kept between runs)',
    },
    tag: { type: 'string', defaultText: 'none', value: 'NAME', description: 'suffix of the result file name' },
    'no-write': { type: 'boolean', description: 'write no result file' },
  },
});
const opts = CLI.parse();
const PARTITIONS = opts.partitions;
const RATE = opts.rate;
const SECONDS = opts.seconds;
const BACKLOG = opts.backlog;
const TAG = opts.tag;
const BUSY_TOPIC = 'bench-merge-busy-8p';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  mode: 'per-partition' | 'merged';
  messages: number;
  /** Doris transactions that became visible (tablet versions). */
  transactions: number;
  /** Stream Load HTTP requests the emulator answered (pre-commits included). */
  streamLoads: number;
  seconds: number;
  transactionsPerSecond: number;
  rowsPerTransaction: number;
  msgPerSecond: number;
  cpuSecondsPerMillion: number;
  /** Seconds from the last message produced (quiet) or from the start (busy) until all were loaded. */
  catchUpSeconds: number;
  mergedLoads: number;
  partitionsPerMergedLoad: number;
}

async function waitLoaded(s: SinkerChild, total: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (metricSum(await s.metrics(), 'doris_rows_loaded_total') < total) {
    if (Date.now() > deadline) throw new Error(`not all ${total} rows loaded within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

async function visibleTransactions(emu: BenchEmulator, prefix: string): Promise<number> {
  return (await emu.txns()).filter((t) => t.label.startsWith(prefix) && t.state === 'VISIBLE').length;
}

async function runMode(
  emu: BenchEmulator,
  scenario: 'quiet' | 'busy',
  merge: boolean,
  work: string,
  runId: string,
): Promise<Figures> {
  const brokers = testbed('KAFKA_BOOTSTRAP');
  const partitions = scenario === 'quiet' ? PARTITIONS : 8;
  const mode = merge ? 'merged' : 'per-partition';
  const name = `mb${scenario[0]}${merge ? 'm' : 's'}${runId}`;
  // The busy backlog is produced once and read by each mode with its own group.
  const topic = scenario === 'quiet' ? `bench-merge-${name}` : BUSY_TOPIC;
  if (scenario === 'quiet') await createTopic(brokers, topic, partitions);
  const batch: BatchSettings = {
    ...DEFAULT_BATCH,
    max_batch_interval: 1,
    merge_partitions: merge,
  };
  const total = scenario === 'quiet' ? RATE * SECONDS : await ensurePrefilled(brokers, BUSY_TOPIC, partitions, BACKLOG);
  const before = await emu.counters();
  const sinker = await startSinker({
    name,
    topic,
    group: `g-${name}`,
    brokers,
    redisUrl: testbed('REDIS_URL'),
    emulator: emu,
    batch,
    workDir: work,
  });
  try {
    const cpu0 = cpuSeconds(sinker.pid);
    const t0 = Date.now();
    let produced = t0;
    if (scenario === 'quiet') {
      // RATE msg/s in ten steps a second, round-robin over every partition.
      const values = takeEvents({ seed: 7, mix: 'clean' }, 20_000).map((e) => e.value);
      const producer = idempotentProducer(kafka(brokers));
      await producer.connect();
      try {
        const step = Math.max(1, Math.round(RATE / 10));
        let k = 0;
        for (let i = 0; i < SECONDS * 10; i++) {
          const due = t0 + i * 100;
          if (due > Date.now()) await sleep(due - Date.now());
          const messages = [];
          for (let j = 0; j < step; j++, k++)
            messages.push({ value: values[k % values.length]!, partition: k % partitions });
          await producer.send({ topic, messages, acks: -1 });
        }
      } finally {
        await producer.disconnect();
      }
      produced = Date.now();
    }
    await waitLoaded(sinker, total, 300_000);
    const done = Date.now();
    const cpu = cpuSeconds(sinker.pid) - cpu0;
    const m = await sinker.metrics();
    const after = await emu.counters();
    const transactions = await visibleTransactions(emu, `${name}:`);
    const seconds = (done - t0) / 1000;
    const mergedLoads = metricSum(m, 'batch_merged_loads_total');
    return {
      mode,
      messages: total,
      transactions,
      streamLoads: after.loads - before.loads,
      seconds,
      transactionsPerSecond: transactions / seconds,
      rowsPerTransaction: total / Math.max(1, transactions),
      msgPerSecond: total / seconds,
      cpuSecondsPerMillion: (cpu / total) * 1e6,
      catchUpSeconds: (done - (scenario === 'quiet' ? produced : t0)) / 1000,
      mergedLoads,
      partitionsPerMergedLoad: mergedLoads > 0 ? metricSum(m, 'batch_merged_partitions_sum') / mergedLoads : 0,
    };
  } finally {
    await sinker.stop();
    if (scenario === 'quiet') await deleteTopic(brokers, topic);
  }
}

function row(f: Figures): string {
  const n = (x: number, d = 0) => x.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
  return [
    f.mode.padEnd(14),
    n(f.messages).padStart(9),
    n(f.transactions).padStart(6),
    n(f.transactionsPerSecond, 1).padStart(7),
    n(f.rowsPerTransaction).padStart(7),
    n(f.streamLoads).padStart(7),
    n(f.msgPerSecond).padStart(8),
    n(f.cpuSecondsPerMillion, 1).padStart(7),
    n(f.catchUpSeconds, 1).padStart(7),
    n(f.partitionsPerMergedLoad, 1).padStart(6),
  ].join(' ');
}

async function main(): Promise<void> {
  const runId = Date.now().toString(36);
  const work = mkdtempSync(join(tmpdir(), 'merge-bench-'));
  const emu = await startBenchEmulator('count');
  const results: Record<string, Figures[]> = { quiet: [], busy: [] };
  try {
    for (const scenario of ['quiet', 'busy'] as const) {
      for (const merge of [false, true]) {
        console.log(`${scenario}: ${merge ? 'merged' : 'per-partition'} ...`);
        results[scenario]!.push(await runMode(emu, scenario, merge, work, runId));
      }
    }
  } finally {
    await emu.stop();
  }
  const head = `${'mode'.padEnd(14)} ${'messages'.padStart(9)} ${'txns'.padStart(6)} ${'txns/s'.padStart(7)} ${'rows/tx'.padStart(7)} ${'loads'.padStart(7)} ${'msg/s'.padStart(8)} ${'CPU/M'.padStart(7)} ${'catchup'.padStart(7)} ${'parts'.padStart(6)}`;
  console.log(
    `\nquiet: ${PARTITIONS} partitions, ${RATE.toLocaleString('en')} msg/s for ${SECONDS} s, max_batch_interval 1 s`,
  );
  console.log(head);
  for (const f of results.quiet!) console.log(row(f));
  console.log(
    `\nbusy: 8 partitions, ${BACKLOG.toLocaleString('en')}-message backlog, default batch settings, max_batch_interval 1 s`,
  );
  console.log(head);
  for (const f of results.busy!) console.log(row(f));
  const [qs, qm] = results.quiet as [Figures, Figures];
  const [bs, bm] = results.busy as [Figures, Figures];
  console.log(
    `\nmerged / per-partition: quiet transactions ×${(qm.transactions / qs.transactions).toFixed(3)}, CPU/M ×${(qm.cpuSecondsPerMillion / qs.cpuSecondsPerMillion).toFixed(2)}; busy msg/s ×${(bm.msgPerSecond / bs.msgPerSecond).toFixed(2)}`,
  );
  if (opts['no-write']) return;
  const commit = execFileSync('git', ['rev-parse', '--short=10', 'HEAD'], { cwd: REPO }).toString().trim();
  const dir = join(REPO, 'test/bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().slice(0, 10)}-${commit}-merge${TAG ? `-${TAG}` : ''}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ commit, partitions: PARTITIONS, rate: RATE, seconds: SECONDS, backlog: BACKLOG, ...results }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);
}

if (import.meta.main) await main();
