// The Doris column type model: parse a type as written in DDL, spell it as DESCRIBE does in each
// profile (doris-stream-load.md §8), and map it onto an equivalent MariaDB column type.
import type { Profile } from './profile.ts';

export type BaseType =
  | 'boolean'
  | 'tinyint'
  | 'smallint'
  | 'int'
  | 'bigint'
  | 'largeint'
  | 'float'
  | 'double'
  | 'decimal'
  | 'date'
  | 'datetime'
  | 'char'
  | 'varchar'
  | 'string'
  | 'json'
  | 'other';

export interface DorisType {
  base: BaseType;
  /** decimal precision / char & varchar byte length / datetime fractional digits. */
  precision: number;
  scale: number;
  /** Lower-case source text for types the emulator stores as text without checking (array, map, hll, …). */
  raw: string;
}

const INT_ALIASES: Record<string, BaseType> = {
  boolean: 'boolean',
  bool: 'boolean',
  tinyint: 'tinyint',
  smallint: 'smallint',
  int: 'int',
  integer: 'int',
  bigint: 'bigint',
  largeint: 'largeint',
  float: 'float',
  double: 'double',
};

/** Parses `DECIMAL(18, 4)`, `datetimev2(3)`, `VARCHAR(256)`, `INT(11)`, `array<int>`, … */
export function parseDorisType(text: string): DorisType {
  const t = text.trim().toLowerCase().replace(/\s+/g, ' ');
  const m = /^([a-z_0-9]+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(t);
  if (!m) return { base: 'other', precision: 0, scale: 0, raw: t.replace(/\s*,\s*/g, ',') };
  const name = m[1]!;
  const a = m[2] === undefined ? undefined : Number(m[2]);
  const b = m[3] === undefined ? undefined : Number(m[3]);
  const simple = INT_ALIASES[name];
  if (simple) return { base: simple, precision: 0, scale: 0, raw: name };
  switch (name) {
    case 'decimal':
    case 'decimalv2':
    case 'decimalv3':
    case 'numeric': {
      const precision = a ?? (name === 'decimalv2' ? 27 : 9);
      const scale = b ?? (a === undefined && name === 'decimalv2' ? 9 : 0);
      if (precision < 1 || precision > 38)
        throw new Error(`decimal precision ${precision} out of range 1..38 in "${text}"`);
      if (scale > precision) throw new Error(`decimal scale ${scale} greater than precision ${precision} in "${text}"`);
      return { base: 'decimal', precision, scale, raw: 'decimal' };
    }
    case 'date':
    case 'datev2':
      return { base: 'date', precision: 0, scale: 0, raw: 'date' };
    case 'datetime':
    case 'datetimev2': {
      const p = a ?? 0;
      if (p > 6) throw new Error(`datetime precision ${p} out of range 0..6 in "${text}"`);
      return { base: 'datetime', precision: p, scale: 0, raw: 'datetime' };
    }
    case 'char':
      return { base: 'char', precision: a ?? 1, scale: 0, raw: 'char' };
    case 'varchar':
      return { base: 'varchar', precision: a ?? 65533, scale: 0, raw: 'varchar' };
    case 'string':
    case 'text':
      return { base: 'string', precision: 0, scale: 0, raw: 'text' };
    case 'json':
    case 'jsonb':
      return { base: 'json', precision: 0, scale: 0, raw: 'json' };
    default:
      return { base: 'other', precision: 0, scale: 0, raw: t.replace(/\s*,\s*/g, ',') };
  }
}

/** The `Type` column of DESCRIBE in the given profile. */
export function spellType(t: DorisType, p: Profile): string {
  const style = p.typeSpelling;
  const up = (s: string) => (style === 'lower' ? s : s.toUpperCase());
  const comma = style === 'lower' ? ',' : ', ';
  switch (t.base) {
    case 'decimal':
      if (style === 'v1') return `DECIMALV3(${t.precision}, ${t.scale})`;
      return `${up('decimal')}(${t.precision}${comma}${t.scale})`;
    case 'date':
      return style === 'v1' ? 'DATEV2' : up('date');
    case 'datetime':
      if (style === 'v1') return `DATETIMEV2(${t.precision})`;
      return t.precision === 0 ? up('datetime') : `${up('datetime')}(${t.precision})`;
    case 'char':
    case 'varchar':
      return `${up(t.base)}(${t.precision})`;
    case 'string':
      return up('text');
    case 'json':
      return style === 'v1' ? 'JSONB' : up('json');
    case 'other':
      return style === 'lower' ? t.raw : t.raw.toUpperCase();
    default:
      return up(t.base);
  }
}

/** PrimitiveType name as the FE's `_schema` REST API prints it (current Doris: v2 dates, sized decimals). */
export function primitiveTypeName(t: DorisType): string {
  switch (t.base) {
    case 'decimal':
      return t.precision <= 9 ? 'DECIMAL32' : t.precision <= 18 ? 'DECIMAL64' : 'DECIMAL128';
    case 'date':
      return 'DATEV2';
    case 'datetime':
      return 'DATETIMEV2';
    case 'json':
      return 'JSONB';
    case 'other': {
      const head = /^[a-z_]+/.exec(t.raw)?.[0] ?? t.raw;
      return head.toUpperCase();
    }
    default:
      return t.base.toUpperCase();
  }
}

/** A MariaDB column type that holds every value the Doris type accepts. */
export function mariadbType(t: DorisType): string {
  switch (t.base) {
    case 'boolean':
      return 'TINYINT(1)';
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint':
      return t.base.toUpperCase();
    case 'largeint':
      return 'DECIMAL(39,0)';
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'decimal':
      return `DECIMAL(${t.precision},${t.scale})`;
    case 'date':
      return 'DATE';
    case 'datetime':
      return `DATETIME(${t.precision})`;
    case 'char':
    case 'varchar':
      // Doris lengths are bytes; MariaDB's are characters, so n characters always hold n bytes.
      return t.precision <= 1024 ? `VARCHAR(${t.precision})` : 'MEDIUMTEXT';
    default:
      return 'LONGTEXT';
  }
}
