// Settle a newly assigned partition before loading anything (DESIGN §3): read its watermark and
// intents, ask Doris about each intent's label, complete the ones in Doris, wait for the running
// ones, and compute where to resume and which holes to reload with their exact labels. State that
// cannot belong to the partition's log (the topic was re-created or truncated) is refused first,
// for good: see stale.ts.
import { sleep } from '../writer/backoff.ts';
import type { LabelState } from '../writer/fe-replies.ts';
import { findStaleInTopic, type LogBounds, StaleStateError } from './stale.ts';
import {
  decideIntent,
  decideMergedIntent,
  type Intent,
  type MergedIntentDecision,
  planResume,
  type ResumePlan,
  unmergedIntent,
} from './state.ts';
import type { DedupeStore } from './store.ts';

export interface SettleOptions {
  store: Pick<
    DedupeStore,
    'topicState' | 'complete' | 'dropIntent' | 'mergedDecision' | 'forgetDecision' | 'staleState' | 'markStale'
  >;
  /** The topic's name, for the refusal's message. */
  topic?: string;
  partition: number;
  /** Kafka's committed offset for the group (next offset to read), null if none. */
  committed: string | null;
  /** Where the partition starts when nothing is known (earliest or latest per `from_earliest`). */
  earliest?: string;
  /** The writer's label-state lookup (`GET /api/{db}/get_load_state`). */
  labelState: (label: string) => Promise<LabelState>;
  /** Commit a pre-committed txn by label (2PC); only needed if such intents can exist. */
  commitPrecommitted?: (label: string) => Promise<void>;
  /** Abort a pre-committed txn by label (a merged load that was never decided 'commit'). */
  abortPrecommitted?: (label: string) => Promise<void>;
  /** The partition's own label for a load starting at `first` (a merged part found not in Doris re-loads under it). */
  singleLabel?: (first: string) => string;
  /**
   * Every partition's log bounds (`admin.fetchTopicOffsets`), fetched only when Redis holds state
   * for the topic. Without it, state is not checked against the log (tests without Kafka); a stale
   * record set earlier still refuses.
   */
  logBounds?: () => Promise<ReadonlyMap<number, LogBounds>>;
  /** Delay between polls of a label still PREPARE, ms. */
  pollMs?: number;
  signal?: AbortSignal;
  now?: () => number;
  onWarning?: (msg: string, intent: Intent) => void;
}

export async function settlePartition(opts: SettleOptions): Promise<ResumePlan> {
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 1000;
  const topic = opts.topic ?? '?';
  // Sticky: once found, the sink's state for the topic stays refused, also after the new log has
  // grown past the old watermark (it would then look fine, and the next try would skip and collide).
  const recorded = await opts.store.staleState();
  if (recorded) throw new StaleStateError(topic, recorded);
  const topicState = await opts.store.topicState();
  const state = topicState.get(opts.partition) ?? { watermark: null, intents: [] };
  if (opts.logBounds && topicState.size > 0) {
    // Read after the state, never before: see findStale. Nothing is settled, loaded or committed
    // for stale state, not even a pre-committed txn of the old log.
    const found = findStaleInTopic(topicState, await opts.logBounds(), new Map([[opts.partition, opts.committed]]));
    if (found) {
      throw new StaleStateError(topic, await opts.store.markStale({ ...found, at: new Date(now()).toISOString() }));
    }
  }
  let watermark = state.watermark;
  const toReload: Intent[] = [];
  // Settle lowest first; completes run before holes are judged against the final watermark.
  const intents = [...state.intents].sort((a, b) => (BigInt(a.first) < BigInt(b.first) ? -1 : 1));
  for (const intent of intents) {
    for (;;) {
      if (opts.signal?.aborted) throw new Error(`settle partition ${opts.partition}: aborted`);
      const state = await opts.labelState(intent.label);
      const decision = intent.merged ? await opts.store.mergedDecision(intent.label) : null;
      const d: MergedIntentDecision = intent.merged
        ? decideMergedIntent(intent, state, decision, now())
        : decideIntent(intent, state, now());
      if (d.action === 'abort') {
        // Best effort: the txn can never be committed (its decision step sees our claim); Doris
        // would time it out anyway.
        await opts.abortPrecommitted?.(intent.label).catch(() => {});
      }
      if (d.action === 'wait') {
        await sleep(pollMs, opts.signal);
        continue;
      }
      if (d.action === 'commit') {
        if (!opts.commitPrecommitted) {
          throw new Error(
            `settle partition ${opts.partition}: label ${intent.label} is PRECOMMITTED and no 2PC committer was given`,
          );
        }
        await opts.commitPrecommitted(intent.label);
        continue; // ask again: COMMITTED/VISIBLE now
      }
      if (d.action === 'complete') {
        watermark = (await opts.store.complete(opts.partition, intent, intent.keys ?? [])) ?? watermark;
      } else {
        if ('warning' in d && d.warning) opts.onWarning?.(d.warning, intent);
        if (!intent.merged) toReload.push(intent);
        else {
          // Decided 'commit' yet not in Doris (aborted by its pre-commit timeout first): it never
          // commits now, and its parts load again under their own labels. The decision goes, or it
          // would stay for good, and a later settle of another part finding the label forgotten
          // by Doris would read it as committed and skip that part.
          if (decision === 'commit') await opts.store.forgetDecision(intent.label);
          if (!opts.singleLabel) {
            throw new Error(`settle partition ${opts.partition}: merged intent ${intent.label} needs a single label`);
          }
          toReload.push(unmergedIntent(intent, opts.singleLabel(intent.first)));
        }
      }
      break;
    }
  }
  return planResume(opts.committed, watermark, toReload, opts.earliest);
}
