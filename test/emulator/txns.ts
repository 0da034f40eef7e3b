// Transactions and labels per database, as the FE's DatabaseTransactionMgr keeps them
// (doris-stream-load.md §4, §5): label format, uniqueness ignoring ABORTED txns, retention of finished
// txns by age and count, PRECOMMITTED timeout, and the 2PC state-machine texts. Pure: time is passed in.

export type TxnState = 'PREPARE' | 'PRECOMMITTED' | 'COMMITTED' | 'VISIBLE' | 'ABORTED';

export interface Txn {
  id: number;
  db: string;
  table: string;
  label: string;
  state: TxnState;
  reason: string;
  prepareTime: number;
  precommitTime: number;
  commitTime: number;
  finishTime: number;
  timeoutMs: number;
  /** Rows waiting for commit (2PC) or publish (Publish Timeout fault): the storage layer's business. */
  pending: unknown;
  /** A commit is writing the rows: the txn manager must not abort it now (Doris holds the txn lock). */
  committing?: boolean;
  /** Rows the load carried past filtering (the control API shows it; tests read it when a count is off). */
  rows?: number;
}

export interface TxnConfig {
  labelTtlMs: number;
  /** label_num_threshold; -1 disables the count cap. */
  labelMax: number;
  precommitTimeoutMs: number;
  labelRegexLength: number;
  maxRunningPerDb: number;
}

export const DEFAULT_TXN_CONFIG: TxnConfig = {
  labelTtlMs: 43_200_000,
  labelMax: 2000,
  precommitTimeoutMs: 3_600_000,
  labelRegexLength: 128,
  maxRunningPerDb: 10_000,
};

export type BeginResult =
  | { kind: 'ok'; txn: Txn }
  | { kind: 'exists'; txn: Txn; existing: 'RUNNING' | 'PRECOMMITTED' | 'FINISHED' }
  | { kind: 'bad_label'; message: string }
  | { kind: 'quota'; message: string };

export function existingJobStatus(s: TxnState): 'RUNNING' | 'PRECOMMITTED' | 'FINISHED' {
  if (s === 'PRECOMMITTED') return 'PRECOMMITTED';
  if (s === 'COMMITTED' || s === 'VISIBLE') return 'FINISHED';
  return 'RUNNING';
}

const FINAL_STATES: ReadonlySet<TxnState> = new Set(['VISIBLE', 'ABORTED']);

export class TxnRegistry {
  private nextId: number;
  private readonly byId = new Map<number, Txn>();
  /** db → label → txns with that label (at most one not ABORTED). */
  private readonly labels = new Map<string, Map<string, Txn[]>>();
  /** db → finished txns in finish order, for retention. */
  private readonly finished = new Map<string, Txn[]>();
  private readonly dbIds = new Map<string, number>();

  config: TxnConfig;
  /** Told about every state change ('change') and every forgotten txn ('forget'), for persistence. */
  listener: ((t: Txn, event: 'change' | 'forget') => void) | undefined;

  constructor(config: TxnConfig = DEFAULT_TXN_CONFIG) {
    this.config = config;
    // Real TxnIds are large and increase per cluster; start from the clock so restarts don't go back.
    this.nextId = Date.now() * 10;
  }

  labelRegex(): RegExp {
    return new RegExp(`^[-_A-Za-z0-9:]{1,${this.config.labelRegexLength}}$`);
  }

  dbId(db: string): number {
    let id = this.dbIds.get(db);
    if (id === undefined) {
      id = 10000 + this.dbIds.size * 1000 + 2;
      this.dbIds.set(db, id);
    }
    return id;
  }

  running(db: string): number {
    let n = 0;
    for (const t of this.byId.values()) if (t.db === db && (t.state === 'PREPARE' || t.state === 'PRECOMMITTED')) n++;
    return n;
  }

