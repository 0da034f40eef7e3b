import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContentDedupe } from './content.ts';
import { DedupeUnavailableError } from './errors.ts';
import { contentKey } from './keys.ts';

function fakeStore(seenKeys: Set<string>, fail = false) {
  return {
    calls: 0,
    async seen(keys: readonly string[]): Promise<boolean[]> {
      this.calls++;
      if (fail) throw new DedupeUnavailableError('seen', new Error('ECONNREFUSED'));
      return keys.map((k) => seenKeys.has(k));
    },
  };
}

test('keys seen in Redis, pending in an unsettled batch, or repeated in the call are duplicates', async () => {
  const store = fakeStore(new Set(['r']));
  const d = new ContentDedupe(store);
  assert.deepEqual(await d.admit(['r', 'a', 'a', 'b']), [true, false, true, false]);
  assert.deepEqual(await d.admit(['a', 'c']), [true, false]);
  assert.equal(d.pendingCount, 3);
  d.settle(['a']);
  // Settled without Redis knowing (e.g. dead-lettered): admitted again.
  assert.deepEqual(await d.admit(['a']), [false]);
  d.release(['a', 'b', 'c']);
  assert.equal(d.pendingCount, 0);
});

test('Redis unavailable: admit rejects and nothing becomes pending', async () => {
  const d = new ContentDedupe(fakeStore(new Set(), true));
  await assert.rejects(d.admit(['x']), DedupeUnavailableError);
  assert.equal(d.pendingCount, 0);
});

test('contentKey is stable, short and unambiguous', () => {
  assert.equal(contentKey(['1', 'a']), contentKey(['1', 'a']));
  assert.notEqual(contentKey(['1', 'a']), contentKey(['1a']));
  assert.notEqual(contentKey(['1,', 'a']), contentKey(['1', ',a']));
  assert.notEqual(contentKey([null]), contentKey(['null']));
  assert.equal(contentKey([undefined]), contentKey([null]));
  assert.ok(contentKey(['x'.repeat(10000)]).length <= 28);
});
