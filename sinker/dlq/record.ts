// A dead-lettered message and its two stored forms: a JSON line (file DLQ) and a Kafka message
// (topic DLQ: the original key and value, the original headers, and the metadata in dlq.* headers).
// Pure. Records written before a field existed read back without it: `timestamp` and `headers` are
// optional in both forms (replay needs only the value and the position).
import { isUtf8 } from 'node:buffer';

/** One header of the original message (Kafka allows a name more than once, and a null value). */
export interface DlqHeader {
  name: string;
  value: Buffer | null;
}

export interface DlqRecord {
  /** Sink that dead-lettered it. */
  sink: string;
  /** Where the original message was read. */
  topic: string;
  partition: number;
  offset: string;
  /** Why: invalid JSON, Doris's data-quality reason, a fatal load error, ... */
  reason: string;
  /** When it was dead-lettered (ISO 8601). */
  time: string;
  /** The original message value, byte for byte (null for a tombstone). */
  value: Buffer | null;
  /** The original message key. */
  key: Buffer | null;
  /** The original message's Kafka timestamp (ms since the epoch, decimal); absent when unknown. */
  timestamp?: string;
  /** The original message's headers, in order; absent when it had none or they are unknown. */
  headers?: DlqHeader[];
}

type HeaderValue = Buffer | string | null | (Buffer | string | null)[] | undefined;

/**
 * A message's headers as kafkajs gives them (a repeated name as an array) as a list; undefined for
 * none. Of a name in `ownFirst`, the first value is left out (a DLQ message's own dlq.* header).
 */
