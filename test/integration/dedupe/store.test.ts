// DedupeStore and settlePartition against the test bed's real Redis.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { DedupeConfig } from '../../../sinker/config/types.ts';
import { ContentDedupe } from '../../../sinker/dedupe/content.ts';
import { DedupeUnavailableError } from '../../../sinker/dedupe/errors.ts';
import { contentKey } from '../../../sinker/dedupe/keys.ts';
import { settlePartition } from '../../../sinker/dedupe/settle.ts';
import { offsetDisposition } from '../../../sinker/dedupe/state.ts';
import { DedupeStore } from '../../../sinker/dedupe/store.ts';
import type { LabelState } from '../../../sinker/writer/fe-replies.ts';
import { testbed } from '../../support/testbed.ts';

const REDIS_URL = testbed('REDIS_URL');
const PREFIX = `it-${randomUUID().slice(0, 8)}:`;
let admin: Redis;

function config(over: Partial<DedupeConfig> = {}): DedupeConfig {
  return { redis_url: REDIS_URL, required: true, key_prefix: PREFIX, key_fields: ['id'], ttl: 600, ...over };
}

async function open(over: Partial<DedupeConfig> = {}, topic = 'topic-a'): Promise<DedupeStore> {
  const store = new DedupeStore({ config: config(over), sink: 'sink1', topic });
  await store.connect();
  return store;
}

before(async () => {
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    await admin.ping();
  } catch (e) {
    throw new Error(
      `Redis of the test bed (${REDIS_URL}) is not reachable: run \`test/infra/up redis\` (${(e as Error).message})`,
    );
  }
});

after(async () => {
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
});

test('intent then complete: watermark advances and the intent goes, in one step', async () => {
  const store = await open();
  try {
    const intent = { label: 'sink1:topic-a:0:0', first: '0', last: '99', created: Date.now() };
    await store.recordIntent(0, intent);
    let state = await store.partitionState(0);
    assert.equal(state.watermark, null);
    assert.deepEqual(state.intents, [intent]);
    assert.equal(await store.complete(0, intent), '99');
    state = await store.partitionState(0);
    assert.equal(state.watermark, '99');
    assert.deepEqual(state.intents, []);
    // Other partitions are untouched.
    assert.deepEqual(await store.partitionState(1), { watermark: null, intents: [] });
    // Keys carry the prefix, sink and topic (hash-tagged).
    assert.equal(await admin.hget(`${PREFIX}{sink1:topic-a}:wm`, '0'), '99');
  } finally {
    await store.close();
  }
});

test('a watermark is never lowered, and int64 offsets compare exactly', async () => {
  const store = await open({}, 'topic-b');
  try {
    assert.equal(await store.complete(0, { first: '100', last: '199' }), '199');
    assert.equal(await store.complete(0, { first: '0', last: '99' }), '199');
    assert.equal(await store.complete(0, { first: '200', last: '1000' }), '1000');
    assert.equal(await store.complete(0, { first: '0', last: '999' }), '1000');
    assert.equal(await store.complete(1, { first: '0', last: '9007199254740992' }), '9007199254740992');
    assert.equal(await store.complete(1, { first: '0', last: '9007199254740993' }), '9007199254740993');
    assert.equal(await store.complete(1, { first: '0', last: '9007199254740992' }), '9007199254740993');
  } finally {
    await store.close();
  }
});

test('content keys are written with the TTL only by complete, and seen afterwards', async () => {
  const store = await open({ ttl: 120 }, 'topic-c');
  try {
    const keys = [contentKey(['1']), contentKey(['2']), contentKey(['3'])];
    assert.deepEqual(await store.seen(keys), [false, false, false]);
    await store.recordIntent(0, { label: 'l', first: '0', last: '1', created: Date.now() });
    assert.deepEqual(await store.seen(keys), [false, false, false], 'an intent marks nothing as seen');
    await store.complete(0, { first: '0', last: '1' }, keys.slice(0, 2));
    assert.deepEqual(await store.seen(keys), [true, true, false]);
    const ttl = await admin.ttl(`${PREFIX}{sink1:topic-c}:k:${keys[0]}`);
    assert.ok(ttl > 0 && ttl <= 120, `ttl ${ttl}`);
    // Many keys go through chunked MGETs.
    const many = Array.from({ length: 2500 }, (_, i) => contentKey([`m${i}`]));
    await store.complete(0, { first: '2', last: '2' }, many.slice(0, 1200));
    const seen = await store.seen(many);
    assert.equal(seen.length, 2500);
    assert.equal(seen.filter(Boolean).length, 1200);
    assert.equal(seen[1199], true);
    assert.equal(seen[1200], false);
  } finally {
    await store.close();
  }
});

