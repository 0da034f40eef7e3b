// Single-pass JSON field extractor: scans a top-level object once over its UTF-8 bytes, validating all of
// it (invalid JSON must go to the DLQ), and records where the values of the wanted keys start and end,
// without building any objects. Numbers stay raw text, so int64/largeint/decimal digits are never
// rounded through a double, which JSON.parse would do. Like the seed's sonic.Get, but one pass for all
// columns. Bytes, not the decoded string, are scanned because typed-array reads are several times
// faster than charCodeAt; the decoded string is only sliced for the wanted values, so positions are
// kept in UTF-16 units of it (non-ASCII bytes can occur only inside strings, where they are counted).
import { Buffer } from 'node:buffer';

export const T_STRING = 1; // no escapes: the value is the text between the quotes
export const T_STRING_ESC = 2; // has escapes: decode with JSON.parse of the token
export const T_NUMBER = 3;
export const T_TRUE = 4;
export const T_FALSE = 5;
export const T_NULL = 6;
export const T_OBJECT = 7;
export const T_ARRAY = 8;

/** JSON type name of a token kind, as counted in conversion-error metrics. */
export function tokenTypeName(kind: number): string {
  switch (kind) {
    case T_STRING:
    case T_STRING_ESC:
      return 'string';
    case T_NUMBER:
      return 'number';
    case T_TRUE:
    case T_FALSE:
      return 'boolean';
    case T_NULL:
      return 'null';
    case T_OBJECT:
      return 'object';
    default:
      return 'array';
  }
}

export class JsonSyntaxError extends Error {
  /** Byte offset in the message. */
  readonly position: number;
  constructor(what: string, position: number) {
    super(`invalid JSON at byte ${position}: ${what}`);
    this.position = position;
  }
}

export class NotAnObjectError extends Error {}

const MAX_DEPTH = 512;

function describeByte(b: Uint8Array, i: number): string {
  if (i >= b.length) return 'end of input';
  const c = b[i]!;
  if (c < 0x20) return `control character U+${c.toString(16).padStart(4, '0').toUpperCase()}`;
  if (c >= 0x80) return `byte 0x${c.toString(16)}`;
  return `"${String.fromCharCode(c)}"`;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * The scanning state for one message. Module-level so the hot functions take plain arguments; the
 * extractor is synchronous, so one message is scanned at a time.
 */
let buf: Uint8Array = new Uint8Array(0);
let len = 0;
/** UTF-16 offset = byte offset − adj (grows with each multi-byte UTF-8 sequence seen). */
let adj = 0;
/** Set by scanString: whether the string held escapes. */
let escaped = false;
/** Set by scanValue: the kind of the value scanned. */
let lastKind = 0;
/** Set when a string held a byte ≥ 0x80 (the caller then checks the message is valid UTF-8). */
let highBytes = false;

function skipWs(i: number): number {
  const b = buf;
  let c = b[i];
  // most calls meet no whitespace at all (compact JSON)
  if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
  do c = b[++i];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09);
  return i;
}

/** 1 for bytes that end the fast run inside a string: controls, `"`, `\\`, and non-ASCII (counted for offsets). */
const STOP = new Uint8Array(256);
for (let c = 0; c < 256; c++) STOP[c] = c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80 ? 1 : 0;

/** Scans a string from its opening quote at `i`; returns the index after the closing quote. */
function scanString(i: number): number {
  escaped = false;
  const b = buf;
  i++;
  for (;;) {
    while (STOP[b[i]!] === 0) i++;
    const c = b[i]!;
    if (c === 0x22) return i + 1;
    if (c >= 0x80) {
      highBytes = true;
      // continuation bytes add no UTF-16 unit; a 4-byte sequence yields two (a surrogate pair)
      if ((c & 0xc0) === 0x80) adj++;
      else if (c >= 0xf0) adj--;
      i++;
      continue;
    }
    if (c === 0x5c) {
      escaped = true;
      const e = b[i + 1];
      if (e === 0x75) {
        if (!(isHex(b[i + 2]!) && isHex(b[i + 3]!) && isHex(b[i + 4]!) && isHex(b[i + 5]!))) {
          throw new JsonSyntaxError('bad \\u escape in string', i);
        }
        i += 6;
        continue;
      }
      // " \ / b f n r t
      if (
        e === 0x22 ||
        e === 0x5c ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      ) {
        i += 2;
        continue;
      }
      throw new JsonSyntaxError(`bad escape ${describeByte(b, i + 1)} in string`, i);
    }
    if (i >= len) throw new JsonSyntaxError('unterminated string', i);
    throw new JsonSyntaxError(`${describeByte(b, i)} inside a string`, i);
  }
}

