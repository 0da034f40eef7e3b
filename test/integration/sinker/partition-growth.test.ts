// Partitions added to the topic while sinkers run (`kafka-topics --alter --partitions N`, here the
// admin client's createPartitions): kafkajs takes them only once it refreshes the topic's metadata
// (kafka.metadata_max_age) and rejoins the group. The sinkers must start reading them within that
// bound, load every message of old and new partitions exactly once (labels, intents and watermarks
// are per partition: a new partition starts with none), and report the new partitions' lag.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { waitForTopicLeaders } from '../../support/kafka-topic.ts';
import type { SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  drainAndAssert,
  produce,
  type Scenario,
  type SinkerOverrides,
  scenario,
  sleep,
  startSinker,
  validIds,
  waitCaughtUp,
} from './helpers.ts';

/** Short, so the test is quick; the default (60 s) is the same code path with a longer wait. */
const MAX_AGE = 5;
/** From adding partitions to every message of every partition committed: one refresh, a rebalance, loads. */
const PICKUP_BOUND_MS = (MAX_AGE + 25) * 1000;

const over: SinkerOverrides = {
  kafka: { metadata_max_age: MAX_AGE, session_timeout: 10 },
  batch: { max_batch_interval: 0.3, max_batch_rows: 300 },
};

const procs: SinkerProcess[] = [];
const scenarios: Scenario[] = [];

after(async () => {
  for (const p of procs) await p.kill();
  for (const s of scenarios) await cleanup(s);
  await closeStorage();
});

async function addPartitions(s: Scenario, count: number): Promise<void> {
  const admin = new Kafka({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    logLevel: logLevel.NOTHING,
    clientId: 'it-partition-growth',
  }).admin();
  await admin.connect();
  try {
    await admin.createPartitions({ topicPartitions: [{ topic: s.topic, count }] });
    await waitForTopicLeaders(admin, s.topic, count);
  } finally {
    await admin.disconnect();
  }
  s.partitions = count;
}

