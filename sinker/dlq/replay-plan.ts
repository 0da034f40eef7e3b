// The pure part of `doris-sinker replay`'s exactly-once bookkeeping: replay intents, how records are
// cut into loads, and what to do with an intent an interrupted replay left behind. The Redis side
// is replay-state.ts; the loads are replay.ts.
import { replayLabel } from '../labels.ts';
import type { LabelState } from '../writer/fe-replies.ts';

/**
 * A replay load about to run (or that ran and was not yet recorded as done): its label and the exact
 * offsets of one partition it carries. Recorded in Redis before the load; the records are marked
 * replayed and the intent dropped in one step once the load is known to be in Doris.
 */
export interface ReplayIntent {
  label: string;
  partition: number;
  /** The records' original offsets, ascending and distinct (int64 decimal strings). */
  offsets: string[];
  /**
   * Offsets Doris refused while this intent's load ran: the load under the label carries the rest,
   * and these are never marked (a later replay loads them after a fix, under another label).
   */
  refused?: string[];
  /** When it was recorded, ms since the epoch. */
  created: number;
}

export function cmpOffsets(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Distinct offsets in ascending numeric order. */
export function sortOffsets(offsets: Iterable<string>): string[] {
  return [...new Set(offsets)].sort(cmpOffsets);
}

/** Consecutive chunks of at most `maxRows` offsets (the input's order kept). */
export function chunkOffsets(offsets: readonly string[], maxRows: number): string[][] {
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new Error(`replay: chunk size must be >= 1, got ${maxRows}`);
  const out: string[][] = [];
  for (let i = 0; i < offsets.length; i += maxRows) out.push(offsets.slice(i, i + maxRows));
  return out;
}

/** The offsets the intent's load carries: its offsets minus those Doris refused. */
export function pendingOffsets(intent: Pick<ReplayIntent, 'offsets' | 'refused'>): string[] {
  if (!intent.refused || intent.refused.length === 0) return intent.offsets;
  const refused = new Set(intent.refused);
  return intent.offsets.filter((o) => !refused.has(o));
}

/**
 * The intents of new replay loads for one partition: every offset in `loadable` that is not yet
 * replayed (`replayed`) and not held by another open intent (`held`), in ascending order, cut into
 * chunks of `maxRows`, each labelled from its exact offsets and how often Doris refused each before.
 */
export function planLoads(opts: {
  sink: string;
  topic: string;
  partition: number;
  loadable: Iterable<string>;
  replayed: ReadonlySet<string>;
  held?: ReadonlySet<string>;
  /** offset → times Doris refused it in earlier replays. */
  refusedBefore?: ReadonlyMap<string, number>;
  maxRows: number;
  now: number;
}): ReplayIntent[] {
  const todo = sortOffsets(opts.loadable).filter((o) => !opts.replayed.has(o) && !opts.held?.has(o));
  return chunkOffsets(todo, opts.maxRows).map((offsets) => ({
    label: replayLabel(opts.sink, opts.topic, opts.partition, offsets, opts.refusedBefore),
    partition: opts.partition,
    offsets,
    created: opts.now,
  }));
}

export type LeftoverDecision =
  /** Every record it carries was read again: load them under its label (Doris refuses a second copy). */
  | { action: 'reload' }
  /** Some were not read this time: ask Doris for the label's state, then decideByLabelState. */
  | { action: 'ask-doris' };

/** How to settle an intent an interrupted replay left, given which records this run read. */
export function decideLeftover(intent: ReplayIntent, has: (offset: string) => boolean): LeftoverDecision {
  return pendingOffsets(intent).every(has) ? { action: 'reload' } : { action: 'ask-doris' };
}

export type LabelDecision =
  /** In Doris: mark its records replayed and drop the intent. */
  | { action: 'complete' }
  /** Never committed: drop the intent; its records are not replayed and load as new ones. */
  | { action: 'drop' }
  /** Still running (or pre-committed) in Doris: leave it for a later replay. */
  | { action: 'wait' };

/** What to do with a leftover intent whose records were not all read again, from its label's state. */
export function decideByLabelState(state: LabelState): LabelDecision {
  switch (state) {
    case 'VISIBLE':
    case 'COMMITTED':
      return { action: 'complete' };
    case 'PREPARE':
    case 'PRECOMMITTED':
      return { action: 'wait' };
    default:
      return { action: 'drop' };
  }
}

/** A leftover intent's label may have been forgotten by Doris (12 h): a committed load then looks like none. */
export function olderThanLabelRetention(
  intent: Pick<ReplayIntent, 'created'>,
  now: number,
  retentionMs: number,
): boolean {
  return now - intent.created >= retentionMs;
}

/** Parse an intent read from Redis; throws naming the field when it is not one. */
export function parseReplayIntent(json: string, where: string): ReplayIntent {
  let o: Partial<ReplayIntent>;
  try {
    o = JSON.parse(json) as Partial<ReplayIntent>;
  } catch {
    throw new Error(`${where}: replay intent is not JSON: ${json.slice(0, 100)}`);
  }
  if (
    typeof o.label !== 'string' ||
    !Number.isInteger(o.partition) ||
    !Array.isArray(o.offsets) ||
    !o.offsets.every((x) => typeof x === 'string') ||
    typeof o.created !== 'number' ||
    (o.refused !== undefined && (!Array.isArray(o.refused) || !o.refused.every((x) => typeof x === 'string')))
  ) {
    throw new Error(`${where}: not a replay intent: ${json.slice(0, 100)}`);
  }
  return o as ReplayIntent;
}
