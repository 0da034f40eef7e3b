// Crash recovery end to end on the real Redis and the Doris emulator: intents recorded before
// loads, a "crash" between the load and the watermark update, then settling the partition by the
// labels' real states (DESIGN §3 points 1 and 2).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { settlePartition } from '../../../sinker/dedupe/settle.ts';
import { offsetDisposition } from '../../../sinker/dedupe/state.ts';
import { DedupeStore } from '../../../sinker/dedupe/store.ts';
import { testbed } from '../../support/testbed.ts';
import { armFault, closeStorage, disarmFault, emulator, freshTable, storedRows } from '../writer/emulator.ts';
import { closeWriters, csvBatch, expected, SINK, writerFor } from '../writer/harness.ts';

const PREFIX = `it-settle-${randomUUID().slice(0, 8)}:`;
let table: string;
let store: DedupeStore;

before(async () => {
  await emulator();
  table = await freshTable('wsettle');
  store = new DedupeStore({
    config: { redis_url: testbed('REDIS_URL'), required: true, key_prefix: PREFIX, key_fields: [], ttl: 60 },
    sink: SINK,
    topic: 'events',
  });
  try {
    await store.connect();
  } catch (e) {
    throw new Error(`Redis of the test bed is not reachable: run \`test/infra/up redis\` (${(e as Error).message})`);
  }
});

after(async () => {
  const admin = new Redis(testbed('REDIS_URL'));
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
  await store.close();
  await closeWriters();
  await closeStorage();
});

test('crash after the load, before the watermark: settling completes it, nothing is loaded twice', async () => {
  const { w } = await writerFor(table);
  const names = ['a', 'b', 'c'];
  // Batch 0..2 loads and completes; batch 3..5 loads but the process "dies" before complete();
  // batch 6..8 was about to load (intent recorded) and never sent.
  const b0 = csvBatch(names, 0);
  const b1 = csvBatch(names, 3);
  const b2 = csvBatch(names, 6);
  for (const b of [b0, b1, b2]) {
    await store.recordIntent(0, { label: w.labelOf(b), first: b.firstOffset, last: b.lastOffset, created: Date.now() });
  }
  await w.load(b0);
  await store.complete(0, { first: b0.firstOffset, last: b0.lastOffset });
  // The lost reply: Doris committed, the client saw a dropped connection.
  await armFault({ type: 'commit_then_drop', label: `^${w.labelOf(b1)}$` });
  await w.load(b1).catch(() => undefined);

  const plan = await settlePartition({
    store,
    partition: 0,
    committed: '3',
    labelState: (label) => w.labelState(label),
    pollMs: 20,
  });
  assert.equal(plan.watermark, '5', 'the committed batch advanced the watermark by its label');
  assert.equal(plan.seekOffset, '6');
  // The never-sent intent is re-loaded with its exact range and label, as its first owner would.
  assert.deepEqual(
    plan.reload.map((r) => r.intent.label),
    [w.labelOf(b2)],
  );
  assert.equal(offsetDisposition('4', plan).kind, 'skip');
  assert.equal(offsetDisposition('6', plan).kind, 'reload');
  const state = await store.partitionState(0);
  assert.equal(state.watermark, '5');
  assert.deepEqual(
    state.intents.map((i) => i.first),
    ['6'],
  );

  // Resuming at 6 loads the last batch once; re-sending b1 would be refused by its label anyway.
  const again = await w.load(b1);
  assert.equal(again.status, 'already-loaded');
  await w.load(b2);
  assert.deepEqual(await storedRows(table), [...expected(names, 0), ...expected(names, 3), ...expected(names, 6)]);
});

test('a hole below the watermark (later batch finished first) is reloaded with its own label', async () => {
  const t = await freshTable('whole');
  const { w } = await writerFor(t);
  const names = ['x', 'y'];
  const b0 = csvBatch(names, 100, 1);
  const b1 = csvBatch(names, 102, 1);
  for (const b of [b0, b1]) {
    await store.recordIntent(1, { label: w.labelOf(b), first: b.firstOffset, last: b.lastOffset, created: Date.now() });
  }
  // b1 finishes; b0 fails for good in this process (too many versions beyond max_retries), then the process dies.
  await w.load(b1);
  await store.complete(1, { first: b1.firstOffset, last: b1.lastOffset });
  const fault = await armFault({ type: 'too_many_versions', label: `^${w.labelOf(b0)}$`, count: 10 });
  const { w: impatient } = await writerFor(t, { max_retries: 0 });
  await assert.rejects(impatient.load(b0));

  const plan = await settlePartition({
    store,
    partition: 1,
    committed: null,
    labelState: (l) => w.labelState(l),
    pollMs: 20,
  });
  assert.equal(plan.watermark, '103');
  assert.equal(plan.seekOffset, '100');
  const hole = offsetDisposition('100', plan);
  assert.equal(hole.kind, 'reload');
  assert.equal(hole.kind === 'reload' && hole.intent.label, w.labelOf(b0));
  assert.equal(offsetDisposition('102', plan).kind, 'skip');
  // Doris recovers (compaction caught up); the restarted sinker reloads the hole.
  await disarmFault(fault.id);
  const r = await w.load(b0, { label: hole.kind === 'reload' ? hole.intent.label : '' });
  assert.equal(r.status, 'loaded');
  assert.equal(
    await store.complete(1, { first: b0.firstOffset, last: b0.lastOffset }),
    '103',
    'the watermark is not lowered',
  );
  assert.deepEqual(await store.partitionState(1), { watermark: '103', intents: [] });
  assert.deepEqual(await storedRows(t), [...expected(names, 100), ...expected(names, 102)]);
});
