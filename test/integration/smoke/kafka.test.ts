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
import { idempotentProducer } from '../../support/produce.ts';
import { testbed } from '../../support/testbed.ts';
import { requireListening } from './require-up.ts';

const run = promisify(execFile);
const suffix = randomUUID().slice(0, 8);
const topic = `smoke-${suffix}`;
const groupId = `smoke-group-${suffix}`;
const messages = 40;
const partlyFailed = [`smoke-once-${suffix}`, `smoke-gone-${suffix}`];

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
  await admin?.deleteTopics({ topics: [topic, ...partlyFailed] }).catch(() => {});
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
  const producer = idempotentProducer(kafka, { createPartitioner: Partitioners.DefaultPartitioner });
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

test("a request that fails for one topic and is retried writes the other topic's messages once (the test producer)", {
  timeout: 120_000,
}, async () => {
  // kafkajs retries a whole broker request when any partition of it fails, so without idempotence
  // the partitions that had succeeded are written again on every retry. Provoked here by a request
  // for two topics, the second deleted behind the producer's back (its metadata still names it).
  const [once, gone] = partlyFailed as [string, string];
  await admin.createTopics({
    topics: [
      { topic: once, numPartitions: 2, replicationFactor: 1 },
      { topic: gone, numPartitions: 1, replicationFactor: 1 },
    ],
    waitForLeaders: false,
  });
  await waitForTopicLeaders(admin, once, 2);
  await waitForTopicLeaders(admin, gone, 1);
  const retrying = new Kafka({
    clientId: 'smoke-once',
    brokers: [testbed('KAFKA_BOOTSTRAP')],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
  });
  const producer = idempotentProducer(retrying);
  await producer.connect();
  const both = (n: number) => [
    { topic: once, messages: Array.from({ length: n }, (_, i) => ({ value: `v${i}`, partition: i % 2 })) },
    { topic: gone, messages: [{ value: 'x', partition: 0 }] },
  ];
  try {
    await producer.sendBatch({ acks: -1, topicMessages: both(2) });
    await admin.deleteTopics({ topics: [gone] });
    await assert.rejects(
      producer.sendBatch({ acks: -1, topicMessages: both(10) }),
      /does not host this topic-partition|topic-partition|retries/i,
      'the second request failed for the deleted topic, after retries',
    );
  } finally {
    await producer.disconnect();
  }
  const ends = (await admin.fetchTopicOffsets(once)).sort((a, b) => a.partition - b.partition).map((o) => o.high);
  // 1 + 5 messages per partition; a producer that is not idempotent leaves 21 each (4 tries).
  assert.deepEqual(ends, ['6', '6'], `end offsets of ${once}`);
});
