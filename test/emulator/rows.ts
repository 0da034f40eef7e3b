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

// RuntimeState::append_error_msg_to_file: a call whose running count (before it) exceeds
// MAX_ERROR_NUM writes nothing, and with max_filter_ratio 0 stops the load. So the error log holds
// the first 51 bad rows and the 52nd stops a zero-tolerance load.
const MAX_ERROR_NUM = 50;
/** Rows per block (the batch_size query option): Doris checks and logs bad rows block by block. */
const BLOCK_ROWS = 4064;
/**
 * Where Doris notices a bad row. Within a block the reader's errors come first (as rows are read),
 * then the scanner's conversion and NOT NULL errors, then the table sink's range and length errors,
 * the last two column by column; a row is logged once, by the first stage that refuses it.
 */
const READER = 0;
const SCANNER = 1;
const SINK = 2;

interface PendingError {
  stage: number;
  col: number;
  seq: number;
  reason: string;
  /** The `src line` text; undefined once the log is full (never printed). */
  line: string | undefined;
}
// A number token after `:` `,` or `[`. The JSON reader hands a number to its column as the token's
// own text (simdjson to_json_string): `1.0`, `1e2` and 20-digit ids must not become `1`, `100`, a double.
const NUMBER_TOKEN = /[:,[]\s*(-?\d[\d.eE+-]*)/g;

/** True when some number literal would not survive JSON.parse → String unchanged. */
function needsNumberSource(text: string): boolean {
  NUMBER_TOKEN.lastIndex = 0;
  for (let m = NUMBER_TOKEN.exec(text); m; m = NUMBER_TOKEN.exec(text)) {
    if (String(Number(m[1])) !== m[1]) return true;
  }
  return false;
}

/** A JSON value as the JSON reader puts it in its (text) source column: booleans become 1 / 0. */
function sourceText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return String(v);
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
  /** Source column names as written → index: the JSON reader matches keys exactly (case-sensitive). */
  readonly sourceExact = new Map<string, number>();
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
  /** Per source column: the value a missing JSON key gets (the same-named column's default). */
  private readonly sourceDefault: (string | null)[];
  private pending: PendingError[] = [];
  private seq = 0;
  private blockRows = 0;
  /** append_error_msg_to_file calls so far (Doris's _num_print_error_rows). */
  private logCalls = 0;

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
    for (let i = 0; i < this.sources.length; i++) {
      this.sourceIndex.set(this.sources[i]!.toLowerCase(), i);
      this.sourceExact.set(this.sources[i]!, i);
    }
    for (let i = 0; i < this.columns.length; i++) this.targetIndex.set(this.columns[i]!.name.toLowerCase(), i);
    this.sourceDefault = this.sources.map((name) => {
      const t = this.targetIndex.get(name.toLowerCase());
      return t === undefined ? null : this.columns[t]!.defaultValue;
    });
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

  /**
   * Records a filtered row; `line` is its `src line` text. A reader error is logged at once, the
   * others when their block is done, in Doris's order (stage, column, row). False once the load stops.
   */
  reject(stage: number, col: number, reason: string, line: string | (() => string)): boolean {
    this.result.filtered++;
    const text = this.logCalls > MAX_ERROR_NUM ? undefined : typeof line === 'string' ? line : line();
    // The reader logs as it reads, before the block's scanner and sink stages see any row of it.
    if (stage === READER) this.log(reason, text);
    else this.pending.push({ stage, col, seq: this.seq++, reason, line: text });
    return this.result.fatal === undefined;
  }

  /** A row the reader refuses before it has values (column count, JSON shape): logged with `line`. */
  readerError(reason: string, line: string): boolean {
    this.result.total++;
    return this.reject(READER, 0, reason, line);
  }

  private log(reason: string, line: string | undefined): void {
    const r = this.result;
    if (r.fatal !== undefined) return;
    if (this.logCalls++ > MAX_ERROR_NUM) {
      if (this.opts.maxFilterRatio <= 0) r.fatal = stopMessage(this.profile);
      return;
    }
    r.errors.push(`Reason: ${reason}. src line [${line ?? ''}]; `);
    if (r.firstError === undefined) r.firstError = `${reason}. Src line: ${line ?? ''}`;
  }

  /** Writes the pending error-log lines of the block in Doris's order; may stop the load. */
  flush(): boolean {
    const list = this.pending;
    if (list.length === 0) return this.result.fatal === undefined;
    this.pending = [];
    if (list.length > 1) list.sort((a, b) => a.stage - b.stage || a.col - b.col || a.seq - b.seq);
    for (const e of list) this.log(e.reason, e.line);
    return this.result.fatal === undefined;
  }

  /** The source values as Doris's Block::dump_one_line prints them: joined by spaces, NULL for null. */
  dumpLine(src: (string | null | undefined)[]): string {
    let s = '';
    for (let k = 0; k < this.sources.length; k++) {
      let v = src[k];
      if (v === undefined) v = this.sourceDefault[k];
      if (k > 0) s += ' ';
      s += v === null || v === undefined ? 'NULL' : v;
    }
    return s;
  }

  /** Converts one row of source values (undefined = absent); returns false to stop the load. */
  add(src: (string | null | undefined)[]): boolean {
    this.result.total++;
    const ok = this.convert(src);
    if (++this.blockRows >= BLOCK_ROWS) {
      this.blockRows = 0;
      return this.flush() && ok;
    }
    return ok;
  }

  private convert(src: (string | null | undefined)[]): boolean {
    const n = this.columns.length;
    const out: (string | null)[] = new Array(n);
    const derived = this.opts.columns?.derived;
    const lookupSource = (name: string) => {
      const i = this.sourceIndex.get(name.toLowerCase());
      return i === undefined ? undefined : src[i];
    };
    // A range or length error is the table sink's: only rows the scanner passed (and `where` kept) get there.
    let sinkCol = -1;
    let sinkReason = '';
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
        if (!col.nullable) return this.notNull(i, src);
        out[i] = null;
        continue;
      }
      const c = this.converters[i]!(v);
      if (c instanceof Failure) {
        if (c.always) {
          if (sinkCol < 0) {
            sinkCol = i;
            sinkReason = c.reason;
          }
          out[i] = null;
        } else if (this.opts.strictMode) {
          return this.reject(SCANNER, i, c.reason, () => this.dumpLine(src));
        } else if (!col.nullable) {
          return this.notNull(i, src);
        } else {
          out[i] = null;
        }
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
    // The sink's own log lines carry no source row (OlapTableBlockConvertor logs an empty src line).
    if (sinkCol >= 0) return this.reject(SINK, sinkCol, sinkReason, '');
    if (this.mode === 'full') this.result.rows.push(out);
    return true;
  }

  private notNull(i: number, src: (string | null | undefined)[]): boolean {
    const name = this.columns[i]!.name;
    return this.reject(SCANNER, i, `column(${name}) values is null while columns is not nullable`, () =>
      this.dumpLine(src),
    );
  }
}

