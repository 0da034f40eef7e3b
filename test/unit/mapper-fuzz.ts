// Differential fuzzing of the mapper: random table schemas (every type the mapper loads) and random
// JSON messages (valid, boundary, wrong-typed, every string escape, odd keys and whitespace, unknown
// and duplicated fields, invalid JSON and invalid UTF-8), each checked for:
//   1. mapInto(bytes) writes exactly encode(map(bytes)) for JSON lines and CSV, with the same DLQ
//      verdict and reason and the same statistics;
//   2. map() agrees with an oracle: fatal UTF-8 decoding, JSON.parse for validity, a plain reader of
//      the (valid) text keeping each number's source text, and the rules of docs/mapping.md;
//   3. a message is refused as invalid exactly when JSON.parse (or the UTF-8 decoder) refuses it;
//   4. each encoded line reads back (CSV by its enclose/escape rules, JSON lines valid for JSON.parse
//      and read with the numbers' source text) to the row's values: strings code unit for code unit, numbers digit
//      for digit.
// Deterministic: case k of seed s is the same everywhere. On a failure it prints the seed, the case,
// the schema and the smallest message (and column subset) it could shrink the case to.
//   node test/unit/mapper-fuzz.ts [--cases N] [--seed S] [--case K]
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createEncoder, type RowEncoder, valueClass } from '../../sinker/encode/encoders.ts';
import { Mapper, type MapResult, type RowPlan, zeroValue } from '../../sinker/mapper/mapper.ts';
import { RowBuffer } from '../../sinker/mapper/row-buffer.ts';
import { columnsFromDescribe, type DescribeRow, tableSchema } from '../../sinker/schema/schema.ts';
import type { Column } from '../../sinker/schema/types.ts';
import { defineCli } from '../bench/support/cli.ts';

export const CLI = defineCli(import.meta, {
  options: {
    cases: {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 100_000,
      value: 'N',
      description: 'messages to check',
    },
    seed: { type: 'string', number: 'non-negative', integer: true, default: 1, value: 'S', description: 'seed' },
    case: {
      type: 'string',
      number: 'non-negative',
      integer: true,
      value: 'K',
      description: 'replay case K of the seed (with the cases of its schema before it)',
    },
  },
});

const ZERO_DATE = '1970-01-01';
/** Messages per generated schema. */
const PER_SCHEMA = 16;

// ---------------------------------------------------------------------------------------------------
// Random numbers

type Rng = () => number;

function rngOf(seed: number): Rng {
  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const chance = (r: Rng, p: number) => r() < p;
const digits = (r: Rng, n: number) => Array.from({ length: n }, () => String(int(r, 10))).join('');

// ---------------------------------------------------------------------------------------------------
// Schemas

function typeSpelling(r: Rng): string {
  switch (int(r, 24)) {
    case 0:
      return pick(r, ['tinyint', 'TINYINT(4)']);
    case 1:
      return 'smallint';
    case 2:
      return pick(r, ['int', 'INT(11)']);
    case 3:
      return 'bigint';
    case 4:
      return 'largeint';
    case 5:
      return 'float';
    case 6:
      return 'double';
    case 7:
    case 8: {
      const p = chance(r, 0.3) ? 19 + int(r, 58) : 1 + int(r, 18);
      const s = int(r, p + 1);
      return pick(r, [`decimal(${p},${s})`, `DECIMAL(${p}, ${s})`, `decimalv3(${p},${s})`]);
    }
    case 9:
      return pick(r, ['date', 'datev2', 'DATE']);
    case 10:
      return pick(r, ['datetime', `datetime(${int(r, 7)})`, `datetimev2(${int(r, 7)})`, 'DATETIME(3)']);
    case 11:
      return `char(${1 + int(r, 12)})`;
    case 12:
      return `varchar(${pick(r, [1, 2, 3, 5, 8, 16, 40, 65533])})`;
    case 13:
      return pick(r, ['string', 'text', 'TEXT']);
    case 14:
      return 'boolean';
    case 15:
      return pick(r, ['json', 'jsonb', 'JSON']);
    case 16:
      return 'variant';
    case 17:
      return pick(r, ['array<int>', 'ARRAY<TEXT>', 'array<array<bigint>>']);
    case 18:
      return pick(r, ['map<string,int>', 'MAP<INT,DECIMAL(20, 5)>']);
    case 19:
      return pick(r, ['struct<a:int,b:text>', 'STRUCT<add:DOUBLE,x:BIGINT>']);
    case 20:
      return 'ipv4';
    case 21:
      return 'ipv6';
    case 22:
      return pick(r, ['time', 'time(3)', `timestamptz(${int(r, 7)})`]);
    default:
      return `varchar(${1 + int(r, 300)})`;
  }
}

const PLAIN_NAMES = ['id', 'a', 'b', 'name', 'ts', 'v', 'extend1', 'extend10', 'extend11', 'x1', 'x2', 'amount'];
const ODD_NAMES = [
  '\u0001x',
  '\u001fy',
  'del\u007f',
  'col umn',
  'é',
  '名前',
  'a/b',
  'k-1',
  'A',
  'ID',
  'x\u2028y',
  'tab\tname',
  'q"uote',
  'back\\slash',
];

export interface Case {
  rows: DescribeRow[];
  message: Buffer;
}

function schemaRows(r: Rng): DescribeRow[] {
  const n = 1 + int(r, chance(r, 0.2) ? 24 : 8);
  const names = new Set<string>();
  while (names.size < n) {
    names.add(chance(r, 0.12) ? pick(r, ODD_NAMES) : chance(r, 0.7) ? pick(r, PLAIN_NAMES) : `c${int(r, 40)}`);
  }
  return [...names].map((Field) => ({
    Field,
    Type: typeSpelling(r),
    Null: chance(r, 0.5) ? 'Yes' : 'No',
    Key: 'false',
    Default: null,
    Extra: chance(r, 0.04) ? 'NONE,AUTO_INCREMENT' : 'NONE',
  }));
}

// ---------------------------------------------------------------------------------------------------
// Values

const NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '0.0',
  '-0.0',
  '1.0',
  '1.5',
  '-7.000',
  '1e3',
  '1E+3',
  '4.2e1',
  '1e-3',
  '0e5',
  '0.1',
  '1.23456',
  '127',
  '128',
  '-128',
  '-129',
  '255',
  '32767',
  '32768',
  '-32768',
  '-32769',
  '2147483647',
  '2147483648',
  '-2147483648',
  '-2147483649',
  '9007199254740991',
  '9007199254740992',
  '9007199254740993',
  '-9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  '9223372036854775807.0',
  '922337203685477580.7e1',
  '170141183460469231731687303715884105727',
  '170141183460469231731687303715884105728',
  '-170141183460469231731687303715884105728',
  '-170141183460469231731687303715884105729',
  '1e18',
  '1e19',
  '1e38',
  '1e39',
  '1e308',
  '1e309',
  '1.7976931348623157e308',
  '1.8e308',
  '3.4028234663852886e38',
  '3.5e38',
  '-3.5e38',
  '1e-400',
  '4.9e-324',
  '1e400',
  '1e-1001',
  '1e1000000',
  '123456789012345678901234567890.123456789',
  '0.30000000000000004',
  '100000000000000000000000000000000000000000',
  '12.340',
  '99999999999999999999',
  '1234567890123456789',
];

