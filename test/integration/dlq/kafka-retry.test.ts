// The topic DLQ when one partition of a produce request fails and kafkajs retries the send: each
// record must be written exactly once. The fault is injected between kafkajs and the test bed's real
// broker: in the first produce request that carries both partitions of the topic, the partition
// holding the keyed record is renamed 99, so the broker appends the other partition and answers
// UNKNOWN_TOPIC_OR_PARTITION for that one (as a busy broker may answer NOT_LEADER for a partition of
// a topic it has just created). kafkajs then rolls back the sequence numbers of both partitions and
// sends again. With kafkajs's default partitioner the keyless record moved to the other partition on
// the retry (written twice) and the next keyless record sent where it first went reused its sequence
// number (taken by the broker for a duplicate: never written): a CI run read DLQ record 11 twice and
// never record 12.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { type ISocketFactory, Kafka, logLevel, Partitioners } from 'kafkajs';
import { dlqPartitioner, KafkaDlqSink } from '../../../sinker/dlq/kafka-sink.ts';
import { readDlqTopic } from '../../../sinker/dlq/reader.ts';
import { type DlqRecord, toKafkaMessage } from '../../../sinker/dlq/record.ts';
import { testbed } from '../../support/testbed.ts';
import { createOwnTopics, deleteOwnTopics } from './topics.ts';

const topic = `it-dlq-retry-${randomUUID().slice(0, 8)}`;
const topic2 = `${topic}-b`;
let kafka: Kafka;

before(async () => {
  kafka = await createOwnTopics('it-dlq-retry', [
    { name: topic, partitions: 2 },
    { name: topic2, partitions: 2 },
  ]);
});

after(() => deleteOwnTopics(kafka, [topic, topic2]));

interface Fault {
  topic: string;
  /** The partition to fail. */
  partition: number;
  /** How many requests to change. */
  toFail: number;
  /** How many were changed. */
  fired: number;
}

/**
 * Sockets that rename `fault.partition` to partition 99 in the first `fault.toFail` produce requests
 * (v3 to v8, what kafkajs speaks) that carry at least two partitions of `fault.topic`. A partition's index is not
 * covered by the record batch's CRC, so the broker takes the request as it is.
 */
function faultySockets(fault: Fault): ISocketFactory {
  return ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (fault.fired < fault.toFail && Buffer.isBuffer(chunk)) failPartition(chunk, fault);
      return write(chunk, ...rest);
    }) as typeof socket.write;
    return socket;
  };
}

function failPartition(b: Buffer, fault: Fault): void {
  if (b.length < 14 || b.readInt32BE(0) + 4 !== b.length) return;
  const apiKey = b.readInt16BE(4);
  const version = b.readInt16BE(6);
  if (apiKey !== 0 || version < 3 || version > 8) return;
  let pos = 12;
  const str = () => {
    const n = b.readInt16BE(pos);
    pos += 2;
    const s = n < 0 ? null : b.toString('utf8', pos, pos + n);
    pos += Math.max(n, 0);
    return s;
  };
  str(); // client id
  str(); // transactional id
  pos += 2 + 4; // acks, timeout
  const topics = b.readInt32BE(pos);
  pos += 4;
  for (let t = 0; t < topics; t++) {
    const name = str();
    const partitions = b.readInt32BE(pos);
    pos += 4;
    const at = new Map<number, number>();
    for (let p = 0; p < partitions; p++) {
      at.set(b.readInt32BE(pos), pos);
      pos += 4;
      pos += 4 + Math.max(b.readInt32BE(pos), 0);
    }
    const where = at.get(fault.partition);
    if (name === fault.topic && at.size >= 2 && where !== undefined) {
      b.writeInt32BE(99, where);
      fault.fired++;
    }
  }
}

const rec = (offset: number, key: string | null): DlqRecord => ({
  sink: 'it',
  topic: 'events',
  partition: 1,
  offset: String(offset),
  reason: `bad row ${offset}`,
  time: '2026-11-25T00:00:00.000Z',
  value: offset % 3 === 0 ? null : Buffer.from([0xff, offset & 0xff]),
  key: key === null ? null : Buffer.from(key),
});

