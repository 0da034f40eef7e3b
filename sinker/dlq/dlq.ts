// The dead-letter queue as the pipeline sees it: one `write` that reaches every configured sink
// (Kafka topic and/or file). With neither configured, writing fails: nothing is silently dropped.
import type { Kafka } from 'kafkajs';
import type { DlqConfig } from '../config/types.ts';
import type { Logger } from '../logger.ts';
import type { RejectedRow } from '../writer/writer.ts';
import { FileDlqSink } from './file-sink.ts';
import { KafkaDlqSink } from './kafka-sink.ts';
import type { OriginalMessage, OriginalsReader } from './originals.ts';
import type { DlqRecord } from './record.ts';

export interface DlqSink {
  write(records: readonly DlqRecord[]): Promise<void>;
  close(): Promise<void>;
}

export class DeadLetterQueue {
  readonly sinks: DlqSink[];

  constructor(sinks: DlqSink[]) {
    this.sinks = sinks;
  }

  /** The sinks `dlq` configures; `kafka` is needed only for `kafka_topic`. */
  static fromConfig(config: DlqConfig, kafka?: Kafka): DeadLetterQueue {
    const sinks: DlqSink[] = [];
    if (config.kafka_topic) {
      if (!kafka) throw new Error('dlq.kafka_topic is set but no Kafka client was given');
      sinks.push(new KafkaDlqSink(kafka, config.kafka_topic));
    }
    if (config.file_path) sinks.push(new FileDlqSink(config.file_path));
    return new DeadLetterQueue(sinks);
  }

  get enabled(): boolean {
    return this.sinks.length > 0;
  }

  async write(records: readonly DlqRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (this.sinks.length === 0) {
      throw new Error(
        `no dead-letter queue configured (dlq.kafka_topic / dlq.file_path) for ${records.length} records: ${records[0]?.reason}`,
      );
    }
    // Every sink's write over before this one fails: the retry finds what each one holds.
    const results = await Promise.allSettled(this.sinks.map((s) => s.write(records)));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}

/**
 * Records for rows the writer refused. `original(offset)` gives the message's original bytes (read
 * back from Kafka); where it has none the encoded row stands in (it is what Doris refused), and the
 * reason says so.
 */
export function recordsForRejected(
  sink: string,
  batch: { topic: string; partition: number },
  rows: readonly RejectedRow[],
  original?: (offset: string) => OriginalMessage | undefined,
  now: Date = new Date(),
): DlqRecord[] {
  const time = now.toISOString();
  return rows.map((r): DlqRecord => {
    const o = original?.(r.offset);
    const reason =
      o || !original ? r.reason : `${r.reason} (original message not readable: the value is the encoded row)`;
    const common = { sink, topic: batch.topic, partition: batch.partition, offset: r.offset, reason, time };
    if (!o) return { ...common, value: Buffer.from(r.row), key: null };
    return {
      ...common,
      value: o.value,
      key: o.key,
      ...(o.timestamp !== undefined && { timestamp: o.timestamp }),
      ...(o.headers && { headers: o.headers }),
    };
  });
}

/** recordsForRejected with the original messages read back by `reader` (none given: encoded rows). */
export async function rejectedRecordsWithOriginals(
  sink: string,
  batch: { topic: string; partition: number },
  rows: readonly RejectedRow[],
  reader: OriginalsReader | undefined,
  logger?: Logger,
): Promise<DlqRecord[]> {
  if (!reader || rows.length === 0) return recordsForRejected(sink, batch, rows);
  const originals = await reader(
    batch.partition,
    rows.map((r) => r.offset),
  ).catch((err: Error) => {
    logger?.warn({ partition: batch.partition, err: err.message }, 'reading refused rows back from Kafka failed');
    return new Map<string, OriginalMessage>();
  });
  return recordsForRejected(sink, batch, rows, (offset) => originals.get(offset));
}
