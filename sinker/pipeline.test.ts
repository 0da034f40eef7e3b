// The pipeline's exactly-once paths with every I/O dependency faked in memory (Kafka consumer and
// admin, Redis state, Doris writer), so an interleaving — a revocation while a chunk awaits Redis, a
// schema switch in the middle of a re-loaded range — is driven step by step, not hoped for.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { Admin, EachBatchPayload, KafkaMessage } from 'kafkajs';
import pino from 'pino';
import type { LoadBatch } from './batch.ts';
import { parseConfig } from './config/load.ts';
import type { AssignmentChange, ConsumerHooks, SinkConsumer } from './consumer.ts';
import { ContentDedupe } from './dedupe/content.ts';
import { DedupeUnavailableError } from './dedupe/errors.ts';
import { contentKey, dedupeKeys, intentField } from './dedupe/keys.ts';
import { settlePartition } from './dedupe/settle.ts';
import { cmpOffset, type Intent, type PartitionState } from './dedupe/state.ts';
import { type DedupeStore, type MergedEntry, PartitionFencedError } from './dedupe/store.ts';
import type { DeadLetterQueue } from './dlq/dlq.ts';
import { createEncoder } from './encode/encoders.ts';
import { loadLabel } from './labels.ts';
import { Mapper } from './mapper/mapper.ts';
import { NO_OBSERVER, SinkPipeline } from './pipeline.ts';
import { columnsFromDescribe, tableSchema } from './schema/schema.ts';
import type { LabelState } from './writer/fe-replies.ts';
import { type LoadResult, type PrecommitResult, StreamLoadError, type StreamLoadWriter } from './writer/writer.ts';

const SINK = 's';
const TOPIC = 't';

function mapper(extraColumn = false): Mapper {
  const cols: [string, string][] = [
    ['id', 'bigint'],
    ['name', 'varchar(200)'],
  ];
  if (extraColumn) cols.push(['added', 'int']);
  const rows = cols.map(([Field, Type]) => ({ Field, Type, Null: 'Yes', Key: 'false', Default: null, Extra: '' }));
  return new Mapper(tableSchema(columnsFromDescribe(rows)), { zeroDate: '1970-01-01' });
}

/** Redis state in memory, with DedupeStore's semantics (owner fence, atomic complete, content keys). */
class MemoryStore {
  readonly keys = dedupeKeys('', SINK, TOPIC);
  readonly watermarks = new Map<number, string>();
  readonly intents = new Map<string, Intent>();
  readonly owners = new Map<number, string>();
  readonly seenKeys = new Set<string>();
  /** While set, `seen` waits for it (a slow or unreachable Redis). */
  seenGate: Promise<void> | undefined;
  seenCalls = 0;
  /** While true, Redis is away for connect, recordIntent and seen. */
  down = false;

  /** Operations refused while down, by name. */
  readonly refused: string[] = [];