export function originalHeaders(
  headers: Record<string, HeaderValue> | undefined,
  ownFirst?: ReadonlySet<string>,
): DlqHeader[] | undefined {
  if (headers === undefined) return undefined;
  const out: DlqHeader[] = [];
  for (const [name, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    for (const x of ownFirst?.has(name) ? values.slice(1) : values) {
      out.push({ name, value: x === null ? null : Buffer.from(x) });
    }
  }
  return out.length > 0 ? out : undefined;
}

interface JsonLine {
  sink: string;
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  time: string;
  value: string | null;
  value_encoding: 'utf8' | 'base64' | null;
  key?: string | null;
  key_encoding?: 'utf8' | 'base64' | null;
  timestamp?: string;
  headers?: { name: string; value: string | null; value_encoding: 'utf8' | 'base64' | null }[];
}

function encodeBytes(b: Buffer | null): [string | null, 'utf8' | 'base64' | null] {
  if (b === null) return [null, null];
  // Readable when it is text (the usual JSON message); base64 keeps any other bytes exact.
  return isUtf8(b) ? [b.toString('utf8'), 'utf8'] : [b.toString('base64'), 'base64'];
}

function decodeBytes(s: string | null | undefined, enc: string | null | undefined, what: string): Buffer | null {
  if (s === null || s === undefined) return null;
  if (enc === 'utf8') return Buffer.from(s, 'utf8');
  if (enc === 'base64') return Buffer.from(s, 'base64');
  throw new DlqRecordError(`DLQ record: ${what}_encoding must be utf8 or base64, got ${JSON.stringify(enc)}`);
}

/**
 * One JSON line (no trailing newline). U+2028 and U+2029, which JSON.stringify leaves raw, are
 * escaped: line-oriented readers (node:readline, Python's splitlines) break lines there.
 */
export function toJsonLine(r: DlqRecord): string {
  const [value, valueEnc] = encodeBytes(r.value);
  const line: JsonLine = {
    sink: r.sink,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    reason: r.reason,
    time: r.time,
    value,
    value_encoding: valueEnc,
  };
  if (r.key !== null) {
    const [key, keyEnc] = encodeBytes(r.key);
    line.key = key;
    line.key_encoding = keyEnc;
  }
  if (r.timestamp !== undefined) line.timestamp = r.timestamp;
  if (r.headers !== undefined && r.headers.length > 0) {
    line.headers = r.headers.map((h) => {
      const [value, enc] = encodeBytes(h.value);
      return { name: h.name, value, value_encoding: enc };
    });
  }
  return JSON.stringify(line).replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

/** A DLQ line or message that is not a dead letter; `cutShort` for a line that is the start of one (a write interrupted). */
export class DlqRecordError extends Error {
  override name = 'DlqRecordError';
  readonly cutShort: boolean;

  constructor(message: string, cutShort = false) {
    super(message);
    this.cutShort = cutShort;
  }
}

/**
 * Whether a line JSON.parse refused ends before its JSON does: an object whose text stops at the
 * end of the line, as an append cut off by a crash or a full disk leaves it (V8 names the position
 * where it stopped reading: the end).
 */
function endsEarly(text: string, err: Error): boolean {
  if (!text.startsWith('{')) return false;
  if (err.message.includes('Unexpected end of JSON input')) return true;
  const at = /at position (\d+)/.exec(err.message);
  return at !== null && Number(at[1]) >= text.trimEnd().length;
}

const OFFSET_RE = /^(0|[1-9][0-9]{0,18})$/;
/**
 * A Kafka timestamp: an int64 in ms (-1 for none). Any sign: a producer may set one before 1970, and
 * a record the sinker wrote must read back.
 */
const TIMESTAMP_RE = /^-?(0|[1-9][0-9]{0,18})$/;
const MAX_OFFSET = 2n ** 63n - 1n;

/**
 * A record's original position must be one Kafka can have: replay keys its bookkeeping and labels
 * by it, and a hand-edited one would otherwise fail the replay at its load, after those before it.
 */
function checkPosition(
  partition: unknown,
  offset: string,
  where: string,
  pName: string,
  oName: string,
): asserts partition is number {
  if (!Number.isInteger(partition) || (partition as number) < 0 || (partition as number) > 2 ** 31 - 1) {
    throw new DlqRecordError(`${where}: ${pName} must be an integer >= 0, got ${JSON.stringify(partition)}`);
  }
  if (!OFFSET_RE.test(offset) || BigInt(offset) > MAX_OFFSET) {
    throw new DlqRecordError(
      `${where}: ${oName} must be a Kafka offset (a decimal int64 >= 0), got ${JSON.stringify(offset)}`,
    );
  }
}

export function fromJsonLine(text: string, where = 'DLQ line'): DlqRecord {
  let o: JsonLine;
  try {
    o = JSON.parse(text) as JsonLine;
  } catch (e) {
    if (endsEarly(text, e as Error)) {
      throw new DlqRecordError(
        `${where}: cut short (the start of a record whose write a crash or a full disk interrupted; the sinker wrote the record again after it)`,
        true,
      );
    }
    throw new DlqRecordError(`${where}: not JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null) throw new DlqRecordError(`${where}: not a JSON object`);
  for (const f of ['sink', 'topic', 'offset', 'reason', 'time'] as const) {
    if (typeof o[f] !== 'string') throw new DlqRecordError(`${where}: field ${f} must be a string`);
  }
  checkPosition(o.partition, o.offset, where, 'field partition', 'field offset');
  const r: DlqRecord = {
    sink: o.sink,
    topic: o.topic,
    partition: o.partition,
    offset: o.offset,
    reason: o.reason,
    time: o.time,
    value: decodeBytes(o.value, o.value_encoding, `${where}: value`),
    key: decodeBytes(o.key, o.key_encoding, `${where}: key`),
  };
  if (o.timestamp !== undefined) {
    if (typeof o.timestamp !== 'string' || !TIMESTAMP_RE.test(o.timestamp)) {
      throw new DlqRecordError(
        `${where}: field timestamp must be a Kafka timestamp (decimal ms as a string), got ${JSON.stringify(o.timestamp)}`,
      );
    }
    r.timestamp = o.timestamp;
  }
  if (o.headers !== undefined) {
    if (!Array.isArray(o.headers)) throw new DlqRecordError(`${where}: field headers must be an array`);
    r.headers = o.headers.map((h, i) => {
      if (typeof h !== 'object' || h === null || typeof h.name !== 'string') {
        throw new DlqRecordError(`${where}: headers[${i}].name must be a string`);
      }
      return { name: h.name, value: decodeBytes(h.value, h.value_encoding, `${where}: headers[${i}].value`) };
    });
  }
  return r;
}

export const DLQ_HEADER = {
  sink: 'dlq.sink',
  topic: 'dlq.topic',
  partition: 'dlq.partition',
  offset: 'dlq.offset',
  reason: 'dlq.reason',
  time: 'dlq.time',
  /** The original message's timestamp (the DLQ message's own is when it was dead-lettered). */
  timestamp: 'dlq.timestamp',
} as const;

const OWN_HEADERS: ReadonlySet<string> = new Set(Object.values(DLQ_HEADER));

export type DlqHeaderValue = string | Buffer | (string | Buffer)[];

export interface DlqKafkaMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, DlqHeaderValue>;
}

/**
 * The original's headers keep their names. A name the original shares with one of the dlq.* headers
 * becomes a repeated header, the dlq.* value first: fromKafkaMessage takes the first as the
 * metadata and the rest as the original's. A null header value goes as an empty one: kafkajs
 * cannot send a null (its size of a header calls Buffer.byteLength on the value).
 */
export function toKafkaMessage(r: DlqRecord): DlqKafkaMessage {
  const headers = new Map<string, (string | Buffer)[]>([
    [DLQ_HEADER.sink, [r.sink]],
    [DLQ_HEADER.topic, [r.topic]],
    [DLQ_HEADER.partition, [String(r.partition)]],
    [DLQ_HEADER.offset, [r.offset]],
    [DLQ_HEADER.reason, [r.reason]],
    [DLQ_HEADER.time, [r.time]],
  ]);
  if (r.timestamp !== undefined) headers.set(DLQ_HEADER.timestamp, [r.timestamp]);
  for (const h of r.headers ?? []) {
    const value = h.value ?? Buffer.alloc(0);
    const values = headers.get(h.name);
    if (values) values.push(value);
    else headers.set(h.name, [value]);
  }
  return {
    key: r.key,
    value: r.value,
    // fromEntries defines each name as its own property, '__proto__' included.
    headers: Object.fromEntries([...headers].map(([name, vs]) => [name, vs.length === 1 ? vs[0]! : vs])),
  };
}

function header(headers: Record<string, HeaderValue> | undefined, name: string, where: string): string {
  let v = headers?.[name];
  if (Array.isArray(v)) v = v[0];
  if (v === undefined || v === null) throw new DlqRecordError(`${where}: header ${name} missing`);
  return typeof v === 'string' ? v : v.toString('utf8');
}

/** A DLQ topic message (as kafkajs delivers it) back into a record. */
export function fromKafkaMessage(
  m: { key: Buffer | null; value: Buffer | null; headers?: Record<string, HeaderValue> },
  where = 'DLQ message',
): DlqRecord {
  const partitionText = header(m.headers, DLQ_HEADER.partition, where);
  const partition: unknown = /^\d+$/.test(partitionText) ? Number(partitionText) : partitionText;
  const offset = header(m.headers, DLQ_HEADER.offset, where);
  checkPosition(partition, offset, where, `header ${DLQ_HEADER.partition}`, `header ${DLQ_HEADER.offset}`);
  const r: DlqRecord = {
    sink: header(m.headers, DLQ_HEADER.sink, where),
    topic: header(m.headers, DLQ_HEADER.topic, where),
    partition,
    offset,
    reason: header(m.headers, DLQ_HEADER.reason, where),
    time: header(m.headers, DLQ_HEADER.time, where),
    value: m.value,
    key: m.key,
  };
  const ts = m.headers?.[DLQ_HEADER.timestamp];
  if (ts !== undefined) {
    const text = header(m.headers, DLQ_HEADER.timestamp, where);
    if (!TIMESTAMP_RE.test(text)) {
      throw new DlqRecordError(
        `${where}: header ${DLQ_HEADER.timestamp} must be a Kafka timestamp (decimal ms), got ${JSON.stringify(text)}`,
      );
    }
    r.timestamp = text;
  }
  const original = originalHeaders(m.headers, OWN_HEADERS);
  if (original) r.headers = original;
  return r;
}
