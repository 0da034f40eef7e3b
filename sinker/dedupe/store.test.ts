import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DedupeStore } from './store.ts';

test('an empty redis_url means no Redis: nothing is connected (ioredis would take "" as localhost:6379)', async () => {
  const degraded: string[] = [];
  const warnings: string[] = [];
  const store = new DedupeStore({
    config: { redis_url: '', required: false, key_prefix: '', key_fields: [], ttl: 60 },
    sink: 's',
    topic: 't',
    logger: { warn: (_obj, msg) => warnings.push(msg ?? '') },
    onDegraded: (_op, err) => degraded.push(err.message),
  });
  await store.connect();
  assert.deepEqual(await store.partitionState(0), { watermark: null, intents: [] });
  await store.close();
  assert.equal(degraded.length, 1, 'degraded once, not once per operation');
  assert.match(degraded[0]!, /dedupe\.redis_url is empty/);
  assert.deepEqual(warnings, ['dedupe.redis_url is empty: running at-least-once without Redis']);
});

test('without Redis (required: false) there is no state to be stale: nothing is recorded, nothing refused', async () => {
  const store = new DedupeStore({
    config: { redis_url: '', required: false, key_prefix: '', key_fields: [], ttl: 60 },
    sink: 's',
    topic: 't',
  });
  assert.equal(await store.staleState(), null);
  const record = {
    partition: 0,
    reason: 'watermark' as const,
    offset: '9',
    watermark: '9',
    logStart: '0',
    logEnd: '0',
    at: '2026-11-25T08:00:00.000Z',
  };
  assert.deepEqual(await store.markStale(record), record);
  assert.equal(await store.staleState(), null);
  assert.equal(store.keys.stale, '{s:t}:stale');
  assert.equal(store.keys.pattern, '{s:t}*');
  await store.close();
});

test('Redis away with required: false: the at-least-once warning is logged once per outage, not once per operation', async () => {
  let down = true;
  const redis = {
    on: () => {},
    defineCommand: () => {},
    hset: async () => {
      if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      return 1;
    },
  };
  const warnings: string[] = [];
  const degraded: string[] = [];
  const store = new DedupeStore({
    config: { redis_url: 'redis://127.0.0.1:6379', required: false, key_prefix: '', key_fields: [], ttl: 60 },
    sink: 's',
    topic: 't',
    redis: redis as never,
    logger: { warn: (_obj, msg) => warnings.push(msg ?? '') },
    onDegraded: (op) => degraded.push(op),
  });
  for (let i = 0; i < 3; i++) await store.claim(i, 'token');
  down = false;
  await store.claim(0, 'token');
  down = true;
  await store.claim(1, 'token');
  assert.equal(degraded.length, 4, 'every skipped operation is counted (dedupe_redis_errors_total)');
  assert.deepEqual(warnings, [
    'Redis unreachable: running at-least-once (dedupe.required is false)',
    'Redis unreachable: running at-least-once (dedupe.required is false)',
  ]);
});
