// Small HTTP helpers shared by the FE and BE servers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';

export function clientIp(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** Body bytes of a request, and whether it arrived complete (false: the client went away mid-body). */
export function readBody(
  req: IncomingMessage,
  timeoutMs: number,
): Promise<{ body: Buffer; complete: boolean; timedOut: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (complete: boolean, timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ body: Buffer.concat(chunks), complete, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), Math.min(timeoutMs, 2 ** 31 - 1));
    req.on('data', (c: Buffer) => chunks.push(c));
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
