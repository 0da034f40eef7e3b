import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorLogForm, FaultRegistry } from './faults.ts';

test('faults fire for the next N matching requests, by label pattern and table, then disarm', () => {
  const f = new FaultRegistry();
  f.add({ type: 'too_many_versions', count: 2 });
  f.add({ type: 'publish_timeout', label: '^pt-', table: 'tb' });
  assert.equal(f.take(['publish_timeout'], 'other', 'tb'), undefined);
  assert.equal(f.take(['publish_timeout'], 'pt-1', 'nope'), undefined);
  assert.equal(f.take(['publish_timeout'], 'pt-1', 'tb')?.type, 'publish_timeout');
  assert.equal(f.take(['publish_timeout'], 'pt-2', 'tb'), undefined);
  assert.equal(f.take(['too_many_versions'], 'a')?.remaining, 1);
  assert.equal(f.take(['too_many_versions'], 'b')?.remaining, 0);
  assert.equal(f.take(['too_many_versions'], 'c'), undefined);
  assert.deepEqual(f.firedByType, { publish_timeout: 1, too_many_versions: 2 });
  assert.throws(() => f.add({ type: 'nope' as never }), /unknown fault type "nope"/);
  f.add({ type: 'too_many_versions', durationMs: 10_000 });
  for (let i = 0; i < 5; i++)
    assert.ok(f.take(['too_many_versions'], 'x'), 'a duration fault fires any number of times');
  f.add({ type: 'txn_quota', durationMs: -1 });
  assert.equal(f.take(['txn_quota'], 'x'), undefined, 'expired windows disarm');
  assert.throws(() => f.add({ type: 'http_error', label: '(' }), /Invalid regular expression/);
});

test('errorLogForm: the stop line in place of entry 51, a Summary line, lines cut at limitBytes', () => {
  const lines = Array.from({ length: 51 }, (_, i) => `Reason: bad ${i}. src line [${i}]; `);
  const stopped = errorLogForm(lines, { form: 'too_much_error' });
  assert.equal(stopped.length, 51);
  assert.equal(stopped[49], 'Reason: bad 49. src line [49]; ');
  assert.equal(stopped[50], 'TOO MUCH ERROR! already reach 50. show no more next error.');
  assert.deepEqual(errorLogForm(lines.slice(0, 3), { form: 'too_much_error' }), lines.slice(0, 3), 'fewer: unchanged');
  assert.deepEqual(errorLogForm(['Reason: x. src line [1]; '], { form: 'summary', msg: 'm' }), [
    'Reason: x. src line [1]; ',
    'Summary: m',
  ]);
  assert.deepEqual(errorLogForm(['Reason: x. src line [123456]; ', 'Reason: y'], { limitBytes: 12 }), [
    'Reason: x. serror log is too long',
    'Reason: y',
  ]);
});
