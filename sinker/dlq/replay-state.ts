// What `doris-sinker replay` keeps in Redis so every dead-lettered record (topic, partition, offset)
// is replayed into Doris once, across any number of runs: per partition a set of the offsets already
// replayed, and per topic the intents of loads that were about to run (label + exact offsets). The
// keys use the pipeline's prefix and hash tag under `:replay:` (dedupe/keys.ts: replayKeys). Marking
// records replayed and dropping their intent is one MULTI, so a crash leaves either the intent (the
// next run settles it by its label) or the finished state. Any Redis failure stops the replay with
// a ReplayStateError naming dedupe.redis_url: nothing loads without its bookkeeping.
import { Redis } from 'ioredis';
import { redactUrl } from '../config/load.ts';
import { isUnavailable } from '../dedupe/errors.ts';
import { type ReplayKeys, replayKeys } from '../dedupe/keys.ts';
import { parseReplayIntent, type ReplayIntent } from './replay-plan.ts';

/** Redis could not keep replay's state: the replay stops (the message names dedupe.redis_url). */
export class ReplayStateError extends Error {
  override name = 'ReplayStateError';
}

export interface ReplayStateOptions {
  /** dedupe.redis_url */
  redisUrl: string;
  /** dedupe.key_prefix */
  keyPrefix: string;
  sink: string;
  /** Per-command deadline, ms. */
  commandTimeoutMs?: number;
  /** An existing client (tests); otherwise one is made from `redisUrl`. */
  redis?: Redis;
  /** The replay lock's lifetime without renewal, ms (default LOCK_TTL_MS; tests shorten it). */
  lockTtlMs?: number;
}

async function execAll(tx: ReturnType<Redis['multi']>): Promise<void> {
  const results = await tx.exec();
  if (!results) throw new Error('MULTI aborted');
  for (const [err] of results) if (err) throw err;
}

/** Commands per pipeline round trip (SISMEMBER) and members per SADD. */
const CHUNK = 1000;

/** How long a replay's lock lives without being renewed (a killed replay frees it after this). */
export const LOCK_TTL_MS = 60_000;
const EXTEND_LOCK_LUA = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;
const RELEASE_LOCK_LUA = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

export class ReplayState {
  readonly #opts: ReplayStateOptions;
  readonly #redis: Redis | undefined;
  readonly #owned: boolean;
  readonly #keys = new Map<string, ReplayKeys>();
  /** The lock's value while this run holds it, and the timer that renews it. */
  #lock: { key: string; value: string; timer: NodeJS.Timeout; lost: boolean } | undefined;

  constructor(opts: ReplayStateOptions) {
    this.#opts = opts;
    this.#owned = !opts.redis;
    this.#redis =
      opts.redis ??
      (opts.redisUrl
        ? new Redis(opts.redisUrl, {
            lazyConnect: true,
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            commandTimeout: opts.commandTimeoutMs ?? 10_000,
            // A short-lived command: a lost connection stops it (its intents make a rerun safe).
            retryStrategy: () => null,
          })
        : undefined);
    this.#redis?.on('error', () => {});
  }

  /** Where the state lives, for messages: `dedupe.redis_url (redis://host:port/)`, password hidden. */
  get where(): string {
    return `dedupe.redis_url (${this.#opts.redisUrl ? redactUrl(this.#opts.redisUrl) : 'empty'})`;
  }

