// Rows in MariaDB: each Doris table becomes a MariaDB table with equivalent column types (created when
// missing), each load is inserted in one MariaDB transaction. UNIQUE and AGGREGATE tables get a primary
// key on their key columns and upsert / aggregate on duplicates, like Doris merges them.
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import type { ColumnDef, TableSchema } from './ddl.ts';
import { mariadbType } from './doris-types.ts';
import type { Txn } from './txns.ts';

export type DdlKind = 'create_table' | 'create_db' | 'add_column' | 'drop_column' | 'modify_column' | 'drop_table';

/**
 * A load's rows with the column names they were parsed against. A light schema change (ADD/DROP
 * COLUMN) may land between the parse and the commit (2PC, publish, group commit): Doris commits such
 * a load all the same, its dropped columns' values discarded and added ones at their default.
 */
export interface RowSet {
  columns: readonly string[];
  rows: (string | null)[][];
}

/** A transaction as persisted (without its in-memory pending rows). */
export type TxnRecord = Omit<Txn, 'pending'>;

export interface StorageConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Prefix for MariaDB database names (per-test isolation); Doris db `d` lives in `${prefix}d`. */
  dbPrefix: string;
}

const ROWS_PER_INSERT = 500;

export function quoteId(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** A MariaDB column definition for a Doris column. `asText` relaxes long VARCHARs to TEXT for wide tables. */
export function mariadbColumn(c: ColumnDef, asText = false): string {
  let type = mariadbType(c.type);
  if (asText && !c.isKey && /^VARCHAR\((\d+)\)$/.test(type) && Number(type.slice(8, -1)) > 64) type = 'TEXT';
  return `${quoteId(c.name)} ${type}${c.nullable ? ' NULL' : ' NOT NULL'}`;
}

export function createTableSql(dbName: string, s: TableSchema, asText = false): string {
  const cols = s.columns.map((c) => mariadbColumn(c, asText));
  if (s.keysType !== 'DUPLICATE') cols.push(`PRIMARY KEY (${s.keyColumns.map(quoteId).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${quoteId(dbName)}.${quoteId(s.name)} (\n  ${cols.join(',\n  ')}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
}

function upsertClause(s: TableSchema): string {
  if (s.keysType === 'DUPLICATE') return '';
  const sets = s.columns
    .filter((c) => !c.isKey)
    .map((c) => {
      const q = quoteId(c.name);
      switch (s.keysType === 'UNIQUE' ? 'REPLACE' : c.aggregation) {
        case 'SUM':
          return `${q} = ${q} + VALUES(${q})`;
        case 'MAX':
          return `${q} = GREATEST(${q}, VALUES(${q}))`;
        case 'MIN':
          return `${q} = LEAST(${q}, VALUES(${q}))`;
        case 'REPLACE_IF_NOT_NULL':
          return `${q} = COALESCE(VALUES(${q}), ${q})`;
        default:
          return `${q} = VALUES(${q})`;
      }
    });
  return sets.length
    ? ` ON DUPLICATE KEY UPDATE ${sets.join(', ')}`
    : ` ON DUPLICATE KEY UPDATE ${quoteId(s.columns[0]!.name)} = ${quoteId(s.columns[0]!.name)}`;
}

/**
 * The row set as the table has it now: values of columns dropped since the parse are left out (the
 * columns the table added meanwhile get MariaDB's default, NULL, where Doris uses the column's DEFAULT).
 */
export function onTable(s: TableSchema, set: RowSet): { names: string[]; rows: (string | null)[][] } {
  const current = s.columns.map((c) => c.name);
  if (current.length === set.columns.length && current.every((n, i) => n === set.columns[i])) {
    return { names: current, rows: set.rows };
  }
  const have = new Set(current.map((n) => n.toLowerCase()));
  const keep: number[] = [];
  for (let i = 0; i < set.columns.length; i++) if (have.has(set.columns[i]!.toLowerCase())) keep.push(i);
  return {
    names: keep.map((i) => set.columns[i]!),
    rows: set.rows.map((r) => keep.map((i) => r[i] ?? null)),
  };
}

const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** Rows as LOAD DATA text: tab-separated, backslash escapes, `\N` for NULL. */
export function tsv(rows: (string | null)[][]): Buffer {
  const lines: string[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const f: string[] = new Array(r.length);
    for (let k = 0; k < r.length; k++) {
      const v = r[k];
      f[k] =
        v === null || v === undefined
          ? '\\N'
          : /[\\\t\n\r\0]/.test(v)
            ? v.replace(/[\\\t\n\r\0]/g, (c) => TSV_ESCAPES[c]!)
            : v;
    }
    lines[i] = f.join('\t');
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

export class Storage {
  readonly pool: mysql.Pool;
  readonly config: StorageConfig;

  constructor(config: StorageConfig) {
    this.config = config;
    this.pool = mysql.createPool({
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      charset: 'utf8mb4_bin',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      timezone: 'Z',
      connectionLimit: 8,
    });
  }

  dbName(db: string): string {
    return `${this.config.dbPrefix}${db}`;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** Creates the database and table if missing (an existing table is used as it is). */
  async ensureTable(db: string, s: TableSchema): Promise<void> {
    const name = this.dbName(db);
    await this.pool.query(`CREATE DATABASE IF NOT EXISTS ${quoteId(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    try {
      await this.pool.query(createTableSql(name, s));
    } catch (e) {
      // 1118: row size too large (many long VARCHARs in utf8mb4); store the long ones as TEXT instead.
      if ((e as { errno?: number }).errno !== 1118) throw e;
      await this.pool.query(createTableSql(name, s, true));
    }
  }

  /**
   * Inserts rows in one transaction. `beforeCommit` may throw to roll the whole load back (the
   * commit-phase failure fault).
   */
  async insert(
    db: string,
    s: TableSchema,
    set: RowSet,
    beforeCommit?: (conn: mysql.PoolConnection) => void | Promise<void>,
  ): Promise<void> {
    const { names, rows } = onTable(s, set);
    await this.transaction(async (conn) => {
      const table = `${quoteId(this.dbName(db))}.${quoteId(s.name)}`;
      const cols = names.map(quoteId).join(', ');
      if (s.keysType !== 'AGGREGATE' && rows.length > ROWS_PER_INSERT) {
        // LOAD DATA is several times faster than multi-row INSERTs; REPLACE gives UNIQUE's upsert.
        await conn.query({
          sql: `LOAD DATA LOCAL INFILE 'rows.tsv' ${s.keysType === 'UNIQUE' ? 'REPLACE ' : ''}INTO TABLE ${table} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${cols})`,
          infileStreamFactory: () => Readable.from([tsv(rows)]),
        });
      } else {
        const head = `INSERT INTO ${table} (${cols}) VALUES ?${upsertClause(s)}`;
        for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
          await conn.query(head, [rows.slice(i, i + ROWS_PER_INSERT)]);
        }
      }
      await beforeCommit?.(conn);
    });
  }

  /**
   * Runs `fn` in one MariaDB transaction, again from the start when InnoDB picks it as a deadlock
   * victim or its lock wait times out: concurrent loads and the asynchronous publish of 2PC commits
   * touch the same tables, and such a clash is the emulator's own, never a Doris answer.
   */
  private async transaction(fn: (conn: mysql.PoolConnection) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const conn = await this.pool.getConnection();
      try {
        await conn.beginTransaction();
        await fn(conn);
        await conn.commit();
        return;
      } catch (e) {
        await conn.rollback().catch(() => {});
        const errno = (e as { errno?: number }).errno;
        if ((errno !== 1213 && errno !== 1205) || attempt >= 8) throw e;
      } finally {
        conn.release();
      }
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
    }
  }

  // --- the FE's transaction state, kept in MariaDB so an emulator restart keeps labels and 2PC data ---

  metaDb(): string {
    return `${this.config.dbPrefix}__doris_emulator`;
  }

  async ensureMeta(): Promise<void> {
    const m = quoteId(this.metaDb());
    await this.pool.query(`CREATE DATABASE IF NOT EXISTS ${m} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${m}.txns (id BIGINT PRIMARY KEY, db VARCHAR(255) NOT NULL, tbl VARCHAR(255) NOT NULL,
        label VARCHAR(255) NOT NULL, state VARCHAR(16) NOT NULL, reason TEXT, prepare_time BIGINT, precommit_time BIGINT,
        commit_time BIGINT, finish_time BIGINT, timeout_ms BIGINT, KEY (db, label)) ENGINE=InnoDB`,
    );
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${m}.pending (txn_id BIGINT NOT NULL, seq INT NOT NULL, row_json LONGTEXT NOT NULL,
        PRIMARY KEY (txn_id, seq)) ENGINE=InnoDB`,
    );
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${m}.ddl_log (seq BIGINT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(16) NOT NULL,
        db VARCHAR(255) NULL, payload LONGTEXT NOT NULL) ENGINE=InnoDB`,
    );
  }

  /** Schema changes made at run time (tables, databases, added columns), replayed on start. */
  async logDdl(kind: DdlKind, db: string | undefined, payload: string): Promise<void> {
    await this.pool.query(`INSERT INTO ${quoteId(this.metaDb())}.ddl_log (kind, db, payload) VALUES (?, ?, ?)`, [
      kind,
      db ?? null,
      payload,
    ]);
  }

  async readDdlLog(): Promise<{ kind: DdlKind; db: string | undefined; payload: string }[]> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      `SELECT kind, db, payload FROM ${quoteId(this.metaDb())}.ddl_log ORDER BY seq`,
    );
    return rows.map((r) => ({
      kind: r.kind as DdlKind,
      db: r.db === null ? undefined : String(r.db),
      payload: String(r.payload),
    }));
  }

  async upsertTxn(conn: mysql.Pool | mysql.PoolConnection, t: TxnRecord): Promise<void> {
    await conn.query(
      `REPLACE INTO ${quoteId(this.metaDb())}.txns (id, db, tbl, label, state, reason, prepare_time, precommit_time, commit_time, finish_time, timeout_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        t.id,
        t.db,
        t.table,
        t.label,
        t.state,
        t.reason,
        t.prepareTime,
        t.precommitTime,
        t.commitTime,
        t.finishTime,
        t.timeoutMs,
      ],
    );
  }

  async deleteTxn(id: number): Promise<void> {
    await this.pool.query(`DELETE FROM ${quoteId(this.metaDb())}.txns WHERE id = ?`, [id]);
    await this.pool.query(`DELETE FROM ${quoteId(this.metaDb())}.pending WHERE txn_id = ?`, [id]);
  }

  /** Stores a precommitted txn's rows and its PRECOMMITTED record in one transaction. */
  async savePending(t: TxnRecord, set: RowSet): Promise<void> {
    const { rows } = set;
    await this.transaction(async (conn) => {
      const m = quoteId(this.metaDb());
      await conn.query(`DELETE FROM ${m}.pending WHERE txn_id = ?`, [t.id]);
      // seq -1: the column names the rows were parsed against (a restart may find the table altered).
      await conn.query(`INSERT INTO ${m}.pending (txn_id, seq, row_json) VALUES (?, -1, ?)`, [
        t.id,
        JSON.stringify({ columns: set.columns }),
      ]);
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const chunk = rows.slice(i, i + ROWS_PER_INSERT).map((r, k) => [t.id, i + k, JSON.stringify(r)]);
        await conn.query(`INSERT INTO ${m}.pending (txn_id, seq, row_json) VALUES ?`, [chunk]);
      }
      await this.upsertTxn(conn, t);
    });
  }

  /** A txn's kept rows; `columns` undefined when kept by an emulator that did not record them. */
  async loadPending(id: number): Promise<{ columns: string[] | undefined; rows: (string | null)[][] }> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      `SELECT seq, row_json FROM ${quoteId(this.metaDb())}.pending WHERE txn_id = ? ORDER BY seq`,
      [id],
    );
    const head = rows[0] && Number(rows[0].seq) === -1 ? rows.shift() : undefined;
    return {
      columns: head ? (JSON.parse(String(head.row_json)) as { columns: string[] }).columns : undefined,
      rows: rows.map((r) => JSON.parse(String(r.row_json)) as (string | null)[]),
    };
  }

  async deletePending(conn: mysql.Pool | mysql.PoolConnection, id: number): Promise<void> {
    await conn.query(`DELETE FROM ${quoteId(this.metaDb())}.pending WHERE txn_id = ?`, [id]);
  }

  async readTxns(): Promise<TxnRecord[]> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      `SELECT * FROM ${quoteId(this.metaDb())}.txns ORDER BY id`,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      db: String(r.db),
      table: String(r.tbl),
      label: String(r.label),
      state: String(r.state) as TxnRecord['state'],
      reason: String(r.reason ?? ''),
      prepareTime: Number(r.prepare_time),
      precommitTime: Number(r.precommit_time),
      commitTime: Number(r.commit_time),
      finishTime: Number(r.finish_time),
      timeoutMs: Number(r.timeout_ms),
    }));
  }

  async addColumn(db: string, table: string, c: ColumnDef, after: string | undefined): Promise<void> {
    await this.pool.query(
      `ALTER TABLE ${quoteId(this.dbName(db))}.${quoteId(table)} ADD COLUMN IF NOT EXISTS ${mariadbColumn(c)}${after ? ` AFTER ${quoteId(after)}` : ''}`,
    );
  }

  async dropColumn(db: string, table: string, name: string): Promise<void> {
    await this.pool.query(
      `ALTER TABLE ${quoteId(this.dbName(db))}.${quoteId(table)} DROP COLUMN IF EXISTS ${quoteId(name)}`,
    );
  }

  /** `place`: undefined keeps the column where it is; null moves it first; a name moves it after that column. */
  async modifyColumn(db: string, table: string, c: ColumnDef, place: string | null | undefined): Promise<void> {
    const at = place === undefined ? '' : place === null ? ' FIRST' : ` AFTER ${quoteId(place)}`;
    const sql = (asText: boolean) =>
      `ALTER TABLE ${quoteId(this.dbName(db))}.${quoteId(table)} MODIFY COLUMN ${mariadbColumn(c, asText)}${at}`;
    try {
      await this.pool.query(sql(false));
    } catch (e) {
      // 1118: row size too large, as in ensureTable: the long VARCHAR is kept as TEXT.
      if ((e as { errno?: number }).errno !== 1118) throw e;
      await this.pool.query(sql(true));
    }
  }

  async dropTable(db: string, table: string): Promise<void> {
    await this.pool.query(`DROP TABLE IF EXISTS ${quoteId(this.dbName(db))}.${quoteId(table)}`);
  }

  async dropDatabase(db: string): Promise<void> {
    await this.pool.query(`DROP DATABASE IF EXISTS ${quoteId(this.dbName(db))}`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
