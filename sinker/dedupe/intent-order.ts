// Intents of one partition are recorded in offset order: a batch records its intent only once every
// earlier batch of its partition has recorded its own, or has gone without one. Otherwise a later
// batch could load and raise the watermark while an earlier one waits (Redis away, a retry's
// back-off, a merged load still forming) with no intent, and a crash at that moment would lose the
// earlier one: the next owner resumes past the watermark (DESIGN §3).

export class IntentOrder {
  /** First offsets of the batches whose intent is not recorded yet. */
  readonly #waiting = new Set<bigint>();
  #wakers: (() => void)[] = [];

  /** A batch from `first` is queued (call in offset order, as batches are cut). */
  add(first: string): void {
    this.#waiting.add(BigInt(first));
  }

  /** The batch from `first` recorded its intent, or will never record one (settled, dropped). */
  done(first: string): void {
    if (!this.#waiting.delete(BigInt(first))) return;
    const wakers = this.#wakers;
    this.#wakers = [];
    for (const wake of wakers) wake();
  }

  /** Whether the batch from `first` may record its intent now. */
  mayRecord(first: string): boolean {
    const f = BigInt(first);
    for (const w of this.#waiting) if (w < f) return false;
    return true;
  }

  /** Resolves when the batch from `first` may record its intent, or when `signal` aborts. */
  async turn(first: string, signal?: AbortSignal): Promise<void> {
    while (!this.mayRecord(first) && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        this.#wakers.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  get size(): number {
    return this.#waiting.size;
  }
}
