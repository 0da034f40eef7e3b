// The load itself: frame the body (CSV or JSON), map source columns onto the table, convert and check
// every value against its Doris type, apply `where`, and count total / filtered / unselected rows with
// an error-log line per filtered row (doris-stream-load.md §6). Pure: the caller stores the rows.
import { evalBool, evalValue } from './columns.ts';
import { CsvScanner, countCsv, fieldText, rowText } from './csv.ts';
import type { ColumnDef, TableSchema } from './ddl.ts';
import type { LoadOptions } from './load-options.ts';
import { beMessage, type Profile } from './profile.ts';
import { type Converter, Failure, makeConverter } from './values.ts';

export type Mode = 'full' | 'validate' | 'count';

export interface RowsResult {
  total: number;
  filtered: number;
  unselected: number;
  /** Target rows in table column order (full mode only). */
  rows: (string | null)[][];
  /** `Reason: …. src line […]; ` entries, at most `maxErrorLines`. */
  errors: string[];
  firstError: string | undefined;
  /** A data error that fails the whole load (early stop), with its Message. */
  fatal: string | undefined;
}

const MAX_ERROR_NUM = 50;
const MAX_ERROR_LINES = 1000;
// A number token of 16+ chars after `:` `,` or `[`: only those can lose digits in a double.
const LONG_NUMBER = /[:,[]\s*(-?\d[\d.eE+-]{15,})/g;

/** True when some number literal would not survive JSON.parse → String unchanged. */
function needsNumberSource(text: string): boolean {
  LONG_NUMBER.lastIndex = 0;
  for (let m = LONG_NUMBER.exec(text); m; m = LONG_NUMBER.exec(text)) {
    if (String(Number(m[1])) !== m[1]) return true;
  }
  return false;
}

function sourceText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** JSON.parse keeping the source text of numbers that a double can't hold exactly. */
function parseJsonKeepingNumbers(text: string): unknown {
  if (!needsNumberSource(text)) return JSON.parse(text);
  // JSON.rawJSON keeps the digits both for column values and inside re-serialised objects.
  const raw = (JSON as unknown as { rawJSON(s: string): unknown }).rawJSON;
  return JSON.parse(text, (_k, v, ctx?: { source?: string }) =>
    typeof v === 'number' && ctx?.source ? raw(ctx.source) : v,
  );
}

function walk(v: unknown, path: (string | number)[]): unknown {
  let cur = v;
  for (const step of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[step];
  }
  return cur;
}

class RowBuilder {
  readonly columns: ColumnDef[];
  readonly converters: Converter[];
  /** Source column names (lower case) → index into the source values. */
  readonly sourceIndex = new Map<string, number>();
  readonly sources: string[];
  /** Per target column: index of its source, or -1 when derived / defaulted. */
  readonly targetSource: number[];
  readonly result: RowsResult = {
    total: 0,
    filtered: 0,
    unselected: 0,
    rows: [],
    errors: [],
    firstError: undefined,
    fatal: undefined,
  };
  private readonly targetIndex = new Map<string, number>();

  readonly schema: TableSchema;
  readonly opts: LoadOptions;
  readonly profile: Profile;
  readonly mode: Mode;

  constructor(schema: TableSchema, opts: LoadOptions, profile: Profile, mode: Mode) {
    this.schema = schema;
    this.opts = opts;
    this.profile = profile;
    this.mode = mode;
    this.columns = schema.columns;
    this.converters = schema.columns.map((c) => makeConverter(c, opts.zone));
    this.sources = opts.columns ? opts.columns.sources : schema.columns.map((c) => c.name);
    for (let i = 0; i < this.sources.length; i++) this.sourceIndex.set(this.sources[i]!.toLowerCase(), i);
    for (let i = 0; i < this.columns.length; i++) this.targetIndex.set(this.columns[i]!.name.toLowerCase(), i);
    const derived = opts.columns?.derived;
    this.targetSource = this.columns.map((c) => {
      const key = c.name.toLowerCase();
      if (derived?.has(key)) return -1;
      return this.sourceIndex.get(key) ?? -1;
    });
    if (derived) {
      for (const name of derived.keys()) {
        if (!this.targetIndex.has(name)) throw new Error(`Unknown column '${name}' in table ${schema.name}`);
      }
    }
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i]!;
      if (
        this.targetSource[i] === -1 &&
        !derived?.has(c.name.toLowerCase()) &&
        !c.nullable &&
        c.defaultValue === null &&
        !c.autoIncrement
      ) {
        throw new Error(`Column has no default value. column: ${c.name}`);
      }
    }
  }

  /** Records a filtered row; returns false when the load must stop early. */
  filter(reason: string, raw: string): boolean {
    const r = this.result;
    r.filtered++;
    if (r.errors.length < MAX_ERROR_LINES) r.errors.push(`Reason: ${reason}. src line [${raw}]; `);
    if (r.firstError === undefined) r.firstError = `${reason}. Src line: ${raw}`;
    if (this.opts.maxFilterRatio <= 0 && r.filtered > MAX_ERROR_NUM) {
      r.fatal = beMessage(
        this.profile,
        'DATA_QUALITY_ERROR',
        'Encountered unqualified data, stop processing. Please check if the source data matches the schema, and consider disabling strict mode or increasing max_filter_ratio.',
      );
      return false;
    }
    return true;
  }

  /** Converts one row of source values (undefined = absent); returns false to stop the load. */
  add(src: (string | null | undefined)[], raw: () => string): boolean {
    this.result.total++;
    const n = this.columns.length;
    const out: (string | null)[] = new Array(n);
    const derived = this.opts.columns?.derived;
    const lookupSource = (name: string) => {
      const i = this.sourceIndex.get(name.toLowerCase());
      return i === undefined ? undefined : src[i];
    };
    for (let i = 0; i < n; i++) {
      const col = this.columns[i]!;
      const si = this.targetSource[i]!;
      let v: string | null | undefined;
      if (si >= 0) v = src[si];
      else if (derived?.has(col.name.toLowerCase())) v = evalValue(derived.get(col.name.toLowerCase())!, lookupSource);
      else v = undefined;
      if (v === undefined) {
        if (col.defaultValue !== null) {
          v =
            col.defaultValue === 'CURRENT_TIMESTAMP'
              ? new Date().toISOString().slice(0, 23).replace('T', ' ')
              : col.defaultValue;
        } else {
          v = null;
        }
      }
      if (v === null) {
        if (!col.nullable)
          return this.filter(`column(${col.name}) values is null while columns is not nullable`, raw());
        out[i] = null;
        continue;
      }
      const c = this.converters[i]!(v);
      if (c instanceof Failure) {
        if (c.always || this.opts.strictMode) return this.filter(c.reason, raw());
        if (!col.nullable)
          return this.filter(`column(${col.name}) values is null while columns is not nullable`, raw());
        out[i] = null;
      } else {
        out[i] = c;
      }
    }
    if (this.opts.where) {
      const keep = evalBool(this.opts.where, (name) => {
        const i = this.targetIndex.get(name.toLowerCase());
        return i === undefined ? lookupSource(name) : out[i];
      });
      if (!keep) {
        this.result.unselected++;
        return true;
      }
    }
    if (this.mode === 'full') this.result.rows.push(out);
    return true;
  }
}