  #away(operation: string): void {
    if (!this.down) return;
    this.refused.push(operation);
    throw new DedupeUnavailableError(operation, new Error('Connection is closed.'));
  }
  async ping(): Promise<void> {
    this.#away('ping');
  }

  /** An intent an earlier owner recorded for [first..last] of partition 0, under its single-load label. */
  openIntent(first: string, last: string): void {
    this.intents.set(intentField(0, first), {
      label: loadLabel(SINK, TOPIC, 0, first),
      first,
      last,
      created: Date.now(),
    });
  }

  async claim(partition: number, token: string): Promise<void> {
    this.owners.set(partition, token);
  }
  async firstPartitionCount(current: number): Promise<number> {
    return current;
  }
  async staleState(): Promise<null> {
    return null;
  }
  async markStale(record: unknown): Promise<unknown> {
    return record;
  }
  async topicState(): Promise<Map<number, PartitionState>> {
    const out = new Map<number, PartitionState>();
    const entry = (p: number) => {
      let e = out.get(p);
      if (!e) {
        e = { watermark: null, intents: [] };
        out.set(p, e);
      }
      return e;
    };
    for (const [p, wm] of this.watermarks) entry(p).watermark = wm;
    for (const [field, intent] of this.intents) entry(Number(field.split(':')[0])).intents.push({ ...intent });
    return out;
  }
  async recordIntent(partition: number, intent: Intent, token = ''): Promise<void> {
    this.#away('recordIntent');
    const owner = this.owners.get(partition);
    if (owner !== undefined && token !== '' && owner !== token) throw new PartitionFencedError(partition, intent.first);
    this.intents.set(intentField(partition, intent.first), { ...intent });
  }
  async complete(
    partition: number,
    intent: Pick<Intent, 'first' | 'last'> & Partial<Pick<Intent, 'label' | 'merged'>>,
    contentKeys: readonly string[] = [],
  ): Promise<string | null> {
    const cur = this.watermarks.get(partition);
    if (cur === undefined || cmpOffset(intent.last, cur) > 0) this.watermarks.set(partition, intent.last);
    this.intents.delete(intentField(partition, intent.first));
    // The last part of a merged load completed takes its decision along (as the Lua step does).
    const open = intent.merged?.parts.some(
      ([p, first]) => this.intents.get(intentField(p, first))?.label === intent.label,
    );
    if (intent.merged && intent.label !== undefined && !open) this.decisions.delete(intent.label);
    for (const k of contentKeys) this.seenKeys.add(k);
    return this.watermarks.get(partition)!;
  }
  /** How many of the next dropIntent calls fail as if Redis were away. */
  dropFailures = 0;
  async dropIntent(partition: number, first: string): Promise<void> {
    if (this.dropFailures > 0) {
      this.dropFailures--;
      throw new DedupeUnavailableError('dropIntent', new Error('Connection is closed.'));
    }
    this.intents.delete(intentField(partition, first));
  }
  readonly decisions = new Map<string, 'commit' | 'abort'>();
  /** Called once, after the next decideMerged ran, instead of its reply (a reply lost on the way back). */
  onDecideLost: (() => void) | undefined;

  async mergedDecision(label: string): Promise<'commit' | 'abort' | null> {
    return this.decisions.get(label) ?? null;
  }
  async forgetDecision(label: string): Promise<void> {
    this.decisions.delete(label);
  }
  #fenced(entries: readonly { partition: number; token: string }[]): number {
    return entries.findIndex((e) => {
      const owner = this.owners.get(e.partition);
      return owner !== undefined && e.token !== '' && owner !== e.token;
    });
  }
  async recordMerged(entries: readonly MergedEntry[]): Promise<number> {
    const fenced = this.#fenced(entries);
    if (fenced >= 0) return fenced;
    for (const e of entries) this.intents.set(intentField(e.partition, e.intent.first), { ...e.intent });
    return -1;
  }
  async decideMerged(label: string, entries: readonly { partition: number; token: string }[]): Promise<number> {
    const prior = this.decisions.get(label);
    let r: number;
    if (prior === 'commit') r = -1;
    else if (prior === 'abort') r = entries.length;
    else {
      r = this.#fenced(entries);
      if (r < 0) this.decisions.set(label, 'commit');
    }
    const lost = this.onDecideLost;
    if (lost) {
      this.onDecideLost = undefined;
      lost();
      throw new DedupeUnavailableError('decideMerged', new Error('Connection is closed.'));
    }
    return r;
  }
  async completeMerged(
    label: string,
    parts: readonly { partition: number; first: string; last: string }[],
    contentKeys: readonly string[] = [],
  ): Promise<void> {
    for (const part of parts) await this.complete(part.partition, part, []);
    this.decisions.delete(label);
    for (const k of contentKeys) this.seenKeys.add(k);
  }
  async seen(keys: readonly string[]): Promise<boolean[]> {
    this.seenCalls++;
    if (this.seenGate) await this.seenGate;
    this.#away('seen');
    return keys.map((k) => this.seenKeys.has(k));
  }
}

interface Load {
  label: string;
  partition: number;
  first: string;
  last: string;
  offsets: string[];
}

/** Doris as far as labels go: a label loads once; later loads under it are "already loaded". */
class FakeWriter {
  readonly loads: Load[] = [];
  readonly committed = new Set<string>();
  /** Two-phase loads not committed yet: their rows, invisible. */
  readonly precommitted = new Map<string, Load[]>();
  /** Labels whose loads fail (retryable) while listed. */
  readonly failing = new Set<string>();
  /** Labels Doris refuses for good (a non-retryable StreamLoadError). */
  readonly refused = new Set<string>();
  /** Offsets whose rows Doris refuses for data quality: dead-lettered, the rest loads (as the writer does). */
  readonly badOffsets = new Set<string>();
  /** Labels whose load commits and then never answers (the process dies before it hears back). */
  readonly hangAfterCommit = new Set<string>();
  /** Pre-committed txns Doris aborted (its pre-commit timeout). */
  readonly aborted = new Set<string>();
  /** The next commit of a pre-committed txn finds it aborted by Doris (the timeout passed first). */
  abortAtCommit = false;
  /**
   * While set, Doris refuses the sink's setup (a wrong password): every load is held (the real
   * writer retries it under its label) until this is cleared or the load's signal aborts.
   */
  blocked: string | undefined;

