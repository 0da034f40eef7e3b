// The fence of merged loads (batch.merge_partitions, DESIGN §3) on the real Redis and the Doris
// emulator's 2PC: a load merging several partitions is recorded only while every partition is its
// owner's, pre-commits, and commits only after a Redis step re-checked the owners and recorded
// 'commit'. A new owner's claim before that step makes it abort and the new owner re-load its part
// under the partition's own label; a claim after it finds 'commit' and commits the load itself.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { offsetDisposition } from '../../../sinker/dedupe/state.ts';
import { DedupeStore } from '../../../sinker/dedupe/store.ts';
import { testbed } from '../../support/testbed.ts';
import { closeStorage, emulator, freshTable, storedRows } from '../writer/emulator.ts';
import { closeWriters, csvBatch, expected, publishedSoon, SINK, writerFor } from '../writer/harness.ts';
import { merged, settle } from './merged-harness.ts';

const PREFIX = `it-merged-${randomUUID().slice(0, 8)}:`;
const stores: DedupeStore[] = [];

async function openStore(): Promise<DedupeStore> {
  const store = new DedupeStore({
    config: { redis_url: testbed('REDIS_URL'), required: true, key_prefix: PREFIX, key_fields: [], ttl: 60 },
    sink: SINK,
    topic: 'events',
  });
  try {
    await store.connect();
  } catch (e) {
    throw new Error(`Redis of the test bed is not reachable: run \`test/infra/up redis\` (${(e as Error).message})`);
  }
  stores.push(store);
  return store;
}

before(async () => {
  await emulator();
});

after(async () => {
  const admin = new Redis(testbed('REDIS_URL'));
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
  for (const s of stores) await s.close();
  await closeWriters();
  await closeStorage();
});

test('a partition claimed before the decision: the merged load aborts, the new owner re-loads its part alone', async () => {
  const table = await freshTable('wmerge1');
  const { w } = await writerFor(table);
  const zombie = await openStore();
  const owner = await openStore();
  const b0 = csvBatch(['a', 'b', 'c'], 0, 0);
  const b1 = csvBatch(['d', 'e'], 10, 1);
  for (const p of [0, 1]) await zombie.claim(p, 'zombie');
  const { label, entries } = merged([b0, b1], 'zombie');
  assert.equal(await zombie.recordMerged(entries), -1);
  const pre = await w.precommit([b0, b1], label);
  assert.equal(pre.kind, 'precommitted');
  assert.deepEqual(await storedRows(table), [], 'pre-committed rows are not visible');

  // The zombie loses partition 0 while its load sits pre-committed.
  await owner.claim(0, 'owner');
  const plan = await settle(owner, w, 0);
  assert.equal(plan.seekOffset, '0');
  const hole = offsetDisposition('1', plan);
  assert.equal(hole.kind, 'reload');
  assert.equal(hole.kind === 'reload' && hole.intent.label, w.labelOf(b0), 'its part re-loads under its own label');
  assert.equal(hole.kind === 'reload' && hole.intent.last, b0.lastOffset);
  assert.equal(await w.labelState(label), 'ABORTED', 'the settle aborted the undecided txn');

  // The zombie's decision step sees the claim: abort. Not recorded (it would stay for good): asked
  // again, the claim still answers it.
  assert.equal(await zombie.decideMerged(label, entries), 0);
  assert.equal(await owner.mergedDecision(label), null);
  assert.equal(await zombie.decideMerged(label, entries), 0);
  // A fenced zombie cannot record a new merged load either (and records nothing of it).
  const again = merged([b0, csvBatch(['f'], 20, 1)], 'zombie');
  assert.equal(await zombie.recordMerged(again.entries), 0);
  assert.deepEqual(
    (await owner.partitionState(1)).intents.map((i) => i.first),
    ['10'],
  );

  // The new owner re-loads partition 0's part; the zombie loads the part still its own alone.
  await w.load(b0, { label: w.labelOf(b0) });
  await owner.complete(0, { first: b0.firstOffset, last: b0.lastOffset });
  await w.load(b1);
  await zombie.complete(1, { first: b1.firstOffset, last: b1.lastOffset });
  assert.deepEqual(
    (await storedRows(table)).sort(),
    [...expected(['a', 'b', 'c'], 0), ...expected(['d', 'e'], 10)].sort(),
  );
});

test('a partition claimed after the decision: whoever settles a part commits the load; each part completes once', async () => {
  const table = await freshTable('wmerge2');
  const { w } = await writerFor(table);
  const crashed = await openStore();
  const owner = await openStore();
  const b2 = csvBatch(['g', 'h'], 100, 2);
  const b3 = csvBatch(['i'], 50, 3);
  for (const p of [2, 3]) await crashed.claim(p, 'crashed');
  const { label, entries } = merged([b2, b3], 'crashed');
  assert.equal(await crashed.recordMerged(entries), -1);
  assert.equal((await w.precommit([b2, b3], label)).kind, 'precommitted');
  assert.equal(await crashed.decideMerged(label, entries), -1);
  // ... and the process dies before its commit.

  await owner.claim(2, 'owner');
  const plan2 = await settle(owner, w, 2);
  await publishedSoon(w, label); // the settle committed the decided txn
  assert.deepEqual([plan2.watermark, plan2.seekOffset, plan2.reload.length], ['101', '102', 0]);
  await owner.claim(3, 'owner');
  const plan3 = await settle(owner, w, 3);
  assert.deepEqual([plan3.watermark, plan3.seekOffset, plan3.reload.length], ['50', '51', 0]);
  assert.deepEqual((await storedRows(table)).sort(), [...expected(['g', 'h'], 100), ...expected(['i'], 50)].sort());
  // Both parts completed, the decision is gone (test/integration/sinker/merged-decisions.test.ts):
  // a late decision step of the crashed run answers abort, and its partitions are both claimed.
  assert.equal(await owner.mergedDecision(label), null);
  assert.equal(await crashed.decideMerged(label, entries), 0);
});

test('a committed merged load completes in one step: every watermark raised, its intents and decision gone', async () => {
  const table = await freshTable('wmerge3');
  const { w } = await writerFor(table);
  const store = await openStore();
  const b4 = csvBatch(['j', 'k'], 7, 4);
  const b5 = csvBatch(['l'], 3, 5);
  for (const p of [4, 5]) await store.claim(p, 'run');
  await store.complete(5, { first: '0', last: '9' }); // partition 5 already ahead: never lowered
  const { label, entries } = merged([b4, b5], 'run');
  assert.equal(await store.recordMerged(entries), -1);
  assert.equal((await w.precommit([b4, b5], label)).kind, 'precommitted');
  assert.equal(await store.decideMerged(label, entries), -1);
  await w.commitPrecommitted(label);
  await publishedSoon(w, label);
  await store.completeMerged(
    label,
    [b4, b5].map((b) => ({ partition: b.partition, first: b.firstOffset, last: b.lastOffset })),
  );
  assert.deepEqual(await store.partitionState(4), { watermark: '8', intents: [] });
  assert.deepEqual(await store.partitionState(5), { watermark: '9', intents: [] });
  assert.equal(await store.mergedDecision(label), null);
  assert.deepEqual((await storedRows(table)).sort(), [...expected(['l'], 3), ...expected(['j', 'k'], 7)].sort());
});
