// Kafka of the test bed is a real broker: a 4-partition topic, produce and consume in a consumer
// group through kafkajs, commit, and Kafka's own kafka-consumer-groups tool reads the commit back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Admin, Kafka, logLevel, Partitioners } from 'kafkajs';
import { waitForTopicLeaders } from '../../support/kafka-topic.ts';
import { testbed } from '../../support/testbed.ts';
import { requireListening } from './require-up.ts';

const run = promisify(execFile);
const suffix = randomUUID().slice(0, 8);
const topic = `smoke-${suffix}`;
const groupId = `smoke-group-${suffix}`;
const messages = 40;

let kafka: Kafka;
let admin: Admin;

before(async () => {
  const bootstrap = testbed('KAFKA_BOOTSTRAP');
  await requireListening('kafka', bootstrap);
  kafka = new Kafka({ clientId: 'smoke', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin?.disconnect();
});

test('produce, consume in a group, commit; kafka-consumer-groups reads the committed offsets', {
  timeout: 120_000,
}, async () => {
  assert.equal(
    await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: false }),
    true,
  );
  await waitForTopicLeaders(admin, topic, 4);
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(meta.topics[0]?.partitions.length, 4);

  // Idempotent: a send retried under load must not write a batch twice (the end offsets are counted).
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: messages }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ id: i }) })),
  });
  await producer.disconnect();

  const ends = await admin.fetchTopicOffsets(topic);
  const endByPartition = new Map(ends.map((p) => [p.partition, Number(p.high)]));
  assert.equal(
    [...endByPartition.values()].reduce((a, b) => a + b, 0),
    messages,
  );
  assert.ok([...endByPartition.values()].filter((n) => n > 0).length > 1, 'keys spread over several partitions');

  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const seen = new Set<number>();
  const next = new Map<number, number>();
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          seen.add(JSON.parse(String(message.value)).id);
          next.set(partition, Number(message.offset) + 1);
          if (seen.size === messages) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.commitOffsets([...next].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })));
  await consumer.disconnect();
  assert.equal(seen.size, messages);

  const { stdout } = await run(
    join(testbed('KAFKA_BIN'), 'kafka-consumer-groups'),
    ['--bootstrap-server', testbed('KAFKA_BOOTSTRAP'), '--describe', '--group', groupId],
    { timeout: 60_000 },
  );
  // Columns: GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
  const committed = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] === groupId && cols[1] === topic) committed.set(Number(cols[2]), Number(cols[3]));
  }
  assert.deepEqual(
    [...committed].sort((a, b) => a[0] - b[0]),
    [...endByPartition].filter(([, end]) => end > 0).sort((a, b) => a[0] - b[0]),
    `committed offsets per partition as kafka-consumer-groups shows them:\n${stdout}`,
  );
});
