// A list+watch cache that does not silently stop: it relists on 410 Gone, restarts with backoff after
// any error, aborts and relists when nothing has been heard for `idleTimeoutMs` (bookmarks count),
// and relists in full every `relistIntervalMs`. `health()` feeds the operator's /healthz.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesListObject, KubernetesObject, Watch } from '@kubernetes/client-node';

export type EventType = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  name: string;
  /** Watch path, e.g. /apis/apps/v1/deployments or /api/v1/namespaces/ns/secrets. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  watch: Watch;
  labelSelector?: string;
  onEvent: (type: EventType, obj: T) => void;
  onError?: (err: unknown) => void;
  idleTimeoutMs?: number;
  relistIntervalMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Bound on one list call. */
  listTimeoutMs?: number;
}

export interface InformerHealth {
  name: string;
  /** Started and not stopped: a standby operator's informers never are, and report no watch age. */
  running: boolean;
  synced: boolean;
  /** Milliseconds since the last list, watch event or bookmark. */
  sinceHeardMs: number;
  restarts: number;
  lastError?: string;
}

function keyOf(o: KubernetesObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class ResilientInformer<T extends KubernetesObject> {
  readonly #o: Required<Omit<InformerOptions<T>, 'labelSelector' | 'onError'>> & InformerOptions<T>;
  readonly #cache = new Map<string, T>();
  #rv = '';
  #stopped = true;
  #synced = false;
  #lastHeard = Date.now();
  #lastList = 0;
  #restarts = 0;
  #lastError: string | undefined;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #syncWaiters: (() => void)[] = [];

  constructor(opts: InformerOptions<T>) {
    this.#o = {
      idleTimeoutMs: 90_000,
      relistIntervalMs: 10 * 60_000,
      backoffInitialMs: 500,
      backoffMaxMs: 30_000,
      listTimeoutMs: 30_000,
      ...opts,
    };
  }

  get(namespace: string, name: string): T | undefined {
    return this.#cache.get(`${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  health(): InformerHealth {
    const h: InformerHealth = {
      name: this.#o.name,
      running: !this.#stopped,
      synced: this.#synced,
      sinceHeardMs: Date.now() - this.#lastHeard,
      restarts: this.#restarts,
    };
    if (this.#lastError) h.lastError = this.#lastError;
    return h;
  }

  /** Starts the loop; resolves after the first successful list. */
  start(): Promise<void> {
    if (this.#stopped) {
      this.#stopped = false;
      this.#loop = this.#run();
    }
    return this.#synced ? Promise.resolve() : new Promise((r) => this.#syncWaiters.push(r));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    await this.#loop;
  }

  /** Forces a relist now (tests; also used by the watchdog). */
  relist(): void {
    this.#rv = '';
    this.#abort?.abort();
  }

  async #relist(): Promise<void> {
    const list = await withTimeout(this.#o.list(), this.#o.listTimeoutMs, `${this.#o.name}: list`);
    const seen = new Set<string>();
    for (const obj of list.items) {
      const k = keyOf(obj);
      seen.add(k);
      const old = this.#cache.get(k);
      this.#cache.set(k, obj);
      if (!old) this.#o.onEvent('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#o.onEvent('update', obj);
    }
    for (const [k, obj] of this.#cache) {
      if (!seen.has(k)) {
        this.#cache.delete(k);
        this.#o.onEvent('delete', obj);
      }
    }
    this.#rv = list.metadata?.resourceVersion ?? '';
    this.#lastHeard = Date.now();
    this.#lastList = Date.now();
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  #onWatchEvent(type: string, obj: T & { code?: number }): void {
    this.#lastHeard = Date.now();
    if (type === 'ERROR') {
      // 410 Gone: our resourceVersion is too old; the watch ends and we relist.
      if (obj.code === 410) this.#rv = '';
      this.#abort?.abort();
      return;
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.#rv = rv;
    if (type === 'BOOKMARK') return;
    const k = keyOf(obj);
    if (type === 'DELETED') {
      this.#cache.delete(k);
      this.#o.onEvent('delete', obj);
    } else {
      const existed = this.#cache.has(k);
      this.#cache.set(k, obj);
      this.#o.onEvent(existed ? 'update' : 'add', obj);
    }
  }

  /** One watch from #rv; resolves when it ends, with the error that ended it, if any. */
  async #watchOnce(): Promise<unknown> {
    const abort = new AbortController();
    this.#abort = abort;
    const query: Record<string, string | number | boolean> = {
      resourceVersion: this.#rv,
      allowWatchBookmarks: true,
      // The server ends the watch after this; a fresh one starts from the last resourceVersion.
      timeoutSeconds: 240 + Math.floor(Math.random() * 60),
    };
    if (this.#o.labelSelector) query.labelSelector = this.#o.labelSelector;
    let ended!: (err: unknown) => void;
    const done = new Promise<unknown>((r) => {
      ended = r;
    });
    const watchdog = setInterval(
      () => {
        const idle = Date.now() - this.#lastHeard > this.#o.idleTimeoutMs;
        const relistDue = Date.now() - this.#lastList > this.#o.relistIntervalMs;
        if (idle || relistDue) {
          this.#rv = '';
          abort.abort();
        }
      },
      Math.min(5000, this.#o.idleTimeoutMs / 3),
    );
    watchdog.unref();
    const request = await this.#o.watch.watch(
      this.#o.path,
      query,
      (type: string, obj: T & { code?: number }) => this.#onWatchEvent(type, obj),
      (err: unknown) => ended(err),
    );
    const onAbort = () => {
      request.abort();
      ended(undefined);
    };
    if (abort.signal.aborted) onAbort();
    else abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await done;
    } finally {
      clearInterval(watchdog);
    }
  }

  async #run(): Promise<void> {
    let backoff = this.#o.backoffInitialMs;
    while (!this.#stopped) {
      try {
        if (!this.#rv) await this.#relist();
        const startedAt = Date.now();
        const err = (await this.#watchOnce()) as { statusCode?: number; code?: number; name?: string } | undefined;
        if (this.#stopped) break;
        if (!err && this.#rv !== '' && Date.now() - startedAt < 1000) {
          // A watch the server ends at once must not become a tight loop (a relist is due anyway otherwise).
          await sleep(backoff);
          backoff = Math.min(this.#o.backoffMaxMs, backoff * 2);
          continue;
        }
        if (err && (err.statusCode === 410 || err.code === 410)) {
          this.#rv = '';
        } else if (err && err.name !== 'TimeoutError' && err.name !== 'AbortError') {
          throw err;
        }
        backoff = this.#o.backoffInitialMs;
      } catch (err) {
        if (this.#stopped) break;
        this.#restarts++;
        this.#lastError = (err as Error)?.message ?? String(err);
        this.#o.onError?.(err);
        // After an error, start over from a fresh list: events may have been missed.
        this.#rv = '';
        await sleep(backoff);
        backoff = Math.min(this.#o.backoffMaxMs, backoff * 2);
      }
    }
  }
}
