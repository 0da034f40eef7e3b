// Which rows of a batch Doris refused for data quality, from the load's error log (ErrorURL). An
// entry's `src line` depends on the stage that refused the row (doris-stream-load.md §6):
//   reader  (a line it cannot frame or parse): the raw row;
//   scanner (conversion, NULL into NOT NULL): the source values joined by spaces (row-sources.ts);
//   sink    (string too long, decimal out of range): empty, the reason naming column and value (sink-reasons.ts).
// An entry names rows only when every row that fits it is the same text (Doris judges a row by its
// content, so identical rows are all refused or all loaded), or when n entries alike fit exactly n
// rows (each entry is another row). Anything less certain is left to bisecting, so a good row is
// never dead-lettered. Pure.
import type { ErrorLogEntry } from './error-log.ts';
import { dumpLine, dumpMatches, type RowShape, type RowSources, rowSources } from './row-sources.ts';
import { sinkRefusal } from './sink-reasons.ts';

/** The BE writes the first 51 bad rows of a load to its error log, no more (RuntimeState, MAX_ERROR_NUM 50). */
export const ERROR_LOG_MAX_ENTRIES = 51;

const EARLY_STOP = /encountered unqualified data/i;

export interface RefusalInput {
  /** The rows of the refused load, in body order. */
  rows: readonly string[];
  entries: readonly ErrorLogEntry[];
  /** The log itself says it stopped naming rows (`TOO MUCH ERROR!`, error-log.ts). */
  cut?: boolean;
  /** The load's NumberFilteredRows. */
  filtered: number;
  /** The load's message: the early stop (`Encountered unqualified data…`) means the log was cut. */
  message: string;
  /** How Doris read the rows; undefined: only raw rows can be matched. */
  shape: RowShape | undefined;
}

/** What to do with the rows the log does not name. */
export type RestOfBatch =
  /** Every refused row is named: load the others. */
  | { kind: 'load' }
  /** The log was cut at its first rows: load the others again, and the next log names the next ones. */
  | { kind: 'reload' }
  /** The refused rows not named are among `suspects` (indexes into rows): bisect them. */
  | { kind: 'bisect'; suspects: number[] };

export interface RefusalVerdict {
  /** Row index → Doris's reason, for each row certainly refused. */
  bad: Map<number, string>;
  rest: RestOfBatch;
  /** Why the log did not settle every row (for the logs). */
  note?: string;
}

export function matchRefusal(input: RefusalInput): RefusalVerdict {
  const { rows, entries, filtered } = input;
  const everyRow = (): RefusalVerdict['rest'] => ({ kind: 'bisect', suspects: rows.map((_, i) => i) });
  if (entries.length === 0) return { bad: new Map(), rest: everyRow(), note: 'the error log names no row' };
  const cut = input.cut === true || entries.length >= ERROR_LOG_MAX_ENTRIES || EARLY_STOP.test(input.message);
  // Fewer filtered rows than entries is not a count of these rows (a cancelled load's counters):
  // without a count that holds, a surprise in the log could not be noticed.
  if (filtered < entries.length && !cut) {
    return { bad: new Map(), rest: everyRow(), note: `NumberFilteredRows ${filtered} < ${entries.length} entries` };
  }
  const complete = !cut && filtered === entries.length;
  const cands = new Candidates(rows, input.shape);
  // Entries alike (same reason and line) fit the same rows: judge them together.
  const groups = new Map<string, { entry: ErrorLogEntry; n: number }>();
  for (const e of entries) {
    const key = `${e.reason}\u0000${e.line}`;
    const g = groups.get(key);
    if (g) g.n++;
    else groups.set(key, { entry: e, n: 1 });
  }
  /** Row text → [reason, entries naming it]. */
  const named = new Map<string, [string, number]>();
  /** Rows named one by one: n entries alike that exactly n rows fit (each entry is another row). */
  const counted = new Map<number, string>();
  const suspects = new Set<number>();
  let unplaced = 0;
  for (const { entry: e, n } of groups.values()) {
    // An entry cut at the BE's size limit lost its src line: a refused row, but not which one.
    const fit = e.truncated ? undefined : cands.of(e);
    if (fit === undefined || fit.length === 0) {
      unplaced += n;
      continue;
    }
    const text = rows[fit[0] as number] as string;
    if (fit.every((i) => rows[i] === text)) {
      const c = named.get(text);
      if (c) c[1] += n;
      else named.set(text, [e.reason, n]);
    } else if (fit.length === n) {
      for (const i of fit) counted.set(i, e.reason);
    } else for (const i of fit) suspects.add(i);
  }
  const bad = new Map<number, string>();
  const copies = new Map<string, number>();
  for (let i = 0; i < rows.length; i++) {
    const n = named.get(rows[i] as string);
    if (!n) continue;
    bad.set(i, n[0]);
    copies.set(rows[i] as string, (copies.get(rows[i] as string) ?? 0) + 1);
  }
  for (const [i, reason] of counted) if (!bad.has(i)) bad.set(i, reason);
  // Each entry is one refused row: more entries for a text than rows holding it, more rows named than
  // Doris filtered, or (log complete, every entry named) a different count means the matching is wrong.
  let wrong: string | undefined;
  for (const [text, [, n]] of named)
    if (n > (copies.get(text) ?? 0)) wrong = `${n} entries for ${copies.get(text)} rows`;
  if (filtered >= entries.length && bad.size > filtered) wrong = `${bad.size} rows named, ${filtered} filtered`;
  const settled = unplaced === 0 && suspects.size === 0;
  if (complete && settled && bad.size !== filtered) wrong = `${bad.size} rows named, ${filtered} filtered`;
  if (wrong) return { bad: new Map(), rest: everyRow(), note: `error log does not add up: ${wrong}` };

  if (complete && settled) return { bad, rest: { kind: 'load' } };
  if (cut && bad.size > 0) return { bad, rest: { kind: 'reload' }, note: 'error log cut at its first entries' };
  const note = `${unplaced} entries match no row, ${suspects.size} rows fit entries that others fit too${cut ? ', log cut' : ''}`;
  if (unplaced > 0 || cut || !complete) {
    return { bad, rest: { kind: 'bisect', suspects: rows.map((_, i) => i).filter((i) => !bad.has(i)) }, note };
  }
  return {
    bad,
    rest: { kind: 'bisect', suspects: [...suspects].filter((i) => !bad.has(i)).sort((a, b) => a - b) },
    note,
  };
}

