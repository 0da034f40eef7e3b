// How Doris reads one of our body rows into the source values its scanner converts, and whether an
// error-log `src line` is the scanner's print of them: Block::dump_one_line joins the row's source
// values with single spaces and prints NULL for a null (doris-stream-load.md §6; the emulator's
// test/emulator/rows.ts writes it the same way). Pure.

/** How the load's headers make Doris read a row; see `rowShape`. */
export type RowShape = CsvShape | JsonShape;

export interface CsvShape {
  format: 'csv';
  separator: string;
  /** The enclose / escape character, '' when not set. */
  enclose: string;
  escape: string;
  trimDoubleQuotes: boolean;
  /** Lower-case names of the `columns` header; undefined: the table's columns, in order (names unknown here). */
  columns?: readonly string[];
  /** With the "\n" line delimiter a trailing "\r" belongs to the delimiter. */
  stripCr: boolean;
}

export interface JsonShape {
  format: 'json';
}

/** One row as Doris's reader hands it to the scanner. */
export interface RowSources {
  /** Source values in source order; null = NULL. */
  values: (string | null)[];
  /** Lower-case column names aligned with `values`; undefined when the load does not say (CSV without `columns`). */
  names?: readonly string[];
  /**
   * The row may leave source columns out (a JSON object without some of the table's keys): Doris
   * fills them with their default or NULL, which a dump prints at places unknown here.
   */
  partial: boolean;
}

/**
 * How Doris reads a row under these (lower-case) load headers; undefined when this code cannot tell
 * (jsonpaths, json_root, column expressions, skipped lines, other formats): only raw rows match then.
 */
export function rowShape(headers: Readonly<Record<string, string>>, lineDelimiter: string): RowShape | undefined {
  const format = (headers.format ?? '').toLowerCase();
  if (format === 'json') {
    if (headers.jsonpaths || headers.json_root || headers.columns) return undefined;
    if (isTrue(headers.strip_outer_array)) return undefined;
    return { format: 'json' };
  }
  if (format !== '' && format !== 'csv') return undefined;
  if (Number(headers.skip_lines ?? 0) > 0 || isTrue(headers.empty_field_as_null)) return undefined;
  const separator = unescapeSeparator(headers.column_separator ?? '\\t');
  const enclose = headers.enclose ?? '';
  const esc = headers.escape ?? '';
  if (separator === '' || enclose.length > 1 || esc.length > 1) return undefined;
  const shape: CsvShape = {
    format: 'csv',
    separator,
    enclose,
    escape: esc,
    trimDoubleQuotes: isTrue(headers.trim_double_quotes),
    stripCr: lineDelimiter === '\n',
  };
  if (headers.columns) {
    const names = columnNames(headers.columns);
    if (!names) return undefined;
    shape.columns = names;
  }
  return shape;
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && v.toLowerCase() === 'true';
}

/** A separator header value as bytes Doris splits on: `\x01` hex form, else `\t` `\n` `\r` `\\` unescaped. */
function unescapeSeparator(value: string): string {
  if (/^\\x/i.test(value)) {
    const hex = value.replace(/\\x/gi, '');
    if (hex === '' || hex.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(hex)) return '';
    return Buffer.from(hex, 'hex').toString('latin1');
  }
  return value.replace(/\\([tnr\\])/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
}

/** The `columns` header's names, lower case; undefined when an item is an expression (`c = f(x)`). */
function columnNames(header: string): string[] | undefined {
  const names: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i] as string;
    if (c === '`') {
      if (quoted && header[i + 1] === '`') {
        cur += '`';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      names.push(cur.trim());
      cur = '';
    } else if (!quoted && /[=()]/.test(c)) {
      return undefined;
    } else cur += c;
  }
  names.push(cur.trim());
  return names.map((n) => n.toLowerCase());
}

/** The row's source values, or undefined when the reader refuses it (it is logged raw then). */
export function rowSources(row: string, shape: RowShape): RowSources | undefined {
  if (shape.format === 'json') return jsonSources(row);
  const values = csvFields(row, shape);
  if (shape.columns) {
    if (values.length !== shape.columns.length) return undefined;
    return { values, names: shape.columns, partial: false };
  }
  return { values, partial: false };
}

/**
 * Splits a CSV row as Doris's reader does: a field starting with the enclose char runs to the closing
 * one (the escape char protects the next char); other bytes up to the separator are one field; `\N`
 * is NULL; the enclose is stripped and escape chars dropped.
 */
