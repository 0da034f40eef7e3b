// Stream Load request headers → load options, with the BE's error texts (doris-stream-load.md §1.3, §2).
// Checks are split as the BE splits them: `headerChecks` run in on_header before the transaction begins
// (no txn, TxnId -1); `planOptions` run in _process_put after begin-txn, so a failure there rolls back.
import { type ColumnMapping, type Expr, parseColumns, parseExpr } from './columns.ts';
import { type CsvOptions, parseSeparator } from './csv.ts';
import { beMessage, feMessage, type Profile } from './profile.ts';
import { UTC, type ZoneOffset, zoneOffset } from './values.ts';

export type Headers = Record<string, string | string[] | undefined>;

export function header(h: Headers, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export type GroupCommitMode = 'off_mode' | 'sync_mode' | 'async_mode';

export interface HeaderInfo {
  /** Empty when the client sent none (a UUID is generated later unless group commit is used). */
  label: string;
  twoPhase: boolean;
  groupCommit: GroupCommitMode | undefined;
  /** Whether group commit will actually be used (mode on, body non-empty or chunked, no 2PC / partial update). */
  useGroupCommit: boolean;
  user: string;
  password: string;
  format: string;
  contentLength: number | undefined;
  chunked: boolean;
  timeoutS: number;
}

export interface LoadOptions {
  format: 'csv' | 'csv_with_names' | 'csv_with_names_and_types' | 'json';
  csv: CsvOptions;
  skipLines: number;
  columns: ColumnMapping | undefined;
  where: Expr | undefined;
  stripOuterArray: boolean;
  readJsonByLine: boolean;
  jsonpaths: (string | number)[][] | undefined;
  jsonRoot: (string | number)[] | undefined;
  strictMode: boolean;
  maxFilterRatio: number;
  compressGz: boolean;
  comment: string;
  /** The `timezone` / `time_zone` header: zone-suffixed datetimes are converted to it (default UTC). */
  zone: ZoneOffset;
}

export class LoadError extends Error {}

const FORMATS = new Set(['csv', 'csv_with_names', 'csv_with_names_and_types', 'json', 'parquet', 'orc', 'arrow']);
const JSON_MAX_BYTES = 100 * 1024 * 1024;
/** compress_type values LoadUtil::parse_format knows (lz4 and lz4frame both name the LZ4 frame format). */
const COMPRESS_TYPES = new Set(['gz', 'lzo', 'bz2', 'lz4', 'lz4frame', 'lz4_block', 'lzop', 'snappy_block', 'deflate']);

/** Decodes `Authorization: Basic …`; undefined when absent or unparsable. */
export function basicAuth(value: string | undefined): { user: string; password: string } | undefined {
  if (!value) return undefined;
  const m = /^Basic\s+(\S+)$/i.exec(value.trim());
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export function parseGroupCommit(v: string | undefined): GroupCommitMode | undefined | 'invalid' {
  if (v === undefined) return undefined;
  const l = v.toLowerCase();
  return l === 'off_mode' || l === 'sync_mode' || l === 'async_mode' ? l : 'invalid';
}

/** BE on_header / _on_header checks. Throws LoadError with the reply Message. */
export function headerChecks(h: Headers, p: Profile): HeaderInfo {
  const label = header(h, 'label') ?? '';
  const twoPhase = header(h, 'two_phase_commit') === 'true';
  const gc = parseGroupCommit(header(h, 'group_commit'));
  if (gc === 'invalid') {
    throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', 'group_commit can only be [async_mode, sync_mode, off_mode]'));
  }
  const chunked = /chunked/i.test(header(h, 'transfer-encoding') ?? '');
  const clText = header(h, 'content-length');
  const contentLength = clText === undefined ? undefined : Number(clText);
  const partial =
    header(h, 'partial_columns') === 'true' || /^UPDATE_/i.test(header(h, 'unique_key_update_mode') ?? '');
  const useGroupCommit =
    gc !== undefined &&
    gc !== 'off_mode' &&
    (chunked || (contentLength ?? 0) > 0) &&
    !twoPhase &&
    !partial &&
    header(h, 'partitions') === undefined &&
    header(h, 'temporary_partitions') === undefined;
  // _can_group_commit: a chunked group-commit load loses its label instead of failing on it.
  let effectiveLabel = label;
  if (useGroupCommit && chunked) effectiveLabel = '';
  if (useGroupCommit && effectiveLabel !== '') {
    throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', "label and group_commit can't be set at the same time"));
  }
  const auth = basicAuth(header(h, 'authorization'));
  if (!auth) throw new LoadError(beMessage(p, p.authCode, 'no valid Basic authorization'));
  const formatHeader = header(h, 'format') ?? '';
  const format = formatHeader.toLowerCase() || 'csv';
  // Before JSON compression was supported the BE refused it here, before the txn began.
  if (!p.jsonCompress && format === 'json' && (header(h, 'compress_type') ?? '') !== '') {
    throw new LoadError(beMessage(p, 'INTERNAL_ERROR', 'compress data of JSON format is not supported.'));
  }
  // LoadUtil::parse_format: a compress_type it does not know (`plain` included) leaves the format
  // unknown, so the load is refused here like an unknown format, before the txn begins.
  const compress = (header(h, 'compress_type') ?? '').toLowerCase();
  // (parquet, orc and arrow ignore it)
  const compressed = format === 'json' || format.startsWith('csv');
  if (!FORMATS.has(format) || (compressed && compress !== '' && !COMPRESS_TYPES.has(compress)))
    throw new LoadError(beMessage(p, 'DATA_FILE_TYPE_ERROR', `unknown data format, format=${formatHeader}`));
  // The size check reads the header itself: the by-line default (when neither header is sent) comes later.
  const byLine = (header(h, 'read_json_by_line') ?? '').toLowerCase() === 'true';
  const size = contentLength ?? 0;
  if (format === 'json' && !byLine && size > JSON_MAX_BYTES) {
    throw new LoadError(
      p.exceededLimitTexts
        ? `[E-217]json body size ${size} exceed BE's conf \`streaming_load_json_max_mb\` ${JSON_MAX_BYTES}. increase it if you are sure this load is reasonable`
        : beMessage(
            p,
            'INTERNAL_ERROR',
            `The size of this batch exceed the max size [${JSON_MAX_BYTES}]  of json type data  data [ ${size} ]. Split the file, or use 'read_json_by_line'`,
          ),
    );
  }
  // every other body (JSON read by line included) against streaming_load_max_mb
  const maxBytes = p.streamingLoadMaxMb * 1024 * 1024;
  if (size > maxBytes) {
    throw new LoadError(
      p.exceededLimitTexts
        ? `[E-217]body size ${size} exceed BE's conf \`streaming_load_max_mb\` ${maxBytes}. increase it if you are sure this load is reasonable`
        : beMessage(p, 'INTERNAL_ERROR', `body exceed max size: ${maxBytes}, data: ${size}`),
    );
  }
  if (contentLength === undefined && !chunked) {
    throw new LoadError(
      beMessage(
        p,
        'INVALID_ARGUMENT',
        'content_length is empty and transfer-encoding!=chunked, please set content_length or transfer-encoding=chunked',
      ),
    );
  }
  if (contentLength !== undefined && chunked) {
    throw new LoadError(
      beMessage(p, 'INVALID_ARGUMENT', 'please do not set both content_length and transfer-encoding'),
    );
  }
  const timeoutText = header(h, 'timeout');
  let timeoutS = 259200;
  if (timeoutText !== undefined) {
    if (!/^\s*[+-]?\d+/.test(timeoutText)) {
      throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', `Invalid format of 'timeout': '${timeoutText}', stoi`));
    }
    timeoutS = Number.parseInt(timeoutText, 10);
  }
  return {
    label: effectiveLabel,
    twoPhase,
    groupCommit: gc,
    useGroupCommit,
    user: auth.user,
    password: auth.password,
    format,
    contentLength,
    chunked,
    timeoutS,
  };
}

function readJsonByLine(h: Headers, p: Profile): boolean {
  const v = header(h, 'read_json_by_line');
  if (v !== undefined) return v.toLowerCase() === 'true';
  if (header(h, 'strip_outer_array') === undefined) return p.readJsonByLineDefault;
  return false;
}

function boolHeader(h: Headers, name: string): boolean {
  return (header(h, name) ?? '').toLowerCase() === 'true';
}

function singleChar(h: Headers, name: string, p: Profile): number {
  const v = header(h, name);
  if (v === undefined || v === '') return -1;
  const b = Buffer.from(v, 'utf8');
  if (b.length !== 1)
    throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', `${name} must be single-char, actually is ${v}`));
  return b[0]!;
}

/** Parses `$.a.b[0]` / `$['a']` into path steps. */
export function parseJsonPath(path: string): (string | number)[] {
  const p = path.trim();
  if (!p.startsWith('$')) throw new Error(`json path must start with $: ${path}`);
  const steps: (string | number)[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/g;
  let i = 1;
  for (;;) {
    re.lastIndex = i;
    const m = re.exec(p);
    if (!m || m.index !== i) break;
    if (m[1] !== undefined) steps.push(m[1] === '*' ? '*' : m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else steps.push((m[3] ?? m[4])!);
    i = re.lastIndex;
  }
  if (i !== p.length) throw new Error(`unsupported json path ${path}`);
  return steps;
}

/** _process_put: option values that the FE planner checks after the txn began. */
export function planOptions(h: Headers, p: Profile, info: HeaderInfo): LoadOptions {
  const strict = header(h, 'strict_mode');
  if (strict !== undefined && !/^(true|false)$/i.test(strict)) {
    throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', 'Invalid strict mode format. Must be bool type'));
  }
  const format = info.format;
  if (format === 'parquet' || format === 'orc' || format === 'arrow') {
    throw new LoadError(beMessage(p, 'NOT_IMPLEMENTED_ERROR', `the Doris emulator does not read format ${format}`));
  }
  const compress = (header(h, 'compress_type') ?? '').toLowerCase();
  if (compress !== '' && compress !== 'gz') {
    throw new LoadError(beMessage(p, 'NOT_IMPLEMENTED_ERROR', `the Doris emulator does not decompress ${compress}`));
  }
  const skipText = header(h, 'skip_lines');
  let skipLines = 0;
  if (skipText !== undefined && skipText !== '') {
    // safe_stoi, then the sign check of _process_put
    if (!/^\s*[+-]?\d+/.test(skipText)) {
      throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', `Invalid format of 'skip_lines': '${skipText}', stoi`));
    }
    skipLines = Number.parseInt(skipText, 10);
    if (skipLines < 0) throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', `Invalid 'skip_lines': ${skipLines}`));
  }
  if (format === 'csv_with_names') skipLines = 1;
  if (format === 'csv_with_names_and_types') skipLines = 2;
  let csv: CsvOptions;
  try {
    csv = {
      columnSeparator: parseSeparator(header(h, 'column_separator') ?? '\t'),
      lineDelimiter: parseSeparator(header(h, 'line_delimiter') ?? '\n'),
      enclose: singleChar(h, 'enclose', p),
      escape: singleChar(h, 'escape', p),
      trimDoubleQuotes: boolHeader(h, 'trim_double_quotes'),
    };
  } catch (e) {
    if (e instanceof LoadError) throw e;
    throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', (e as Error).message));
  }
  if (csv.columnSeparator.length === 0 || csv.lineDelimiter.length === 0) {
    throw new LoadError(beMessage(p, 'INVALID_ARGUMENT', 'Column separator is null or empty'));
  }
  let columns: ColumnMapping | undefined;
  let where: Expr | undefined;
  let jsonpaths: (string | number)[][] | undefined;
  let jsonRoot: (string | number)[] | undefined;
  try {
    const c = header(h, 'columns');
    if (c !== undefined && c.trim() !== '') columns = parseColumns(c);
    const w = header(h, 'where');
    if (w !== undefined && w.trim() !== '') where = parseExpr(w);
    const jp = header(h, 'jsonpaths');
    if (jp !== undefined && jp.trim() !== '') {
      const list = JSON.parse(jp) as unknown;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))
        throw new Error('jsonpaths must be a JSON array of strings');
      jsonpaths = (list as string[]).map(parseJsonPath);
    }
    const jr = header(h, 'json_root');
    if (jr !== undefined && jr.trim() !== '') jsonRoot = parseJsonPath(jr);
  } catch (e) {
    throw new LoadError(feMessage(p, 'ANALYSIS_ERROR', (e as Error).message));
  }
  const mergeType = (header(h, 'merge_type') ?? 'APPEND').toUpperCase();
  const del = header(h, 'delete');
  // The BE checks these itself (_process_put) before asking the FE to plan.
  const planError = (msg: string) => new LoadError(beMessage(p, 'INVALID_ARGUMENT', msg));
  if (!['APPEND', 'DELETE', 'MERGE'].includes(mergeType))
    throw planError(`Invalid merge type ${header(h, 'merge_type')}`);
  if (mergeType === 'MERGE' && !del) throw planError('Excepted DELETE ON clause when merge type is MERGE.');
  if (mergeType !== 'MERGE' && del) throw planError('Not support DELETE ON clause when merge type is not MERGE.');
  if (mergeType !== 'APPEND') {
    throw new LoadError(
      beMessage(p, 'NOT_IMPLEMENTED_ERROR', `the Doris emulator does not apply merge_type ${mergeType}`),
    );
  }
  if (header(h, 'partitions') !== undefined && header(h, 'temporary_partitions') !== undefined) {
    throw planError('Can not specify both partitions and temporary partitions');
  }
  let zone = UTC;
  const tz = header(h, 'timezone') ?? header(h, 'time_zone');
  if (tz !== undefined && tz !== '') {
    try {
      zone = zoneOffset(tz);
    } catch (e) {
      throw new LoadError(feMessage(p, 'ANALYSIS_ERROR', (e as Error).message));
    }
  }
  const ratioText = header(h, 'max_filter_ratio');
  const maxFilterRatio = ratioText === undefined ? 0 : Number.parseFloat(ratioText) || 0;
  return {
    format: format as LoadOptions['format'],
    csv,
    skipLines,
    columns,
    where,
    stripOuterArray: boolHeader(h, 'strip_outer_array'),
    readJsonByLine: readJsonByLine(h, p),
    jsonpaths,
    jsonRoot,
    strictMode: (strict ?? '').toLowerCase() === 'true',
    maxFilterRatio,
    compressGz: compress === 'gz',
    comment: header(h, 'comment') ?? '',
    zone,
  };
}
