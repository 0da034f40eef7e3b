// The load request's body and headers. Pure apart from the async gzip (zlib's thread pool).
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import type { DorisConfig } from '../config/types.ts';

const gzipAsync = promisify(gzip);

/**
 * Rows joined by `delimiter` into one buffer, written in place when `bytesHint` (the batch's summed
 * UTF-8 length) is exact, so a batch is copied once. No trailing delimiter.
 */
export function buildBody(rows: readonly string[], delimiter: string, bytesHint?: number): Buffer {
  if (rows.length === 0) return Buffer.alloc(0);
  const delimBytes = Buffer.byteLength(delimiter);
  if (bytesHint !== undefined && bytesHint >= 0) {
    const total = bytesHint + delimBytes * (rows.length - 1);
    const buf = Buffer.allocUnsafe(total);
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