function csvFields(row: string, shape: CsvShape): (string | null)[] {
  const { separator: sep, enclose, escape: esc } = shape;
  const fields: (string | null)[] = [];
  let end = row.length;
  if (shape.stripCr && end > 0 && row.charCodeAt(end - 1) === 13) end--;
  let i = 0;
  for (;;) {
    const start = i;
    let toEnd = false;
    if (enclose !== '' && row[i] === enclose) {
      i++;
      while (i < end) {
        const c = row[i];
        if (c === esc) i += 2;
        else if (c === enclose) break;
        else i++;
      }
      i++;
      // Bytes after the closing enclose that are not a separator make the rest of the line one field.
      toEnd = i < end && !row.startsWith(sep, i);
    }
    const at = toEnd ? -1 : row.indexOf(sep, Math.min(i, end));
    if (at < 0 || at >= end) {
      fields.push(decodeField(row.slice(start, end), shape));
      return fields;
    }
    fields.push(decodeField(row.slice(start, at), shape));
    i = at + sep.length;
  }
}

function decodeField(f: string, shape: CsvShape): string | null {
  if (f === '\\N') return null;
  let s = f;
  if (shape.enclose !== '' && s.length >= 2 && s[0] === shape.enclose && s[s.length - 1] === shape.enclose) {
    s = s.slice(1, -1);
  }
  if (shape.trimDoubleQuotes && s.length >= 2 && s[0] === '"' && s[s.length - 1] === '"') s = s.slice(1, -1);
  if (shape.escape === '' || !s.includes(shape.escape)) return s;
  let out = '';
  for (let k = 0; k < s.length; k++) {
    if (s[k] === shape.escape && k + 1 < s.length) k++;
    out += s[k];
  }
  return out;
}

type RawJsonFn = (text: string) => unknown;
const rawJson = (JSON as unknown as { rawJSON: RawJsonFn }).rawJSON;

/**
 * A JSON object's values as the JSON reader puts them in its text source columns: strings unescaped,
 * numbers as their own token text (`1.0` stays `1.0`), booleans as 1 / 0, objects and arrays as JSON
 * text, null as NULL.
 */
function jsonSources(row: string): RowSources | undefined {
  let doc: unknown;
  try {
    // The reviver costs several times the parse: only rows with a number that JSON.parse would
    // print otherwise (1.0, 1e2, -0, 20 digits) need it.
    doc = oddNumbers(row)
      ? JSON.parse(row, (_k, v: unknown, ctx?: { source?: string }) =>
          typeof v === 'number' && ctx?.source !== undefined ? rawJson(ctx.source) : v,
        )
      : JSON.parse(row);
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const rec = doc as Record<string, unknown>;
  const names: string[] = [];
  const values: (string | null)[] = [];
  for (const key of Object.keys(rec)) {
    names.push(key.toLowerCase());
    values.push(jsonText(rec[key]));
  }
  return { values, names, partial: true };
}

/** True when some number token (outside strings) would not come back as itself from String(JSON.parse(token)). */
function oddNumbers(text: string): boolean {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped char
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 45 || (c >= 48 && c <= 57)) {
      let e = i + 1;
      for (; e < text.length; e++) {
        const d = text.charCodeAt(e);
        if (!((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45)) break;
      }
      const token = text.slice(i, e);
      if (String(Number(token)) !== token) return true;
      i = e - 1;
    }
  }
  return false;
}

function jsonText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return String(v);
  // Objects, arrays and raw JSON numbers: stringify gives back number tokens as they came.
  return JSON.stringify(v);
}

/** The scanner's print of a row whose source values are exactly these. */
export function dumpLine(values: readonly (string | null)[]): string {
  let s = '';
  for (let k = 0; k < values.length; k++) {
    if (k > 0) s += ' ';
    s += values[k] ?? 'NULL';
  }
  return s;
}

/**
 * True when `line` can be the scanner's print of this row: its dump exactly, or, for a partial row,
 * its values in order with the missing columns' values (any text) between, before or after them.
 */
export function dumpMatches(src: RowSources, line: string, exact: string = dumpLine(src.values)): boolean {
  if (exact === line) return true;
  if (!src.partial || line.length <= exact.length) return false;
  const vals = src.values.map((v) => v ?? 'NULL');
  for (const v of vals) if (!line.includes(v)) return false;
  return embeds(vals, line);
}

/** The values as whole space-separated pieces of `line`, in order, with anything between them. */
function embeds(vals: readonly string[], line: string): boolean {
  const m = vals.length;
  if (m === 0) return true;
  const stride = line.length + 2;
  // States known to fail: (value k, position p). Each is tried once, so the search stays m × line long.
  const failed = new Set<number>();
  const from = (k: number, p: number): boolean => {
    const key = k * stride + p;
    if (failed.has(key)) return false;
    const v = vals[k] as string;
    for (let q = line.indexOf(v, p); q >= 0; q = line.indexOf(v, q + 1)) {
      // The value starts where the previous one's separator ended, or after a run of unknown values.
      if (q !== p && line.charCodeAt(q - 1) !== 32) continue;
      const e = q + v.length;
      if (k === m - 1) {
        if (e === line.length || line.charCodeAt(e) === 32) return true;
      } else if (e < line.length && line.charCodeAt(e) === 32 && from(k + 1, e + 1)) return true;
      if (q >= line.length) break;
    }
    failed.add(key);
    return false;
  };
  return from(0, 0);
}