function loadCsv(b: RowBuilder, body: Buffer): void {
  const opts = b.opts;
  const sc = new CsvScanner(body, opts.csv);
  const width = b.sources.length;
  let skipped = 0;
  const raw = () => rowText(body, sc);
  const src: (string | null | undefined)[] = new Array(width);
  const sep = opts.csv.columnSeparator.toString();
  const delim = JSON.stringify(opts.csv.lineDelimiter.toString()).slice(1, -1);
  while (sc.next()) {
    if (skipped < opts.skipLines) {
      skipped++;
      continue;
    }
    if (sc.isEmptyLine()) continue;
    if (sc.fieldCount !== width) {
      b.result.total++;
      const word = sc.fieldCount < width ? 'less' : 'more';
      const ok = b.filter(
        `actual column number in csv file is  ${word} than  schema column number.actual number: ${sc.fieldCount}, column separator: [${sep}], line delimiter: [${delim}], schema column number: ${width}; `,
        raw(),
      );
      if (!ok) return;
      continue;
    }
    for (let i = 0; i < width; i++) src[i] = fieldText(body, sc, i, opts.csv);
    if (!b.add(src, raw)) return;
  }
}

function addJsonObject(b: RowBuilder, obj: unknown, rawText: string): boolean {
  const opts = b.opts;
  const raw = () => rawText;
  if (opts.jsonRoot) obj = walk(obj, opts.jsonRoot);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    b.result.total++;
    return b.filter('Parse json data failed: the row is not a JSON object', rawText);
  }
  const src: (string | null | undefined)[] = new Array(b.sources.length);
  if (opts.jsonpaths) {
    opts.jsonpaths.forEach((path, i) => {
      if (i < src.length) src[i] = sourceText(walk(obj, path));
    });
  } else {
    let matched = 0;
    const rec = obj as Record<string, unknown>;
    for (const key in rec) {
      let i = b.sourceIndex.get(key);
      if (i === undefined) i = b.sourceIndex.get(key.toLowerCase());
      if (i !== undefined) {
        src[i] = sourceText(rec[key]);
        matched++;
      }
    }
    if (matched === 0) {
      b.result.total++;
      return b.filter('All fields is null, this is a invalid row.', rawText);
    }
    for (let i = 0; i < b.columns.length; i++) {
      const col = b.columns[i]!;
      const si = b.targetSource[i]!;
      if (si >= 0 && src[si] === undefined && !col.nullable && col.defaultValue === null) {
        b.result.total++;
        return b.filter(`The column \`${col.name}\` is not nullable, but it's not found in jsondata.`, rawText);
      }
    }
  }
  return b.add(src, raw);
}

