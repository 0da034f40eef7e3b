// Redis of the test bed is a real Redis: SET, GET and EXPIRE behave as the server defines them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { testbed } from '../../support/testbed.ts';
import { requireListening } from './require-up.ts';

let redis: Redis;
const key = `smoke:${randomUUID()}`;

before(async () => {
  const url = testbed('REDIS_URL');
  await requireListening('redis', url);
  redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
});

after(async () => {
  await redis?.del(key);
  redis?.disconnect();
});

test('SET, GET and EXPIRE round-trip through ioredis', async () => {
  assert.equal(await redis.set(key, 'value-1'), 'OK');
  assert.equal(await redis.get(key), 'value-1');
  assert.equal(await redis.ttl(key), -1, 'a fresh key has no expiry');
  assert.equal(await redis.expire(key, 60), 1);
  const ttl = await redis.ttl(key);
  assert.ok(ttl > 0 && ttl <= 60, `TTL after EXPIRE 60 is ${ttl}`);
  assert.equal(await redis.pexpire(key, 1), 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await redis.get(key), null, 'the key is gone once it expired');
});
