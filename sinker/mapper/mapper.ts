// One Kafka message → one row's values in table column order (DESIGN §1). Each value is canonical text
// (numbers as exact digits, dates as `YYYY-MM-DD[ HH:MM:SS[.f]]`, JSON as compact-line JSON text) or
// null for SQL NULL; the encoders quote by column type. Rules:
// - missing field → the type's zero value (counted per field);
// - explicit JSON null → NULL on a nullable column, else the zero value plus a conversion error;
// - wrong JSON type → converted when lossless ("42"→42, 42→"42", "true"→true, objects → JSON text),
//   else the zero value plus a conversion error counted per (field, from_type, to_type);
// - a value of the right type that does not fit the column (integer out of range, more decimal places
//   or digits than the decimal holds, more fractional seconds than the datetime, a string longer than
//   the varchar/char in bytes, a string with a lone surrogate escape such as `\ud800`, which has no
//   UTF-8 form) → the whole message goes to the DLQ with the reason. The sinker never
//   rounds, truncates or clamps data on its own: Doris would filter such a row anyway, which costs
//   the whole batch a split, and the DLQ keeps the original bytes for a replay once the table is fixed;
// - invalid JSON, invalid UTF-8 or a top level that is not an object → DLQ with the reason.
import { Buffer, isUtf8 } from 'node:buffer';
import type { RowEncoder } from '../encode/encoders.ts';
import { formatDorisType } from '../schema/parse-type.ts';
import { isGeneratedColumn } from '../schema/schema.ts';
import type { Column, DorisType, TableSchema } from '../schema/types.ts';
import {
  decimalParts,
  formatDecimal,
  integerFits,
  integerRange,
  isCanonicalDateTime,
  isCanonicalDateTimeBytes,
  isCanonicalDecimalBytes,
  isIpv4,
  isIpv6,
  isJsonNumber,
  isTime,
  parseDateTime,
} from './convert.ts';
import {
  FieldExtractor,
  isValidJson,
  JsonSyntaxError,
  NotAnObjectError,
  T_ARRAY,
  T_FALSE,
  T_NULL,
  T_NUMBER,
  T_OBJECT,
  T_STRING,
  T_STRING_ESC,
  T_TRUE,
  tokenTypeName,
} from './extract.ts';
import type { RowBuffer } from './row-buffer.ts';

/** Why a message went to the DLQ instead of becoming a row (the `reason` label of dlq_messages_total). */
export type DlqCode = 'invalid_json' | 'not_object' | 'invalid_utf8' | 'out_of_range';

export type RowValues = (string | null)[];

/**
 * `clean[i]` = 1 when values[i] holds no `"`, `\\` or control character, so an encoder may quote it as
 * is (pass it to RowEncoder.encode: it skips the per-character escaping work, the costliest part of
 * encoding). The mapper knows this for free: a JSON string token without escapes has none of them.
 */
export type MapResult =
  | { ok: true; values: RowValues; clean: Uint8Array }
  | { ok: false; code: DlqCode; reason: string };

export type MapFailure = { ok: false; code: DlqCode; reason: string };

// How mapInto writes a present value with no conversion: the token's bytes as they are (see RowPlan).
const F_SLOW = 0;
const F_STRING = 1;
const F_INT = 2;
const F_FLOAT = 3;
const F_BOOL = 4;
const F_DATETIME = 5;
const F_JSON = 6;
const F_DECIMAL = 7;

/**
 * A mapper's columns laid out for one encoder, as bytes: what Mapper.mapInto needs to write a row
 * straight from the message's bytes. Build it with Mapper.planFor(encoder).
 */
export interface RowPlan {
  readonly encoder: RowEncoder;
  readonly prefixes: readonly Uint8Array[];
  readonly close: Uint8Array;
  readonly empty: Uint8Array;
  /** The encoded zero value and NULL of each column. */
  readonly zeros: readonly Uint8Array[];
  readonly nulls: readonly Uint8Array[];
  /** F_* per column: which tokens can be copied as they are. */
  readonly fast: Uint8Array;
  /** F_STRING: byte limit (0 = none); F_INT: largest value (0 = any 15-digit integer); F_DATETIME, F_DECIMAL: scale. */
  readonly limit: Float64Array;
  /** F_DECIMAL: the precision. */
  readonly precision: Uint8Array;
  /** F_DATETIME: 1 for a date column. */
  readonly isDate: Uint8Array;
  /** Whether field runs may be copied as they are (JSON lines: the row spells `,"name":value` too). */
  readonly runs: boolean;
  /** Bytes of a row's fixed parts at most: prefixes, close, and the longest zero/NULL per column. */
  readonly fixedBytes: number;
}

