// The exactly-once state in Redis (DESIGN §3): per partition a watermark and the open intents, plus
// optional content-dedupe keys. Success advances the watermark (never lowering it), deletes the
// intent and writes the batch's content keys in ONE Lua script, so a crash leaves either the intent
// (settled later by its label) or the finished state, never half of each.
import { Redis } from 'ioredis';
import type { DedupeConfig } from '../config/types.ts';
import { DedupeUnavailableError, isUnavailable } from './errors.ts';
import { type DedupeKeys, dedupeKeys, intentField } from './keys.ts';
import type { StaleRecord } from './stale.ts';
import type { Intent, MergedDecision, PartitionState } from './state.ts';

// Offsets are non-negative decimals without leading zeros, so "longer, else lexically greater"
// is numeric order with no precision loss (Lua numbers are doubles).
// KEYS: watermarks, intents, decisions, then content keys. ARGV: partition, field, last, ttl, and for
// one part of a merged load its label and the other parts' fields: the last part completed deletes
// the load's decision (nobody can ask for it any more: see DedupeStore.complete).
const COMPLETE_LUA = `
local function gt(a, b) if #a ~= #b then return #a > #b end return a > b end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (not cur) or gt(ARGV[3], cur) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  cur = ARGV[3]
end
redis.call('HDEL', KEYS[2], ARGV[2])
if ARGV[5] and ARGV[5] ~= '' then
  local open = false
  for i = 6, #ARGV do
    local v = redis.call('HGET', KEYS[2], ARGV[i])
    if v then
      local ok, intent = pcall(cjson.decode, v)
      if ok and type(intent) == 'table' and intent.label == ARGV[5] then open = true end
    end
  end
  if not open then redis.call('HDEL', KEYS[3], ARGV[5]) end
end
local ttl = tonumber(ARGV[4])
for i = 4, #KEYS do
  if ttl and ttl > 0 then redis.call('SET', KEYS[i], '1', 'EX', ttl) else redis.call('SET', KEYS[i], '1') end
end
return cur
`;

// Records an intent only while the partition's owner token is the caller's (or none was set): a
// zombie owner, whose partition was settled by a new owner meanwhile, cannot start a new load.
const RECORD_INTENT_LUA = `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and ARGV[2] ~= '' and owner ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return 1
`;

// A merged load (batch.merge_partitions) records one intent per partition, all or none, and only
// while every partition's owner token is the caller's. Returns 0, or the 1-based index of the
// first fenced part. ARGV: then per part partition, token, field, intent JSON.
const RECORD_MERGED_LUA = `
local n = (#ARGV) / 4
for i = 0, n - 1 do
  local owner = redis.call('HGET', KEYS[1], ARGV[i * 4 + 1])
  local token = ARGV[i * 4 + 2]
  if owner and token ~= '' and owner ~= token then return i + 1 end
end
for i = 0, n - 1 do redis.call('HSET', KEYS[2], ARGV[i * 4 + 3], ARGV[i * 4 + 4]) end
return 0
`;

// The fence of a merged load, run once it pre-committed: 'commit' only if every partition is still
// owned by the token that loaded it, else abort. A later claim makes any undecided load abort, so
// a new owner that reads no decision after its claim knows the load will never commit. An abort is
// not recorded: it is asked again with the same answer (a claim is never undone, and every run has
// its own token), and no reader tells it from no decision; recorded, it would stay for good.
// ARGV[1] = label, then per part partition, token. Returns 0 (commit) or the 1-based fenced index
// (-1: an 'abort' an earlier version recorded).
const DECIDE_MERGED_LUA = `
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if prior == 'commit' then return 0 end
if prior == 'abort' then return -1 end
local n = (#ARGV - 1) / 2
for i = 0, n - 1 do
  local owner = redis.call('HGET', KEYS[1], ARGV[2 + i * 2])
  local token = ARGV[3 + i * 2]
  if owner and token ~= '' and owner ~= token then return i + 1 end
end
redis.call('HSET', KEYS[2], ARGV[1], 'commit')
return 0
`;

