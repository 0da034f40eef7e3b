import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cmpOffset,
  decideIntent,
  decideMergedIntent,
  type Intent,
  LABEL_RETENTION_MS,
  nextOffset,
  offsetDisposition,
  planResume,
  unmergedIntent,
} from './state.ts';

const NOW = 1_800_000_000_000;
const intent = (first: string, last: string, created = NOW - 1000): Intent => ({
  label: `s:t:0:${first}`,
  first,
  last,
  created,
});

test('offsets compare as int64, beyond 2^53', () => {
  assert.equal(cmpOffset('9007199254740993', '9007199254740992'), 1);
  assert.equal(cmpOffset('10', '9'), 1);
  assert.equal(cmpOffset('5', '5'), 0);
  assert.equal(nextOffset('9007199254740992'), '9007199254740993');
});

test('label VISIBLE or COMMITTED → complete (advance the watermark, delete the intent)', () => {
  assert.deepEqual(decideIntent(intent('0', '9'), 'VISIBLE', NOW), { action: 'complete' });
  assert.deepEqual(decideIntent(intent('0', '9'), 'COMMITTED', NOW), { action: 'complete' });
});

test('label ABORTED or UNKNOWN → reload with the same label', () => {
  assert.deepEqual(decideIntent(intent('0', '9'), 'ABORTED', NOW), { action: 'reload' });
  assert.deepEqual(decideIntent(intent('0', '9'), 'UNKNOWN', NOW), { action: 'reload' });
});

test('UNKNOWN past the label retention window reloads with a duplicate warning', () => {
  const d = decideIntent(intent('0', '9', NOW - LABEL_RETENTION_MS - 1), 'UNKNOWN', NOW);
  assert.equal(d.action, 'reload');
  assert.match(d.action === 'reload' ? (d.warning ?? '') : '', /older than Doris keeps labels/);
  // ABORTED is certain whatever the age: no warning.
  assert.deepEqual(decideIntent(intent('0', '9', 0), 'ABORTED', NOW), { action: 'reload' });
});

test('label PREPARE → wait; PRECOMMITTED → commit', () => {
  assert.deepEqual(decideIntent(intent('0', '9'), 'PREPARE', NOW), { action: 'wait' });
  assert.deepEqual(decideIntent(intent('0', '9'), 'PRECOMMITTED', NOW), { action: 'commit' });
});

test('resume = max(kafka committed, watermark + 1)', () => {
  assert.equal(planResume('5', '19', []).seekOffset, '20');
  assert.equal(planResume('30', '19', []).seekOffset, '30');
  assert.equal(planResume(null, null, []).seekOffset, '0');
  assert.equal(planResume(null, null, [], '42').seekOffset, '42');
  assert.equal(planResume(null, '9007199254740992', []).seekOffset, '9007199254740993');
});

test('an unsettled intent below the watermark is a hole: seek back and reload exactly it', () => {
  // Batch [0..9] failed while [10..19] succeeded first: watermark 19, intent [0..9] open.
  const hole = intent('0', '9');
  const plan = planResume('0', '19', [hole]);
  assert.equal(plan.seekOffset, '0');
  assert.deepEqual(plan.reload, [{ intent: hole, exact: true }]);
  assert.deepEqual(offsetDisposition('0', plan), { kind: 'reload', intent: hole });
  assert.deepEqual(offsetDisposition('9', plan), { kind: 'reload', intent: hole });
  assert.deepEqual(offsetDisposition('10', plan), { kind: 'skip' });
  assert.deepEqual(offsetDisposition('19', plan), { kind: 'skip' });
  assert.deepEqual(offsetDisposition('20', plan), { kind: 'load' });
});

test('an unsettled intent above the watermark is reloaded with its exact range too (a zombie may still send it)', () => {
  const head = intent('20', '29');
  const plan = planResume('20', '19', [head]);
  assert.equal(plan.seekOffset, '20');
  assert.deepEqual(plan.reload, [{ intent: head, exact: true }]);
  assert.deepEqual(offsetDisposition('20', plan), { kind: 'reload', intent: head });
  assert.deepEqual(offsetDisposition('29', plan), { kind: 'reload', intent: head });
  assert.deepEqual(offsetDisposition('30', plan), { kind: 'load' });
});

test('several holes: seek to the lowest, skip what lies between', () => {
  const a = intent('10', '19');
  const b = intent('30', '39');
  const plan = planResume('50', '49', [b, a]);
  assert.equal(plan.seekOffset, '10');
  assert.deepEqual(
    plan.reload.map((r) => r.intent.first),
    ['10', '30'],
  );
  assert.equal(offsetDisposition('25', plan).kind, 'skip');
  assert.equal(offsetDisposition('35', plan).kind, 'reload');
  assert.equal(offsetDisposition('50', plan).kind, 'load');
});

test('a merged part decided commit settles like a single load: PRECOMMITTED → commit, VISIBLE → complete', () => {
  const m = { ...intent('0', '9'), merged: { parts: [[0, '0', '9'] as [number, string, string]] } };
  assert.deepEqual(decideMergedIntent(m, 'PRECOMMITTED', 'commit', NOW), { action: 'commit' });
  assert.deepEqual(decideMergedIntent(m, 'VISIBLE', 'commit', NOW), { action: 'complete' });
  assert.deepEqual(decideMergedIntent(m, 'PREPARE', 'commit', NOW), { action: 'wait' });
  assert.deepEqual(decideMergedIntent(m, 'ABORTED', 'commit', NOW), { action: 'reload' });
  // unknown to Doris: committed and forgotten (label eviction), unless older than the pre-commit timeout
  assert.deepEqual(decideMergedIntent(m, 'UNKNOWN', 'commit', NOW), { action: 'complete' });
  assert.deepEqual(decideMergedIntent({ ...m, created: NOW - 3600_001 }, 'UNKNOWN', 'commit', NOW), {
    action: 'reload',
  });
});

test('an undecided merged part is never committed: PRECOMMITTED → abort, PREPARE → reload without waiting', () => {
  const m = { ...intent('0', '9'), merged: { parts: [[0, '0', '9'] as [number, string, string]] } };
  for (const decision of [null, 'abort'] as const) {
    assert.deepEqual(decideMergedIntent(m, 'PRECOMMITTED', decision, NOW), { action: 'abort' });
    assert.deepEqual(decideMergedIntent(m, 'PREPARE', decision, NOW), { action: 'reload' });
    assert.deepEqual(decideMergedIntent(m, 'UNKNOWN', decision, NOW), { action: 'reload' });
    assert.deepEqual(decideMergedIntent(m, 'ABORTED', decision, NOW), { action: 'reload' });
    // rows that are in Doris are never loaded twice, decision or not
    assert.deepEqual(decideMergedIntent(m, 'VISIBLE', decision, NOW), { action: 'complete' });
  }
  const old = { ...m, created: NOW - LABEL_RETENTION_MS - 1 };
  assert.match(
    (decideMergedIntent(old, 'UNKNOWN', null, NOW) as { warning?: string }).warning ?? '',
    /older than Doris keeps labels/,
  );
});

test('a merged part re-loads as a single intent: same range, created and keys, its own label', () => {
  const m: Intent = { ...intent('5', '9'), label: 's:t:m2:habc', keys: ['k'], merged: { parts: [[0, '5', '9']] } };
  assert.deepEqual(unmergedIntent(m, 's:t:0:5'), {
    label: 's:t:0:5',
    first: '5',
    last: '9',
    created: m.created,
    keys: ['k'],
  });
});
