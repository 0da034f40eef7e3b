import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingCommits } from './pending-commits.ts';

const all = () => true;

test('a failed commit is retried until one at or past it succeeds', () => {
  const p = new PendingCommits();
  p.failed(3, '100');
  assert.deepEqual(p.due(all), [[3, '100']]);
  p.failed(3, '100'); // the retry failed too
  assert.deepEqual(p.due(all), [[3, '100']]);
  p.succeeded(3, '250'); // a later batch's commit covers it
  assert.deepEqual(p.due(all), []);
  assert.equal(p.size, 0);
});

test('never retries an offset below one already committed: Kafka would move the group backwards', () => {
  const p = new PendingCommits();
  // two commits in flight: the newer one lands first, the older one fails afterwards
  p.succeeded(0, '200');
  p.failed(0, '100');
  assert.deepEqual(p.due(all), []);
  // of two failures only the newest is retried
  p.failed(1, '50');
  p.failed(1, '70');
  p.failed(1, '60');
  assert.deepEqual(p.due(all), [[1, '70']]);
  // offsets compare as integers, not text ("100" > "99"), beyond 2^53 too
  p.failed(2, '99');
  p.failed(2, '100');
  p.failed(4, '9007199254740993');
  p.succeeded(4, '9007199254740992');
  assert.deepEqual(p.due(all), [
    [1, '70'],
    [2, '100'],
    [4, '9007199254740993'],
  ]);
});

test('partitions no longer owned are forgotten, and a fresh run starts clean', () => {
  const p = new PendingCommits();
  p.failed(5, '10');
  p.failed(6, '20');
  assert.deepEqual(
    p.due((partition) => partition === 6),
    [[6, '20']],
  );
  assert.equal(p.size, 1);
  p.succeeded(6, '500');
  p.forget(6); // revoked, then assigned again: its old high mark must not block the new run's commits
  p.failed(6, '30');
  assert.deepEqual(p.due(all), [[6, '30']]);
});
