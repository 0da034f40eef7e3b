// Which queued batches load together as one merged load (batch.merge_partitions): pure, so the
// rules are unit-tested. A merged load is fenced by owner tokens, not by label collisions, so a
// batch that relies on its own label (re-loading an unsettled intent) always loads alone.
import type { LoadBatch } from '../batch.ts';

export interface MergeLimits {
  maxRows: number;
  /** Body bytes of one load (rows plus one delimiter byte each). */
  maxBytes: number;
}

/**
 * Removes the first batch of `queue` and, to merge with it, queued batches of other partitions
 * while the sum stays within the limits; returns them in queue order. Batches with no rows and
 * exact re-loads go alone, and are never picked to join another.
 *
 * Per partition only the oldest queued batch may join: a later batch loading (and raising the
 * watermark) while an earlier one still waits in the queue, with no intent recorded yet, would let
 * a crash lose the earlier one (the next owner resumes past the watermark).
 */
export function takeMergeGroup(queue: LoadBatch[], limits: MergeLimits): LoadBatch[] {
  const first = queue.shift();
  if (!first) return [];
  const group = [first];
  if (first.rowOffsets.length === 0 || first.exact) return group;
  let rows = first.rowOffsets.length;
  let bytes = first.bytes + rows;
  /** Partitions whose oldest queued batch was taken or passed over: none of their later ones may join. */
  const seen = new Set([first.partition]);
  for (let i = 0; i < queue.length && rows < limits.maxRows && bytes < limits.maxBytes; ) {
    const b = queue[i]!;
    const n = b.rowOffsets.length;
    const passOver =
      seen.has(b.partition) || n === 0 || b.exact || rows + n > limits.maxRows || bytes + b.bytes + n > limits.maxBytes;
    seen.add(b.partition);
    if (passOver) {
      i++;
      continue;
    }
    queue.splice(i, 1);
    group.push(b);
    rows += n;
    bytes += b.bytes + n;
  }
  return group;
}
