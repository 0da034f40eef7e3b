// Polling until a condition holds, for tests against the real test bed.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `fn` until it returns something other than undefined/false; an error thrown by `fn` counts
 * as "not yet" and is named in the timeout message, with `what`.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs: number,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
