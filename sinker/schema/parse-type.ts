// Parses a Doris type as DESCRIBE prints it, in any version's spelling, into the normalized model:
// lower-case current (`decimal(18,4)`, `datetime(3)`, `text`, `json`), upper-case 2.x (`DECIMAL(10, 2)`,
// `ARRAY<TEXT>`), 1.2's v2/v3 names (`DATEV2`, `DATETIMEV2(3)`, `DECIMALV3(5, 1)`, `JSONB`, `INT(11)`,
// `ARRAY<NOT_NULL(INT(11))>`), and nested array/map/struct/variant/agg_state.
import type { DorisType, StructField, TypeKind } from './types.ts';

export class TypeParseError extends Error {}

/** Doris's VARCHAR upper bound, used for `varchar`, `varchar(*)` and `varbinary` without a length. */
export const MAX_VARCHAR_LENGTH = 65533;
/** Precision and scale Doris gives a DECIMAL declared without them. */
export const DEFAULT_DECIMAL_PRECISION = 9;

const INTEGER_NAMES: Record<string, TypeKind> = {
  tinyint: 'tinyint',
  smallint: 'smallint',
  int: 'int',
  integer: 'int',
  bigint: 'bigint',
  largeint: 'largeint',
};

const PLAIN_NAMES: Record<string, TypeKind> = {
  boolean: 'boolean',
  bool: 'boolean',
  float: 'float',
  double: 'double',
  date: 'date',
  datev1: 'date',
  datev2: 'date',
  string: 'string',
  text: 'string',
  json: 'json',
  jsonb: 'json',
  ipv4: 'ipv4',
  ipv6: 'ipv6',
  hll: 'hll',
  bitmap: 'bitmap',
  quantile_state: 'quantile_state',
};

const DECIMAL_NAMES = new Set([
  'decimal',
  'decimalv2',
  'decimalv3',
  'decimal32',
  'decimal64',
  'decimal128',
  'decimal128i',
  'decimal256',
  'numeric',
]);
const DATETIME_NAMES = new Set(['datetime', 'datetimev1', 'datetimev2']);
const TIME_NAMES = new Set(['time', 'timev1', 'timev2']);

class Parser {
  private pos = 0;
  private readonly src: string;

  constructor(src: string) {
    this.src = src;
  }