function randomNumber(r: Rng): string {
  switch (int(r, 6)) {
    case 0:
    case 1:
      return pick(r, NUMBERS);
    case 2:
      return (chance(r, 0.3) ? '-' : '') + String(int(r, 1000));
    case 3: {
      const i = chance(r, 0.2) ? '0' : String(1 + int(r, 9)) + digits(r, int(r, 25));
      const f = chance(r, 0.5) ? '' : `.${digits(r, 1 + int(r, 25))}`;
      const e = chance(r, 0.8) ? '' : `${pick(r, ['e', 'E'])}${pick(r, ['', '+', '-'])}${int(r, 40)}`;
      return (chance(r, 0.3) ? '-' : '') + i + f + e;
    }
    case 4:
      return String(int(r, 2 ** 31) - 2 ** 30);
    default:
      return (chance(r, 0.5) ? '-' : '') + String(1 + int(r, 9)) + digits(r, int(r, 40));
  }
}

/** A number the column can hold (its range, its decimal places), in one of JSON's spellings. */
function fittingNumber(r: Rng, c: Column): string {
  const t = c.type;
  const width: Record<string, number> = { tinyint: 2, smallint: 4, int: 9, bigint: 18, largeint: 38 };
  const neg = chance(r, 0.3) ? '-' : '';
  if (t.kind === 'decimal') {
    const intDigits = int(r, t.precision! - t.scale! + 1);
    const fracDigits = int(r, t.scale! + 1);
    const i = intDigits === 0 ? '0' : String(1 + int(r, 9)) + digits(r, intDigits - 1);
    return neg + i + (fracDigits === 0 ? '' : `.${digits(r, fracDigits)}`) + (chance(r, 0.2) ? '0' : '');
  }
  if (t.kind === 'float' || t.kind === 'double') {
    return (
      neg +
      String(int(r, 100000)) +
      (chance(r, 0.5) ? `.${digits(r, 1 + int(r, 8))}` : '') +
      (chance(r, 0.2) ? `e${int(r, 20) - 10}` : '')
    );
  }
  const n = 1 + int(r, width[t.kind]!);
  const mag = String(1 + int(r, 9)) + digits(r, n - 1);
  return neg + mag + pick(r, ['', '', '', '.0', 'e0', '.000']);
}

const DATES = [
  '2024-01-15',
  '0000-01-01',
  '9999-12-31',
  '2024-02-29',
  '2023-02-29',
  '1900-02-29',
  '2000-02-29',
  '2024-13-01',
  '2024-00-10',
  '2024-04-31',
  '2024-1-5',
  '24-01-01',
];
const TIMES = ['00:00:00', '23:59:59', '24:00:00', '12:60:00', '12:00:60', '00:00', '12:34'];

function randomDateText(r: Rng): string {
  const d = chance(r, 0.7) ? pick(r, DATES) : `${digits(r, 4)}-${digits(r, 2)}-${digits(r, 2)}`;
  if (chance(r, 0.3)) return d;
  let t = `${d}${pick(r, [' ', 'T', 'T', ' ', '  ', 't'])}${pick(r, TIMES)}`;
  if (chance(r, 0.5) && t.length >= 19 + 0) t += `.${digits(r, 1 + int(r, 9))}`;
  if (chance(r, 0.3)) t += pick(r, ['Z', '+08:00', '-05:30', '+0800', '+08', 'z', '+8:00', ' UTC']);
  if (chance(r, 0.1)) t = ` ${t} `;
  return t;
}

const IPS = [
  '1.2.3.4',
  '0.0.0.0',
  '255.255.255.255',
  '256.1.1.1',
  '01.2.3.4',
  '1.2.3',
  '::',
  '::1',
  '2001:db8::1',
  '::ffff:1.2.3.4',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '1::2::3',
  'fe80::1%eth0',
  ' 10.0.0.1 ',
  'ABCD:EF01::',
];

