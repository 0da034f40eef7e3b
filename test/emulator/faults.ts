// Fault injection (doris-stream-load.md §11 faults) and the emulator's counters. A fault is armed for
// the next `count` matching requests, optionally only for labels matching `label` (a regex), and is
// consumed when it fires. Pure bookkeeping: the servers decide what each fault does.

export const FAULT_TYPES = [
  'commit_then_drop', // 1: commit, then close/RST the socket without a reply
  'publish_timeout', // 2: reply Publish Timeout; rows become visible after delayMs
  'http_error', // 3: reply HTTP status (502/503/504) with an HTML, empty or text body; commit: bool
  'slow_reply', // 4: hold the reply delayMs; commit: 'before' | 'after' | 'never'
  'load_timeout', // 4: Fail [TIMEOUT]…, txn aborted
  'too_many_versions', // 6: Fail [E-235]…
  'filter_rows', // 7: mark the first `rows` rows filtered (reason "injected")
  'dead_be', // 8: FE redirects to a closed port (mode 'refused') or a port that never answers ('hang')
  'no_backend', // 8: FE answers No backend available for load…
  'txn_quota', // 9: begin fails: current running txns on db … larger than limit …
  'commit_fail', // 10: Fail get tableList write lock timeout with NumberLoadedRows > 0, rolled back
  'schema_change_block', // 11: group commit async: insert table t is blocked on schema change
  'wal_space', // 11: group commit async: no space for WAL
  'commit_2pc_fail', // 12: a 2PC commit fails with get tableList write lock timeout (txn stays PRECOMMITTED; commit: true commits it anyway, evict: true then forgets its label)
  'fe_error', // 13: FE answers an error JSON: shape 'rest' ({status,msg}) or 'response' ({msg,code,data,count})
  'publish_fail', // publishing a committed txn's rows fails `count` times; it stays COMMITTED and is published again
  'error_log_form', // §6: the load's error log in Doris's other line forms: form 'too_much_error' (50 entries, then the stop line), 'summary' (a `Summary: msg` line after the entries); limitBytes cuts each line there as load_error_log_limit_bytes does
] as const;

export type FaultType = (typeof FAULT_TYPES)[number];

export interface FaultSpec {
  type: FaultType;
  /** How many matching requests it fires for (default 1; unlimited when only durationMs is given). */
  count?: number;
  /** Fires for this long after being armed (a back-off window), then disarms itself. */
  durationMs?: number;
  /** Regex on the label; without it any request matches. */
  label?: string;
  /** Restrict to a table name. */
  table?: string;
  delayMs?: number;
  status?: number;
  body?: 'html' | 'empty' | 'text';
  commit?: boolean | 'before' | 'after' | 'never';
  mode?: 'refused' | 'hang';
  how?: 'close' | 'rst';
  rows?: number;
  shape?: 'rest' | 'response';
  /** commit_2pc_fail with commit: true — forget the label once committed (as 2000 newer loads would). */
  evict?: boolean;
  msg?: string;
  /** error_log_form: which of the BE's other error-log line forms to write. */
  form?: 'too_much_error' | 'summary';
  /** error_log_form: the BE's load_error_log_limit_bytes (each longer line is cut and marked). */
  limitBytes?: number;
}

/** The BE's MAX_ERROR_NUM: the log names this many rows before its stop line (RuntimeState). */
const MAX_ERROR_NUM = 50;

/**
 * The error-log lines of a load as a BE writes them in the forms the error_log_form fault asks for
 * (RuntimeState::append_error_msg_to_file): the stop line `TOO MUCH ERROR! …` in place of entry 51
 * (a BE whose error-row count reaches MAX_ERROR_NUM), a `Summary: ` line, and lines longer than
 * load_error_log_limit_bytes cut at that byte and ended with `error log is too long`.
 */
export function errorLogForm(lines: readonly string[], f: Pick<FaultSpec, 'form' | 'limitBytes' | 'msg'>): string[] {
  let out = [...lines];
  if (f.form === 'too_much_error' && out.length > MAX_ERROR_NUM) {
    out = [...out.slice(0, MAX_ERROR_NUM), `TOO MUCH ERROR! already reach ${MAX_ERROR_NUM}. show no more next error.`];
  }
  if (f.form === 'summary') out.push(`Summary: ${f.msg ?? 'injected by the emulator (error_log_form fault)'}`);
  const limit = f.limitBytes;
  if (limit !== undefined) {
    out = out.map((l) =>
      Buffer.byteLength(l) > limit ? `${Buffer.from(l).subarray(0, limit).toString()}error log is too long` : l,
    );
  }
  return out;
}

export interface Fault extends FaultSpec {
  id: number;
  remaining: number;
  fired: number;
  /** Epoch ms after which the fault no longer fires (durationMs), or undefined. */
  until: number | undefined;
}

export class FaultRegistry {
  private nextId = 1;
  private faults: Fault[] = [];
  readonly firedByType: Record<string, number> = {};

  add(spec: FaultSpec): Fault {
    if (!FAULT_TYPES.includes(spec.type)) {
      throw new Error(`unknown fault type ${JSON.stringify(spec.type)}; known: ${FAULT_TYPES.join(', ')}`);
    }
    if (spec.label !== undefined) new RegExp(spec.label);
    const count = spec.count ?? (spec.durationMs !== undefined ? Number.POSITIVE_INFINITY : 1);
    if (!(count >= 1)) throw new Error(`fault count must be >= 1, got ${spec.count}`);
    const until = spec.durationMs === undefined ? undefined : Date.now() + spec.durationMs;
    const f: Fault = { ...spec, id: this.nextId++, remaining: count, fired: 0, until };
    this.faults.push(f);
    return f;
  }

  /** Takes the first armed fault of one of `types` matching the request, consuming one use. */
  take(types: readonly FaultType[], label: string, table?: string): Fault | undefined {
    const now = Date.now();
    this.faults = this.faults.filter((x) => x.until === undefined || x.until > now);
    const f = this.faults.find(
      (x) =>
        types.includes(x.type) &&
        x.remaining > 0 &&
        (x.label === undefined || new RegExp(x.label).test(label)) &&
        (x.table === undefined || table === undefined || x.table === table),
    );
    if (!f) return undefined;
    f.remaining--;
    f.fired++;
    this.firedByType[f.type] = (this.firedByType[f.type] ?? 0) + 1;
    if (f.remaining === 0) this.faults = this.faults.filter((x) => x !== f);
    return f;
  }

  list(): Fault[] {
    return [...this.faults];
  }

  remove(id: number): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((x) => x.id !== id);
    return this.faults.length < before;
  }

  clear(): void {
    this.faults = [];
    for (const k of Object.keys(this.firedByType)) delete this.firedByType[k];
  }
}

export interface Counters {
  /** Stream-load requests that reached the BE load handler. */
  loads: number;
  /** Rows read (NumberTotalRows summed). */
  rows: number;
  loadedRows: number;
  filteredRows: number;
  unselectedRows: number;
  /** Body bytes received (LoadBytes summed). */
  bytes: number;
  /** Distinct labels that began a txn. */
  labels: number;
  /** Replies by Status. */
  status: Record<string, number>;
  redirects: number;
  twoPc: { commit: number; abort: number; failed: number };
}

export function newCounters(): Counters {
  return {
    loads: 0,
    rows: 0,
    loadedRows: 0,
    filteredRows: 0,
    unselectedRows: 0,
    bytes: 0,
    labels: 0,
    status: {},
    redirects: 0,
    twoPc: { commit: 0, abort: 0, failed: 0 },
  };
}
