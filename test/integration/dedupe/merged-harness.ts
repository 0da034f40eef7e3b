// What the merged-load (batch.merge_partitions) integration tests share: the Redis entries a run
// records for a merged load, and a settle of one partition through a real writer, on the writer
// harness's sink and the topic `events`.
import type { LoadBatch } from '../../../sinker/batch.ts';
import { settlePartition } from '../../../sinker/dedupe/settle.ts';
import type { DedupeStore, MergedEntry } from '../../../sinker/dedupe/store.ts';
import { mergedLabel } from '../../../sinker/labels.ts';
import type { StreamLoadWriter } from '../../../sinker/writer/writer.ts';
import { SINK } from '../writer/harness.ts';

export const TOPIC = 'events';

/** The merged load of `batches` by the run holding `token` on each: its label and Redis entries. */
export function merged(batches: LoadBatch[], token: string): { label: string; entries: MergedEntry[] } {
  const spec = batches.map((b) => ({ partition: b.partition, first: b.firstOffset, last: b.lastOffset, token }));
  const label = mergedLabel(SINK, TOPIC, spec);
  const parts = spec.map((p): [number, string, string] => [p.partition, p.first, p.last]);
  const created = Date.now();
  return {
    label,
    entries: batches.map((b) => ({
      partition: b.partition,
      token,
      intent: { label, first: b.firstOffset, last: b.lastOffset, created, merged: { parts } },
    })),
  };
}

/** A new owner's settle of `partition` (no committed offset), asking Doris through `w`. */
export function settle(store: DedupeStore, w: StreamLoadWriter, partition: number) {
  return settlePartition({
    store,
    partition,
    committed: null,
    labelState: (l) => w.labelState(l),
    commitPrecommitted: (l) => w.commitPrecommitted(l),
    abortPrecommitted: (l) => w.abortPrecommitted(l),
    singleLabel: (first) => w.labelOf({ topic: TOPIC, partition, firstOffset: first }),
    pollMs: 20,
  });
}