function addJsonDocument(b: RowBuilder, text: string): boolean {
  let doc: unknown;
  try {
    doc = parseJsonKeepingNumbers(text);
  } catch (e) {
    b.result.total++;
    return b.filter(`Parse json data for JsonDoc failed. code: 3, error info: ${(e as Error).message}`, text);
  }
  if (b.opts.jsonRoot && !Array.isArray(doc)) {
    const rooted = walk(doc, b.opts.jsonRoot);
    if (Array.isArray(rooted)) doc = rooted;
  }
  if (Array.isArray(doc)) {
    if (!b.opts.stripOuterArray) {
      b.result.total++;
      return b.filter('JSON data is array-object, `strip_outer_array` must be TRUE.', text);
    }
    for (const item of doc) {
      if (!addJsonObject(b, item, JSON.stringify(item))) return false;
    }
    return true;
  }
  if (b.opts.stripOuterArray) {
    b.result.total++;
    return b.filter('JSON data is not an array-object, `strip_outer_array` must be FALSE.', text);
  }
  return addJsonObject(b, doc, text);
}

function forEachLine(body: Buffer, delim: Buffer, fn: (s: number, e: number) => boolean): void {
  let pos = 0;
  while (pos < body.length) {
    let end = body.indexOf(delim, pos);
    if (end < 0) end = body.length;
    let e = end;
    if (delim.length === 1 && delim[0] === 10 && e > pos && body[e - 1] === 13) e--;
    if (e > pos && !fn(pos, e)) return;
    pos = end + delim.length;
  }
}

function loadJson(b: RowBuilder, body: Buffer): void {
  if (b.opts.readJsonByLine) {
    forEachLine(body, b.opts.csv.lineDelimiter, (s, e) => {
      const text = body.toString('utf8', s, e);
      if (text.trim() === '') return true;
      return addJsonDocument(b, text);
    });
  } else {
    const text = body.toString('utf8');
    if (text.trim() !== '') addJsonDocument(b, text);
  }
}

/** Counting mode: frame and count only. JSON lines count non-empty lines; a whole JSON body is parsed. */
function countRows(schema: TableSchema, opts: LoadOptions, body: Buffer, profile: Profile): RowsResult {
  const result: RowsResult = {
    total: 0,
    filtered: 0,
    unselected: 0,
    rows: [],
    errors: [],
    firstError: undefined,
    fatal: undefined,
  };
  if (opts.format === 'json') {
    if (opts.readJsonByLine) {
      forEachLine(body, opts.csv.lineDelimiter, (s, e) => {
        // Skip blank lines without decoding: any non-whitespace byte makes it a row.
        for (let k = s; k < e; k++) {
          const c = body[k];
          if (c !== 32 && c !== 9 && c !== 13) {
            result.total++;
            if (c !== 123 && c !== 91) result.filtered++;
            return true;
          }
        }
        return true;
      });
    } else if (body.length > 0) {
      try {
        const doc = JSON.parse(body.toString('utf8')) as unknown;
        result.total = Array.isArray(doc) ? doc.length : 1;
      } catch {
        result.total = 1;
        result.filtered = 1;
      }
    }
  } else {
    const width = opts.columns ? opts.columns.sources.length : schema.columns.length;
    const [rows, bad] = countCsv(body, opts.csv, width, opts.skipLines);
    result.total = rows;
    result.filtered = bad;
  }
  if (result.filtered > 0) result.firstError = 'column count does not match (counting mode)';
  if (opts.maxFilterRatio <= 0 && result.filtered > MAX_ERROR_NUM) {
    result.fatal = beMessage(profile, 'DATA_QUALITY_ERROR', 'Encountered unqualified data, stop processing.');
  }
  return result;
}

/** Runs the load over a complete (decompressed) body. Throws Error for planning errors (bad columns). */
export function processRows(
  schema: TableSchema,
  opts: LoadOptions,
  body: Buffer,
  profile: Profile,
  mode: Mode,
): RowsResult {
  if (mode === 'count') return countRows(schema, opts, body, profile);
  const b = new RowBuilder(schema, opts, profile, mode);
  if (opts.format === 'json') loadJson(b, body);
  else loadCsv(b, body);
  return b.result;
}

/** Ratio check: fails when selected rows > 0 and filtered / selected > max_filter_ratio. */
export function tooManyFiltered(r: RowsResult, maxFilterRatio: number): boolean {
  const selected = r.total - r.unselected;
  return selected > 0 && r.filtered / selected > maxFilterRatio;
}