const utf8 = (t: string) => Buffer.from(t, 'utf8');

function fastKind(type: DorisType, cls: string, format: string): { f: number; limit: number } {
  switch (type.kind) {
    case 'char':
    case 'varchar':
    case 'string':
      return { f: F_STRING, limit: type.kind === 'string' ? 0 : type.length! };
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint': {
      if (cls !== 'raw') return { f: F_SLOW, limit: 0 };
      const max =
        type.kind === 'tinyint' ? 127 : type.kind === 'smallint' ? 32767 : type.kind === 'int' ? 2147483647 : 0;
      return { f: F_INT, limit: max };
    }
    case 'float':
    case 'double':
      return { f: cls === 'raw' ? F_FLOAT : F_SLOW, limit: 0 };
    case 'boolean':
      return { f: cls === 'raw' ? F_BOOL : F_SLOW, limit: 0 };
    case 'date':
    case 'datetime':
    case 'timestamptz':
      return { f: F_DATETIME, limit: type.scale ?? 0 };
    case 'json':
    case 'variant':
      return { f: format === 'json' && cls === 'json' ? F_JSON : F_SLOW, limit: 0 };
    case 'decimal':
      // written as quoted digits in both formats (`"1.5"`)
      return { f: cls === 'string' ? F_DECIMAL : F_SLOW, limit: type.scale ?? 0 };
    default:
      return { f: F_SLOW, limit: 0 };
  }
}

/** Copies value[a, b) to dst at p; returns the new position. */
function flushRun(value: Uint8Array, a: number, b: number, dst: Uint8Array, p: number): number {
  if (b - a > 32) dst.set(value.subarray(a, b), p);
  else for (let q = a; q < b; q++) dst[p + q - a] = value[q]!;
  return p + b - a;
}

function putBytes(out: RowBuffer, src: Uint8Array): void {
  const n = src.length;
  out.ensure(n);
  const dst = out.buf;
  let p = out.pos;
  for (let k = 0; k < n; k++) dst[p++] = src[k]!;
  out.pos = p;
}

export interface MapperOptions {
  /** Zero value of DATE columns (`schema.zero_date`); DATETIME columns get it with 00:00:00. */
  zeroDate: string;
}

export interface ConversionTally {
  field: string;
  fromType: string;
  toType: string;
  count: number;
}

export interface MapStatsSnapshot {
  parseErrors: number;
  missing: Array<{ field: string; count: number }>;
  conversions: ConversionTally[];
}

/** Thrown by a converter when a value of the right type does not fit the column: the message is dead-lettered. */
class DoesNotFit extends Error {}

/** Returned by a converter when the value cannot be converted losslessly: zero value + counted error. */
const FAIL = Symbol('conversion failed');
type Converted = string | typeof FAIL;
type Converter = (s: string, kind: number, a: number, b: number) => Converted;

/** Types a Stream Load cannot fill from a JSON field without a `columns` expression (hll_hash, to_bitmap, ...). */
const UNLOADABLE = new Set(['hll', 'bitmap', 'quantile_state', 'agg_state']);

const NESTED_KINDS = new Set(['json', 'variant', 'array', 'map', 'struct']);

const NUMERIC_TEXT_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function normalizeNumericText(text: string): string | null {
  if (isJsonNumber(text)) return text;
  if (!NUMERIC_TEXT_RE.test(text)) return null;
  return formatDecimal(decimalParts(text[0] === '+' ? text.slice(1) : text));
}

function stringContent(s: string, kind: number, a: number, b: number): string {
  return kind === T_STRING ? s.slice(a + 1, b - 1) : (JSON.parse(s.slice(a, b)) as string);
}

/**
 * The content of a string with escapes, for a column that stores it. A lone surrogate escape (`\ud800`
 * not followed by a low one, or a lone `\udc00`) decodes to a UTF-16 unit that has no UTF-8 form:
 * writing it would put U+FFFD in its place, so the message is dead-lettered instead. Only escapes can
 * make one (raw UTF-8 bytes of a surrogate are invalid UTF-8, refused before).
 */
function unescapedText(name: string, s: string, a: number, b: number): string {
  return wellFormed(name, JSON.parse(s.slice(a, b)) as string);
}

/** `t` when it has no unpaired surrogate; else throws DoesNotFit naming the field and the escape. */
function wellFormed(name: string, t: string): string {
  // native, and immediate for a one-byte string (no surrogates possible)
  if (t.isWellFormed()) return t;
  throw new DoesNotFit(
    `field "${name}": string has a lone UTF-16 surrogate escape ${loneSurrogate(t)}, which has no UTF-8 form`,
  );
}