/** Characters strings are built from: every escape class, controls, separators, non-BMP, lone surrogates. */
const CHARS = [
  'a',
  'b',
  'Z',
  '0',
  ' ',
  ',',
  '"',
  '\\',
  '/',
  '\t',
  '\n',
  '\r',
  '\b',
  '\f',
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  'é',
  'ü',
  '中',
  '文',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufffd',
  '😀',
  '𝄞',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  'N',
  '{',
  '}',
  ':',
  "'",
];

/** A JSON string token for `text`, each character spelled raw or escaped at random (where JSON allows either). */
function stringToken(r: Rng, text: string, escapeRate: number): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ch = text[i]!;
    const lone = c >= 0xd800 && c <= 0xdfff;
    const mustEscape = c < 0x20 || ch === '"' || ch === '\\' || lone;
    if (!mustEscape && !chance(r, escapeRate)) {
      out += ch;
      continue;
    }
    const short: Record<string, string> = {
      '"': '\\"',
      '\\': '\\\\',
      '/': '\\/',
      '\b': '\\b',
      '\f': '\\f',
      '\n': '\\n',
      '\r': '\\r',
      '\t': '\\t',
    };
    if (short[ch] !== undefined && chance(r, 0.6)) out += short[ch];
    else {
      const hex = c.toString(16).padStart(4, '0');
      out += `\\u${chance(r, 0.5) ? hex : hex.toUpperCase()}`;
    }
  }
  return `${out}"`;
}

function randomText(r: Rng): string {
  const n = pick(r, [0, 1, 2, 3, 5, 8, 13, 40, 120]);
  let t = '';
  const plain = chance(r, 0.4);
  for (let i = 0; i < n; i++) t += plain ? pick(r, ['a', 'b', 'x', ' ', '中', 'é', '😀', '1']) : pick(r, CHARS);
  return t;
}

const WS = ['', '', '', ' ', '\n', '\t', '\r\n', '  '];
const ws = (r: Rng, on: boolean) => (on ? pick(r, WS) : '');

function randomNested(r: Rng, depth: number, spaced: boolean): string {
  const open = ws(r, spaced);
  if (depth <= 0 || chance(r, 0.3)) return open + randomScalar(r);
  if (chance(r, 0.5)) {
    const n = int(r, 4);
    const items = Array.from({ length: n }, () => randomNested(r, depth - 1, spaced) + ws(r, spaced));
    return `${open}[${items.join(',')}${n === 0 ? ws(r, spaced) : ''}]`;
  }
  const n = int(r, 4);
  const items = Array.from(
    { length: n },
    () =>
      `${ws(r, spaced)}${stringToken(r, chance(r, 0.5) ? pick(r, PLAIN_NAMES) : randomText(r), 0.1)}${ws(r, spaced)}:${randomNested(r, depth - 1, spaced)}${ws(r, spaced)}`,
  );
  return `${open}{${items.join(',')}${n === 0 ? ws(r, spaced) : ''}}`;
}

function randomScalar(r: Rng): string {
  switch (int(r, 5)) {
    case 0:
      return randomNumber(r);
    case 1:
      return pick(r, ['true', 'false', 'null']);
    default:
      return stringToken(r, randomText(r), 0.1);
  }
}

/** A value for a column of type `t`: mostly of the right kind, sometimes of a wrong or converting one. */
function randomValue(r: Rng, c: Column, spaced: boolean): string {
  const k = c.type.kind;
  const roll = r();
  if (roll < 0.55) {
    switch (k) {
      case 'tinyint':
      case 'smallint':
      case 'int':
      case 'bigint':
      case 'largeint':
      case 'float':
      case 'double':
      case 'decimal':
        return chance(r, 0.5) ? fittingNumber(r, c) : randomNumber(r);
      case 'boolean':
        return pick(r, ['true', 'false', '0', '1', '2', '-0', '1.0', '"TRUE"', '"false"', '" True "', '"yes"', '"1"']);
      case 'date':
      case 'datetime':
      case 'timestamptz':
        return stringToken(r, randomDateText(r), 0.05);
      case 'time':
        return stringToken(
          r,
          pick(r, ['12:34:56', '838:59:59', '839:00:00', '-01:02:03', '1:2:3', '00:00:00.1234567']),
          0,
        );
      case 'ipv4':
      case 'ipv6':
        return stringToken(r, pick(r, IPS), 0.05);
      case 'json':
      case 'variant':
      case 'array':
      case 'map':
      case 'struct':
        return randomNested(r, 1 + int(r, 4), spaced);
      default: {
        let text = randomText(r);
        // often within a short char/varchar, so rows (not only dead letters) carry such strings
        const limit = c.type.length ?? 0;
        if (limit > 0 && chance(r, 0.6)) while (Buffer.byteLength(text) > limit) text = text.slice(1);
        return stringToken(r, text, 0.15);
      }
    }
  }
  if (roll < 0.7) {
    // numeric, boolean, JSON or date text inside a string
    const inner = pick(r, [
      () => randomNumber(r),
      () =>
        pick(r, ['+5', '.5', '5.', ' 42 ', '1_000', '0x10', 'NaN', 'Infinity', '-', '', '1e', '\u00a07', '42\u2028']),
      () => randomNested(r, 2, spaced),
      () => randomDateText(r),
      () => pick(r, ['true', 'False', ' TRUE']),
      () => pick(r, IPS),
    ])();
    return stringToken(r, inner, 0.1);
  }
  if (roll < 0.8) return randomNested(r, 2, spaced);
  return randomScalar(r);
}

