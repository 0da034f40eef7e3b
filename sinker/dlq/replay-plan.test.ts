import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replayLabel } from '../labels.ts';
import {
  chunkOffsets,
  decideByLabelState,
  decideLeftover,
  olderThanLabelRetention,
  parseReplayIntent,
  pendingOffsets,
  planLoads,
  type ReplayIntent,
  sortOffsets,
} from './replay-plan.ts';

test('offsets sort numerically and lose repeats', () => {
  assert.deepEqual(sortOffsets(['30', '9', '100', '9', '20']), ['9', '20', '30', '100']);
  assert.deepEqual(sortOffsets(['9223372036854775807', '9223372036854775806']), [
    '9223372036854775806',
    '9223372036854775807',
  ]);
});

test('chunks keep order and hold at most max rows', () => {
  assert.deepEqual(chunkOffsets(['1', '2', '3', '4', '5'], 2), [['1', '2'], ['3', '4'], ['5']]);
  assert.deepEqual(chunkOffsets([], 3), []);
  assert.deepEqual(chunkOffsets(['1'], 10), [['1']]);
  assert.throws(() => chunkOffsets(['1'], 0), />= 1/);
});

test('planLoads loads only what is neither replayed nor held, labelled from the exact offsets', () => {
  const plan = planLoads({
    sink: 's',
    topic: 't',
    partition: 0,
    loadable: ['30', '5', '9', '20', '41'],
    replayed: new Set(['5', '9']),
    held: new Set(['41']),
    maxRows: 10,
    now: 123,
  });
  assert.deepEqual(plan, [
    { label: replayLabel('s', 't', 0, ['20', '30']), partition: 0, offsets: ['20', '30'], created: 123 },
  ]);
  // The first run's chunk {5, 9} and the second run's {20, 30}: different labels, unlike the old
  // first-offset label, and a third run with nothing new plans nothing.
  assert.notEqual(plan[0]!.label, replayLabel('s', 't', 0, ['5', '9']));
  assert.deepEqual(
    planLoads({
      sink: 's',
      topic: 't',
      partition: 0,
      loadable: ['5', '9'],
      replayed: new Set(['5', '9']),
      maxRows: 10,
      now: 0,
    }),
    [],
  );
});

test('planLoads after --limit: the later run loads the rest under a new label', () => {
  const first = planLoads({
    sink: 's',
    topic: 't',
    partition: 2,
    loadable: ['5'],
    replayed: new Set(),
    maxRows: 10,
    now: 0,
  });
  const second = planLoads({
    sink: 's',
    topic: 't',
    partition: 2,
    loadable: ['5', '9'],
    replayed: new Set(['5']),
    maxRows: 10,
    now: 0,
  });
  assert.deepEqual(
    first.map((i) => i.offsets),
    [['5']],
  );
  assert.deepEqual(
    second.map((i) => i.offsets),
    [['9']],
  );
  assert.notEqual(first[0]!.label, second[0]!.label);
});

test('planLoads labels records Doris refused before with their count: the next attempt never meets the spent label', () => {
  const plan = (refusedBefore?: Map<string, number>) =>
    planLoads({
      sink: 's',
      topic: 't',
      partition: 0,
      loadable: ['9'],
      replayed: new Set(),
      ...(refusedBefore ? { refusedBefore } : {}),
      maxRows: 10,
      now: 0,
    })[0]!.label;
  assert.notEqual(plan(new Map([['9', 1]])), plan());
  assert.equal(plan(new Map([['9', 1]])), replayLabel('s', 't', 0, ['9'], new Map([['9', 1]])));
});

test('planLoads cuts chunks of max rows, each with its own label', () => {
  const plan = planLoads({
    sink: 's',
    topic: 't',
    partition: 1,
    loadable: ['1', '2', '3', '4', '5'],
    replayed: new Set(),
    maxRows: 2,
    now: 0,
  });
  assert.deepEqual(
    plan.map((i) => i.offsets),
    [['1', '2'], ['3', '4'], ['5']],
  );
  assert.equal(new Set(plan.map((i) => i.label)).size, 3);
});

const intent = (over: Partial<ReplayIntent> = {}): ReplayIntent => ({
  label: 'l',
  partition: 0,
  offsets: ['5', '9', '11'],
  created: 0,
  ...over,
});

test('pending offsets leave out what Doris refused', () => {
  assert.deepEqual(pendingOffsets(intent()), ['5', '9', '11']);
  assert.deepEqual(pendingOffsets(intent({ refused: ['11'] })), ['5', '9']);
  assert.deepEqual(pendingOffsets(intent({ refused: ['5', '9', '11'] })), []);
});

test('a leftover intent reloads when every record it carries was read again, else asks Doris', () => {
  const read = new Set(['5', '9']);
  assert.deepEqual(
    decideLeftover(intent(), (o) => read.has(o)),
    { action: 'ask-doris' },
  );
  assert.deepEqual(
    decideLeftover(intent({ refused: ['11'] }), (o) => read.has(o)),
    { action: 'reload' },
  );
  assert.deepEqual(
    decideLeftover(intent({ offsets: ['5'] }), (o) => read.has(o)),
    { action: 'reload' },
  );
});

test("a leftover intent's label state decides it", () => {
  assert.deepEqual(decideByLabelState('VISIBLE'), { action: 'complete' });
  assert.deepEqual(decideByLabelState('COMMITTED'), { action: 'complete' });
  assert.deepEqual(decideByLabelState('PREPARE'), { action: 'wait' });
  assert.deepEqual(decideByLabelState('PRECOMMITTED'), { action: 'wait' });
  assert.deepEqual(decideByLabelState('ABORTED'), { action: 'drop' });
  assert.deepEqual(decideByLabelState('UNKNOWN'), { action: 'drop' });
  assert.equal(olderThanLabelRetention({ created: 0 }, 100, 100), true);
  assert.equal(olderThanLabelRetention({ created: 1 }, 100, 100), false);
});

test('intents read back from Redis are checked', () => {
  const i = intent({ refused: ['11'] });
  assert.deepEqual(parseReplayIntent(JSON.stringify(i), 'k'), i);
  assert.throws(() => parseReplayIntent('{', 'k f'), /k f: replay intent is not JSON/);
  assert.throws(() => parseReplayIntent(JSON.stringify({ ...i, offsets: [5] }), 'k'), /not a replay intent/);
  assert.throws(() => parseReplayIntent(JSON.stringify({ ...i, refused: 'x' }), 'k'), /not a replay intent/);
});