  labelOf(batch: Pick<LoadBatch, 'topic' | 'partition' | 'firstOffset'>): string {
    return loadLabel(SINK, batch.topic, batch.partition, batch.firstOffset);
  }
  async labelState(label: string): Promise<LabelState> {
    if (this.aborted.has(label)) return 'ABORTED';
    return this.committed.has(label) ? 'VISIBLE' : this.precommitted.has(label) ? 'PRECOMMITTED' : 'UNKNOWN';
  }
  async precommit(batches: readonly LoadBatch[], label: string): Promise<PrecommitResult> {
    if (this.committed.has(label)) return { kind: 'in-doris' };
    if (!this.precommitted.has(label)) {
      this.precommitted.set(
        label,
        batches.map((b) => ({
          label,
          partition: b.partition,
          first: b.firstOffset,
          last: b.lastOffset,
          offsets: [...b.rowOffsets],
        })),
      );
    }
    return { kind: 'precommitted', txnId: '1' };
  }
  async commitPrecommitted(label: string): Promise<void> {
    if (this.committed.has(label)) return;
    if (this.abortAtCommit && this.precommitted.has(label)) {
      this.abortAtCommit = false;
      this.precommitted.delete(label);
      this.aborted.add(label);
    }
    const parts = this.precommitted.get(label);
    if (!parts)
      throw new StreamLoadError(`2PC commit of ${label} failed: not found`, { label, retryable: true, attempts: 0 });
    this.precommitted.delete(label);
    this.committed.add(label);
    this.loads.push(...parts);
  }
  async abortPrecommitted(label: string): Promise<void> {
    this.precommitted.delete(label);
  }
  async load(
    batch: LoadBatch,
    opts: {
      label?: string;
      signal?: AbortSignal;
      onDeadLettered?: (rows: readonly LoadResult['rejected'][number][]) => Promise<void>;
    },
  ): Promise<LoadResult> {
    const label = opts.label ?? this.labelOf(batch);
    while (this.blocked !== undefined) {
      if (opts.signal?.aborted)
        throw new StreamLoadError(`load ${label}: aborted`, { label, retryable: true, attempts: 1 });
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.failing.has(label) || this.refused.has(label)) {
      const retryable = !this.refused.has(label);
      throw new StreamLoadError(`load ${label}: injected`, { label, retryable, attempts: 1 });
    }
    const already = this.committed.has(label);
    const rejected = batch.rowOffsets.flatMap((offset, index) =>
      this.badOffsets.has(offset) ? [{ index, offset, row: batch.rows[index]!, reason: 'bad' }] : [],
    );
    if (!already && rejected.length > 0) await opts.onDeadLettered?.(rejected);
    if (!already) {
      this.committed.add(label);
      this.loads.push({
        label,
        partition: batch.partition,
        first: batch.firstOffset,
        last: batch.lastOffset,
        offsets: batch.rowOffsets.filter((o) => !this.badOffsets.has(o)),
      });
    }
    if (this.hangAfterCommit.has(label)) {
      await new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(opts.signal?.reason)));
    }
    return {
      label,
      status: already ? 'already-loaded' : 'loaded',
      loadedRows: batch.rowOffsets.length,
      filteredRows: 0,
      unselectedRows: 0,
      deadLetteredRows: rejected.length,
      rejected,
      publishTimeout: false,
      attempts: 1,
      elapsedMs: 0,
    };
  }
  /** Every offset of `partition` in Doris, in load order. */
  offsetsOf(partition = 0): string[] {
    return this.loads.filter((l) => l.partition === partition).flatMap((l) => l.offsets);
  }
}

class FakeConsumer {
  hooks: ConsumerHooks | undefined;
  assigned: number[] = [];
  generation = 0;
  readonly commits: [number, string][] = [];
  readonly consumer = { seek: () => {} };
  async start(hooks: ConsumerHooks): Promise<void> {
    this.hooks = hooks;
  }
  get assignment(): number[] {
    return [...this.assigned];
  }
  /** Partitions paused, as SinkConsumer keeps them (only assigned ones pause). */
  readonly paused = new Set<number>();
  pause(partitions: number[]): void {
    for (const p of partitions) if (this.assigned.includes(p)) this.paused.add(p);
  }
  resume(partitions: number[]): void {
    for (const p of partitions) this.paused.delete(p);
  }
  async commit(offsets: Map<number, string>): Promise<void> {
    for (const [p, o] of offsets) if (this.assigned.includes(p)) this.commits.push([p, o]);
  }
  async stop(): Promise<void> {}
  change(assigned: number[], revoked: number[]): void {
    this.assigned = [...this.assigned.filter((p) => !revoked.includes(p)), ...assigned];
    const change: AssignmentChange = { assigned, revoked, current: this.assignment, generation: ++this.generation };
    this.hooks!.onAssignment(change);
  }
}

function fakeAdmin(high: number, partitions: number, low = 0): Admin {
  const ps = Array.from({ length: partitions }, (_, p) => p);
  return {
    fetchTopicMetadata: async () => ({
      topics: [{ name: TOPIC, partitions: ps.map((partitionId) => ({ partitionId })) }],
    }),
    fetchOffsets: async () => [{ topic: TOPIC, partitions: ps.map((partition) => ({ partition, offset: '-1' })) }],
    fetchTopicOffsets: async () =>
      ps.map((partition) => ({ partition, offset: String(high), high: String(high), low: String(low) })),
  } as unknown as Admin;
}

