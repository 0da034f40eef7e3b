import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IntentOrder } from './intent-order.ts';

test('a later batch records its intent only after every earlier one has recorded or gone', async () => {
  const o = new IntentOrder();
  for (const first of ['0', '100', '200']) o.add(first);
  assert.equal(o.mayRecord('0'), true);
  assert.equal(o.mayRecord('200'), false);
  const order: string[] = [];
  const later = o.turn('200').then(() => order.push('200'));
  const middle = o.turn('100').then(() => order.push('100'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'both wait for offset 0');
  o.done('0');
  await middle;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['100'], '200 still waits for 100');
  o.done('100'); // e.g. dead-lettered whole: it goes without an intent
  await later;
  assert.deepEqual(order, ['100', '200']);
  o.done('200');
  o.done('200'); // idempotent
  assert.equal(o.size, 0);
});

test('offsets compare as int64 beyond 2^53; an abort releases a waiter', async () => {
  const o = new IntentOrder();
  o.add('9007199254740993');
  o.add('9007199254740994');
  assert.equal(o.mayRecord('9007199254740994'), false);
  const ac = new AbortController();
  const waiting = o.turn('9007199254740994', ac.signal);
  ac.abort();
  await waiting;
  assert.equal(o.mayRecord('9007199254740994'), false, 'the abort released it, not the order');
});