  /** Begin a txn under `label` (loadTxnBegin). */
  begin(db: string, table: string, label: string, now: number, timeoutMs: number): BeginResult {
    if (!this.labelRegex().test(label)) {
      return {
        kind: 'bad_label',
        message: `Label format error. regex: ^[\\-_A-Za-z0-9:]{1,${this.config.labelRegexLength}}$, label: ${label}`,
      };
    }
    const existing = this.current(db, label);
    if (existing) return { kind: 'exists', txn: existing, existing: existingJobStatus(existing.state) };
    const running = this.running(db);
    if (running >= this.config.maxRunningPerDb) {
      return {
        kind: 'quota',
        message: `current running txns on db ${this.dbId(db)} is ${running}, larger than limit ${this.config.maxRunningPerDb}`,
      };
    }
    const txn: Txn = {
      id: this.nextId++,
      db,
      table,
      label,
      state: 'PREPARE',
      reason: '',
      prepareTime: now,
      precommitTime: -1,
      commitTime: -1,
      finishTime: -1,
      timeoutMs,
      pending: undefined,
    };
    this.byId.set(txn.id, txn);
    let m = this.labels.get(db);
    if (!m) {
      m = new Map();
      this.labels.set(db, m);
    }
    const list = m.get(label);
    if (list) list.push(txn);
    else m.set(label, [txn]);
    this.listener?.(txn, 'change');
    return { kind: 'ok', txn };
  }

  /** Puts back persisted txns (after a restart); PREPARE ones are aborted, as their loads are gone. */
  restore(records: Omit<Txn, 'pending'>[], now: number): void {
    const sorted = [...records].sort((a, b) => a.finishTime - b.finishTime);
    for (const r of sorted) {
      const t: Txn = { ...r, pending: undefined };
      this.byId.set(t.id, t);
      let m = this.labels.get(t.db);
      if (!m) {
        m = new Map();
        this.labels.set(t.db, m);
      }
      m.set(t.label, [...(m.get(t.label) ?? []), t]);
      if (t.id >= this.nextId) this.nextId = t.id + 1;
      if (t.state === 'PREPARE') this.abort(t, now, 'load lost: the emulator restarted');
      else if (FINAL_STATES.has(t.state)) {
        const list = this.finished.get(t.db);
        if (list) list.push(t);
        else this.finished.set(t.db, [t]);
      }
    }
    for (const db of this.finished.keys()) this.trim(db, now);
  }

  /** The non-aborted txn holding the label, if any. */
  current(db: string, label: string): Txn | undefined {
    return this.labels
      .get(db)
      ?.get(label)
      ?.find((t) => t.state !== 'ABORTED');
  }

  /** The latest txn with that label (any state), for get_load_state and SHOW TRANSACTION. */
  latest(db: string, label: string): Txn | undefined {
    const list = this.labels.get(db)?.get(label);
    if (!list || list.length === 0) return undefined;
    return this.current(db, label) ?? list[list.length - 1];
  }

  get(id: number): Txn | undefined {
    return this.byId.get(id);
  }

  all(db?: string): Txn[] {
    return [...this.byId.values()].filter((t) => db === undefined || t.db === db);
  }

  precommit(t: Txn, now: number): void {
    t.state = 'PRECOMMITTED';
    t.precommitTime = now;
    this.listener?.(t, 'change');
  }

  commit(t: Txn, now: number): void {
    t.state = 'COMMITTED';
    t.commitTime = now;
    this.listener?.(t, 'change');
  }

  visible(t: Txn, now: number): void {
    if (t.commitTime < 0) t.commitTime = now;
    t.state = 'VISIBLE';
    this.finish(t, now);
  }

  abort(t: Txn, now: number, reason: string): void {
    if (t.state === 'ABORTED' || t.state === 'VISIBLE') return;
    t.state = 'ABORTED';
    t.reason = reason;
    t.pending = undefined;
    this.finish(t, now);
  }

  private finish(t: Txn, now: number): void {
    t.finishTime = now;
    this.listener?.(t, 'change');
    const list = this.finished.get(t.db);
    if (list) list.push(t);
    else this.finished.set(t.db, [t]);
    this.trim(t.db, now);
  }

  /** Forgets a finished txn now, as the count cap does once enough newer loads finished (the evict fault). */
  evict(t: Txn): void {
    const list = this.finished.get(t.db);
    const at = list?.indexOf(t) ?? -1;
    if (at < 0) return;
    list!.splice(at, 1);
    this.forget(t);
  }

