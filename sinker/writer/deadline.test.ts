import assert from 'node:assert/strict';
import { getEventListeners, once } from 'node:events';
import { test } from 'node:test';
import { deadline } from './deadline.ts';

test('aborts with a TimeoutError once the time is up', async () => {
  const d = deadline(20);
  await once(d.signal, 'abort');
  assert.equal((d.signal.reason as DOMException).name, 'TimeoutError');
  assert.match((d.signal.reason as Error).message, /20 ms/);
});

test("aborts with the parent's reason when the parent aborts first", () => {
  const parent = new AbortController();
  const d = deadline(60_000, parent.signal);
  parent.abort(new Error('stopping'));
  assert.equal(d.signal.aborted, true);
  assert.equal((d.signal.reason as Error).message, 'stopping');
  d.release();
});

test('an already aborted parent gives an aborted signal', () => {
  const parent = new AbortController();
  parent.abort(new Error('gone'));
  const d = deadline(60_000, parent.signal);
  assert.equal(d.signal.aborted, true);
  assert.equal((d.signal.reason as Error).message, 'gone');
  d.release();
});

test('after release neither the timer nor the parent aborts it, and the parent keeps no listener', async () => {
  const parent = new AbortController();
  const d = deadline(10, parent.signal);
  d.release();
  await new Promise((r) => setTimeout(r, 40));
  parent.abort(new Error('later'));
  assert.equal(d.signal.aborted, false);
  const longLived = new AbortController();
  for (let i = 0; i < 100; i++) deadline(60_000, longLived.signal).release();
  assert.equal(getEventListeners(longLived.signal, 'abort').length, 0);
});
