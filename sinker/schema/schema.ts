// Builds the table schema from DESCRIBE rows or the manual column list (both through the same type
// parser), and hashes it so the operator and the refresh loop can tell when the load shape changed.
import { createHash } from 'node:crypto';
import type { ColumnConfig } from '../config/types.ts';
import { formatDorisType, parseDorisType, TypeParseError } from './parse-type.ts';
import type { Column, TableSchema } from './types.ts';

/** One DESCRIBE row as mysql2 returns it (every value a string or SQL NULL). */
export interface DescribeRow {
  Field: string;
  Type: string;
  Null: string;
  Key: string;
  Default: string | null;
  Extra: string | null;
}

export class SchemaError extends Error {
  /** True when asking again cannot help (no such table, access denied, a type no loader knows). */
  readonly permanent: boolean;
  constructor(message: string, permanent = true) {
    super(message);
    this.name = 'SchemaError';
    this.permanent = permanent;
  }
}

/** Columns Doris keeps to itself (`show_hidden_columns=true` shows them); never loaded by the sinker. */
export function isHiddenColumn(name: string): boolean {
  return name.startsWith('__DORIS_');
}

function yes(value: string): boolean {
  const v = value.trim().toLowerCase();
  return v === 'yes' || v === 'true' || v === 'pri';
}

/** DESCRIBE rows → columns in table order. Hidden columns and variant sub-column rows (`v.a`) are dropped. */
export function columnsFromDescribe(rows: readonly DescribeRow[]): Column[] {
  const columns: Column[] = [];
  const names = new Set<string>();
  const variants = new Set<string>();
  for (const [i, row] of rows.entries()) {
    const name = row.Field;
    if (typeof name !== 'string' || name === '') throw new SchemaError(`DESCRIBE row ${i + 1} has no Field`);
    if (isHiddenColumn(name)) continue;
    // describe_extend_variant_column lists a variant's paths as extra rows named "<variant>.<path>".
    // Only a variant's: a dot is legal in any column name, so `a.b` after a plain `a` is a column.
    const dot = name.indexOf('.');
    if (dot > 0 && variants.has(name.slice(0, dot))) continue;
    let type: Column['type'];
    try {
      type = parseDorisType(row.Type);
    } catch (err) {
      throw new SchemaError(`column ${name}: ${(err as Error).message}`);
    }
    names.add(name);
    if (type.kind === 'variant') variants.add(name);
    columns.push({
      name,
      type,
      nullable: yes(row.Null ?? ''),
      isKey: yes(row.Key ?? ''),
      default: row.Default ?? null,
      extra: row.Extra ?? '',
    });
  }
  if (columns.length === 0) throw new SchemaError('DESCRIBE returned no columns');
  return columns;
}

/** The manual column list from the config → columns. Errors name the entry: `schema.manual.columns[2].type: ...`. */
export function columnsFromManual(list: readonly ColumnConfig[]): Column[] {
  const seen = new Set<string>();
  return list.map((c, i) => {
    const at = `schema.manual.columns[${i}]`;
    if (seen.has(c.name)) throw new SchemaError(`${at}.name: column "${c.name}" is listed twice`);
    seen.add(c.name);
    let type: Column['type'];
    try {
      type = parseDorisType(c.type);
    } catch (err) {
      const detail = err instanceof TypeParseError ? err.message : String(err);
      throw new SchemaError(`${at}.type: ${detail}`);
    }
    return { name: c.name, type, nullable: c.nullable ?? true, isKey: false, default: null, extra: '' };
  });
}

/** Columns Doris fills itself: generated columns, and auto-increment ones (the sinker leaves both out). */
export function isGeneratedColumn(c: Column): boolean {
  return /\b(AUTO_INCREMENT|GENERATED)\b/i.test(c.extra);
}

/**
 * Stable hash of what decides how a message becomes a row: column order, names, canonical types,
 * nullability and whether Doris generates the column. Not keys, defaults, bloom filters or comments,
 * which change nothing for the sinker. 16 hex digits (64 bits).
 */
export function schemaHash(columns: readonly Column[]): string {
  const canonical = columns.map((c) => [c.name, formatDorisType(c.type), c.nullable, isGeneratedColumn(c)]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

export function tableSchema(columns: Column[]): TableSchema {
  return { columns, hash: schemaHash(columns) };
}

export interface SchemaDiff {
  added: string[];
  dropped: string[];
  /** `name: old type → new type` (nullability shown as ` not null`). */
  changed: string[];
  /** The columns both lists hold are in another order. */
  reordered: boolean;
}

/** What a schema change changed, for the line that reports it. Names compare as Doris does, ignoring case. */
export function schemaDiff(before: readonly Column[], after: readonly Column[]): SchemaDiff {
  const key = (c: Column) => c.name.toLowerCase();
  const spell = (c: Column) => `${formatDorisType(c.type)}${c.nullable ? '' : ' not null'}`;
  const old = new Map(before.map((c) => [key(c), c]));
  const now = new Map(after.map((c) => [key(c), c]));
  const changed: string[] = [];
  for (const c of after) {
    const o = old.get(key(c));
    if (o && spell(o) !== spell(c)) changed.push(`${c.name}: ${spell(o)} → ${spell(c)}`);
  }
  const keptBefore = before.filter((c) => now.has(key(c))).map(key);
  const keptAfter = after.filter((c) => old.has(key(c))).map(key);
  return {
    added: after.filter((c) => !old.has(key(c))).map((c) => c.name),
    dropped: before.filter((c) => !now.has(key(c))).map((c) => c.name),
    changed,
    reordered: keptBefore.some((k, i) => keptAfter[i] !== k),
  };
}
