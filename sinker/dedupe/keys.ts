// Redis key names for one sink and topic. Every key shares the hash tag `{sink:topic}`, so the
// Lua scripts that touch several of them run on one slot of a Redis Cluster too.
import { createHash } from 'node:crypto';

export interface DedupeKeys {
  /** Hash: partition → watermark offset. */
  watermarks: string;
  /** Hash: `partition:first` → intent JSON. */
  intents: string;
  /** Prefix of content-dedupe keys (string keys with a TTL). */
  contentPrefix: string;
  /** Hash: partition → token of the run that owns it (fences a zombie owner's new intents). */
  owners: string;
  /** Hash: merged load label → 'commit' | 'abort' (batch.merge_partitions). */
  decisions: string;
  /** String: the topic's partition count when the sink first consumed it; higher partitions were added later. */
  firstPartitions: string;
  /** String: JSON of the first stale state found (topic re-created or truncated); while set, every settle refuses. */
  stale: string;
  /** Glob of every key of this sink and topic, for `redis-cli --scan --pattern`. */
  pattern: string;
}

export function dedupeKeys(keyPrefix: string, sink: string, topic: string): DedupeKeys {
  const base = `${keyPrefix}{${sink}:${topic}}`;
  return {
    watermarks: `${base}:wm`,
    intents: `${base}:intents`,
    contentPrefix: `${base}:k:`,
    owners: `${base}:owner`,
    decisions: `${base}:decided`,
    firstPartitions: `${base}:partitions0`,
    stale: `${base}:stale`,
    pattern: `${base.replace(/[*?[\]\\]/g, '\\$&')}*`,
  };
}

/**
 * Keys of `doris-sinker replay` for one sink and topic: the same prefix and hash tag as the
 * pipeline's, under `:replay:`, so its two writes that go together (mark records replayed, drop the
 * intent) run on one slot, and no pipeline key is ever touched.
 */
export interface ReplayKeys {
  /** Hash: replay load label → replay intent JSON (label, partition, exact offsets). */
  intents: string;
  /** Set of the offsets of `partition` already replayed into Doris. */
  replayed(partition: number): string;
  /** Hash: offset of `partition` → how often Doris refused it in a replay (part of its next label). */
  refused(partition: number): string;
}

export function replayKeys(keyPrefix: string, sink: string, topic: string): ReplayKeys {
  const base = `${keyPrefix}{${sink}:${topic}}:replay`;
  return {
    intents: `${base}:intents`,
    replayed: (partition) => `${base}:done:${partition}`,
    refused: (partition) => `${base}:refused:${partition}`,
  };
}

export function intentField(partition: number, first: string): string {
  return `${partition}:${first}`;
}

/**
 * The content key of a row from the values of `dedupe.key_fields`, in order. Values are joined
 * unambiguously (JSON) and hashed, so keys stay short whatever the values hold.
 */
export function contentKey(values: readonly (string | number | boolean | null | undefined)[]): string {
  return createHash('sha1')
    .update(JSON.stringify(values.map((v) => (v === undefined ? null : v))))
    .digest('base64url');
}