// A merged load is in Doris: every part's watermark raised (never lowered), every part's intent and
// the decision deleted, the content keys marked, in one step. KEYS: watermarks, intents, decisions,
// then content keys. ARGV: label, ttl, part count, then per part partition, field, last.
const COMPLETE_MERGED_LUA = `
local function gt(a, b) if #a ~= #b then return #a > #b end return a > b end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local p, field, last = ARGV[4 + i * 3], ARGV[5 + i * 3], ARGV[6 + i * 3]
  local cur = redis.call('HGET', KEYS[1], p)
  if (not cur) or gt(last, cur) then redis.call('HSET', KEYS[1], p, last) end
  redis.call('HDEL', KEYS[2], field)
end
redis.call('HDEL', KEYS[3], ARGV[1])
local ttl = tonumber(ARGV[2])
for i = 4, #KEYS do
  if ttl and ttl > 0 then redis.call('SET', KEYS[i], '1', 'EX', ttl) else redis.call('SET', KEYS[i], '1') end
end
return n
`;

/** One partition's part of a merged load, as the store records and completes it. */
export interface MergedEntry {
  partition: number;
  /** The owner token of the run loading the partition. */
  token: string;
  intent: Intent;
}

/** The partition was claimed by another owner after this one: its new loads must not run. */
export class PartitionFencedError extends Error {
  override name = 'PartitionFencedError';
  constructor(partition: number, first: string) {
    super(`partition ${partition}: another owner claimed it; the load from offset ${first} is not started`);
  }
}

export interface DedupeLogger {
  warn(obj: object, msg?: string): void;
}

export interface DedupeStoreOptions {
  config: DedupeConfig;
  sink: string;
  topic: string;
  /** Called each time an operation is skipped because Redis is down and `required` is false. */
  onDegraded?: (operation: string, err: Error) => void;
  /** Called on the first operation that reaches Redis again after one was degraded. */
  onRecovered?: (operation: string) => void;
  logger?: DedupeLogger;
  /** Per-command deadline, ms (a stalled Redis counts as unreachable). */
  commandTimeoutMs?: number;
  /** An existing client (tests); otherwise one is made from `config.redis_url`. */
  redis?: Redis;
}

const MGET_CHUNK = 1000;

type ScriptFn<T = number> = (numKeys: number, ...args: string[]) => Promise<T>;

export class DedupeStore {
  readonly keys: DedupeKeys;
  readonly required: boolean;
  readonly ttl: number;
  readonly #redis: Redis;
  readonly #onDegraded: ((operation: string, err: Error) => void) | undefined;
  readonly #onRecovered: ((operation: string) => void) | undefined;
  /** An operation was degraded and none has reached Redis since. */
  #degraded = false;
  readonly #logger: DedupeLogger | undefined;
  readonly #owned: boolean;
  /** `dedupe.redis_url` is empty: there is no Redis, and every operation takes its fallback. */
  readonly #absent: boolean;

  constructor(opts: DedupeStoreOptions) {
    this.keys = dedupeKeys(opts.config.key_prefix, opts.sink, opts.topic);
    this.required = opts.config.required;
    this.ttl = opts.config.ttl;
    this.#onDegraded = opts.onDegraded;
    this.#onRecovered = opts.onRecovered;
    this.#logger = opts.logger;
    this.#owned = !opts.redis;
    // ioredis reads "" as localhost:6379; an empty URL means no Redis at all, not that one.
    this.#absent = !opts.redis && opts.config.redis_url === '';
    this.#redis =
      opts.redis ??
      new Redis(opts.config.redis_url, {
        lazyConnect: true,
        // Fail fast instead of queueing while Redis is away; the caller pauses and retries.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: opts.commandTimeoutMs ?? 5000,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      });
    // Without a listener ioredis prints every reconnect error; the operations report them instead.
    this.#redis.on('error', () => {});
    this.#redis.defineCommand('sinkerComplete', { lua: COMPLETE_LUA });
    this.#redis.defineCommand('sinkerRecordIntent', { lua: RECORD_INTENT_LUA });
    this.#redis.defineCommand('sinkerRecordMerged', { lua: RECORD_MERGED_LUA });
    this.#redis.defineCommand('sinkerDecideMerged', { lua: DECIDE_MERGED_LUA });
    this.#redis.defineCommand('sinkerCompleteMerged', { lua: COMPLETE_MERGED_LUA });
  }

  /** Connect (when the client is lazy). Rejects with DedupeUnavailableError unless degrading. */
  async connect(): Promise<void> {
    if (this.#redis.status === 'ready') return;
    await this.#run('connect', undefined, async () => {
      if (this.#redis.status === 'wait') await this.#redis.connect();
      else await this.#redis.ping();
    });
  }

  /**
   * One round trip to Redis. Not `connect`: ioredis says 'ready' as long as its socket is open, also
   * when Redis (or the network to it) no longer answers.
   */
  async ping(): Promise<void> {
    await this.#run('ping', undefined, async () => {
      await this.#redis.ping();
    });
  }

