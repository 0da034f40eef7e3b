// Content dedupe on `dedupe.key_fields` (DESIGN §3): a row whose key was loaded within the TTL, or
// is waiting in a batch that has not finished yet, is a duplicate. Keys reach Redis only when their
// batch's load succeeds (in DedupeStore.complete), so a failed load never marks a row as seen.
import type { DedupeStore } from './store.ts';

export class ContentDedupe {
  readonly #store: Pick<DedupeStore, 'seen'>;
  /** Keys admitted into batches that are not settled yet. */
  readonly #pending = new Set<string>();

  constructor(store: Pick<DedupeStore, 'seen'>) {
    this.#store = store;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * For each key, true when the row is a duplicate and must not join a batch. Non-duplicates become
   * pending until `settle` or `release`. Rejects with DedupeUnavailableError when Redis is away.
   */
  async admit(keys: readonly string[]): Promise<boolean[]> {
    const seen = await this.#store.seen(keys);
    const dup: boolean[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      if (seen[i] || this.#pending.has(k)) {
        dup[i] = true;
      } else {
        dup[i] = false;
        this.#pending.add(k);
      }
    }
    return dup;
  }

  /** The batch holding these keys is settled (loaded and written by DedupeStore.complete, or dead-lettered). */
  settle(keys: readonly string[]): void {
    for (const k of keys) this.#pending.delete(k);
  }

  /** The rows holding these keys will not be loaded (e.g. revoked partition): forget them. */
  release(keys: readonly string[]): void {
    this.settle(keys);
  }
}
