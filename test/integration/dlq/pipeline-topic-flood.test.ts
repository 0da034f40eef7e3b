// A producer that sends invalid JSON for a while, with the DLQ a Kafka topic: the sinker
// dead-letters each chunk of a fetched batch in one write, up to kafka.max_fetch_records (1000)
// messages with the dlq.* headers of each: over 1 MiB once a message passes about 900 bytes.
// kafkajs puts a send's records for one partition in one record batch, and the broker refuses a
// batch over the topic's max.message.bytes (1 MiB by default): the write failed for good, the
// sinker retried it for ever, and the partition stood still (no dead letter written, nothing after
// the flood loaded, lag growing). Real Kafka, Redis and the emulator.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { readDlqTopic } from '../../../sinker/dlq/reader.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  type Scenario,
  scenario,
  sinkerConfig,
  waitForRows,
} from '../sinker/helpers.ts';

const s: Scenario = scenario('dlq-flood', 1);
const dlqTopic = `${s.topic}-dlq`;
const kafka = new Kafka({
  clientId: 'it-dlq-flood',
  brokers: testbed('KAFKA_BOOTSTRAP').split(','),
  logLevel: logLevel.NOTHING,
});
let sinker: SinkerProcess | undefined;

before(async () => {
  await createTopic(s);
  await createTable(s);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicAndWait(admin, dlqTopic, 1);
  } finally {
    await admin.disconnect();
  }
});

after(async () => {
  await sinker?.kill();
  await cleanup(s);
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [dlqTopic] }).catch(() => {});
  await admin.disconnect();
  await closeStorage();
});

const INVALID = 3000;

test('3000 invalid messages of 1.1 KB in one partition all reach the DLQ topic, and the messages after them load', async () => {
  const values: string[] = [];
  // About 1.1 KB each, the closing brace missing.
  for (let i = 0; i < INVALID; i++) values.push(`{"id": ${100_000 + i}, "title": "${'x'.repeat(1070)}"`);
  const valid: bigint[] = [];
  for (let id = 1; id <= 20; id++) {
    values.push(JSON.stringify({ id, integration_id: 1, arrive_time: 1, event_time: 1, title: `after-${id}` }));
    valid.push(BigInt(id));
  }
  // In small record batches, as a producer with its usual batch.size (16 KB) writes them: a fetch
  // then holds as many messages as fit in max_fetch_bytes, not one big batch.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 12) {
      await producer.send({ topic: s.topic, acks: -1, messages: values.slice(i, i + 12).map((value) => ({ value })) });
    }
  } finally {
    await producer.disconnect();
  }
  sinker = new SinkerProcess({
    dir: s.dir,
    tag: 'flood',
    config: { ...(await sinkerConfig(s)), dlq: { kafka_topic: dlqTopic } },
  });
  await sinker.waitReady(60_000);
  const rows = await waitForRows(s, valid.length, 120_000);
  assert.equal(rows, valid.length, `rows after the flood: ${rows} of ${valid.length}\n${sinker.tail(15)}`);
  await assertExactlyOnce(s, valid, 'the valid messages after the flood');
  const exit = await sinker.term(30_000);
  assert.equal(exit.code, 0, sinker.tail(20));
  sinker = undefined;

  // Every invalid message in the DLQ topic (a retried write may hold one twice: read as one).
  const offsets = new Set<string>();
  for await (const r of readDlqTopic({ kafka, topic: dlqTopic, idleMs: 200 })) {
    assert.equal(r.topic, s.topic);
    assert.match(r.reason, /^invalid_json/);
    offsets.add(r.offset);
  }
  assert.equal(offsets.size, INVALID, `distinct dead letters in the DLQ topic: ${offsets.size} of ${INVALID}`);
});