// ---------------------------------------------------------------------------------------------------
// Messages

/** A key token for `name`: as is, or with some characters escaped. */
function keyToken(r: Rng, name: string): string {
  return stringToken(r, name, chance(r, 0.15) ? 0.5 : 0);
}

function validMessage(r: Rng, cols: readonly Column[]): string {
  const compact = chance(r, 0.45);
  const spaced = !compact && chance(r, 0.5);
  const members: string[] = [];
  for (const c of cols) {
    if (chance(r, 0.1)) continue; // missing
    const key = compact ? JSON.stringify(c.name) : keyToken(r, c.name);
    members.push(`${key}${ws(r, spaced)}:${ws(r, spaced)}${randomValue(r, c, spaced)}`);
    if (chance(r, 0.05)) members.push(`${key}:${randomValue(r, c, spaced)}`); // duplicate: the last wins
  }
  if (!compact || chance(r, 0.3)) {
    const extras = int(r, 3);
    for (let i = 0; i < extras; i++) {
      const name = chance(r, 0.5) ? `extra${int(r, 5)}` : randomText(r);
      members.splice(int(r, members.length + 1), 0, `${keyToken(r, name)}:${randomNested(r, 3, spaced)}`);
    }
    // a nested object holding column names, which must not be taken for the columns
    if (cols.length > 0 && chance(r, 0.2)) {
      const c = pick(r, cols);
      members.splice(int(r, members.length + 1), 0, `"nested":{${JSON.stringify(c.name)}:${randomValue(r, c, false)}}`);
    }
  }
  if (!compact && chance(r, 0.3)) {
    for (let i = members.length - 1; i > 0; i--) {
      const j = int(r, i + 1);
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
  }
  if (compact) return `{${members.join(',')}}`;
  return `${ws(r, true)}{${ws(r, true)}${members.join(`${ws(r, true)},${ws(r, true)}`)}${ws(r, true)}}${ws(r, true)}`;
}

const INVALID_UTF8 = [
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe4, 0xb8],
  [0xf0, 0x9f, 0x98],
  [0xc3],
];

const SPLICES = [
  '\\x',
  '\\u12G4',
  "\\'",
  '\\',
  '\u0001',
  '\n',
  '\t',
  ',',
  ',,',
  ':',
  '"',
  '{',
  '}',
  '[',
  ']',
  '0',
  '01',
  '-',
  '.',
  'e',
  '+1',
  'NaN',
  'tru',
  'nul',
  "'a'",
  ' ',
  '\u00a0',
  '\ufeff',
  '\u2028',
  '\\ud800',
];

function mutate(r: Rng, text: string): Buffer {
  let b = Buffer.from(text, 'utf8');
  const times = 1 + int(r, 2);
  for (let t = 0; t < times; t++) {
    const at = int(r, b.length + 1);
    switch (int(r, 6)) {
      case 0:
        b = b.subarray(0, at);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(r, INVALID_UTF8)), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(r, SPLICES), 'utf8'), b.subarray(at)]);
        break;
      case 3:
        if (b.length > 0) b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 3)))]);
        break;
      case 4:
        if (b.length > 0) {
          b = Buffer.from(b);
          b[Math.min(at, b.length - 1)] = int(r, 256);
        }
        break;
      default:
        b = Buffer.concat([b, Buffer.from(pick(r, [' x', '}', ',', '{}', '\u0000', ' ']), 'utf8')]);
    }
  }
  return b;
}

function otherMessage(r: Rng): Buffer {
  const deep = (n: number, open: string, close: string) => `{"a":${open.repeat(n)}1${close.repeat(n)}}`;
  return Buffer.from(
    pick(r, [
      () => '',
      () => ' \n',
      () => '[]',
      () => '[{"a":1}]',
      () => '42',
      () => '"s"',
      () => 'null',
      () => 'true',
      () => '\ufeff{}',
      () => '\ufeff {"id":1}',
      () => '{}',
      () => ' { } ',
      () => deep(510 + int(r, 4), '[', ']'),
      () => deep(255 + int(r, 2), '{"b":', '}'),
    ])(),
    'utf8',
  );
}

export function generateCase(seed: number, k: number): Case {
  const schemaRng = rngOf((seed * 0x9e3779b1) ^ Math.floor(k / PER_SCHEMA));
  const rows = schemaRows(schemaRng);
  const cols = columnsFromDescribe(rows);
  const r = rngOf((seed * 0x85ebca6b) ^ (k * 0xc2b2ae35) ^ 0x27d4eb2f);
  const roll = r();
  let message: Buffer;
  if (roll < 0.8) message = Buffer.from(validMessage(r, cols), 'utf8');
  else if (roll < 0.95) message = mutate(r, validMessage(r, cols));
  else message = otherMessage(r);
  return { rows, message };
}

// ---------------------------------------------------------------------------------------------------
// The oracle: JSON.parse's verdict, a plain reader and the rules of docs/mapping.md, apart from the mapper

type Expected =
  | { ok: true; values: (string | null)[]; missing: number; conversions: number }
  | { ok: false; code: string; field?: string };

/** A number as its source text. */
class Num {
  readonly src: string;
  constructor(src: string) {
    this.src = src;
  }
}

/**
 * Valid JSON text → its value, numbers as Num (their source text), objects with null prototypes (the
 * last of duplicate keys wins). Not JSON.parse for the tree: V8 (Node 24.21 here) can decode an
 * escaped object key wrongly once an earlier parse left a matching key in its cache
 * (nodejs/node#63785: after `{"h":[],"\\\\":0}`, the key of `{"h":1,"\\"":2}` reads back as `\\`).
 * The oracle met it; the mapper decodes keys as lone string tokens, which that bug does not touch.
 */
