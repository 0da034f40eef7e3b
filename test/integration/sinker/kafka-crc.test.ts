// A record batch damaged on the broker's disk: the test bed's broker stores three batches of a fresh
// topic, one byte inside a value of the middle one is changed in its log segment (framing intact,
// so the batch still decodes), and a consumer with the sinker's Kafka client settings reads the
// topic. The sinker's clients check each batch's CRC-32C (sinker/kafka-record-batch.ts): the changed value
// must never be handed on, nothing from the damaged batch on is, and the error names the batch's
// first offset. kafkajs alone hands the changed value on without a word.
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import type { KafkaConfig } from '../../../sinker/config/types.ts';
import { kafkaClientConfig } from '../../../sinker/consumer.ts';
import type { Logger } from '../../../sinker/logger.ts';
import { testbed } from '../../support/testbed.ts';
import { createTopic, type Scenario, scenario } from './helpers.ts';

const { Kafka, logLevel } = kafkajs;
const PER_BATCH = 100;
const s: Scenario = scenario('kafka-crc', 1);
const value = (batch: number, i: number) =>
  JSON.stringify({ id: batch * PER_BATCH + i, note: `batch-${batch}-msg-${i}-payload` });

function admin() {
  return new Kafka({ brokers: testbed('KAFKA_BOOTSTRAP').split(','), logLevel: logLevel.NOTHING }).admin();
}

before(async () => {
  await createTopic(s);
  const producer = new Kafka({ brokers: testbed('KAFKA_BOOTSTRAP').split(','), logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    // one send, one batch: offsets 0-99, 100-199, 200-299
    for (let b = 0; b < 3; b++) {
      await producer.send({
        topic: s.topic,
        acks: -1,
        messages: Array.from({ length: PER_BATCH }, (_, i) => ({ value: value(b, i) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
  // The broker writes through the page cache, which is what it serves fetches from.
  const segment = join(testbed('TESTBED_RUN_DIR'), 'kafka', 'data', `${s.topic}-0`, '00000000000000000000.log');
  const bytes = readFileSync(segment);
  const marker = Buffer.from('batch-1-msg-50-payload');
  const at = bytes.indexOf(marker);
  assert.ok(at > 0, `the value to damage is in ${segment}`);
  const fd = openSync(segment, 'r+');
  try {
    writeSync(fd, Buffer.from('X'), 0, 1, at);
  } finally {
    closeSync(fd);
  }
});

after(async () => {
  const a = admin();
  await a.connect();
  await a.deleteTopics({ topics: [s.topic] }).catch(() => {});
  await a.deleteGroups([s.group]).catch(() => {});
  await a.disconnect();
});

test('a batch whose bytes do not match its CRC is refused with its offset; its values are never handed on', async () => {
  const logged: string[] = [];
  const capture = (_: unknown, message: string) => logged.push(message);
  const logger = { child: () => ({ error: capture, warn: capture, debug: () => {} }) } as unknown as Logger;
  const config = { client_id: 'it-crc', brokers: testbed('KAFKA_BOOTSTRAP').split(',') } as KafkaConfig;
  const consumer = new Kafka(kafkaClientConfig(config, logger)).consumer({ groupId: s.group, maxWaitTimeInMs: 200 });
  const produced = new Set<string>();
  for (let b = 0; b < 3; b++) for (let i = 0; i < PER_BATCH; i++) produced.add(value(b, i));
  const handed: { offset: number; value: string }[] = [];
  const crashes: string[] = [];
  consumer.on(consumer.events.CRASH, (e) => crashes.push(String(e.payload.error?.message)));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: s.topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) handed.push({ offset: Number(m.offset), value: String(m.value) });
      },
    });
    const deadline = Date.now() + 30_000;
    const refused = () => [...crashes, ...logged].some((m) => /record batch from offset 100 .*is corrupt/.test(m));
    while (!refused() && handed.length < 3 * PER_BATCH && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    // Whatever a retry would hand on comes within a fetch or two.
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await consumer.disconnect();
  }
  const changed = handed.filter((m) => !produced.has(m.value));
  assert.deepEqual(changed.slice(0, 3), [], 'no changed value is handed on');
  assert.deepEqual(
    handed.filter((m) => m.offset >= PER_BATCH).slice(0, 3),
    [],
    'nothing from the damaged batch on is handed on',
  );
  assert.ok(
    [...crashes, ...logged].some((m) =>
      /record batch from offset 100 \(\d+ bytes\) is corrupt: its CRC-32C is/.test(m),
    ),
    `the refusal names the batch: ${[...new Set([...crashes, ...logged])].slice(0, 5).join(' | ')}`,
  );
});
