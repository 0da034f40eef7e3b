// The direct route of Stream Load: PUT straight to a live BE from the FE's `/api/backends`
// (§11b), round-robin, one keep-alive undici Pool per BE. The BE needs no Expect header (§1.3).
import { Pool } from 'undici';
import type { Backend } from './fe-replies.ts';
import { errorCode, type HttpReply, isConnectError, TransportError } from './transport.ts';

export interface BackendRouteOptions {
  listBackends: () => Promise<Backend[]>;
  /** Re-read the backend list this often, ms. */
  refreshMs?: number;
  /** A BE that refused a connection is skipped this long, ms. */
  downMs?: number;
  /** Connections per BE pool. */
  connections?: number;
  now?: () => number;
}

export class NoBackendError extends Error {
  /** The FE refused us (auth): retrying or another route cannot help. */
  readonly fatal: boolean;
  constructor(message: string, options?: { cause?: unknown; fatal?: boolean }) {
    super(message, options);
    this.name = 'NoBackendError';
    this.fatal = options?.fatal ?? false;
  }
}

export class BackendRoute {
  readonly #opts: BackendRouteOptions;
  readonly #pools = new Map<string, Pool>();
  readonly #downUntil = new Map<string, number>();
  #backends: string[] = [];
  #listedAt = -Infinity;
  #next = 0;

  constructor(opts: BackendRouteOptions) {
    this.#opts = opts;
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }

  /** The live BE origins, re-listed when stale (or when `force`). Throws NoBackendError. */
  async backends(force = false): Promise<string[]> {
    if (force || this.#now() - this.#listedAt > (this.#opts.refreshMs ?? 30_000) || this.#backends.length === 0) {
      let list: Backend[];
      try {
        list = await this.#opts.listBackends();
      } catch (err) {
        const msg = (err as Error).message;
        throw new NoBackendError(`cannot list backends: ${msg}`, {
          cause: err,
          fatal: /FE code (401|403)\b/.test(msg),
        });
      }
      this.#backends = list.map((b) => `http://${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.httpPort}`);
      this.#listedAt = this.#now();
      for (const origin of [...this.#pools.keys()]) {
        if (!this.#backends.includes(origin)) {
          void this.#pools.get(origin)?.close();
          this.#pools.delete(origin);
        }
      }
    }
    if (this.#backends.length === 0) throw new NoBackendError('the FE lists no live backend');
    return this.#backends;
  }

  /** Next BE round-robin, skipping those marked down (all down: the least recently failed). */
  async pick(): Promise<string> {
    const list = await this.backends();
    const now = this.#now();
    for (let i = 0; i < list.length; i++) {
      const origin = list[(this.#next + i) % list.length] as string;
      if ((this.#downUntil.get(origin) ?? 0) <= now) {
        this.#next = (this.#next + i + 1) % list.length;
        return origin;
      }
    }
    throw new NoBackendError(`all ${list.length} backends refused connections recently`);
  }

  markDown(origin: string): void {
    this.#downUntil.set(origin, this.#now() + (this.#opts.downMs ?? 10_000));
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#opts.connections ?? 8,
        keepAliveTimeout: 30_000,
        // The request's own deadline (signal) governs; these only must not fire first.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** PUT the body to one BE. Rejects with TransportError (connect errors mark the BE down). */
  async put(
    origin: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer,
    signal: AbortSignal,
  ): Promise<HttpReply> {
    let sent = false;
    try {
      const res = await this.#pool(origin).request({ method: 'PUT', path, headers, body, signal });
      sent = true;
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c as Buffer);
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), url: `${origin}${path}` };
    } catch (err) {
      const code = errorCode(err);
      const connect = !sent && isConnectError(code);
      if (connect) this.markDown(origin);
      const reason =
        signal.aborted && !connect
          ? `no reply before the deadline (${(err as Error).message})`
          : (err as Error).message;
      throw new TransportError(`PUT ${origin}${path}: ${reason}`, {
        phase: connect ? 'connect' : 'reply',
        ambiguous: !connect,
        url: `${origin}${path}`,
        ...(code ? { code } : {}),
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
    this.#pools.clear();
  }
}