function readJson(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r') i++;
  };
  const str = (): string => {
    let out = '';
    i++;
    for (;;) {
      const c = text[i++]!;
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = text[i++]!;
      if (e === 'u') {
        out += String.fromCharCode(Number.parseInt(text.slice(i, i + 4), 16));
        i += 4;
      } else out += ({ b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e] ?? e;
    }
  };
  const value = (): unknown => {
    ws();
    const c = text[i]!;
    let v: unknown;
    if (c === '"') v = str();
    else if (c === '{') {
      const o: Record<string, unknown> = Object.create(null);
      i++;
      ws();
      if (text[i] === '}') i++;
      else
        for (;;) {
          ws();
          const k = str();
          ws();
          i++; // :
          o[k] = value();
          ws();
          if (text[i++] === '}') break;
        }
      v = o;
    } else if (c === '[') {
      const a: unknown[] = [];
      i++;
      ws();
      if (text[i] === ']') i++;
      else
        for (;;) {
          a.push(value());
          ws();
          if (text[i++] === ']') break;
        }
      v = a;
    } else if (text.startsWith('true', i)) [v, i] = [true, i + 4];
    else if (text.startsWith('false', i)) [v, i] = [false, i + 5];
    else if (text.startsWith('null', i)) [v, i] = [null, i + 4];
    else {
      const m = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      m.lastIndex = i;
      const src = m.exec(text)![0];
      i += src.length;
      v = new Num(src);
    }
    ws();
    return v;
  };
  return value();
}

/** The raw text of each top-level member's value, by key (the last of duplicates), of valid JSON text. */
function topLevelMembers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = text.indexOf('{') + 1;
  const skipWs = () => {
    while (' \t\n\r'.includes(text[i] ?? 'x')) i++;
  };
  const endOfString = (at: number) => {
    let j = at + 1;
    while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  skipWs();
  if (text[i] === '}') return out;
  for (;;) {
    skipWs();
    const keyEnd = endOfString(i);
    const key = readJson(text.slice(i, keyEnd)) as string;
    i = keyEnd;
    skipWs();
    i++; // :
    skipWs();
    const start = i;
    let depth = 0;
    for (;;) {
      const c = text[i]!;
      if (c === '"') i = endOfString(i);
      else {
        if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') {
          if (depth === 0) break;
          depth--;
        } else if (c === ',' && depth === 0) break;
        i++;
      }
    }
    let end = i;
    while (' \t\n\r'.includes(text[end - 1]!)) end--;
    out.set(key, text.slice(start, end));
    if (text[i] === '}') return out;
    i++;
  }
}

function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    } else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}

const INT_MAX: Record<string, bigint> = {
  tinyint: 127n,
  smallint: 32767n,
  int: 2147483647n,
  bigint: 9223372036854775807n,
  largeint: 170141183460469231731687303715884105727n,
};

/** Exact value of decimal text: digits × 10^-scale, or null when it is not a decimal number. */
function exact(text: string): { neg: boolean; digits: bigint; scale: number } | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  let digitsText = m[2]! + (m[3] ?? '');
  let scale = (m[3] ?? '').length - Number(m[4] ?? 0);
  digitsText = digitsText.replace(/^0+/, '');
  if (digitsText === '') return { neg: false, digits: 0n, scale: 0 };
  // far past any column (the mapper stops at 10^±1001 too)
  scale = Math.max(-2000, Math.min(2000, scale));
  let d = BigInt(digitsText);
  while (scale > 0 && d % 10n === 0n) {
    d /= 10n;
    scale--;
  }
  if (scale < 0) {
    d *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { neg: m[1] === '-', digits: d, scale };
}

function exactText(x: { neg: boolean; digits: bigint; scale: number }): string {
  let s = x.digits.toString();
  if (x.scale > 0) {
    s = s.padStart(x.scale + 1, '0');
    s = `${s.slice(0, -x.scale)}.${s.slice(-x.scale)}`;
  }
  return (x.neg && x.digits !== 0n ? '-' : '') + s;
}

/** Numeric text of a value: a number as written, a numeric string (trimmed) exactly, booleans as 1/0. */
function numberOf(v: unknown): { text: string; written: boolean } | null {
  if (v instanceof Num) return { text: v.src, written: true };
  if (v === true) return { text: '1', written: false };
  if (v === false) return { text: '0', written: false };
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(t)) return { text: t, written: true };
    const x = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t) ? exact(t) : null;
    return x === null ? null : { text: exactText(x), written: false };
  }
  return null;
}

const DT_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

