// A partition paused for backpressure, revoked in a rebalance and later assigned back must be fetched
// again: kafkajs keeps its pause across rebalances, so the adapter has to resume it on revocation.
// (Found by the e2e test: after scaling 4 → 1 a paused partition kept its lag for good.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { parseConfig } from '../../../sinker/config/load.ts';
import { type AssignmentChange, SinkConsumer } from '../../../sinker/consumer.ts';
import { createLogger } from '../../../sinker/logger.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { idempotentProducer } from '../../support/produce.ts';
import { testbed } from '../../support/testbed.ts';

const brokers = [testbed('KAFKA_BOOTSTRAP')];
const topic = `pause-revoke-${randomBytes(3).toString('hex')}`;
const kafka = new Kafka({ clientId: 'consumer-pause-test', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();

after(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

function member(): SinkConsumer {
  const config = parseConfig(
    `kafka: {brokers: ["${brokers[0]}"], topic: ${topic}, group_id: ${topic}-group, session_timeout: 6, heartbeat_interval: 1}\n`,
    { env: {} },
  );
  return SinkConsumer.create(config.kafka, createLogger({ ...config.log, level: 'fatal' }));
}

async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a paused partition that is revoked and assigned back is fetched again', async () => {
  await admin.connect();
  await createTopicAndWait(admin, topic, 2);
  const producer = idempotentProducer(kafka);
  await producer.connect();
  const send = (n: number) =>
    producer.send({
      topic,
      messages: [0, 1].flatMap((partition) =>
        Array.from({ length: n }, (_, i) => ({ partition, value: `${partition}-${i}` })),
      ),
    });

  const seen = new Map<number, number>([
    [0, 0],
    [1, 0],
  ]);
  let current: number[] = [];
  const a = member();
  await a.start(
    {
      onAssignment: (c: AssignmentChange) => {
        current = c.current;
      },
      eachBatch: async ({ batch }) => {
        seen.set(batch.partition, (seen.get(batch.partition) ?? 0) + batch.messages.length);
      },
    },
    2,
  );
  const b = member();
  try {
    await until('member A owns both partitions', () => current.length === 2);
    await send(5);
    await until('member A fetched both partitions', () => seen.get(0)! >= 5 && seen.get(1)! >= 5);
    // Backpressure: A stops fetching everything it owns; then B joins and takes one partition.
    a.pause([0, 1]);
    await b.start({ onAssignment: () => {}, eachBatch: async () => {} }, 1);
    await until('the group to split the partitions', () => current.length === 1, 90_000);
    a.resume(a.assignment);
    await b.stop();
    await until('member A to own both partitions again', () => current.length === 2, 90_000);
    const before = new Map(seen);
    await send(5);
    await until(
      `member A fetching both partitions again (seen ${JSON.stringify([...seen])}, before ${JSON.stringify([...before])})`,
      () => seen.get(0)! >= before.get(0)! + 5 && seen.get(1)! >= before.get(1)! + 5,
      30_000,
    );
    assert.deepEqual(a.assignment, [0, 1]);
    assert.deepEqual(a.pausedPartitions, [], 'nothing left paused');
  } finally {
    await producer.disconnect();
    await b.stop().catch(() => {});
    await a.stop();
  }
});