/** Partitions with a kafka_consumer_lag series in one sinker's /metrics. */
async function lagPartitions(p: SinkerProcess): Promise<number[]> {
  const text = await p.scrape();
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^kafka_consumer_lag\{[^}]*partition="(\d+)"/.exec(line);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** Waits until the sinkers' lag series together name every partition, each once; returns them per sinker. */
async function waitLagCovers(ps: SinkerProcess[], partitions: number, timeoutMs: number): Promise<number[][]> {
  const want = Array.from({ length: partitions }, (_, i) => i);
  const deadline = Date.now() + timeoutMs;
  let seen: number[][] = [];
  while (Date.now() < deadline) {
    seen = await Promise.all(ps.map(lagPartitions));
    const all = seen.flat().sort((a, b) => a - b);
    if (JSON.stringify(all) === JSON.stringify(want)) return seen;
    await sleep(500);
  }
  assert.fail(`kafka_consumer_lag series by sinker ${JSON.stringify(seen)}; want partitions ${want} once each`);
}

const assignments = (p: SinkerProcess): number[][] =>
  p.logLines.filter((l) => l.msg === 'consumer group assignment').map((l) => l.current as number[]);

/**
 * Produces to the scenario's partitions, adds partitions while `sinkers` run, produces to every
 * partition, and asserts the bound, exactly once and the lag series. Returns every loaded id.
 */
async function growAndAssert(s: Scenario, sinkers: SinkerProcess[], grownTo: number): Promise<bigint[]> {
  const first = await produce(s, 1200, 11);
  await waitCaughtUp(s, 60_000);
  const before = s.partitions;

  await addPartitions(s, grownTo);
  const grownAt = Date.now();
  // round-robin over all partitions: each new one gets 1/grownTo of these
  const second = await produce(s, 2400, 12, 1201n);
  await waitCaughtUp(s, Math.max(1000, PICKUP_BOUND_MS - (Date.now() - grownAt)));
  const pickupMs = Date.now() - grownAt;

  const ids = [...validIds(first.events), ...validIds(second.events)];
  await drainAndAssert(s, ids, `after growing ${before} → ${grownTo} partitions`, 30_000);
  // The group took the new partitions: the last assignments together hold every partition once.
  const current = sinkers.map((p) => assignments(p).at(-1) ?? []);
  assert.deepEqual(
    current.flat().sort((a, b) => a - b),
    Array.from({ length: grownTo }, (_, i) => i),
    `assignments ${JSON.stringify(current)}`,
  );
  // The lag gauge is read every 10 s.
  const lag = await waitLagCovers(sinkers, grownTo, 25_000);
  process.stderr.write(
    `partition-growth: ${before} → ${grownTo} partitions, ${sinkers.length} sinker(s), all committed ${pickupMs} ms after the alter (metadata_max_age ${MAX_AGE} s); lag series ${JSON.stringify(lag)}\n`,
  );
  return ids;
}

test('one sinker: partitions added mid-stream are read within metadata_max_age, every message exactly once, lag reported', async () => {
  const s = scenario('pgrow-one', 2);
  scenarios.push(s);
  await createTopic(s);
  await createTable(s);
  const a = await startSinker(s, 'a', over);
  procs.push(a);

  const ids = await growAndAssert(s, [a], 6);

  assert.ok(a.running, a.tail());
  const exit = await a.term();
  assert.deepEqual(exit, { code: 0, signal: null }, a.tail());
  await drainAndAssert(s, ids, 'after the sinker stopped', 10_000);
});

test('two sinkers in the group: the new partitions are split between them, every message exactly once', async () => {
  const s = scenario('pgrow-two', 2);
  scenarios.push(s);
  await createTopic(s);
  await createTable(s);
  const a = await startSinker(s, 'a', over);
  procs.push(a);
  const b = await startSinker(s, 'b', over);
  procs.push(b);
  // Both in the group (one partition each) before the topic grows: a join would itself refresh metadata.
  const deadline = Date.now() + 30_000;
  while ((assignments(a).at(-1)?.length ?? 0) !== 1 || (assignments(b).at(-1)?.length ?? 0) !== 1) {
    assert.ok(Date.now() < deadline, `A ${JSON.stringify(assignments(a))}, B ${JSON.stringify(assignments(b))}`);
    await sleep(250);
  }

  const ids = await growAndAssert(s, [a, b], 5);
  assert.ok(
    assignments(a).at(-1)!.length >= 2 && assignments(b).at(-1)!.length >= 2,
    `both took new partitions: A ${JSON.stringify(assignments(a))}, B ${JSON.stringify(assignments(b))}`,
  );

  const exits = await Promise.all([a.term(), b.term()]);
  assert.deepEqual(
    exits.map((e) => e.code),
    [0, 0],
    `${a.tail()}\n---\n${b.tail()}`,
  );
  await drainAndAssert(s, ids, 'after both stopped', 10_000);
});

test('from_earliest false: messages written to a new partition before the sinker takes it are loaded too', async () => {
  const s = scenario('pgrow-latest', 2);
  scenarios.push(s);
  await createTopic(s);
  await createTable(s);
  // Older than the sink: with from_earliest false these are not loaded (the exactly-once check
  // refuses ids it did not expect).
  await produce(s, 100, 21);
  const a = await startSinker(s, 'a', { ...over, kafka: { ...over.kafka, from_earliest: false } });
  procs.push(a);
  await a.waitForLog(/^partition settled$/, 30_000);
  await sleep(1000);
  const first = await produce(s, 600, 22, 101n);
  await waitCaughtUp(s, 60_000);

  await addPartitions(s, 4);
  // Written at once: the sinker takes the new partitions only up to metadata_max_age later.
  const second = await produce(s, 800, 23, 701n);
  await waitCaughtUp(s, PICKUP_BOUND_MS);
  const ids = [...validIds(first.events), ...validIds(second.events)];
  await drainAndAssert(s, ids, 'from_earliest false, grown 2 → 4 partitions', 30_000);
  const added = a.logLines.filter((l) => /^partition added to the topic/.test(String(l.msg))).map((l) => l.partition);
  assert.deepEqual(added.sort(), [2, 3], 'the new partitions, and only they, were read from their first message');
  const exit = await a.term();
  assert.deepEqual(exit, { code: 0, signal: null }, a.tail());
});
