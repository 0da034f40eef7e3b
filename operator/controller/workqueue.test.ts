import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkQueue } from './workqueue.ts';

test('keys are de-duplicated while queued', async () => {
  const q = new WorkQueue();
  q.add('a/x');
  q.add('a/x');
  q.add('a/y');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a/x');
  assert.equal(await q.get(), 'a/y');
  assert.equal(q.len(), 0);
});

test('a key re-added while processing runs once more afterwards, never concurrently', async () => {
  const q = new WorkQueue();
  q.add('k');
  const k = await q.get();
  q.add('k');
  q.add('k');
  assert.equal(q.len(), 0, 'not queued while processing');
  q.done(k as string);
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), 'k');
  q.done('k');
  assert.equal(q.len(), 0);
});

test('a waiting get receives the next add', async () => {
  const q = new WorkQueue();
  const p = q.get();
  q.add('late');
  assert.equal(await p, 'late');
  q.add('late');
  assert.equal(q.len(), 0, 'in processing: marked dirty, not queued');
  q.done('late');
  assert.equal(await q.get(), 'late');
});

test('per-key exponential backoff, forget resets it', () => {
  const q = new WorkQueue({ baseDelayMs: 5, maxDelayMs: 1000, burst: 1000 });
  assert.equal(q.addRateLimited('k'), 5);
  assert.equal(q.addRateLimited('k'), 10);
  assert.equal(q.addRateLimited('k'), 20);
  for (let i = 0; i < 10; i++) q.addRateLimited('k');
  assert.equal(q.addRateLimited('k'), 1000, 'capped');
  assert.equal(q.addRateLimited('other'), 5, 'per key');
  q.forget('k');
  assert.equal(q.failures('k'), 0);
  assert.equal(q.addRateLimited('k'), 5);
  q.shutdown();
});

test('global bucket limits rate-limited adds across keys', () => {
  let now = 0;
  const q = new WorkQueue({ baseDelayMs: 1, qps: 10, burst: 2, now: () => now });
  assert.equal(q.addRateLimited('a'), 1);
  assert.equal(q.addRateLimited('b'), 1);
  assert.equal(Math.round(q.addRateLimited('c')), 100, 'bucket empty: 1/qps');
  now = 1000;
  assert.equal(q.addRateLimited('d'), 1, 'refilled');
  q.shutdown();
});

test('addAfter delivers later and keeps the earliest schedule', async () => {
  const q = new WorkQueue();
  q.addAfter('k', 200);
  q.addAfter('k', 20);
  assert.equal(q.len(), 0);
  await sleep(60);
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), 'k');
  q.done('k');
  await sleep(200);
  assert.equal(q.len(), 0, 'the later schedule was dropped');
  q.shutdown();
  assert.equal(await q.get(), undefined);
});
