// Reads messages back from Kafka by offset, for rows Doris refused after they were mapped: the
// pipeline keeps only the encoded rows, but a dead letter must carry the original bytes (so `replay`
// can map them again, whatever the load format). kafkajs fetches only inside a consumer group, so a
// throwaway group (its own id, deleted afterwards) seeks to the first offset and reads up to the
// last. This is the rare path: data-quality refusals and batches Doris refuses for good.
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../logger.ts';
import { type DlqHeader, originalHeaders } from './record.ts';

export interface OriginalMessage {
  value: Buffer | null;
  key: Buffer | null;
  timestamp?: string;
  headers?: DlqHeader[];
}

/** The messages at `offsets` of one partition that could be read (missing ones are left out). */
export type OriginalsReader = (partition: number, offsets: readonly string[]) => Promise<Map<string, OriginalMessage>>;

export interface KafkaOriginalsOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  /** Prefix of the throwaway groups' ids (the sink's group id). */
  groupPrefix: string;
  logger?: Logger;
  /** Give up after this long and return what was read (default 30 s). */
  timeoutMs?: number;
}

export function kafkaOriginalsReader(o: KafkaOriginalsOptions): OriginalsReader {
  const timeoutMs = o.timeoutMs ?? 30_000;
  return async (partition, offsets) => {
    const found = new Map<string, OriginalMessage>();
    if (offsets.length === 0) return found;
    const want = new Set(offsets);
    let first = BigInt(offsets[0]!);
    let last = first;
    for (const s of offsets) {
      const v = BigInt(s);
      if (v < first) first = v;
      if (v > last) last = v;
    }
    const groupId = `${o.groupPrefix}-dlq-originals-${randomUUID()}`;
    const consumer = o.kafka.consumer({ groupId, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
    let finish: () => void = () => {};
    const finished = new Promise<void>((r) => {
      finish = r;
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [o.topic], fromBeginning: false });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (batch.partition !== partition) return;
          for (const m of batch.messages) {
            const at = BigInt(m.offset);
            if (at < first) continue;
            if (want.has(m.offset)) {
              const headers = originalHeaders(m.headers);
              found.set(m.offset, { value: m.value, key: m.key, timestamp: m.timestamp, ...(headers && { headers }) });
            }
            if (at >= last) {
              finish();
              return;
            }
          }
          // Nothing past the end of the partition (a missing offset, e.g. compacted away).
          if (BigInt(batch.highWatermark) <= BigInt(batch.lastOffset()) + 1n) finish();
        },
      });
      consumer.seek({ topic: o.topic, partition, offset: first.toString() });
      await Promise.race([
        finished,
        new Promise<void>((r) => {
          timer = setTimeout(r, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => {});
      await o.admin.deleteGroups([groupId]).catch((err: Error) => {
        o.logger?.warn(
          { groupId, err: err.message },
          'deleting the throwaway group that read dead letters back failed',
        );
      });
    }
    if (found.size < want.size) {
      o.logger?.warn(
        { partition, wanted: want.size, read: found.size },
        'some refused rows could not be read back from Kafka: their dead letters carry the encoded row',
      );
    }
    return found;
  };
}
