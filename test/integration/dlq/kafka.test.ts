// The topic DLQ against the test bed's real Kafka: records keep their original bytes and metadata,
// and the reader returns exactly what was written, then stops at the end offsets.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { DeadLetterQueue } from '../../../sinker/dlq/dlq.ts';
import { type DlqTopicRecord, readDlqTopic } from '../../../sinker/dlq/reader.ts';
import type { DlqRecord } from '../../../sinker/dlq/record.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { createOwnTopics, deleteOwnTopics } from './topics.ts';

const topic = `it-dlq-${randomUUID().slice(0, 8)}`;
let kafka: Kafka;

before(async () => {
  kafka = await createOwnTopics('it-dlq', [{ name: topic, partitions: 2 }]);
});

after(() => deleteOwnTopics(kafka, [topic]));

const rec = (offset: string, value: Buffer | null, key: Buffer | null = null): DlqRecord => ({
  sink: 'it',
  topic: 'events',
  partition: 1,
  offset,
  reason: `bad row ${offset}`,
  time: '2026-11-24T00:00:00.000Z',
  value,
  key,
});

test('records written to the DLQ topic come back byte for byte with their metadata', async () => {
  const dlq = DeadLetterQueue.fromConfig({ kafka_topic: topic }, kafka);
  const written = [
    rec('10', Buffer.from('{"id":1,'), Buffer.from('k')),
    rec('11', Buffer.from([0xff, 0x00, 0xfe])),
    rec('12', null),
    rec('9007199254740993', Buffer.from('ü 日本 😀')),
  ];
  await dlq.write(written.slice(0, 2));
  await dlq.write(written.slice(2));
  await dlq.close();
  const back: DlqTopicRecord[] = [];
  for await (const r of readDlqTopic({ kafka, topic, idleMs: 200 })) back.push(r);
  const strip = ({ dlqPartition: _p, dlqOffset: _o, ...r }: DlqTopicRecord) => r;
  // Where each came from in the DLQ topic: tells a record written twice from one delivered twice.
  const positions = back.map((r) => `${r.offset}@${r.dlqPartition}:${r.dlqOffset}`).join(' ');
  assert.deepEqual(
    back.map(strip).sort((a, b) => a.offset.localeCompare(b.offset)),
    [...written].sort((a, b) => a.offset.localeCompare(b.offset)),
    `records read back (record offset@DLQ partition:DLQ offset): ${positions}`,
  );
});

test('a reader group resumes where it stopped', async () => {
  const group = `it-dlq-reader-${randomUUID().slice(0, 8)}`;
  const first: string[] = [];
  for await (const r of readDlqTopic({ kafka, topic, groupId: group, idleMs: 200 })) first.push(r.offset);
  assert.equal(first.length, 4);
  const dlq = DeadLetterQueue.fromConfig({ kafka_topic: topic }, kafka);
  await dlq.write([rec('13', Buffer.from('late'))]);
  await dlq.close();
  const second: string[] = [];
  for await (const r of readDlqTopic({ kafka, topic, groupId: group, idleMs: 200 })) second.push(r.offset);
  assert.deepEqual(second, ['13']);
});

test('a message in the DLQ topic that is not a dead letter is named and passed over: the records around it read', async () => {
  // Anything can be produced to a topic, and nothing can be taken out of one: a message without the
  // dlq.* headers (a test message, another tool's) stopped every read of the topic for good.
  const mixed = `${topic}-mixed`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicAndWait(admin, mixed, 1);
    const dlq = DeadLetterQueue.fromConfig({ kafka_topic: mixed }, kafka);
    await dlq.write([rec('20', Buffer.from('a'))]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: mixed, messages: [{ value: 'hello', headers: { 'dlq.topic': 'events' } }] });
    await producer.disconnect();
    await dlq.write([rec('21', Buffer.from('b'))]);
    await dlq.close();
    const notDead: string[] = [];
    const back: string[] = [];
    for await (const r of readDlqTopic({
      kafka,
      topic: mixed,
      idleMs: 200,
      onNotDeadLetter: (e) => notDead.push(e.message),
    }))
      back.push(r.offset);
    assert.deepEqual(back, ['20', '21']);
    assert.equal(notDead.length, 1);
    assert.match(notDead[0]!, new RegExp(`${mixed}\\[0\\]@1: header dlq\\.\\w+ missing`));
    // Without a taker for them, the read stops there, naming it.
    await assert.rejects(async () => {
      for await (const _ of readDlqTopic({ kafka, topic: mixed, idleMs: 200 })) {
        // read to the end
      }
    }, /\[0\]@1: header dlq\.\w+ missing/);
  } finally {
    await admin.deleteTopics({ topics: [mixed] }).catch(() => {});
    await admin.disconnect();
  }
});

test('a reader that stops early while more than 1000 records wait in its queue returns (replay --limit, a failed load)', {
  timeout: 60_000,
}, async () => {
  // The fetch loop waited for the queue to drain before taking the next message, and disconnecting
  // waits for that loop: a caller that stopped reading (break) never got its return().
  const many = `${topic}-many`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicAndWait(admin, many, 1);
    const dlq = DeadLetterQueue.fromConfig({ kafka_topic: many }, kafka);
    await dlq.write(Array.from({ length: 3000 }, (_, i) => rec(String(i), Buffer.from('x'))));
    await dlq.close();
    const taken: string[] = [];
    for await (const r of readDlqTopic({ kafka, topic: many, idleMs: 200 })) {
      taken.push(r.offset);
      if (taken.length === 5) {
        // Let the fetch loop fill the queue past its bound first.
        await new Promise((r) => setTimeout(r, 1000));
        break;
      }
    }
    assert.equal(taken.length, 5);
  } finally {
    await admin.deleteTopics({ topics: [many] }).catch(() => {});
    await admin.disconnect();
  }
});