  async close(): Promise<void> {
    if (!this.#owned || this.#absent) return;
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  /** Run a Redis operation; map "Redis is away" to DedupeUnavailableError, or degrade to `fallback`. */
  async #run<T>(operation: string, fallback: T, fn: () => Promise<T>): Promise<T> {
    if (this.#absent) {
      const typed = new DedupeUnavailableError(operation, new Error('dedupe.redis_url is empty (no Redis)'));
      if (this.required) throw typed;
      if (!this.#degraded) {
        this.#degraded = true;
        this.#logger?.warn({ operation }, 'dedupe.redis_url is empty: running at-least-once without Redis');
        this.#onDegraded?.(operation, typed);
      }
      return fallback;
    }
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      const typed = new DedupeUnavailableError(operation, err);
      if (this.required) throw typed;
      // Once per outage, as 'reachable again' is: every load asks Redis twice, and each one skipped
      // is counted (onDegraded) anyway.
      if (!this.#degraded) {
        this.#logger?.warn(
          { operation, err: typed.message },
          'Redis unreachable: running at-least-once (dedupe.required is false)',
        );
      }
      this.#degraded = true;
      this.#onDegraded?.(operation, typed);
      return fallback;
    }
    if (this.#degraded) {
      this.#degraded = false;
      this.#onRecovered?.(operation);
    }
    return result;
  }

  /**
   * Claim a partition for the run holding `token` before settling it: intents recorded from now on
   * under another token are refused, so every intent the settle reads next is all a zombie can load.
   */
  async claim(partition: number, token: string): Promise<void> {
    await this.#run('claim', undefined, async () => {
      await this.#redis.hset(this.keys.owners, String(partition), token);
    });
  }

  /**
   * The topic's partition count when this sink first consumed it: stores `current` unless a count is
   * stored already, and returns the stored one; null when Redis is away and not required.
   */
  async firstPartitionCount(current: number): Promise<number | null> {
    return this.#run('firstPartitionCount', null, async () => {
      await this.#redis.set(this.keys.firstPartitions, String(current), 'NX');
      const stored = await this.#redis.get(this.keys.firstPartitions);
      return stored === null ? null : Number(stored);
    });
  }

  /**
   * The stale state recorded for this sink and topic (the topic was re-created or truncated), or
   * null; degraded: null (without Redis there is no state to be stale).
   */
  async staleState(): Promise<StaleRecord | null> {
    return this.#run('staleState', null, async () => {
      const json = await this.#redis.get(this.keys.stale);
      if (json === null) return null;
      try {
        return JSON.parse(json) as StaleRecord;
      } catch {
        throw new Error(`dedupe: ${this.keys.stale} is not JSON: ${json.slice(0, 100)}`);
      }
    });
  }

  /**
   * Records stale state for this sink and topic unless some is recorded already (the first finding
   * is kept), and returns the record kept. It is never removed by the sinker: deleting the sink's
   * keys (or a new sink name) ends it.
   */
  async markStale(record: StaleRecord): Promise<StaleRecord> {
    return this.#run('markStale', record, async () => {
      // SET NX then GET, not SET NX GET: that needs Redis 7. A record, once set, only ever goes away.
      if ((await this.#redis.set(this.keys.stale, JSON.stringify(record), 'NX')) === 'OK') return record;
      const kept = await this.#redis.get(this.keys.stale);
      return kept === null ? record : (JSON.parse(kept) as StaleRecord);
    });
  }

  /**
   * Record that a load of [first..last] under `label` is about to run. With `token`, refused with
   * PartitionFencedError when another run has claimed the partition since.
   */
  async recordIntent(partition: number, intent: Intent, token = ''): Promise<void> {
    const ok = await this.#run('recordIntent', 1, async () => {
      return this.#script('sinkerRecordIntent')(
        2,
        this.keys.owners,
        this.keys.intents,
        String(partition),
        token,
        intentField(partition, intent.first),
        JSON.stringify(intent),
      );
    });
    if (ok !== 1) throw new PartitionFencedError(partition, intent.first);
  }

  /**
   * The load of `intent` is in Doris: in one atomic step raise the watermark to `intent.last` (never
   * lower it), delete the intent, and mark `contentKeys` seen for the TTL. Returns the watermark.
   *
   * One part of a merged load (a settle completing it): when no other part's intent of that load is
   * left, its decision goes too. Every partition of it was then claimed by another run (a part is
   * settled only after a claim), so its owner can no longer load any of them, whatever a late
   * decision step of its own answers now.
   */
  async complete(
    partition: number,
    intent: Pick<Intent, 'first' | 'last'> & Partial<Pick<Intent, 'label' | 'merged'>>,
    contentKeys: readonly string[] = [],
  ): Promise<string | null> {
    return this.#run('complete', null, async () => {
      const fn = this.#script<string>('sinkerComplete');
      const keys = [
        this.keys.watermarks,
        this.keys.intents,
        this.keys.decisions,
        ...contentKeys.map((k) => this.keys.contentPrefix + k),
      ];
      const field = intentField(partition, intent.first);
      const others = (intent.merged?.parts ?? []).map(([p, first]) => intentField(p, first)).filter((f) => f !== field);
      return fn(
        keys.length,
        ...keys,
        String(partition),
        field,
        intent.last,
        String(this.ttl),
        intent.merged && intent.label ? intent.label : '',
        ...others,
      );
    });
  }

  /**
   * Deletes a merged load's decision once the load is known never to commit (Doris aborted it): its
   * parts load again under their own labels. Kept, a settle finding that label forgotten by Doris
   * would read the 'commit' as "committed, then forgotten" and skip the parts.
   */
  async forgetDecision(label: string): Promise<void> {
    await this.#run('forgetDecision', undefined, async () => {
      await this.#redis.hdel(this.keys.decisions, label);
    });
  }

  /** A Lua script defined in the constructor, as a function. */
  #script<T = number>(name: string): ScriptFn<T> {
    return ((this.#redis as unknown as Record<string, ScriptFn<T>>)[name] as ScriptFn<T>).bind(this.#redis);
  }

  /**
   * Record the intents of a merged load, all or none, while every partition is owned by its token.
   * Returns -1 when recorded, else the index in `entries` of the first partition claimed by another run.
   */
  async recordMerged(entries: readonly MergedEntry[]): Promise<number> {
    const r = await this.#run('recordMerged', 0, () =>
      this.#script('sinkerRecordMerged')(
        2,
        this.keys.owners,
        this.keys.intents,
        ...entries.flatMap((e) => [
          String(e.partition),
          e.token,
          intentField(e.partition, e.intent.first),
          JSON.stringify(e.intent),
        ]),
      ),
    );
    return r === 0 ? -1 : r - 1;
  }

  /**
   * The fence of a pre-committed merged load: records 'commit' and returns -1 when every partition
   * is still owned by its token; else returns the index of a fenced partition, recording nothing
   * (`entries.length` for an 'abort' an earlier version recorded).
   */
  async decideMerged(label: string, entries: readonly Pick<MergedEntry, 'partition' | 'token'>[]): Promise<number> {
    const r = await this.#run('decideMerged', 0, () =>
      this.#script('sinkerDecideMerged')(
        2,
        this.keys.owners,
        this.keys.decisions,
        label,
        ...entries.flatMap((e) => [String(e.partition), e.token]),
      ),
    );
    return r === 0 ? -1 : r < 0 ? entries.length : r - 1;
  }

  /** The decision recorded for a merged load (degraded: none). */
  async mergedDecision(label: string): Promise<MergedDecision> {
    return this.#run('mergedDecision', null, async () => {
      const d = await this.#redis.hget(this.keys.decisions, label);
      return d === 'commit' || d === 'abort' ? d : null;
    });
  }

  /** A merged load is in Doris: raise every part's watermark, delete its intents and decision, mark `contentKeys`. */
  async completeMerged(
    label: string,
    parts: readonly { partition: number; first: string; last: string }[],
    contentKeys: readonly string[] = [],
  ): Promise<void> {
    await this.#run('completeMerged', undefined, async () => {
      const keys = [
        this.keys.watermarks,
        this.keys.intents,
        this.keys.decisions,
        ...contentKeys.map((k) => this.keys.contentPrefix + k),
      ];
      await this.#script('sinkerCompleteMerged')(
        keys.length,
        ...keys,
        label,
        String(this.ttl),
        String(parts.length),
        ...parts.flatMap((p) => [String(p.partition), intentField(p.partition, p.first), p.last]),
      );
    });
  }

  async dropIntent(partition: number, first: string): Promise<void> {
    await this.#run('dropIntent', undefined, async () => {
      await this.#redis.hdel(this.keys.intents, intentField(partition, first));
    });
  }

  /** Watermark and open intents of a partition (degraded: nothing known). */
  async partitionState(partition: number): Promise<PartitionState> {
    return this.#run('partitionState', { watermark: null, intents: [] }, async () => {
      const [wm, all] = await Promise.all([
        this.#redis.hget(this.keys.watermarks, String(partition)),
        this.#redis.hgetall(this.keys.intents),
      ]);
      const prefix = `${partition}:`;
      const intents: Intent[] = [];
      for (const [field, json] of Object.entries(all)) {
        if (!field.startsWith(prefix)) continue;
        try {
          intents.push(JSON.parse(json) as Intent);
        } catch {
          throw new Error(`dedupe: intent ${this.keys.intents} field ${field} is not JSON: ${json.slice(0, 100)}`);
        }
      }
      return { watermark: wm, intents };
    });
  }

  /**
   * Watermark and open intents of every partition that has either (degraded: none). One read of
   * each hash, so a settle can judge the whole topic's state (stale.ts).
   */
  async topicState(): Promise<Map<number, PartitionState>> {
    return this.#run('topicState', new Map<number, PartitionState>(), async () => {
      const [wms, all] = await Promise.all([
        this.#redis.hgetall(this.keys.watermarks),
        this.#redis.hgetall(this.keys.intents),
      ]);
      const out = new Map<number, PartitionState>();
      const entry = (p: number): PartitionState => {
        let e = out.get(p);
        if (!e) {
          e = { watermark: null, intents: [] };
          out.set(p, e);
        }
        return e;
      };
      for (const [p, wm] of Object.entries(wms)) entry(Number(p)).watermark = wm;
      for (const [field, json] of Object.entries(all)) {
        const p = Number(field.slice(0, field.indexOf(':')));
        try {
          entry(p).intents.push(JSON.parse(json) as Intent);
        } catch {
          throw new Error(`dedupe: intent ${this.keys.intents} field ${field} is not JSON: ${json.slice(0, 100)}`);
        }
      }
      return out;
    });
  }

  /** For each content key, whether Redis has seen it within the TTL (degraded: none seen). */
  async seen(contentKeys: readonly string[]): Promise<boolean[]> {
    if (contentKeys.length === 0) return [];
    return this.#run(
      'seen',
      contentKeys.map(() => false),
      async () => {
        const pipe = this.#redis.pipeline();
        for (let i = 0; i < contentKeys.length; i += MGET_CHUNK) {
          pipe.mget(...contentKeys.slice(i, i + MGET_CHUNK).map((k) => this.keys.contentPrefix + k));
        }
        const results = await pipe.exec();
        const out: boolean[] = [];
        for (const [err, values] of results ?? []) {
          if (err) throw err;
          for (const v of values as (string | null)[]) out.push(v !== null);
        }
        return out;
      },
    );
  }
}