/** The first unpaired surrogate in `t`, spelled as a JSON escape. */
function loneSurrogate(t: string): string {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    const d = t.charCodeAt(i + 1);
    if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) i++;
    else return `\\u${c.toString(16)}`;
  }
  return '';
}

/** JSON text on one line: a raw nested value may hold newlines as whitespace, which would break JSON lines. */
function oneLine(json: string): string {
  return json.indexOf('\n') < 0 && json.indexOf('\r') < 0 ? json : json.replace(/[\r\n]+/g, ' ');
}

/** Text of any token for a string column: strings decoded, numbers as written, objects/arrays as JSON text. */
function asText(name: string, s: string, kind: number, a: number, b: number): string {
  switch (kind) {
    case T_STRING:
      return s.slice(a + 1, b - 1);
    case T_STRING_ESC:
      return unescapedText(name, s, a, b);
    case T_TRUE:
      return 'true';
    case T_FALSE:
      return 'false';
    case T_OBJECT:
    case T_ARRAY:
      return oneLine(s.slice(a, b));
    default:
      return s.slice(a, b);
  }
}

/** Numeric text of a number token or a numeric string; booleans as 1/0; else null. */
function numericText(s: string, kind: number, a: number, b: number): string | null {
  if (kind === T_NUMBER) return s.slice(a, b);
  if (kind === T_STRING || kind === T_STRING_ESC) return normalizeNumericText(stringContent(s, kind, a, b).trim());
  if (kind === T_TRUE) return '1';
  if (kind === T_FALSE) return '0';
  return null;
}

/**
 * A string holding JSON object/array text (double-encoded JSON, common from producers) → that text.
 * Its content is written, so an escape there decoding to a lone surrogate dead-letters the message
 * (wellFormed); one inside the embedded text (`\\ud800`) stays an escape, as in an object sent as is.
 */
function embeddedJson(name: string, s: string, kind: number, a: number, b: number, open: string): string | null {
  if (kind !== T_STRING && kind !== T_STRING_ESC) return null;
  const text = stringContent(s, kind, a, b).trim();
  if (!open.includes(text[0] ?? '') || !isValidJson(text)) return null;
  return oneLine(kind === T_STRING_ESC ? wellFormed(name, text) : text);
}

function integerConverter(name: string, type: DorisType): Converter {
  const kind = type.kind;
  const smallMax = kind === 'tinyint' ? 127 : kind === 'smallint' ? 32767 : kind === 'int' ? 2147483647 : Infinity;
  return (s, k, a, b) => {
    if (k === T_NUMBER && b - a <= 15) {
      // Fast path: a plain integer token of at most 15 characters is exact in a double.
      let plain = true;
      for (let i = a; i < b; i++) {
        const c = s.charCodeAt(i);
        if (c === 0x2e || c === 0x65 || c === 0x45) {
          plain = false;
          break;
        }
      }
      if (plain) {
        // -0 is 0: Doris gets the canonical digits, as from the general path below
        if (s.charCodeAt(a) === 0x2d && b - a === 2 && s.charCodeAt(a + 1) === 0x30) return '0';
        const text = s.slice(a, b);
        if (smallMax !== Infinity) {
          const n = Number(text);
          if (n > smallMax || n < -smallMax - 1) {
            throw new DoesNotFit(`field "${name}": ${text} is out of range for ${kind} (${integerRange(kind)})`);
          }
        }
        return text;
      }
    }
    const text = numericText(s, k, a, b);
    if (text === null) return FAIL;
    const p = decimalParts(text);
    if (p.frac !== '') return FAIL; // a fraction is not an integer: not lossless
    if (!integerFits(kind, p.int === '' ? '0' : p.int, p.neg)) {
      throw new DoesNotFit(`field "${name}": ${text} is out of range for ${kind} (${integerRange(kind)})`);
    }
    return formatDecimal(p);
  };
}

const FLOAT_MAX = 3.4028234663852886e38;

function floatConverter(name: string, type: DorisType): Converter {
  const max = type.kind === 'float' ? FLOAT_MAX : Number.MAX_VALUE;
  return (s, k, a, b) => {
    const text = numericText(s, k, a, b);
    if (text === null) return FAIL;
    if (text.length > 38 || text.includes('e') || text.includes('E')) {
      const n = Math.abs(Number(text));
      if (!(n <= max)) throw new DoesNotFit(`field "${name}": ${text} is out of range for ${type.kind}`);
    }
    return text;
  };
}

function decimalConverter(name: string, type: DorisType): Converter {
  const precision = type.precision!;
  const scale = type.scale!;
  const spelled = formatDorisType(type);
  return (s, k, a, b) => {
    const text = numericText(s, k, a, b);
    if (text === null) return FAIL;
    const p = decimalParts(text);
    if (p.frac.length > scale) {
      throw new DoesNotFit(`field "${name}": ${text} has more than ${scale} decimal places for ${spelled}`);
    }
    if (p.int.length > precision - scale) {
      throw new DoesNotFit(`field "${name}": ${text} has more than ${precision - scale} integer digits for ${spelled}`);
    }
    return formatDecimal(p);
  };
}

