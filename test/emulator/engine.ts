// The emulator's shared state: profile, tables (Doris schemas by db), transactions, faults, counters,
// error logs, group-commit groups and MariaDB storage. The FE, BE, query and control servers all work on it.
import { randomBytes } from 'node:crypto';
import { type ColumnDef, parseDdlFile, type TableSchema } from './ddl.ts';
import { FaultRegistry, newCounters } from './faults.ts';
import { BodyPool } from './http-util.ts';
import { getProfile, type Profile, type ProfileName } from './profile.ts';
import type { Mode } from './rows.ts';
import type { RowSet, Storage, TxnRecord } from './storage.ts';
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
  /**
   * A 2PC commit answers once the txn is COMMITTED; the publish daemon makes it VISIBLE this long
   * after the reply (GlobalTransactionMgr.commitTransaction2PC does not wait for publish).
   */
  publishDelayMs: number;
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
  publishDelayMs: 20,
};

export interface GroupCommitGroup {
  label: string;
  txnId: number;
  closeAt: number;
  /** The column names every load in the group was parsed against (a schema change starts a new group). */
  columns: readonly string[];
  rows: (string | null)[][];
  done: Promise<void>;
}

/** A txn without its in-memory rows, as persisted. */
export function snapshot(t: Txn): TxnRecord {
  const { pending: _p, ...rec } = t;
  return rec;
}