  private forget(t: Txn): void {
    this.byId.delete(t.id);
    this.listener?.(t, 'forget');
    const m = this.labels.get(t.db);
    const list = m?.get(t.label);
    if (m && list) {
      const rest = list.filter((x) => x !== t);
      if (rest.length) m.set(t.label, rest);
      else m.delete(t.label);
    }
  }

  /** Drops finished txns past the TTL or beyond the per-db count cap; their labels become free. */
  private trim(db: string, now: number): void {
    const list = this.finished.get(db);
    if (!list) return;
    let drop = 0;
    while (drop < list.length && now - list[drop]!.finishTime > this.config.labelTtlMs) drop++;
    if (this.config.labelMax >= 0 && list.length - drop > this.config.labelMax)
      drop = list.length - this.config.labelMax;
    for (const t of list.splice(0, drop)) this.forget(t);
  }

  /**
   * Periodic work of the txn manager: expire finished labels, abort PRECOMMITTED txns past the precommit
   * timeout and PREPARE txns past their load timeout. Returns the txns it aborted.
   */
  tick(now: number): Txn[] {
    const aborted: Txn[] = [];
    for (const t of [...this.byId.values()]) {
      if (t.committing) continue;
      if (t.state === 'PRECOMMITTED' && now - t.precommitTime > this.config.precommitTimeoutMs) {
        this.abort(t, now, 'timeout by txn manager');
        aborted.push(t);
      } else if (t.state === 'PREPARE' && now - t.prepareTime > t.timeoutMs) {
        this.abort(t, now, 'timeout by txn manager');
        aborted.push(t);
      }
    }
    for (const db of this.finished.keys()) this.trim(db, now);
    return aborted;
  }

  reset(): void {
    this.byId.clear();
    this.labels.clear();
    this.finished.clear();
  }
}

export type TwoPcOp = 'commit' | 'abort';

/**
 * Finds the txn a 2PC request addresses, as FrontendServiceImpl.loadTxn2PCImpl does before it checks
 * the password: by id, or by label through getTransactionIdByLabel (commit looks at PRECOMMITTED, abort
 * at PRECOMMITTED and PREPARE). A label with no txn at all is "transaction not found", one whose txns
 * are all in other states "running transaction not found", whichever the operation; an unknown id is
 * "transaction [N] not found" (no full stop: loadTxn2PCImpl's own text, not DatabaseTransactionMgr's).
 */
export function find2pc(
  reg: TxnRegistry,
  db: string,
  op: TwoPcOp,
  txnId: number | undefined,
  label: string,
): { txn: Txn } | { error: string } {
  if (txnId !== undefined) {
    const t = reg.get(txnId);
    return t && t.db === db ? { txn: t } : { error: `transaction [${txnId}] not found` };
  }
  const list = reg.all(db).filter((x) => x.label === label);
  if (list.length === 0) return { error: `transaction not found, label=${label}` };
  const t =
    op === 'commit'
      ? list.find((x) => x.state === 'PRECOMMITTED')
      : list.find((x) => x.state === 'PRECOMMITTED' || x.state === 'PREPARE');
  return t ? { txn: t } : { error: `running transaction not found, label=${label}` };
}

/** The txn manager's state check of a 2PC commit or abort (DatabaseTransactionMgr texts, §5). */
export function check2pc(t: Txn, op: TwoPcOp): string | undefined {
  const id = t.id;
  if (op === 'commit') {
    switch (t.state) {
      case 'PRECOMMITTED':
        return undefined;
      case 'VISIBLE':
        return `transaction [${id}] is already visible, not pre-committed.`;
      case 'COMMITTED':
        return `transaction [${id}] is already committed, not pre-committed.`;
      case 'PREPARE':
        return `transaction [${id}] is prepare, not pre-committed.`;
      default:
        return `transaction [${id}] is already aborted. abort reason: ${t.reason}`;
    }
  }
  switch (t.state) {
    case 'PRECOMMITTED':
    case 'PREPARE':
      return undefined;
    case 'ABORTED':
      return `transaction [${id}] is already aborted, abort reason: ${t.reason}`;
    default:
      return `transaction [${id}] is already ${t.state}, could not abort.`;
  }
}