const booleanConverter: Converter = (s, k, a, b) => {
  if (k === T_TRUE) return 'true';
  if (k === T_FALSE) return 'false';
  const text = numericText(s, k, a, b);
  if (text !== null) {
    const p = decimalParts(text);
    if (p.frac === '' && (p.int === '' || p.int === '1') && !p.neg) return p.int === '' ? 'false' : 'true';
    return FAIL;
  }
  if (k === T_STRING || k === T_STRING_ESC) {
    const t = stringContent(s, k, a, b).trim().toLowerCase();
    if (t === 'true') return 'true';
    if (t === 'false') return 'false';
  }
  return FAIL;
};

function dateTimeConverter(name: string, type: DorisType): Converter {
  const scale = type.scale ?? 0;
  const isDate = type.kind === 'date';
  const spelled = formatDorisType(type);
  return (s, k, a, b) => {
    if (k !== T_STRING && k !== T_STRING_ESC) return FAIL;
    const text = stringContent(s, k, a, b).trim();
    if (isCanonicalDateTime(text, isDate, scale)) return text;
    const d = parseDateTime(text);
    if (d === null) return FAIL;
    if (isDate) {
      // Only a midnight with no zone converts to a date without losing anything.
      if ((d.time !== '' && d.time !== '00:00:00') || d.frac !== '' || d.zone !== '') return FAIL;
      return d.date;
    }
    if (d.frac.length > scale) {
      throw new DoesNotFit(`field "${name}": ${text} has more than ${scale} fractional-second digits for ${spelled}`);
    }
    return `${d.date} ${d.time || '00:00:00'}${d.frac === '' ? '' : `.${d.frac}`}${d.zone}`;
  };
}

function stringConverter(name: string, type: DorisType): Converter {
  const limit = type.kind === 'char' || type.kind === 'varchar' ? type.length! : 0;
  const spelled = formatDorisType(type);
  if (limit === 0) return (s, k, a, b) => asText(name, s, k, a, b);
  return (s, k, a, b) => {
    const text = asText(name, s, k, a, b);
    // UTF-16 length × 3 bounds the UTF-8 length: only long strings need the exact byte count.
    if (text.length * 3 > limit) {
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > limit) throw new DoesNotFit(`field "${name}": ${bytes} bytes exceed ${spelled}`);
    }
    return text;
  };
}

/** An object/array, or a string that is not JSON text, is written as the message spells it: escapes (`\ud800` too) and all. */
function jsonConverter(name: string): Converter {
  return (s, k, a, b) => {
    if (k === T_OBJECT || k === T_ARRAY) return oneLine(s.slice(a, b));
    if (k === T_STRING || k === T_STRING_ESC) return embeddedJson(name, s, k, a, b, '{[') ?? s.slice(a, b);
    return s.slice(a, b);
  };
}

function nestedConverter(name: string, open: string, tokenKind: number): Converter {
  return (s, k, a, b) => {
    if (k === tokenKind) return oneLine(s.slice(a, b));
    return embeddedJson(name, s, k, a, b, open) ?? FAIL;
  };
}

function patternConverter(valid: (t: string) => boolean): Converter {
  return (s, k, a, b) => {
    if (k !== T_STRING && k !== T_STRING_ESC) return FAIL;
    const t = stringContent(s, k, a, b).trim();
    return valid(t) ? t : FAIL;
  };
}

function converterFor(c: Column): Converter {
  const t = c.type;
  switch (t.kind) {
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint':
    case 'largeint':
      return integerConverter(c.name, t);
    case 'float':
    case 'double':
      return floatConverter(c.name, t);
    case 'decimal':
      return decimalConverter(c.name, t);
    case 'boolean':
      return booleanConverter;
    case 'date':
    case 'datetime':
    case 'timestamptz':
      return dateTimeConverter(c.name, t);
    case 'time':
      return patternConverter(isTime);
    case 'char':
    case 'varchar':
    case 'string':
    case 'varbinary':
      return stringConverter(c.name, t);
    case 'json':
    case 'variant':
      return jsonConverter(c.name);
    case 'array':
      return nestedConverter(c.name, '[', T_ARRAY);
    case 'map':
    case 'struct':
      return nestedConverter(c.name, '{', T_OBJECT);
    case 'ipv4':
      return patternConverter(isIpv4);
    case 'ipv6':
      return patternConverter(isIpv6);
    default:
      throw new Error(`column ${c.name}: type ${t.kind} cannot be loaded from JSON`);
  }
}

