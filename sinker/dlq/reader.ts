// Read dead-lettered records back for `doris-sinker replay`: from the JSON-lines file, or from the
// DLQ topic up to the end offsets it had when reading started.
import { createReadStream } from 'node:fs';
import type { Kafka } from 'kafkajs';
import { type DlqRecord, DlqRecordError, fromJsonLine, fromKafkaMessage } from './record.ts';

/**
 * The lines of a file, cut at \n only: node:readline also cuts at U+2028 and U+2029, which a DLQ
 * line written before they were escaped holds raw inside its strings.
 */
async function* linesOf(path: string): AsyncGenerator<string> {
  // The start of the line under way, in pieces: a record of many MiB is joined once, not per chunk.
  let head: string[] = [];
  const chunks = createReadStream(path, { encoding: 'utf8' });
  try {
    for await (const chunk of chunks) {
      const text = chunk as string;
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
        head.push(text.slice(from, nl));
        yield head.join('');
        head = [];
        from = nl + 1;
      }
      if (from < text.length) head.push(text.slice(from));
    }
  } catch (err) {
    // The file itself (a directory, no permission, an I/O error): the read stops, naming it.
    throw new DlqReadError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (head.length > 0) yield head.join('');
}

/**
 * Every record of a DLQ file, in order. A malformed line throws naming its line number. A line cut
 * short (an append a crash or a full disk interrupted: never acknowledged, so the sinker wrote its
 * records again) goes to `onCutShort` with where it is, when given, and is skipped.
 */
export async function* readDlqFile(path: string, onCutShort?: (where: string) => void): AsyncGenerator<DlqRecord> {
  let n = 0;
  for await (const line of linesOf(path)) {
    n++;
    if (line.trim() === '') continue;
    let record: DlqRecord;
    try {
      record = fromJsonLine(line, `${path}:${n}`);
    } catch (err) {
      if (!(onCutShort && err instanceof DlqRecordError && err.cutShort)) throw err;
      onCutShort(`${path}:${n}`);
      continue;
    }
    yield record;
  }
}

export interface DlqTopicRecord extends DlqRecord {
  /** Where the record sits in the DLQ topic. */
  dlqPartition: number;
  dlqOffset: string;
}

export interface ReadDlqTopicOptions {
  kafka: Kafka;
  topic: string;
  /**
   * Consumer group of the reader, which commits its progress there and resumes from it. Default: a
   * fresh group (reads everything; replay reads this way: what it replayed is recorded in Redis).
   */
  groupId?: string;
  /** How often to look again while waiting for records, ms (default 1 s): a record wakes the reader at once. */
  idleMs?: number;
  /**
   * Give up, with an error saying why, after this long without progress, ms (default 30 s): no
   * record from the partitions still to read while the reader waits for them (another member of the
   * group holds them, or their leader is unavailable), or the group's position failing to commit.
   */
  stallMs?: number;
  /**
   * Given, a message of the topic that is not a dead letter (no dlq.* headers: anything can be
   * produced to a topic, and nothing taken out) goes here and is passed over; else the read stops.
   */
  onNotDeadLetter?: (err: DlqRecordError) => void;
}

/** Reading the DLQ topic stopped: a partition delivered nothing for too long, or the group's position could not be committed. */
export class DlqReadError extends Error {
  override name = 'DlqReadError';
}

/** Commit errors of a group that is rebalancing or whose coordinator moved: the commit is tried again later. */
const DEFERRABLE_COMMIT_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR_FOR_GROUP',
  'NOT_COORDINATOR',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'REQUEST_TIMED_OUT',
]);

/**
 * Whether a failed commit can succeed later: a rebalance or a moved coordinator (kafkajs wraps these
 * in a non-retriable error, the protocol error as its cause), a lost connection or a timeout, or
 * kafkajs giving up its own retries of a retriable error.
 */
