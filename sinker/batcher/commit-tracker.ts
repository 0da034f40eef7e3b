// Which Kafka offset is safe to commit for one partition. Batches are registered in the order they were
// cut (which is offset order) and settle in any order (loaded, or every row dead-lettered); the commit
// may only cover the longest prefix of settled batches, so a later batch that finishes first never
// carries the commit past an earlier one that is still loading or failing. Ranges are compared by
// registration order, not by offset arithmetic, because Kafka offsets may have gaps (compaction,
// transaction markers).

interface Range {
  first: bigint;
  last: bigint;
  settled: boolean;
}

export class CommitTracker {
  private readonly ranges: Range[] = [];
  private head = 0;
  private readonly byFirst = new Map<string, Range>();
  private committed: bigint | undefined;
  private lastRegistered: bigint | undefined;

  /** `startOffset`: the offset consumption (re)starts from, known to be committed already. */
  constructor(startOffset?: string) {
    if (startOffset !== undefined) this.committed = BigInt(startOffset);
  }

  /** Registers a batch's inclusive offset range; batches must be registered in offset order. */
  register(firstOffset: string, lastOffset: string): void {
    const first = BigInt(firstOffset);
    const last = BigInt(lastOffset);
    if (last < first) throw new Error(`batch range ${firstOffset}..${lastOffset} is reversed`);
    if (this.lastRegistered !== undefined && first <= this.lastRegistered) {
      throw new Error(
        `batch ${firstOffset}..${lastOffset} overlaps or precedes the previous batch ending at ${this.lastRegistered}`,
      );
    }
    const r: Range = { first, last, settled: false };
    this.ranges.push(r);
    this.byFirst.set(firstOffset, r);
    this.lastRegistered = last;
  }

  /**
   * Marks the batch starting at `firstOffset` settled. Returns the offset to commit (the next offset
   * to read, i.e. last settled offset + 1, as Kafka expects) when the commit point advanced, else null.
   */
  settle(firstOffset: string): string | null {
    const r = this.byFirst.get(firstOffset);
    if (!r) throw new Error(`no pending batch starts at offset ${firstOffset}`);
    r.settled = true;
    this.byFirst.delete(firstOffset);
    let advanced = false;
    while (this.head < this.ranges.length && this.ranges[this.head]!.settled) {
      this.committed = this.ranges[this.head]!.last + 1n;
      this.head++;
      advanced = true;
    }
    // Drop the covered prefix now and then (amortized O(1) per batch): kept, 1,024 covered ranges a
    // partition were a soak's slowest-filling part of the heap (a dead-lettered offset is a range too).
    if (this.head > 64 && this.head * 2 > this.ranges.length) {
      this.ranges.splice(0, this.head);
      this.head = 0;
    }
    return advanced ? this.committed!.toString() : null;
  }

  /** The offset safe to commit now (exclusive end of the settled prefix), or null if nothing settled yet. */
  get committable(): string | null {
    return this.committed === undefined ? null : this.committed.toString();
  }

  /** Batches registered and not yet covered by the commit point (settled out of order ones included). */
  get pending(): number {
    return this.ranges.length - this.head;
  }

  /** Ranges held, covered ones not yet dropped included (bounded: see settle). */
  get held(): number {
    return this.ranges.length;
  }
}
