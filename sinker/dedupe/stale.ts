// Exactly-once state that cannot belong to the log the sinker reads. Watermarks, intents and Doris
// labels are keyed by sink and topic *name*, so a topic deleted and re-created under the same name,
// or a partition whose log Kafka truncated (an unclean leader election), numbers its messages from
// offsets the state already covers. Resuming would skip every new offset up to the old watermark,
// and new loads would reuse labels Doris still holds ("Label Already Exists": counted as loaded,
// never in the table). A settle that finds such state refuses, and records it so that it stays
// refused (docs/exactly-once.md, "Settling a newly assigned partition").
import { cmpOffset, type PartitionState } from './state.ts';

/**
 * A partition's log as the admin client reports it (`fetchTopicOffsets`): `high` is the next offset
 * to be written, `low` the first one still kept.
 */
export interface LogBounds {
  low: string;
  high: string;
}

export type StaleReason = 'watermark' | 'intent' | 'committed';

export interface StaleFinding {
  partition: number;
  /** Which part of the state lies past the log's end. */
  reason: StaleReason;
  /** The offset the state holds and the log does not: the watermark, an intent's last offset, or the committed offset. */
  offset: string;
  /** The partition's watermark (null when it has none). */
  watermark: string | null;
  logStart: string;
  logEnd: string;
}

/** What Redis keeps once stale state was found: the first finding, and when (ISO time). */
export interface StaleRecord extends StaleFinding {
  at: string;
}

/**
 * Whether the state of `partition` (read from Redis BEFORE `log` was fetched) cannot belong to this
 * log; null for state that can. `committed` is Kafka's committed offset (the next to read).
 *
 * Why `x >= high` can never fire in normal operation: every watermark and every intent offset is
 * the offset of a message the consumer read. The consumer reads read-committed (kafkajs's default),
 * so it is only ever handed offsets below the partition's last stable offset (LSO), and the admin
 * client's `fetchTopicOffsets` asks read-committed too: `high` IS the LSO. The LSO never goes back
 * (it is min(high watermark, first offset of the oldest open transaction); the high watermark only
 * grows, and a transaction opened later starts at or above it; on a leader change brokers since
 * Kafka 2.2 answer OFFSET_NOT_AVAILABLE rather than a lower end, KIP-207). So a state recorded
 * before `high` was read holds offsets below it, and `high` read later is larger still: the state
 * must be read first. Were the consumer ever to read uncommitted (up to the high watermark, past an
 * open transaction's LSO), `high` would have to be read uncommitted too, or this would fire wrongly.
 * Normal and never caught: `watermark = high - 1` (all loaded, nothing new), a watermark below `low`
 * (retention deleted loaded messages), no state at all. An empty re-created topic (`high` 0) under
 * a watermark is exactly the case to catch.
 *
 * The committed offset counts only while the partition has state in Redis. Kafka keeps a group's
 * offsets by group id, not by sink name: a sink renamed as the guide says (a new name, fresh
 * Redis state and labels) may keep its `kafka.group_id`, and after a truncation that group's
 * committed offset stays past the log's end. That sink has nothing to protect: Kafka answers its
 * fetch OFFSET_OUT_OF_RANGE and resets it by `kafka.from_earliest`, as it should. With Redis state,
 * a committed offset past the end is the same impossibility as a watermark (the sinker commits only
 * what it read, and only after the rows are in Doris), and it also catches what a watermark cannot:
 * offsets loaded while Redis was away (`dedupe.required: false`) under labels the new log reuses.
 */
export function findStale(
  partition: number,
  state: PartitionState,
  committed: string | null,
  log: LogBounds,
): StaleFinding | null {
  const found = (reason: StaleReason, offset: string): StaleFinding => ({
    partition,
    reason,
    offset,
    watermark: state.watermark,
    logStart: log.low,
    logEnd: log.high,
  });
  if (state.watermark !== null && cmpOffset(state.watermark, log.high) >= 0) return found('watermark', state.watermark);
  // An intent's offsets were read as well (first ≤ last, so this covers its first offset too).
  let last: string | null = null;
  for (const i of state.intents) if (last === null || cmpOffset(i.last, last) > 0) last = i.last;
  if (last !== null && cmpOffset(last, log.high) >= 0) return found('intent', last);
  const hasState = state.watermark !== null || state.intents.length > 0;
  if (hasState && committed !== null && cmpOffset(committed, log.high) > 0) return found('committed', committed);
  return null;
}

/**
 * Whether the sink's state for any partition of the topic cannot belong to the topic's log: the
 * lowest such partition's finding, else null. One stale partition makes the whole topic's state
 * suspect (a re-created topic is re-created whole), so a settle looks at every partition, not only
 * its own: a partition whose new log already grew past its old watermark looks fine alone, and
 * settling it would skip its first offsets and commit past them. `committed` holds the committed
 * offsets read (a settle reads only its own partition's, `check` all of them). Partitions the log
 * does not list (metadata not yet refreshed after the topic grew) are not judged.
 */
export function findStaleInTopic(
  states: ReadonlyMap<number, PartitionState>,
  logs: ReadonlyMap<number, LogBounds>,
  committed: ReadonlyMap<number, string | null>,
): StaleFinding | null {
  for (const partition of [...states.keys()].sort((a, b) => a - b)) {
    const log = logs.get(partition);
    if (!log) continue;
    const found = findStale(partition, states.get(partition)!, committed.get(partition) ?? null, log);
    if (found) return found;
  }
  return null;
}

/** The log message of a refused settle: what happened and what to do (quoted in docs/operations.md). */
export const STALE_STATE_MESSAGE =
  "stale exactly-once state: the topic was re-created or truncated below offsets already loaded, so nothing of it is loaded or committed. Give the sink a new name (docs/operations.md, Deleting and re-creating a topic), or delete the sink's Redis keys (redisKeys): renaming is the safe choice, since Doris keeps the old name's labels for 12 h and takes a new load that reuses one as already loaded, its rows never reaching the table";

/** A settle refused because the sink's state for the topic was found stale (now or by an earlier settle). */
export class StaleStateError extends Error {
  override name = 'StaleStateError';
  readonly record: StaleRecord;
  constructor(topic: string, record: StaleRecord) {
    const what =
      record.reason === 'committed'
        ? `committed offset ${record.offset} is past the log end ${record.logEnd}`
        : `${record.reason === 'watermark' ? 'watermark' : 'an intent reaching offset'} ${record.offset} is at or past the log end ${record.logEnd}`;
    super(`topic ${topic} partition ${record.partition}: ${what} (found ${record.at})`);
    this.record = record;
  }
}
