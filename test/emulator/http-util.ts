// Small HTTP helpers shared by the FE and BE servers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';

export function clientIp(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/**
 * Reusable body buffers, for counting mode where a body is dropped as soon as its rows are counted:
 * a fresh 10 MiB buffer per load is mostly page faults and garbage collection, and on a shared
 * benchmark machine that CPU is taken from the sinker being measured.
 */
export class BodyPool {
  readonly #free: Buffer[] = [];
  readonly #keep: number;

  constructor(keep = 8) {
    this.#keep = keep;
  }

  /** A buffer of at least `n` bytes (its whole allocation: give it back as it is). */
  take(n: number): Buffer {
    let best = -1;
    for (let k = 0; k < this.#free.length; k++) {
      const len = this.#free[k]!.length;
      if (len >= n && (best < 0 || len < this.#free[best]!.length)) best = k;
    }
    if (best >= 0) return this.#free.splice(best, 1)[0]!;
    return Buffer.allocUnsafeSlow(Math.max(n, 65_536));
  }

  give(b: Buffer): void {
    if (this.#free.length < this.#keep) this.#free.push(b);
  }
}

export interface ReceivedBody {
  body: Buffer;
  /** False: the client went away mid-body. */
  complete: boolean;
  timedOut: boolean;
  /** With a pool: the buffer `body` lies in, to give back once nothing reads the body any more. */
  backing?: Buffer;
}

/**
 * Body bytes of a request, and whether it arrived complete. With `pool`, the body is written into a
 * pooled buffer (sized from Content-Length when given) instead of a fresh one.
 */
export function readBody(req: IncomingMessage, timeoutMs: number, pool?: BodyPool): Promise<ReceivedBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const declared = Number(req.headers['content-length']);
    let backing = pool?.take(Number.isSafeInteger(declared) && declared > 0 ? declared : 0);
    let used = 0;
    let done = false;
    const finish = (complete: boolean, timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (backing) resolve({ body: backing.subarray(0, used), complete, timedOut, backing });
      else resolve({ body: Buffer.concat(chunks), complete, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), Math.min(timeoutMs, 2 ** 31 - 1));
    req.on('data', (c: Buffer) => {
      // after a timeout the buffer may already serve another load
      if (done) return;
      if (!backing || !pool) {
        chunks.push(c);
        return;
      }
      if (used + c.length > backing.length) {
        const bigger = pool.take(Math.max(used + c.length, backing.length * 2));
        backing.copy(bigger, 0, 0, used);
        pool.give(backing);
        backing = bigger;
      }
      used += c.copy(backing, used);
    });
    req.on('end', () => finish(true, false));
    req.on('close', () => finish(req.complete, false));
    req.on('error', () => finish(false, false));
  });
}

/**
 * Writes a 200 reply the way the BE does: no explicit content type (libevent's default), gzip when the
 * client accepts it. `close` ends the connection (used when the request body was never read).
 */
export function sendBe(req: IncomingMessage, res: ServerResponse, body: string, close = false, status = 200): void {
  if (res.writableEnded || res.destroyed) return;
  let data: Buffer = Buffer.from(body, 'utf8');
  const headers: Record<string, string | number> = { 'Content-Type': 'text/html; charset=ISO-8859-1' };
  if (/\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''))) {
    data = gzipSync(data);
    headers['Content-Encoding'] = 'gzip';
  }
  headers['Content-Length'] = data.length;
  if (close) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(data);
}

/**
 * FE replies: Spring's JSON with an explicit content type. The connection is closed only when the
 * client still holds its body back waiting for 100 Continue; a body sent anyway is drained by Node.
 */
export function sendFe(req: IncomingMessage, res: ServerResponse, body: string, status = 200): void {
  if (res.writableEnded || res.destroyed) return;
  const data = Buffer.from(body, 'utf8');
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': data.length,
  };
  if (waitingForContinue(req)) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(data);
}

/** The client sent `Expect: 100-continue` and has not sent (all of) its body. */
export function waitingForContinue(req: IncomingMessage): boolean {
  return req.headers.expect !== undefined && !req.complete;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
