// batch.merge_partitions end to end: the batches of eight partitions load as merged two-phase
// loads, and every fault that single-partition loads survive is survived here too — kill -9 at
// random points with loads in flight, sinkers joining and leaving, a frozen owner waking up after
// its partitions moved (fenced by owner tokens, DESIGN §3), and a merged load Doris refuses for
// data quality (falls back to per-partition loads, the bad row to the DLQ with its reason).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
import {
  armFault,
  assertExactlyOnce,
  backgroundProducer,
  cleanup,
  closeStorage,
  createNarrowNameTable,
  createTable,
  createTopic,
  disarmFault,
  drainAndAssert,
  faultsFired,
  frozenOwnerScenario,
  NARROW_NAME_LOOSE_SCHEMA,
  produceValues,
  readDlq,
  type Scenario,
  type SinkerOverrides,
  scenario,
  seededRandom,
  sleep,
  startSinker,
  waitCaughtUp,
  waitForRows,
  waitQuiet,
} from './helpers.ts';

const RUNS = Number(process.env.MERGED_KILL9_RUNS ?? 5);
const procs: SinkerProcess[] = [];
const faults: number[] = [];
const scenarios: Scenario[] = [];

const MERGED: SinkerOverrides = {
  kafka: { session_timeout: 6 },
  batch: { merge_partitions: true, max_batch_interval: 0.3, max_batch_rows: 2000 },
  doris: { timeout: 20 },
};

async function fresh(tag: string, partitions: number): Promise<Scenario> {
  const s = scenario(tag, partitions);
  scenarios.push(s);
  await createTopic(s);
  return s;
}

before(async () => {});

after(async () => {
  for (const f of faults) await disarmFault(f);
  for (const p of procs) await p.kill();
  for (const s of scenarios) await cleanup(s);
  await closeStorage();
});

/** Merged loads a sinker committed (and fell back), from its /metrics. */
async function mergedLoads(p: SinkerProcess): Promise<{ committed: number; fallback: number; partitions: number }> {
  const text = await p.scrape();
  // A series never incremented is absent (NaN): count it as 0.
  const value = (name: string, labels: Record<string, string> = {}) => metricValue(text, name, labels) || 0;
  return {
    committed: value('batch_merged_loads_total', { outcome: 'committed' }),
    fallback: value('batch_merged_loads_total', { outcome: 'fallback' }),
    partitions: value('batch_merged_partitions_sum'),
  };
}

test(`merged loads: kill -9 ${RUNS} times with loads in flight, a member joining and leaving, then drain: exactly once`, async () => {
  const s = await fresh('merged', 8);
  await createTable(s);
  const seed = Number(process.env.MERGED_SEED ?? Date.now() % 100_000);
  const rand = seededRandom(seed);
  // Pre-commits held 0.5 s: kills land between record, pre-commit, decision, commit and complete.
  const slow = await armFault({ type: 'slow_reply', delayMs: 500, commit: 'after', count: 200, label: `^${s.name}:` });
  faults.push(slow);
  const producer = backgroundProducer(s, 200, 300, 900);
  const waits: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const p = await startSinker(s, `run${run}`, MERGED);
    procs.push(p);
    const wait = 800 + Math.floor(rand() * 3000);
    waits.push(wait);
    await sleep(wait);
    const exit = await p.kill();
    assert.equal(exit.signal, 'SIGKILL', `run ${run} was killed, not exited on its own:\n${p.tail()}`);
  }
  // Two members share the partitions, then one leaves gracefully mid-stream.
  const a = await startSinker(s, 'a', MERGED);
  procs.push(a);
  const b = await startSinker(s, 'b', MERGED);
  procs.push(b);
  await sleep(4000);
  const bMerged = await mergedLoads(b);
  const bExit = await b.term();
  assert.equal(bExit.code, 0, `B's graceful leave:\n${b.tail()}`);
  const ids = await producer.stop();
  await disarmFault(slow);
  await drainAndAssert(s, ids, `merged loads after ${RUNS} kills (seed ${seed}, waits ${waits.join(',')} ms)`, 90_000);
  const aMerged = await mergedLoads(a);
  assert.ok(
    aMerged.committed + bMerged.committed > 0,
    `merged loads committed: A ${JSON.stringify(aMerged)}, B ${JSON.stringify(bMerged)}`,
  );
  assert.ok(
    aMerged.partitions >= 2 * aMerged.committed,
    `each merged load held ≥ 2 partitions: ${JSON.stringify(aMerged)}`,
  );
  const exit = await a.term();
  assert.deepEqual(exit, { code: 0, signal: null }, a.tail());
  await assertExactlyOnce(s, ids, 'after A stopped');
  const settles = procs.flatMap((p) => p.logLines.filter((l) => l.msg === 'partition settled'));
  const reloads = settles.filter((l) => Number(l.reload ?? 0) > 0).length;
  const fallbacks = procs.flatMap((p) =>
    p.logLines.filter((l) => l.msg === 'merged load not committed: loading the batches one by one'),
  );
  const reasons = [...new Set(fallbacks.map((l) => String(l.reason).replace(/\d+/g, 'N')))];
  process.stderr.write(
    `merged: seed ${seed}, ${ids.length} rows, A ${JSON.stringify(aMerged)}, ${settles.length} settles, ${reloads} with parts to reload; fallbacks: ${reasons.join('; ')}\n`,
  );
});

