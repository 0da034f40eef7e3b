import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type EventKind, takeEvents } from '../support/events.ts';

test('the same seed gives the same messages; ids increase by one', () => {
  const a = takeEvents({ seed: 7, mix: 'dirty' }, 500);
  const b = takeEvents({ seed: 7, mix: 'dirty' }, 500);
  assert.deepEqual(
    a.map((e) => e.value),
    b.map((e) => e.value),
  );
  assert.notDeepEqual(
    a.map((e) => e.value),
    takeEvents({ seed: 8, mix: 'dirty' }, 500).map((e) => e.value),
  );
  for (const [i, e] of a.entries()) assert.equal(e.id, BigInt(i + 1));
});

test('clean mix: every message is valid JSON of about 1 KiB with the required fields', () => {
  const events = takeEvents({ seed: 1, mix: 'clean' }, 2000);
  let bytes = 0;
  for (const e of events) {
    const obj = JSON.parse(e.value);
    for (const k of ['id', 'integration_id', 'arrive_time', 'event_time']) assert.ok(k in obj, `${k} in ${e.value}`);
    assert.equal(e.kind, 'clean');
    bytes += Buffer.byteLength(e.value);
  }
  const avg = bytes / events.length;
  assert.ok(avg > 700 && avg < 1400, `average size ${avg}`);
  // DECIMAL(18,4) goes out as a bare number token with its four decimals intact.
  assert.match(events[0]!.value, /"amount":\d+\.\d{4}[,}]/);
});

test('dirty mix: each kind appears near its WORKLOAD.md share, tricky strings included', () => {
  const n = 100_000;
  const counts = new Map<EventKind, number>();
  let tricky = 0;
  for (const e of takeEvents({ seed: 3, mix: 'dirty' }, n)) {
    counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
    if (e.kind === 'invalid_json') assert.throws(() => JSON.parse(e.value));
    else JSON.parse(e.value);
    if (/\\u0001|🚀|中文|\\t|\\n/.test(e.value)) tricky++;
  }
  const share = (k: EventKind) => (counts.get(k) ?? 0) / n;
  assert.ok(Math.abs(share('missing_required') - 0.05) < 0.005, `missing ${share('missing_required')}`);
  assert.ok(Math.abs(share('extra_fields') - 0.02) < 0.003);
  assert.ok(Math.abs(share('number_as_string') - 0.01) < 0.002);
  assert.ok(Math.abs(share('wrong_type') - 0.005) < 0.0015);
  assert.ok(share('invalid_json') > 0.0005 && share('invalid_json') < 0.002);
  assert.ok(tricky > n * 0.1, `tricky strings in ${tricky} messages`);
});

test('ids past 2^53 are written digit for digit', () => {
  const [e] = takeEvents({ seed: 1, mix: 'clean', firstId: 9007199254740993n }, 1);
  assert.match(e!.value, /^\{"id":9007199254740993,/);
});
