// Per-column value conversion with Doris's load semantics (doris-stream-load.md §6): a value that
// can't be converted is a *conversion* failure (NULL when strict_mode is off, filtered when on); a
// value that converts but breaks the declared range (decimal digits, string bytes) is filtered either way.
import type { ColumnDef } from './ddl.ts';

export class Failure {
  /** true: filtered whatever strict_mode says (range); false: conversion failure. */
  readonly always: boolean;
  readonly reason: string;
  constructor(always: boolean, reason: string) {
    this.always = always;
    this.reason = reason;
  }
}

/** A converted value as stored (MariaDB literal text), SQL NULL, or a failure. */
export type Converted = string | null | Failure;
export type Converter = (text: string) => Converted;

const INT_RE = /^[+-]?\d+$/;
/** BE config string_type_length_soft_limit_bytes (default 1 MiB): the most a STRING value may hold. */
const STRING_SOFT_LIMIT = 1_048_576;
const NUM_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT_RANGES: Record<string, [bigint, bigint]> = {
  tinyint: [-128n, 127n],
  smallint: [-32768n, 32767n],
  int: [-2147483648n, 2147483647n],
  bigint: [-9223372036854775808n, 9223372036854775807n],
  largeint: [-(2n ** 127n), 2n ** 127n - 1n],
};
const SMALL_INT_RANGES: Record<string, [number, number]> = {
  tinyint: [-128, 127],
  smallint: [-32768, 32767],
  int: [-2147483648, 2147483647],
};

function convFail(col: ColumnDef, text: string): Failure {
  return new Failure(false, `column(${col.name}) value is incorrect while strict mode is true, src value is ${text}`);
}

/** Offset in minutes of a time zone at an instant. */
export type ZoneOffset = (utcMs: number) => number;

export const UTC: ZoneOffset = () => 0;

/** `+08:00`, `-0530`, `UTC`, or an IANA name like `Asia/Shanghai`; throws on an unknown zone. */
export function zoneOffset(tz: string): ZoneOffset {
  const t = tz.trim();
  if (/^(UTC|GMT|Z)$/i.test(t)) return UTC;
  const m = /^([+-])(\d{1,2}):?(\d{2})$/.exec(t);
  if (m) {
    const off = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
    return () => off;
  }
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: t,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new Error(`Unknown or incorrect time zone: '${tz}'`);
  }
  return (utcMs) => {
    const p: Record<string, number> = {};
    for (const part of fmt.formatToParts(new Date(utcMs))) p[part.type] = Number(part.value);
    const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    return Math.round((wall - Math.floor(utcMs / 1000) * 1000) / 60000);
  };
}

/** Builds the converter for one column; called once per load, not per row. */
export function makeConverter(col: ColumnDef, zone: ZoneOffset = UTC): Converter {
  const t = col.type;
  switch (t.base) {
    case 'tinyint':
    case 'smallint':
    case 'int': {
      const [lo, hi] = SMALL_INT_RANGES[t.base]!;
      return (text) => {
        const s = text.trim();
        if (!INT_RE.test(s)) return convFail(col, text);
        const n = Number(s);
        return n < lo || n > hi ? convFail(col, text) : String(n);
      };
    }
    case 'bigint':
    case 'largeint': {
      const [lo, hi] = INT_RANGES[t.base]!;
      return (text) => {
        const s = text.trim();
        if (!INT_RE.test(s)) return convFail(col, text);
        if (s.length < 16) return String(Number(s));
        const n = BigInt(s);
        return n < lo || n > hi ? convFail(col, text) : n.toString();
      };
    }
    case 'boolean':
      return (text) => {
        const s = text.trim().toLowerCase();
        if (s === 'true' || s === '1') return '1';
        if (s === 'false' || s === '0') return '0';
        return convFail(col, text);
      };
    case 'float':
    case 'double':
      return (text) => {
        const s = text.trim();
        if (!NUM_RE.test(s)) return convFail(col, text);
        const n = Number(s);
        if (!Number.isFinite(n)) return convFail(col, text);
        if (t.base === 'float' && Math.abs(n) > 3.4028234663852886e38) return convFail(col, text);
        return s;
      };
    case 'decimal':
      return (text) => convertDecimal(col, text);
    case 'date':
      return (text) => {
        const d = parseDateTime(text.trim(), 0, zone);
        return d === undefined ? convFail(col, text) : d.slice(0, 10);
      };
    case 'datetime':
      return (text) => {
        const d = parseDateTime(text.trim(), t.precision, zone);
        return d === undefined ? convFail(col, text) : d;
      };
    case 'char':
    case 'varchar': {
      const max = t.precision;
      return (text) => {
        // Fast path: a UTF-16 unit is at most 3 UTF-8 bytes, so short strings need no byte count.
        if (text.length * 3 <= max) return text;
        const len = Buffer.byteLength(text, 'utf8');
        if (len <= max) return text;
        return new Failure(
          true,
          `column_name[${col.name}], the length of input is too long than schema. first 32 bytes of input str: [${Buffer.from(text).subarray(0, 32).toString()}] schema length: ${max}; actual length: ${len}; `,
        );
      };
    }
    case 'string':
      // STRING has no declared length, but the table sink refuses values over the BE's
      // string_type_length_soft_limit_bytes (default 1 MiB).
      return (text) => {
        if (text.length * 3 <= STRING_SOFT_LIMIT) return text;
        const len = Buffer.byteLength(text, 'utf8');
        if (len <= STRING_SOFT_LIMIT) return text;
        return new Failure(
          true,
          `column_name[${col.name}], the length of input string is too long than vec schema. first 32 bytes of input str: [${Buffer.from(text).subarray(0, 32).toString()}] schema length: -1; limit length: ${STRING_SOFT_LIMIT}; actual length: ${len}; `,
        );
      };
    case 'json':
      return (text) => {
        try {
          JSON.parse(text);
          return text;
        } catch {
          return convFail(col, text);
        }
      };
    default:
      return (text) => text;
  }
}