function dateOk(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

/** Normalised datetime text (trailing fraction zeros dropped), for comparing spellings of one value. */
function normDateTime(t: string): string {
  return t.replace(/\.(\d*?)0+(?=$|[Z+-])/, (_m, f: string) => (f === '' ? '' : `.${f}`));
}

class Dlq extends Error {}
const FAIL = Symbol('fail');

function expectedValue(c: Column, v: unknown, raw: string): string | typeof FAIL {
  const t = c.type;
  const k = t.kind;
  switch (k) {
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint':
    case 'largeint': {
      const n = numberOf(v);
      const x = n && exact(n.text);
      if (!x || x.scale > 0) return FAIL;
      const val = x.neg ? -x.digits : x.digits;
      if (val > INT_MAX[k]! || val < -INT_MAX[k]! - 1n) throw new Dlq();
      return val.toString();
    }
    case 'float':
    case 'double': {
      const n = numberOf(v);
      if (!n) return FAIL;
      const max = k === 'float' ? 3.4028234663852886e38 : Number.MAX_VALUE;
      if (!(Math.abs(Number(n.text)) <= max)) throw new Dlq();
      return n.text;
    }
    case 'decimal': {
      const n = numberOf(v);
      const x = n && exact(n.text);
      if (!x) return FAIL;
      if (x.scale > t.scale!) throw new Dlq();
      if ((x.digits / 10n ** BigInt(x.scale)).toString().replace(/^0$/, '').length > t.precision! - t.scale!) {
        throw new Dlq();
      }
      return exactText(x);
    }
    case 'boolean': {
      if (v === true || v === false) return String(v);
      if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase();
      const n = numberOf(v);
      const x = n && exact(n.text);
      if (x && x.scale === 0 && x.digits <= 1n && !(x.neg && x.digits === 1n))
        return x.digits === 1n ? 'true' : 'false';
      return FAIL;
    }
    case 'date':
    case 'datetime':
    case 'timestamptz': {
      if (typeof v !== 'string') return FAIL;
      const m = DT_RE.exec(v.trim());
      if (!m || !dateOk(Number(m[1]), Number(m[2]), Number(m[3]))) return FAIL;
      if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) return FAIL;
      const frac = (m[7] ?? '').replace(/0+$/, '');
      const time = m[4] === undefined ? '' : `${m[4]}:${m[5]}:${m[6] ?? '00'}`;
      const date = `${m[1]}-${m[2]}-${m[3]}`;
      if (k === 'date') return (time === '' || time === '00:00:00') && frac === '' && !m[8] ? date : FAIL;
      if (frac.length > (t.scale ?? 0)) throw new Dlq();
      return `${date} ${time || '00:00:00'}${frac ? `.${frac}` : ''}${m[8] ?? ''}`;
    }
    case 'time': {
      if (typeof v !== 'string') return FAIL;
      const m = /^-?(\d{1,3}):([0-5]\d):([0-5]\d)(?:\.(\d{1,6}))?$/.exec(v.trim());
      return m && Number(m[1]) <= 838 ? v.trim() : FAIL;
    }
    case 'char':
    case 'varchar':
    case 'string':
    case 'varbinary': {
      let text: string;
      if (typeof v === 'string') {
        if (!v.isWellFormed()) throw new Dlq();
        text = v;
      } else if (v instanceof Num) text = v.src;
      else if (typeof v === 'boolean') text = String(v);
      else text = raw.replace(/[\r\n]+/g, ' ');
      if (k !== 'string' && Buffer.byteLength(text, 'utf8') > t.length!) throw new Dlq();
      return text;
    }
    case 'json':
    case 'variant':
    case 'array':
    case 'map':
    case 'struct': {
      const open = k === 'array' ? '[' : k === 'json' || k === 'variant' ? '[{' : '{';
      if (typeof v === 'object' && !(v instanceof Num)) {
        if (open.includes(raw[0]!)) return raw.replace(/[\r\n]+/g, ' ');
        return FAIL;
      }
      if (typeof v === 'string') {
        const inner = v.trim();
        let ok = open.includes(inner[0] ?? '');
        if (ok) {
          try {
            JSON.parse(inner);
          } catch {
            ok = false;
          }
        }
        if (ok) {
          if (!inner.isWellFormed()) throw new Dlq();
          return inner.replace(/[\r\n]+/g, ' ');
        }
      }
      if (k === 'json' || k === 'variant') return raw;
      return FAIL;
    }
    case 'ipv4':
    case 'ipv6': {
      if (typeof v !== 'string') return FAIL;
      const s = v.trim();
      return (k === 'ipv4' ? isIpv4Ref(s) : isIpv6Ref(s)) ? s : FAIL;
    }
    default:
      throw new Error(`fuzz oracle: no rule for ${k}`);
  }
}

function isIpv4Ref(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return m?.slice(1).every((p) => Number(p) <= 255 && (p === '0' || !p.startsWith('0'))) === true;
}

function isIpv6Ref(s: string): boolean {
  if (s.includes('%')) return false;
  try {
    // the WHATWG URL parser knows IPv6 (it canonicalises, so only validity is taken from it)
    new URL(`http://[${s}]/`);
    return /^[0-9A-Fa-f:.]+$/.test(s);
  } catch {
    return false;
  }
}

export function oracle(cols: readonly Column[], message: Buffer): Expected {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(message); // drops a leading BOM
  } catch {
    return { ok: false, code: 'invalid_utf8' };
  }
  try {
    JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_json' };
  }
  const top = readJson(text);
  if (nestingDepth(text) > 512) return { ok: false, code: 'invalid_json' };
  if (typeof top !== 'object' || top === null || Array.isArray(top) || top instanceof Num)
    return { ok: false, code: 'not_object' };
  const raws = topLevelMembers(text);
  const obj = top as Record<string, unknown>;
  const values: (string | null)[] = [];
  let missing = 0;
  let conversions = 0;
  for (const c of cols) {
    const auto = /AUTO_INCREMENT/.test(c.extra);
    const zero = zeroValue(c.type, ZERO_DATE);
    if (!Object.hasOwn(obj, c.name)) {
      if (auto) values.push(null);
      else {
        missing++;
        values.push(zero);
      }
      continue;
    }
    const v = obj[c.name];
    if (v === null) {
      if (c.nullable || auto) values.push(null);
      else {
        conversions++;
        values.push(zero);
      }
      continue;
    }
    let e: string | typeof FAIL;
    try {
      e = expectedValue(c, v, raws.get(c.name)!);
    } catch (err) {
      if (err instanceof Dlq) return { ok: false, code: 'out_of_range', field: c.name };
      throw err;
    }
    if (e === FAIL) {
      conversions++;
      values.push(zero);
    } else values.push(e);
  }
  return { ok: true, values, missing, conversions };
}

