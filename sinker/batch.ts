// The unit of work between the batcher and the writer: one partition's rows, in offset order.

export interface LoadBatch {
  topic: string;
  partition: number;
  /** Kafka offsets this batch settles, inclusive (int64 as decimal strings, like kafkajs). */
  firstOffset: string;
  lastOffset: string;
  /** Encoded rows (one CSV or JSON line each, no delimiter) in offset order. */
  readonly rows: string[];
  /**
   * The rows already joined by the line delimiter (no trailing one), when the batch was built as
   * bytes (the batcher does): the writer sends it as is. `rows` is then decoded from it on first use
   * (error paths only), and `rowEnds[i]` is where row i ends in it.
   */
  body?: Buffer;
  rowEnds?: readonly number[];
  /** The Kafka offset each row came from (same length as rows), to dead-letter a rejected row. */
  rowOffsets: string[];
  /** Sum of the rows' encoded byte lengths. */
  bytes: number;
  /**
   * Re-loads an unsettled intent's exact range: it must load alone, under its own label, so a
   * zombie owner still sending that label collides with it (never merged with other partitions).
   */
  exact?: boolean;
}
