// Doris CREATE TABLE → table schema (columns with Doris types, keys model). Handles what users write:
// backticks, comments, IF NOT EXISTS, db-qualified names, nested types, aggregation types, NULL /
// NOT NULL, DEFAULT, AUTO_INCREMENT, COMMENT, INDEX clauses, key model, PARTITION/DISTRIBUTED/PROPERTIES.
import { type DorisType, parseDorisType } from './doris-types.ts';

export type KeysType = 'DUPLICATE' | 'UNIQUE' | 'AGGREGATE';

export interface ColumnDef {
  name: string;
  type: DorisType;
  /** The type as written, for error messages. */
  typeText: string;
  nullable: boolean;
  isKey: boolean;
  /** Default literal as DESCRIBE shows it; null when none. */
  defaultValue: string | null;
  /** SUM, MAX, MIN, REPLACE, … for AGGREGATE value columns; null otherwise. */
  aggregation: string | null;
  autoIncrement: boolean;
  comment: string;
}

export interface TableSchema {
  db: string | undefined;
  name: string;
  keysType: KeysType;
  keyColumns: string[];
  columns: ColumnDef[];
  properties: Record<string, string>;
}

const AGGREGATIONS = new Set([
  'SUM',
  'MAX',
  'MIN',
  'REPLACE',
  'REPLACE_IF_NOT_NULL',
  'HLL_UNION',
  'BITMAP_UNION',
  'QUANTILE_UNION',
  'GENERIC',
]);

interface Token {
  kind: 'word' | 'ident' | 'string' | 'punct';
  text: string;
  pos: number;
}

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === '#') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === '`') {
      const end = sql.indexOf('`', i + 1);
      if (end < 0) throw new Error(`unterminated \` at offset ${i}`);
      out.push({ kind: 'ident', text: sql.slice(i + 1, end), pos: i });
      i = end + 1;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let s = '';
      while (j < sql.length && sql[j] !== c) {
        if (sql[j] === '\\' && j + 1 < sql.length) {
          s += sql[j + 1];
          j += 2;
        } else {
          s += sql[j];
          j++;
        }
      }
      if (j >= sql.length) throw new Error(`unterminated string at offset ${i}`);
      out.push({ kind: 'string', text: s, pos: i });
      i = j + 1;
    } else if (/[A-Za-z0-9_$.\-+]/.test(c)) {
      let j = i;
      // A word: identifiers, numbers (possibly signed or decimal); `.` separates db.table so it is punct.
      if (c === '.') {
        out.push({ kind: 'punct', text: '.', pos: i });
        i++;
        continue;
      }
      j++;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      if (/[-+0-9]/.test(c)) while (j < sql.length && /[0-9.eE]/.test(sql[j]!)) j++;
      out.push({ kind: 'word', text: sql.slice(i, j), pos: i });
      i = j;
    } else {
      out.push({ kind: 'punct', text: c, pos: i });
      i++;
    }
  }
  return out;
}

class Parser {
  private i = 0;
  private readonly toks: Token[];
  private readonly sql: string;
  constructor(toks: Token[], sql: string) {
    this.toks = toks;
    this.sql = sql;
  }