/**
 * A plain integer token (digits, optional minus) within ±max, or within bigint when max is 0 (up to
 * 18 digits always fit; 19 are compared digit by digit); otherwise the general path decides.
 */
function plainInteger(src: Uint8Array, a: number, b: number, max: number): boolean {
  let k = a;
  const neg = src[k] === 0x2d;
  if (neg) k++;
  const digits = b - k;
  if (digits > (max === 0 ? 19 : 10)) return false;
  let n = 0;
  for (let q = k; q < b; q++) {
    const c = src[q]!;
    if (c < 0x30 || c > 0x39) return false;
    n = n * 10 + (c - 0x30);
  }
  if (neg && n === 0) return false; // -0: the converter writes 0
  if (max !== 0) return neg ? n <= max + 1 : n <= max;
  if (digits < 19) return true;
  const lim = neg ? INT64_MIN_DIGITS : INT64_MAX_DIGITS;
  for (let q = 0; q < 19; q++) {
    const c = src[k + q]!;
    const l = lim.charCodeAt(q);
    if (c !== l) return c < l;
  }
  return true;
}

const INT64_MAX_DIGITS = '9223372036854775807';
const INT64_MIN_DIGITS = '9223372036854775808';

function hasExponent(src: Uint8Array, a: number, b: number): boolean {
  for (let k = a; k < b; k++) if ((src[k]! | 0x20) === 0x65) return true;
  return false;
}

function hasLineBreak(src: Uint8Array, a: number, b: number): boolean {
  for (let k = a; k < b; k++) if (src[k] === 0x0a || src[k] === 0x0d) return true;
  return false;
}

/** The zero value of a column type (seed rule: 0, false, 0.0, ""; dates get `schema.zero_date`). */
export function zeroValue(type: DorisType, zeroDate: string): string {
  switch (type.kind) {
    case 'boolean':
      return 'false';
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint':
    case 'largeint':
    case 'float':
    case 'double':
    case 'decimal':
      return '0';
    case 'date':
      return zeroDate;
    case 'datetime':
    case 'timestamptz':
      return `${zeroDate} 00:00:00`;
    case 'time':
      return '00:00:00';
    case 'json':
    case 'variant':
    case 'map':
    case 'struct':
      return '{}';
    case 'array':
      return '[]';
    case 'ipv4':
      return '0.0.0.0';
    case 'ipv6':
      return '::';
    default:
      return '';
  }
}

/** Why a column is left out of the load, or undefined when it is loaded. */
export function unloadableReason(c: Column): string | undefined {
  if (UNLOADABLE.has(c.type.kind)) return `${c.type.kind} columns need a Stream Load columns expression`;
  if (/\bGENERATED\b/i.test(c.extra)) return 'generated column (Doris computes it)';
  return undefined;
}

/**
 * Maps messages for one table schema. Not reentrant: one instance per pipeline, used synchronously.
 * Build a new one when the schema changes (`schema.hash` differs).
 */
export class Mapper {
  /** The loaded columns, in table order: the row values and the encoders follow this list. */
  readonly columns: readonly Column[];
  /** Columns the sinker leaves to Doris, with the reason (log them at start-up). */
  readonly skipped: ReadonlyArray<{ name: string; reason: string }>;
  readonly schemaHash: string;
  /** What it was built from (a worker thread builds its own copy from these). */
  readonly schema: TableSchema;
  readonly options: MapperOptions;
  private readonly extractor: FieldExtractor;
  private readonly converters: Converter[];
  private readonly zeros: string[];
  private readonly nullable: boolean[];
  /** Auto-increment columns: missing or null → NULL, and Doris generates the value. */
  private readonly autoIncrement: boolean[];
  private readonly toTypes: string[];
  /** 1 for json/variant/array/map/struct columns, whose text is JSON (never `clean`). */
  private readonly nested: Uint8Array;
  private readonly missing: Uint32Array;
  private readonly conversions = new Map<string, ConversionTally>();
  private parseErrors = 0;

  constructor(schema: TableSchema, options: MapperOptions) {
    const loaded: Column[] = [];
    const skipped: Array<{ name: string; reason: string }> = [];
    for (const c of schema.columns) {
      const why = unloadableReason(c);
      if (why) skipped.push({ name: c.name, reason: why });
      else loaded.push(c);
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(options.zeroDate))
      throw new Error(`zero date "${options.zeroDate}" is not YYYY-MM-DD`);
    this.columns = loaded;
    this.skipped = skipped;
    this.schemaHash = schema.hash;
    this.schema = schema;
    this.options = options;
    this.extractor = new FieldExtractor(loaded.map((c) => c.name));
    this.converters = loaded.map(converterFor);
    this.zeros = loaded.map((c) => zeroValue(c.type, options.zeroDate));
    this.nullable = loaded.map((c) => c.nullable);
    this.autoIncrement = loaded.map((c) => isGeneratedColumn(c) && /AUTO_INCREMENT/i.test(c.extra));
    this.toTypes = loaded.map((c) => formatDorisType(c.type));
    this.nested = Uint8Array.from(loaded, (c) => (NESTED_KINDS.has(c.type.kind) ? 1 : 0));
    this.missing = new Uint32Array(loaded.length);
  }

