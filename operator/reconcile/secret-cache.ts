// The Secrets the operator reads: only those a DorisSink references, each fetched by name (GET) when a
// reconcile needs it and kept for a short TTL, instead of a watch that would hold every Secret of the
// cluster in memory. Rotation works without a watch because every sink is reconciled at least once per
// resync period (the reconciler caps its requeue delay), and each reconcile after the TTL reads the
// Secret again: a new resourceVersion changes the pod template's secret-versions annotation and rolls
// the pods. A sink whose spec changed (new generation) reads its Secrets afresh.
import type { V1ObjectMeta, V1Secret } from '@kubernetes/client-node';

/** Reads one Secret; undefined when it does not exist (404). Other failures reject. */
export type SecretFetch = (namespace: string, name: string) => Promise<V1Secret | undefined>;

export interface SecretSource {
  get(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** Drops what is cached about these Secrets: the next get reads them again. */
  invalidate(namespace: string, names: readonly string[]): void;
}

export interface SecretCacheOptions {
  fetch: SecretFetch;
  ttlMs: number;
  now?: () => number;
}

interface Entry {
  at: number;
  secret: V1Secret;
}

/**
 * Only what resolving a reference needs: name, resourceVersion and the data. Annotations (kubectl's
 * last-applied-configuration holds the values in clear) and managedFields are not kept.
 */
export function slimSecret(s: V1Secret): V1Secret {
  const { name, namespace, resourceVersion } = s.metadata ?? {};
  const metadata: V1ObjectMeta = {};
  if (name !== undefined) metadata.name = name;
  if (namespace !== undefined) metadata.namespace = namespace;
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
  const out: V1Secret = { metadata };
  if (s.data) out.data = s.data;
  if (s.stringData) out.stringData = s.stringData;
  return out;
}

export class SecretCache implements SecretSource {
  readonly #o: SecretCacheOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<V1Secret | undefined>>();
  #sweptAt = 0;

  constructor(o: SecretCacheOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** Secrets held now (expired ones go on the next get). */
  get size(): number {
    return this.#entries.size;
  }

  async get(namespace: string, name: string): Promise<V1Secret | undefined> {
    const key = `${namespace}/${name}`;
    const now = this.#now();
    this.#sweep(now);
    const e = this.#entries.get(key);
    if (e && now - e.at < this.#o.ttlMs) return e.secret;
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const p = this.#o.fetch(namespace, name).then(
      (s) => {
        // An invalidate while this read ran: its answer may predate the change, so it is not kept.
        if (this.#inflight.get(key) === p) {
          this.#inflight.delete(key);
          // A missing Secret is not cached: creating it is picked up by the next reconcile.
          if (s) this.#entries.set(key, { at: now, secret: slimSecret(s) });
          else this.#entries.delete(key);
        }
        return s ? slimSecret(s) : undefined;
      },
      (err: unknown) => {
        if (this.#inflight.get(key) === p) this.#inflight.delete(key);
        throw err;
      },
    );
    this.#inflight.set(key, p);
    return p;
  }

  invalidate(namespace: string, names: readonly string[]): void {
    for (const n of names) {
      this.#entries.delete(`${namespace}/${n}`);
      this.#inflight.delete(`${namespace}/${n}`);
    }
  }

  /** Forgets expired entries, at most once per TTL: memory holds only the Secrets read lately. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < this.#o.ttlMs) return;
    this.#sweptAt = now;
    for (const [key, e] of this.#entries) if (now - e.at >= this.#o.ttlMs) this.#entries.delete(key);
  }
}
