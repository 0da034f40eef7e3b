import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommitTracker } from './commit-tracker.ts';

test('commits only the contiguous settled prefix, whatever order batches settle in', () => {
  const t = new CommitTracker();
  t.register('0', '9');
  t.register('10', '19');
  t.register('20', '29');
  assert.equal(t.committable, null);
  assert.equal(t.settle('20'), null, 'a later batch finishing first does not move the commit');
  assert.equal(t.settle('10'), null, 'still blocked by the first batch');
  assert.equal(t.committable, null);
  assert.equal(t.settle('0'), '30', 'the first batch unblocks all three');
  assert.equal(t.pending, 0);
});

test('advances step by step and tolerates offset gaps between batches', () => {
  const t = new CommitTracker('100');
  assert.equal(t.committable, '100');
  t.register('100', '104');
  t.register('110', '110'); // gap: compacted offsets or a transaction marker
  t.register('200', '250');
  assert.equal(t.settle('100'), '105');
  assert.equal(t.settle('200'), null);
  assert.equal(t.committable, '105');
  assert.equal(t.settle('110'), '251');
});

test('int64 offsets beyond 2^53 stay exact', () => {
  const t = new CommitTracker();
  t.register('9007199254740993', '9007199254740999');
  assert.equal(t.settle('9007199254740993'), '9007199254741000');
});

test('rejects overlapping or unknown ranges', () => {
  const t = new CommitTracker();
  t.register('0', '9');
  assert.throws(() => t.register('5', '12'), /overlaps or precedes/);
  assert.throws(() => t.register('12', '11'), /reversed/);
  assert.throws(() => t.settle('3'), /no pending batch starts at offset 3/);
  t.settle('0');
  assert.throws(() => t.settle('0'), /no pending batch/);
});

test('a long run of batches settled in random order ends at the last offset', () => {
  const t = new CommitTracker();
  const firsts: string[] = [];
  for (let i = 0; i < 3000; i++) {
    t.register(String(i * 10), String(i * 10 + 9));
    firsts.push(String(i * 10));
  }
  let seed = 12345;
  for (let i = firsts.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [firsts[i], firsts[j]] = [firsts[j]!, firsts[i]!];
  }
  let last = -1;
  const settled = new Set<number>();
  for (const f of firsts) {
    settled.add(Number(f) / 10);
    const c = t.settle(f);
    // the commit point is always the end of the longest settled prefix
    let prefix = 0;
    while (settled.has(prefix)) prefix++;
    if (c !== null) {
      assert.equal(Number(c), prefix * 10);
      assert.ok(Number(c) > last);
      last = Number(c);
    } else assert.equal(prefix * 10, Math.max(last, 0));
  }
  assert.equal(t.committable, '30000');
});

test('covered ranges are dropped as it goes: memory stays bounded over a long run', () => {
  const t = new CommitTracker('0');
  let maxHeld = 0;
  for (let i = 0; i < 10_000; i++) {
    t.register(String(i * 10), String(i * 10 + 9));
    assert.equal(t.settle(String(i * 10)), String(i * 10 + 10));
    maxHeld = Math.max(maxHeld, t.held);
  }
  assert.ok(maxHeld <= 130, `held up to ${maxHeld} ranges`);
  assert.equal(t.pending, 0);
});