interface Harness {
  pipeline: SinkPipeline;
  store: MemoryStore;
  writer: FakeWriter;
  consumer: FakeConsumer;
  duplicates: number[];
  /** Offsets of partition 0 written to the dead-letter queue. */
  deadLetters: string[];
  /** Delivers messages of `partition` as one fetched batch. */
  deliver(messages: KafkaMessage[], partition?: number): Promise<void>;
}

async function harness(t: TestContext, yaml: string, partitions = 1, high = 1000, low = 0): Promise<Harness> {
  const config = parseConfig(`name: ${SINK}\nkafka: {topic: ${TOPIC}}\n${yaml}`, { env: {} });
  const m = mapper();
  const store = new MemoryStore();
  const writer = new FakeWriter();
  const consumer = new FakeConsumer();
  const duplicates: number[] = [];
  const deadLetters: string[] = [];
  const dlq = {
    write: async (records: readonly { offset: string }[]) => {
      for (const r of records) deadLetters.push(r.offset);
    },
  } as unknown as DeadLetterQueue;
  const pipeline = new SinkPipeline({
    config,
    logger: pino({ level: 'silent' }),
    consumer: consumer as unknown as SinkConsumer,
    admin: fakeAdmin(high, partitions, low),
    writer: writer as unknown as StreamLoadWriter,
    store: store as unknown as DedupeStore,
    ...(config.dedupe.key_fields.length > 0 ? { content: new ContentDedupe(store) } : {}),
    dlq,
    mapper: m,
    encoder: createEncoder(config.doris.format, m.columns),
    observer: { ...NO_OBSERVER, duplicate: (n) => duplicates.push(n) },
  });
  await pipeline.start();
  // A test that fails half-way must not leave loads retrying: stop gives up at once.
  t.after(() => pipeline.stop(0));
  const deliver = (messages: KafkaMessage[], partition = 0) =>
    consumer.hooks!.eachBatch({
      batch: { topic: TOPIC, partition, messages },
      heartbeat: async () => {},
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  return { pipeline, store, writer, consumer, duplicates, deadLetters, deliver };
}

/** Messages at `from`..`to` of partition 0; message at offset o has id 100 + o and a 50-character name. */
function messages(from: number, to: number): KafkaMessage[] {
  const out: KafkaMessage[] = [];
  for (let o = from; o <= to; o++) {
    const value = Buffer.from(JSON.stringify({ id: 100 + o, name: 'n'.repeat(50) }));
    out.push({ offset: String(o), value, key: null, timestamp: '0', attributes: 0, headers: {} } as KafkaMessage);
  }
  return out;
}

function keyOf(offset: number): string {
  return contentKey([String(100 + offset)]);
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// A JSON row here is {"id":1NN,"name":"n…n"}: 71 bytes. 250 body bytes hold 3 rows; the 4th cuts
// the batch before it is added.
const SIZE_CUT = 'batch: {map_workers: 0, max_batch_size: 250, max_batch_interval: 3600}';

test('Doris refusing the setup (writer.blocked): loads held, fetching paused, /readyz says why, nothing dead-lettered or committed; all loads once fixed', async (t) => {
  const h = await harness(t, SIZE_CUT);
  h.writer.blocked = "Access denied for user 'root@10.0.0.1' (using password: YES)";
  h.consumer.change([0], []);
  await h.deliver(messages(0, 5));
  await until('the hold is seen', () => h.pipeline.loadBlocked !== undefined);
  assert.match(h.pipeline.loadBlocked ?? '', /refuses the sink's setup.*Access denied for user/);
  assert.ok(h.consumer.paused.has(0), 'fetching not paused while loads are held');
  assert.deepEqual(h.deadLetters, []);
  assert.equal(h.consumer.commits.length, 0, 'committed while held');
  assert.equal(h.writer.loads.length, 0);
  h.writer.blocked = undefined;
  // [0..2] was cut and held; [3..5] is still filling (cut at stop).
  await until('the held batch loads', () => h.writer.offsetsOf().length === 3);
  await until('the hold ends', () => h.pipeline.loadBlocked === undefined && !h.consumer.paused.has(0));
  assert.equal(await h.pipeline.stop(10_000), true);
  assert.deepEqual(h.writer.offsetsOf(), range(0, 5));
  assert.deepEqual(h.deadLetters, []);
  assert.ok(
    h.consumer.commits.some(([p, o]) => p === 0 && o === '6'),
    JSON.stringify(h.consumer.commits),
  );
});

test('SIGTERM while loads are held: stop does not wait out the grace for them, says not flushed, commits nothing', async (t) => {
  const h = await harness(t, SIZE_CUT);
  h.writer.blocked = 'FE code 401: Unauthorized: Access denied';
  h.consumer.change([0], []);
  await h.deliver(messages(0, 5));
  await until('the hold is seen', () => h.pipeline.loadBlocked !== undefined);
  // A grace of 10 minutes: waited out, the test would time out.
  const flushed = await Promise.race([
    h.pipeline.stop(600_000),
    new Promise<string>((r) => setTimeout(() => r('still waiting after 20 s'), 20_000).unref()),
  ]);
  assert.equal(flushed, false);
  assert.deepEqual(h.consumer.commits, []);
  assert.deepEqual(h.deadLetters, []);
  assert.deepEqual(h.writer.loads, []);
});

test('content dedupe: a batch cut by size before a row leaves that row key to the next batch, so losing the next batch loses no row', async (t) => {
  const h = await harness(t, `${SIZE_CUT}\ndedupe: {key_fields: [id]}`);
  const l3 = loadLabel(SINK, TOPIC, 0, '3');
  h.writer.failing.add(l3);
  h.consumer.change([0], []);
  await h.deliver(messages(0, 9));
  // [0..2] and [6..8] load; [3..5] keeps failing; 9 is still filling.
  await until('batches 0-2 and 6-8 loaded', () => h.writer.loads.length === 2);
  assert.deepEqual(
    h.writer.loads.map((l) => l.offsets),
    [range(0, 2), range(6, 8)],
  );
  // Each completed batch marked exactly its own rows' keys seen.
  assert.deepEqual(
    [...h.store.seenKeys].sort(),
    [0, 1, 2, 6, 7, 8].map(keyOf).sort(),
    'a completed batch marked a key of a row it does not hold',
  );

  // The partition moves on (a rebalance) before [3..5] loads, and comes back: the new run re-loads
  // the open intent [3..5] and reads 9 again.
  h.consumer.change([], [0]);
  h.writer.failing.delete(l3);
  h.consumer.change([0], []);
  await h.deliver(messages(0, 9));
  assert.equal(await h.pipeline.stop(10_000), true);
  assert.deepEqual(
    h.writer.offsetsOf().sort((a, b) => Number(a) - Number(b)),
    range(0, 9),
  );
});

test('content dedupe: keys admitted for a chunk whose partition was revoked meanwhile are released, so the partition read again loads them', async (t) => {
  const h = await harness(t, `${SIZE_CUT}\ndedupe: {key_fields: [id]}`);
  let open: () => void = () => {};
  h.store.seenGate = new Promise((r) => {
    open = r;
  });
  h.consumer.change([0], []);
  await h.deliver(messages(0, 2));
  await until('the chunk asks Redis about its keys', () => h.store.seenCalls === 1);
  // Revoked while the chunk waits for Redis; the answer comes after.
  h.consumer.change([], [0]);
  open();
  h.store.seenGate = undefined;
  await new Promise((r) => setTimeout(r, 20));
  // The partition comes back to this member, which reads the same messages again.
  h.consumer.change([0], []);
  await h.deliver(messages(0, 2));
  assert.equal(await h.pipeline.stop(10_000), true);
  assert.deepEqual(
    h.duplicates.filter((n) => n > 0),
    [],
    'rows dropped as duplicates of rows never loaded',
  );
  assert.deepEqual(h.writer.offsetsOf(), range(0, 2));
});

test('a schema switch while an unsettled intent is re-loaded keeps its exact range under its own label', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}');
  const l0 = loadLabel(SINK, TOPIC, 0, '0');
  // An earlier owner recorded [0..5] and may still send it (a zombie): the label must cover 0..5.
  h.store.openIntent('0', '5');
  h.consumer.change([0], []);
  await h.deliver(messages(0, 2));
  await until('rows 0-2 in the batcher', () => h.pipeline.bufferedBytes > 0);
  const next = mapper(true);
  h.pipeline.swapSchema(next, createEncoder('json', next.columns));
  await h.deliver(messages(3, 7));
  assert.equal(await h.pipeline.stop(10_000), true);
  const reload = h.writer.loads.find((l) => l.label === l0);
  assert.deepEqual(reload && [reload.first, reload.last], ['0', '5'], `loads: ${JSON.stringify(h.writer.loads)}`);
  assert.deepEqual(
    h.writer.offsetsOf().sort((a, b) => Number(a) - Number(b)),
    range(0, 7),
  );
  assert.equal(h.store.intents.size, 0);
});

test("a schema switch hands on the old mapper's counts: a worker's last task adds them after the switch", async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}');
  const old = h.pipeline.mapper;
  // What an old worker's task finishing after the switch adds (MapPool absorbs into its mapper).
  old.absorbStats({
    parseErrors: 2,
    missing: [{ field: 'name', count: 3 }],
    conversions: [{ field: 'id', fromType: 'string', toType: 'BIGINT', count: 1 }],
  });
  const next = mapper(true);
  h.pipeline.swapSchema(next, createEncoder('json', next.columns));
  await new Promise((r) => setImmediate(r));
  // Before: the metrics drained only the new mapper, and these were never counted.
  const s = next.drainStats();
  assert.equal(s.parseErrors, 2);
  assert.deepEqual(s.missing, [{ field: 'name', count: 3 }]);
  assert.deepEqual(
    s.conversions.map((c) => [c.field, c.count]),
    [['id', 1]],
  );
  assert.equal(await h.pipeline.stop(10_000), true);
});

