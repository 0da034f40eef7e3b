// The unit of work between the batcher and the writer: one partition's rows, in offset order.

export interface LoadBatch {
  topic: string;
  partition: number;
  /** Kafka offsets this batch settles, inclusive (int64 as decimal strings, like kafkajs). */
  firstOffset: string;
  lastOffset: string;
  /** Encoded rows (one CSV or JSON line each, no delimiter) in offset order. */
  rows: string[];
  /** The Kafka offset each row came from (same length as rows), to dead-letter a rejected row. */
  rowOffsets: string[];
  /** Sum of the rows' encoded byte lengths. */
  bytes: number;
}
