import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getCondition, setCondition, setConditions } from './conditions.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:05:00Z');

test('lastTransitionTime changes only when status flips', () => {
  let c = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Starting', message: 'a' }, 1, t0);
  assert.equal(c[0]?.lastTransitionTime, t0.toISOString());
  c = setCondition(c, { type: 'Ready', status: 'False', reason: 'Waiting', message: 'b' }, 2, t1);
  assert.equal(c[0]?.lastTransitionTime, t0.toISOString(), 'same status keeps the time');
  assert.equal(c[0]?.reason, 'Waiting');
  assert.equal(c[0]?.observedGeneration, 2);
  c = setCondition(c, { type: 'Ready', status: 'True', reason: 'Running', message: 'c' }, 2, t1);
  assert.equal(c[0]?.lastTransitionTime, t1.toISOString());
  assert.equal(c.length, 1);
});

test('setConditions keeps one entry per type and does not mutate its input', () => {
  const before = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'R', message: '' }, 1, t0);
  const after = setConditions(
    before,
    [
      { type: 'SchemaSynced', status: 'True', reason: 'Described', message: '' },
      { type: 'Ready', status: 'False', reason: 'X', message: '' },
    ],
    1,
    t1,
  );
  assert.equal(before[0]?.status, 'True');
  assert.deepEqual(
    after.map((c) => c.type),
    ['Ready', 'SchemaSynced'],
  );
  assert.equal(getCondition(after, 'Ready')?.status, 'False');
  assert.equal(getCondition(after, 'Degraded'), undefined);
});
