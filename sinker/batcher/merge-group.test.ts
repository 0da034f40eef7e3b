import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadBatch } from '../batch.ts';
import { takeMergeGroup } from './merge-group.ts';

const batch = (partition: number, rows: number, bytesPerRow = 10, exact = false): LoadBatch => ({
  topic: 't',
  partition,
  firstOffset: '0',
  lastOffset: String(Math.max(0, rows - 1)),
  rows: [],
  rowOffsets: Array.from({ length: rows }, (_, i) => String(i)),
  bytes: rows * bytesPerRow,
  ...(exact ? { exact } : {}),
});
const LIMITS = { maxRows: 100, maxBytes: 10_000 };
const parts = (g: LoadBatch[]) => g.map((b) => b.partition);

test('batches of distinct partitions merge in queue order; a second batch of a partition waits', () => {
  const q = [batch(0, 10), batch(1, 10), batch(0, 10), batch(2, 10)];
  assert.deepEqual(parts(takeMergeGroup(q, LIMITS)), [0, 1, 2]);
  assert.deepEqual(parts(q), [0]);
  assert.deepEqual(parts(takeMergeGroup(q, LIMITS)), [0]);
  assert.deepEqual(takeMergeGroup(q, LIMITS), []);
});

test('the sum stays within max_batch_rows and max_batch_size (one delimiter byte per row counted)', () => {
  const q = [batch(0, 60), batch(1, 50), batch(2, 40)];
  assert.deepEqual(parts(takeMergeGroup(q, LIMITS)), [0, 2], 'rows: 60 + 50 > 100, 60 + 40 fits');
  const big = [batch(0, 10, 499), batch(1, 10, 500), batch(2, 1, 9)];
  // 10 × 499 + 10 = 5,000; + 10 × 500 + 10 = 10,010 > 10,000; + 1 × 9 + 1 = 5,010
  assert.deepEqual(parts(takeMergeGroup(big, LIMITS)), [0, 2]);
});

test('a batch passed over (too big to fit, exact, or empty) keeps every later batch of its partition out', () => {
  // p1's oldest batch does not fit; its next one would, but must not load before it (no intent
  // would cover the older one while the newer one raises the watermark).
  const q = [
    batch(0, 60),
    batch(1, 50),
    batch(1, 5),
    batch(2, 5, 10, true),
    batch(2, 5),
    batch(3, 0),
    batch(3, 5),
    batch(4, 5),
  ];
  assert.deepEqual(parts(takeMergeGroup(q, LIMITS)), [0, 4]);
  assert.deepEqual(parts(q), [1, 1, 2, 2, 3, 3]);
});

test('an exact re-load and a batch without rows always load alone and never join another', () => {
  const q = [batch(0, 5, 10, true), batch(1, 5), batch(2, 0), batch(3, 5, 10, true), batch(4, 5)];
  assert.deepEqual(parts(takeMergeGroup(q, LIMITS)), [0]);
  assert.deepEqual(parts(takeMergeGroup(q, LIMITS)), [1, 4]);
  assert.deepEqual(parts(takeMergeGroup(q, LIMITS)), [2]);
  assert.deepEqual(parts(takeMergeGroup(q, LIMITS)), [3]);
});