/** Scans a number per the JSON grammar; returns the index after it. */
function scanNumber(i: number): number {
  const b = buf;
  const start = i;
  let c = b[i]!;
  if (c === 0x2d) c = b[++i]!;
  if (c === 0x30) {
    c = b[++i]!;
  } else if (c >= 0x31 && c <= 0x39) {
    do c = b[++i]!;
    while (isDigit(c));
  } else {
    throw new JsonSyntaxError(`bad number, expected a digit but found ${describeByte(b, i)}`, start);
  }
  if (c === 0x2e) {
    c = b[++i]!;
    if (!isDigit(c)) throw new JsonSyntaxError('bad number, expected a digit after "."', i);
    do c = b[++i]!;
    while (isDigit(c));
  }
  if (c === 0x65 || c === 0x45) {
    c = b[++i]!;
    if (c === 0x2b || c === 0x2d) c = b[++i]!;
    if (!isDigit(c)) throw new JsonSyntaxError('bad number, expected a digit in the exponent', i);
    do c = b[++i]!;
    while (isDigit(c));
  }
  return i;
}

function scanLiteral(i: number, word: string): number {
  for (let k = 0; k < word.length; k++) {
    if (buf[i + k] !== word.charCodeAt(k)) throw new JsonSyntaxError(`unexpected ${describeByte(buf, i)}`, i);
  }
  return i + word.length;
}

/** Scans any JSON value at `i` (no leading whitespace); returns the index after it and sets lastKind. */
function scanValue(i: number, depth: number): number {
  const c = buf[i]!;
  switch (c) {
    case 0x22: {
      const end = scanString(i);
      lastKind = escaped ? T_STRING_ESC : T_STRING;
      return end;
    }
    case 0x7b:
      return scanObject(i, depth + 1);
    case 0x5b:
      return scanArray(i, depth + 1);
    case 0x74:
      lastKind = T_TRUE;
      return scanLiteral(i, 'true');
    case 0x66:
      lastKind = T_FALSE;
      return scanLiteral(i, 'false');
    case 0x6e:
      lastKind = T_NULL;
      return scanLiteral(i, 'null');
    default:
      if (c === 0x2d || isDigit(c)) {
        lastKind = T_NUMBER;
        return scanNumber(i);
      }
      throw new JsonSyntaxError(`unexpected ${describeByte(buf, i)}, expected a value`, i);
  }
}

function scanObject(i: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new JsonSyntaxError(`nesting deeper than ${MAX_DEPTH}`, i);
  i = skipWs(i + 1);
  if (buf[i] === 0x7d) {
    lastKind = T_OBJECT;
    return i + 1;
  }
  for (;;) {
    if (buf[i] !== 0x22) throw new JsonSyntaxError(`expected a key string but found ${describeByte(buf, i)}`, i);
    i = skipWs(scanString(i));
    if (buf[i] !== 0x3a) throw new JsonSyntaxError(`expected ":" after a key but found ${describeByte(buf, i)}`, i);
    i = skipWs(scanValue(skipWs(i + 1), depth));
    const c = buf[i];
    if (c === 0x2c) {
      i = skipWs(i + 1);
      continue;
    }
    if (c === 0x7d) {
      lastKind = T_OBJECT;
      return i + 1;
    }
    throw new JsonSyntaxError(`expected "," or "}" but found ${describeByte(buf, i)}`, i);
  }
}

function scanArray(i: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new JsonSyntaxError(`nesting deeper than ${MAX_DEPTH}`, i);
  i = skipWs(i + 1);
  if (buf[i] === 0x5d) {
    lastKind = T_ARRAY;
    return i + 1;
  }
  for (;;) {
    i = skipWs(scanValue(i, depth));
    const c = buf[i];
    if (c === 0x2c) {
      i = skipWs(i + 1);
      continue;
    }
    if (c === 0x5d) {
      lastKind = T_ARRAY;
      return i + 1;
    }
    throw new JsonSyntaxError(`expected "," or "]" but found ${describeByte(buf, i)}`, i);
  }
}

function begin(bytes: Uint8Array): void {
  buf = bytes;
  len = bytes.length;
  adj = 0;
  highBytes = false;
}