/** The rows each entry can be, built lazily: raw texts, then (only if needed) every row's source values. */
class Candidates {
  readonly #rows: readonly string[];
  readonly #shape: RowShape | undefined;
  #raw?: Map<string, number[]>;
  #sources?: (RowSources | undefined)[];
  #dumps?: (string | undefined)[];
  #byDump?: Map<string, number[]>;
  #first?: { byFirst: Map<string, number[]>; others: number[] };

  constructor(rows: readonly string[], shape: RowShape | undefined) {
    this.#rows = rows;
    this.#shape = shape;
  }

  /** Indexes of the rows that fit the entry; undefined when its form is not known here. */
  of(e: ErrorLogEntry): number[] | undefined {
    if (e.line === '') {
      const refusal = sinkRefusal(e.reason);
      if (!refusal) return undefined;
      const sources = this.#parsed();
      if (!sources) return undefined;
      const out: number[] = [];
      sources.forEach((s, i) => {
        if (!s) return;
        if (refusal.column === undefined || !s.names) {
          if (s.values.some((v) => refusal.fits(v))) out.push(i);
          return;
        }
        const k = s.names.indexOf(refusal.column);
        if (k >= 0 && refusal.fits(s.values[k] ?? null)) out.push(i);
      });
      return out;
    }
    const fit = new Set<number>(this.#rawIndex().get(e.line));
    const sources = this.#parsed();
    if (sources) {
      const dumps = this.#dumps as (string | undefined)[];
      for (const i of this.#byDump?.get(e.line) ?? []) fit.add(i);
      // Rows that may lack columns: their values with anything between them. A row whose first
      // value holds no space can only fit a line that has that value as one of its pieces.
      const check = (i: number) => {
        const s = sources[i];
        if (s?.partial && !fit.has(i) && dumpMatches(s, e.line, dumps[i])) fit.add(i);
      };
      const { byFirst, others } = this.#firstValues();
      for (const piece of new Set(e.line.split(' '))) for (const i of byFirst.get(piece) ?? []) check(i);
      for (const i of others) check(i);
    } else if (fit.size === 0) return undefined;
    return [...fit].sort((a, b) => a - b);
  }

  /** Partial rows by their first value (when it holds no space); the others apart. */
  #firstValues(): { byFirst: Map<string, number[]>; others: number[] } {
    if (!this.#first) {
      const byFirst = new Map<string, number[]>();
      const others: number[] = [];
      (this.#sources ?? []).forEach((s, i) => {
        if (!s?.partial) return;
        const v = s.values[0] === undefined ? undefined : (s.values[0] ?? 'NULL');
        if (v === undefined || v === '' || v.includes(' ')) {
          others.push(i);
          return;
        }
        const list = byFirst.get(v);
        if (list) list.push(i);
        else byFirst.set(v, [i]);
      });
      this.#first = { byFirst, others };
    }
    return this.#first;
  }

  #rawIndex(): Map<string, number[]> {
    if (!this.#raw) {
      this.#raw = new Map();
      this.#rows.forEach((r, i) => {
        const list = this.#raw?.get(r);
        if (list) list.push(i);
        else this.#raw?.set(r, [i]);
      });
    }
    return this.#raw;
  }

  #parsed(): (RowSources | undefined)[] | undefined {
    const shape = this.#shape;
    if (!shape) return undefined;
    if (!this.#sources) {
      this.#sources = this.#rows.map((r) => rowSources(r, shape));
      this.#dumps = this.#sources.map((s) => (s ? dumpLine(s.values) : undefined));
      this.#byDump = new Map();
      this.#dumps.forEach((d, i) => {
        if (d === undefined) return;
        const list = this.#byDump?.get(d);
        if (list) list.push(i);
        else this.#byDump?.set(d, [i]);
      });
    }
    return this.#sources;
  }
}
