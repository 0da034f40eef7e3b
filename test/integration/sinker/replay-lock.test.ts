// One replay of a sink at a time (real Redis): two at once could chunk the same dead letters
// differently and load them twice. The lock is taken, refused to a second run with who holds it,
// renewed while the run lasts, freed at the end, and a killed run's lock expires by itself.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { ReplayState, ReplayStateError } from '../../../sinker/dlq/replay-state.ts';
import { testbed } from '../../support/testbed.ts';

const url = testbed('REDIS_URL');
const admin = new Redis(url, { maxRetriesPerRequest: 1 });
const prefix = `it:replay-lock:${randomUUID().slice(0, 8)}:`;
const states: ReplayState[] = [];

function state(lockTtlMs?: number): ReplayState {
  const s = new ReplayState({ redisUrl: url, keyPrefix: prefix, sink: 'orders', ...(lockTtlMs ? { lockTtlMs } : {}) });
  states.push(s);
  return s;
}

after(async () => {
  for (const s of states) await s.close();
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

test('a second replay of the same sink is refused with who holds the lock; the lock is freed at the end', async () => {
  const a = state();
  const b = state();
  await a.connect();
  await b.connect();
  await a.lock('host-a:1');
  await assert.rejects(
    b.lock('host-b:2'),
    (e: unknown) =>
      e instanceof ReplayStateError &&
      /another replay of sink orders is running \(the replay of host-a:1 started 20\d\d-/.test(e.message),
  );
  await a.close(); // frees it
  await b.lock('host-b:2');
  await b.unlock();
  assert.deepEqual(await admin.keys(`${prefix}*lock*`), [], 'nothing left behind');
});

test("a killed replay's lock expires by itself", async () => {
  const key = `${prefix}{orders}:replay:lock`;
  // what a replay killed mid-run leaves: its lock, no longer renewed
  await admin.set(key, JSON.stringify({ owner: 'host-k:3', since: new Date().toISOString(), token: 'x' }), 'PX', 500);
  const next = state();
  await next.connect();
  await assert.rejects(next.lock('host-n:4'), /the replay of host-k:3 started/);
  await new Promise((r) => setTimeout(r, 700));
  await next.lock('host-n:4');
  await next.unlock();
});

test('a running replay renews its lock past its lifetime, and notices when it lost it', async () => {
  const a = state(600);
  const b = state(600);
  await a.connect();
  await b.connect();
  await a.lock('host-a:5');
  await new Promise((r) => setTimeout(r, 1500)); // 2.5 lifetimes
  await assert.rejects(b.lock('host-b:6'), /another replay of sink orders is running/);
  a.assertLocked();
  // the lock vanishes under it (say Redis was flushed, or the run stalled past its lifetime)
  await admin.del(`${prefix}{orders}:replay:lock`);
  await new Promise((r) => setTimeout(r, 400)); // a renewal or two
  assert.throws(() => a.assertLocked(), /replay lock of sink orders expired while this run held it/);
  await a.unlock();
});
