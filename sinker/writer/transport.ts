// What every Stream Load transport returns, and how it fails. A failure says whether any body byte
// may have reached the server: if not (refused, reset before sending), a retry cannot duplicate;
// if so, the outcome is ambiguous and the label's state decides (doris-stream-load.md §7, §11b).

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The URL that answered (after redirects), without credentials. */
  url: string;
}

export type TransportPhase = 'connect' | 'send' | 'reply';

export class TransportError extends Error {
  readonly phase: TransportPhase;
  /** The body (or part of it) may have been delivered: the load may have happened. */
  readonly ambiguous: boolean;
  readonly code: string | undefined;
  readonly url: string;
  constructor(
    message: string,
    opts: { phase: TransportPhase; ambiguous: boolean; url: string; code?: string; cause?: unknown },
  ) {
    super(message, { cause: opts.cause });
    this.name = 'TransportError';
    this.phase = opts.phase;
    this.ambiguous = opts.ambiguous;
    this.url = opts.url;
    this.code = opts.code;
  }
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNABORTED',
]);

/** Whether an error code means the connection was never made (nothing can have been sent). */
export function isConnectError(code: string | undefined): boolean {
  return code !== undefined && CONNECT_CODES.has(code);
}

export function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A URL for logs: no userinfo (the FE's 307 Location carries the password). */
export function safeUrl(url: URL | string): string {
  const u = new URL(String(url));
  u.username = '';
  u.password = '';
  return u.toString();
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
