// Row values (mapper output: canonical text or null, in load-column order) → one Stream Load body line,
// plus the Stream Load headers that tell Doris how to read those lines.
//
// JSON lines: `{"col":value,...}`, one object per line (`read_json_by_line: true`). Integers up to
// bigint, floats and booleans are bare JSON numbers/literals; largeint and decimal values are sent as
// quoted digits, because some Doris versions read JSON numbers through a double and would round them,
// while a string is cast to the column type exactly. JSON/array/map/struct columns are nested JSON.
//
// CSV: every string-like value is enclosed in `"`, with `"` and `\` escaped by `\` (headers `enclose`
// and `escape`), so commas, quotes, tabs, newlines, backslashes, \u0001, emoji and CJK survive byte for
// byte; NULL is a bare `\N` (an enclosed "\\N" is the two-character string). Doris (≥ 2.0) keeps line
// delimiters inside enclosed fields. Caveat: Doris unescapes enclosed values for string columns; for
// json/array/map/struct columns use the JSON format (the default), whose nesting needs no escaping.
import type { Column, DorisType } from '../schema/types.ts';

export type LoadFormat = 'json' | 'csv';

/** How a column's canonical text is written: bare, as a string, or as nested JSON. */
export type ValueClass = 'raw' | 'string' | 'json';

export function valueClass(type: DorisType): ValueClass {
  switch (type.kind) {
    case 'boolean':
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint':
    case 'float':
    case 'double':
      return 'raw';
    case 'json':
    case 'variant':
    case 'array':
    case 'map':
    case 'struct':
      return 'json';
    default:
      // strings, dates, ip addresses, and largeint/decimal (quoted so no reader rounds them)
      return 'string';
  }
}

export interface RowEncoder {
  readonly format: LoadFormat;
  /** The columns, in the order the values come. */
  readonly columns: readonly string[];
  /**
   * One row → one line, without the line delimiter. `clean` (from MapResult) marks values known to
   * need no escaping; without it every string value is checked.
   */
  encode(values: readonly (string | null)[], clean?: Uint8Array): string;
  /**
   * The same line piece by piece, for writers that build rows as bytes (mapper/row-writer.ts):
   * `layout.prefixes[i] + encodeValue(i, v)` per column, then `layout.close`; `layout.empty` when
   * there are no columns. encodeValue(i, null) is the NULL spelling.
   */
  readonly layout: RowLayout;
  encodeValue(i: number, v: string | null, clean: boolean): string;
  /** Stream Load headers this encoding needs (merge with the writer's own: label, auth, timeout, ...). */
  readonly headers: Readonly<Record<string, string>>;
}

export interface RowLayout {
  /** What precedes column i's value (separator, key, opening brace). */
  readonly prefixes: readonly string[];
  /** What ends a row (after the last value). */
  readonly close: string;
  /** The whole row when there are no columns. */
  readonly empty: string;
  /** How column i's value is written. */
  readonly classes: readonly ValueClass[];
}

/**
 * A flat copy of a string built by concatenation. A line built with `+=` is a tree of cons strings
 * that also keeps every sliced message string alive: ~9.8 KB of heap per canonical row instead of
 * ~1.7 KB (measured). Slicing a cons string makes V8 flatten it into one sequential string.
 */
function flat(s: string): string {
  return `${s} `.slice(0, -1);
}

/** Separates lines in the body; `bodyOf` joins a batch's rows with it. */
export const LINE_DELIMITER = '\n';

/** The Stream Load body for encoded rows: lines joined by `\n`, with a final `\n`. */
export function bodyOf(rows: readonly string[]): string {
  return rows.length === 0 ? '' : rows.join(LINE_DELIMITER) + LINE_DELIMITER;
}

