// `doris-sinker replay --from-topic` end to end: dead letters written to a DLQ topic by the sinker's
// own DLQ sink (two partitions of the source topic, more than one replay window), beside another
// sink's dead letters and a message that is not one. Each of this sink's records loads once, a
// second replay loads nothing, and what is not this sink's is named and left. Real Kafka, Redis and
// the emulator, rows counted in its MariaDB.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { DeadLetterQueue } from '../../../sinker/dlq/dlq.ts';
import type { DlqRecord } from '../../../sinker/dlq/record.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { runSinkerCommand } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  closeStorage,
  createTable,
  dropTable,
  type Scenario,
  scenario,
  sinkerConfig,
} from '../sinker/helpers.ts';

const s: Scenario = scenario('replay-topic', 2);
const dlqTopic = `${s.topic}-dlq`;
const kafka = new Kafka({
  clientId: 'it-replay-topic',
  brokers: testbed('KAFKA_BOOTSTRAP').split(','),
  logLevel: logLevel.NOTHING,
});
const redis = new Redis(testbed('REDIS_URL'), { maxRetriesPerRequest: 1 });

before(async () => {
  await createTable(s);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicAndWait(admin, dlqTopic, 2);
  } finally {
    await admin.disconnect();
  }
});

after(async () => {
  if (process.env.SINKER_IT_KEEP !== '1') {
    await dropTable(s);
    const keys = await redis.keys(`${s.prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [dlqTopic] }).catch(() => {});
    await admin.disconnect();
  }
  redis.disconnect();
  await closeStorage();
});

const N = 1500;

const dead = (sink: string, i: number): DlqRecord => ({
  sink,
  topic: s.topic,
  partition: i % 2,
  offset: String(1000 + i),
  reason: 'invalid_json: repaired by hand',
  time: new Date().toISOString(),
  value: Buffer.from(
    JSON.stringify({ id: 70_000 + i, integration_id: 1, arrive_time: 1, event_time: 1, title: `topic-${i}` }),
  ),
  key: null,
});

test('replay --from-topic: this sink’s dead letters load once over several windows; the rest is named and left', async () => {
  const dlq = DeadLetterQueue.fromConfig({ kafka_topic: dlqTopic }, kafka);
  await dlq.write(Array.from({ length: N }, (_, i) => dead(s.name, i)));
  await dlq.write([dead('other-sink', 1), dead('other-sink', 2)]);
  await dlq.close();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: dlqTopic, messages: [{ partition: 1, value: 'not a dead letter' }] });
  await producer.disconnect();

  // A window of 128 KiB (max_buffer_bytes / 8): about 130 encoded tb_event rows, a dozen windows.
  const config = await sinkerConfig(s, { batch: { max_buffer_bytes: 1_048_576, max_batch_size: 65_536 } });
  const run = () =>
    runSinkerCommand({ dir: s.dir, tag: 'replay', config, command: ['replay'], extraArgs: ['--from-topic', dlqTopic] });
  const r1 = await run();
  assert.equal(r1.exit.code, 0, r1.output);
  assert.match(r1.output, new RegExp(`replay: ${N} read, ${N} loaded in \\d+ batches, 0 already replayed`), r1.output);
  assert.match(r1.output, /skipped 2 records of sink other-sink/, r1.output);
  assert.match(r1.output, /skipped .*\[1\]@\d+: header dlq\.\w+ missing: not a dead letter/, r1.output);
  const ids = Array.from({ length: N }, (_, i) => BigInt(70_000 + i));
  await assertExactlyOnce(s, ids, 'after replaying the DLQ topic');

  const r2 = await run();
  assert.equal(r2.exit.code, 0, r2.output);
  assert.match(r2.output, new RegExp(`replay: ${N} read, 0 loaded in 0 batches, ${N} already replayed`), r2.output);
  await assertExactlyOnce(s, ids, 'after a second replay');
});