  fail(what: string): never {
    throw new TypeParseError(`cannot parse Doris type "${this.src}": ${what} at character ${this.pos}`);
  }

  ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }

  peek(): string {
    this.ws();
    return this.src[this.pos] ?? '';
  }

  eat(ch: string): boolean {
    if (this.peek() === ch) {
      this.pos++;
      return true;
    }
    return false;
  }

  expect(ch: string): void {
    if (!this.eat(ch)) this.fail(`expected "${ch}"`);
  }

  ident(): string {
    this.ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos));
    if (!m) this.fail('expected a type name');
    this.pos += m[0].length;
    return m[0];
  }

  /** A struct field name: an identifier, a back-quoted name, or anything up to the `:`. */
  fieldName(): string {
    this.ws();
    if (this.src[this.pos] === '`') {
      const end = this.src.indexOf('`', this.pos + 1);
      if (end < 0) this.fail('unterminated `name`');
      const name = this.src.slice(this.pos + 1, end);
      this.pos = end + 1;
      return name;
    }
    const colon = this.src.indexOf(':', this.pos);
    if (colon < 0) this.fail('expected "name:type" in struct');
    const name = this.src.slice(this.pos, colon).trim();
    if (name === '') this.fail('empty struct field name');
    this.pos = colon;
    return name;
  }

  int(): number {
    this.ws();
    const m = /^\d+/.exec(this.src.slice(this.pos));
    if (!m) this.fail('expected a number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  /** Optional `(n[, m])` or `(*)`; returns the numbers, `[]` for `(*)`, undefined when absent. */
  args(): number[] | undefined {
    if (this.peek() !== '(') return undefined;
    this.pos++;
    if (this.eat('*')) {
      this.expect(')');
      return [];
    }
    const out = [this.int()];
    while (this.eat(',')) out.push(this.int());
    this.expect(')');
    return out;
  }

  /** The verbatim text inside `<...>` (variant, agg_state), honouring nested brackets and quotes. */
  angleText(): string {
    this.expect('<');
    const start = this.pos;
    let depth = 1;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '"' || c === "'") {
        const end = this.src.indexOf(c, this.pos + 1);
        if (end < 0) this.fail('unterminated quote');
        this.pos = end + 1;
        continue;
      }
      if (c === '<' || c === '(') depth++;
      else if (c === '>' || c === ')') {
        depth--;
        if (depth === 0) {
          const text = this.src.slice(start, this.pos).trim();
          this.pos++;
          return text;
        }
      }
      this.pos++;
    }
    return this.fail('unterminated "<"');
  }

  /** Trailing `not null` / `null` on a nested type (agg_state arguments, newer nested spellings). */
  nullability(t: DorisType): DorisType {
    const rest = this.src.slice(this.pos);
    const m = /^\s*(not\s+null|null)\b/i.exec(rest);
    if (m) {
      this.pos += m[0].length;
      if (/^not/i.test(m[1]!)) t.notNull = true;
    }
    return t;
  }

  /** Skip `COMMENT '...'` after a struct field's type. */
  comment(): void {
    const m = /^\s*comment\s+/i.exec(this.src.slice(this.pos));
    if (!m) return;
    this.pos += m[0].length;
    const q = this.src[this.pos];
    if (q !== "'" && q !== '"') this.fail('expected a quoted comment');
    const end = this.src.indexOf(q, this.pos + 1);
    if (end < 0) this.fail('unterminated comment');
    this.pos = end + 1;
  }

  type(): DorisType {
    const raw = this.ident();
    const name = raw.toLowerCase();
    if (name === 'not_null') {
      this.expect('(');
      const inner = this.type();
      this.expect(')');
      inner.notNull = true;
      return inner;
    }
    const integer = INTEGER_NAMES[name];
    if (integer) {
      this.args(); // display width, e.g. INT(11): meaningless for loading
      return this.nullability({ kind: integer });
    }
    const plain = PLAIN_NAMES[name];
    if (plain) {
      if (this.peek() === '(') this.fail(`unexpected "(" after ${raw}`);
      return this.nullability({ kind: plain });
    }
    if (DECIMAL_NAMES.has(name)) {
      const a = this.args() ?? [];
      const precision = a[0] ?? DEFAULT_DECIMAL_PRECISION;
      const scale = a[1] ?? 0;
      if (precision < 1 || precision > 76) this.fail(`decimal precision ${precision} outside 1..76`);
      if (scale > precision) this.fail(`decimal scale ${scale} greater than precision ${precision}`);
      return this.nullability({ kind: 'decimal', precision, scale });
    }
    if (DATETIME_NAMES.has(name) || TIME_NAMES.has(name) || name === 'timestamptz') {
      const a = this.args() ?? [];
      const scale = a[0] ?? 0;
      if (scale > 6) this.fail(`fractional-second precision ${scale} greater than 6`);
      const kind: TypeKind = DATETIME_NAMES.has(name) ? 'datetime' : TIME_NAMES.has(name) ? 'time' : 'timestamptz';
      return this.nullability({ kind, scale });
    }
    if (name === 'char' || name === 'varchar' || name === 'varbinary' || name === 'binary') {
      const a = this.args();
      const dflt = name === 'char' ? 1 : MAX_VARCHAR_LENGTH;
      const length = a === undefined || a.length === 0 ? dflt : a[0]!;
      const kind: TypeKind = name === 'char' ? 'char' : name === 'varchar' ? 'varchar' : 'varbinary';
      return this.nullability({ kind, length });
    }
    if (name === 'array') {
      this.expect('<');
      const element = this.type();
      this.expect('>');
      return this.nullability({ kind: 'array', element });
    }
    if (name === 'map') {
      this.expect('<');
      const key = this.type();
      this.expect(',');
      const value = this.type();
      this.expect('>');
      return this.nullability({ kind: 'map', key, value });
    }
    if (name === 'struct') {
      this.expect('<');
      const fields: StructField[] = [];
      do {
        // Doris names are case-insensitive, and upper-case profiles may print them upper-cased.
        const fname = this.fieldName().toLowerCase();
        this.expect(':');
        const type = this.type();
        this.comment();
        fields.push({ name: fname, type });
      } while (this.eat(','));
      this.expect('>');
      return this.nullability({ kind: 'struct', struct: fields });
    }
    if (name === 'variant') {
      const t: DorisType = { kind: 'variant' };
      if (this.peek() === '<') t.detail = this.angleText();
      return this.nullability(t);
    }
    if (name === 'agg_state') {
      return this.nullability({ kind: 'agg_state', detail: this.peek() === '<' ? this.angleText() : '' });
    }
    return this.fail(`unknown type name "${raw}"`);
  }

  whole(): DorisType {
    const t = this.type();
    this.ws();
    if (this.pos !== this.src.length) this.fail('unexpected text after the type');
    return t;
  }
}

/** Parses one DESCRIBE `Type` value (or a manual column's `type`). Throws TypeParseError naming the problem. */
export function parseDorisType(spelling: string): DorisType {
  if (typeof spelling !== 'string' || spelling.trim() === '') throw new TypeParseError('empty Doris type');
  return new Parser(spelling.trim()).whole();
}

/** The canonical (current Doris, lower-case) spelling of a type: stable input for hashes and logs. */
export function formatDorisType(t: DorisType): string {
  const nn = t.notNull ? ' not null' : '';
  switch (t.kind) {
    case 'decimal':
      return `decimal(${t.precision},${t.scale})${nn}`;
    case 'datetime':
    case 'time':
    case 'timestamptz':
      return (t.scale ? `${t.kind}(${t.scale})` : t.kind) + nn;
    case 'char':
    case 'varchar':
    case 'varbinary':
      return `${t.kind}(${t.length})${nn}`;
    case 'string':
      return `text${nn}`;
    case 'array':
      return `array<${formatDorisType(t.element!)}>${nn}`;
    case 'map':
      return `map<${formatDorisType(t.key!)},${formatDorisType(t.value!)}>${nn}`;
    case 'struct':
      return `struct<${t.struct!.map((f) => `${f.name}:${formatDorisType(f.type)}`).join(',')}>${nn}`;
    case 'variant':
    case 'agg_state':
      return (t.detail ? `${t.kind}<${t.detail}>` : t.kind) + nn;
    default:
      return t.kind + nn;
  }
}