test('ContentDedupe: duplicates in Redis or pending in an unfinished batch are refused', async () => {
  const store = await open({}, 'topic-d');
  try {
    const dedupe = new ContentDedupe(store);
    const [a, b, c] = [contentKey(['a']), contentKey(['b']), contentKey(['c'])];
    await store.complete(0, { first: '0', last: '0' }, [a]);
    assert.deepEqual(await dedupe.admit([a, b, b]), [true, false, true]);
    assert.deepEqual(await dedupe.admit([b, c]), [true, false]);
    assert.equal(dedupe.pendingCount, 2);
    await store.complete(0, { first: '1', last: '2' }, [b, c]);
    dedupe.settle([b, c]);
    assert.equal(dedupe.pendingCount, 0);
    assert.deepEqual(await dedupe.admit([b, c]), [true, true]);
  } finally {
    await store.close();
  }
});

test('settlePartition: VISIBLE completes, PREPARE waits, ABORTED/UNKNOWN stay recorded and are reloaded with their exact ranges', async () => {
  const store = await open({}, 'topic-e');
  try {
    const mk = (first: string, last: string) => ({ label: `L${first}`, first, last, created: Date.now() });
    // Batches [0..9] aborted, [10..19] visible, [20..29] prepare→visible, [30..39] unknown; no watermark yet.
    for (const i of [mk('0', '9'), mk('10', '19'), mk('20', '29'), mk('30', '39')]) await store.recordIntent(0, i);
    const polls = new Map<string, number>();
    const states: Record<string, LabelState[]> = {
      L0: ['ABORTED'],
      L10: ['VISIBLE'],
      L20: ['PREPARE', 'PREPARE', 'VISIBLE'],
      L30: ['UNKNOWN'],
    };
    const labelState = async (label: string): Promise<LabelState> => {
      const n = polls.get(label) ?? 0;
      polls.set(label, n + 1);
      const seq = states[label] ?? ['UNKNOWN'];
      return seq[Math.min(n, seq.length - 1)] as LabelState;
    };
    const plan = await settlePartition({ store, partition: 0, committed: '5', labelState, pollMs: 5 });
    assert.equal(polls.get('L20'), 3, 'PREPARE was polled until it settled');
    assert.equal(plan.watermark, '29');
    assert.equal(plan.seekOffset, '0');
    assert.deepEqual(
      plan.reload.map((r) => [r.intent.label, r.exact]),
      [
        ['L0', true],
        ['L30', true],
      ],
    );
    assert.equal(offsetDisposition('3', plan).kind, 'reload');
    assert.equal(offsetDisposition('15', plan).kind, 'skip');
    assert.equal(offsetDisposition('30', plan).kind, 'reload');
    assert.equal(offsetDisposition('40', plan).kind, 'load');
    const after = await store.partitionState(0);
    assert.equal(after.watermark, '29');
    assert.deepEqual(
      after.intents.map((i) => i.label),
      ['L0', 'L30'],
      'unsettled intents stay recorded until they are reloaded',
    );
  } finally {
    await store.close();
  }
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('Redis unreachable: required → DedupeUnavailableError; not required → degraded with a callback', async () => {
  const url = `redis://127.0.0.1:${await closedPort()}`;
  const strict = new DedupeStore({ config: config({ redis_url: url }), sink: 's', topic: 't', commandTimeoutMs: 500 });
  await assert.rejects(
    strict.connect(),
    (e: unknown) => e instanceof DedupeUnavailableError && e.operation === 'connect',
  );
  await assert.rejects(
    strict.recordIntent(0, { label: 'l', first: '0', last: '1', created: 0 }),
    (e: unknown) => e instanceof DedupeUnavailableError && /recordIntent/.test(e.message),
  );
  await assert.rejects(strict.seen(['x']), DedupeUnavailableError);
  await strict.close();

  const degraded: string[] = [];
  const loose = new DedupeStore({
    config: config({ redis_url: url, required: false }),
    sink: 's',
    topic: 't',
    commandTimeoutMs: 500,
    onDegraded: (op) => degraded.push(op),
  });
  await loose.connect();
  await loose.recordIntent(0, { label: 'l', first: '0', last: '1', created: 0 });
  assert.equal(await loose.complete(0, { first: '0', last: '1' }), null);
  assert.deepEqual(await loose.seen(['x', 'y']), [false, false]);
  assert.deepEqual(await loose.partitionState(0), { watermark: null, intents: [] });
  assert.deepEqual(degraded, ['connect', 'recordIntent', 'complete', 'seen', 'partitionState']);
  await loose.close();
});

/** A client of its own, as the store makes one (fail fast, reconnect), so a test can kill just its connection. */
function droppableClient(): Redis {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    retryStrategy: () => 200,
  });
  client.on('error', () => {});
  return client;
}