test('merged loads: a member frozen with merged loads in flight wakes up after its partitions moved: exactly once', async () => {
  const z = await fresh('mzombie', 4);
  await createTable(z);
  // Pre-commits held 3 s: A freezes between its pre-commit and its decision step.
  await frozenOwnerScenario(
    z,
    { ...MERGED, batch: { ...MERGED.batch, max_batch_rows: 200 } },
    {
      seed: 911,
      holdMs: 3000,
      procs,
      faults,
    },
  );
});

test('a merged load Doris refuses falls back to per-partition loads: the bad row dead-lettered, the rest once', async () => {
  const s = await fresh('mrefused', 4);
  await createNarrowNameTable(s);
  const values: string[] = [];
  const loaded: bigint[] = [];
  for (let id = 1; id <= 400; id++) {
    const long = id === 123;
    values.push(`{"id": ${id}, "name": "${long ? 'far-too-long-for-eight' : `n${id}`}"}`);
    if (!long) loaded.push(BigInt(id));
  }
  await produceValues(s, values);
  const p = await startSinker(s, 'refused', {
    batch: { merge_partitions: true, max_batch_interval: 1, max_batch_rows: 5000 },
    schema: NARROW_NAME_LOOSE_SCHEMA,
  });
  procs.push(p);
  await waitForRows(s, loaded.length, 60_000);
  await waitQuiet(s, 1500, 15_000);
  await assertExactlyOnce(s, loaded, 'refused row left out');
  const deadline = Date.now() + 30_000;
  while (readDlq(s).length < 1 && Date.now() < deadline) await sleep(300);
  const dlq = readDlq(s);
  assert.equal(dlq.length, 1, `DLQ lines: ${dlq.map((d) => d.value).join(' | ')}`);
  assert.match(dlq[0]!.value ?? '', /far-too-long-for-eight/);
  assert.match(dlq[0]!.reason, /too long/i);
  const m = await mergedLoads(p);
  assert.ok(m.fallback >= 1, `the refused merged load fell back: ${JSON.stringify(m)}`);
  const exit = await p.term(30_000);
  assert.equal(exit.code, 0, p.tail(20));
});

test('a merged load committed whose reply was lost and whose label Doris then forgot is completed, not retried forever: exactly once, offsets committed', async () => {
  const s = await fresh('mevicted', 4);
  await createTable(s);
  const values: string[] = [];
  const ids: bigint[] = [];
  for (let id = 1; id <= 400; id++) {
    values.push(`{"id": ${id}, "integration_id": 7, "arrive_time": 1700000000000, "event_time": 1700000000000}`);
    ids.push(BigInt(id));
  }
  await produceValues(s, values);
  // The first merged commit: Doris commits it, the sinker hears a failure, and its label is gone
  // before the sinker asks (2000 newer loads in a busy database).
  const fault = await armFault({
    type: 'commit_2pc_fail',
    commit: true,
    evict: true,
    label: ':m\\d+:',
    table: s.table,
  });
  faults.push(fault);
  const p = await startSinker(s, 'evicted', {
    batch: { merge_partitions: true, max_batch_interval: 1, max_batch_rows: 5000 },
  });
  procs.push(p);
  await waitForRows(s, ids.length, 60_000);
  await waitCaughtUp(s, 30_000);
  await waitQuiet(s, 1500, 15_000);
  await assertExactlyOnce(s, ids, 'committed merged load with its label forgotten');
  // A fault is listed until its one use is taken (it matches this test's table only).
  assert.equal((await faultsFired()).has(fault), false, 'the commit fault fired');
  const m = await mergedLoads(p);
  assert.ok(m.committed >= 1, `the merged load counted as committed: ${JSON.stringify(m)}`);
  const exit = await p.term(30_000);
  assert.equal(exit.code, 0, p.tail(20));
});