const twoPartitions = [0, 1].map((partitionId) => ({
  partitionErrorCode: 0,
  partitionId,
  leader: 1,
  replicas: [1],
  isr: [1],
}));
// Where kafkajs's default partitioner (and the DLQ's, for a keyed record) puts key "k".
const keyed = Partitioners.DefaultPartitioner()({
  topic,
  partitionMetadata: twoPartitions,
  message: { key: 'k', value: null },
});

function faultyKafka(fault: Fault, retries: number): Kafka {
  return new Kafka({
    clientId: 'it-dlq-retry-faulty',
    brokers: [testbed('KAFKA_BOOTSTRAP')],
    logLevel: logLevel.NOTHING,
    socketFactory: faultySockets(fault),
    retry: { initialRetryTime: 50, retries },
  });
}

async function readBack(from: string): Promise<{ offsets: string[]; positions: string }> {
  const back: string[] = [];
  for await (const r of readDlqTopic({ kafka, topic: from, idleMs: 200 })) {
    back.push(`${r.offset}@${r.dlqPartition}:${r.dlqOffset}`);
  }
  return { offsets: back.map((b) => b.split('@')[0] ?? '').sort(), positions: back.join(' ') };
}

test('a send retried after one of its partitions failed writes each record exactly once', async () => {
  const fault: Fault = { topic, partition: keyed, toFail: 1, fired: 0 };
  const sink = new KafkaDlqSink(faultyKafka(fault, 5), topic);
  const written: DlqRecord[] = [];
  try {
    // The CI run's first write: a keyed and a keyless record, until a request carries both partitions.
    for (let i = 0; fault.fired === 0; i++) {
      assert.ok(i < 20, 'no produce request carried both partitions: the fault never fired');
      const batch = [rec(10 + 2 * i, 'k'), rec(11 + 2 * i, null)];
      await sink.write(batch);
      written.push(...batch);
    }
    // Then keyless records, as its second write: one of them lands where the retried one first went.
    for (let i = 0; i < 4; i++) {
      const batch = [rec(100 + 2 * i, null), rec(101 + 2 * i, null)];
      await sink.write(batch);
      written.push(...batch);
    }
  } finally {
    await sink.close();
  }
  const back = await readBack(topic);
  const want = written.map((r) => r.offset).sort();
  assert.deepEqual(back.offsets, want, `read back (record@DLQ partition:offset): ${back.positions}`);
});

test('a write that failed leaves no sequence number behind for the next record to be dropped on', async () => {
  // Two keyless records the DLQ puts in the partition that is not key "k"'s.
  const place = dlqPartitioner();
  const [n, m] = Array.from({ length: 64 }, (_, i) => rec(11 + i, null)).filter(
    (r) => place({ topic: topic2, partitionMetadata: twoPartitions, message: toKafkaMessage(r) }) !== keyed,
  );
  assert.ok(n && m);
  // Key "k"'s partition fails on every try: the write fails, after its other partition took n (and
  // kafkajs rolled that partition's sequence number back).
  const fault: Fault = { topic: topic2, partition: keyed, toFail: Number.POSITIVE_INFINITY, fired: 0 };
  const sink = new KafkaDlqSink(faultyKafka(fault, 1), topic2);
  try {
    await assert.rejects(sink.write([rec(10, 'k'), n]), /DLQ topic/);
    assert.ok(fault.fired >= 2, `the fault fired ${fault.fired} times`);
    fault.toFail = fault.fired;
    // m alone, where n went: with the failed write's producer it reused n's sequence number.
    await sink.write([m]);
  } finally {
    await sink.close();
  }
  const back = await readBack(topic2);
  assert.deepEqual(
    back.offsets,
    [n.offset, m.offset].sort(),
    `read back (record@DLQ partition:offset): ${back.positions}`,
  );
});
