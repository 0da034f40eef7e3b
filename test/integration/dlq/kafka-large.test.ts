// The topic DLQ with more bytes than the broker takes in one record batch. The broker refuses a
// partition's record batch over the topic's max.message.bytes (1 MiB by default) with
// MESSAGE_TOO_LARGE, and kafkajs puts every record a send gives one partition into one batch. The
// rows Doris refuses from one load (10,000 rows, 10 MiB by default) went to the DLQ in one send:
// refused for good, retried by the pipeline for ever, the partition stuck. Against the real broker.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { KafkaDlqSink } from '../../../sinker/dlq/kafka-sink.ts';
import { readDlqTopic } from '../../../sinker/dlq/reader.ts';
import type { DlqRecord } from '../../../sinker/dlq/record.ts';
import { createOwnTopics, deleteOwnTopics } from './topics.ts';

const topic = `it-dlq-large-${randomUUID().slice(0, 8)}`;
/** A DLQ topic that takes record batches of at most 20,000 bytes. */
const small = `${topic}-small`;
let kafka: Kafka;

before(async () => {
  kafka = await createOwnTopics('it-dlq-large', [
    { name: topic, partitions: 1 },
    { name: small, partitions: 1, configs: { 'max.message.bytes': '20000' } },
  ]);
});

after(() => deleteOwnTopics(kafka, [topic, small]));

const rec = (offset: number, bytes: number): DlqRecord => ({
  sink: 'it',
  topic: 'events',
  partition: 3,
  offset: String(offset),
  reason: 'data_quality: column too long',
  time: '2026-11-25T00:00:00.000Z',
  value: Buffer.alloc(bytes, `{"n":${offset}}`),
  key: null,
});

async function readBack(from: string): Promise<string[]> {
  const offsets: string[] = [];
  for await (const r of readDlqTopic({ kafka, topic: from, idleMs: 200 })) offsets.push(r.offset);
  return offsets.sort((a, b) => Number(a) - Number(b));
}

test('2000 records of 1 KiB (2 MiB) in one write all land in a one-partition DLQ topic, once each', async () => {
  const sink = new KafkaDlqSink(kafka, topic);
  const written = Array.from({ length: 2000 }, (_, i) => rec(i, 1024));
  try {
    await sink.write(written);
  } finally {
    await sink.close();
  }
  assert.deepEqual(
    await readBack(topic),
    written.map((r) => r.offset),
  );
});

test('a topic with a lower max.message.bytes: the write is cut to what it takes; a record too large for it is named', async () => {
  const sink = new KafkaDlqSink(kafka, small);
  // 12 records of 6 KB: 72 KB, at most 3 to a batch of 20,000 bytes.
  const written = Array.from({ length: 12 }, (_, i) => rec(i, 6000));
  // Two that fit beside one that never will (random bytes: compressed, they are as large), written
  // (and retried, as the pipeline does) together: the two land once, the third fails the write each
  // time, named.
  const withBig = [rec(50, 100), rec(51, 100), { ...rec(99, 0), value: randomBytes(30_000) }];
  try {
    await sink.write(written);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(sink.write(withBig), (err: Error) => {
        assert.match(err.message, /events\/3@99/);
        assert.match(err.message, /30\d\d\d bytes/);
        assert.match(err.message, /max\.message\.bytes/);
        return true;
      });
    }
  } finally {
    await sink.close();
  }
  assert.deepEqual(await readBack(small), [...written.map((r) => r.offset), '50', '51']);
});

test("a single dead letter over the topic's max.message.bytes that compresses under it lands, compressed, byte for byte", async () => {
  // The source topic's limit bounds its record batches as stored, compressed when the producer
  // compressed them: a JSON message of 60 KB came in a batch of a few KB, and its dead letter (sent
  // uncompressed) was refused by a DLQ topic with the same 20,000-byte limit for good.
  const sink = new KafkaDlqSink(kafka, small);
  const big = { ...rec(200, 0), value: Buffer.from(JSON.stringify({ id: 200, text: 'ab'.repeat(30_000) })) };
  try {
    await sink.write([big]);
  } finally {
    await sink.close();
  }
  const back = [];
  for await (const r of readDlqTopic({ kafka, topic: small, idleMs: 200 })) if (r.offset === '200') back.push(r);
  assert.equal(back.length, 1);
  assert.deepEqual(back[0]?.value, big.value);
});
