// Consumer-group lag from offsets (the rules of KEDA's Kafka scaler). Offsets are int64: BigInt only.

export interface PartitionOffsets {
  partition: number;
  /** Log-start offset (oldest retained message). */
  low: bigint;
  /** Log-end offset (next offset to be written). */
  high: bigint;
  /** The group's committed offset; undefined or negative (Kafka's −1) = no commit. */
  committed?: bigint;
}

export interface LagSummary {
  total: bigint;
  perPartition: Map<number, bigint>;
  partitionsWithLag: number;
  maxPartitionLag: bigint;
  /**
   * Partitions holding data that the group never committed, counted 1 each without `fromEarliest`:
   * their backlog is not known until a sinker has run on them (scaling/recommend.ts activates one).
   */
  uncommitted: number;
}

/**
 * Lag of one partition. Without a usable commit the consumer starts where `fromEarliest` says:
 * earliest → the whole retained range (high − low, not high, which would overstate after retention
 * deleted the head); latest → 1 when the partition holds data (so an idle group still activates one
 * replica that will commit), else 0. A commit below the log start was deleted by retention: the
 * consumer resets by the same rule. A commit past the end (topic recreated) counts 0.
 */
export function partitionLag(p: PartitionOffsets, fromEarliest: boolean): bigint {
  const retained = p.high > p.low ? p.high - p.low : 0n;
  const noCommit = p.committed === undefined || p.committed < 0n;
  if (noCommit || (p.committed as bigint) < p.low) {
    if (fromEarliest) return retained;
    return retained > 0n && noCommit ? 1n : 0n;
  }
  const lag = p.high - (p.committed as bigint);
  return lag > 0n ? lag : 0n;
}

export function summarizeLag(partitions: readonly PartitionOffsets[], fromEarliest: boolean): LagSummary {
  const perPartition = new Map<number, bigint>();
  let total = 0n;
  let max = 0n;
  let withLag = 0;
  let uncommitted = 0;
  for (const p of partitions) {
    const lag = partitionLag(p, fromEarliest);
    if (!fromEarliest && lag > 0n && (p.committed === undefined || p.committed < 0n)) uncommitted++;
    perPartition.set(p.partition, lag);
    total += lag;
    if (lag > max) max = lag;
    if (lag > 0n) withLag++;
  }
  return { total, perPartition, partitionsWithLag: withLag, maxPartitionLag: max, uncommitted };
}

/** Parses a kafkajs offset string ("-1" for none); throws naming the partition on garbage. */
export function parseOffset(text: string | undefined, what: string): bigint | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^-?[0-9]+$/.test(text)) throw new Error(`${what}: offset ${JSON.stringify(text)} is not an integer`);
  return BigInt(text);
}

/** BigInt → number for status fields; saturates instead of losing the sign or wrapping. */
export function lagToNumber(lag: bigint): number {
  return lag > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(lag);
}