  peek(offset = 0): Token | undefined {
    return this.toks[this.i + offset];
  }
  next(): Token {
    const t = this.toks[this.i++];
    if (!t) throw new Error('unexpected end of DDL');
    return t;
  }
  isWord(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t !== undefined && t.kind === 'word' && t.text.toUpperCase() === text;
  }
  isPunct(text: string): boolean {
    const t = this.peek();
    return t !== undefined && t.kind === 'punct' && t.text === text;
  }
  expectWord(text: string): void {
    const t = this.next();
    if (t.kind !== 'word' || t.text.toUpperCase() !== text) this.fail(t, `expected ${text}`);
  }
  expectPunct(text: string): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) this.fail(t, `expected "${text}"`);
  }
  name(): string {
    const t = this.next();
    if (t.kind !== 'word' && t.kind !== 'ident') this.fail(t, 'expected a name');
    return t.text;
  }
  fail(t: Token, msg: string): never {
    const line = this.sql.slice(0, t.pos).split('\n').length;
    throw new Error(`DDL line ${line}: ${msg}, found "${t.text}"`);
  }
  /** Skips a balanced (...) group starting at the current "(". */
  skipGroup(): void {
    this.expectPunct('(');
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.kind === 'punct' && t.text === '(') depth++;
      if (t.kind === 'punct' && t.text === ')') depth--;
    }
  }
  nameList(): string[] {
    this.expectPunct('(');
    const names: string[] = [];
    while (!this.isPunct(')')) {
      names.push(this.name());
      if (this.isPunct(',')) this.next();
    }
    this.next();
    return names;
  }
  /** Type text up to the end of the type: balances <> and (). */
  typeText(): string {
    let text = this.next().text;
    let angle = 0;
    for (;;) {
      const t = this.peek();
      if (!t) break;
      if (t.kind === 'punct' && t.text === '(') {
        const start = this.i;
        this.skipGroup();
        text += this.toks
          .slice(start, this.i)
          .map((x) => x.text)
          .join('');
        continue;
      }
      if (t.kind === 'punct' && t.text === '<') {
        angle++;
      } else if (t.kind === 'punct' && t.text === '>') {
        angle--;
      } else if (angle === 0) {
        break;
      }
      text += t.kind === 'word' && /[A-Za-z0-9]$/.test(text) ? ` ${t.text}` : t.text;
      this.next();
      if (angle === 0) break;
    }
    return text;
  }
}

/** Splits SQL text into statements on `;` outside quotes and comments. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quote = '';
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === "'" || c === '"' || c === '`') {
      quote = c;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === ';') {
      out.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  out.push(sql.slice(start));
  return out.filter((s) => tokenize(s).length > 0);
}

/** Parses every CREATE TABLE statement of a SQL text; other statements are ignored. */
export function parseDdlFile(sql: string): TableSchema[] {
  const tables: TableSchema[] = [];
  for (const stmt of splitStatements(sql)) {
    const toks = tokenize(stmt);
    if (toks[0]?.text.toUpperCase() === 'CREATE' && toks.some((t) => t.text.toUpperCase() === 'TABLE')) {
      tables.push(parseCreateTable(stmt));
    }
  }
  return tables;
}

/** Parses one Doris CREATE TABLE statement. */
export function parseCreateTable(sql: string, uniqueMowDefault = true): TableSchema {
  const p = new Parser(tokenize(sql), sql);
  p.expectWord('CREATE');
  if (p.isWord('EXTERNAL')) p.next();
  p.expectWord('TABLE');
  if (p.isWord('IF')) {
    p.next();
    p.expectWord('NOT');
    p.expectWord('EXISTS');
  }
  let db: string | undefined;
  let name = p.name();
  if (p.isPunct('.')) {
    p.next();
    db = name;
    name = p.name();
  }
  p.expectPunct('(');
  const columns: ColumnDef[] = [];
  while (!p.isPunct(')')) {
    if (p.isWord('INDEX')) {
      while (!p.isPunct(',') && !p.isPunct(')')) {
        if (p.isPunct('(')) p.skipGroup();
        else p.next();
      }
    } else {
      columns.push(parseColumn(p));
    }
    if (p.isPunct(',')) p.next();
    else if (!p.isPunct(')')) p.fail(p.peek()!, 'expected "," or ")" after a column');
  }
  p.next();
  if (columns.length === 0) throw new Error(`table ${name} has no columns`);

  let keysType: KeysType = 'DUPLICATE';
  let keyColumns: string[] | undefined;
  const properties: Record<string, string> = {};
  while (p.peek()) {
    const t = p.peek()!;
    const w = t.text.toUpperCase();
    if ((w === 'DUPLICATE' || w === 'UNIQUE' || w === 'AGGREGATE') && p.isWord('KEY', 1)) {
      p.next();
      p.next();
      keysType = w;
      keyColumns = p.nameList();
    } else if (w === 'PROPERTIES') {
      p.next();
      p.expectPunct('(');
      while (!p.isPunct(')')) {
        const k = p.next().text;
        p.expectPunct('=');
        properties[k.toLowerCase()] = p.next().text;
        if (p.isPunct(',')) p.next();
      }
      p.next();
    } else if (t.kind === 'punct' && t.text === '(') {
      p.skipGroup();
    } else {
      p.next();
    }
  }
  if (!keyColumns) keyColumns = defaultDuplicateKeys(columns);
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  for (const k of keyColumns) {
    const col = byName.get(k.toLowerCase());
    if (!col) throw new Error(`key column ${k} of table ${name} is not a column`);
    col.isKey = true;
  }
  const mow = properties.enable_unique_key_merge_on_write
    ? properties.enable_unique_key_merge_on_write === 'true'
    : uniqueMowDefault;
  for (const c of columns) {
    if (c.isKey) continue;
    if (keysType === 'DUPLICATE' && c.aggregation === null) c.aggregation = 'NONE';
    if (keysType === 'UNIQUE' && c.aggregation === null) c.aggregation = mow ? 'NONE' : 'REPLACE';
    if (keysType === 'AGGREGATE' && c.aggregation === null) {
      throw new Error(`value column ${c.name} of AGGREGATE table ${name} needs an aggregation type`);
    }
  }
  return { db, name, keysType, keyColumns, columns, properties };
}

