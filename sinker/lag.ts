// kafka_consumer_lag: end offset minus committed offset for each partition this member owns. The
// numbers are pure arithmetic on what the admin client read; the series of a partition that moved
// to another member are removed, else its last value would count twice in a sum over the group.
import type { Gauge } from 'prom-client';

export interface PartitionEnd {
  partition: number;
  high: string;
}

export interface PartitionCommit {
  partition: number;
  offset: string;
}

/** Lag per owned partition that has a committed offset (none yet: unknown, left out). */
export function partitionLags(
  owned: Iterable<number>,
  ends: readonly PartitionEnd[],
  committed: readonly PartitionCommit[],
): Map<number, number> {
  const endOf = new Map(ends.map((e) => [e.partition, e.high]));
  const commitOf = new Map(committed.map((c) => [c.partition, c.offset]));
  const out = new Map<number, number>();
  for (const p of owned) {
    const end = endOf.get(p);
    const c = commitOf.get(p);
    if (end === undefined || c === undefined || c === '-1') continue;
    const lag = BigInt(end) - BigInt(c);
    out.set(p, Number(lag < 0n ? 0n : lag));
  }
  return out;
}

export class LagSeries {
  readonly #gauge: Gauge<'topic' | 'partition'>;
  readonly #topic: string;
  readonly #shown = new Set<number>();

  constructor(gauge: Gauge<'topic' | 'partition'>, topic: string) {
    this.#gauge = gauge;
    this.#topic = topic;
  }

  /** Removes the series of partitions no longer owned (call it on every tick, even when reading lag failed). */
  forget(owned: ReadonlySet<number>): void {
    for (const p of this.#shown) {
      if (owned.has(p)) continue;
      this.#gauge.remove({ topic: this.#topic, partition: String(p) });
      this.#shown.delete(p);
    }
  }

  /** Sets the lags read for owned partitions. */
  show(lags: ReadonlyMap<number, number>, owned: ReadonlySet<number>): void {
    this.forget(owned);
    for (const [p, lag] of lags) {
      if (!owned.has(p)) continue;
      this.#gauge.set({ topic: this.#topic, partition: String(p) }, lag);
      this.#shown.add(p);
    }
  }
}
