// The load request's body and headers. Pure apart from the async gzip (zlib's thread pool).
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import type { DorisConfig } from '../config/types.ts';

const gzipAsync = promisify(gzip);

/**
 * Rows joined by `delimiter` into one buffer, written in place when `bytesHint` (the batch's summed
 * UTF-8 length) is exact, so a batch is copied once. No trailing delimiter.
 */
export function buildBody(
  rows: readonly string[],
  delimiter: string,
  bytesHint?: number,
  alloc: (size: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  if (rows.length === 0) return Buffer.alloc(0);
  const delimBytes = Buffer.byteLength(delimiter);
  if (bytesHint !== undefined && bytesHint >= 0) {
    const total = bytesHint + delimBytes * (rows.length - 1);
    const buf = alloc(total);
    const last = rows.length - 1;
    let off = 0;
    let lastWritten = 0;
    let ok = true;
    for (let i = 0; i <= last; i++) {
      if (i > 0) off += buf.write(delimiter, off);
      lastWritten = buf.write(rows[i] as string, off);
      off += lastWritten;
      // A full buffer with rows left means the hint was short (write() truncates silently).
      if (off >= total && i < last) {
        ok = false;
        break;
      }
    }
    if (ok && off === total && lastWritten === Buffer.byteLength(rows[last] as string)) return buf;
  }
  return Buffer.from(rows.join(delimiter));
}

/**
 * The body of a load merging several batches: their bodies joined by `\n` into one buffer from
 * `alloc` when every batch brings one and the delimiter is `\n` (the batcher's), else every row
 * joined by `delimiter`.
 */
export function mergedBody(
  batches: readonly { body?: Buffer; rows: readonly string[]; rowOffsets: readonly string[]; bytes: number }[],
  delimiter: string,
  alloc: (size: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  // rowOffsets, not rows: a batch built as bytes decodes its rows only when asked
  const parts = batches.filter((b) => b.rowOffsets.length > 0);
  if (delimiter === '\n' && parts.every((b) => b.body !== undefined)) {
    let total = Math.max(0, parts.length - 1);
    for (const b of parts) total += b.body!.length;
    const out = alloc(total);
    let off = 0;
    for (const b of parts) {
      if (off > 0) out[off++] = 0x0a;
      off += b.body!.copy(out, off);
    }
    return out;
  }
  let bytes = 0;
  for (const b of parts) bytes += b.bytes;
  return buildBody(
    parts.flatMap((b) => b.rows),
    delimiter,
    bytes,
    alloc,
  );
}

/**
 * Reusable body buffers: a batch body is megabytes, and allocating one per load keeps the garbage
 * collector busy freeing them. A buffer goes back only after its load is over (no request of it
 * can still be writing), and at most `maxFree` wait for reuse.
 */
export class BodyPool {
  readonly #free: ArrayBuffer[] = [];
  readonly #maxFree: number;

  constructor(maxFree = 8) {
    this.#maxFree = maxFree;
  }

  get freeCount(): number {
    return this.#free.length;
  }

  /** A buffer of exactly `size` bytes (uninitialised), from the pool when one is big enough. */
  acquire(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const cap = (this.#free[i] as ArrayBuffer).byteLength;
      if (cap >= size && (best < 0 || cap < (this.#free[best] as ArrayBuffer).byteLength)) best = i;
    }
    if (best >= 0) {
      const ab = this.#free.splice(best, 1)[0] as ArrayBuffer;
      return Buffer.from(ab, 0, size);
    }
    // Round up to 1 MiB steps so slightly larger batches still fit a returned buffer.
    const cap = Math.max(64 * 1024, Math.ceil(size / 1048576) * 1048576);
    return Buffer.from(new ArrayBuffer(cap), 0, size);
  }

  /** Give back a buffer `acquire` returned. Buffers of other origins are ignored. */
  release(buf: Buffer): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || ab.byteLength < 64 * 1024 || this.#free.includes(ab)) return;
    if (this.#free.length < this.#maxFree) this.#free.push(ab);
  }
}

/** gzip for `compress_type: gz`; level 1: loads are CPU-bound on our side, not on the wire. */
export function gzipBody(body: Buffer): Promise<Buffer> {
  return gzipAsync(body, { level: constants.Z_BEST_SPEED });
}

/** What the encoder contributes: its format headers and the delimiter its rows are joined with. */
export interface EncodingSpec {
  /** e.g. `{format: 'csv', column_separator: '\\x01', enclose: '"', escape: '\\\\'}` or `{format: 'json', read_json_by_line: 'true'}`. */
  headers: Record<string, string>;
  lineDelimiter: string;
}

/**
 * The Stream Load headers of a load: the user's `stream_load_properties`, then the encoder's format
 * headers (they describe the body, so they win), then what the writer owns (label, timeout,
 * compression, auth). Never `Expect`: the FE route adds it on its own connection.
 */
export function loadHeaders(
  doris: Pick<DorisConfig, 'stream_load_properties' | 'timeout'>,
  encoding: EncodingSpec,
  label: string,
  authorization: string,
  compressed: boolean,
  extra: Record<string, string> = {},
): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(doris.stream_load_properties)) h[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(encoding.headers)) h[k.toLowerCase()] = v;
  delete h.label;
  delete h.expect;
  delete h.group_commit; // a label and group commit exclude each other (§10); exactly-once needs the label
  h.label = label;
  h.timeout = String(doris.timeout);
  if (compressed) h.compress_type = 'gz';
  else delete h.compress_type;
  for (const [k, v] of Object.entries(extra)) h[k] = v;
  h.authorization = authorization;
  return h;
}
