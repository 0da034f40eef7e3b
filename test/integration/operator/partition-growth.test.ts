// The operator's offset reader keeps one kafkajs admin client per cluster across polls. Partitions
// added to a topic it already read must show at the next read (status.partitions, lag of the new
// partitions, the replica cap), not the count its cached metadata first held.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { KafkaOffsetsReader } from '../../../operator/scaling/kafka-offsets.ts';
import { summarizeLag } from '../../../operator/scaling/lag.ts';
import { createTopicAndWait, waitForTopicLeaders } from '../../support/kafka-topic.ts';
import { idempotentProducer } from '../../support/produce.ts';
import { testbed } from '../../support/testbed.ts';

let kafka: Kafka;
let admin: Admin;
let brokers: string[];
const topic = `grow-${randomBytes(3).toString('hex')}`;
const group = `${topic}-group`;

before(async () => {
  brokers = [testbed('KAFKA_BOOTSTRAP')];
  kafka = new Kafka({ clientId: 'operator-partition-growth-test', brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await createTopicAndWait(admin, topic, 2);
});

after(async () => {
  await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin?.deleteGroups([group]).catch(() => {});
  await admin?.disconnect();
});

async function produceTo(partitions: number[], perPartition: number): Promise<void> {
  const producer = idempotentProducer(kafka);
  await producer.connect();
  try {
    for (const partition of partitions) {
      const messages = Array.from({ length: perPartition }, (_, i) => ({ partition, value: `{"id":${i}}` }));
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

test('a reader that read the topic before it grew sees the new partitions and their lag at the next read', async () => {
  const reader = new KafkaOffsetsReader();
  try {
    await produceTo([0, 1], 100);
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: [0, 1].map((partition) => ({ partition, offset: '100' })),
    });
    const first = await reader.read({ brokers }, topic, group);
    assert.deepEqual(
      first.map((o) => [o.partition, o.high, o.committed]),
      [
        [0, 100n, 100n],
        [1, 100n, 100n],
      ],
    );
    assert.equal(summarizeLag(first, false).total, 0n);

    await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] });
    await waitForTopicLeaders(admin, topic, 5);
    await produceTo([2, 3, 4], 50);

    // The same reader (same cached admin client), right away: no metadata age to wait out. The new
    // partitions have no commit (Kafka's -1).
    const grown = await reader.read({ brokers }, topic, group);
    assert.deepEqual(
      grown.map((o) => [o.partition, o.high, o.committed]),
      [
        [0, 100n, 100n],
        [1, 100n, 100n],
        [2, 50n, -1n],
        [3, 50n, -1n],
        [4, 50n, -1n],
      ],
    );
    // No commit yet on the new partitions: earliest counts all they hold, latest 1 each (activates a replica).
    assert.equal(summarizeLag(grown, true).total, 150n);
    assert.equal(summarizeLag(grown, false).total, 3n);
  } finally {
    await reader.close();
  }
});