test('a schema switch refused (a dedupe.key_fields column dropped) cuts no batch: the refresh retries it every interval', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}\ndedupe: {key_fields: [id]}');
  h.consumer.change([0], []);
  await h.deliver(messages(0, 2));
  await until('rows 0-2 in the batcher', () => h.pipeline.bufferedBytes > 0);
  const rows = [{ Field: 'name', Type: 'varchar(200)', Null: 'Yes', Key: 'false', Default: null, Extra: '' }];
  const next = new Mapper(tableSchema(columnsFromDescribe(rows)), { zeroDate: '1970-01-01' });
  for (let i = 0; i < 3; i++) {
    assert.throws(() => h.pipeline.swapSchema(next, createEncoder('json', next.columns)), /dedupe\.key_fields: "id"/);
  }
  await h.deliver(messages(3, 7));
  assert.equal(await h.pipeline.stop(10_000), true);
  // Before: the refused switch had flushed the batcher first, so 0-2 went out as a batch of their own.
  assert.deepEqual(
    h.writer.loads.map((l) => [l.first, l.last]),
    [['0', '7']],
  );
});

test('merged load: a decision whose reply was lost is asked again before a claimed partition is dropped, so no part loads twice', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600, merge_partitions: true}', 2);
  h.consumer.change([0, 1], []);
  await h.deliver(messages(0, 2), 0);
  await until('rows of partition 0 in the batcher', () => h.pipeline.bufferedBytes > 0);
  const one = h.pipeline.bufferedBytes;
  await h.deliver(messages(0, 2), 1);
  await until('rows of partition 1 in the batcher', () => h.pipeline.bufferedBytes > one);
  // Redis records 'commit' for the merged load but the reply is lost; then another member claims
  // partition 1 (a rebalance) before the merged load asks again.
  h.store.onDecideLost = () => h.store.owners.set(1, 'other-member');
  assert.equal(await h.pipeline.stop(15_000), true);
  // The other member settles partition 1 as a settle does: the merged intent's decision says commit.
  await settlePartition({
    store: h.store as unknown as DedupeStore,
    partition: 1,
    committed: null,
    labelState: (label) => h.writer.labelState(label),
    commitPrecommitted: (label) => h.writer.commitPrecommitted(label),
    abortPrecommitted: (label) => h.writer.abortPrecommitted(label),
    singleLabel: (first) => loadLabel(SINK, TOPIC, 1, first),
  });
  assert.deepEqual(h.writer.offsetsOf(0), range(0, 2), `loads: ${JSON.stringify(h.writer.loads)}`);
});

