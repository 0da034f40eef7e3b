// The FE's REST side the writer needs besides the load: live backends, label state, 2PC commit or
// abort, and the ErrorURL text. Fails over across `fe_hosts`: an FE that can't be reached or answers
// 5xx hands the call to the next one, and the last good FE is tried first next time.
import { Agent } from 'undici';
import { deadline } from './deadline.ts';
import { expectPut } from './expect-put.ts';
import {
  type Backend,
  type LabelState,
  parseBackends,
  parseLoadState,
  parseTwoPcReply,
  type TwoPcResult,
} from './fe-replies.ts';
import { decodeReplyBody } from './reply.ts';
import { basicAuth, errorCode, type HttpReply, TransportError } from './transport.ts';

/** `host:port`, `http://host:port` or bare `host` (FE http port 8030) → an origin URL. */
export function feOrigin(host: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(host) ? host : `http://${host}`;
  const u = new URL(withScheme);
  if (u.port === '' && !/:\d+$/.test(host)) u.port = '8030';
  return u.origin;
}

export interface FeClientOptions {
  hosts: string[];
  user: string;
  password: string;
  /** Deadline of one REST call, ms. */
  timeoutMs: number;
  agent?: Agent;
}

export class FeClient {
  readonly origins: string[];
  readonly #auth: string;
  readonly #timeoutMs: number;
  readonly #agent: Agent;
  readonly #ownAgent: boolean;
  #current = 0;

  constructor(opts: FeClientOptions) {
    if (opts.hosts.length === 0) throw new Error('doris.fe_hosts: at least one FE is needed');
    this.origins = opts.hosts.map(feOrigin);
    this.#auth = basicAuth(opts.user, opts.password);
    this.#timeoutMs = opts.timeoutMs;
    this.#ownAgent = !opts.agent;
    this.#agent = opts.agent ?? new Agent({ keepAliveTimeout: 30_000, connections: 4 });
  }

  get authorization(): string {
    return this.#auth;
  }

  /** The FE to try first (the last one that answered). */
  get current(): string {
    return this.origins[this.#current] as string;
  }

  /** Move on to the next FE (after this one failed at the transport level). */
  rotate(from?: string): void {
    if (from === undefined || from === this.current) this.#current = (this.#current + 1) % this.origins.length;
  }

  async close(): Promise<void> {
    if (this.#ownAgent) await this.#agent.close();
  }

  /** Run `call` against each FE in turn, starting with the current one, until one answers. */
  async #failover<T>(what: string, call: (origin: string) => Promise<T>): Promise<T> {
    const errors: string[] = [];
    for (let i = 0; i < this.origins.length; i++) {
      const origin = this.current;
      try {
        return await call(origin);
      } catch (err) {
        if (!(err instanceof TransportError) && !(err instanceof FeUnavailableError)) throw err;
        errors.push(`${origin}: ${err.message}`);
        this.rotate(origin);
      }
    }
    throw new FeUnavailableError(`${what}: no FE answered (${errors.join('; ')})`);
  }

  async #get(origin: string, path: string, auth = true): Promise<HttpReply> {
    const due = deadline(this.#timeoutMs);
    try {
      const res = await this.#agent.request({
        origin,
        path,
        method: 'GET',
        headers: auth ? { authorization: this.#auth } : {},
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        signal: due.signal,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode >= 500) throw new FeUnavailableError(`GET ${origin}${path}: HTTP ${res.statusCode}`);
      return { status: res.statusCode, headers: res.headers, body, url: `${origin}${path}` };
    } catch (err) {
      if (err instanceof FeUnavailableError) throw err;
      const code = errorCode(err);
      throw new TransportError(`GET ${origin}${path}: ${(err as Error).message}`, {
        phase: 'reply',
        ambiguous: false,
        url: `${origin}${path}`,
        ...(code ? { code } : {}),
        cause: err,
      });
    } finally {
      due.release();
    }
  }

  /** `GET /api/backends?is_alive=true` (§11b). */
  async backends(): Promise<Backend[]> {
    return this.#failover('list backends', async (origin) => {
      const r = await this.#get(origin, '/api/backends?is_alive=true');
      return parseBackends(decodeReplyBody(r.body, r.headers['content-encoding']));
    });
  }

  /** `GET /api/{db}/get_load_state?label=` (§11b). */
  async loadState(db: string, label: string): Promise<LabelState> {
    const path = `/api/${encodeURIComponent(db)}/get_load_state?label=${encodeURIComponent(label)}`;
    return this.#failover(`label state of ${label}`, async (origin) => {
      const r = await this.#get(origin, path);
      return parseLoadState(decodeReplyBody(r.body, r.headers['content-encoding']));
    });
  }

  /** 2PC commit or abort by label through the FE (307 to a BE, §5). */
  async twoPhase(
    db: string,
    table: string,
    label: string,
    op: 'commit' | 'abort',
  ): Promise<{ result: TwoPcResult; msg: string }> {
    const path = `/api/${encodeURIComponent(db)}/${encodeURIComponent(table)}/_stream_load_2pc`;
    return this.#failover(`2PC ${op} of ${label}`, async (origin) => {
      const r = await expectPut(
        new URL(path, origin),
        { Authorization: this.#auth, label, txn_operation: op },
        Buffer.alloc(0),
        { timeoutMs: this.#timeoutMs, continueTimeoutMs: 200 },
      );
      if (r.status >= 500) throw new FeUnavailableError(`2PC ${op}: HTTP ${r.status}`);
      return parseTwoPcReply(decodeReplyBody(r.body, r.headers['content-encoding']), op);
    });
  }

  /**
   * The text behind an ErrorURL: the BE's `/api/_load_error_log` (§6), which gets our credentials
   * (a BE with enable_all_http_auth asks for them), or, in cloud / S3 setups, any URL the BE gives
   * (a presigned object-store URL), which must not: the password would go to a third party, and a
   * presigned URL refuses a request that also carries an Authorization header.
   */
  async fetchText(url: string): Promise<string> {
    const u = new URL(url);
    const r = await this.#get(u.origin, u.pathname + u.search, u.pathname === '/api/_load_error_log');
    if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}`);
    return decodeReplyBody(r.body, r.headers['content-encoding']);
  }
}

export class FeUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeUnavailableError';
  }
}
