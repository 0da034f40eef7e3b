// A topic deleted and re-created under the same name numbers its messages from 0 again, while the
// sink's Redis state (watermarks) and Doris labels are keyed by sink and topic name. A sinker started
// again under the old name must refuse that state, loudly and for good: it loads nothing of the new
// topic, also once the new log has grown past the old watermarks (where the state would look fine).
// Without the refusal it silently skips every new offset up to the old watermark and loads the rest
// under labels Doris may still hold. Under a new name, every new message loads exactly once.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { type GeneratedEvent, generateEvents } from '../../support/events.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { idempotentProducer, produceEvents } from '../../support/produce.ts';
import { metricValue, SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  drainAndAssert,
  type Scenario,
  type SinkerOverrides,
  scenario,
  sinkerConfig,
  sleep,
  startSinker,
  validIds,
  waitCaughtUp,
} from './helpers.ts';

const over: SinkerOverrides = { batch: { max_batch_interval: 0.3, max_batch_rows: 100 } };
const STALE = /^stale exactly-once state: the topic was re-created or truncated/;

const procs: SinkerProcess[] = [];
const scenarios: Scenario[] = [];

after(async () => {
  for (const p of procs) await p.kill();
  for (const s of scenarios) await cleanup(s);
  await closeStorage();
});

function admin() {
  return new Kafka({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    logLevel: logLevel.NOTHING,
    clientId: 'it-topic-recreate',
  }).admin();
}

/** Clean events (every one a row), round-robin over the scenario's partitions. */
async function produceClean(s: Scenario, count: number, seed: number, firstId: bigint): Promise<bigint[]> {
  const r = await produceEvents({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    topic: s.topic,
    count,
    seed,
    mix: 'clean',
    keep: true,
    partitions: s.partitions,
    firstId,
  });
  return validIds(r.events);
}