function stopMessage(profile: Profile): string {
  return beMessage(
    profile,
    'DATA_QUALITY_ERROR',
    'Encountered unqualified data, stop processing. Please check if the source data matches the schema, and consider disabling strict mode or increasing max_filter_ratio.',
  );
}

function loadCsv(b: RowBuilder, body: Buffer): void {
  const opts = b.opts;
  const sc = new CsvScanner(body, opts.csv);
  const width = b.sources.length;
  let skipped = 0;
  const src: (string | null | undefined)[] = new Array(width);
  // CsvReader prints both separators as they are (a "\n" delimiter breaks the log line).
  const sep = opts.csv.columnSeparator.toString();
  const delim = opts.csv.lineDelimiter.toString();
  while (sc.next()) {
    if (skipped < opts.skipLines) {
      skipped++;
      continue;
    }
    if (sc.isEmptyLine()) continue;
    if (sc.fieldCount !== width) {
      const word = sc.fieldCount < width ? 'less' : 'more';
      const ok = b.readerError(
        `actual column number in csv file is  ${word} than  schema column number.actual number: ${sc.fieldCount}, column separator: [${sep}], line delimiter: [${delim}], schema column number: ${width}; `,
        rowText(body, sc),
      );
      if (!ok) return;
      continue;
    }
    for (let i = 0; i < width; i++) src[i] = fieldText(body, sc, i, opts.csv);
    if (!b.add(src)) return;
  }
}

function addJsonObject(b: RowBuilder, obj: unknown, rawText: string, item: boolean): boolean {
  const opts = b.opts;
  if (opts.jsonRoot) obj = walk(obj, opts.jsonRoot);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return b.readerError(item ? 'Not object item' : 'Not an json object or json array', item ? '' : rawText);
  }
  const src: (string | null | undefined)[] = new Array(b.sources.length);
  let matched = 0;
  if (opts.jsonpaths) {
    for (let i = 0; i < opts.jsonpaths.length && i < src.length; i++) {
      const v = walk(obj, opts.jsonpaths[i]!);
      // A path that finds nothing is a missing column (its default, else NULL), not a JSON null.
      if (v !== undefined) {
        src[i] = sourceText(v);
        matched++;
      }
    }
  } else {
    // Keys match source column names exactly (NewJsonReader's _slot_desc_index: "ID" is not "id");
    // missing keys get their column's default, else NULL (the source slots are nullable, so a NOT
    // NULL column is refused later, by the scanner).
    const rec = obj as Record<string, unknown>;
    for (const key in rec) {
      const i = b.sourceExact.get(key);
      if (i !== undefined) {
        src[i] = sourceText(rec[key]);
        matched++;
      }
    }
  }
  if (matched === 0) return b.readerError('All fields is null, this is a invalid row.', rawText);
  return b.add(src);
}

function addJsonDocument(b: RowBuilder, text: string): boolean {
  let doc: unknown;
  try {
    doc = parseJsonKeepingNumbers(text);
  } catch (e) {
    return b.readerError(`Parse json data for JsonDoc failed. code: 3, error info: ${(e as Error).message}`, text);
  }
  if (b.opts.jsonRoot && !Array.isArray(doc)) {
    const rooted = walk(doc, b.opts.jsonRoot);
    if (Array.isArray(rooted)) doc = rooted;
  }
  if (Array.isArray(doc)) {
    if (!b.opts.stripOuterArray) {
      return b.readerError('JSON data is array-object, `strip_outer_array` must be TRUE.', text);
    }
    for (const item of doc) {
      if (!addJsonObject(b, item, JSON.stringify(item), true)) return false;
    }
    return true;
  }
  if (b.opts.stripOuterArray) {
    return b.readerError('JSON data is not an array-object, `strip_outer_array` must be FALSE.', text);
  }
  return addJsonObject(b, doc, text, false);
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
  if (opts.maxFilterRatio <= 0 && result.filtered > MAX_ERROR_NUM + 1) result.fatal = stopMessage(profile);
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
  b.flush();
  return b.result;
}

/** Ratio check: fails when selected rows > 0 and filtered / selected > max_filter_ratio. */
export function tooManyFiltered(r: RowsResult, maxFilterRatio: number): boolean {
  const selected = r.total - r.unselected;
  return selected > 0 && r.filtered / selected > maxFilterRatio;
}
