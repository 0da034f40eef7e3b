// readDlqTopic against a scripted stand-in for kafkajs: a group rejoin delivers again what was
// already delivered (from the committed offset; a fresh group from the beginning), and the reader
// must still return each DLQ offset once and stop at the end offsets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs, { type Kafka } from 'kafkajs';
import { isDeferrableCommitError, readDlqTopic } from './reader.ts';

const { KafkaJSNonRetriableError, KafkaJSProtocolError } = kafkajs;

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
function scripted(
  topic: DlqRecord[][],
  script: Delivery[],
  commitOffsets: (offsets: { partition: number; offset: string }[]) => Promise<void> = async () => {},
): Kafka {
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
    commitOffsets,
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

/**
 * A broker's error as kafkajs raises it from a commit it does not retry: the protocol error, wrapped
 * as non-retriable with it as the cause (kafkajs's retrier).
 */
function brokerError(type: string, code: number, message: string): Error {
  // kafkajs builds these from its table of error codes; its types only declare (Error | string).
  const protocol = new KafkaJSProtocolError({ type, code, retriable: false, message } as unknown as Error);
  const Wrapper = KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error;
  return new Wrapper(protocol, { cause: protocol });
}
const rebalancing = () => brokerError('REBALANCE_IN_PROGRESS', 27, 'The group is rebalancing, so a rejoin is needed');
const denied = () => brokerError('GROUP_AUTHORIZATION_FAILED', 30, 'Not authorized to access group');

test('commit errors: a rebalance or a moved coordinator is tried again, anything else is not', () => {
  assert.equal(isDeferrableCommitError(rebalancing()), true);
  assert.equal(isDeferrableCommitError(denied()), false);
  assert.equal(isDeferrableCommitError(new TypeError('x')), false);
});

test('a reader group whose commit fails once while the group rebalances yields every record once and commits the end', async () => {
  const topic = [[rec('10'), rec('11'), rec('12')], [rec('13')]];
  const script: Delivery[] = [
    [0, 0],
    [0, 1],
    [1, 0],
    [0, 2],
  ];
  /** What the group has committed, per partition. */
  const committed = new Map<number, string>();
  let calls = 0;
  const kafka = scripted(topic, script, async (offsets) => {
    if (++calls === 1) throw rebalancing();
    for (const o of offsets) committed.set(o.partition, o.offset);
  });
  const out: string[] = [];
  for await (const r of readDlqTopic({ kafka, topic: 'dlq', groupId: 'g', idleMs: 20, stallMs: 5000 })) {
    out.push(`${r.offset}@${r.dlqPartition}:${r.dlqOffset}`);
  }
  assert.deepEqual(out.sort(), ['10@0:0', '11@0:1', '12@0:2', '13@1:0']);
  assert.ok(calls >= 2, `the failed commit was not tried again (${calls} commits)`);
  assert.deepEqual(Object.fromEntries(committed), { 0: '3', 1: '1' });
});

test('a reader group whose commits keep failing ends with an error naming the group, after every record', async () => {
  const topic = [[rec('10'), rec('11')]];
  const kafka = scripted(
    topic,
    [
      [0, 0],
      [0, 1],
    ],
    async () => {
      throw rebalancing();
    },
  );
  const out: string[] = [];
  await assert.rejects(
    async () => {
      for await (const r of readDlqTopic({ kafka, topic: 'dlq', groupId: 'g', idleMs: 20, stallMs: 300 })) {
        out.push(r.offset);
      }
    },
    (err: Error) => {
      assert.equal(err.name, 'DlqReadError');
      assert.match(err.message, /consumer group "g" cannot commit its position on DLQ topic dlq \(partition 0 at 2\)/);
      assert.match(err.message, /rebalancing/);
      return true;
    },
  );
  assert.deepEqual(out, ['10', '11']);
});

test('a commit refused for good (not a rebalance) stops the read with the reason', async () => {
  const topic = [[rec('10'), rec('11')]];
  const kafka = scripted(topic, [[0, 0]], async () => {
    throw denied();
  });
  await assert.rejects(async () => {
    for await (const _ of readDlqTopic({ kafka, topic: 'dlq', groupId: 'g', idleMs: 20, stallMs: 5000 })) {
      // read on
    }
  }, /consumer group "g" cannot commit its position on DLQ topic dlq \(partition 0 at 1\): Not authorized/);
});

test('a partition that never delivers (held by another member of the group) ends the read with an error naming it', async () => {
  const topic = [[rec('10')], [rec('11'), rec('12')], [rec('13')]];
  // Partition 1 is never delivered; 0 and 2 are.
  const kafka = scripted(topic, [
    [0, 0],
    [2, 0],
  ]);
  const out: string[] = [];
  await assert.rejects(
    async () => {
      for await (const r of readDlqTopic({ kafka, topic: 'dlq', groupId: 'replayers', idleMs: 20, stallMs: 300 })) {
        out.push(r.offset);
      }
    },
    (err: Error) => {
      assert.equal(err.name, 'DlqReadError');
      assert.match(err.message, /^DLQ topic dlq: no record from partition 1 \(nothing yet, end 2\) for 0 s: /);
      assert.match(err.message, /another member of consumer group "replayers" holds them/);
      assert.match(err.message, /--describe --group replayers/);
      return true;
    },
  );
  assert.deepEqual(out.sort(), ['10', '13']);
});

test('without a group, a partition that never delivers ends the read naming it and the brokers', async () => {
  const topic = [[rec('10'), rec('11')]];
  const kafka = scripted(topic, [[0, 0]]);
  await assert.rejects(async () => {
    for await (const _ of readDlqTopic({ kafka, topic: 'dlq', idleMs: 20, stallMs: 300 })) {
      // read on
    }
  }, /^DlqReadError: DLQ topic dlq: no record from partition 0 \(at 1, end 2\) for 0 s: their leader is unavailable/);
});