function parseColumn(p: Parser): ColumnDef {
  const name = p.name();
  const typeText = p.typeText();
  const col: ColumnDef = {
    name,
    type: parseDorisType(typeText),
    typeText,
    nullable: true,
    isKey: false,
    defaultValue: null,
    aggregation: null,
    autoIncrement: false,
    comment: '',
  };
  while (!p.isPunct(',') && !p.isPunct(')')) {
    const t = p.next();
    const w = t.text.toUpperCase();
    if (AGGREGATIONS.has(w) && t.kind === 'word') {
      col.aggregation = w;
    } else if (w === 'NOT' && p.isWord('NULL')) {
      p.next();
      col.nullable = false;
    } else if (w === 'NULL') {
      col.nullable = true;
    } else if (w === 'AUTO_INCREMENT') {
      col.autoIncrement = true;
      if (p.isPunct('(')) p.skipGroup();
    } else if (w === 'DEFAULT') {
      const v = p.next();
      if (v.kind === 'word' && v.text.toUpperCase() === 'NULL') col.defaultValue = null;
      else
        col.defaultValue =
          v.kind === 'word' ? v.text.toUpperCase().replace(/^CURRENT_TIMESTAMP$/, 'CURRENT_TIMESTAMP') : v.text;
      if (p.isPunct('(')) p.skipGroup();
    } else if (w === 'ON' && p.isWord('UPDATE')) {
      p.next();
      p.next();
      if (p.isPunct('(')) p.skipGroup();
    } else if (w === 'COMMENT') {
      col.comment = p.next().text;
    } else if (t.kind === 'punct' && t.text === '(') {
      p.fail(t, `unexpected "(" in column ${name}`);
    } else {
      p.fail(t, `unexpected word in column ${name}`);
    }
  }
  return col;
}

/** Doris's default DUPLICATE KEY: leading columns up to 36 bytes and 3 columns, stopping after a string. */
function defaultDuplicateKeys(columns: ColumnDef[]): string[] {
  const sizes: Record<string, number> = { boolean: 1, tinyint: 1, smallint: 2, int: 4, bigint: 8, largeint: 16 };
  const keys: string[] = [];
  let bytes = 0;
  for (const c of columns) {
    if (keys.length >= 3) break;
    const b = c.type.base;
    if (b === 'float' || b === 'double' || b === 'json' || b === 'string' || b === 'other') break;
    const size = sizes[b] ?? (b === 'char' || b === 'varchar' ? c.type.precision : 8);
    if (keys.length > 0 && bytes + size > 36) break;
    keys.push(c.name);
    bytes += size;
    if (b === 'varchar' || b === 'char') break;
  }
  if (keys.length === 0) keys.push(columns[0]!.name);
  return keys;
}
