// The batcher: a pure state machine (no timers, no I/O; the caller passes the clock). Rows are grouped
// per partition (one Stream Load per partition, DESIGN §3) and a batch is cut when it reaches
// max_batch_rows or max_batch_size (body bytes, line delimiters included), or when max_batch_interval
// has passed since its first message. Messages that produce no row (dead-lettered) still join the
// current batch's offset range, so ranges stay contiguous and the commit tracker can pass them.
// Memory is accounted globally (rows filling + batches cut and not yet settled): above
// max_buffer_bytes the batcher says "pause fetching", below the resume mark "resume".
//
// With batch.merge_partitions the pipeline loads batches queued together as one load; the batcher
// helps by cutting every partition's batch when one reaches its interval (alignIntervalCuts), so a
// sink with many quiet partitions makes one load per interval instead of one per partition.
import { Buffer } from 'node:buffer';
import type { LoadBatch } from '../batch.ts';
import { CommitTracker } from './commit-tracker.ts';

export interface BatcherOptions {
  maxBatchRows: number;
  /** Body bytes of one load (rows plus one delimiter byte each). */
  maxBatchBytes: number;
  maxBatchIntervalMs: number;
  /** When one partition's batch reaches max_batch_interval, cut every partition's filling batch too. */
  alignIntervalCuts?: boolean;
  /** Pause fetching when buffered bytes reach this. */
  maxBufferBytes: number;
  /** Resume fetching when buffered bytes fall to this; default half of maxBufferBytes. */
  resumeBufferBytes?: number;
  /** Receives each batch as it is cut (synchronously, in offset order per partition). */
  onBatch: (batch: LoadBatch) => void;
  /** Called when fetching should pause (true) or may resume (false). */
  onBackpressure?: (paused: boolean) => void;
}

interface Filling {
  /**
   * Rows joined by `\n` as they come (no trailing delimiter), in fixed-size chunks: a filling batch
   * holds about the memory of its rows, not of a whole max_batch_size body (eight partitions'
   * half-full 10 MiB bodies were most of the sinker's RSS). Copied into one exact body at the cut.
   */
  chunks: Buffer[];
  /** Bytes used in the last chunk. */
  chunkUsed: number;
  /** Bytes used in all chunks. */
  used: number;
  /** Where each row ends in the joined body. */
  rowEnds: number[];
  rowOffsets: string[];
  bytes: number;
  /** Body bytes: row bytes + one delimiter per row. */
  bodyBytes: number;
  skipped: number;
  firstOffset: string;
  lastOffset: string;
  openedAt: number;
}

interface PartitionState {
  topic: string;
  partition: number;
  generation: number;
  filling: Filling | undefined;
  tracker: CommitTracker;
  /** While set, only `flush` cuts: the batch must cover an exact offset range (re-loading an intent). */
  hold: boolean;
}

interface InFlight {
  key: string;
  generation: number;
  bodyBytes: number;
}

const EMPTY = Buffer.alloc(0);
const NEWLINE = Buffer.from('\n');

/** Size of the chunks a filling batch is written into. */
export const CHUNK_BYTES = 256 * 1024;
/** Free chunks kept for reuse (allocating them again would make V8 collect garbage more often). */
const KEEP_CHUNKS = 64;
/** Exact bodies of settled batches kept for reuse. */
const KEEP_BODIES = 2;

