// The typed error the pipeline watches for: Redis could not be reached, so the exactly-once state
// cannot be read or written. The pipeline pauses consumption and retries (DESIGN §3).

export class DedupeUnavailableError extends Error {
  readonly operation: string;
  constructor(operation: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`dedupe: Redis unavailable during ${operation}: ${detail}`, { cause });
    this.name = 'DedupeUnavailableError';
    this.operation = operation;
  }
}

/**
 * Whether an ioredis error means "Redis is not there" (connection refused, closed, offline queue
 * off, command timeout) rather than an error reply from a live server (a bug to surface).
 */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof DedupeUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return false;
  const m = err.message;
  return (
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE/.test(m) ||
    /Connection is closed|Stream isn't writeable|Command timed out|Reached the max retries|connect ETIMEDOUT|LOADING|socket/i.test(
      m,
    ) ||
    err.name === 'MaxRetriesPerRequestError'
  );
}