export function isDeferrableCommitError(err: unknown): boolean {
  for (
    let e = err as { type?: unknown; name?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.type === 'string' && DEFERRABLE_COMMIT_ERRORS.has(e.type)) return true;
    if (e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSRequestTimeoutError') return true;
    if (e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSNonRetriableError') {
      e = e.cause as typeof e;
      continue;
    }
    // A kafkajs error it would itself try again (kafkajs errors carry `retriable`; others do not).
    return (e as { retriable?: unknown }).retriable === true;
  }
  return false;
}

/** Records of the DLQ topic from the group's position (or the beginning) up to the end offsets seen at start. */
export async function* readDlqTopic(opts: ReadDlqTopicOptions): AsyncGenerator<DlqTopicRecord> {
  const admin = opts.kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  const done = new Set<number>();
  try {
    const offsets = await admin.fetchTopicOffsets(opts.topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    if (opts.groupId) {
      // Partitions the group has already read to the end deliver nothing: don't wait for them.
      const [committed] = await admin.fetchOffsets({ groupId: opts.groupId, topics: [opts.topic] });
      for (const p of committed?.partitions ?? []) {
        if (p.offset !== '-1' && BigInt(p.offset) >= (ends.get(p.partition) ?? 0n)) done.add(p.partition);
      }
    }
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set([...ends].filter(([p, high]) => high > 0n && !done.has(p)).map(([p]) => p));
  if (remaining.size === 0) return;
  const groupId = opts.groupId ?? `dlq-reader-${process.pid}-${Date.now()}`;
  const stallMs = opts.stallMs ?? 30_000;
  /** Per partition, the offset after the last one queued. */
  const taken = new Map<number, bigint>();
  /** When a record last arrived or the caller last came back for one: the start of a stall. */
  let progressAt = Date.now();

  const consumer = opts.kafka.consumer({
    groupId,
    // Disconnecting waits for the fetch under way, which at the end of the topic waits this long for
    // data (kafkajs's default: 5 s, the time a reader group's read took to end).
    maxWaitTimeInMs: 250,
  });
  const queue: DlqTopicRecord[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  const notify = () => {
    wake?.();
    wake = undefined;
  };

  // The group's position is a progress marker (replay's own bookkeeping is in Redis): per
  // partition, the offset after the last record the caller came back from. A commit that fails
  // while the group rebalances or its coordinator moves is tried again with the next record and at
  // the end; the record is yielded once either way. Only the last record the caller took and did
  // not come back from (it stopped reading) is left uncommitted.
  const uncommitted = new Map<number, bigint>();
  /** When commits started failing (undefined while they land), and when to try again. */
  let commitFailingSince: number | undefined;
  let commitRetryAt = 0;
  const positions = () =>
    [...uncommitted]
      .sort((a, b) => a[0] - b[0])
      .map(([p, next]) => `partition ${p} at ${next}`)
      .join(', ');
  /** Commits what is uncommitted: true once it landed, false for a failure worth trying again. */
  const commit = async (): Promise<boolean> => {
    if (uncommitted.size === 0) return true;
    try {
      await consumer.commitOffsets(
        [...uncommitted].map(([partition, next]) => ({ topic: opts.topic, partition, offset: next.toString() })),
      );
    } catch (err) {
      const what = `consumer group "${groupId}" cannot commit its position on DLQ topic ${opts.topic} (${positions()}): ${(err as Error).message}`;
      if (!isDeferrableCommitError(err)) throw new DlqReadError(what, { cause: err });
      commitFailingSince ??= Date.now();
      if (Date.now() - commitFailingSince >= stallMs) {
        throw new DlqReadError(
          `${what}, for ${Math.round(stallMs / 1000)} s. Every record was read once; the group's next read starts at its last committed position and reads the rest again`,
          { cause: err },
        );
      }
      commitRetryAt = Date.now() + 500;
      return false;
    }
    uncommitted.clear();
    commitFailingSince = undefined;
    return true;
  };
  /** The end of a read: what is uncommitted lands, retried while the group settles. */
  const commitAll = async (): Promise<void> => {
    for (let pause = 250; !(await commit()); pause = Math.min(pause * 2, 2000)) {
      await new Promise((r) => setTimeout(r, pause));
    }
  };
  const stalled = () => {
    const missing = [...remaining]
      .sort((a, b) => a - b)
      .map((p) => `${p} (${taken.has(p) ? `at ${taken.get(p)}` : 'nothing yet'}, end ${ends.get(p)})`)
      .join(', ');
    const why = opts.groupId
      ? `another member of consumer group "${groupId}" holds them (kafka-consumer-groups.sh --describe --group ${groupId} lists its members), or their leader is unavailable. Stop the other reader of the group, or wait for the brokers, and read again: the group resumes at its committed position`
      : 'their leader is unavailable or cannot be fetched from (kafka-topics.sh --describe --topic shows the leaders). Read again once the brokers are back';
    return new DlqReadError(
      `DLQ topic ${opts.topic}: no record from partition${remaining.size === 1 ? '' : 's'} ${missing} for ${Math.round(stallMs / 1000)} s: ${why}`,
    );
  };

  let thrown = false;
  /** The caller stopped reading: the fetch loop must not wait for the queue (disconnecting waits for it). */
  let closing = false;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message, heartbeat }) => {
        const high = ends.get(partition) ?? 0n;
        const offset = BigInt(message.offset);
        // A rejoin of the group (a rebalance, a lost heartbeat) starts the partition again from the
        // committed offset (a fresh group: from the beginning), so what was queued is delivered
        // again: each offset is taken once.
        const next = taken.get(partition);
        if (next !== undefined && offset < next) return;
        taken.set(partition, offset + 1n);
        progressAt = Date.now();
        if (offset >= high) {
          remaining.delete(partition);
        } else {
          try {
            queue.push({
              ...fromKafkaMessage(message, `${opts.topic}[${partition}]@${message.offset}`),
              dlqPartition: partition,
              dlqOffset: message.offset,
            });
          } catch (e) {
            if (opts.onNotDeadLetter && e instanceof DlqRecordError) opts.onNotDeadLetter(e);
            else failure = e;
          }
          if (offset + 1n >= high) remaining.delete(partition);
        }
        notify();
        // Backpressure: hold the fetch loop while the reader is behind (replay loads a window of
        // records before it reads on), sending the group heartbeats meanwhile: kafkajs sends them
        // only between messages, and a member silent for sessionTimeout (30 s) is dropped.
        while (queue.length > 1000 && failure === undefined && !closing) {
          await new Promise((r) => setTimeout(r, 5));
          await heartbeat();
        }
      },
    });
    for (;;) {
      if (failure !== undefined) throw failure;
      const next = queue.shift();
      if (next) {
        yield next;
        progressAt = Date.now();
        if (opts.groupId) {
          uncommitted.set(next.dlqPartition, BigInt(next.dlqOffset) + 1n);
          if (Date.now() >= commitRetryAt) await commit();
        }
        continue;
      }
      if (remaining.size === 0) break;
      const left = stallMs - (Date.now() - progressAt);
      if (left <= 0) throw stalled();
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.min(opts.idleMs ?? 1000, left));
      });
    }
  } catch (err) {
    thrown = true;
    throw err;
  } finally {
    closing = true;
    try {
      // At the end, or when the caller stops: the position lands. After a failure: one try.
      if (opts.groupId) await (thrown ? commit().catch(() => false) : commitAll());
    } finally {
      await consumer.disconnect();
    }
  }
}