/** The batch of a filled body; `rows` is decoded from the body only if asked for (error paths). */
function bytesBatch(topic: string, partition: number, f: Filling, body: Buffer): LoadBatch {
  const rowEnds = f.rowEnds;
  let rows: string[] | undefined;
  return {
    topic,
    partition,
    firstOffset: f.firstOffset,
    lastOffset: f.lastOffset,
    rowOffsets: f.rowOffsets,
    bytes: f.bytes,
    body,
    rowEnds,
    get rows(): string[] {
      if (rows === undefined) {
        rows = new Array(rowEnds.length);
        for (let i = 0; i < rowEnds.length; i++) {
          rows[i] = body.toString('utf8', i === 0 ? 0 : rowEnds[i - 1]! + 1, rowEnds[i]);
        }
      }
      return rows;
    },
  };
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class Batcher {
  private readonly opts: BatcherOptions;
  private readonly resumeAt: number;
  private readonly parts = new Map<string, PartitionState>();
  /** The partition of the last row: rows come in runs per partition, so most lookups need no key string. */
  private last: PartitionState | undefined;
  private readonly inFlight = new WeakMap<LoadBatch, InFlight>();
  private generation = 0;
  private fillingBytes = 0;
  private fillingRows = 0;
  private inFlightBytes = 0;
  private pausedState = false;
  /**
   * Bodies of settled batches, for reuse: a body is megabytes, and allocating one per batch makes V8
   * collect garbage far more often (it counts the buffers' memory). A body comes back only on settle,
   * when no load can still be reading it.
   */
  private readonly freeBodies: ArrayBuffer[] = [];
  /** Chunks of cut or dropped filling batches, for reuse. */
  private readonly freeChunks: Buffer[] = [];

  constructor(opts: BatcherOptions) {
    if (!(opts.maxBatchRows >= 1) || !(opts.maxBatchBytes >= 1) || !(opts.maxBatchIntervalMs >= 0)) {
      throw new Error('batcher limits must be positive');
    }
    this.opts = opts;
    this.resumeAt = opts.resumeBufferBytes ?? Math.floor(opts.maxBufferBytes / 2);
  }

  /**
   * Starts tracking a partition (on assignment). `startOffset` is where consumption starts; commits
   * report offsets from there on. Re-assigning a partition starts a new generation: settling a batch
   * cut before never moves the new owner's commit point.
   */
  assign(topic: string, partition: number, startOffset?: string): void {
    const key = partitionKey(topic, partition);
    this.dropFilling(this.parts.get(key));
    this.last = undefined;
    this.parts.set(key, {
      topic,
      partition,
      generation: ++this.generation,
      filling: undefined,
      tracker: new CommitTracker(startOffset),
      hold: false,
    });
  }

  /**
   * Stops tracking a partition (on revocation): its filling rows are dropped without loading, and
   * batches already cut no longer move a commit point. Returns the number of rows dropped.
   */
  revoke(topic: string, partition: number): number {
    const key = partitionKey(topic, partition);
    const st = this.parts.get(key);
    const dropped = st?.filling?.rowEnds.length ?? 0;
    this.dropFilling(st);
    this.parts.delete(key);
    this.last = undefined;
    this.checkPressure();
    return dropped;
  }

  private state(topic: string, partition: number): PartitionState {
    const last = this.last;
    if (last !== undefined && last.partition === partition && last.topic === topic) return last;
    const key = partitionKey(topic, partition);
    let st = this.parts.get(key);
    if (!st) {
      this.assign(topic, partition);
      st = this.parts.get(key)!;
    }
    this.last = st;
    return st;
  }

  private open(offset: string, now: number): Filling {
    return {
      chunks: [],
      chunkUsed: 0,
      used: 0,
      rowEnds: [],
      rowOffsets: [],
      bytes: 0,
      bodyBytes: 0,
      skipped: 0,
      firstOffset: offset,
      lastOffset: offset,
      openedAt: now,
    };
  }

  /** Adds one encoded row (no delimiter) from `offset`. */
  add(topic: string, partition: number, offset: string, row: string, now: number): void {
    const bytes = Buffer.from(row, 'utf8');
    this.addBytes(topic, partition, offset, bytes, 0, bytes.length, now);
  }

  /** Adds one encoded row given as the bytes src[start, end) (copied). */
  addBytes(
    topic: string,
    partition: number,
    offset: string,
    src: Uint8Array,
    start: number,
    end: number,
    now: number,
  ): void {
    const st = this.state(topic, partition);
    const size = end - start;
    let f = st.filling;
    // Keep each load within max_batch_size: cut before a row that would overflow it.
    if (f && !st.hold && f.rowEnds.length > 0 && f.bodyBytes + size + 1 > this.opts.maxBatchBytes) {
      this.cut(st);
      f = undefined;
    }
    if (!f) {
      f = this.open(offset, now);
      st.filling = f;
    }
    const delim = f.rowEnds.length === 0 ? 0 : 1;
    const chunk = f.chunks[f.chunks.length - 1];
    let at = f.chunkUsed;
    if (chunk !== undefined && at + delim + size <= chunk.length) {
      // the usual case: the row fits in the current chunk
      if (delim) chunk[at++] = 0x0a;
      if (size > 64) chunk.set(src.subarray(start, end), at);
      else for (let k = 0; k < size; k++) chunk[at + k] = src[start + k]!;
      f.chunkUsed = at + size;
    } else {
      if (delim) this.write(f, NEWLINE, 0, 1);
      this.write(f, src, start, end);
    }
    f.used += delim + size;
    f.rowEnds.push(f.used);
    f.rowOffsets.push(offset);
    f.bytes += size;
    f.bodyBytes += size + 1;
    f.lastOffset = offset;
    this.fillingBytes += size + 1;
    this.fillingRows++;
    if (!st.hold && (f.rowEnds.length >= this.opts.maxBatchRows || f.bodyBytes >= this.opts.maxBatchBytes))
      this.cut(st);
    else this.checkPressure();
  }

  /** Appends src[start, end) to `f`'s chunks, taking new chunks as they fill. */
  private write(f: Filling, src: Uint8Array, start: number, end: number): void {
    while (start < end) {
      let chunk = f.chunks[f.chunks.length - 1];
      if (chunk === undefined || f.chunkUsed === chunk.length) {
        // never from the shared pool: chunks are handed back for reuse whole
        chunk = this.freeChunks.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
        f.chunks.push(chunk);
        f.chunkUsed = 0;
      }
      const n = Math.min(end - start, chunk.length - f.chunkUsed);
      chunk.set(src.subarray(start, start + n), f.chunkUsed);
      f.chunkUsed += n;
      start += n;
    }
  }

  /** Gives a filling batch's chunks back for reuse. */
  private freeChunksOf(f: Filling): void {
    for (const c of f.chunks) if (this.freeChunks.length < KEEP_CHUNKS) this.freeChunks.push(c);
    f.chunks = [];
  }

  /** One buffer holding exactly `f`'s rows, from the reusable bodies when one is big enough. */
  private joinChunks(f: Filling): Buffer {
    if (f.used === 0) return EMPTY;
    let ab: ArrayBuffer | undefined;
    const free = this.freeBodies;
    for (let k = free.length - 1; k >= 0; k--) {
      if (free[k]!.byteLength >= f.used) {
        ab = free[k]!;
        free.splice(k, 1);
        break;
      }
    }
    // Sizes round up to 1 MiB steps (capped by a full body) so a later batch fits a reused one.
    ab ??= new ArrayBuffer(
      Math.max(f.used, Math.min(Math.ceil(f.used / 1048576) * 1048576, this.opts.maxBatchBytes + 64)),
    );
    const body = Buffer.from(ab, 0, f.used);
    let off = 0;
    const last = f.chunks.length - 1;
    for (let i = 0; i <= last; i++) {
      const c = f.chunks[i]!;
      off += c.copy(body, off, 0, i === last ? f.chunkUsed : c.length);
    }
    this.freeChunksOf(f);
    return body;
  }

  /** Records a message that yields no row (dead-lettered, filtered) so the offset range stays contiguous. */
  skip(topic: string, partition: number, offset: string, now: number): void {
    const st = this.state(topic, partition);
    let f = st.filling;
    if (!f) {
      f = this.open(offset, now);
      st.filling = f;
    }
    f.skipped++;
    f.lastOffset = offset;
    if (!st.hold && f.skipped >= this.opts.maxBatchRows) this.cut(st);
  }

  /** Cuts every batch whose interval has passed. Call it at `nextDeadline()` (or on any timer tick). */
  tick(now: number): void {
    const due = (st: PartitionState) =>
      st.filling !== undefined && !st.hold && now - st.filling.openedAt >= this.opts.maxBatchIntervalMs;
    if (this.opts.alignIntervalCuts) {
      let any = false;
      for (const st of this.parts.values()) if (due(st)) any = true;
      if (any) for (const st of this.parts.values()) if (st.filling && !st.hold) this.cut(st);
      return;
    }
    for (const st of this.parts.values()) if (due(st)) this.cut(st);
  }

  /** Earliest time `tick` has work, or undefined when nothing is filling. */
  nextDeadline(): number | undefined {
    let min: number | undefined;
    for (const st of this.parts.values()) {
      if (!st.filling || st.hold) continue;
      const due = st.filling.openedAt + this.opts.maxBatchIntervalMs;
      if (min === undefined || due < min) min = due;
    }
    return min;
  }

  /**
   * Holds (true) or releases (false) a partition's cuts: while held, its batch grows past the row,
   * size and interval limits until `flush`, so it covers exactly the offsets the caller chooses
   * (an intent re-loaded with its original range and label). Releasing does not cut by itself.
   */
  setHold(topic: string, partition: number, hold: boolean): void {
    this.state(topic, partition).hold = hold;
  }

  /** Cuts one partition's filling batch now (e.g. before committing on revocation with a grace period). */
  flush(topic: string, partition: number): void {
    const st = this.parts.get(partitionKey(topic, partition));
    if (st?.filling) this.cut(st);
  }

  /**
   * Cuts every filling batch now (shutdown, a schema switch), except a held one: it has not reached
   * the end of its range, and loaded short under its label it would let a zombie's full-range load
   * of that label be refused as "already loaded" and its tail be lost. It keeps filling (a schema
   * switch) or is left alone (shutdown: its offsets stay uncommitted and the next owner settles
   * the intent again). Returns the rows left uncut.
   */
  flushAll(): number {
    let left = 0;
    for (const st of this.parts.values()) {
      if (!st.filling) continue;
      if (st.hold) left += st.filling.rowEnds.length;
      else this.cut(st);
    }
    return left;
  }

  /**
   * The batch is settled: loaded, or every row of it dead-lettered. Frees its memory and returns the
   * offset to commit for its partition when the commit point advanced (else null, also when the
   * partition was revoked or re-assigned since the batch was cut).
   */
  settle(batch: LoadBatch): string | null {
    const info = this.release(batch);
    if (!info) return null;
    this.recycle(batch);
    const st = this.parts.get(info.key);
    if (!st || st.generation !== info.generation) return null;
    return st.tracker.settle(batch.firstOffset);
  }

  private recycle(batch: LoadBatch): void {
    const ab = batch.body?.buffer;
    // only bodies this batcher allocated (not pool slabs, not small ones); the largest are kept
    if (!(ab instanceof ArrayBuffer) || ab.byteLength < 1048576 || batch.body!.byteOffset !== 0) return;
    const free = this.freeBodies;
    if (free.includes(ab)) return;
    if (free.length < KEEP_BODIES) free.push(ab);
    else {
      let min = 0;
      for (let k = 1; k < free.length; k++) if (free[k]!.byteLength < free[min]!.byteLength) min = k;
      if (free[min]!.byteLength < ab.byteLength) free[min] = ab;
    }
  }

  /** Frees a batch's memory without settling it (its partition was revoked and the load abandoned). */
  abandon(batch: LoadBatch): void {
    this.release(batch);
  }

  private release(batch: LoadBatch): InFlight | undefined {
    const info = this.inFlight.get(batch);
    if (!info) return undefined;
    this.inFlight.delete(batch);
    this.inFlightBytes -= info.bodyBytes;
    this.checkPressure();
    return info;
  }

  /** The offset safe to commit for a partition now, or null. */
  committable(topic: string, partition: number): string | null {
    return this.parts.get(partitionKey(topic, partition))?.tracker.committable ?? null;
  }

  private cut(st: PartitionState): void {
    const f = st.filling!;
    st.filling = undefined;
    this.fillingBytes -= f.bodyBytes;
    this.fillingRows -= f.rowEnds.length;
    const batch = bytesBatch(st.topic, st.partition, f, this.joinChunks(f));
    if (st.hold) batch.exact = true;
    st.tracker.register(f.firstOffset, f.lastOffset);
    this.inFlight.set(batch, {
      key: partitionKey(st.topic, st.partition),
      generation: st.generation,
      bodyBytes: f.bodyBytes,
    });
    this.inFlightBytes += f.bodyBytes;
    this.opts.onBatch(batch);
    this.checkPressure();
  }

  private dropFilling(st: PartitionState | undefined): void {
    if (!st?.filling) return;
    this.freeChunksOf(st.filling);
    this.fillingBytes -= st.filling.bodyBytes;
    this.fillingRows -= st.filling.rowEnds.length;
    st.filling = undefined;
  }

  private checkPressure(): void {
    const total = this.fillingBytes + this.inFlightBytes;
    if (!this.pausedState && total >= this.opts.maxBufferBytes) {
      this.pausedState = true;
      this.opts.onBackpressure?.(true);
    } else if (this.pausedState && total <= this.resumeAt) {
      this.pausedState = false;
      this.opts.onBackpressure?.(false);
    }
    // Paused with nothing loading: only filling batches hold the memory, and none may reach its
    // own limit while fetching is paused. Cut the largest so loads (and then fetching) go on rather
    // than waiting for max_batch_interval. This lets max_buffer_bytes sit below
    // partitions × max_batch_size.
    if (this.pausedState && this.inFlightBytes === 0 && !this.cutLargest()) {
      // Nothing to cut either: held batches hold the memory, and each ends only with messages still
      // to fetch (the rest of an intent's range). Paused, they would never come.
      this.pausedState = false;
      this.opts.onBackpressure?.(false);
    }
  }

  /** Cuts the largest filling batch that may be cut; false when there is none. */
  private cutLargest(): boolean {
    let best: PartitionState | undefined;
    for (const st of this.parts.values()) {
      if (st.hold || !st.filling || st.filling.rowEnds.length === 0) continue;
      if (!best || st.filling.bodyBytes > best.filling!.bodyBytes) best = st;
    }
    if (best) this.cut(best);
    return best !== undefined;
  }

  /** Whether fetching should be paused now. */
  get paused(): boolean {
    return this.pausedState;
  }

  /** Bytes held: rows filling plus batches cut and not yet settled or abandoned. */
  get bufferedBytes(): number {
    return this.fillingBytes + this.inFlightBytes;
  }

  /** For the batch_current_rows / batch_current_bytes gauges. */
  get currentRows(): number {
    return this.fillingRows;
  }

  get currentBytes(): number {
    return this.fillingBytes;
  }
}
