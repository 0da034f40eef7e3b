// The emulator's shared state: profile, tables (Doris schemas by db), transactions, faults, counters,
// error logs, group-commit groups and MariaDB storage. The FE, BE, query and control servers all work on it.
import { randomBytes } from 'node:crypto';
import { type ColumnDef, parseDdlFile, type TableSchema } from './ddl.ts';
import { FaultRegistry, newCounters } from './faults.ts';
import { getProfile, type Profile, type ProfileName } from './profile.ts';
import type { Mode } from './rows.ts';
import type { Storage } from './storage.ts';
import { DEFAULT_TXN_CONFIG, type Txn, TxnRegistry } from './txns.ts';

const MAX_ERROR_LOGS = 2000;

export interface EngineConfig {
  profile: ProfileName;
  mode: Mode;
  user: string;
  password: string;
  /** Host the FE puts in redirects and ErrorURLs. */
  host: string;
  defaultDb: string;
  labelTtlMs: number;
  labelMax: number;
  precommitTimeoutMs: number;
  groupCommitIntervalMs: number;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  profile: '3.0',
  mode: 'full',
  user: 'root',
  password: '',
  host: '127.0.0.1',
  defaultDb: 'test_db',
  labelTtlMs: DEFAULT_TXN_CONFIG.labelTtlMs,
  labelMax: DEFAULT_TXN_CONFIG.labelMax,
  precommitTimeoutMs: DEFAULT_TXN_CONFIG.precommitTimeoutMs,
  groupCommitIntervalMs: 10_000,
};

export interface GroupCommitGroup {
  label: string;
  txnId: number;
  closeAt: number;
  rows: (string | null)[][];
  done: Promise<void>;
}

export class Engine {
  profile: Profile;
  readonly txns: TxnRegistry;
  readonly faults = new FaultRegistry();
  counters = newCounters();
  /** db → lower-case table name → schema. */
  readonly tables = new Map<string, Map<string, TableSchema>>();
  readonly errorLogs = new Map<string, string>();
  readonly groups = new Map<string, GroupCommitGroup>();
  readonly seenLabels = new Set<string>();
  /** BE http ports, filled in by the servers. */
  bePorts: number[] = [];
  private rr = 0;
  private shard = 0;

  config: EngineConfig;
  readonly storage: Storage | undefined;

  constructor(config: EngineConfig, storage: Storage | undefined) {
    this.config = config;
    this.storage = storage;
    this.profile = getProfile(config.profile);
    this.txns = new TxnRegistry({
      ...DEFAULT_TXN_CONFIG,
      labelTtlMs: config.labelTtlMs,
      labelMax: config.labelMax,
      precommitTimeoutMs: config.precommitTimeoutMs,
    });
  }

  setProfile(name: ProfileName): void {
    this.profile = getProfile(name);
    this.config.profile = name;
  }

  /** Password check; the user may be `user@cluster`. */
  checkPassword(user: string, password: string): boolean {
    return user.replace(/@.*$/, '') === this.config.user && password === this.config.password;
  }

  accessDenied(user: string, ip: string, password: string): string {
    return `Access denied for user '${user}@${ip}' (using password: ${password === '' ? 'NO' : 'YES'})`;
  }

  hasDb(db: string): boolean {
    return this.tables.has(db);
  }

  table(db: string, name: string): TableSchema | undefined {
    return this.tables.get(db)?.get(name.toLowerCase());
  }

  /** Registers tables from Doris DDL text and creates their MariaDB tables; returns them. */
  async addDdl(sql: string, db?: string): Promise<TableSchema[]> {
    const schemas = parseDdlFile(sql);
    for (const s of schemas) {
      // The DDL's own db wins unless the caller names one (tests load the canonical DDL into their db).
      const target = db ?? s.db ?? this.config.defaultDb;
      s.db = target;
      await this.storage?.ensureTable(target, s);
      let m = this.tables.get(target);
      if (!m) {
        m = new Map();
        this.tables.set(target, m);
      }
      m.set(s.name.toLowerCase(), s);
    }
    return schemas;
  }

  async addColumn(db: string, table: string, col: ColumnDef, after: string | undefined): Promise<void> {
    const s = this.table(db, table);
    if (!s) throw new Error(`Unknown table '${table}'`);
    if (s.columns.some((c) => c.name.toLowerCase() === col.name.toLowerCase())) {
      throw new Error(`Duplicate column name '${col.name}'`);
    }
    await this.storage?.addColumn(db, s.name, col, after);
    const at = after ? s.columns.findIndex((c) => c.name.toLowerCase() === after.toLowerCase()) + 1 : s.columns.length;
    s.columns.splice(at > 0 ? at : s.columns.length, 0, col);
  }

  /** Round-robin over the live BEs. */
  nextBePort(): number | undefined {
    if (this.bePorts.length === 0) return undefined;
    const port = this.bePorts[this.rr % this.bePorts.length]!;
    this.rr++;
    return port;
  }

  /** Stores an error log and returns its ErrorURL. */
  errorUrl(db: string, label: string, bePort: number, lines: string[]): string {
    const file = `__shard_${this.shard++ % 100}/error_log_${db}_${label}_${randomBytes(8).toString('hex')}`;
    this.errorLogs.set(file, lines.join('\n'));
    // Doris keeps error logs 48 h; the emulator keeps the newest MAX_ERROR_LOGS in memory.
    if (this.errorLogs.size > MAX_ERROR_LOGS) this.errorLogs.delete(this.errorLogs.keys().next().value!);
    return `http://${this.config.host}:${bePort}/api/_load_error_log?file=${encodeURIComponent(file).replace(/%2F/g, '/')}`;
  }

  /** Applies the rows kept by a precommitted or publish-pending txn, then makes it VISIBLE. */
  async publish(txn: Txn): Promise<void> {
    const rows = txn.pending as (string | null)[][] | undefined;
    const s = this.table(txn.db, txn.table);
    if (rows && rows.length > 0 && s && this.storage && this.config.mode === 'full')
      await this.storage.insert(txn.db, s, rows);
    txn.pending = undefined;
    this.txns.visible(txn, Date.now());
  }

  countStatus(status: string): void {
    this.counters.status[status] = (this.counters.status[status] ?? 0) + 1;
  }

  reset(opts: { txns?: boolean }): void {
    this.counters = newCounters();
    this.faults.clear();
    this.errorLogs.clear();
    this.seenLabels.clear();
    if (opts.txns) this.txns.reset();
  }
}