test('dedupe.required false: the store reports when Redis is reachable again after degrading', async () => {
  const client = droppableClient();
  const events: string[] = [];
  const store = new DedupeStore({
    config: config({ required: false }),
    sink: 'sink1',
    topic: 'topic-recover',
    redis: client,
    onDegraded: (op) => events.push(`degraded ${op}`),
    onRecovered: (op) => events.push(`recovered ${op}`),
  });
  await store.connect();
  try {
    await store.complete(0, { first: '0', last: '9' });
    assert.equal(events.length, 0, 'a healthy store reports nothing');
    const id = await client.client('ID');
    await admin.client('KILL', 'ID', String(id));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await store.partitionState(0), { watermark: null, intents: [] }, 'degraded: the fallback');
    let state: Awaited<ReturnType<DedupeStore['partitionState']>> | undefined;
    for (let i = 0; i < 50 && state?.watermark !== '9'; i++) {
      state = await store.partitionState(0);
      if (state.watermark !== '9') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state?.watermark, '9', 'the real state once ioredis reconnected');
    assert.equal(events.filter((e) => e.startsWith('recovered')).length, 1, events.join(', '));
    assert.deepEqual(events.slice(-1), ['recovered partitionState']);
  } finally {
    client.disconnect();
  }
});

test('a dropped Redis connection fails fast with DedupeUnavailableError, then the store recovers by itself', async () => {
  const client = droppableClient();
  const store = new DedupeStore({ config: config(), sink: 'sink1', topic: 'topic-f', redis: client });
  await store.connect();
  try {
    await store.complete(0, { first: '0', last: '9' });
    // Kill only this client's connection (other users of the test bed's Redis are untouched).
    const id = await client.client('ID');
    await admin.client('KILL', 'ID', String(id));
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(store.partitionState(0), DedupeUnavailableError);
    // ioredis reconnects on its own; the pipeline's retry then succeeds.
    let state: Awaited<ReturnType<DedupeStore['partitionState']>> | undefined;
    for (let i = 0; i < 50 && !state; i++) {
      try {
        state = await store.partitionState(0);
      } catch (e) {
        assert.ok(e instanceof DedupeUnavailableError, String(e));
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.deepEqual(state, { watermark: '9', intents: [] });
  } finally {
    client.disconnect();
  }
});

test('firstPartitionCount: the first count given is kept for the sink and topic; no Redis → null', async () => {
  const a = await open({}, 'topic-grows');
  const b = await open({}, 'topic-grows');
  try {
    assert.equal(await a.firstPartitionCount(2), 2);
    assert.equal(await b.firstPartitionCount(6), 2, 'a later run (after the topic grew) reads the first count');
    assert.equal(await a.firstPartitionCount(6), 2);
  } finally {
    await a.close();
    await b.close();
  }
  const none = new DedupeStore({ config: config({ redis_url: '', required: false }), sink: 'sink1', topic: 't' });
  assert.equal(await none.firstPartitionCount(3), null);
});
