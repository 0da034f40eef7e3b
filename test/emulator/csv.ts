// CSV framing as Doris's BE does it (EncloseCsvLineReaderContext + field splitter): rows end at the
// line delimiter except inside an enclosed field; an enclosed field starts when its first byte is the
// enclose char, and inside it the escape char protects the next byte. The scanner reuses its offset
// arrays, so framing allocates nothing per row (the counting mode depends on that for speed).

export interface CsvOptions {
  columnSeparator: Buffer;
  lineDelimiter: Buffer;
  /** Byte value, or -1 when not set. */
  enclose: number;
  escape: number;
  trimDoubleQuotes: boolean;
}

export class CsvScanner {
  /** Field i of the current row is buf[starts[i], ends[i]). */
  starts = new Int32Array(256);
  ends = new Int32Array(256);
  fieldCount = 0;
  rowStart = 0;
  rowEnd = 0;
  private pos = 0;
  private readonly sep: Buffer;
  private readonly delim: Buffer;
  private readonly sep0: number;
  private readonly delim0: number;
  private readonly enclose: number;
  private readonly escape: number;
  private readonly stripCr: boolean;

  private readonly buf: Buffer;

  constructor(buf: Buffer, opts: CsvOptions) {
    this.buf = buf;
    this.sep = opts.columnSeparator;
    this.delim = opts.lineDelimiter;
    this.sep0 = this.sep[0]!;
    this.delim0 = this.delim[0]!;
    this.enclose = opts.enclose;
    this.escape = opts.escape;
    // With the default "\n" delimiter a trailing "\r" belongs to the delimiter (CRLF files).
    this.stripCr = this.delim.length === 1 && this.delim0 === 10;
  }

  private pushField(s: number, e: number): void {
    if (this.fieldCount === this.starts.length) {
      const ns = new Int32Array(this.starts.length * 2);
      ns.set(this.starts);
      this.starts = ns;
      const ne = new Int32Array(this.ends.length * 2);
      ne.set(this.ends);
      this.ends = ne;
    }
    this.starts[this.fieldCount] = s;
    this.ends[this.fieldCount] = e;
    this.fieldCount++;
  }

  private matchAt(pat: Buffer, i: number): boolean {
    const buf = this.buf;
    if (i + pat.length > buf.length) return false;
    for (let k = 1; k < pat.length; k++) if (buf[i + k] !== pat[k]) return false;
    return true;
  }

  /** Frames the next row; false at the end of the buffer. Empty lines yield rows with one empty field. */
  next(): boolean {
    const buf = this.buf;
    const len = buf.length;
    let i = this.pos;
    if (i >= len) return false;
    this.fieldCount = 0;
    this.rowStart = i;
    const sep0 = this.sep0;
    const delim0 = this.delim0;
    const sepLen = this.sep.length;
    const delimLen = this.delim.length;
    const enclose = this.enclose;
    const esc = this.escape;
    let fieldStart = i;
    // Tight per-state loops: the hot path is one compare pair per byte.
    for (;;) {
      let toEol = false;
      if (i < len && buf[i] === enclose) {
        // Enclosed field: separators and delimiters are literal; the escape char skips the next byte.
        i++;
        while (i < len) {
          const b = buf[i]!;
          if (b === esc) i += 2;
          else if (b === enclose) break;
          else i++;
        }
        i++;
        // Doris: bytes after the closing enclose that are not a separator make the rest of the line one field.
        toEol = i < len && buf[i] !== sep0 && buf[i] !== delim0;
      }
      while (i < len) {
        const b = buf[i]!;
        if (b === delim0 && (delimLen === 1 || this.matchAt(this.delim, i))) {
          this.finishRow(fieldStart, i);
          this.pos = i + delimLen;
          return true;
        }
        if (b === sep0 && !toEol && (sepLen === 1 || this.matchAt(this.sep, i))) break;
        i++;
      }
      if (i >= len) {
        this.finishRow(fieldStart, len);
        this.pos = len;
        return true;
      }
      this.pushField(fieldStart, i);
      i += sepLen;
      fieldStart = i;
    }
  }

  private finishRow(fieldStart: number, end: number): void {
    let e = end;
    if (this.stripCr && e > fieldStart && this.buf[e - 1] === 13) e--;
    this.pushField(fieldStart, e);
    this.rowEnd = e;
  }

  /** True when the current row is an empty line (Doris skips those). */
  isEmptyLine(): boolean {
    return this.fieldCount === 1 && this.starts[0] === this.ends[0];
  }
}

/**
 * Decodes field i of the scanner's current row: strips the enclose (and, with trim_double_quotes,
 * double quotes), removes escape chars, and returns null for `\N`.
 */
export function fieldText(buf: Buffer, sc: CsvScanner, i: number, opts: CsvOptions): string | null {
  let s = sc.starts[i]!;
  let e = sc.ends[i]!;
  if (e - s === 2 && buf[s] === 92 && buf[s + 1] === 78) return null;
  if (opts.enclose >= 0 && e - s >= 2 && buf[s] === opts.enclose && buf[e - 1] === opts.enclose) {
    s++;
    e--;
  }
  if (opts.trimDoubleQuotes && e - s >= 2 && buf[s] === 34 && buf[e - 1] === 34) {
    s++;
    e--;
  }
  const esc = opts.escape;
  if (esc >= 0) {
    let at = -1;
    for (let k = s; k < e; k++) {
      if (buf[k] === esc) {
        at = k;
        break;
      }
    }
    if (at >= 0) {
      const out = Buffer.allocUnsafe(e - s);
      let n = 0;
      for (let k = s; k < e; k++) {
        if (buf[k] === esc && k + 1 < e) k++;
        out[n++] = buf[k]!;
      }
      return out.toString('utf8', 0, n);
    }
  }
  return buf.toString('utf8', s, e);
}

/** The raw bytes of the current row, for error-log lines. */
export function rowText(buf: Buffer, sc: CsvScanner): string {
  return buf.toString('utf8', sc.rowStart, sc.rowEnd);
}

/**
 * Counting mode: frames every row and checks its field count; returns [rows, rowsWithWrongCount].
 * Empty lines are skipped like Doris does; `skip` leading rows are not counted.
 */
export function countCsv(buf: Buffer, opts: CsvOptions, columns: number, skip: number): [number, number] {
  const sc = new CsvScanner(buf, opts);
  let rows = 0;
  let bad = 0;
  let skipped = 0;
  while (sc.next()) {
    if (skipped < skip) {
      skipped++;
      continue;
    }
    if (sc.isEmptyLine()) continue;
    rows++;
    if (sc.fieldCount !== columns) bad++;
  }
  return [rows, bad];
}

/** Separator header value → bytes: `\x01\x02` hex form, else `\t` `\n` `\r` `\\` `\'` `\"` unescaped. */
export function parseSeparator(value: string): Buffer {
  if (/^\\x/i.test(value)) {
    const hex = value.replace(/\\x/gi, '');
    if (!hex || !/^[0-9a-f]*$/i.test(hex) || hex.length % 2) throw new Error(`Hex str format error: ${value}`);
    return Buffer.from(hex, 'hex');
  }
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      const n = value[++i]!;
      const map: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', r: '\r', t: '\t', n: '\n' };
      out += map[n] ?? `\\${n}`;
    } else {
      out += c;
    }
  }
  return Buffer.from(out, 'utf8');
}
