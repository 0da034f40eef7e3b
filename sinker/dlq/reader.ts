// Read dead-lettered records back for `doris-sinker replay`: from the JSON-lines file, or from the
// DLQ topic up to the end offsets it had when reading started.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Kafka } from 'kafkajs';
import { type DlqRecord, fromJsonLine, fromKafkaMessage } from './record.ts';

/** Every record of a DLQ file, in order. A malformed line throws naming its line number. */
export async function* readDlqFile(path: string): AsyncGenerator<DlqRecord> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === '') continue;
    yield fromJsonLine(line, `${path}:${n}`);
  }
}

export interface DlqTopicRecord extends DlqRecord {
  /** Where the record sits in the DLQ topic. */
  dlqPartition: number;
  dlqOffset: string;
}

export interface ReadDlqTopicOptions {
  kafka: Kafka;
  topic: string;
  /** Consumer group of the reader; replay commits its progress there. Default: a fresh group (reads everything). */
  groupId?: string;
  /** Stop when no record arrived for this long after the end offsets were reached, ms. */
  idleMs?: number;
}

/** Records of the DLQ topic from the group's position (or the beginning) up to the end offsets seen at start. */
export async function* readDlqTopic(opts: ReadDlqTopicOptions): AsyncGenerator<DlqTopicRecord> {
  const admin = opts.kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  const done = new Set<number>();
  try {
    const offsets = await admin.fetchTopicOffsets(opts.topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    if (opts.groupId) {
      // Partitions the group has already read to the end deliver nothing: don't wait for them.
      const [committed] = await admin.fetchOffsets({ groupId: opts.groupId, topics: [opts.topic] });
      for (const p of committed?.partitions ?? []) {
        if (p.offset !== '-1' && BigInt(p.offset) >= (ends.get(p.partition) ?? 0n)) done.add(p.partition);
      }
    }
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set([...ends].filter(([p, high]) => high > 0n && !done.has(p)).map(([p]) => p));
  if (remaining.size === 0) return;
  /** Per partition, the offset after the last one queued. */
  const taken = new Map<number, bigint>();

  const consumer = opts.kafka.consumer({
    groupId: opts.groupId ?? `dlq-reader-${process.pid}-${Date.now()}`,
    // Disconnecting waits for the fetch under way, which at the end of the topic waits this long for
    // data (kafkajs's default: 5 s, the time a reader group's read took to end).
    maxWaitTimeInMs: 250,
  });
  const queue: DlqTopicRecord[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const high = ends.get(partition) ?? 0n;
        const offset = BigInt(message.offset);
        // A rejoin of the group (a rebalance, a lost heartbeat) starts the partition again from the
        // committed offset (a fresh group: from the beginning), so what was queued is delivered
        // again: each offset is taken once.
        const next = taken.get(partition);
        if (next !== undefined && offset < next) return;
        taken.set(partition, offset + 1n);
        if (offset >= high) {
          remaining.delete(partition);
        } else {
          try {
            queue.push({
              ...fromKafkaMessage(message, `${opts.topic}[${partition}]@${message.offset}`),
              dlqPartition: partition,
              dlqOffset: message.offset,
            });
          } catch (e) {
            failure = e;
          }
          if (offset + 1n >= high) remaining.delete(partition);
        }
        notify();
        // Backpressure: hold the fetch loop while the reader is behind.
        while (queue.length > 1000 && failure === undefined) await new Promise((r) => setTimeout(r, 5));
      },
    });
    for (;;) {
      if (failure !== undefined) throw failure;
      const next = queue.shift();
      if (next) {
        yield next;
        if (opts.groupId) {
          await consumer.commitOffsets([
            { topic: opts.topic, partition: next.dlqPartition, offset: (BigInt(next.dlqOffset) + 1n).toString() },
          ]);
        }
        continue;
      }
      if (remaining.size === 0) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, opts.idleMs ?? 1000);
      });
    }
  } finally {
    await consumer.disconnect();
  }
}