/** True when `text` is exactly one valid JSON value (surrounding whitespace allowed). */
export function isValidJson(text: string): boolean {
  const saved = buf;
  const savedLen = len;
  const savedAdj = adj;
  const savedHigh = highBytes;
  try {
    begin(Buffer.from(text, 'utf8'));
    return skipWs(scanValue(skipWs(0), 0)) === len;
  } catch {
    return false;
  } finally {
    buf = saved;
    len = savedLen;
    adj = savedAdj;
    highBytes = savedHigh;
  }
}

/**
 * Extracts the wanted top-level fields of one JSON object. Create one per schema and reuse it: the
 * result arrays are overwritten by each scan (single-threaded, synchronous use).
 */
export class FieldExtractor {
  readonly names: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly nameBytes: Uint8Array[];
  /** 1 where the name is plain (see the constructor): such a key can be compared in place. */
  private readonly plain: Uint8Array;
  /** Per wanted field: token kind, and the value's start and end (exclusive) in UTF-16 units of the text. */
  readonly kinds: Uint8Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** The same positions as byte offsets in the message, and where each field's key (its `"`) starts. */
  readonly keyStarts: Int32Array;
  readonly byteStarts: Int32Array;
  readonly byteEnds: Int32Array;
  /** Whether the last scan met non-ASCII bytes (or a BOM): only then can the message be invalid UTF-8. */
  nonAscii = false;
  /** seen[i] === generation when field i was present in the last scan. */
  private readonly seen: Uint32Array;
  private generation = 0;

  constructor(names: readonly string[]) {
    this.names = names;
    names.forEach((n, i) => {
      this.index.set(n, i);
    });
    this.nameBytes = names.map((n) => Buffer.from(n, 'utf8'));
    // Names a key spells byte for byte without escapes: printable ASCII other than `"` and `\\`.
    this.plain = Uint8Array.from(names, (n) => (/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/.test(n) ? 1 : 0));
    this.kinds = new Uint8Array(names.length);
    this.starts = new Int32Array(names.length);
    this.ends = new Int32Array(names.length);
    this.keyStarts = new Int32Array(names.length);
    this.byteStarts = new Int32Array(names.length);
    this.byteEnds = new Int32Array(names.length);
    this.seen = new Uint32Array(names.length);
  }

  present(i: number): boolean {
    return this.seen[i] === this.generation;
  }

  /** Index of the wanted column whose name is the key bytes [start, end), or -1. Tries `guess` onwards first. */
  private matchKey(start: number, end: number, guess: number): number {
    const n = this.nameBytes.length;
    const klen = end - start;
    const b = buf;
    // Producers usually write keys in column order, sometimes skipping a few (missing fields).
    const stop = Math.min(guess + 8, n);
    for (let g = guess; g < stop; g++) {
      const name = this.nameBytes[g]!;
      // names often share prefixes (extend1..extend50): reject on length and last byte first
      if (name.length !== klen || name[klen - 1] !== b[end - 1]) continue;
      let k = 0;
      while (k < klen && name[k] === b[start + k]) k++;
      if (k === klen) return g;
    }
    return -2; // not decided: look it up by name
  }

