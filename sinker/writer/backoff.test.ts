import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, sleep } from './backoff.ts';

test('backoff grows exponentially up to the cap, with full jitter', () => {
  const p = { baseMs: 100, capMs: 1000 };
  assert.equal(
    backoffDelay(0, p, () => 0.999999),
    99,
  );
  assert.equal(
    backoffDelay(3, p, () => 0.5),
    400,
  );
  assert.equal(
    backoffDelay(10, p, () => 0.999999),
    999,
  );
  assert.equal(
    backoffDelay(50, p, () => 0),
    0,
  );
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2, p);
    assert.ok(d >= 0 && d < 400, String(d));
  }
});

test('sleep ends early when aborted', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 10);
  await sleep(5000, ac.signal);
  assert.ok(Date.now() - t0 < 1000);
});
