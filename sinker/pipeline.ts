// The sinker's pipeline: Kafka messages → mapper → batcher → Stream Load → Redis state → offset
// commit. Every load records an intent first and completes it atomically afterwards; a newly
// assigned partition is settled (DESIGN §3) before any of its messages is batched, and resumes
// from max(committed, watermark + 1). Intents found unsettled are re-loaded with their exact
// range and label, so whichever owner wins the label, Doris holds those offsets once.
import { randomUUID } from 'node:crypto';
import type { Admin, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { LoadBatch } from './batch.ts';
import { Batcher } from './batcher/batcher.ts';
import { takeMergeGroup } from './batcher/merge-group.ts';
import type { SinkerConfig } from './config/types.ts';
import type { AssignmentChange, SinkConsumer } from './consumer.ts';
import type { ContentDedupe } from './dedupe/content.ts';
import { isUnavailable } from './dedupe/errors.ts';
import { IntentOrder } from './dedupe/intent-order.ts';
import { contentKey } from './dedupe/keys.ts';
import { settlePartition } from './dedupe/settle.ts';
import { type LogBounds, STALE_STATE_MESSAGE, StaleStateError } from './dedupe/stale.ts';
import {
  cmpOffset,
  decideMergedIntent,
  type Intent,
  type OffsetDisposition,
  offsetDisposition,
  type ResumePlan,
} from './dedupe/state.ts';
import { type DedupeStore, type MergedEntry, PartitionFencedError } from './dedupe/store.ts';
import type { DeadLetterQueue } from './dlq/dlq.ts';
import { rejectedRecordsWithOriginals } from './dlq/dlq.ts';
import type { OriginalsReader } from './dlq/originals.ts';
import { type DlqRecord, originalHeaders } from './dlq/record.ts';
import type { RowEncoder } from './encode/encoders.ts';
import { loadLabel, mergedLabel } from './labels.ts';
import { deadLetterSampler, type Logger, type LogSampler, logDeadLetters } from './logger.ts';
import { MapPool, type MappedRows } from './mapper/map-pool.ts';
import type { Mapper, RowPlan } from './mapper/mapper.ts';
import { RowBuffer } from './mapper/row-buffer.ts';
import { PendingCommits } from './pending-commits.ts';
import { backoffDelay, sleep } from './writer/backoff.ts';
import { type LoadResult, StreamLoadError, type StreamLoadWriter } from './writer/writer.ts';

/** What the pipeline reports as it runs; main.ts turns these into metrics. */
export interface PipelineObserver {
  consumed(partition: number, messages: number, bytes: number): void;
  deadLettered(records: readonly DlqRecord[], code: string): void;
  duplicate(count: number): void;
  flushed(batch: LoadBatch, result: LoadResult | undefined, seconds: number, status: 'ok' | 'dead_lettered'): void;
  loadFailed(batch: LoadBatch, err: Error, willRetry: boolean): void;
  /** A load merging `batches` partitions' batches committed, or fell back to one load per batch. */
  merged(batches: number, outcome: 'committed' | 'fallback'): void;
  committed(partition: number, offset: string): void;
  degraded(operation: string): void;
  /** Whether settles are being refused for stale exactly-once state (the topic re-created or truncated). */
  staleState(refused: boolean): void;
  /** Every tick: the batcher's memory and whether the in-memory bound holds fetching paused. */
  buffer(state: BufferState): void;
  /** Whether Doris refuses the sink's setup and loads are held (StreamLoadWriter.blocked). */
  loadBlocked(blocked: boolean): void;
}

export interface BufferState {
  fillingRows: number;
  fillingBytes: number;
  /** Filling plus cut and not yet settled: what max_buffer_bytes bounds. */
  bufferedBytes: number;
  fetchPaused: boolean;
}

export const NO_OBSERVER: PipelineObserver = {
  consumed: () => {},
  deadLettered: () => {},
  duplicate: () => {},
  flushed: () => {},
  loadFailed: () => {},
  merged: () => {},
  committed: () => {},
  degraded: () => {},
  staleState: () => {},
  buffer: () => {},
  loadBlocked: () => {},
};

export interface PipelineDeps {
  config: SinkerConfig;
  logger: Logger;
  consumer: SinkConsumer;
  admin: Admin;
  writer: StreamLoadWriter;
  store: DedupeStore;
  /** Present when dedupe.key_fields is set. */
  content?: ContentDedupe;
  dlq: DeadLetterQueue;
  /** Reads refused rows' original messages back from Kafka for their dead letters (else they carry the encoded row). */
  originals?: OriginalsReader;
  mapper: Mapper;
  encoder: RowEncoder;
  observer?: PipelineObserver;
}

interface PartitionRun {
  /** Resolves once the partition is settled; undefined plan until then. */
  ready: Promise<ResumePlan>;
  plan?: ResumePlan;
  /** Aborts this partition's settling and loads when it is revoked. */
  abort: AbortController;
  /** This run's owner token in Redis: a later owner's claim fences this run's new intents. */
  token: string;
  /** Content keys of rows admitted per batch first offset (released on revocation). */
  pendingKeys: Map<string, string[]>;
  /** Content keys of rows in the batch still filling. */
  fillingKeys: string[];
  /** Exact range being re-loaded (an unsettled intent), if the filling batch is one. */
  exactEnd?: string;
  /** Next offset this run expects: kafkajs re-delivers from the committed offset after a rejoin. */
  next?: number | bigint;
  /** Index in the plan's reload list of the first intent no offset read yet is past. */
  reloadAt: number;
  /**
   * Where kafkajs's fetch of the partition goes on from, as far as this run knows: the settle's
   * resume point, then the offset after the last message delivered. Unknown (undefined) after a
   * rejoin that kept the partition, which makes kafkajs fetch from the committed offset again.
   */
  position?: bigint;
  /** The last chunk taken and still being finished: the next one is finished after it, in offset order. */
  tail: Promise<void>;
  /** Keeps this run's intents recorded in offset order. */
  order: IntentOrder;
}

const TICK_MS = 100;
/** While loads are held for a setup refusal, the error line is repeated this often. */
const BLOCKED_REMINDER_MS = 5 * 60_000;
/**
 * How long each closing step of a shutdown (the Kafka consumer; then the other clients) may take
 * once the grace is over: a broker or Redis that does not answer would hold a disconnect for its
 * request timeout (30 s in kafkajs), past the pod's termination grace.
 */
export const CLOSE_MS = 2000;

/** Waits for `closing` to settle, at most `ms`; true when everything did. */
export async function settledWithin(ms: number, closing: readonly Promise<unknown>[]): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([Promise.allSettled(closing).then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
const LOAD: OffsetDisposition = { kind: 'load' };
/** Fewer messages than this are mapped on the main thread: the hand-over would cost more. */
const POOL_MIN_MESSAGES = 32;
/** Fetched bytes being mapped (not yet in the batcher) past which eachBatch waits, holding the next fetch. */
const MAP_AHEAD_BYTES = 8 * 1024 * 1024;

export class SinkPipeline {
  readonly #d: PipelineDeps;
  readonly #log: Logger;
  readonly #obs: PipelineObserver;
  readonly #dlqLogSampler: LogSampler;
  readonly #topic: string;
  readonly #batcher: Batcher;
  readonly #runs = new Map<number, PartitionRun>();
  /** The topic's partition count when the sink first consumed it (Redis), read once per process. */
  #firstPartitions: Promise<number | null> | undefined;
  readonly #queue: LoadBatch[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #active = 0;
  #mapper: Mapper;
  #encoder: RowEncoder;
  /** The mapper's byte layout for the encoder: messages become encoded rows without decoding. */
  #plan: RowPlan;
  /** Indexes of dedupe.key_fields among the mapper's columns (content dedupe keys use exact values). */
  #keyColumns: number[] = [];
  #ticker: NodeJS.Timeout | undefined;
  /** Mapping worker threads (batch.map_workers > 0). */
  #pool: MapPool | undefined;
  /** Row buffers of chunks mapped on this thread, for reuse (one per chunk being finished). */
  readonly #rowBuffers: RowBuffer[] = [];
  /** Commits that failed, retried by the ticker once a second. */
  readonly #pendingCommits = new PendingCommits();
  #retryingCommits = false;
  #lastCommitRetry = 0;
  /** Chunks taken but not yet in the batcher, and their fetched bytes. */
  readonly #mapping = new Set<Promise<void>>();
  #mappingBytes = 0;
  #stopping = false;
  /** Aborted when shutdown gives up waiting: ends loads that do not belong to one partition's run. */
  readonly #shutdown = new AbortController();
  /** batch.merge_partitions: batches queued together load as one two-phase load. */
  readonly #merge: boolean;
  #pumpScheduled = false;
  #backpressured = false;
  #redisDown = false;
  /** Aborted to cut short every load's back-off at once (see #wakeRetries). */
  #retryWake = new AbortController();
  #probingRedis = false;
  /** Why Doris refuses the sink's setup while loads are held, and since when (ms); undefined while not. */
  #blocked: { reason: string; since: number; reminded: number } | undefined;
  /** Partitions whose settle is refused for stale exactly-once state, and the refusal. */
  readonly #refused = new Map<number, StaleStateError>();

  constructor(deps: PipelineDeps) {
    this.#d = deps;
    this.#log = deps.logger;
    this.#obs = deps.observer ?? NO_OBSERVER;
    this.#dlqLogSampler = deadLetterSampler(deps.config.log.enable_sampling);
    this.#topic = deps.config.kafka.topic;
    this.#mapper = deps.mapper;
    this.#encoder = deps.encoder;
    this.#plan = deps.mapper.planFor(deps.encoder);
    this.#pool = this.#makePool(deps.mapper, deps.encoder);
    this.#keyColumns = keyColumnIndexes(deps.mapper, deps.config.dedupe.key_fields);
    const b = deps.config.batch;
    this.#merge = b.merge_partitions;
    this.#batcher = new Batcher({
      alignIntervalCuts: b.merge_partitions,
      maxBatchRows: b.max_batch_rows,
      maxBatchBytes: b.max_batch_size,
      maxBatchIntervalMs: b.max_batch_interval * 1000,
      maxBufferBytes: b.max_buffer_bytes,
      onBatch: (batch) => this.#enqueue(batch),
      onBackpressure: (paused) => {
        this.#backpressured = paused;
        this.#applyPause();
      },
    });
  }

  get mapper(): Mapper {
    return this.#mapper;
  }

  /** Why settles are refused (stale exactly-once state), for /readyz; undefined while none is. */
  get staleRefusal(): string | undefined {
    const err = this.#refused.values().next().value;
    return err && `refusing stale exactly-once state, the topic was re-created or truncated: ${err.message}`;
  }

  /** Why loads are held (Doris refuses the sink's setup), for /readyz; undefined while none is. */
  get loadBlocked(): string | undefined {
    return this.#blocked && `Doris refuses the sink's setup; loads held, nothing committed: ${this.#blocked.reason}`;
  }

  /** Partitions settled and consuming. */
  get settledPartitions(): number[] {
    return [...this.#runs].filter(([, r]) => r.plan).map(([p]) => p);
  }

  get bufferedBytes(): number {
    return this.#batcher.bufferedBytes;
  }

  async start(): Promise<void> {
    this.#ticker = setInterval(() => this.#tick(), TICK_MS);
    this.#ticker.unref();
    await this.#d.consumer.start(
      {
        onAssignment: (change) => this.#onAssignment(change),
        eachBatch: (payload) => this.#eachBatch(payload),
      },
      Math.max(1, this.#d.config.batch.flush_worker_count),
    );
  }

  /**
   * Switch to a new schema between batches: rows already batched keep the old encoding. A batch
   * re-loading an unsettled intent is not cut: it must cover the intent's exact range under its
   * label, or a zombie owner's full-range load of that label would be refused (its tail lost) or,
   * loading first, make the rest load twice under a new label. Its rows mix the two encodings,
   * which the writer's headers allow (a change of headers restarts the sinker instead).
   */
  swapSchema(mapper: Mapper, encoder: RowEncoder): void {
    // First what can refuse the switch (a dedupe key column gone): a refused switch cuts no batch,
    // and the refresh tries it again every interval.
    const keyColumns = keyColumnIndexes(mapper, this.#d.config.dedupe.key_fields);
    this.#batcher.flushAll();
    const old = this.#mapper;
    const oldPool = this.#pool;
    this.#keyColumns = keyColumns;
    this.#mapper = mapper;
    this.#encoder = encoder;
    this.#plan = mapper.planFor(encoder);
    this.#pool = this.#makePool(mapper, encoder);
    // Tasks already on the old workers finish with the old schema, as rows mapped inline would, and
    // add their counts to the old mapper, which the metrics no longer drain: they go on to whichever
    // mapper is current once those tasks are done (by column name; a dropped column's count of
    // missing fields has no column left to go to).
    void (oldPool?.close() ?? Promise.resolve()).then(() => this.#mapper.absorbStats(old.drainStats()));
  }

  #makePool(mapper: Mapper, encoder: RowEncoder): MapPool | undefined {
    const n = this.#d.config.batch.map_workers ?? 0;
    return n > 0 ? new MapPool(n, mapper, encoder.format) : undefined;
  }

  #tick(): void {
    const now = Date.now();
    this.#batcher.tick(now);
    this.#obs.buffer({
      fillingRows: this.#batcher.currentRows,
      fillingBytes: this.#batcher.currentBytes,
      bufferedBytes: this.#batcher.bufferedBytes,
      fetchPaused: this.#backpressured,
    });
    this.#watchBlocked(now);
    if (now - this.#lastCommitRetry >= 1000) {
      this.#lastCommitRetry = now;
      this.#retryCommits();
      this.#probeRedis();
    }
  }

  /**
   * While Redis is away, asks it (PING) once a second whether it is back. Loads and chunks retrying their
   * own Redis step end the pause when one succeeds, but none may be left: the partition whose load
   * met the outage can be revoked meanwhile, and the partitions kept, paused, have nothing to load.
   */
  #probeRedis(): void {
    if (!this.#redisDown || this.#probingRedis || this.#stopping) return;
    this.#probingRedis = true;
    this.#d.store
      .ping()
      .then(
        () => this.#setRedisDown(false),
        () => {},
      )
      .finally(() => {
        this.#probingRedis = false;
      });
  }

  /**
   * Held loads (writer.blocked: Doris refuses the credentials, the table, ...) pause fetching like a
   * Redis outage: the held batches are loaded once Doris takes them, and nothing more is read
   * meanwhile. One error line when it starts, one when it ends, and a reminder every 5 minutes
   * rather than a line per retry. With no held load left (revoked), fetching resumes and the next
   * batch finds out again.
   */
  #watchBlocked(now: number): void {
    const reason = this.#d.writer.blocked;
    const was = this.#blocked;
    if (reason !== undefined && was === undefined) {
      this.#blocked = { reason, since: now, reminded: now };
      this.#log.error(
        { reason },
        "Doris refuses the sink's setup: loads held (not dead-lettered, offsets not committed), consumption paused until it is fixed",
      );
    } else if (reason !== undefined && was) {
      was.reason = reason;
      if (now - was.reminded >= BLOCKED_REMINDER_MS) {
        was.reminded = now;
        this.#log.error(
          { reason, heldSeconds: Math.round((now - was.since) / 1000) },
          "Doris still refuses the sink's setup: loads held",
        );
      }
      return;
    } else if (reason === undefined && was) {
      this.#blocked = undefined;
      this.#log.info(
        { heldSeconds: Math.round((now - was.since) / 1000) },
        'loads no longer held: consumption resumes',
      );
    } else return;
    this.#obs.loadBlocked(this.#blocked !== undefined);
    this.#applyPause();
  }

  #applyPause(): void {
    const all = this.#d.consumer.assignment;
    if (this.#backpressured || this.#redisDown || this.#blocked || this.#stopping) this.#d.consumer.pause(all);
    else this.#d.consumer.resume(all);
  }

  // ---- assignment ---------------------------------------------------------------------------

  #onAssignment(change: AssignmentChange): void {
    // A rejoin keeping a partition makes kafkajs fetch it from the committed offset again.
    for (const run of this.#runs.values()) run.position = undefined;
    for (const p of change.revoked) this.#revoke(p);
    for (const p of change.assigned) this.#assign(p);
    // New partitions join the current pause state (paused while backpressured, else fetching).
    this.#applyPause();
  }

  #revoke(partition: number): void {
    const run = this.#runs.get(partition);
    this.#runs.delete(partition);
    this.#pendingCommits.forget(partition);
    this.#clearRefused(partition);
    const dropped = this.#batcher.revoke(this.#topic, partition);
    if (run) {
      run.abort.abort(new Error(`partition ${partition} revoked`));
      if (this.#d.content) {
        this.#d.content.release(run.fillingKeys);
        for (const keys of run.pendingKeys.values()) this.#d.content.release(keys);
      }
    }
    // Queued batches of the partition are abandoned; the new owner re-reads them (labels protect).
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const b = this.#queue[i]!;
      if (b.partition === partition) {
        this.#queue.splice(i, 1);
        this.#batcher.abandon(b);
      }
    }
    this.#log.info({ partition, droppedRows: dropped }, 'partition revoked');
  }

  /** `forceSeek`: kafkajs's fetch position is past the resume point (a reset run), so seek even to the committed offset. */
  #assign(partition: number, forceSeek = false): void {
    const abort = new AbortController();
    const run: PartitionRun = {
      token: `${process.pid}-${randomUUID()}`,
      abort,
      pendingKeys: new Map(),
      fillingKeys: [],
      ready: Promise.resolve() as unknown as Promise<ResumePlan>,
      tail: Promise.resolve(),
      order: new IntentOrder(),
      reloadAt: 0,
    };
    run.ready = this.#settle(partition, run, forceSeek).then((plan) => {
      run.plan = plan;
      return plan;
    });
    // A settle failure surfaces in eachBatch, which awaits `ready` and fails the batch (kafkajs retries).
    run.ready.catch(() => {});
    this.#runs.set(partition, run);
  }

  async #settle(partition: number, run: PartitionRun, forceSeek: boolean): Promise<ResumePlan> {
    const { token } = run;
    const signal = run.abort.signal;
    for (let attempt = 0; ; attempt++) {
      try {
        // Claim first: from here on a previous owner (a zombie) cannot record new intents, so the
        // intents read below are every load it can still finish.
        await this.#d.store.claim(partition, token);
        const firstPartitions = await this.#firstPartitionCount();
        const committed = await this.#committedOffset(partition);
        // The log bounds, read at most once per try: the stale-state check and an added partition's start.
        let bounds: Promise<Map<number, LogBounds>> | undefined;
        const logBounds = () => {
          bounds ??= this.#d.admin
            .fetchTopicOffsets(this.#topic)
            .then((offsets) => new Map(offsets.map((o) => [o.partition, { low: o.low, high: o.high }])));
          return bounds;
        };
        let plan = await settlePartition({
          store: this.#d.store,
          partition,
          committed,
          topic: this.#topic,
          logBounds,
          labelState: (label) => this.#d.writer.labelState(label, signal),
          commitPrecommitted: (label) => this.#d.writer.commitPrecommitted(label),
          abortPrecommitted: (label) => this.#d.writer.abortPrecommitted(label),
          singleLabel: (first) => loadLabel(this.#d.config.name, this.#topic, partition, first),
          signal,
          onWarning: (msg) => this.#log.warn({ partition }, msg),
        });
        // A partition added to the topic after the sink first consumed it holds only messages written
        // since: read it from its first one, or kafka.from_earliest false would skip what producers
        // wrote to it before the group took it (up to kafka.metadata_max_age).
        const added =
          !this.#d.config.kafka.from_earliest &&
          firstPartitions !== null &&
          partition >= firstPartitions &&
          committed === null &&
          plan.watermark === null &&
          plan.reload.length === 0;
        if (added) {
          const start = (await logBounds()).get(partition);
          if (!start) throw new Error(`partition ${partition} of ${this.#topic} has no offsets`);
          plan = { ...plan, seekOffset: start.low };
          this.#log.info(
            { partition, firstPartitions, from: start.low },
            'partition added to the topic after the sink started: reading it from its first message',
          );
        }
        this.#batcher.assign(this.#topic, partition, plan.seekOffset);
        const needsSeek =
          forceSeek ||
          added ||
          (committed === null ? plan.watermark !== null || plan.reload.length > 0 : plan.seekOffset !== committed);
        if (needsSeek) this.#d.consumer.consumer.seek({ topic: this.#topic, partition, offset: plan.seekOffset });
        // Without a seek kafkajs fetches from the committed offset, which is the resume point then.
        run.position = BigInt(plan.seekOffset);
        // Everything below the resume point is in Doris: say so to Kafka too, or the group shows
        // phantom lag (and lag-based scaling never settles) until the next batch commits.
        if (committed === null ? plan.watermark !== null : BigInt(plan.seekOffset) > BigInt(committed)) {
          void this.#commit(partition, plan.seekOffset);
        }
        this.#log.info(
          {
            partition,
            committed,
            watermark: plan.watermark,
            resume: plan.seekOffset,
            reload: plan.reload.length,
            reloadRanges: plan.reload.map((r) => `${r.intent.first}-${r.intent.last}`),
          },
          'partition settled',
        );
        this.#clearRefused(partition);
        return plan;
      } catch (err) {
        if (signal.aborted) throw err;
        const delay = backoffDelay(attempt, { baseMs: 200, capMs: 10_000 });
        if (err instanceof StaleStateError) this.#refuse(partition, err, delay);
        else this.#log.warn({ partition, err: (err as Error).message, retryInMs: delay }, 'settling partition failed');
        if (isUnavailable(err)) this.#obs.degraded('settle');
        await sleep(delay, signal);
      }
    }
  }

  /**
   * A settle found the sink's state for the topic stale (now, or recorded by an earlier settle): the
   * settle keeps failing with back-off, one error line per try, until the state is gone (its keys
   * deleted). The record is topic-wide, so partitions this process settled before it was found stop
   * loading too: they start over, and their settle is refused as well.
   */
  #refuse(partition: number, err: StaleStateError, retryInMs: number): void {
    const r = err.record;
    this.#log.error(
      {
        topic: this.#topic,
        // Where the stale state was found; the one refused now may be another.
        partition: r.partition,
        refusedPartition: partition,
        reason: r.reason,
        watermark: r.watermark,
        staleOffset: r.offset,
        logEnd: r.logEnd,
        since: r.at,
        redisKeys: this.#d.store.keys.pattern,
        retryInMs,
      },
      STALE_STATE_MESSAGE,
    );
    if (this.#refused.size === 0) this.#obs.staleState(true);
    this.#refused.set(partition, err);
    for (const [p, run] of [...this.#runs]) {
      if (!run.plan) continue;
      this.#log.error({ topic: this.#topic, partition: p }, 'stale exactly-once state: stopping a settled partition');
      this.#revoke(p);
      this.#assign(p, true);
    }
  }

  #clearRefused(partition: number): void {
    if (this.#refused.delete(partition) && this.#refused.size === 0) this.#obs.staleState(false);
  }

  /**
   * The topic's partition count when the sink first consumed it, recorded in Redis by the first
   * settle of its first run (null without Redis). Partitions numbered at or above it were added later.
   */
  #firstPartitionCount(): Promise<number | null> {
    if (this.#firstPartitions) return this.#firstPartitions;
    const read = (async () => {
      const md = await this.#d.admin.fetchTopicMetadata({ topics: [this.#topic] });
      const count = md.topics[0]?.partitions.length ?? 0;
      if (count === 0) throw new Error(`topic ${this.#topic}: no partitions in its metadata`);
      return this.#d.store.firstPartitionCount(count);
    })();
    this.#firstPartitions = read;
    // A failure is tried again by the next settle.
    read.catch(() => {
      if (this.#firstPartitions === read) this.#firstPartitions = undefined;
    });
    return read;
  }

  async #committedOffset(partition: number): Promise<string | null> {
    const res = await this.#d.admin.fetchOffsets({ groupId: this.#d.config.kafka.group_id, topics: [this.#topic] });
    const offset = res[0]?.partitions.find((p) => p.partition === partition)?.offset;
    return offset === undefined || offset === '-1' ? null : offset;
  }

  // ---- consuming ----------------------------------------------------------------------------
  //
  // kafkajs fetches again only once every eachBatch of the last fetch has returned, so eachBatch
  // does only the quick part (which offsets to take) and starts the mapping; the rest — DLQ,
  // content dedupe, adding rows to the batcher — runs after it, chained per partition to keep
  // offset order. The worker maps while kafkajs fetches the next batch. Bytes fetched but not yet
  // in the batcher are bounded (MAP_AHEAD_BYTES): past it eachBatch waits, which holds the fetch.

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    const partition = batch.partition;
    const run = this.#runs.get(partition);
    if (!run || this.#stopping) return;
    const plan = run.plan ?? (await this.#waitReady(run, heartbeat));
    if (!isRunning() || isStale() || this.#runs.get(partition) !== run) return;

    const messages = batch.messages;
    const limit = this.#d.config.kafka.max_fetch_records;
    for (let from = 0; from < messages.length; from += limit) {
      const chunk = from === 0 && messages.length <= limit ? messages : messages.slice(from, from + limit);
      this.#takeChunk(run, plan, partition, chunk);
    }
    // Not once stopping: kafkajs's disconnect waits for this eachBatch, and chunks stuck on Redis never finish.
    while (this.#mappingBytes > MAP_AHEAD_BYTES && this.#runs.get(partition) === run && !this.#stopping) {
      await Promise.race([...this.#mapping, sleep(1000)]);
      await heartbeat();
    }
    await heartbeat();
  }

  /** Content dedupe is on: rows are mapped on this thread, as values, to derive their keys. */
  get #contentKeyed(): boolean {
    return this.#d.content !== undefined && this.#keyColumns.length > 0;
  }

  /** Takes one chunk of a fetched batch: picks the offsets to batch, starts mapping them, chains the rest. */
  #takeChunk(run: PartitionRun, plan: ResumePlan, partition: number, messages: KafkaMessage[]): void {
    // Per accepted message (parallel arrays, no object per message): the message, and the intent's
    // last offset when it is re-loaded.
    const accepted: KafkaMessage[] = [];
    let exactEnds: (string | undefined)[] | undefined;
    // Offsets as numbers (exact below 2^53, which Kafka offsets never reach in practice); a larger
    // one is compared as a bigint, so the check stays exact either way.
    const wm = plan.watermark === null ? -1 : Number(plan.watermark);
    const simple = plan.reload.length === 0 && Number.isSafeInteger(wm);
    let next = run.next;
    let bytes = 0;
    /** Intents to re-load the fetch went past without a message of them, and from where it came. */
    let emptied: Emptied[] | undefined;
    for (const m of messages) {
      bytes += m.value?.length ?? 0;
      // Already taken by this run (a rebalance that kept the partition re-fetches from the
      // committed offset): those offsets are loading or loaded, never batch them twice.
      let at: number | bigint = Number(m.offset);
      if (!Number.isSafeInteger(at)) at = BigInt(m.offset);
      // Where the fetch stands matters only while intents to re-load lie ahead.
      const tracking = run.reloadAt < plan.reload.length;
      if (next !== undefined && at < next) {
        if (tracking) run.position = BigInt(at) + 1n;
        continue;
      }
      next = typeof at === 'number' ? at + 1 : at + 1n;
      if (tracking) {
        emptied = passReloads(run, plan, m.offset, emptied);
        run.position = BigInt(at) + 1n;
      }
      const d = simple && typeof at === 'number' && at > wm ? LOAD : offsetDisposition(m.offset, plan);
      if (d.kind === 'skip') continue;
      if (d.kind === 'reload') {
        exactEnds ??= new Array(accepted.length);
        exactEnds[accepted.length] = d.intent.last;
      }
      accepted.push(m);
    }
    // From here the offsets are this run's: a failure further on resets the partition (see #finishChunk).
    run.next = next;
    const pool = this.#pool;
    if (pool?.broken) {
      this.#log.error({ err: pool.lastError?.message }, 'mapping workers keep failing: mapping on the main thread');
      this.#pool = undefined;
      void pool.close(0);
    }
    const onWorker =
      !this.#contentKeyed && this.#pool !== undefined && accepted.length >= POOL_MIN_MESSAGES
        ? this.#pool.map(accepted.map((m) => m.value))
        : undefined;
    // A worker that dies fails its task: those messages are mapped here instead.
    onWorker?.catch(() => {});
    const task = run.tail
      .then(async () => {
        if (emptied) await this.#dropEmptied(run, partition, emptied);
        await this.#finishChunk(run, partition, messages.length, bytes, accepted, exactEnds, onWorker);
      })
      .catch((err: Error) => this.#resetPartition(partition, run, err));
    run.tail = task;
    this.#mappingBytes += bytes;
    this.#mapping.add(task);
    void task.finally(() => {
      this.#mappingBytes -= bytes;
      this.#mapping.delete(task);
    });
  }

  /**
   * Intents to re-load the fetch went past without a message of them, from at or before their
   * first offset: their whole range is gone from the log (compacted away), nothing of them can
   * load, so they settle as empty. Left open, every later settle would seek back to them and read
   * on for nothing. Unless kafkajs skipped ahead itself: a fetch from below the log start is reset
   * (auto.offset.reset, to the latest offset without from_earliest), so an intent the log still
   * holds stays open for the next settle. A zombie still sending such a label loads the rows once
   * all the same (its completion raises the watermark, never lowers it).
   */
  async #dropEmptied(run: PartitionRun, partition: number, emptied: readonly Emptied[]): Promise<void> {
    const low = async () => {
      const offsets = await this.#d.admin.fetchTopicOffsets(this.#topic);
      const o = offsets.find((x) => x.partition === partition);
      if (!o) throw new Error(`partition ${partition} of ${this.#topic} has no offsets`);
      return BigInt(o.low);
    };
    const start = await low();
    for (const { intent, from } of emptied) {
      if (this.#runs.get(partition) !== run) return;
      if (from < start && BigInt(intent.last) >= start) continue;
      this.#log.info(
        { partition, label: intent.label, first: intent.first, last: intent.last },
        'unsettled intent gone from the log (compacted): dropped, nothing to load',
      );
      await this.#whileRedisAway('settle', () => this.#d.store.dropIntent(partition, intent.first), run.abort.signal);
    }
  }

  async #finishChunk(
    run: PartitionRun,
    partition: number,
    fetched: number,
    bytes: number,
    accepted: KafkaMessage[],
    exactEnds: (string | undefined)[] | undefined,
    onWorker: Promise<MappedRows> | undefined,
  ): Promise<void> {
    if (this.#runs.get(partition) !== run) return;
    const dead: DlqRecord[] = [];
    // Map: each accepted message's row (rowOf[j], -1 for none) in body, row r ending at ends[r].
    let body: Buffer;
    let ends: ArrayLike<number>;
    let rowOf: Int32Array;
    const keys: (string | undefined)[] | undefined = this.#contentKeyed ? [] : undefined;
    const mapped = await onWorker?.catch((err: Error) => {
      this.#log.warn({ partition, err: err.message }, 'mapping worker failed: mapping this batch on the main thread');
      return undefined;
    });
    let rows: RowBuffer | undefined;
    if (mapped) {
      for (const f of mapped.failures) {
        dead.push(this.#dlqRecord(partition, accepted[f.index]!, `${f.code}: ${f.reason}`));
      }
      ({ body, ends, rowOf } = mapped);
    } else {
      rows = this.#rowBuffers.pop() ?? new RowBuffer(bytes + (bytes >> 2) + 1024);
      rows.clear();
      rowOf = new Int32Array(accepted.length);
      for (let j = 0; j < accepted.length; j++) {
        const m = accepted[j]!;
        let row = -1;
        if (keys === undefined) {
          const fail = this.#mapper.mapInto(m.value, this.#plan, rows);
          if (fail) dead.push(this.#dlqRecord(partition, m, `${fail.code}: ${fail.reason}`));
          else row = rows.rowCount - 1;
        } else {
          const r = this.#mapper.map(m.value);
          if (!r.ok) dead.push(this.#dlqRecord(partition, m, `${r.code}: ${r.reason}`));
          else {
            rows.writeString(this.#encoder.encode(r.values, r.clean));
            rows.endRow();
            row = rows.rowCount - 1;
          }
          keys.push(r.ok ? contentKey(this.#keyColumns.map((i) => r.values[i] ?? null)) : undefined);
        }
        rowOf[j] = row;
      }
      body = rows.buf;
      ends = rows.ends;
    }
    try {
      // After mapping: the observer also takes the mapper's statistics, the workers' included.
      this.#obs.consumed(partition, fetched, bytes);
      if (dead.length > 0) await this.#writeDlq(dead, 'mapper');
      if (keys !== undefined) {
        const keyed: number[] = [];
        for (let j = 0; j < keys.length; j++) if (keys[j] !== undefined) keyed.push(j);
        const duplicates = await this.#admitKeys(
          keyed.map((j) => keys[j] as string),
          run.abort.signal,
        );
        let dups = 0;
        keyed.forEach((j, n) => {
          if (duplicates[n]) {
            rowOf[j] = -1;
            keys[j] = undefined;
            dups++;
          }
        });
        this.#obs.duplicate(dups);
      }
      // Keys admitted above are pending until their batch settles or the run releases them. Not
      // handed to the run (revoked meanwhile, or a failure below), they would stay pending in this
      // process for good, and the same rows read again (the partition coming back) would be
      // dropped as duplicates of rows never loaded.
      const releaseKeys = () => this.#d.content?.release(keys?.filter((k) => k !== undefined) ?? []);
      // Revoked while awaiting the workers, the DLQ or Redis: the next owner (or this member's next run) has it.
      if (this.#runs.get(partition) !== run) {
        releaseKeys();
        return;
      }
      const now = Date.now();
      try {
        for (let j = 0; j < accepted.length; j++) {
          const row = rowOf[j]!;
          const start = row <= 0 ? 0 : ends[row - 1]!;
          const end = row < 0 ? 0 : ends[row]!;
          this.#addToBatch(
            run,
            partition,
            accepted[j]!.offset,
            body,
            row < 0 ? -1 : start,
            end,
            now,
            keys?.[j],
            exactEnds?.[j],
          );
        }
      } catch (err) {
        // The run is reset (#resetPartition), which releases the keys it holds; these too.
        releaseKeys();
        throw err;
      }
    } finally {
      // The batcher copies rows out of the buffer, so it can serve the next chunk.
      if (rows && this.#rowBuffers.length < 4) this.#rowBuffers.push(rows);
      mapped?.release();
    }
  }

  /**
   * A chunk of the partition could not be taken (its offsets are past kafkajs's fetch position but
   * not in the batcher): start the partition over as if it had been revoked and assigned again,
   * settling from Redis and Kafka's committed offset, so no offset is skipped.
   */
  #resetPartition(partition: number, run: PartitionRun, err: Error): void {
    // Shutting down: nothing more is taken, and the next owner settles the partition.
    if (this.#runs.get(partition) !== run || this.#stopping) return;
    this.#log.error({ partition, err: err.message }, 'taking a fetched batch failed: restarting the partition');
    this.#revoke(partition);
    this.#assign(partition, true);
  }

  async #waitReady(run: PartitionRun, heartbeat: () => Promise<void>): Promise<ResumePlan> {
    let settled = false;
    const p = run.ready.finally(() => {
      settled = true;
    });
    while (!settled) {
      await Promise.race([p.catch(() => {}), sleep(1000)]);
      if (!settled) await heartbeat();
    }
    return p;
  }

  /** One accepted message: its row is body[start, end), or none when start is -1. */
  #addToBatch(
    run: PartitionRun,
    partition: number,
    offset: string,
    body: Buffer,
    start: number,
    end: number,
    now: number,
    key: string | undefined,
    exactEnd: string | undefined,
  ): void {
    // Re-loading an unsettled intent: its batch must hold exactly its offsets, so cut around it.
    if (exactEnd !== run.exactEnd) {
      this.#batcher.flush(this.#topic, partition);
      this.#batcher.setHold(this.#topic, partition, exactEnd !== undefined);
      run.exactEnd = exactEnd;
    }
    if (start < 0) this.#batcher.skip(this.#topic, partition, offset, now);
    else {
      if (key !== undefined) run.fillingKeys.push(key);
      this.#batcher.addBytes(this.#topic, partition, offset, body, start, end, now);
    }
    if (exactEnd !== undefined && BigInt(offset) >= BigInt(exactEnd)) {
      this.#batcher.flush(this.#topic, partition);
      this.#batcher.setHold(this.#topic, partition, false);
      run.exactEnd = undefined;
    }
  }

  async #admitKeys(keys: string[], signal: AbortSignal): Promise<boolean[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const dup = await this.#d.content!.admit(keys);
        this.#setRedisDown(false);
        return dup;
      } catch (err) {
        // Revoked or shutting down: the chunk is not taken (the next run reads it again).
        if (!isUnavailable(err) || signal.aborted) throw err;
        this.#setRedisDown(true);
        this.#obs.degraded('admit');
        await sleep(backoffDelay(attempt, { baseMs: 200, capMs: 5000 }), signal);
      }
    }
  }

  #dlqRecord(partition: number, m: KafkaMessage, reason: string): DlqRecord {
    return {
      sink: this.#d.config.name,
      topic: this.#topic,
      partition,
      offset: m.offset,
      reason,
      time: new Date().toISOString(),
      value: m.value,
      key: m.key,
      timestamp: m.timestamp,
      headers: originalHeaders(m.headers),
    };
  }

  async #writeDlq(records: DlqRecord[], code: string): Promise<void> {
    // The DLQ write must be durable before the offsets can be committed; retry until it is.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#d.dlq.write(records);
        this.#obs.deadLettered(records, code);
        logDeadLetters(this.#log, this.#dlqLogSampler, records);
        return;
      } catch (err) {
        const delay = backoffDelay(attempt, { baseMs: 500, capMs: 30_000 });
        this.#log.error({ err: (err as Error).message, retryInMs: delay }, 'writing to the dead-letter queue failed');
        await sleep(delay);
      }
    }
  }

  // ---- loading ------------------------------------------------------------------------------

  #enqueue(batch: LoadBatch): void {
    const run = this.#runs.get(batch.partition);
    run?.order.add(batch.firstOffset);
    if (run && this.#d.content) {
      // One key per row, in row order. A batch cut by size is cut just before the row that would
      // overflow it, after that row's key was taken: that key stays for the next batch. Given to
      // this one, its completion would mark the row seen before it is loaded, and a new owner
      // reading the row again (a rebalance, a crash) would drop it as a duplicate.
      const keys = run.fillingKeys;
      const n = batch.rowOffsets.length;
      run.pendingKeys.set(batch.firstOffset, keys.length > n ? keys.slice(0, n) : keys);
      run.fillingKeys = keys.length > n ? keys.slice(n) : [];
    }
    this.#queue.push(batch);
    if (!this.#merge) this.#pump();
    else if (!this.#pumpScheduled) {
      // Batches cut together (an interval tick cuts every partition's) queue up before loading.
      this.#pumpScheduled = true;
      queueMicrotask(() => {
        this.#pumpScheduled = false;
        this.#pump();
      });
    }
  }

  #pump(): void {
    const limit = Math.max(1, this.#d.config.batch.flush_worker_count);
    while (this.#active < limit && this.#queue.length > 0) {
      const { max_batch_rows: maxRows, max_batch_size: maxBytes } = this.#d.config.batch;
      const group = this.#merge ? takeMergeGroup(this.#queue, { maxRows, maxBytes }) : [this.#queue.shift()!];
      this.#active++;
      const p = (group.length === 1 ? this.#load(group[0]!) : this.#loadMerged(group)).finally(() => {
        this.#active--;
        this.#inFlight.delete(p);
        this.#pump();
      });
      this.#inFlight.add(p);
    }
  }

  async #load(batch: LoadBatch): Promise<void> {
    const run = this.#runs.get(batch.partition);
    if (!run) {
      this.#batcher.abandon(batch);
      return;
    }
    await this.#loadSingle(batch, run);
  }

  /** Loads one partition's batch under its own deterministic label (DESIGN §3). */
  async #loadSingle(batch: LoadBatch, run: PartitionRun): Promise<void> {
    try {
      await this.#loadSingleInOrder(batch, run);
    } finally {
      run.order.done(batch.firstOffset);
    }
  }

  async #loadSingleInOrder(batch: LoadBatch, run: PartitionRun): Promise<void> {
    const signal = run.abort.signal;
    // Re-loading an unsettled intent: under its label and as its range, also when offsets at its
    // ends are no longer in the log (compaction). The batch's own first offset would give another
    // label, which an earlier owner still sending the intent's label never collides with, and
    // completing it would leave the intent itself open, to be loaded again by every later settle
    // (and twice, once Doris has forgotten the label).
    const reloaded = batch.exact ? reloadedIntent(run.plan, batch.firstOffset) : undefined;
    const label = reloaded?.label ?? this.#d.writer.labelOf(batch);
    const keys = run.pendingKeys.get(batch.firstOffset) ?? [];
    // The content keys travel with the intent: if this process dies mid-load, whoever settles the
    // intent as loaded marks them seen too.
    const intent = {
      label,
      first: reloaded?.first ?? batch.firstOffset,
      last: reloaded?.last ?? batch.lastOffset,
      created: Date.now(),
      ...(keys.length > 0 ? { keys } : {}),
    };
    // Rows Doris refuses for data quality are dead-lettered, then the rest loads under the label:
    // before that, the intent drops the refused rows' keys, or whoever settles the label after a
    // crash would mark them seen and drop a corrected re-send of one within the TTL.
    const onDeadLettered =
      keys.length === 0
        ? undefined
        : async (rejected: readonly { offset: string }[]) => {
            const refused = new Set(rejected.map((r) => r.offset));
            const left = keys.filter((_, i) => !refused.has(batch.rowOffsets[i]!));
            const { keys: _all, ...rest } = intent;
            const narrowed = left.length > 0 ? { ...rest, keys: left } : rest;
            await this.#whileRedisAway(
              'load',
              () => this.#d.store.recordIntent(batch.partition, narrowed, run.token),
              signal,
            );
          };
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) {
        this.#batcher.abandon(batch);
        return;
      }
      try {
        let result: LoadResult | undefined;
        let status: 'ok' | 'dead_lettered' = 'ok';
        if (batch.rowOffsets.length === 0) {
          status = 'dead_lettered';
          // A re-load left with no row (dead-lettered, or content duplicates now): its intent is
          // settled too, or every later settle would read the range again for nothing.
          if (reloaded) await this.#d.store.dropIntent(batch.partition, intent.first);
        } else {
          await run.order.turn(batch.firstOffset, signal);
          if (signal.aborted) continue;
          await this.#d.store.recordIntent(batch.partition, intent, run.token);
          run.order.done(batch.firstOffset);
          this.#setRedisDown(false);
          result = await this.#d.writer.load(batch, {
            label,
            signal,
            ...(onDeadLettered ? { onDeadLettered } : {}),
          });
          if (result.status === 'dead-lettered') status = 'dead_lettered';
        }
        // Keys of rows Doris refused are not "seen": leave them out of the completion.
        const rejected = new Set(result?.rejected.map((r) => r.offset));
        const loadedKeys = rejected.size === 0 ? keys : keys.filter((_, i) => !rejected.has(batch.rowOffsets[i]!));
        if (batch.rowOffsets.length > 0) await this.#d.store.complete(batch.partition, intent, loadedKeys);
        this.#d.content?.settle(keys);
        run.pendingKeys.delete(batch.firstOffset);
        this.#obs.flushed(batch, result, (performance.now() - started) / 1000, status);
        await this.#settle_(batch);
        return;
      } catch (err) {
        if (signal.aborted) {
          this.#batcher.abandon(batch);
          return;
        }
        if (err instanceof PartitionFencedError) {
          // A new owner settled the partition while this member did not know it lost it (frozen,
          // or its session expired): the new owner loads these offsets; never commit past them.
          this.#log.warn({ label, partition: batch.partition }, 'partition claimed by another owner: batch dropped');
          this.#batcher.abandon(batch);
          return;
        }
        if (isUnavailable(err)) {
          this.#setRedisDown(true);
          this.#obs.degraded('load');
        } else if (err instanceof StreamLoadError && !err.retryable) {
          // Doris refused the batch for good (not for data quality, which the writer splits out):
          // every row goes to the DLQ with the reason, and the batch is settled.
          this.#obs.loadFailed(batch, err, false);
          this.#log.error(
            { label, partition: batch.partition, err: err.message },
            'load refused for good: batch dead-lettered',
          );
          await this.#writeDlq(
            await rejectedRecordsWithOriginals(
              this.#d.config.name,
              batch,
              batch.rows.map((row, index) => ({ index, row, offset: batch.rowOffsets[index]!, reason: err.message })),
              this.#d.originals,
              this.#log,
            ),
            'load_failed',
          );
          // Dropped before the batch settles: left behind (Redis away), the next settle would load
          // the range again below the committed offset, into Doris too once the cause is gone,
          // and a replay of these dead letters would load it twice.
          const dropped = await this.#whileRedisAway(
            'load',
            () => this.#d.store.dropIntent(batch.partition, intent.first),
            signal,
          ).then(
            () => true,
            (e: Error) => {
              this.#log.warn({ label, partition: batch.partition, err: e.message }, 'dropping the intent failed');
              return false;
            },
          );
          if (!dropped && signal.aborted) {
            this.#batcher.abandon(batch);
            return;
          }
          this.#d.content?.release(keys);
          run.pendingKeys.delete(batch.firstOffset);
          this.#obs.flushed(batch, undefined, (performance.now() - started) / 1000, 'dead_lettered');
          await this.#settle_(batch);
          return;
        } else {
          this.#obs.loadFailed(batch, err as Error, true);
        }
        const delay = backoffDelay(attempt, { baseMs: 1000, capMs: 30_000 });
        this.#log.warn(
          { label, partition: batch.partition, err: (err as Error).message, retryInMs: delay },
          'load not settled; retrying with the same label',
        );
        await this.#retryPause(delay, signal);
      }
    }
  }

  /**
   * Loads several partitions' batches as one two-phase load (batch.merge_partitions, DESIGN §3).
   * Fenced by the owner tokens instead of label collisions: the intents are recorded only while
   * every partition is this run's, the load pre-commits, and it is committed only after a Redis
   * step checked the tokens again and recorded 'commit'. A partition claimed by another owner
   * meanwhile makes it abort; the batches still this run's then load one by one, as does a merged
   * load Doris refuses (the single path dead-letters refused rows).
   */
  async #loadMerged(group: LoadBatch[]): Promise<void> {
    const runs = group.map((b) => this.#runs.get(b.partition));
    try {
      await this.#loadMergedInOrder(group);
    } finally {
      for (let i = 0; i < group.length; i++) runs[i]?.order.done(group[i]!.firstOffset);
    }
  }

  async #loadMergedInOrder(group: LoadBatch[]): Promise<void> {
    // Each batch with the run that cut it: one revoked and assigned again since is another run.
    let parts: { batch: LoadBatch; run: PartitionRun }[] = [];
    for (const batch of group) {
      const run = this.#runs.get(batch.partition);
      if (run && !run.abort.signal.aborted) parts.push({ batch, run });
      else this.#batcher.abandon(batch);
    }
    const started = performance.now();
    const signal = this.#shutdown.signal;
    let precommitted: string | undefined;
    /** Set once Redis holds 'commit' for it: the parts are fixed from then on. */
    let decided: string | undefined;
    /** When the decided load's intents were recorded. */
    let decidedCreated = 0;
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) {
        for (const { batch } of parts) this.#batcher.abandon(batch);
        return;
      }
      if (decided !== undefined) {
        try {
          return await this.#finishDecided(decided, decidedCreated, parts, started, signal);
        } catch (err) {
          if (signal.aborted) continue;
          const delay = backoffDelay(attempt, { baseMs: 1000, capMs: 30_000 });
          this.#log.warn(
            { label: decided, err: (err as Error).message, retryInMs: delay },
            'finishing a merged load failed',
          );
          await this.#retryPause(delay, signal);
          continue;
        }
      }
      if (parts.length < 2) return this.#loadOneByOne(parts);
      const spec = parts.map(({ batch, run }) => ({
        partition: batch.partition,
        first: batch.firstOffset,
        last: batch.lastOffset,
        token: run.token,
      }));
      const label = mergedLabel(this.#d.config.name, this.#topic, spec);
      if (precommitted !== undefined && precommitted !== label) {
        // The parts changed after an earlier try pre-committed: that txn is never decided, abort it.
        void this.#d.writer.abortPrecommitted(precommitted).catch(() => {});
        precommitted = undefined;
      }
      const merged = { parts: spec.map((p): [number, string, string] => [p.partition, p.first, p.last]) };
      const created = Date.now();
      const entries: MergedEntry[] = parts.map(({ batch, run }) => {
        const keys = run.pendingKeys.get(batch.firstOffset) ?? [];
        return {
          partition: batch.partition,
          token: run.token,
          intent: {
            label,
            first: batch.firstOffset,
            last: batch.lastOffset,
            created,
            ...(keys.length > 0 ? { keys } : {}),
            merged,
          },
        };
      });
      try {
        await Promise.all(
          parts.map(({ batch, run }) => run.order.turn(batch.firstOffset, AbortSignal.any([signal, run.abort.signal]))),
        );
        if (signal.aborted) continue;
        const fenced = await this.#d.store.recordMerged(entries);
        this.#setRedisDown(false);
        if (fenced >= 0) {
          this.#log.warn({ partition: spec[fenced]!.partition }, 'partition claimed by another owner: batch dropped');
          this.#batcher.abandon(parts[fenced]!.batch);
          parts[fenced]!.run.order.done(parts[fenced]!.batch.firstOffset);
          parts = parts.filter((_, i) => i !== fenced);
          continue;
        }
        for (const { batch, run } of parts) run.order.done(batch.firstOffset);
        const r = await this.#d.writer.precommit(
          parts.map((p) => p.batch),
          label,
          signal,
        );
        if (r.kind === 'refused') return this.#loadOneByOne(parts, `refused by Doris: ${r.reason}`);
        if (r.kind === 'precommitted') {
          precommitted = label;
          const lost = await this.#decideMerged(label, entries, signal);
          if (lost >= 0) {
            await this.#d.writer.abortPrecommitted(label).catch((err: Error) => {
              this.#log.warn({ label, err: err.message }, 'abort of a fenced merged load failed; Doris times it out');
            });
            const claimed = spec[lost]?.partition;
            return this.#loadOneByOne(
              parts.filter((p) => p.batch.partition !== claimed),
              `partition ${claimed} claimed by another owner`,
            );
          }
        }
        // Decided (or already in Doris): from here the txn must be committed, by this run or by
        // whoever settles one of its partitions next.
        decided = label;
        decidedCreated = created;
        attempt = -1;
      } catch (err) {
        if (signal.aborted) continue;
        if (isUnavailable(err)) {
          this.#setRedisDown(true);
          this.#obs.degraded('load');
        } else {
          this.#obs.loadFailed(parts[0]!.batch, err as Error, true);
        }
        const delay = backoffDelay(attempt, { baseMs: 1000, capMs: 30_000 });
        this.#log.warn(
          { label, partitions: spec.map((p) => p.partition), err: (err as Error).message, retryInMs: delay },
          'merged load not settled; retrying with the same label',
        );
        await this.#retryPause(delay, signal);
      }
    }
  }

  /**
   * The fence step of a pre-committed merged load, asked until Redis answers (or shutdown). Once it
   * may have run, its answer holds for everyone: a 'commit' whose reply was lost is found by whoever
   * settles one of the partitions next, and that one commits the txn. So until the answer is known
   * the parts stay as they are: dropping a partition claimed meanwhile and loading the others one by
   * one would load them twice.
   */
  async #decideMerged(label: string, entries: readonly MergedEntry[], signal: AbortSignal): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        const lost = await this.#d.store.decideMerged(label, entries);
        this.#setRedisDown(false);
        return lost;
      } catch (err) {
        if (signal.aborted) throw err;
        if (isUnavailable(err)) {
          this.#setRedisDown(true);
          this.#obs.degraded('load');
        }
        const delay = backoffDelay(attempt, { baseMs: 200, capMs: 5000 });
        this.#log.warn(
          { label, err: (err as Error).message, retryInMs: delay },
          'deciding a pre-committed merged load failed; asking again',
        );
        await this.#retryPause(delay, signal);
      }
    }
  }

  /**
   * Loads batches of a merged load that did not commit one by one under their own labels; a batch
   * whose partition was revoked (or assigned again) since is left to the partition's next run.
   */
  async #loadOneByOne(parts: readonly { batch: LoadBatch; run: PartitionRun }[], why?: string): Promise<void> {
    if (why !== undefined) {
      this.#log.warn(
        { batches: parts.length, reason: why },
        'merged load not committed: loading the batches one by one',
      );
      this.#obs.merged(parts.length, 'fallback');
    }
    await Promise.all(
      parts.map(({ batch, run }) =>
        this.#runs.get(batch.partition) === run ? this.#loadSingle(batch, run) : this.#batcher.abandon(batch),
      ),
    );
  }

  /** Commits a merged load decided 'commit', records it in Redis, settles its batches. */
  async #finishDecided(
    label: string,
    created: number,
    parts: { batch: LoadBatch; run: PartitionRun }[],
    started: number,
    signal: AbortSignal,
  ): Promise<void> {
    if (!(await this.#commitDecided(label, created, signal))) {
      // Doris aborted it (pre-commit timeout) before the commit: nothing of it is in Doris. Its
      // 'commit' goes (see DedupeStore.forgetDecision); left, the parts' single loads replace its
      // intents and nothing would ever delete it. Best effort: a settle finding it does the same.
      await this.#d.store.forgetDecision(label).catch((err: Error) => {
        this.#log.warn({ label, err: err.message }, 'deleting the decision of an aborted merged load failed');
      });
      return this.#loadOneByOne(parts, `Doris aborted the pre-committed txn ${label} before its commit`);
    }
    await this.#completeMerged(label, parts, signal);
    this.#obs.merged(parts.length, 'committed');
    const seconds = (performance.now() - started) / 1000;
    for (const { batch, run } of parts) {
      this.#d.content?.settle(run.pendingKeys.get(batch.firstOffset) ?? []);
      run.pendingKeys.delete(batch.firstOffset);
      this.#obs.flushed(batch, mergedPartResult(label, batch, seconds), seconds, 'ok');
    }
    await Promise.all(parts.map(({ batch }) => this.#settle_(batch)));
  }

  /**
   * Commits a merged load decided 'commit'. Returns false when Doris aborted the txn first (its
   * pre-commit timeout): nothing of it is in Doris. Retries until then or shutdown; a run that
   * stops here leaves the decision for whoever settles the partitions next.
   */
  async #commitDecided(label: string, created: number, signal: AbortSignal): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#d.writer.commitPrecommitted(label, signal);
        return true;
      } catch (err) {
        const state = await this.#d.writer.labelState(label).catch(() => undefined);
        if (state !== undefined) {
          // As a settle decides it (one rule): committed, or unknown to Doris within the pre-commit
          // timeout (committed, then its label evicted by 2000 newer loads) → in Doris; aborted → not.
          const d = decideMergedIntent({ label, first: '0', last: '0', created }, state, 'commit', Date.now());
          if (d.action === 'complete') return true;
          if (d.action === 'reload') return false;
        }
        if (signal.aborted) throw err;
        const delay = backoffDelay(attempt, { baseMs: 1000, capMs: 30_000 });
        this.#log.warn(
          { label, state, err: (err as Error).message, retryInMs: delay },
          'commit of a merged load failed',
        );
        await this.#retryPause(delay, signal);
      }
    }
  }

  /** Records a committed merged load in Redis (watermarks, intents, content keys), retrying while Redis is away. */
  async #completeMerged(
    label: string,
    parts: readonly { batch: LoadBatch; run: PartitionRun }[],
    signal: AbortSignal,
  ): Promise<void> {
    const keys = parts.flatMap(({ batch, run }) => run.pendingKeys.get(batch.firstOffset) ?? []);
    const ranges = parts.map(({ batch }) => ({
      partition: batch.partition,
      first: batch.firstOffset,
      last: batch.lastOffset,
    }));
    await this.#whileRedisAway('complete', () => this.#d.store.completeMerged(label, ranges, keys), signal);
  }

  /** A Redis write the batch cannot settle without: tried again while Redis is away, until `signal` aborts. */
  async #whileRedisAway(operation: string, write: () => Promise<void>, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await write();
        this.#setRedisDown(false);
        return;
      } catch (err) {
        if (!isUnavailable(err) || signal.aborted) throw err;
        this.#setRedisDown(true);
        this.#obs.degraded(operation);
        await sleep(backoffDelay(attempt, { baseMs: 200, capMs: 5000 }), signal).catch(() => {});
      }
    }
  }

  async #settle_(batch: LoadBatch): Promise<void> {
    const offset = this.#batcher.settle(batch);
    if (offset === null) return;
    await this.#commit(batch.partition, offset);
  }

  async #commit(partition: number, offset: string): Promise<void> {
    try {
      await this.#d.consumer.commit(new Map([[partition, offset]]));
      this.#obs.committed(partition, offset);
      this.#pendingCommits.succeeded(partition, offset);
    } catch (err) {
      // Safe (the watermark in Redis covers the batch), but Kafka's lag would stay behind: retry.
      this.#pendingCommits.failed(partition, offset);
      this.#log.warn({ partition, offset, err: (err as Error).message }, 'offset commit failed; will retry');
    }
  }

  /** Commits that failed (a rebalance, a coordinator move), retried once a second while the partition is ours. */
  #retryCommits(): void {
    if (this.#pendingCommits.size === 0 || this.#retryingCommits) return;
    this.#retryingCommits = true;
    const assigned = new Set(this.#d.consumer.assignment);
    const due = this.#pendingCommits.due((p) => assigned.has(p) && this.#runs.has(p));
    void Promise.allSettled(due.map(([partition, offset]) => this.#commit(partition, offset))).finally(() => {
      this.#retryingCommits = false;
    });
  }

  #setRedisDown(down: boolean): void {
    if (down === this.#redisDown) return;
    this.#redisDown = down;
    if (down) this.#log.error('Redis unreachable: consumption paused until it is back');
    else {
      this.#log.info('Redis reachable again: consumption resumes');
      this.#wakeRetries();
    }
    this.#applyPause();
  }

  /**
   * A load's back-off between tries: `delay` (the run's signal ends it too), or until
   * #wakeRetries. Back-offs grow to 30 s while Redis or Doris is away; without the wake-up, loads
   * would sleep on after Redis is back, and a shutdown's grace could end before their next try.
   */
  #retryPause(delay: number, signal: AbortSignal): Promise<void> {
    return sleep(delay, AbortSignal.any([signal, this.#retryWake.signal]));
  }

  /** Ends every load's back-off now: Redis is back, or the sinker is stopping and flushes what it can. */
  #wakeRetries(): void {
    this.#retryWake.abort();
    this.#retryWake = new AbortController();
  }

  // ---- shutdown -----------------------------------------------------------------------------

  /**
   * Stop fetching, load what is batched, commit, disconnect. Resolves true when everything consumed
   * was settled within `graceMs`.
   */
  async stop(graceMs: number): Promise<boolean> {
    this.#stopping = true;
    this.#applyPause();
    this.#wakeRetries();
    const deadline = Date.now() + graceMs;
    // Chunks already taken go into the batcher first, so they are loaded with the rest.
    while (this.#mapping.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.#mapping]), sleep(100)]);
    }
    const held = this.#batcher.flushAll();
    if (held > 0) {
      // Not committed either: whoever gets the partition next settles that intent again.
      this.#log.info({ rows: held }, 'shutdown: a re-load of an unsettled intent left short of its range, not loaded');
    }
    // Held loads (Doris refuses the setup) load nothing before a fix, which takes a restart with
    // new settings more often than not: they are not waited for.
    while ((this.#queue.length > 0 || this.#inFlight.size > 0) && Date.now() < deadline && !this.#d.writer.blocked) {
      await Promise.race([Promise.allSettled([...this.#inFlight]), sleep(100)]);
    }
    const flushed = held === 0 && this.#mapping.size === 0 && this.#queue.length === 0 && this.#inFlight.size === 0;
    if (this.#ticker) clearInterval(this.#ticker);
    for (const run of this.#runs.values()) run.abort.abort(new Error('shutting down'));
    this.#shutdown.abort(new Error('shutting down'));
    const disconnect = this.#d.consumer.stop().catch((err: Error) => {
      this.#log.warn({ err: err.message }, 'consumer disconnect failed');
    });
    if (!(await settledWithin(CLOSE_MS, [this.#pool?.close(1000) ?? Promise.resolve(), disconnect]))) {
      this.#log.warn({ waitedMs: CLOSE_MS }, 'Kafka consumer did not disconnect in time; leaving without it');
    }
    return flushed;
  }
}

/** The intent being re-loaded whose range holds `offset` (an exact batch's first offset). */
function reloadedIntent(plan: ResumePlan | undefined, offset: string): Intent | undefined {
  return plan?.reload.find((r) => cmpOffset(offset, r.intent.first) >= 0 && cmpOffset(offset, r.intent.last) <= 0)
    ?.intent;
}

/** An intent to re-load the fetch went past, from `from` (at or before its first offset) to beyond its last. */
interface Emptied {
  intent: Intent;
  from: bigint;
}

/**
 * Moves the run past the re-load intents that `offset` lies beyond (the plan lists them by first
 * offset; offsets come in order). Those the fetch went past from at or before their first offset,
 * without a message in between, are added to `emptied`; one passed from an unknown position (a
 * rejoin) stays open.
 */
function passReloads(
  run: PartitionRun,
  plan: ResumePlan,
  offset: string,
  emptied: Emptied[] | undefined,
): Emptied[] | undefined {
  let out = emptied;
  for (; run.reloadAt < plan.reload.length; run.reloadAt++) {
    const intent = plan.reload[run.reloadAt]!.intent;
    if (cmpOffset(offset, intent.last) <= 0) break;
    const from = run.position;
    if (from !== undefined && from <= BigInt(intent.first)) {
      out ??= [];
      out.push({ intent, from });
    }
  }
  return out;
}

/** A merged load's share for one batch, for the observer: the batch's rows, all loaded. */
function mergedPartResult(label: string, batch: LoadBatch, seconds: number): LoadResult {
  return {
    label,
    status: 'loaded',
    loadedRows: batch.rowOffsets.length,
    filteredRows: 0,
    unselectedRows: 0,
    deadLetteredRows: 0,
    rejected: [],
    publishTimeout: false,
    attempts: 1,
    elapsedMs: seconds * 1000,
  };
}

/** Where each dedupe key field sits in the mapped row; a key field that is not a loaded column is an error. */
export function keyColumnIndexes(mapper: Pick<Mapper, 'columns'>, keyFields: readonly string[]): number[] {
  return keyFields.map((f) => {
    const i = mapper.columns.findIndex((c) => c.name === f);
    if (i < 0) {
      throw new Error(
        `dedupe.key_fields: "${f}" is not a column the sinker loads (columns: ${mapper.columns.map((c) => c.name).join(', ')})`,
      );
    }
    return i;
  });
}