  /**
   * Scans the message `bytes`, whose UTF-8 decoding is `text` (decoded here when needed if not
   * given). Throws JsonSyntaxError (with the byte
   * position) for invalid JSON and NotAnObjectError when the top level is valid JSON but not an object.
   */
  scan(bytes: Uint8Array, text?: string): void {
    begin(bytes);
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.seen.fill(0);
      this.generation = 1;
    }
    const gen = this.generation;
    const b = bytes;
    const bom = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
    if (bom) {
      adj = 2; // the BOM's three bytes are one UTF-16 unit
      highBytes = true;
    }
    let i = skipWs(bom ? 3 : 0);
    if (b[i] !== 0x7b) {
      if (i >= len) throw new JsonSyntaxError('empty message', i);
      const end = skipWs(scanValue(i, 0)); // throws the precise syntax error
      if (end !== len) throw new JsonSyntaxError('unexpected data after the top-level value', end);
      const type = tokenTypeName(lastKind);
      throw new NotAnObjectError(
        `top-level JSON value is ${type === 'array' ? 'an' : 'a'} ${type}, expected an object`,
      );
    }
    i = skipWs(i + 1);
    let guess = 0;
    if (b[i] !== 0x7d) {
      const kinds = this.kinds;
      const starts = this.starts;
      const ends = this.ends;
      const seen = this.seen;
      const byteStarts = this.byteStarts;
      const keyStarts = this.keyStarts;
      const byteEnds = this.byteEnds;
      const nameBytes = this.nameBytes;
      const nNames = nameBytes.length;
      const plain = this.plain;
      for (;;) {
        if (b[i] !== 0x22) throw new JsonSyntaxError(`expected a key string but found ${describeByte(b, i)}`, i);
        // Key. Fast path: plain ASCII without escapes (nearly every key); else the full string scanner.
        const keyAdj = adj;
        const keyStart = i;
        let j = i + 1;
        let keyEnd = -1;
        let idx = -2;
        // Fastest path: one of the next expected columns, compared in place (a plain name followed
        // by the closing quote is exactly that key); producers write keys in column order.
        const stop = Math.min(guess + 8, nNames);
        for (let g = guess; g < stop; g++) {
          const name = nameBytes[g]!;
          const L = name.length;
          if (b[j + L] !== 0x22 || plain[g] === 0) continue;
          let k = L - 1; // from the end: names often share prefixes (extend1..extend50)
          while (k >= 0 && name[k] === b[j + k]) k--;
          if (k < 0) {
            idx = g;
            keyEnd = j + L + 1;
            break;
          }
        }
        if (keyEnd < 0) {
          while (STOP[b[j]!] === 0) j++;
          if (b[j] === 0x22) {
            keyEnd = j + 1;
            idx = this.matchKey(i + 1, j, guess);
          } else {
            keyEnd = scanString(i);
            idx = escaped || adj !== keyAdj ? -2 : this.matchKey(i + 1, keyEnd - 1, guess);
          }
        }
        if (idx === -2) {
          const raw =
            text === undefined
              ? Buffer.from(b.buffer, b.byteOffset + i, keyEnd - i).toString('utf8')
              : text.slice(i - keyAdj, keyEnd - adj);
          idx = this.index.get(escaped && raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1)) ?? -1;
        }
        i = keyEnd;
        if (b[i] !== 0x3a) {
          i = skipWs(i);
          if (b[i] !== 0x3a) throw new JsonSyntaxError(`expected ":" after a key but found ${describeByte(b, i)}`, i);
        }
        i = skipWs(i + 1);
        const valueStart = i - adj;
        const valueStartByte = i;
        let kind: number;
        if (b[i] === 0x22) {
          // String value fast path, as for keys.
          j = i + 1;
          while (STOP[b[j]!] === 0) j++;
          if (b[j] === 0x22) {
            i = j + 1;
            kind = T_STRING;
          } else {
            i = scanString(i);
            kind = escaped ? T_STRING_ESC : T_STRING;
          }
        } else if (b[i]! - 0x30 < 10 && b[i]! >= 0x30) {
          // Non-negative number fast path (ids, times, counts): digits only, else the full grammar.
          j = i + 1;
          let c = b[j];
          while (c !== undefined && c >= 0x30 && c <= 0x39) c = b[++j];
          if (c === 0x2c || c === 0x7d) {
            // a leading zero followed by digits is not JSON: report it as the full scanner would
            if (b[i] === 0x30 && j > i + 1) {
              throw new JsonSyntaxError(`expected "," or "}" but found ${describeByte(b, i + 1)}`, i + 1);
            }
            i = j;
          } else i = scanNumber(i);
          kind = T_NUMBER;
        } else {
          i = scanValue(i, 1);
          kind = lastKind;
        }
        if (idx >= 0) {
          // Duplicate keys: the last one wins, as with JSON.parse.
          kinds[idx] = kind;
          starts[idx] = valueStart;
          ends[idx] = i - adj;
          keyStarts[idx] = keyStart;
          byteStarts[idx] = valueStartByte;
          byteEnds[idx] = i;
          seen[idx] = gen;
          guess = idx + 1;
        }
        let c = b[i];
        if (c !== 0x2c && c !== 0x7d) {
          i = skipWs(i);
          c = b[i];
        }
        if (c === 0x2c) {
          i = skipWs(i + 1);
          continue;
        }
        if (c === 0x7d) break;
        throw new JsonSyntaxError(`expected "," or "}" but found ${describeByte(b, i)}`, i);
      }
    }
    i = skipWs(i + 1);
    if (i < len) throw new JsonSyntaxError('unexpected data after the top-level object', i);
    this.nonAscii = highBytes;
  }

  /** Convenience for tests and callers that hold text: scans its UTF-8 encoding. */
  scanText(text: string): void {
    this.scan(Buffer.from(text, 'utf8'), text);
  }
}