test('an unsettled intent whose first offsets are gone from the log (compaction) is re-loaded under its own label and settled', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}');
  const l0 = loadLabel(SINK, TOPIC, 0, '0');
  h.store.openIntent('0', '5');
  h.consumer.change([0], []);
  // Offset 0 was compacted away since the intent was recorded.
  await h.deliver(messages(1, 7));
  assert.equal(await h.pipeline.stop(10_000), true);
  const reload = h.writer.loads.find((l) => l.first === '1');
  // The label an earlier owner may still send for this range: only then do the two collide.
  assert.equal(reload?.label, l0, `loads: ${JSON.stringify(h.writer.loads)}`);
  assert.deepEqual(reload?.offsets, range(1, 5));
  // Settled: no intent left for every later settle to re-load again (and twice, once Doris forgets the label).
  assert.deepEqual([...h.store.intents.keys()], []);
  assert.equal(h.store.watermarks.get(0), '7');
  assert.deepEqual(
    h.writer.offsetsOf().sort((a, b) => Number(a) - Number(b)),
    range(1, 7),
  );
});

test('an unsettled intent whose re-load holds no row (every row a content duplicate now) is dropped, not left for every later settle', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}\ndedupe: {key_fields: [id]}');
  h.store.openIntent('0', '2');
  for (const o of [0, 1, 2]) h.store.seenKeys.add(keyOf(o));
  h.consumer.change([0], []);
  await h.deliver(messages(0, 4));
  assert.equal(await h.pipeline.stop(10_000), true);
  assert.deepEqual(h.writer.offsetsOf(), range(3, 4));
  assert.deepEqual([...h.store.intents.keys()], []);
  assert.deepEqual(h.consumer.commits.at(-1), [0, '5']);
});