// ---------------------------------------------------------------------------------------------------
// Reading encoded lines back

/** A CSV line → fields ('\\N' bare = null), per the encoder's enclose `"` and escape `\\`. */
function readCsv(line: string, n: number): (string | null)[] {
  const out: (string | null)[] = [];
  let i = 0;
  for (let f = 0; f < n; f++) {
    if (f > 0) {
      assert.equal(line[i], ',', `separator before field ${f} at ${i}`);
      i++;
    }
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        assert.ok(i < line.length, `unterminated enclosed field ${f}`);
        const ch = line[i]!;
        if (ch === '\\') {
          v += line[i + 1];
          i += 2;
        } else if (ch === '"') {
          i++;
          break;
        } else {
          v += ch;
          i++;
        }
      }
      out.push(v);
    } else {
      let j = i;
      while (j < line.length && line[j] !== ',') j++;
      const v = line.slice(i, j);
      assert.ok(!/["\n\r]/.test(v), `bare field ${f} holds a quote or line break: ${JSON.stringify(v)}`);
      out.push(v === '\\N' ? null : v);
      i = j;
    }
  }
  assert.equal(i, line.length, 'trailing data after the last field');
  return out;
}

function sameJson(a: string, b: unknown, what: string): void {
  assert.deepEqual(readJson(a), b, what);
}

function checkReadBack(cols: readonly Column[], values: readonly (string | null)[], json: string, csv: string): void {
  assert.ok(!json.includes('\n') && !json.includes('\r'), 'JSON line holds a line break');
  JSON.parse(json); // valid JSON
  const obj = readJson(json) as Record<string, unknown>;
  assert.deepEqual(Object.keys(obj).sort(), cols.map((c) => c.name).sort(), 'JSON line keys');
  const fields = readCsv(csv, cols.length);
  cols.forEach((c, i) => {
    const v = values[i]!;
    const got = obj[c.name];
    const cls = valueClass(c.type);
    const what = `column ${JSON.stringify(c.name)} (${cls}) value ${JSON.stringify(v)}`;
    if (v === null) {
      assert.equal(got, null, `${what}: JSON null`);
      assert.equal(fields[i], null, `${what}: CSV \\N`);
      return;
    }
    assert.equal(fields[i], v, `${what}: CSV field`);
    if (cls === 'string') assert.equal(got, v, `${what}: JSON string`);
    else if (cls === 'json') sameJson(v, got, `${what}: nested JSON`);
    else if (got instanceof Num) assert.equal(got.src, v, `${what}: number digits`);
    else assert.equal(String(got), v, `${what}: JSON literal`);
  });
}

// ---------------------------------------------------------------------------------------------------
// The check

function mapperOf(cols: Column[]): Mapper {
  return new Mapper(tableSchema(cols), { zeroDate: ZERO_DATE });
}

/** Runs every property on one case; throws an AssertionError describing the first difference. */
/** Mappers and row buffers kept for one schema's cases, as the pipeline keeps them across messages. */
export interface Kept {
  schema: string;
  ref: Mapper;
  paths: Array<{ enc: RowEncoder; m: Mapper; plan: RowPlan; out: RowBuffer }>;
}

function keep(rows: DescribeRow[], kept: Kept | undefined): Kept {
  const schema = JSON.stringify(rows);
  if (kept?.schema === schema) return kept;
  const cols = columnsFromDescribe(rows);
  const ref = mapperOf(cols);
  const paths = (['json', 'csv'] as const).map((format) => {
    const m = mapperOf(cols);
    const enc = createEncoder(format, m.columns);
    return { enc, m, plan: m.planFor(enc), out: new RowBuffer(16) };
  });
  return { schema, ref, paths };
}

/**
 * Runs every property on one case; throws an AssertionError describing the first difference. With
 * `kept`, the mappers and row buffers of the schema's earlier cases are used again (state carried
 * from message to message is checked too); returns what to pass next time.
 */