export class Engine {
  profile: Profile;
  readonly txns: TxnRegistry;
  readonly faults = new FaultRegistry();
  counters = newCounters();
  /** db → table name → schema. Names are case-sensitive, as with Doris's default lower_case_table_names = 0. */
  readonly tables = new Map<string, Map<string, TableSchema>>();
  readonly errorLogs = new Map<string, string>();
  readonly groups = new Map<string, GroupCommitGroup>();
  readonly seenLabels = new Set<string>();
  /** Stream Load bodies' buffers, reused in counting mode. */
  readonly bodyPool = new BodyPool();
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
    this.txns.listener = (t, event) => {
      const storage = this.storage;
      if (!storage || !this.persisting()) return;
      const rec = snapshot(t);
      this.persistQueue = this.persistQueue
        .then(() => (event === 'forget' ? storage.deleteTxn(rec.id) : storage.upsertTxn(storage.pool, rec)))
        .catch((e: unknown) =>
          console.error(`doris-emulator: persisting txn ${rec.id} failed: ${(e as Error).message}`),
        );
    };
  }

  private persistQueue: Promise<void> = Promise.resolve();

  /** Transactions are kept in MariaDB in full mode (validate/count keep no data, so no state either). */
  persisting(): boolean {
    return this.storage !== undefined && this.config.mode === 'full';
  }

  /** Resolves when every txn change so far is in MariaDB; replies wait for it. */
  persisted(): Promise<void> {
    return this.persistQueue;
  }

  /** Restores persisted transactions (labels, 2PC txns) after a restart; publishes COMMITTED ones. */
  async init(): Promise<void> {
    if (!this.storage) return;
    await this.storage.ensureMeta();
    await this.replayDdl();
    if (!this.persisting()) return;
    this.txns.restore(await this.storage.readTxns(), Date.now());
    for (const t of this.txns.all()) {
      if (t.state === 'COMMITTED') await this.publish(t);
    }
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
    return this.tables.get(db)?.get(name);
  }

  /**
   * Registers tables from Doris DDL text and creates their MariaDB tables; returns them. `log` keeps
   * the statement for replay after a restart (run-time DDL, not the start-up files).
   */
  async addDdl(sql: string, db?: string, log = false): Promise<TableSchema[]> {
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
      m.set(s.name, s);
    }
    if (log && schemas.length > 0) await this.storage?.logDdl('create_table', db, sql);
    return schemas;
  }

  /**
   * DROP TABLE: the table is gone for loads (the BE's loadTxnBegin answers "table not found") and
   * DESCRIBE, and its MariaDB rows with it. Doris keeps it for RECOVER a while; the emulator does not.
   */
  async dropTable(db: string, name: string, log = true): Promise<boolean> {
    const m = this.tables.get(db);
    const s = m?.get(name);
    if (!m || !s) return false;
    m.delete(name);
    await this.storage?.dropTable(db, s.name);
    if (log) await this.storage?.logDdl('drop_table', db, s.name);
    return true;
  }

  async createDatabase(db: string, log = true): Promise<void> {
    if (this.tables.has(db)) return;
    this.tables.set(db, new Map());
    if (log) await this.storage?.logDdl('create_db', db, '');
  }

  async addColumn(db: string, table: string, col: ColumnDef, after: string | undefined, log = true): Promise<void> {
    const s = this.table(db, table);
    if (!s) throw new Error(`Unknown table '${table}'`);
    if (s.columns.some((c) => c.name.toLowerCase() === col.name.toLowerCase())) {
      throw new Error(`Duplicate column name '${col.name}'`);
    }
    await this.storage?.addColumn(db, s.name, col, after);
    const at = after ? s.columns.findIndex((c) => c.name.toLowerCase() === after.toLowerCase()) + 1 : s.columns.length;
    // A new array, not splice: a load parsed against the old one keeps its column list.
    s.columns = s.columns.toSpliced(at > 0 ? at : s.columns.length, 0, col);
    if (log) await this.storage?.logDdl('add_column', db, JSON.stringify({ table: s.name, col, after }));
  }

  /**
   * ALTER TABLE … DROP COLUMN, a light schema change as in Doris (table property light_schema_change,
   * true by default since 2.0): done at once, loads under way commit without the column.
   */
  async dropColumn(db: string, table: string, name: string, log = true): Promise<void> {
    const s = this.table(db, table);
    if (!s) throw new Error(`Unknown table '${table}'`);
    const col = s.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (!col) throw new Error(`Column does not exists: ${name}`);
    if (col.isKey && s.keysType !== 'DUPLICATE') {
      throw new Error(
        `Can not drop key column in ${s.keysType === 'UNIQUE' ? 'Unique' : 'Aggregate'} data model table`,
      );
    }
    if (s.columns.length === 1) throw new Error('Do not allow remove all columns');
    await this.storage?.dropColumn(db, s.name, col.name);
    s.columns = s.columns.filter((c) => c !== col);
    s.keyColumns = s.keyColumns.filter((k) => k.toLowerCase() !== col.name.toLowerCase());
    if (log) await this.storage?.logDdl('drop_column', db, JSON.stringify({ table: s.name, name: col.name }));
  }

  /**
   * ALTER TABLE … MODIFY COLUMN: a new type (Doris refuses to shorten a string), nullability, default,
   * and a new place (FIRST, AFTER c). Doris runs a type change as an asynchronous schema-change job
   * (DESCRIBE shows the new type once it is FINISHED); the emulator finishes it at once.
   */
  async modifyColumn(
    db: string,
    table: string,
    col: ColumnDef,
    place: string | null | undefined,
    log = true,
  ): Promise<void> {
    const s = this.table(db, table);
    if (!s) throw new Error(`Unknown table '${table}'`);
    const i = s.columns.findIndex((c) => c.name.toLowerCase() === col.name.toLowerCase());
    if (i < 0) throw new Error(`Column[${col.name}] does not exists`);
    const old = s.columns[i]!;
    const next: ColumnDef = {
      ...col,
      name: old.name,
      isKey: old.isKey,
      aggregation: col.aggregation ?? old.aggregation,
    };
    if (
      (old.type.base === 'varchar' || old.type.base === 'char') &&
      old.type.base === next.type.base &&
      next.type.precision < old.type.precision
    ) {
      throw new Error('Cannot shorten string length');
    }
    if (place !== undefined && place !== null && !s.columns.some((c) => c.name.toLowerCase() === place.toLowerCase())) {
      throw new Error(`Column[${place}] does not exists`);
    }
    await this.storage?.modifyColumn(db, s.name, next, place);
    const rest = s.columns.filter((_, k) => k !== i);
    const at =
      place === undefined
        ? i
        : place === null
          ? 0
          : rest.findIndex((c) => c.name.toLowerCase() === place.toLowerCase()) + 1;
    s.columns = rest.toSpliced(at, 0, next);
    if (log) await this.storage?.logDdl('modify_column', db, JSON.stringify({ table: s.name, col: next, place }));
  }

  /** Replays run-time DDL kept in MariaDB (after the start-up DDL files). */
  private async replayDdl(): Promise<void> {
    for (const e of await this.storage!.readDdlLog()) {
      if (e.kind === 'create_table') await this.addDdl(e.payload, e.db, false);
      else if (e.kind === 'create_db' && e.db) await this.createDatabase(e.db, false);
      else if (e.kind === 'drop_table' && e.db) await this.dropTable(e.db, e.payload, false);
      else if (e.kind === 'add_column' && e.db) {
        const { table, col, after } = JSON.parse(e.payload) as { table: string; col: ColumnDef; after?: string };
        const s = this.table(e.db, table);
        if (s && !s.columns.some((c) => c.name.toLowerCase() === col.name.toLowerCase()))
          await this.addColumn(e.db, table, col, after, false);
      } else if (e.kind === 'drop_column' && e.db) {
        const { table, name } = JSON.parse(e.payload) as { table: string; name: string };
        const s = this.table(e.db, table);
        if (s?.columns.some((c) => c.name.toLowerCase() === name.toLowerCase()))
          await this.dropColumn(e.db, table, name, false);
      } else if (e.kind === 'modify_column' && e.db) {
        const { table, col, place } = JSON.parse(e.payload) as { table: string; col: ColumnDef; place?: string | null };
        if (this.table(e.db, table)) await this.modifyColumn(e.db, table, col, place, false);
      }
    }
  }

  /** Round-robin over the live BEs. */
  nextBePort(): number | undefined {
    if (this.bePorts.length === 0) return undefined;
    const port = this.bePorts[this.rr % this.bePorts.length]!;
    this.rr++;
    return port;
  }

  /**
   * Stores an error log and returns its ErrorURL. The file is named as the BE names it: the runtime
   * state's db is "insert_stmt" and its label the fragment instance id (hi-lo), not the load's.
   */
  errorUrl(bePort: number, lines: string[]): string {
    const hi = BigInt(`0x${randomBytes(8).toString('hex')}`).toString(16);
    const lo = BigInt(`0x${randomBytes(8).toString('hex')}`).toString(16);
    const file = `__shard_${this.shard++ % 100}/error_log_insert_stmt_${hi}-${lo}_${hi}_${lo}`;
    this.errorLogs.set(file, lines.map((l) => `${l}\n`).join(''));
    // Doris keeps error logs 48 h; the emulator keeps the newest MAX_ERROR_LOGS in memory.
    if (this.errorLogs.size > MAX_ERROR_LOGS) this.errorLogs.delete(this.errorLogs.keys().next().value!);
    return `http://${this.config.host}:${bePort}/api/_load_error_log?file=${encodeURIComponent(file).replace(/%2F/g, '/')}`;
  }

  /**
   * Applies the rows kept by a precommitted or publish-pending txn and makes it VISIBLE; rows and the
   * VISIBLE record are written in one MariaDB transaction.
   */
  async publish(txn: Txn): Promise<void> {
    const s = this.table(txn.db, txn.table);
    const storage = this.storage;
    if (this.faults.take(['publish_fail'], txn.label, txn.table)) {
      throw new Error(`publish of txn ${txn.id} failed (injected publish_fail)`);
    }
    txn.committing = true;
    try {
      await this.publishRows(txn, s, storage);
    } finally {
      txn.committing = false;
    }
    txn.pending = undefined;
    this.txns.visible(txn, Date.now());
  }

  /**
   * Publishes a COMMITTED txn until it is VISIBLE, as Doris's publish daemon does: a committed txn
   * is never lost, only late (its label reads COMMITTED meanwhile). First try after `delayMs`.
   */
  publishEventually(txn: Txn, delayMs = 0, attempt = 0): void {
    const timer = setTimeout(() => {
      this.publish(txn).catch(() => {
        if (txn.state === 'COMMITTED') this.publishEventually(txn, Math.min(2000, 100 * 2 ** attempt), attempt + 1);
      });
    }, delayMs);
    timer.unref();
  }

  private async publishRows(txn: Txn, s: TableSchema | undefined, storage: Storage | undefined): Promise<void> {
    if (s && storage && this.persisting()) {
      let set = txn.pending as RowSet | undefined;
      if (!set) {
        const kept = await storage.loadPending(txn.id);
        set = { columns: kept.columns ?? s.columns.map((c) => c.name), rows: kept.rows };
      }
      const now = Date.now();
      await storage.insert(txn.db, s, set, async (conn) => {
        const commitTime = txn.commitTime < 0 ? now : txn.commitTime;
        await storage.upsertTxn(conn, { ...snapshot(txn), state: 'VISIBLE', finishTime: now, commitTime });
        await storage.deletePending(conn, txn.id);
      });
    }
  }

  /** Keeps a precommitted txn's rows in MariaDB (with its PRECOMMITTED record) before the reply. */
  async savePending(txn: Txn, set: RowSet): Promise<void> {
    if (this.storage && this.persisting()) await this.storage.savePending(snapshot(txn), set);
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
