// readDlqTopic against a scripted stand-in for kafkajs: a group rejoin delivers again what was
// already delivered (from the committed offset; a fresh group from the beginning), and the reader
// must still return each DLQ offset once and stop at the end offsets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { readDlqTopic } from './reader.ts';
import { type DlqRecord, toKafkaMessage } from './record.ts';

const rec = (offset: string): DlqRecord => ({
  sink: 's',
  topic: 'events',
  partition: 0,
  offset,
  reason: `bad row ${offset}`,
  time: '2026-11-25T00:00:00.000Z',
  value: offset === '12' ? null : Buffer.from(offset),
  key: null,
});

type Delivery = [partition: number, offset: number];

/**
 * A Kafka whose consumer delivers `script` (DLQ partition, offset) in order, the message at
 * `topic[partition][offset]`; the admin reports each partition's length as its end offset.
 */
function scripted(topic: DlqRecord[][], script: Delivery[]): Kafka {
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    fetchTopicOffsets: async () =>
      topic.map((msgs, partition) => ({ partition, offset: String(msgs.length), high: String(msgs.length), low: '0' })),
    fetchOffsets: async () => [{ topic: 'dlq', partitions: [] }],
  };
  const consumer = {
    connect: async () => {},
    disconnect: async () => {},
    subscribe: async () => {},
    commitOffsets: async () => {},
    run: async ({ eachMessage }: { eachMessage: (p: unknown) => Promise<void> }) => {
      void (async () => {
        for (const [partition, offset] of script) {
          await new Promise((r) => setImmediate(r));
          const r = topic[partition]?.[offset];
          assert.ok(r, `script names ${partition}:${offset}, which the topic does not hold`);
          const m = toKafkaMessage(r);
          await eachMessage({ topic: 'dlq', partition, message: { ...m, offset: String(offset) } });
        }
      })();
    },
  };
  return { admin: () => admin, consumer: () => consumer } as unknown as Kafka;
}

async function readAll(kafka: Kafka): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readDlqTopic({ kafka, topic: 'dlq', idleMs: 50 })) {
    out.push(`${r.offset}@${r.dlqPartition}:${r.dlqOffset}`);
  }
  return out.sort();
}

test('a rejoin that delivers a partition again from the beginning yields no record twice', async () => {
  const topic = [[rec('10'), rec('11'), rec('9007199254740993')], [rec('12')]];
  // Partition 0 up to offset 1, then a rejoin: both partitions again from offset 0.
  const script: Delivery[] = [
    [0, 0],
    [0, 1],
    [0, 0],
    [0, 1],
    [1, 0],
    [0, 2],
  ];
  assert.deepEqual(await readAll(scripted(topic, script)), ['10@0:0', '11@0:1', '12@1:0', '9007199254740993@0:2']);
});

test('a partition delivered again after it reached its end is read once', async () => {
  const topic = [[rec('10'), rec('11')], [rec('12')]];
  const script: Delivery[] = [
    [0, 0],
    [0, 1],
    [0, 0],
    [0, 1],
    [1, 0],
  ];
  assert.deepEqual(await readAll(scripted(topic, script)), ['10@0:0', '11@0:1', '12@1:0']);
});