export function checkCase(rows: DescribeRow[], message: Buffer, kept?: Kept): Kept {
  const k = keep(rows, kept);
  const ref = k.ref;
  const want: MapResult = ref.map(message);
  const refStats = ref.drainStats();
  const lines: string[] = [];
  for (const { enc, m, plan, out } of k.paths) {
    if (out.rowCount > 64) out.clear();
    const rowsBefore = out.rowCount;
    const posBefore = out.pos;
    const earlier = rowsBefore > 0 ? out.row(rowsBefore - 1) : '';
    const got = m.mapInto(message, plan, out);
    if (!want.ok) {
      assert.deepEqual(got, want, `${enc.format}: mapInto's DLQ verdict differs from map()'s`);
      assert.deepEqual([out.rowCount, out.pos], [rowsBefore, posBefore], `${enc.format}: a dead letter left bytes`);
    } else {
      assert.equal(got, undefined, `${enc.format}: mapInto dead-lettered what map() took: ${JSON.stringify(got)}`);
      const line = enc.encode(want.values, want.clean);
      assert.equal(out.rowCount, rowsBefore + 1);
      assert.equal(out.row(rowsBefore), line, `${enc.format}: mapInto's row differs from encode(map())`);
      assert.equal(enc.encode(want.values), line, `${enc.format}: the clean flags changed the encoding`);
      lines.push(line);
    }
    if (rowsBefore > 0) assert.equal(out.row(rowsBefore - 1), earlier, `${enc.format}: an earlier row changed`);
    assert.deepEqual(m.drainStats(), refStats, `${enc.format}: mapInto's statistics differ from map()'s`);
  }
  const exp = oracle(ref.columns, message);
  if (!exp.ok) {
    assert.equal(want.ok ? 'a row' : want.code, exp.code, 'DLQ verdict differs from the oracle');
    if (exp.field !== undefined && !want.ok) {
      assert.ok(want.reason.includes(`"${exp.field}"`), `reason should name ${exp.field}: ${want.reason}`);
    }
    return k;
  }
  assert.ok(want.ok, `map() dead-lettered a message the oracle maps: ${want.ok ? '' : want.reason}`);
  if (!want.ok) return k;
  ref.columns.forEach((c, i) => {
    const a = want.values[i]!;
    const b = exp.values[i]!;
    const dt = a !== null && b !== null && (c.type.kind === 'datetime' || c.type.kind === 'timestamptz');
    const got = dt ? normDateTime(a) : a;
    const oracleSays = dt ? normDateTime(b) : b;
    // the values in the first line: the shrinker keeps a case that fails with the same first line
    assert.equal(
      got,
      oracleSays,
      `column ${JSON.stringify(c.name)} ${c.type.kind}: ${JSON.stringify(got)} ≠ ${JSON.stringify(oracleSays)}`,
    );
  });
  const missing = refStats.missing.reduce((s, m) => s + m.count, 0);
  const conversions = refStats.conversions.reduce((s, m) => s + m.count, 0);
  assert.deepEqual({ missing, conversions }, { missing: exp.missing, conversions: exp.conversions }, 'counts');
  checkReadBack(ref.columns, want.values, lines[0]!, lines[1]!);
  return k;
}

function fails(rows: DescribeRow[], message: Buffer): string | undefined {
  try {
    checkCase(rows, message);
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/** The smallest columns and message (bytes removed, chunk by chunk) that still fail with the same first line. */
export function shrink(rows: DescribeRow[], message: Buffer): Case {
  const why = fails(rows, message);
  if (why === undefined) return { rows, message };
  const same = (r: DescribeRow[], m: Buffer) => fails(r, m) === why;
  for (let i = rows.length - 1; i >= 0 && rows.length > 1; i--) {
    const fewer = rows.filter((_, j) => j !== i);
    if (same(fewer, message)) rows = fewer;
  }
  for (let chunk = message.length >> 1; chunk >= 1; chunk >>= 1) {
    for (let at = 0; at + chunk <= message.length; ) {
      const smaller = Buffer.concat([message.subarray(0, at), message.subarray(at + chunk)]);
      if (same(rows, smaller)) message = smaller;
      else at += chunk;
    }
  }
  return { rows, message };
}

export interface FuzzReport {
  seed: number;
  cases: number;
  rows: number;
  dlq: Record<string, number>;
}

/** Runs cases [from, from + count) of `seed`; throws with the seed, case and shrunk input on the first failure. */
export function runFuzz(seed: number, count: number, from = 0): FuzzReport {
  const report: FuzzReport = { seed, cases: 0, rows: 0, dlq: {} };
  let kept: Kept | undefined;
  for (let k = from; k < from + count; k++) {
    const { rows, message } = generateCase(seed, k);
    try {
      kept = checkCase(rows, message, kept);
    } catch (err) {
      // the shrinker uses fresh mappers: if those pass, the state kept from earlier cases mattered
      const fresh =
        fails(rows, message) === undefined ? ' (passes with fresh mappers: earlier cases of the schema matter)' : '';
      const small = shrink(rows, message);
      throw new Error(
        `mapper fuzz: seed ${seed} case ${k} failed${fresh} (replay: node test/unit/mapper-fuzz.ts --seed ${seed} --case ${k})\n` +
          `${(err as Error).message}\n` +
          `smallest failing input: columns ${JSON.stringify(small.rows.map((r) => [r.Field, r.Type, r.Null, r.Extra]))}\n` +
          `message (utf8): ${JSON.stringify(small.message.toString('utf8'))}\nmessage (hex): ${small.message.toString('hex')}`,
      );
    }
    report.cases++;
    const exp = oracle(columnsFromDescribe(rows), message);
    if (exp.ok) report.rows++;
    else report.dlq[exp.code] = (report.dlq[exp.code] ?? 0) + 1;
  }
  return report;
}

if (import.meta.main) {
  const opts = CLI.parse();
  const started = Date.now();
  // a case is replayed from the first case of its schema: the mappers carry state from those
  const from = opts.case === undefined ? 0 : opts.case - (opts.case % PER_SCHEMA);
  const count = opts.case === undefined ? opts.cases : opts.case - from + 1;
  console.log(`mapper fuzz: seed ${opts.seed}, cases ${from}..${from + count - 1}`);
  const step = 50_000;
  const total: FuzzReport = { seed: opts.seed, cases: 0, rows: 0, dlq: {} };
  for (let at = from; at < from + count; at += step) {
    const r = runFuzz(opts.seed, Math.min(step, from + count - at), at);
    total.cases += r.cases;
    total.rows += r.rows;
    for (const [k, v] of Object.entries(r.dlq)) total.dlq[k] = (total.dlq[k] ?? 0) + v;
    if (count > step) console.log(`  ${total.cases} cases, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  console.log(`ok: ${JSON.stringify(total)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