  map(value: Uint8Array | string | null | undefined): MapResult {
    if (value === null || value === undefined) {
      this.parseErrors++;
      return { ok: false, code: 'invalid_json', reason: 'empty message (no value)' };
    }
    let s: string;
    let buf: Buffer;
    if (typeof value === 'string') {
      s = value;
      buf = Buffer.from(value, 'utf8');
    } else {
      buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      s = buf.toString('utf8');
      // The decoder replaces bad bytes with U+FFFD; only then is the (fast, native) full check needed.
      if (s.includes('\uFFFD') && !isUtf8(buf)) {
        this.parseErrors++;
        return { ok: false, code: 'invalid_utf8', reason: 'message is not valid UTF-8' };
      }
    }
    const ex = this.extractor;
    try {
      ex.scan(buf, s);
    } catch (err) {
      this.parseErrors++;
      if (err instanceof NotAnObjectError) return { ok: false, code: 'not_object', reason: err.message };
      if (err instanceof JsonSyntaxError) return { ok: false, code: 'invalid_json', reason: err.message };
      throw err;
    }
    const n = this.converters.length;
    const values: RowValues = new Array(n);
    const clean = new Uint8Array(n);
    const nested = this.nested;
    const kinds = ex.kinds;
    const starts = ex.starts;
    const ends = ex.ends;
    for (let i = 0; i < n; i++) {
      if (!ex.present(i)) {
        clean[i] = 1;
        if (this.autoIncrement[i]) values[i] = null;
        else {
          this.missing[i]!++;
          values[i] = this.zeros[i]!;
        }
        continue;
      }
      const k = kinds[i]!;
      if (k === T_NULL) {
        clean[i] = 1;
        if (this.nullable[i] || this.autoIncrement[i]) values[i] = null;
        else {
          this.countConversion(i, k);
          values[i] = this.zeros[i]!;
        }
        continue;
      }
      let v: Converted;
      try {
        v = this.converters[i]!(s, k, starts[i]!, ends[i]!);
      } catch (err) {
        if (err instanceof DoesNotFit) return { ok: false, code: 'out_of_range', reason: err.message };
        throw err;
      }
      if (v === FAIL) {
        this.countConversion(i, k);
        values[i] = this.zeros[i]!;
        clean[i] = 1;
      } else {
        values[i] = v;
        // Escaped strings decode to anything; objects/arrays and JSON-typed columns hold quotes.
        if (k !== T_STRING_ESC && k !== T_OBJECT && k !== T_ARRAY && nested[i] === 0) clean[i] = 1;
      }
    }
    return { ok: true, values, clean };
  }

  /** The byte layout mapInto needs for `encoder` (build once per mapper and encoder). */
  planFor(encoder: RowEncoder): RowPlan {
    const n = this.columns.length;
    const layout = encoder.layout;
    const fast = new Uint8Array(n);
    const limit = new Float64Array(n);
    const isDate = new Uint8Array(n);
    const precision = new Uint8Array(n);
    this.columns.forEach((c, i) => {
      const k = fastKind(c.type, layout.classes[i]!, encoder.format);
      fast[i] = k.f;
      limit[i] = k.limit;
      isDate[i] = c.type.kind === 'date' ? 1 : 0;
      precision[i] = c.type.kind === 'decimal' ? (c.type.precision ?? 0) : 0;
    });
    const prefixes = layout.prefixes.map(utf8);
    const zeros = this.zeros.map((z, i) => utf8(encoder.encodeValue(i, z, true)));
    const nulls = this.columns.map((_, i) => utf8(encoder.encodeValue(i, null, true)));
    const close = utf8(layout.close);
    let fixedBytes = close.length;
    for (let i = 0; i < n; i++) fixedBytes += prefixes[i]!.length + Math.max(zeros[i]!.length, nulls[i]!.length);
    // Runs need each prefix to be a separator byte then the JSON key as a message spells it. A key
    // of the prefix's length is then spelled byte for byte as the prefix has it, except where the
    // prefix holds a \u escape (a control character in the name): `\u001F` is as long as `\u001f`.
    // Such names turn runs off (no real table has them; the fuzz found it).
    const runs =
      encoder.format === 'json' &&
      this.columns.every(
        (c, i) =>
          layout.prefixes[i] === `${i === 0 ? '{' : ','}${JSON.stringify(c.name)}:` &&
          !JSON.stringify(c.name).includes('\\u'),
      );
    return {
      encoder,
      prefixes,
      close,
      empty: utf8(layout.empty),
      zeros,
      nulls,
      fast,
      limit,
      precision,
      isDate,
      fixedBytes,
      runs,
    };
  }

