// How long a merged load's decision (`…:decided`, batch.merge_partitions) stays in Redis, on the real
// Redis (the Lua steps) and the Doris emulator's 2PC: only while a part of the load can still ask
// for it. A load its parts' settles complete, one Doris aborted before its commit, and one fenced
// before its decision leave no entry behind; before, each of them left one for good.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { DedupeStore, PartitionFencedError } from '../../../sinker/dedupe/store.ts';
import { testbed } from '../../support/testbed.ts';
import { merged, settle } from '../dedupe/merged-harness.ts';
import { closeStorage, emulator, freshTable, storedRows } from '../writer/emulator.ts';
import { closeWriters, csvBatch, expected, publishedSoon, SINK, writerFor } from '../writer/harness.ts';

const PREFIX = `it-decided-${randomUUID().slice(0, 8)}:`;
const stores: DedupeStore[] = [];
const redis = new Redis(testbed('REDIS_URL'));

async function openStore(): Promise<DedupeStore> {
  const store = new DedupeStore({
    config: { redis_url: testbed('REDIS_URL'), required: true, key_prefix: PREFIX, key_fields: [], ttl: 60 },
    sink: SINK,
    topic: 'events',
  });
  await store.connect();
  stores.push(store);
  return store;
}

before(async () => {
  await emulator();
});

after(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  for (const s of stores) await s.close();
  await closeWriters();
  await closeStorage();
});

/** Whether Redis holds a decision for `label` (whatever its value). */
async function decided(store: DedupeStore, label: string): Promise<boolean> {
  return (await redis.hexists(store.keys.decisions, label)) === 1;
}

test('a merged load completed by its parts settles: the last one completed deletes the decision', async () => {
  const table = await freshTable('wdecided1');
  const { w } = await writerFor(table);
  const crashed = await openStore();
  const owner = await openStore();
  const b0 = csvBatch(['a', 'b'], 100, 0);
  const b1 = csvBatch(['c'], 50, 1);
  for (const p of [0, 1]) await crashed.claim(p, 'crashed');
  const { label, entries } = merged([b0, b1], 'crashed');
  assert.equal(await crashed.recordMerged(entries), -1);
  assert.equal((await w.precommit([b0, b1], label)).kind, 'precommitted');
  assert.equal(await crashed.decideMerged(label, entries), -1);
  // ... and the process dies before its commit.

  await owner.claim(0, 'owner');
  await settle(owner, w, 0);
  await publishedSoon(w, label);
  // Partition 1's part is still open: whoever settles it needs the decision.
  assert.equal(await decided(owner, label), true);
  await owner.claim(1, 'owner');
  const plan1 = await settle(owner, w, 1);
  assert.deepEqual([plan1.watermark, plan1.reload.length], ['50', 0]);
  assert.equal(await decided(owner, label), false, 'the decision outlived every part of its load');
  assert.deepEqual((await storedRows(table)).sort(), [...expected(['a', 'b'], 100), ...expected(['c'], 50)].sort());

  // The crashed run's late decision step (a zombie) now answers abort, and harmlessly: every
  // partition of the load was claimed, so it can record no load of its own.
  assert.equal(await crashed.decideMerged(label, entries), 0);
  await assert.rejects(
    crashed.recordIntent(1, { label: 'x', first: '50', last: '50', created: 0 }, 'crashed'),
    PartitionFencedError,
  );
  assert.equal(await decided(owner, label), false);
});

test('a merged load fenced before its decision records none', async () => {
  const table = await freshTable('wdecided2');
  const { w } = await writerFor(table);
  const zombie = await openStore();
  const owner = await openStore();
  const b2 = csvBatch(['d'], 0, 2);
  const b3 = csvBatch(['e'], 0, 3);
  for (const p of [2, 3]) await zombie.claim(p, 'zombie');
  const { label, entries } = merged([b2, b3], 'zombie');
  assert.equal(await zombie.recordMerged(entries), -1);
  assert.equal((await w.precommit([b2, b3], label)).kind, 'precommitted');
  await owner.claim(3, 'owner');
  assert.equal(await zombie.decideMerged(label, entries), 1);
  assert.equal(await zombie.mergedDecision(label), null);
  // Asked again (its reply lost), the answer is the same: the claim stands.
  assert.equal(await zombie.decideMerged(label, entries), 1);
  assert.equal(await decided(owner, label), false);
});

test('a merged load decided commit that Doris aborted first: the settle re-loads its part and deletes the decision', async () => {
  const table = await freshTable('wdecided3');
  const { w } = await writerFor(table);
  const crashed = await openStore();
  const owner = await openStore();
  const b4 = csvBatch(['f'], 10, 4);
  const b5 = csvBatch(['g'], 20, 5);
  for (const p of [4, 5]) await crashed.claim(p, 'crashed');
  const { label, entries } = merged([b4, b5], 'crashed');
  assert.equal(await crashed.recordMerged(entries), -1);
  assert.equal((await w.precommit([b4, b5], label)).kind, 'precommitted');
  assert.equal(await crashed.decideMerged(label, entries), -1);
  // The pre-commit timeout passes before anyone commits it: Doris aborts the txn.
  await w.abortPrecommitted(label);
  assert.equal(await w.labelState(label), 'ABORTED');

  await owner.claim(4, 'owner');
  const plan = await settle(owner, w, 4);
  assert.deepEqual(
    plan.reload.map((r) => [r.intent.label, r.intent.first, r.intent.last]),
    [[w.labelOf(b4), '10', '10']],
  );
  // Kept, a settle of partition 5 finding the label forgotten by Doris would read 'commit' as
  // "committed, then forgotten" and skip the part.
  assert.equal(await decided(owner, label), false);
});
