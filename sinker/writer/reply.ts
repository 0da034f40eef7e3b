// Parse whatever came back from a Stream Load request into one of the shapes Doris speaks
// (doris-stream-load.md §1.2, §3): the BE load JSON, the FE RestBaseResult, the FE ResponseBody,
// or something else (an HTML error page from a proxy, an empty body). Pure; no I/O.
import { gunzipSync } from 'node:zlib';

/** The BE's load reply (§3). Counters default to 0 when absent; ids stay strings (int64). */
export interface BeLoadReply {
  txnId: string;
  label: string;
  status: string;
  existingJobStatus?: string;
  message: string;
  twoPhaseCommit: boolean;
  groupCommit: boolean;
  numberTotalRows: number;
  numberLoadedRows: number;
  numberFilteredRows: number;
  numberUnselectedRows: number;
  loadBytes: number;
  loadTimeMs: number;
  beginTxnTimeMs?: number;
  streamLoadPutTimeMs?: number;
  readDataTimeMs?: number;
  writeDataTimeMs?: number;
  receiveDataTimeMs?: number;
  commitAndPublishTimeMs?: number;
  errorUrl?: string;
  firstErrorMsg?: string;
}

export type ParsedReply =
  | { shape: 'be-load'; httpStatus: number; reply: BeLoadReply }
  /** FE `RestBaseResult`: `{"status":"FAILED","msg":"..."}` (also the lower-case 2PC reply). */
  | { shape: 'fe-rest'; httpStatus: number; status: string; msg: string }
  /** FE `ResponseBody`: `{"msg","code","data","count"}`. */
  | { shape: 'fe-body'; httpStatus: number; code: number; msg: string; data: unknown }
  /** Not one of Doris's JSON shapes: HTML, empty, truncated JSON, other JSON. */
  | { shape: 'other'; httpStatus: number; text: string };

/** Undo a gzip reply (Doris gzips when the request accepted it, §1.3). Falls back to the raw bytes. */
export function decodeReplyBody(body: Uint8Array, contentEncoding?: string | string[]): string {
  const enc = Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? '');
  const looksGzip = body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
  if (/gzip/i.test(enc) || looksGzip) {
    try {
      return gunzipSync(body).toString('utf8');
    } catch {
      // A broken gzip body is reported as text below; the classifier treats it as not-Doris.
    }
  }
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

function num(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return 0;
}

function optNum(v: unknown): number | undefined {
  return v === undefined ? undefined : num(v);
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  return String(v);
}

/** TxnId can exceed 2^53 in principle; read its digits from the text rather than the parsed double. */
function rawTxnId(text: string, parsed: unknown): string {
  const m = /"TxnId"\s*:\s*(-?\d+)/.exec(text);
  if (m?.[1]) return m[1];
  return parsed === undefined || parsed === null ? '-1' : String(parsed);
}

export function parseReply(httpStatus: number, text: string): ParsedReply {
  let json: unknown;
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      json = JSON.parse(trimmed);
    } catch {
      json = undefined;
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { shape: 'other', httpStatus, text };
  }
  const o = json as Record<string, unknown>;
  if (typeof o.Status === 'string') {
    const reply: BeLoadReply = {
      txnId: rawTxnId(trimmed, o.TxnId),
      label: str(o.Label),
      status: o.Status,
      message: str(o.Message),
      twoPhaseCommit: str(o.TwoPhaseCommit).toLowerCase() === 'true',
      groupCommit: o.GroupCommit === true,
      numberTotalRows: num(o.NumberTotalRows),
      numberLoadedRows: num(o.NumberLoadedRows),
      numberFilteredRows: num(o.NumberFilteredRows),
      numberUnselectedRows: num(o.NumberUnselectedRows),
      loadBytes: num(o.LoadBytes),
      loadTimeMs: num(o.LoadTimeMs),
    };
    if (o.ExistingJobStatus !== undefined) reply.existingJobStatus = str(o.ExistingJobStatus);
    const optional: [keyof BeLoadReply, unknown][] = [
      ['beginTxnTimeMs', o.BeginTxnTimeMs],
      ['streamLoadPutTimeMs', o.StreamLoadPutTimeMs],
      ['readDataTimeMs', o.ReadDataTimeMs],
      ['writeDataTimeMs', o.WriteDataTimeMs],
      ['receiveDataTimeMs', o.ReceiveDataTimeMs],
      ['commitAndPublishTimeMs', o.CommitAndPublishTimeMs],
    ];
    for (const [k, v] of optional) {
      const n = optNum(v);
      if (n !== undefined) (reply as unknown as Record<string, number>)[k] = n;
    }
    if (typeof o.ErrorURL === 'string' && o.ErrorURL !== '') reply.errorUrl = o.ErrorURL;
    if (typeof o.FirstErrorMsg === 'string' && o.FirstErrorMsg !== '') reply.firstErrorMsg = o.FirstErrorMsg;
    return { shape: 'be-load', httpStatus, reply };
  }
  if ('code' in o && 'msg' in o) {
    return { shape: 'fe-body', httpStatus, code: num(o.code), msg: str(o.msg), data: o.data };
  }
  if (typeof o.status === 'string') {
    return { shape: 'fe-rest', httpStatus, status: o.status, msg: str(o.msg) };
  }
  return { shape: 'other', httpStatus, text };
}