  /**
   * map() and RowEncoder.encode() in one step, from bytes to bytes: appends the message's encoded row
   * to `out` (ending the row with out.endRow()) and returns undefined, or returns why the message
   * goes to the DLQ (nothing appended). Values that need no conversion (strings without escapes,
   * plain integers, canonical dates, ...) are copied as the message's bytes, never decoded: the
   * bytes written are the same as encode(map(value)) gives. Statistics are counted as map() does.
   */
  mapInto(value: Uint8Array | null | undefined, plan: RowPlan, out: RowBuffer): MapFailure | undefined {
    if (value === null || value === undefined) {
      this.parseErrors++;
      return { ok: false, code: 'invalid_json', reason: 'empty message (no value)' };
    }
    const ex = this.extractor;
    try {
      ex.scan(value);
    } catch (err) {
      this.parseErrors++;
      // the same order of checks as map(): bad UTF-8 first
      if (!isUtf8(value)) return { ok: false, code: 'invalid_utf8', reason: 'message is not valid UTF-8' };
      if (err instanceof NotAnObjectError) return { ok: false, code: 'not_object', reason: err.message };
      if (err instanceof JsonSyntaxError) return { ok: false, code: 'invalid_json', reason: err.message };
      throw err;
    }
    if (ex.nonAscii && !isUtf8(value)) {
      this.parseErrors++;
      return { ok: false, code: 'invalid_utf8', reason: 'message is not valid UTF-8' };
    }
    const n = this.converters.length;
    const rowStart = out.pos;
    if (n === 0) {
      putBytes(out, plan.empty);
      out.endRow();
      return undefined;
    }
    // Room for the whole row: fixed parts plus copied values (never more than the message); only
    // the general path below writes more, and it makes its own room.
    out.ensure(plan.fixedBytes + value.length);
    let dst = out.buf;
    let p = out.pos;
    const kinds = ex.kinds;
    const ks = ex.keyStarts;
    const bs = ex.byteStarts;
    const be = ex.byteEnds;
    const fast = plan.fast;
    const limit = plan.limit;
    const prefixes = plan.prefixes;
    const runs = plan.runs;
    // JSON lines: consecutive fields written in the message exactly as the row spells them
    // (`,"name":value` with the same separator, no whitespace) are copied as one run of bytes.
    let runStart = -1;
    let runEnd = -1;
    for (let i = 0; i < n; i++) {
      const pre = prefixes[i]!;
      let put: Uint8Array | undefined;
      if (!ex.present(i)) {
        if (this.autoIncrement[i]) put = plan.nulls[i]!;
        else {
          this.missing[i]!++;
          put = plan.zeros[i]!;
        }
      } else {
        const k = kinds[i]!;
        const a = bs[i]!;
        const b = be[i]!;
        let copy = false;
        switch (fast[i]) {
          case F_STRING:
            // no escapes: the token (quotes included) is the encoded value, its content the exact UTF-8
            copy = k === T_STRING && (limit[i] === 0 || b - a - 2 <= limit[i]!);
            break;
          case F_INT:
            copy = k === T_NUMBER && plainInteger(value, a, b, limit[i]!);
            break;
          case F_FLOAT:
            copy = k === T_NUMBER && b - a <= 38 && !hasExponent(value, a, b);
            break;
          case F_BOOL:
            copy = k === T_TRUE || k === T_FALSE;
            break;
          case F_DATETIME:
            copy = k === T_STRING && isCanonicalDateTimeBytes(value, a + 1, b - 1, plan.isDate[i] === 1, limit[i]!);
            break;
          case F_JSON:
            copy = (k === T_OBJECT || k === T_ARRAY) && !hasLineBreak(value, a, b);
            break;
          case F_DECIMAL:
            // canonical digits that fit: the value as written, in the quotes the row puts around it
            if (k === T_NUMBER && isCanonicalDecimalBytes(value, a, b, plan.precision[i]!, limit[i]!)) {
              if (runStart >= 0) {
                p = flushRun(value, runStart, runEnd, dst, p);
                runStart = -1;
              }
              for (let q = 0; q < pre.length; q++) dst[p++] = pre[q]!;
              dst[p++] = 0x22;
              for (let q = a; q < b; q++) dst[p++] = value[q]!;
              dst[p++] = 0x22;
              continue;
            }
            break;
        }
        if (copy) {
          const key = ks[i]!;
          // `"name":` exactly (a key spelled otherwise, escaped or spaced, is longer)
          if (runs && a - key === pre.length - 1) {
            if (runStart >= 0 && key === runEnd + 1 && value[runEnd] === pre[0]) {
              runEnd = b;
              continue;
            }
            if (runStart >= 0) p = flushRun(value, runStart, runEnd, dst, p);
            dst[p++] = pre[0]!;
            runStart = key;
            runEnd = b;
            continue;
          }
          if (runStart >= 0) {
            p = flushRun(value, runStart, runEnd, dst, p);
            runStart = -1;
          }
          for (let q = 0; q < pre.length; q++) dst[p++] = pre[q]!;
          if (b - a > 48) {
            dst.set(value.subarray(a, b), p);
            p += b - a;
          } else for (let q = a; q < b; q++) dst[p++] = value[q]!;
          continue;
        }
        if (runStart >= 0) {
          p = flushRun(value, runStart, runEnd, dst, p);
          runStart = -1;
        }
        for (let q = 0; q < pre.length; q++) dst[p++] = pre[q]!;
        if (k === T_NULL) {
          if (this.nullable[i] || this.autoIncrement[i]) put = plan.nulls[i]!;
          else {
            this.countConversion(i, k);
            put = plan.zeros[i]!;
          }
        } else {
          // The general path: decode the token, convert and encode as map() + encode() do.
          const src = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
          const text = src.toString('utf8', a, b);
          let v: Converted;
          try {
            v = this.converters[i]!(text, k, 0, text.length);
          } catch (err) {
            if (err instanceof DoesNotFit) {
              out.pos = rowStart;
              return { ok: false, code: 'out_of_range', reason: err.message };
            }
            throw err;
          }
          if (v === FAIL) {
            this.countConversion(i, k);
            put = plan.zeros[i]!;
          } else {
            const clean = k !== T_STRING_ESC && k !== T_OBJECT && k !== T_ARRAY && this.nested[i] === 0;
            out.pos = p;
            out.writeString(plan.encoder.encodeValue(i, v, clean));
            // room again for the rest of the row
            out.ensure(plan.fixedBytes + value.length);
            dst = out.buf;
            p = out.pos;
            continue;
          }
        }
        for (let q = 0; q < put.length; q++) dst[p++] = put[q]!;
        continue;
      }
      if (runStart >= 0) {
        p = flushRun(value, runStart, runEnd, dst, p);
        runStart = -1;
      }
      for (let q = 0; q < pre.length; q++) dst[p++] = pre[q]!;
      for (let q = 0; q < put.length; q++) dst[p++] = put[q]!;
    }
    if (runStart >= 0) p = flushRun(value, runStart, runEnd, dst, p);
    const close = plan.close;
    for (let k = 0; k < close.length; k++) dst[p++] = close[k]!;
    out.pos = p;
    out.endRow();
    return undefined;
  }

