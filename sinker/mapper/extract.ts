// Single-pass JSON field extractor: scans a top-level object once, validating all of it (invalid JSON
// must go to the DLQ), and records where the values of the wanted keys start and end, without building
// any objects. Numbers stay raw text, so int64/largeint/decimal digits are never rounded through a
// double, which JSON.parse would do. Like the seed's sonic.Get, but one pass for all columns.

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
  readonly position: number;
  constructor(what: string, position: number) {
    super(`invalid JSON at character ${position}: ${what}`);
    this.position = position;
  }
}

const MAX_DEPTH = 512;

function describeChar(s: string, i: number): string {
  if (i >= s.length) return 'end of input';
  const c = s.charCodeAt(i);
  return c < 0x20 ? `control character U+${c.toString(16).padStart(4, '0').toUpperCase()}` : `"${s[i]}"`;
}

function skipWs(s: string, i: number): number {
  let c = s.charCodeAt(i);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++i);
  return i;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Scans a string token starting at the opening quote `i`. Returns the index after the closing quote;
 * `escaped` tells whether it held backslash escapes. Rejects raw control characters and bad escapes.
 */
let escaped = false;
function scanString(s: string, i: number): number {
  escaped = false;
  i++;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      escaped = true;
      const e = s.charCodeAt(i + 1);
      if (e === 0x75) {
        if (
          !(
            isHex(s.charCodeAt(i + 2)) &&
            isHex(s.charCodeAt(i + 3)) &&
            isHex(s.charCodeAt(i + 4)) &&
            isHex(s.charCodeAt(i + 5))
          )
        ) {
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
      throw new JsonSyntaxError(`bad escape ${describeChar(s, i + 1)} in string`, i);
    }
    if (!(c >= 0x20)) {
      // also true for NaN: past the end of the text
      if (i >= s.length) throw new JsonSyntaxError('unterminated string', i);
      throw new JsonSyntaxError(`${describeChar(s, i)} inside a string`, i);
    }
    i++;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Scans a number token per the JSON grammar; returns the index after it. */
export function scanNumber(s: string, i: number): number {
  const start = i;
  let c = s.charCodeAt(i);
  if (c === 0x2d) c = s.charCodeAt(++i);
  if (c === 0x30) {
    c = s.charCodeAt(++i);
  } else if (c >= 0x31 && c <= 0x39) {
    do c = s.charCodeAt(++i);
    while (isDigit(c));
  } else {
    throw new JsonSyntaxError(`bad number, expected a digit but found ${describeChar(s, i)}`, start);
  }
  if (c === 0x2e) {
    c = s.charCodeAt(++i);
    if (!isDigit(c)) throw new JsonSyntaxError('bad number, expected a digit after "."', i);
    do c = s.charCodeAt(++i);
    while (isDigit(c));
  }
  if (c === 0x65 || c === 0x45) {
    c = s.charCodeAt(++i);
    if (c === 0x2b || c === 0x2d) c = s.charCodeAt(++i);
    if (!isDigit(c)) throw new JsonSyntaxError('bad number, expected a digit in the exponent', i);
    do c = s.charCodeAt(++i);
    while (isDigit(c));
  }
  return i;
}

function scanLiteral(s: string, i: number, word: string): number {
  if (!s.startsWith(word, i)) throw new JsonSyntaxError(`unexpected ${describeChar(s, i)}`, i);
  return i + word.length;
}

/** Kind of the value last scanned by scanValue. */
let lastKind = 0;

/** Scans any JSON value at `i` (no leading whitespace); returns the index after it and sets lastKind. */
export function scanValue(s: string, i: number, depth: number): number {
  const c = s.charCodeAt(i);
  switch (c) {
    case 0x22: {
      const end = scanString(s, i);
      lastKind = escaped ? T_STRING_ESC : T_STRING;
      return end;
    }
    case 0x7b:
      return scanObject(s, i, depth + 1);
    case 0x5b:
      return scanArray(s, i, depth + 1);
    case 0x74:
      lastKind = T_TRUE;
      return scanLiteral(s, i, 'true');
    case 0x66:
      lastKind = T_FALSE;
      return scanLiteral(s, i, 'false');
    case 0x6e:
      lastKind = T_NULL;
      return scanLiteral(s, i, 'null');
    default:
      if (c === 0x2d || isDigit(c)) {
        lastKind = T_NUMBER;
        return scanNumber(s, i);
      }
      throw new JsonSyntaxError(`unexpected ${describeChar(s, i)}, expected a value`, i);
  }
}

function scanObject(s: string, i: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new JsonSyntaxError(`nesting deeper than ${MAX_DEPTH}`, i);
  i = skipWs(s, i + 1);
  if (s.charCodeAt(i) === 0x7d) {
    lastKind = T_OBJECT;
    return i + 1;
  }
  for (;;) {
    if (s.charCodeAt(i) !== 0x22) throw new JsonSyntaxError(`expected a key string but found ${describeChar(s, i)}`, i);
    i = skipWs(s, scanString(s, i));
    if (s.charCodeAt(i) !== 0x3a)
      throw new JsonSyntaxError(`expected ":" after a key but found ${describeChar(s, i)}`, i);
    i = skipWs(s, scanValue(s, skipWs(s, i + 1), depth));
    const c = s.charCodeAt(i);
    if (c === 0x2c) {
      i = skipWs(s, i + 1);
      continue;
    }
    if (c === 0x7d) {
      lastKind = T_OBJECT;
      return i + 1;
    }
    throw new JsonSyntaxError(`expected "," or "}" but found ${describeChar(s, i)}`, i);
  }
}

function scanArray(s: string, i: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new JsonSyntaxError(`nesting deeper than ${MAX_DEPTH}`, i);
  i = skipWs(s, i + 1);
  if (s.charCodeAt(i) === 0x5d) {
    lastKind = T_ARRAY;
    return i + 1;
  }
  for (;;) {
    i = skipWs(s, scanValue(s, i, depth));
    const c = s.charCodeAt(i);
    if (c === 0x2c) {
      i = skipWs(s, i + 1);
      continue;
    }
    if (c === 0x5d) {
      lastKind = T_ARRAY;
      return i + 1;
    }
    throw new JsonSyntaxError(`expected "," or "]" but found ${describeChar(s, i)}`, i);
  }
}

/** True when `text` is exactly one valid JSON value (surrounding whitespace allowed). */
export function isValidJson(text: string): boolean {
  try {
    const i = skipWs(text, 0);
    return skipWs(text, scanValue(text, i, 0)) === text.length;
  } catch {
    return false;
  }
}

/** JSON type name of the top-level value of `s` beginning at `i` (for "expected an object" errors). */
function topLevelTypeName(s: string, i: number): string {
  try {
    const end = skipWs(s, scanValue(s, i, 0));
    if (end !== s.length) return '';
    return tokenTypeName(lastKind);
  } catch {
    return '';
  }
}

export class NotAnObjectError extends Error {}

/**
 * Extracts the wanted top-level fields of one JSON object. Create one per schema and reuse it: the
 * result arrays are overwritten by each scan (single-threaded, synchronous use).
 */
export class FieldExtractor {
  readonly names: readonly string[];
  private readonly index = new Map<string, number>();
  /** Per wanted field: token kind, value start and end (exclusive) in the scanned text. */
  readonly kinds: Uint8Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** seen[i] === generation when field i was present in the last scan. */
  private readonly seen: Uint32Array;
  private generation = 0;

  constructor(names: readonly string[]) {
    this.names = names;
    names.forEach((n, i) => {
      this.index.set(n, i);
    });
    this.kinds = new Uint8Array(names.length);
    this.starts = new Int32Array(names.length);
    this.ends = new Int32Array(names.length);
    this.seen = new Uint32Array(names.length);
  }

  present(i: number): boolean {
    return this.seen[i] === this.generation;
  }

  /**
   * Scans `s`. Throws JsonSyntaxError (with the position) for invalid JSON and NotAnObjectError when the
   * top level is valid JSON but not an object.
   */
  scan(s: string): void {
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.seen.fill(0);
      this.generation = 1;
    }
    const gen = this.generation;
    const names = this.names;
    const n = names.length;
    let i = skipWs(s, s.charCodeAt(0) === 0xfeff ? 1 : 0);
    if (s.charCodeAt(i) !== 0x7b) {
      if (i >= s.length) throw new JsonSyntaxError('empty message', i);
      const type = topLevelTypeName(s, i);
      if (type)
        throw new NotAnObjectError(
          `top-level JSON value is ${type === 'array' ? 'an' : 'a'} ${type}, expected an object`,
        );
      const end = skipWs(s, scanValue(s, i, 0)); // throws the precise syntax error
      throw new JsonSyntaxError('unexpected data after the top-level value', end);
    }
    i = skipWs(s, i + 1);
    let guess = 0;
    if (s.charCodeAt(i) !== 0x7d) {
      for (;;) {
        if (s.charCodeAt(i) !== 0x22)
          throw new JsonSyntaxError(`expected a key string but found ${describeChar(s, i)}`, i);
        const keyStart = i + 1;
        const keyEnd = scanString(s, i);
        // Producers usually write keys in column order: try the next expected column before a map lookup.
        let idx = -1;
        const len = keyEnd - 1 - keyStart;
        if (escaped) {
          idx = this.index.get(JSON.parse(s.slice(i, keyEnd)) as string) ?? -1;
        } else if (guess < n && names[guess]!.length === len && s.startsWith(names[guess]!, keyStart)) {
          idx = guess;
        } else {
          idx = this.index.get(s.slice(keyStart, keyEnd - 1)) ?? -1;
        }
        i = skipWs(s, keyEnd);
        if (s.charCodeAt(i) !== 0x3a)
          throw new JsonSyntaxError(`expected ":" after a key but found ${describeChar(s, i)}`, i);
        i = skipWs(s, i + 1);
        const valueStart = i;
        i = scanValue(s, i, 1);
        if (idx >= 0) {
          // Duplicate keys: the last one wins, as with JSON.parse.
          this.kinds[idx] = lastKind;
          this.starts[idx] = valueStart;
          this.ends[idx] = i;
          this.seen[idx] = gen;
          guess = idx + 1;
        }
        i = skipWs(s, i);
        const c = s.charCodeAt(i);
        if (c === 0x2c) {
          i = skipWs(s, i + 1);
          continue;
        }
        if (c === 0x7d) break;
        throw new JsonSyntaxError(`expected "," or "}" but found ${describeChar(s, i)}`, i);
      }
    }
    i = skipWs(s, i + 1);
    if (i < s.length) throw new JsonSyntaxError('unexpected data after the top-level object', i);
  }
}