/** A column name as the `columns` header wants it: back-quoted, so any name (keywords, spaces) is safe. */
function quoteColumn(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

class JsonLinesEncoder implements RowEncoder {
  readonly format = 'json' as const;
  readonly columns: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  private readonly prefixes: string[];
  private readonly classes: ValueClass[];

  constructor(columns: readonly Column[]) {
    this.columns = columns.map((c) => c.name);
    this.prefixes = columns.map((c, i) => (i === 0 ? '{' : ',') + JSON.stringify(c.name) + ':');
    this.classes = columns.map((c) => valueClass(c.type));
    // No `columns` header: in JSON mode Doris matches keys to column names, and fills absent ones.
    this.headers = { format: 'json', read_json_by_line: 'true', strip_outer_array: 'false' };
    this.layout = { prefixes: this.prefixes, close: '}', empty: '{}', classes: this.classes };
  }

  readonly layout: RowLayout;

  encodeValue(i: number, v: string | null, clean: boolean): string {
    if (v === null) return 'null';
    if (this.classes[i] !== 'string') return v;
    return clean ? `"${v}"` : JSON.stringify(v);
  }

  encode(values: readonly (string | null)[], clean?: Uint8Array): string {
    const n = this.prefixes.length;
    if (n === 0) return '{}';
    let out = '';
    for (let i = 0; i < n; i++) {
      const v = values[i];
      out += this.prefixes[i];
      if (v === null || v === undefined) out += 'null';
      else if (this.classes[i] !== 'string') out += v;
      else if (clean !== undefined && clean[i] === 1) out += `"${v}"`;
      else out += JSON.stringify(v);
    }
    return flat(`${out}}`);
  }
}

/** CSV framing the sinker uses; exported for tests and for the writer's logs. */
export const CSV_COLUMN_SEPARATOR = ',';
export const CSV_ENCLOSE = '"';
export const CSV_ESCAPE = '\\';
export const CSV_NULL = '\\N';

/** `"v"` with `"` and `\\` escaped by `\\` (a loop: a global regex replace costs several times more here). */
function csvQuote(v: string): string {
  let out = CSV_ENCLOSE;
  let from = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      out += v.slice(from, i);
      out += CSV_ESCAPE;
      from = i;
    }
  }
  out += v.slice(from);
  out += CSV_ENCLOSE;
  return out;
}

class CsvEncoder implements RowEncoder {
  readonly format = 'csv' as const;
  readonly columns: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  private readonly quoted: boolean[];
  /** What precedes field i: the separator (none before the first), plus the opening quote if enclosed. */
  private readonly lead: string[];
  private readonly leadQuoted: string[];

  constructor(columns: readonly Column[]) {
    this.columns = columns.map((c) => c.name);
    this.quoted = columns.map((c) => valueClass(c.type) !== 'raw');
    this.lead = columns.map((_, i) => (i === 0 ? '' : CSV_COLUMN_SEPARATOR));
    this.leadQuoted = this.lead.map((l) => l + CSV_ENCLOSE);
    this.headers = {
      format: 'csv',
      column_separator: CSV_COLUMN_SEPARATOR,
      // line_delimiter left at Doris's default `\n` (a raw newline cannot travel in a header value)
      enclose: CSV_ENCLOSE,
      escape: CSV_ESCAPE,
      // Positional format: name the columns so a column added to the table later never shifts values.
      columns: columns.map((c) => quoteColumn(c.name)).join(','),
    };
    this.layout = {
      prefixes: this.lead,
      close: '',
      empty: '',
      classes: columns.map((c) => valueClass(c.type)),
    };
  }

  readonly layout: RowLayout;

  encodeValue(i: number, v: string | null, clean: boolean): string {
    if (v === null) return CSV_NULL;
    if (!this.quoted[i]) return v;
    if (clean || (v.indexOf('"') < 0 && v.indexOf('\\') < 0)) return CSV_ENCLOSE + v + CSV_ENCLOSE;
    return csvQuote(v);
  }

  encode(values: readonly (string | null)[], clean?: Uint8Array): string {
    const n = this.quoted.length;
    let out = '';
    // Append piece by piece: each `+=` onto the long line is one cons node; `a + b` of short pieces
    // would copy them first.
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        out += this.lead[i];
        out += CSV_NULL;
      } else if (!this.quoted[i]) {
        out += this.lead[i];
        out += v;
      } else if ((clean !== undefined && clean[i] === 1) || (v.indexOf('"') < 0 && v.indexOf('\\') < 0)) {
        out += this.leadQuoted[i];
        out += v;
        out += CSV_ENCLOSE;
      } else {
        out += this.lead[i];
        out += csvQuote(v);
      }
    }
    return flat(out);
  }
}

export function createEncoder(format: LoadFormat, columns: readonly Column[]): RowEncoder {
  return format === 'csv' ? new CsvEncoder(columns) : new JsonLinesEncoder(columns);
}

/**
 * Why `format` cannot carry these columns reliably, or undefined when it can. CSV is refused for
 * json/variant/array/map/struct columns: whether Doris unescapes their enclosed text is not
 * established, while JSON lines nest them with no escaping at all.
 */
export function checkFormatForColumns(format: LoadFormat, columns: readonly Column[]): string | undefined {
  if (format !== 'csv') return undefined;
  const nested = columns.filter((c) => valueClass(c.type) === 'json').map((c) => c.name);
  return nested.length > 0 ? `CSV cannot carry the JSON/nested columns ${nested.join(', ')}; use json` : undefined;
}