  private countConversion(i: number, kind: number): void {
    const from = tokenTypeName(kind);
    const key = `${i}:${from}`;
    const t = this.conversions.get(key);
    if (t) t.count++;
    else
      this.conversions.set(key, { field: this.columns[i]!.name, fromType: from, toType: this.toTypes[i]!, count: 1 });
  }

  /** Counts since the last drain (for field_missing_total, field_type_conversion_errors_total, json_parse_errors_total). */
  /** Adds counts another mapper of the same schema took (a worker thread's drainStats()). */
  absorbStats(s: MapStatsSnapshot): void {
    this.parseErrors += s.parseErrors;
    for (const m of s.missing) {
      const i = this.columns.findIndex((c) => c.name === m.field);
      if (i >= 0) this.missing[i]! += m.count;
    }
    for (const c of s.conversions) {
      const i = this.columns.findIndex((col) => col.name === c.field);
      const key = `${i}:${c.fromType}`;
      const t = this.conversions.get(key);
      if (t) t.count += c.count;
      else this.conversions.set(key, { ...c });
    }
  }

  drainStats(): MapStatsSnapshot {
    const missing: MapStatsSnapshot['missing'] = [];
    for (let i = 0; i < this.missing.length; i++) {
      if (this.missing[i]! > 0) missing.push({ field: this.columns[i]!.name, count: this.missing[i]! });
    }
    this.missing.fill(0);
    const conversions = [...this.conversions.values()];
    this.conversions.clear();
    const parseErrors = this.parseErrors;
    this.parseErrors = 0;
    return { parseErrors, missing, conversions };
  }
}
