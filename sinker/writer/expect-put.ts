// PUT with `Expect: 100-continue` over node:http, following 307 redirects by sending the whole
// body again — the FE route of Stream Load (doris-stream-load.md §1.2). undici refuses the Expect
// header, hence node:http. The FE checks that Expect is present, answers 307 at once without a
// 100 Continue and never reads the body; the BE sends 100 Continue only when it accepts the
// headers, so a refused load costs no upload.
import http from 'node:http';
import { basicAuth, errorCode, type HttpReply, isConnectError, safeUrl, TransportError } from './transport.ts';

export interface ExpectPutOptions {
  agent?: http.Agent;
  /** Deadline for the whole exchange including redirects, ms. */
  timeoutMs: number;
  /** Send the body anyway if neither 100 Continue nor a reply came within this time, ms (RFC 9110). */
  continueTimeoutMs?: number;
  /**
   * Give up on a connection not made within this time, ms (undici's default, as on the BE route): a
   * host that drops packets would otherwise hold the load until the deadline, as a reply would.
   */
  connectTimeoutMs?: number;
  /**
   * The first server must answer within this time, ms. An FE answers its 307 at once without
   * reading the body, so a longer silence is an FE that hangs: give up on it then, not at the end
   * of `timeoutMs`, which is for the BE that runs the load.
   */
  firstReplyTimeoutMs?: number;
  maxRedirects?: number;
  signal?: AbortSignal;
}

interface HopResult {
  reply: HttpReply;
  location?: string;
}

function hop(
  url: URL,
  headers: Record<string, string>,
  body: Buffer,
  opts: ExpectPutOptions,
  deadline: number,
  /** What the deadline stands for, ms (for the message). */
  waitMs: number,
): Promise<HopResult> {
  return new Promise((resolve, reject) => {
    const where = safeUrl(url);
    let bodySent = false;
    let settled = false;
    let connected = false;
    let continueTimer: NodeJS.Timeout | undefined;
    const reqHeaders: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(headers)) {
      const lower = k.toLowerCase();
      if (lower === 'expect' || lower === 'content-length' || lower === 'transfer-encoding') continue;
      // The FE's 307 Location carries the credentials as userinfo (§1.2); they replace ours.
      if (lower === 'authorization' && url.username !== '') continue;
      reqHeaders[lower] = v;
    }
    reqHeaders.expect = '100-continue';
    reqHeaders['content-length'] = body.length;
    if (url.username !== '') {
      reqHeaders.authorization = basicAuth(decodeURIComponent(url.username), decodeURIComponent(url.password));
    }
    const req = http.request({
      method: 'PUT',
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || 80,
      path: url.pathname + url.search,
      headers: reqHeaders,
      agent: opts.agent,
    });
    const remaining = deadline - Date.now();
    const fail = (err: unknown, phase: 'connect' | 'send' | 'reply') => {
      if (settled) return;
      settled = true;
      cleanup();
      const code = errorCode(err);
      const connect = !bodySent && (isConnectError(code) || phase === 'connect');
      req.destroy();
      reject(
        new TransportError(`PUT ${where}: ${(err as Error)?.message ?? String(err)}`, {
          phase: connect ? 'connect' : phase,
          ambiguous: bodySent,
          url: where,
          ...(code ? { code } : {}),
          cause: err,
        }),
      );
    };
    // Still connecting when the time is up: nothing was sent, and the host is the one to blame (the
    // caller moves on to the next FE), not a load whose outcome is unknown.
    const deadlineTimer = setTimeout(
      () =>
        connected
          ? fail(Object.assign(new Error(`no reply within ${waitMs} ms`), { code: 'ETIMEDOUT_DEADLINE' }), 'reply')
          : fail(
              Object.assign(new Error(`no connection within ${waitMs} ms`), { code: 'ETIMEDOUT_CONNECT' }),
              'connect',
            ),
      Math.max(0, remaining),
    );
    const connectMs = opts.connectTimeoutMs ?? 10_000;
    const connectTimer = setTimeout(
      () =>
        fail(
          Object.assign(new Error(`no connection within ${connectMs} ms`), { code: 'ETIMEDOUT_CONNECT' }),
          'connect',
        ),
      connectMs,
    );
    const onAbort = () => fail(new Error('aborted'), 'reply');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(deadlineTimer);
      clearTimeout(connectTimer);
      if (continueTimer) clearTimeout(continueTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const sendBody = () => {
      if (bodySent || settled) return;
      bodySent = true;
      if (continueTimer) clearTimeout(continueTimer);
      req.end(body);
    };
    req.on('continue', sendBody);
    req.on('socket', (socket) => {
      const arm = () => {
        connected = true;
        clearTimeout(connectTimer);
        continueTimer = setTimeout(sendBody, opts.continueTimeoutMs ?? 3000);
      };
      if (socket.connecting) socket.once('connect', arm);
      else arm();
    });
    req.on('response', (res) => {
      const early = !bodySent;
      if (continueTimer) clearTimeout(continueTimer);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => fail(err, 'reply'));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        cleanup();
        // A final answer before the body: the request is unfinished, so this socket can't be reused.
        if (early) req.destroy();
        const reply: HttpReply = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          url: where,
        };
        const location = res.headers.location;
        resolve(
          location && res.statusCode && res.statusCode >= 300 && res.statusCode < 400 ? { reply, location } : { reply },
        );
      });
    });
    req.on('error', (err) => fail(err, bodySent ? 'send' : 'connect'));
    // Send the headers now; the body waits for 100 Continue.
    req.flushHeaders();
  });
}

/**
 * PUT `body` to `url` with Expect: 100-continue, following up to `maxRedirects` redirects (each
 * gets the same headers and the full body; credentials from the Location's userinfo win).
 * Rejects with TransportError; any HTTP status, including 4xx/5xx, resolves.
 */
export async function expectPut(
  url: URL,
  headers: Record<string, string>,
  body: Buffer,
  opts: ExpectPutOptions,
): Promise<HttpReply> {
  const deadline = Date.now() + opts.timeoutMs;
  let current = url;
  for (let i = 0; ; i++) {
    const firstMs = i === 0 ? opts.firstReplyTimeoutMs : undefined;
    const { reply, location } =
      firstMs !== undefined && firstMs < opts.timeoutMs
        ? await hop(current, headers, body, opts, Date.now() + firstMs, firstMs)
        : await hop(current, headers, body, opts, deadline, opts.timeoutMs);
    if (!location) return reply;
    if (i >= (opts.maxRedirects ?? 3)) {
      throw new TransportError(`PUT ${safeUrl(url)}: more than ${opts.maxRedirects ?? 3} redirects`, {
        phase: 'reply',
        ambiguous: false,
        url: reply.url,
      });
    }
    try {
      current = new URL(location, current);
    } catch {
      // URL's TypeError keeps the text it was given (`input`), and an FE's Location carries the
      // password: report the redirect without it. Nothing was sent to the target: not ambiguous.
      throw new TransportError(`PUT ${reply.url}: the ${reply.status} redirect's Location is not a URL`, {
        phase: 'reply',
        ambiguous: false,
        url: reply.url,
      });
    }
  }
}
