// Rows in MariaDB: each Doris table becomes a MariaDB table with equivalent column types (created when
// missing), each load is inserted in one MariaDB transaction. UNIQUE and AGGREGATE tables get a primary
// key on their key columns and upsert / aggregate on duplicates, like Doris merges them.
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import type { ColumnDef, TableSchema } from './ddl.ts';
import { mariadbType } from './doris-types.ts';

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
  async insert(db: string, s: TableSchema, rows: (string | null)[][], beforeCommit?: () => void): Promise<void> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const table = `${quoteId(this.dbName(db))}.${quoteId(s.name)}`;
      const cols = s.columns.map((c) => quoteId(c.name)).join(', ');
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
      beforeCommit?.();
      await conn.commit();
    } catch (e) {
      await conn.rollback().catch(() => {});
      throw e;
    } finally {
      conn.release();
    }
  }

  async addColumn(db: string, table: string, c: ColumnDef, after: string | undefined): Promise<void> {
    await this.pool.query(
      `ALTER TABLE ${quoteId(this.dbName(db))}.${quoteId(table)} ADD COLUMN ${mariadbColumn(c)}${after ? ` AFTER ${quoteId(after)}` : ''}`,
    );
  }

  async dropDatabase(db: string): Promise<void> {
    await this.pool.query(`DROP DATABASE IF EXISTS ${quoteId(this.dbName(db))}`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
