// Offset commits that failed and must be tried again, per partition. A commit lost to a rebalance
// or a coordinator move is safe (the watermark in Redis covers the batch), but Kafka's lag would stay
// behind until the partition's next load — for good on a quiet partition — and lag drives scaling.
// Pure bookkeeping: the pipeline commits; this says what to retry, and never an offset below one
// already committed (Kafka would take the group's position backwards).

export class PendingCommits {
  /** Per partition, the offset whose commit failed last. */
  readonly #failed = new Map<number, bigint>();
  /** Per partition, the highest offset committed. */
  readonly #committed = new Map<number, bigint>();

  /** A commit of `offset` (next offset to read) succeeded. */
  succeeded(partition: number, offset: string): void {
    const at = BigInt(offset);
    const high = this.#committed.get(partition);
    if (high === undefined || at > high) this.#committed.set(partition, at);
    const failed = this.#failed.get(partition);
    if (failed !== undefined && failed <= at) this.#failed.delete(partition);
  }

  /** A commit of `offset` failed: retry it, unless something newer is already committed or pending. */
  failed(partition: number, offset: string): void {
    const at = BigInt(offset);
    const high = this.#committed.get(partition);
    const prev = this.#failed.get(partition);
    if ((high === undefined || at > high) && (prev === undefined || at > prev)) this.#failed.set(partition, at);
  }

  /** The partition is no longer this run's (revoked, or assigned afresh): forget it. */
  forget(partition: number): void {
    this.#failed.delete(partition);
    this.#committed.delete(partition);
  }

  get size(): number {
    return this.#failed.size;
  }

  /** What to commit again now, for the partitions still owned (the others are forgotten). */
  due(owned: (partition: number) => boolean): Array<[number, string]> {
    const out: Array<[number, string]> = [];
    for (const [partition, offset] of this.#failed) {
      if (owned(partition)) out.push([partition, offset.toString()]);
      else this.forget(partition);
    }
    return out;
  }
}