  keys(topic: string): ReplayKeys {
    let k = this.#keys.get(topic);
    if (!k) {
      k = replayKeys(this.#opts.keyPrefix, this.#opts.sink, topic);
      this.#keys.set(topic, k);
    }
    return k;
  }

  async connect(): Promise<void> {
    await this.#run('connect', async (r) => {
      if (r.status === 'wait') await r.connect();
      else if (r.status !== 'ready') await r.ping();
    });
  }

  /**
   * Takes the sink's replay lock: two replays at once could plan different chunks of the same
   * records and load them twice. Held while the run lasts, renewed every third of LOCK_TTL_MS; a
   * killed replay's lock expires on its own. `owner` says who holds it, for the refusal message.
   */
  get #lockTtl(): number {
    return this.#opts.lockTtlMs ?? LOCK_TTL_MS;
  }

  async lock(owner: string): Promise<void> {
    const key = `${this.#opts.keyPrefix}{${this.#opts.sink}}:replay:lock`;
    const value = JSON.stringify({
      owner,
      since: new Date().toISOString(),
      token: Math.random().toString(36).slice(2),
    });
    const got = await this.#run('take the replay lock', (r) => r.set(key, value, 'PX', this.#lockTtl, 'NX'));
    if (got !== 'OK') {
      const held = await this.#run('read the replay lock', (r) => r.get(key));
      let who = 'another replay';
      try {
        const h = JSON.parse(held ?? '{}') as { owner?: string; since?: string };
        who = `the replay of ${h.owner ?? '?'} started ${h.since ?? '?'}`;
      } catch {
        // an unreadable value still means held
      }
      throw new ReplayStateError(
        `another replay of sink ${this.#opts.sink} is running (${who}): run one at a time; if it was killed, its lock in Redis expires within ${Math.ceil(this.#lockTtl / 1000)} s`,
      );
    }
    const lock = { key, value, lost: false, timer: setInterval(() => void this.#extendLock(), this.#lockTtl / 3) };
    lock.timer.unref();
    this.#lock = lock;
  }

  async #extendLock(): Promise<void> {
    const lock = this.#lock;
    if (!lock || !this.#redis) return;
    try {
      const ok = await this.#redis.eval(EXTEND_LOCK_LUA, 1, lock.key, lock.value, String(this.#lockTtl));
      if (ok !== 1) lock.lost = true;
    } catch {
      // Redis away: the next load's bookkeeping fails and stops the replay anyway
    }
  }

  /** Throws when the lock expired under this run (it stalled past LOCK_TTL_MS): another replay may run. */
  assertLocked(): void {
    if (this.#lock?.lost) {
      throw new ReplayStateError(
        `the replay lock of sink ${this.#opts.sink} expired while this run held it (stalled over ${Math.ceil(this.#lockTtl / 1000)} s)`,
      );
    }
  }

  async unlock(): Promise<void> {
    const lock = this.#lock;
    if (!lock) return;
    this.#lock = undefined;
    clearInterval(lock.timer);
    if (this.#redis?.status !== 'ready') return;
    await this.#redis.eval(RELEASE_LOCK_LUA, 1, lock.key, lock.value).catch(() => {});
  }

  async close(): Promise<void> {
    await this.unlock();
    if (!this.#owned || !this.#redis) return;
    try {
      if (this.#redis.status === 'ready') await this.#redis.quit();
      else this.#redis.disconnect();
    } catch {
      this.#redis.disconnect();
    }
  }

  async #run<T>(operation: string, fn: (r: Redis) => Promise<T>): Promise<T> {
    if (!this.#redis) {
      throw new ReplayStateError(
        'dedupe.redis_url is empty: replay keeps which records it loaded in Redis, and loads nothing without it',
      );
    }
    try {
      return await fn(this.#redis);
    } catch (err) {
      if (err instanceof ReplayStateError) throw err;
      const what = isUnavailable(err) ? 'is unreachable' : 'answered an error';
      throw new ReplayStateError(`Redis at ${this.where} ${what} (${operation}): ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** The open intents of `topic`, every partition. */
  async intents(topic: string): Promise<ReplayIntent[]> {
    const key = this.keys(topic).intents;
    const all = await this.#run('read intents', (r) => r.hgetall(key));
    return Object.entries(all).map(([field, json]) => parseReplayIntent(json, `${key} field ${field}`));
  }

  /** Record (or rewrite) an intent before its load runs. */
  async recordIntent(topic: string, intent: ReplayIntent): Promise<void> {
    const key = this.keys(topic).intents;
    await this.#run('record intent', (r) => r.hset(key, intent.label, JSON.stringify(intent)));
  }

  /** Which of `offsets` of `topic`/`partition` were replayed already. */
  async replayedAmong(topic: string, partition: number, offsets: readonly string[]): Promise<Set<string>> {
    const done = new Set<string>();
    if (offsets.length === 0) return done;
    const key = this.keys(topic).replayed(partition);
    await this.#run('read replayed offsets', async (r) => {
      for (let i = 0; i < offsets.length; i += CHUNK) {
        const part = offsets.slice(i, i + CHUNK);
        const pipe = r.pipeline();
        for (const o of part) pipe.sismember(key, o);
        const results = (await pipe.exec()) ?? [];
        results.forEach(([err, v], j) => {
          if (err) throw err;
          if (v === 1) done.add(part[j] as string);
        });
      }
    });
    return done;
  }

  /** How often Doris refused each of `offsets` in earlier replays (only those refused at least once). */
  async refusalsAmong(topic: string, partition: number, offsets: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const key = this.keys(topic).refused(partition);
    await this.#run('read refusal counts', async (r) => {
      if ((await r.exists(key)) === 0) return;
      for (let i = 0; i < offsets.length; i += CHUNK) {
        const part = offsets.slice(i, i + CHUNK);
        const values = await r.hmget(key, ...part);
        values.forEach((v, j) => {
          if (v !== null && Number(v) > 0) counts.set(part[j] as string, Number(v));
        });
      }
    });
    return counts;
  }

  /**
   * Doris refused `offsets` of the intent's load, which goes on with the rest under its label: in one
   * MULTI rewrite the intent (its `refused` list) and count the refusals, so these records are never
   * marked by this intent and their next load gets another label.
   */
  async recordRefused(topic: string, intent: ReplayIntent, offsets: readonly string[]): Promise<void> {
    const keys = this.keys(topic);
    await this.#run('record refused rows', async (r) => {
      const tx = r.multi();
      tx.hset(keys.intents, intent.label, JSON.stringify(intent));
      for (const o of offsets) tx.hincrby(keys.refused(intent.partition), o, 1);
      await execAll(tx);
    });
  }

  /**
   * The load of `intent` is known to be in Doris: in one MULTI mark `replayed` (its offsets that
   * loaded) replayed, forget their refusal counts and drop the intent.
   */
  async complete(topic: string, intent: Pick<ReplayIntent, 'label' | 'partition'>, replayed: readonly string[]) {
    const keys = this.keys(topic);
    await this.#run('mark replayed', async (r) => {
      const tx = r.multi();
      for (let i = 0; i < replayed.length; i += CHUNK) {
        const part = replayed.slice(i, i + CHUNK);
        tx.sadd(keys.replayed(intent.partition), ...part);
        tx.hdel(keys.refused(intent.partition), ...part);
      }
      tx.hdel(keys.intents, intent.label);
      await execAll(tx);
    });
  }

  /** Drop an intent whose load never reached Doris (its records stay unmarked). */
  async dropIntent(topic: string, label: string): Promise<void> {
    const key = this.keys(topic).intents;
    await this.#run('drop intent', (r) => r.hdel(key, label));
  }
}
