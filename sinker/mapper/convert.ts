// Exact conversions on number and date text, without going through a double: integer range checks for
// every Doris integer width (int64 and int128 included), decimal precision/scale, date and datetime
// validation and canonical spelling.
import { Buffer } from 'node:buffer';
/** A decimal number split into digits: `int` without leading zeros, `frac` without trailing zeros. */
export interface DecimalParts {
  neg: boolean;
  int: string;
  frac: string;
}

const MAX_EXPONENT = 1000;

/** True when `text` is exactly one JSON number token (the grammar JSON uses; no `+`, `.5`, `NaN`). */
const JSON_NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

export function isJsonNumber(text: string): boolean {
  return JSON_NUMBER_RE.test(text);
}

/** Splits a JSON number token into exact decimal digits, applying any exponent. */
export function decimalParts(text: string): DecimalParts {
  let i = 0;
  const neg = text.charCodeAt(0) === 0x2d;
  if (neg) i = 1;
  let e = text.indexOf('e', i);
  if (e < 0) e = text.indexOf('E', i);
  const mantissa = e < 0 ? text.slice(i) : text.slice(i, e);
  let exp = e < 0 ? 0 : Number(text.slice(e + 1));
  if (exp > MAX_EXPONENT) exp = MAX_EXPONENT + 1;
  if (exp < -MAX_EXPONENT) exp = -MAX_EXPONENT - 1;
  const dot = mantissa.indexOf('.');
  let digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  let point = (dot < 0 ? mantissa.length : dot) + exp; // digits before the decimal point
  // strip leading zeros (keeping the point where it is)
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 0x30) lead++;
  digits = digits.slice(lead);
  point -= lead;
  if (digits.length === 0) return { neg: false, int: '', frac: '' };
  let int: string;
  let frac: string;
  if (point <= 0) {
    int = '';
    frac = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    int = digits + '0'.repeat(point - digits.length);
    frac = '';
  } else {
    int = digits.slice(0, point);
    frac = digits.slice(point);
  }
  let t = frac.length;
  while (t > 0 && frac.charCodeAt(t - 1) === 0x30) t--;
  frac = frac.slice(0, t);
  return { neg: neg && (int !== '' || frac !== ''), int, frac };
}

export function formatDecimal(p: DecimalParts): string {
  return (p.neg ? '-' : '') + (p.int === '' ? '0' : p.int) + (p.frac === '' ? '' : `.${p.frac}`);
}

/** Largest magnitudes per integer kind: [positive max, negative min magnitude]. */
export const INTEGER_BOUNDS: Record<string, [string, string]> = {
  tinyint: ['127', '128'],
  smallint: ['32767', '32768'],
  int: ['2147483647', '2147483648'],
  bigint: ['9223372036854775807', '9223372036854775808'],
  largeint: ['170141183460469231731687303715884105727', '170141183460469231731687303715884105728'],
};

/** Whether an integer magnitude (no leading zeros) fits the kind. */
export function integerFits(kind: string, int: string, neg: boolean): boolean {
  const bound = INTEGER_BOUNDS[kind]![neg ? 1 : 0];
  return int.length < bound.length || (int.length === bound.length && int <= bound);
}

