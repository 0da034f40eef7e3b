// The exactly-once state machine of DESIGN §3, as pure decisions. Per partition Redis holds a
// watermark (the highest offset known to be in Doris) and intents (a load that was about to run:
// label + offset range). Offsets at or below the watermark are in Doris except inside intents
// still open there (a later batch finished first): those ranges are holes to settle or reload.
import type { LabelState } from '../writer/fe-replies.ts';

export interface Intent {
  label: string;
  /** Inclusive Kafka offsets (int64 decimal strings). */
  first: string;
  last: string;
  /** When it was recorded, ms since the epoch. */
  created: number;
  /** Content-dedupe keys of the batch's rows (dedupe.key_fields), marked seen when it completes. */
  keys?: string[];
  /**
   * Set when this range is one part of a load merging several partitions (batch.merge_partitions):
   * every part as [partition, first, last]. Such a load is two-phase: it commits only after the
   * owner tokens of all its partitions were checked and a 'commit' decision recorded in Redis.
   */
  merged?: { parts: [number, string, string][] };
}

/** What was decided for a merged load after it pre-committed: null while nothing was. */
export type MergedDecision = 'commit' | 'abort' | null;

export interface PartitionState {
  /** Highest offset known to be in Doris; null when nothing was ever loaded. */
  watermark: string | null;
  intents: Intent[];
}

export function cmpOffset(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

export function maxOffset(a: string, b: string): string {
  return cmpOffset(a, b) >= 0 ? a : b;
}

/** Doris forgets a finished label after 12 h (or 2000 newer loads per db), §4 of the protocol doc. */
export const LABEL_RETENTION_MS = 12 * 3600 * 1000;

/** How long Doris keeps a pre-committed txn before aborting it (stream_load_default_precommit_timeout_second). */
export const PRECOMMIT_TIMEOUT_MS = 3600 * 1000;

export type IntentDecision =
  /** The load is in Doris: advance the watermark to `last` and delete the intent (one atomic step). */
  | { action: 'complete' }
  /** Not in Doris (label free): load the range again with the same label. */
  | { action: 'reload'; warning?: string }
  /** Still running in Doris: ask again later. */
  | { action: 'wait' }
  /** Pre-committed under this sink's label: commit it, then complete. */
  | { action: 'commit' };

/** What to do with an intent found in Redis, given its label's state in Doris. */
export function decideIntent(intent: Intent, state: LabelState, now: number): IntentDecision {
  switch (state) {
    case 'VISIBLE':
    case 'COMMITTED':
      return { action: 'complete' };
    case 'PREPARE':
      return { action: 'wait' };
    case 'PRECOMMITTED':
      return { action: 'commit' };
    case 'ABORTED':
      return { action: 'reload' };
    default:
      // UNKNOWN: never begun, or forgotten by Doris. Past the retention window a committed load
      // looks the same as one that never ran: reloading is the only choice, and it may duplicate.
      if (now - intent.created >= LABEL_RETENTION_MS) {
        return {
          action: 'reload',
          warning: `intent ${intent.label} [${intent.first}..${intent.last}] is older than Doris keeps labels; reloading it may duplicate rows if it had committed`,
        };
      }
      return { action: 'reload' };
  }
}

export type MergedIntentDecision =
  | IntentDecision
  /** Pre-committed but never decided (or decided 'abort'): abort the txn, then load the range again. */
  | { action: 'abort' };

/**
 * What to do with a part of a merged load found in Redis, given its label's state and the decision.
 * The partition was claimed before this runs, so an undecided load can never be committed any more
 * (its owner's decision step checks the claim): the range is simply not in Doris.
 */
export function decideMergedIntent(
  intent: Intent,
  state: LabelState,
  decision: MergedDecision,
  now: number,
): MergedIntentDecision {
  if (decision === 'commit') {
    // Decided after it pre-committed, and nobody aborts a decided load: unknown to Doris within the
    // pre-commit timeout means committed and then forgotten (a busy database keeps only its newest
    // 2000 labels), not aborted. Loading it again would duplicate it.
    if (state === 'UNKNOWN' && now - intent.created < PRECOMMIT_TIMEOUT_MS) return { action: 'complete' };
    return decideIntent(intent, state, now);
  }
  switch (state) {
    case 'VISIBLE':
    case 'COMMITTED':
      // Committed although undecided cannot happen with 2PC; the rows are there, so never load them twice.
      return { action: 'complete' };
    case 'PRECOMMITTED':
      return { action: 'abort' };
    default:
      // PREPARE (still streaming: it will be refused at the decision), ABORTED, UNKNOWN.
      return decideIntent(intent, state === 'PREPARE' ? 'ABORTED' : state, now);
  }
}

/**
 * The single-partition intent that re-loads one part of a merged load found not in Doris: the
 * same exact range under the partition's own deterministic label, so every later attempt (a crash
 * while re-loading, a zombie's fallback to per-partition loads) collides on that label.
 */
export function unmergedIntent(intent: Intent, label: string): Intent {
  const { merged: _merged, ...rest } = intent;
  return { ...rest, label };
}

export interface ReloadRange {
  intent: Intent;
  /** Always true: the range is loaded with exactly these boundaries and this label. */
  exact: boolean;
}

export interface ResumePlan {
  /** Where the consumer seeks. */
  seekOffset: string;
  /** Offsets at or below it are in Doris unless inside a `reload` range. */
  watermark: string | null;
  /** Intents to load again (already settled as not in Doris), each with its exact range and label. */
  reload: ReloadRange[];
}

/**
 * Where to resume a newly assigned partition once every intent is settled to complete or reload.
 * `committed` is Kafka's committed offset (the next offset to read), null when the group has none;
 * `earliest` is where the partition starts when neither Kafka nor Redis knows anything.
 *
 * Every intent to reload keeps its exact range, also one above the watermark: its label may still
 * be sent by the owner that recorded it (a zombie after a rebalance), and Doris only refuses the
 * duplicate as harmless if both owners send the same offsets under that label. A batch with other
 * boundaries under the same label would lose or double the difference.
 */
export function planResume(
  committed: string | null,
  watermark: string | null,
  toReload: readonly Intent[],
  earliest = '0',
): ResumePlan {
  let seek = committed ?? earliest;
  if (watermark !== null) seek = maxOffset(seek, nextOffset(watermark));
  const reload: ReloadRange[] = [];
  for (const intent of [...toReload].sort((a, b) => cmpOffset(a.first, b.first))) {
    reload.push({ intent, exact: true });
    if (cmpOffset(intent.first, seek) < 0) seek = intent.first;
  }
  return { seekOffset: seek, watermark, reload };
}

export type OffsetDisposition =
  | { kind: 'load' }
  | { kind: 'skip' }
  /** Part of a hole: batch it into exactly this intent's range, with its label. */
  | { kind: 'reload'; intent: Intent };

/** How the pipeline treats a message at `offset` after resuming with `plan`. */
export function offsetDisposition(offset: string, plan: ResumePlan): OffsetDisposition {
  for (const r of plan.reload) {
    if (r.exact && cmpOffset(offset, r.intent.first) >= 0 && cmpOffset(offset, r.intent.last) <= 0) {
      return { kind: 'reload', intent: r.intent };
    }
  }
  if (plan.watermark !== null && cmpOffset(offset, plan.watermark) <= 0) return { kind: 'skip' };
  return { kind: 'load' };
}
