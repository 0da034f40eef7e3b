// The DLQ topic reader in a consumer group against the test bed's real Kafka: a partition another
// member of the group holds ends the read with an error naming the partition and the group instead
// of waiting for ever; a member joining and leaving mid-read (a rebalance: commits may fail with
// REBALANCE_IN_PROGRESS) loses and repeats no record, and the group's position lands at the end.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { DeadLetterQueue } from '../../../sinker/dlq/dlq.ts';
import { readDlqTopic } from '../../../sinker/dlq/reader.ts';
import type { DlqRecord } from '../../../sinker/dlq/record.ts';
import { createOwnTopics, deleteOwnTopics } from './topics.ts';

const topic = `it-dlq-group-${randomUUID().slice(0, 8)}`;
let kafka: Kafka;
const N = 40;

before(async () => {
  kafka = await createOwnTopics('it-dlq-group', [{ name: topic, partitions: 2 }]);
  const dlq = DeadLetterQueue.fromConfig({ kafka_topic: topic }, kafka);
  const records: DlqRecord[] = Array.from({ length: N }, (_, i) => ({
    sink: 'it',
    topic: 'events',
    partition: i % 3,
    offset: String(100 + i),
    reason: 'bad row',
    time: '2026-11-25T00:00:00.000Z',
    value: Buffer.from(`row ${i}`),
    key: null,
  }));
  await dlq.write(records);
  await dlq.close();
});

after(() => deleteOwnTopics(kafka, [topic]));

/** A member of `group` that holds what it is assigned and reads nothing (paused). */
async function holder(group: string) {
  const c = kafka.consumer({ groupId: group, maxWaitTimeInMs: 250 });
  await c.connect();
  try {
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({ autoCommit: false, eachMessage: async () => {} });
    c.pause([{ topic }]);
  } catch (err) {
    await c.disconnect();
    throw err;
  }
  return c;
}

test('a partition held by another member of the group: the read ends with an error naming it and the group', async () => {
  const group = `it-dlq-held-${randomUUID().slice(0, 8)}`;
  const other = await holder(group);
  try {
    const got: string[] = [];
    await assert.rejects(
      async () => {
        for await (const r of readDlqTopic({ kafka, topic, groupId: group, idleMs: 200, stallMs: 8000 })) {
          got.push(r.offset);
        }
      },
      (err: Error) => {
        assert.equal(err.name, 'DlqReadError', err.stack);
        assert.match(
          err.message,
          new RegExp(
            `^DLQ topic ${topic}: no record from partitions? [01] .*for 8 s: another member of consumer group "${group}" holds them`,
          ),
        );
        return true;
      },
    );
    assert.ok(got.length < N, `read all ${N} records although a partition was held`);
    assert.equal(new Set(got).size, got.length, `a record read twice: ${got.join(' ')}`);
  } finally {
    await other.disconnect();
  }
});

test('a member joining and leaving mid-read: every record once, and the position lands at the end offsets', async () => {
  const group = `it-dlq-rejoin-${randomUUID().slice(0, 8)}`;
  const got: string[] = [];
  let joined = false;
  for await (const r of readDlqTopic({ kafka, topic, groupId: group, idleMs: 200, stallMs: 60_000 })) {
    got.push(r.offset);
    if (!joined && got.length === 5) {
      joined = true;
      // A member joins (a rebalance), holds its share for a moment, and leaves (another one).
      const other = await holder(group);
      await new Promise((r) => setTimeout(r, 2000));
      await other.disconnect();
    }
  }
  assert.deepEqual(
    [...got].sort(),
    Array.from({ length: N }, (_, i) => String(100 + i)).sort(),
    `records read: ${got.join(' ')}`,
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const at = new Map(committed!.partitions.map((p) => [p.partition, p.offset]));
    for (const e of ends) assert.equal(at.get(e.partition), e.high, `partition ${e.partition}`);
  } finally {
    await admin.disconnect();
  }
});