export function integerRange(kind: string): string {
  const [max, min] = INTEGER_BOUNDS[kind]!;
  return `-${min}..${max}`;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function d2(t: Uint8Array, i: number): number {
  const a = t[i]! - 48;
  const b = t[i + 1]! - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Fast path: whether `text` is already a valid canonical `YYYY-MM-DD` (date) or
 * `YYYY-MM-DD HH:MM:SS[.f]` with at most `scale` fractional digits (datetime), so it can be used as is.
 * False means "take the general parser", not "invalid".
 */
export function isCanonicalDateTime(text: string, isDate: boolean, scale: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return isCanonicalDateTimeBytes(Buffer.from(text, 'latin1'), 0, text.length, isDate, scale);
}

/** isCanonicalDateTime of the bytes src[a, b), without making a string (the mapper's copy path). */
export function isCanonicalDateTimeBytes(
  src: Uint8Array,
  a: number,
  b: number,
  isDate: boolean,
  scale: number,
): boolean {
  const n = b - a;
  if (isDate ? n !== 10 : n !== 19 && (n < 21 || n > 20 + scale)) return false;
  const y1 = d2(src, a);
  const y2 = d2(src, a + 2);
  const mo = d2(src, a + 5);
  const d = d2(src, a + 8);
  if (y1 < 0 || y2 < 0 || src[a + 4] !== 0x2d || src[a + 7] !== 0x2d) return false;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y1 * 100 + y2, mo)) return false;
  if (isDate) return true;
  if (src[a + 10] !== 0x20 || src[a + 13] !== 0x3a || src[a + 16] !== 0x3a) return false;
  const h = d2(src, a + 11);
  const mi = d2(src, a + 14);
  const sec = d2(src, a + 17);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return false;
  if (n === 19) return true;
  if (src[a + 19] !== 0x2e) return false;
  for (let i = a + 20; i < b; i++) {
    const c = src[i]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Whether the number token src[a, b) is already the canonical spelling of its decimal value
 * (formatDecimal(decimalParts(token)) gives it back: no exponent, no leading zeros, no trailing
 * fraction zeros, no "-0") and fits decimal(precision, scale), so it can be used as is.
 * False means "take the general converter", not "invalid".
 */
export function isCanonicalDecimalBytes(
  src: Uint8Array,
  a: number,
  b: number,
  precision: number,
  scale: number,
): boolean {
  let i = a;
  const neg = src[i] === 0x2d;
  if (neg) i++;
  const intStart = i;
  while (i < b && src[i]! >= 0x30 && src[i]! <= 0x39) i++;
  const intDigits = i - intStart;
  if (intDigits === 0 || (intDigits > 1 && src[intStart] === 0x30)) return false;
  const zeroInt = intDigits === 1 && src[intStart] === 0x30;
  if (!zeroInt && intDigits > precision - scale) return false;
  if (i === b) return !(neg && zeroInt);
  if (src[i] !== 0x2e) return false;
  const fracStart = ++i;
  while (i < b && src[i]! >= 0x30 && src[i]! <= 0x39) i++;
  const fracDigits = i - fracStart;
  if (i !== b || fracDigits === 0 || fracDigits > scale || src[b - 1] === 0x30) return false;
  return true;
}

const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

export interface ParsedDateTime {
  date: string;
  /** `HH:MM:SS`, or '' when the text had only a date. */
  time: string;
  /** Fractional seconds without trailing zeros. */
  frac: string;
  /** `Z` or `+08:00` etc. when given; Doris converts such values to its time zone itself. */
  zone: string;
}

/** Parses `YYYY-MM-DD`, `YYYY-MM-DD[ T]HH:MM[:SS[.fffffffff]]` with an optional zone; null when invalid. */
export function parseDateTime(text: string): ParsedDateTime | null {
  const m = DATETIME_RE.exec(text);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
  let time = '';
  if (m[4] !== undefined) {
    const h = Number(m[4]);
    const mi = Number(m[5]);
    const sec = m[6] === undefined ? 0 : Number(m[6]);
    if (h > 23 || mi > 59 || sec > 59) return null;
    time = `${m[4]}:${m[5]}:${m[6] ?? '00'}`;
  }
  let frac = m[7] ?? '';
  let t = frac.length;
  while (t > 0 && frac.charCodeAt(t - 1) === 0x30) t--;
  frac = frac.slice(0, t);
  return { date: `${m[1]}-${m[2]}-${m[3]}`, time, frac, zone: m[8] ?? '' };
}

const TIME_RE = /^-?(\d{1,3}):([0-5]\d):([0-5]\d)(?:\.(\d{1,6}))?$/;

export function isTime(text: string): boolean {
  const m = TIME_RE.exec(text);
  return m !== null && Number(m[1]) <= 838;
}

export function isIpv4(text: string): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255 || (p.length > 1 && p[0] === '0')) return false;
  }
  return true;
}

/**
 * A textual IPv6 address: 8 groups of 1–4 hex digits, or fewer around one `::`, the last two groups
 * optionally an IPv4 address. Every group is checked where it stands: a stray `:` (`:2001:db8::1`,
 * `:::`) is not an address, and Doris would filter the row.
 */
export function isIpv6(text: string): boolean {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  const halves = text.split('::');
  if (halves.length > 2) return false;
  let count = 0;
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h]!;
    if (half === '') continue;
    const groups = half.split(':');
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      if (group.includes('.')) {
        // an IPv4 tail, only as the address's last part
        if (h !== halves.length - 1 || g !== groups.length - 1 || !isIpv4(group)) return false;
        count += 2;
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(group)) count++;
      else return false;
    }
  }
  return halves.length === 2 ? count < 8 : count === 8;
}
