// The dead-letter queue as the pipeline sees it: one `write` that reaches every configured sink
// (Kafka topic and/or file). With neither configured, writing fails: nothing is silently dropped.
import type { Kafka } from 'kafkajs';
import type { DlqConfig } from '../config/types.ts';
import type { RejectedRow } from '../writer/writer.ts';
import { FileDlqSink } from './file-sink.ts';
import { KafkaDlqSink } from './kafka-sink.ts';
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
    await Promise.all(this.sinks.map((s) => s.write(records)));
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}

/**
 * Records for rows the writer refused. `original(offset)` gives the message's original bytes when
 * the pipeline kept them; otherwise the encoded row stands in (it is what Doris refused).
 */
export function recordsForRejected(
  sink: string,
  batch: { topic: string; partition: number },
  rows: readonly RejectedRow[],
  original?: (offset: string) => { value: Buffer | null; key: Buffer | null } | undefined,
  now: Date = new Date(),
): DlqRecord[] {
  const time = now.toISOString();
  return rows.map((r) => {
    const o = original?.(r.offset);
    return {
      sink,
      topic: batch.topic,
      partition: batch.partition,
      offset: r.offset,
      reason: r.reason,
      time,
      value: o ? o.value : Buffer.from(r.row),
      key: o ? o.key : null,
    };
  });
}