/** Clean events to one partition. */
async function produceCleanTo(s: Scenario, partition: number, count: number, seed: number, firstId: bigint) {
  const events: GeneratedEvent[] = [];
  for (const e of generateEvents({ seed, mix: 'clean', firstId })) {
    if (events.length === count) break;
    events.push(e);
  }
  const producer = idempotentProducer(
    new Kafka({ brokers: testbed('KAFKA_BOOTSTRAP').split(','), logLevel: logLevel.NOTHING, clientId: 'it-recreate' }),
  );
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += 300) {
      const messages = events.slice(i, i + 300).map((e) => ({ value: e.value, partition }));
      await producer.send({ topic: s.topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
  return events.map((e) => e.id);
}

/** Deletes the topic and creates it again under its name, once the broker has let go of the old one. */
async function recreateTopic(s: Scenario): Promise<void> {
  const a = admin();
  await a.connect();
  try {
    await a.deleteTopics({ topics: [s.topic], timeout: 30_000 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await createTopicAndWait(a, s.topic, s.partitions);
        break;
      } catch (err) {
        // The deletion is still going on (TOPIC_ALREADY_EXISTS): try again.
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
    // A just-created partition's leader may still answer NOT_LEADER for a moment.
    let ends = await a.fetchTopicOffsets(s.topic).catch(() => null);
    while (ends === null && Date.now() < deadline) {
      await sleep(500);
      ends = await a.fetchTopicOffsets(s.topic).catch(() => null);
    }
    assert.ok(ends, 'no offsets for the re-created topic');
    assert.ok(
      ends.every((e) => e.high === '0'),
      `the re-created topic is not empty: ${JSON.stringify(ends)}`,
    );
  } finally {
    await a.disconnect();
  }
}

async function redisGet(key: string): Promise<string | null> {
  const r = new Redis(testbed('REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    return await r.get(key);
  } finally {
    r.disconnect();
  }
}

async function readyz(p: SinkerProcess): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${p.metricsPort}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text() };
}

/**
 * The first refusal line. A partition settled under the old name fails at once: that is the data
 * loss (offsets up to the old watermark skipped, labels reused).
 */
async function firstRefusal(p: SinkerProcess, timeoutMs: number): Promise<Record<string, unknown>> {
  const line = await p.waitForLog(
    /^stale exactly-once state: the topic was re-created or truncated|^partition settled$/,
    timeoutMs,
  );
  assert.notEqual(line.msg, 'partition settled', `settled over the re-created topic: ${JSON.stringify(line)}`);
  return line;
}

const refusals = (p: SinkerProcess, partition: number) =>
  p.logLines.filter((l) => STALE.test(String(l.msg)) && l.refusedPartition === partition).length;

/** Waits until the sinker has refused each partition `more` more times than in `before`. */
async function waitMoreRefusals(p: SinkerProcess, before: number[], more: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (before.some((n, partition) => refusals(p, partition) < n + more)) {
    if (!p.running) assert.fail(`the sinker exited:\n${p.tail()}`);
    if (Date.now() > deadline) {
      assert.fail(
        `refusals per partition ${before.map((_, i) => refusals(p, i))}, want ${before.map((n) => n + more)}`,
      );
    }
    await sleep(250);
  }
}

/** A 2-partition scenario whose sink 'a' loaded 400 messages (watermark 199 on each partition) and stopped cleanly. */
async function loadedScenario(name: string, seed: number) {
  const s = scenario(name, 2);
  scenarios.push(s);
  await createTopic(s);
  await createTable(s);
  const a = await startSinker(s, 'a', over);
  procs.push(a);
  const old = await produceClean(s, 400, seed, 1n);
  await waitCaughtUp(s, 60_000);
  await drainAndAssert(s, old, 'the first topic', 30_000);
  assert.deepEqual(await a.term(), { code: 0, signal: null }, a.tail());
  return { s, old };
}

test('a re-created topic under the old sink name is refused for good; under a new name it loads exactly once', async () => {
  // 1. 400 messages loaded: watermark 199 on each partition.
  const { s, old } = await loadedScenario('recreate', 31);

  // 2. The topic is deleted and re-created; 100 messages (50 a partition, offsets 0..49).
  await recreateTopic(s);
  const fresh = await produceClean(s, 100, 32, 1001n);

  // 3. The old name again: refused, nothing loaded, not ready, the gauge up.
  const b = new SinkerProcess({ dir: s.dir, tag: 'b-old-name', config: await sinkerConfig(s, over) });
  procs.push(b);
  const line = await firstRefusal(b, 90_000);
  assert.equal(line.level, 'error', JSON.stringify(line));
  assert.equal(line.topic, s.topic);
  assert.equal(line.watermark, '199', JSON.stringify(line));
  assert.equal(line.logEnd, '50', JSON.stringify(line));
  assert.equal(line.reason, 'watermark');
  assert.match(String(line.redisKeys), new RegExp(`^${s.prefix}\\{${s.name}:${s.topic}\\}\\*$`));
  await waitMoreRefusals(b, [0, 0], 1, 60_000);
  const stale = JSON.parse((await redisGet(`${s.prefix}{${s.name}:${s.topic}}:stale`)) ?? 'null') as {
    watermark: string;
    logEnd: string;
  } | null;
  assert.ok(stale && stale.watermark === '199' && stale.logEnd === '50', `stale record ${JSON.stringify(stale)}`);
  const r = await readyz(b);
  assert.equal(r.status, 503, r.body);
  assert.match(r.body, /^dedupe: refusing stale exactly-once state, the topic was re-created or truncated/m);
  assert.equal(metricValue(await b.scrape(), 'dedupe_state_stale'), 1);

  // 4. The new log grows past the old watermarks (offsets up to 249): still refused, still nothing.
  const more = await produceClean(s, 400, 33, 1101n);
  await waitMoreRefusals(
    b,
    [0, 1].map((p) => refusals(b, p)),
    2,
    90_000,
  );
  await assertExactlyOnce(s, old, 'nothing of the re-created topic loaded under the old name');
  assert.equal(
    b.logLines.filter((l) => l.msg === 'partition settled').length,
    0,
    'no partition settled under the old name',
  );
  const a2 = admin();
  await a2.connect();
  const [committed] = await a2.fetchOffsets({ groupId: s.group, topics: [s.topic] });
  await a2.disconnect();
  assert.deepEqual(
    committed?.partitions.map((p) => p.offset),
    ['-1', '-1'],
    'nothing committed for the re-created topic',
  );
  assert.deepEqual(await b.term(), { code: 0, signal: null }, b.tail());

  // 5. A new name, as the guide says: every message of the new topic once (the old rows stay).
  const renamed: Scenario = { ...s, name: `${s.name}-v2` };
  const c = await startSinker(renamed, 'c-new-name', over);
  procs.push(c);
  await waitCaughtUp(s, 60_000);
  await drainAndAssert(s, [...old, ...fresh, ...more], 'the re-created topic under a new sink name', 30_000);
  assert.equal(c.logLines.filter((l) => STALE.test(String(l.msg))).length, 0, c.tail());
  assert.equal(metricValue(await c.scrape(), 'dedupe_state_stale'), 0);
  assert.deepEqual(await c.term(), { code: 0, signal: null }, c.tail());
});

test('one partition of the re-created topic already past its old watermark: the whole topic is refused', async () => {
  const { s, old } = await loadedScenario('recreate-one', 41);

  await recreateTopic(s);
  // Partition 1 holds offsets 0..299, past its old watermark 199: alone it would look fine.
  // Partition 0 holds 0..9, under its watermark 199: stale.
  await produceCleanTo(s, 1, 300, 42, 2001n);
  await produceCleanTo(s, 0, 10, 43, 3001n);

  const b = new SinkerProcess({ dir: s.dir, tag: 'b-old-name', config: await sinkerConfig(s, over) });
  procs.push(b);
  await b.waitForLog(STALE, 90_000);
  // Both partitions refused, whichever settled first (partition 1's settle, had it run first, is
  // stopped by the finding on partition 0; run after it, it reads the record).
  await waitMoreRefusals(b, [0, 0], 2, 90_000);
  await assertExactlyOnce(s, old, 'nothing of the re-created topic loaded under the old name');
  const a2 = admin();
  await a2.connect();
  const [committed] = await a2.fetchOffsets({ groupId: s.group, topics: [s.topic] });
  await a2.disconnect();
  assert.deepEqual(
    committed?.partitions.map((p) => p.offset),
    ['-1', '-1'],
    'nothing committed for the re-created topic',
  );
  assert.deepEqual(await b.term(), { code: 0, signal: null }, b.tail());
});