test('a batch Doris refuses for good is dead-lettered and its intent dropped, also when Redis is away at that moment', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}');
  h.writer.refused.add(loadLabel(SINK, TOPIC, 0, '0'));
  h.store.dropFailures = 1;
  h.consumer.change([0], []);
  await h.deliver(messages(0, 2));
  assert.equal(await h.pipeline.stop(10_000), true);
  assert.deepEqual(h.deadLetters, range(0, 2));
  // Left behind, the next settle would load the range again below the committed offset: into Doris
  // too once the cause is gone, and a replay of the dead letters would then load it twice.
  assert.deepEqual([...h.store.intents.keys()], []);
  assert.deepEqual(h.consumer.commits.at(-1), [0, '3']);
});

test('an unsettled intent whose whole range is gone from the log (compaction) settles as empty: dropped once a later offset is read', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}');
  // [3..5] is open above the watermark 2 (a crash before it loaded); all of 3..5 was compacted away since.
  h.store.watermarks.set(0, '2');
  h.store.openIntent('3', '5');
  h.consumer.change([0], []);
  await h.deliver(messages(6, 8));
  assert.equal(await h.pipeline.stop(10_000), true);
  assert.deepEqual(h.writer.offsetsOf(), range(6, 8));
  // Left open, every later settle would seek back to 3 and read on for an intent nothing can fill.
  assert.deepEqual([...h.store.intents.keys()], []);
  assert.equal(h.store.watermarks.get(0), '8');
  assert.deepEqual(h.consumer.commits.at(-1), [0, '9']);
});

test('merged load: decided commit but aborted by Doris before its commit, the parts load one by one and the decision goes', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600, merge_partitions: true}', 2);
  h.writer.abortAtCommit = true;
  h.consumer.change([0, 1], []);
  await h.deliver(messages(0, 2), 0);
  await until('rows of partition 0 in the batcher', () => h.pipeline.bufferedBytes > 0);
  const one = h.pipeline.bufferedBytes;
  await h.deliver(messages(0, 2), 1);
  await until('rows of partition 1 in the batcher', () => h.pipeline.bufferedBytes > one);
  assert.equal(await h.pipeline.stop(15_000), true);
  assert.equal(h.writer.aborted.size, 1, 'the merged load was not the one aborted');
  assert.deepEqual(
    h.writer.loads.map((l) => [l.label, l.offsets]),
    [0, 1].map((p) => [loadLabel(SINK, TOPIC, p, '0'), range(0, 2)]),
  );
  // Left, nothing would ever delete it (the single loads replaced the merged intents).
  assert.deepEqual([...h.store.decisions.keys()], []);
  assert.deepEqual([...h.store.intents.keys()], []);
});

test('content dedupe: a load committed with rows refused for data quality, then the process dies: the settle marks only the loaded rows seen', async (t) => {
  const h = await harness(
    t,
    'batch: {map_workers: 0, max_batch_interval: 3600, max_batch_rows: 3}\ndedupe: {key_fields: [id]}',
  );
  const l0 = loadLabel(SINK, TOPIC, 0, '0');
  h.writer.badOffsets.add('1');
  h.writer.hangAfterCommit.add(l0);
  h.consumer.change([0], []);
  await h.deliver(messages(0, 2));
  await until('the load committed', () => h.writer.committed.has(l0));
  // The process dies before it completes the intent; the next owner settles it by its label.
  assert.equal(await h.pipeline.stop(0), false);
  await settlePartition({
    store: h.store as unknown as DedupeStore,
    partition: 0,
    committed: null,
    labelState: (label) => h.writer.labelState(label),
  });
  assert.equal(h.store.watermarks.get(0), '2');
  assert.deepEqual(h.writer.offsetsOf(), ['0', '2']);
  // Offset 1 is in the dead-letter queue, not in Doris: a corrected re-send of it must load.
  assert.deepEqual([...h.store.seenKeys].sort(), [keyOf(0), keyOf(2)].sort());
});

test('an unsettled intent the fetch skips after a rejoin (kafkajs goes back to the committed offset) stays open for the next settle', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}');
  // A hole: [3..5] open below the watermark 10 (a later batch loaded first).
  h.store.watermarks.set(0, '10');
  h.store.openIntent('3', '5');
  h.consumer.change([0], []);
  await until('partition 0 settled', () => h.pipeline.settledPartitions.includes(0));
  // A rejoin keeps partition 0 before anything is read: kafkajs fetches from the committed offset 11.
  h.consumer.change([], []);
  await h.deliver(messages(11, 12));
  assert.equal(await h.pipeline.stop(10_000), true);
  assert.deepEqual(h.writer.offsetsOf(), range(11, 12));
  // Rows 3..5 are still in the log, unread: dropped, they would never load.
  assert.deepEqual([...h.store.intents.keys()], ['0:3']);
});