function convertDecimal(col: ColumnDef, text: string): Converted {
  const { precision, scale } = col.type;
  let s = text.trim();
  if (!NUM_RE.test(s)) return convFail(col, text);
  if (/[eE]/.test(s)) {
    const n = Number(s);
    if (!Number.isFinite(n)) return convFail(col, text);
    s = n.toFixed(Math.min(scale + 1, 100));
  }
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  const dot = s.indexOf('.');
  let intPart = (dot < 0 ? s : s.slice(0, dot)).replace(/^0+(?=\d)/, '') || '0';
  let frac = dot < 0 ? '' : s.slice(dot + 1);
  if (frac.length > scale) {
    // Doris rounds half up to the declared scale.
    const roundUp = frac.charCodeAt(scale) >= 53;
    frac = frac.slice(0, scale);
    if (roundUp) {
      const digits = (intPart + frac).split('');
      let i = digits.length - 1;
      while (i >= 0) {
        if (digits[i] === '9') {
          digits[i] = '0';
          i--;
        } else {
          digits[i] = String(Number(digits[i]) + 1);
          break;
        }
      }
      let all = digits.join('');
      if (i < 0) all = `1${all}`;
      intPart = all.slice(0, all.length - scale) || '0';
      frac = all.slice(all.length - scale);
    }
  }
  frac = frac.padEnd(scale, '0');
  const isZero = /^0*$/.test(intPart + frac);
  const value = `${neg && !isZero ? '-' : ''}${intPart}${scale > 0 ? `.${frac}` : ''}`;
  if (intPart !== '0' && intPart.length > precision - scale) {
    // Refused by the table sink (OlapTableBlockConvertor), in its words.
    const max = `${'9'.repeat(precision - scale) || '0'}${scale > 0 ? `.${'9'.repeat(scale)}` : ''}`;
    return new Failure(
      true,
      `column_name[${col.name}], decimal value is not valid for definition, value=${value}, precision=${precision}, scale=${scale}, min=-${max}, max=${max}; `,
    );
  }
  return value;
}

const DT_RE =
  /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;
const DT_COMPACT_RE = /^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?)?$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/**
 * Parses the date/datetime forms Doris accepts and returns `YYYY-MM-DD HH:MM:SS[.f…]` with exactly
 * `precision` fractional digits (rounded half up), or undefined if it is not a valid date.
 * A value with a zone suffix (`Z`, `+08:00`) is converted to the load's time zone; one without is kept.
 */
export function parseDateTime(s: string, precision: number, zone: ZoneOffset = UTC): string | undefined {
  const m = DT_RE.exec(s) ?? DT_COMPACT_RE.exec(s);
  if (!m) return undefined;
  let y = Number(m[1]);
  let mo = Number(m[2]);
  let d = Number(m[3]);
  let h = Number(m[4] ?? 0);
  let mi = Number(m[5] ?? 0);
  let sec = Number(m[6] ?? 0);
  const fracText = m[7] ?? '';
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return undefined;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (mo === 2 && leap ? 29 : DAYS[mo - 1]!)) return undefined;
  let frac = Number(`0.${fracText || '0'}`);
  let fracDigits = fracText.padEnd(9, '0');
  let carry = false;
  if (fracText.length > precision) {
    const scaled = Math.round(frac * 10 ** precision);
    if (scaled >= 10 ** precision) {
      carry = true;
      frac = 0;
      fracDigits = ''.padEnd(9, '0');
    } else {
      fracDigits = pad(scaled, precision).padEnd(9, '0');
    }
  }
  const suffix = m[8];
  if (carry || suffix) {
    let ms = Date.UTC(y, mo - 1, d, h, mi, sec) + (carry ? 1000 : 0);
    if (suffix) {
      // An instant: to UTC, then to the load's wall clock.
      if (suffix !== 'Z') {
        const sign = suffix[0] === '-' ? -1 : 1;
        const digits = suffix.slice(1).replace(':', '');
        ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60000;
      }
      ms += zone(ms) * 60000;
    }
    const dt = new Date(ms);
    y = dt.getUTCFullYear();
    mo = dt.getUTCMonth() + 1;
    d = dt.getUTCDate();
    h = dt.getUTCHours();
    mi = dt.getUTCMinutes();
    sec = dt.getUTCSeconds();
    if (y < 0 || y > 9999) return undefined;
  }
  const base = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(sec, 2)}`;
  return precision > 0 ? `${base}.${fracDigits.slice(0, precision)}` : base;
}