test('an unsettled intent passed by a fetch reset below the log start stays open unless the log start is past it', async (t) => {
  // Retention deleted 0..6; the fetch from 3 was reset to the latest offset, 20.
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}', 1, 1000, 7);
  for (const [first, last] of [
    ['3', '5'],
    ['8', '9'],
  ] as const) {
    h.store.openIntent(first, last);
  }
  h.consumer.change([0], []);
  await h.deliver(messages(20, 21));
  assert.equal(await h.pipeline.stop(10_000), true);
  // [3..5] is below the log start: gone for good. [8..9] is still in the log: the next settle loads it.
  assert.deepEqual([...h.store.intents.keys()], ['0:8']);
});

test('Redis away paused fetching during a load of a partition revoked since: fetching resumes once Redis answers again', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_rows: 3, max_batch_interval: 3600}', 2);
  h.consumer.change([0, 1], []);
  h.store.down = true;
  await h.deliver(messages(0, 2));
  await until('fetching paused for Redis', () => h.consumer.paused.has(1));
  // A rebalance gives partition 0 to another member (its load is dropped); this one keeps partition 1,
  // which has nothing loading: no load of this member will reach Redis and say it is back.
  h.consumer.change([], [0]);
  h.store.down = false;
  await until('fetching resumed', () => !h.consumer.paused.has(1));
});

test('a load waiting out a long back-off for Redis is tried again at once when the sinker stops, and flushed', async (t) => {
  // Every back-off near its top: 1 s, 2 s, then 4 s after the third refused try.
  t.mock.method(Math, 'random', () => 0.999);
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_rows: 3, max_batch_interval: 3600}');
  h.consumer.change([0], []);
  await until('partition settled', () => h.store.owners.has(0));
  h.store.down = true;
  await h.deliver(messages(0, 2));
  await until('three tries of the load refused', () => h.store.refused.filter((o) => o === 'recordIntent').length >= 3);
  h.store.down = false;
  // Redis is back but nothing has said so yet; a 4 s back-off is running, the grace is 1.5 s.
  assert.equal(await h.pipeline.stop(1500), true, 'everything flushed within the grace');
  assert.deepEqual(
    h.writer.loads.map((l) => [l.first, l.last]),
    [['0', '2']],
  );
});

test('shutdown: a fetch held while its chunks wait for Redis returns once stopping, so kafkajs can disconnect', async (t) => {
  const h = await harness(t, 'dedupe: {key_fields: [id]}\nbatch: {map_workers: 0}');
  h.consumer.change([0], []);
  h.store.down = true;
  // More than the 8 MiB of fetched bytes that may be mapping: eachBatch holds the next fetch.
  const pad = 'x'.repeat(100_000);
  const big = messages(0, 99).map((m) => ({ ...m, value: Buffer.from(JSON.stringify({ id: 100, name: 'n', pad })) }));
  let returned = false;
  void h.deliver(big).then(() => {
    returned = true;
  });
  await until('the chunk asks Redis about its keys', () => h.store.seenCalls > 0);
  assert.equal(returned, false, 'eachBatch should hold the fetch while 10 MB are being mapped');
  // kafkajs's disconnect waits for the eachBatch in progress: while it never returns, neither does the stop.
  assert.equal(await h.pipeline.stop(100), false);
  await until('eachBatch returned after the stop', () => returned);
});

test('shutdown: a Kafka disconnect that never finishes (the broker does not answer) does not hold the stop past its bound', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0}');
  h.consumer.change([0], []);
  let answer = () => {};
  const silent = new Promise<void>((r) => {
    answer = r;
  });
  h.consumer.stop = () => silent;
  let stopped: boolean | undefined;
  void h.pipeline.stop(100).then((flushed) => {
    stopped = flushed;
  });
  try {
    await until('stop returned', () => stopped !== undefined);
  } finally {
    answer();
  }
  assert.equal(stopped, true, 'nothing was consumed: everything is flushed');
});

test('shutdown with the re-load of an unsettled intent short of its range: not loaded, so not reported as flushed', async (t) => {
  const h = await harness(t, 'batch: {map_workers: 0, max_batch_interval: 3600}');
  h.store.openIntent('0', '9');
  h.consumer.change([0], []);
  await h.deliver(messages(0, 4));
  // Offsets 0..4 are consumed and held for the intent's exact range, which ends at 9: left unloaded.
  assert.equal(await h.pipeline.stop(10_000), false, 'exit code 0 would say everything consumed is in Doris');
  assert.deepEqual(h.writer.loads, []);
  assert.deepEqual(h.consumer.commits, []);
});
