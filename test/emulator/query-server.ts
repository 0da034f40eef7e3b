// The FE's MySQL-protocol port (doris-stream-load.md §8) on mysql2's server side: handshake with
// mysql_native_password, DESC[RIBE] with Doris's six VARCHAR columns and the profile's type spelling,
// ALTER TABLE … ADD / DROP / MODIFY COLUMN, CREATE DATABASE/TABLE (Doris DDL), DROP TABLE, SHOW TRANSACTION … WHERE LABEL,
// SHOW DATABASES/TABLES, USE, SET and SELECT of literals — enough for mysql2 clients and the sinker.
import { createHash } from 'node:crypto';
import mysql from 'mysql2';
import { parseCreateTable } from './ddl.ts';
import { spellType } from './doris-types.ts';
import type { Engine } from './engine.ts';
import type { Txn } from './txns.ts';

interface Conn {
  on(event: string, fn: (...args: never[]) => void): void;
  serverHandshake(args: Record<string, unknown>): void;
  writeColumns(cols: Record<string, unknown>[]): void;
  writeTextRow(row: (string | null)[]): void;
  writeEof(): void;
  writeOk(args?: Record<string, unknown>): void;
  writeError(args: { message: string; code: number }): void;
  stream: { remoteAddress?: string; on(event: string, fn: () => void): void; destroy(): void };
}

export interface QueryServer {
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

const VARCHAR = 253;
const UTF8 = 33;
let connectionSeq = 1;

function column(name: string): Record<string, unknown> {
  return {
    catalog: 'def',
    schema: '',
    table: '',
    orgTable: '',
    name,
    orgName: name,
    characterSet: UTF8,
    columnLength: 1020,
    columnType: VARCHAR,
    flags: 0,
    decimals: 0,
  };
}

class SqlError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const fe = (msg: string) => `errCode = 2, detailMessage = ${msg}`;

const sha1 = (...parts: Buffer[]) => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** mysql_native_password: token = SHA1(pw) XOR SHA1(seed + SHA1(SHA1(pw))). */
export function nativePasswordOk(seed: Buffer, token: Buffer, password: string): boolean {
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  const mask = sha1(seed, sha1(stage1));
  if (token.length !== stage1.length) return false;
  for (let i = 0; i < token.length; i++) if ((token[i]! ^ mask[i]!) !== stage1[i]) return false;
  return true;
}

function unquote(id: string): string {
  return id.replace(/^`|`$/g, '');
}

function timeText(ms: number): string | null {
  if (ms < 0) return null;
  const d = new Date(ms);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

export function createQueryServer(engine: Engine): QueryServer {
  const sockets = new Set<{ destroy(): void }>();
  const server = mysql.createServer((raw) => {
    const conn = raw as unknown as Conn;
    let currentDb = '';
    // mysql2's server side never resets the sequence id between commands (its handshake command
    // stays active), so replies would carry stale ids: follow the client's id on every packet.
    const inner = raw as unknown as { handlePacket(p?: { sequenceId: number }): void; sequenceId: number };
    const handlePacket = inner.handlePacket.bind(inner);
    inner.handlePacket = (packet) => {
      if (packet) inner.sequenceId = packet.sequenceId;
      handlePacket(packet);
    };
    sockets.add(conn.stream);
    conn.stream.on('close', () => sockets.delete(conn.stream));
    conn.on('error', () => {});
    conn.serverHandshake({
      protocolVersion: 10,
      serverVersion: '5.7.99',
      connectionId: connectionSeq++,
      statusFlags: 2,
      characterSet: UTF8,
      // LONG_PASSWORD|FOUND_ROWS|LONG_FLAG|CONNECT_WITH_DB|PROTOCOL_41|TRANSACTIONS|SECURE_CONNECTION|MULTI_RESULTS|PLUGIN_AUTH
      capabilityFlags: 0x000aa20f,
      authCallback: (
        params: {
          user: string;
          database?: string;
          address?: string;
          authPluginData1: Buffer;
          authPluginData2: Buffer;
          authToken: Buffer;
        },
        cb: (err: null, mysqlError?: { message: string; code: number }) => void,
      ) => {
        const pw = engine.config.password;
        const user = params.user.replace(/@.*$/, '');
        const token = params.authToken ?? Buffer.alloc(0);
        const ok =
          user === engine.config.user &&
          (pw === ''
            ? token.length === 0
            : nativePasswordOk(Buffer.concat([params.authPluginData1, params.authPluginData2]), token, pw));
        if (!ok) {
          const ip = (params.address ?? '').replace(/^::ffff:/, '');
          cb(null, {
            message: `Access denied for user '${params.user}'@'${ip}' (using password: ${token.length ? 'YES' : 'NO'})`,
            code: 1045,
          });
          return;
        }
        if (params.database) currentDb = params.database;
        cb(null);
      },
    });
    const run = (sql: string) => {
      handle(engine, sql, currentDb, (db) => {
        currentDb = db;
      })
        .then((result) => {
          if (!result) return conn.writeOk();
          conn.writeColumns(result.columns.map(column));
          for (const row of result.rows) conn.writeTextRow(row);
          conn.writeEof();
        })
        .catch((e: unknown) => {
          const code = e instanceof SqlError ? e.code : 1105;
          conn.writeError({ code, message: e instanceof SqlError ? e.message : fe((e as Error).message) });
        });
    };
    conn.on('query', run as never);
    // mysql2 routes SET (and PREPARE) statements to this event.
    conn.on('stmt_prepare', ((sql: string) => {
      if (/^\s*SET\b/i.test(sql)) conn.writeOk();
      else conn.writeError({ code: 1105, message: fe('prepared statements are not supported by the Doris emulator') });
    }) as never);
    conn.on('init_db', ((db: string) => {
      if (!engine.hasDb(db)) conn.writeError({ code: 1049, message: fe(`Unknown database '${db}'`) });
      else {
        currentDb = db;
        conn.writeOk();
      }
    }) as never);
  });
  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        const inner = (server as unknown as { _server: import('node:net').Server })._server;
        inner.once('error', reject);
        inner.listen(port, host, () => resolve((inner.address() as import('node:net').AddressInfo).port));
      }),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface ResultSet {
  columns: string[];
  rows: (string | null)[][];
}

function tableRef(engine: Engine, ref: string, currentDb: string): { db: string; table: string } {
  const parts = ref.split('.').map(unquote);
  const db = parts.length > 1 ? parts[0]! : currentDb;
  const table = parts[parts.length - 1]!;
  if (!db) throw new SqlError(1046, fe('No database selected'));
  if (!engine.hasDb(db)) throw new SqlError(1049, fe(`Unknown database '${db}'`));
  if (!engine.table(db, table)) throw new SqlError(1051, fe(`Unknown table '${table}'`));
  return { db, table };
}

const TXN_COLUMNS = [
  'TransactionId',
  'Label',
  'Coordinator',
  'TransactionStatus',
  'LoadJobSourceType',
  'PrepareTime',
  'PreCommitTime',
  'CommitTime',
  'PublishTime',
  'FinishTime',
  'Reason',
  'ErrorReplicasCount',
  'ListenerId',
  'TimeoutMs',
  'ErrMsg',
];

function txnRow(t: Txn): (string | null)[] {
  return [
    String(t.id),
    t.label,
    `BE: 127.0.0.1`,
    t.state,
    'BACKEND_STREAMING',
    timeText(t.prepareTime),
    timeText(t.precommitTime),
    timeText(t.commitTime),
    timeText(t.state === 'VISIBLE' ? t.finishTime : -1),
    timeText(t.finishTime),
    t.reason,
    '0',
    '-1',
    String(t.timeoutMs),
    '',
  ];
}

function likeToRegex(pattern: string): RegExp {
  const re = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${re}$`, 's');
}

/** Executes one statement; undefined means an OK packet. */
async function handle(
  engine: Engine,
  sqlText: string,
  currentDb: string,
  use: (db: string) => void,
): Promise<ResultSet | undefined> {
  // Drivers prefix statements with a /* comment */ (Connector/J names itself there).
  const sql = sqlText
    .trim()
    .replace(/^(\/\*.*?\*\/\s*)+/s, '')
    .replace(/;\s*$/, '');
  let m = /^(?:DESC|DESCRIBE)\s+(\S+?)(\s+ALL)?$/i.exec(sql);
  if (m) {
    const { db, table } = tableRef(engine, m[1]!, currentDb);
    const s = engine.table(db, table)!;
    const rows = s.columns.map((c) => {
      const extra: string[] = [];
      // UNIQUE without an explicit merge-on-write property follows the profile's default (2.1+: MoW).
      const mowDefault = s.keysType === 'UNIQUE' && s.properties.enable_unique_key_merge_on_write === undefined;
      if (!c.isKey && mowDefault) extra.push(engine.profile.uniqueMowDefault ? 'NONE' : 'REPLACE');
      else if (!c.isKey && c.aggregation) extra.push(c.aggregation);
      if (c.autoIncrement) extra.push('AUTO_INCREMENT');
      return [
        c.name,
        spellType(c.type, engine.profile),
        c.nullable ? 'Yes' : 'No',
        c.isKey ? 'true' : 'false',
        c.defaultValue,
        extra.join(','),
      ];
    });
    return { columns: ['Field', 'Type', 'Null', 'Key', 'Default', 'Extra'], rows };
  }
  m = /^SHOW\s+TRANSACTION\s+(?:FROM\s+(\S+)\s+)?WHERE\s+(LABEL|ID)\s*(=|LIKE)\s*['"]?([^'"]*)['"]?$/i.exec(sql);
  if (m) {
    const db = m[1] ? unquote(m[1]) : currentDb;
    if (!db) throw new SqlError(1046, fe('No database selected'));
    if (!engine.hasDb(db)) throw new SqlError(1049, fe(`Unknown database '${db}'`));
    const field = m[2]!.toUpperCase();
    const value = m[4]!;
    const match =
      field === 'ID'
        ? (t: Txn) => String(t.id) === value
        : m[3]!.toUpperCase() === 'LIKE'
          ? (t: Txn) => likeToRegex(value).test(t.label)
          : (t: Txn) => t.label === value;
    const txns = engine.txns.all(db).filter(match);
    return { columns: TXN_COLUMNS, rows: txns.sort((a, b) => a.id - b.id).map(txnRow) };
  }
  m = /^ALTER\s+TABLE\s+(\S+)\s+ADD\s+COLUMN\s+(.+)$/is.exec(sql);
  if (m) {
    const { db, table } = tableRef(engine, m[1]!, currentDb);
    let defs = m[2]!.trim();
    let after: string | undefined;
    const afterM = /\s+(AFTER\s+(\S+)|FIRST)\s*(?:TO\s+\S+)?$/i.exec(defs);
    if (afterM && !defs.startsWith('(')) {
      after = afterM[2] ? unquote(afterM[2]) : undefined;
      defs = defs.slice(0, afterM.index);
    }
    if (defs.startsWith('(') && defs.endsWith(')')) defs = defs.slice(1, -1);
    const parsed = parseCreateTable(`CREATE TABLE x (${defs}) DUPLICATE KEY(${defs.trim().split(/\s+/)[0]})`);
    const keysType = engine.table(db, table)!.keysType;
    for (const c of parsed.columns) {
      c.isKey = false;
      c.aggregation =
        keysType === 'AGGREGATE'
          ? (c.aggregation ?? 'REPLACE')
          : keysType === 'UNIQUE' && !engine.profile.uniqueMowDefault
            ? 'REPLACE'
            : 'NONE';
      await engine.addColumn(db, table, c, after);
      after = c.name;
    }
    return undefined;
  }
  m = /^ALTER\s+TABLE\s+(\S+)\s+DROP\s+COLUMN\s+(`[^`]+`|\S+)$/is.exec(sql);
  if (m) {
    const { db, table } = tableRef(engine, m[1]!, currentDb);
    await engine.dropColumn(db, table, unquote(m[2]!));
    return undefined;
  }
  m = /^ALTER\s+TABLE\s+(\S+)\s+MODIFY\s+COLUMN\s+(.+)$/is.exec(sql);
  if (m) {
    const { db, table } = tableRef(engine, m[1]!, currentDb);
    let def = m[2]!.trim();
    // undefined: stays where it is; null: FIRST; else AFTER that column.
    let place: string | null | undefined;
    const placeM = /\s+(AFTER\s+(\S+)|FIRST)$/i.exec(def);
    if (placeM) {
      place = placeM[2] ? unquote(placeM[2]) : null;
      def = def.slice(0, placeM.index);
    }
    const name = def.split(/\s+/)[0]!;
    const [col] = parseCreateTable(`CREATE TABLE x (${def}) DUPLICATE KEY(${name})`).columns;
    col!.aggregation = null;
    await engine.modifyColumn(db, table, col!, place);
    return undefined;
  }
  m = /^DROP\s+TABLE\s+(IF\s+EXISTS\s+)?(\S+?)(?:\s+FORCE)?$/i.exec(sql);
  if (m) {
    // Doris answers a missing table (without IF EXISTS) with 1051 Unknown table, as DESCRIBE does.
    if (m[1]) {
      const parts = m[2]!.split('.').map(unquote);
      const db = parts.length > 1 ? parts[0]! : currentDb;
      if (!db) throw new SqlError(1046, fe('No database selected'));
      await engine.dropTable(db, parts[parts.length - 1]!);
      return undefined;
    }
    const { db, table } = tableRef(engine, m[2]!, currentDb);
    await engine.dropTable(db, table);
    return undefined;
  }
  m = /^CREATE\s+(?:DATABASE|SCHEMA)\s+(IF\s+NOT\s+EXISTS\s+)?(\S+)$/i.exec(sql);
  if (m) {
    const db = unquote(m[2]!);
    if (engine.hasDb(db) && !m[1]) throw new SqlError(1007, fe(`Can't create database '${db}'; database exists`));
    await engine.createDatabase(db);
    return undefined;
  }
  if (/^CREATE\s+(EXTERNAL\s+)?TABLE\b/i.test(sql)) {
    const qualified = /^CREATE\s+(?:EXTERNAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\S+\.\S+/i.test(sql);
    if (!qualified && !currentDb) throw new SqlError(1046, fe('No database selected'));
    await engine.addDdl(sql, qualified ? undefined : currentDb, true);
    return undefined;
  }
  m = /^USE\s+(\S+)$/i.exec(sql);
  if (m) {
    const db = unquote(m[1]!);
    if (!engine.hasDb(db)) throw new SqlError(1049, fe(`Unknown database '${db}'`));
    use(db);
    return undefined;
  }
  if (/^SHOW\s+DATABASES$/i.test(sql)) {
    return { columns: ['Database'], rows: [...engine.tables.keys()].sort().map((d) => [d]) };
  }
  m = /^SHOW\s+TABLES(?:\s+(?:FROM|IN)\s+(\S+))?$/i.exec(sql);
  if (m) {
    const db = m[1] ? unquote(m[1]) : currentDb;
    if (!engine.hasDb(db)) throw new SqlError(1049, fe(`Unknown database '${db}'`));
    return { columns: [`Tables_in_${db}`], rows: [...engine.tables.get(db)!.values()].map((t) => [t.name]) };
  }
  if (/^(SET|BEGIN|COMMIT|ROLLBACK)\b/i.test(sql)) return undefined;
  if (/^SELECT\b/i.test(sql) && /\bFROM\b/i.test(sql)) return passThrough(engine, sql, currentDb);
  m = /^SELECT\s+(.+)$/is.exec(sql);
  if (m && !/\bFROM\b/i.test(sql)) {
    // Session probes drivers send on connect (Connector/J asks for ~20 @@variables in one SELECT).
    const items = splitSelectList(m[1]!);
    const columns: string[] = [];
    const row: (string | null)[] = [];
    for (const item of items) {
      const a = /^(.+?)\s+AS\s+(\S+)$/is.exec(item);
      const expr = (a ? a[1]! : item).trim();
      columns.push(a ? unquote(a[2]!) : expr);
      row.push(selectValue(expr, currentDb));
    }
    return { columns, rows: [row] };
  }
  throw new SqlError(1105, fe(`the Doris emulator does not support this statement: ${sql.slice(0, 200)}`));
}

/** `SELECT … FROM …` runs on MariaDB, with Doris db names mapped to the storage's database names. */
async function passThrough(engine: Engine, sql: string, currentDb: string): Promise<ResultSet> {
  const storage = engine.storage;
  if (!storage) throw new SqlError(1105, fe('this emulator stores no rows (started without --mysql)'));
  let q = sql;
  for (const db of engine.tables.keys()) {
    const re = new RegExp(`(^|[\\s,(])\`?${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`?\\.`, 'g');
    q = q.replace(re, (_m, pre: string) => `${pre}\`${storage.dbName(db)}\`.`);
  }
  const conn = await storage.pool.getConnection();
  try {
    if (currentDb) await conn.query(`USE \`${storage.dbName(currentDb)}\``);
    const [rows, fields] = await conn.query({ sql: q, rowsAsArray: true });
    const list = rows as unknown[][];
    return {
      columns: (fields ?? []).map((f) => f.name),
      rows: list.map((r) =>
        r.map((v) => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v))),
      ),
    };
  } catch (e) {
    if (e instanceof SqlError) throw e;
    throw new SqlError(1105, fe((e as Error).message));
  } finally {
    conn.release();
  }
}

/** Values of the session variables a Doris FE reports (close enough for drivers). */
const SESSION_VARIABLES: Record<string, string> = {
  auto_increment_increment: '1',
  autocommit: '1',
  character_set_client: 'utf8mb4',
  character_set_connection: 'utf8mb4',
  character_set_results: 'utf8mb4',
  character_set_server: 'utf8mb4',
  collation_server: 'utf8mb4_0900_bin',
  collation_connection: 'utf8mb4_0900_bin',
  collation_database: 'utf8mb4_0900_bin',
  init_connect: '',
  interactive_timeout: '3600',
  license: 'Apache License, Version 2.0',
  lower_case_table_names: '0',
  max_allowed_packet: '16777216',
  net_buffer_length: '16384',
  net_write_timeout: '600',
  performance_schema: '0',
  query_cache_size: '1048576',
  query_cache_type: 'OFF',
  sql_mode: 'ONLY_FULL_GROUP_BY',
  system_time_zone: 'UTC',
  time_zone: 'UTC',
  transaction_isolation: 'REPEATABLE-READ',
  tx_isolation: 'REPEATABLE-READ',
  transaction_read_only: '0',
  tx_read_only: '0',
  wait_timeout: '28800',
  version: '5.7.99',
  version_comment: 'Doris emulator',
};

function selectValue(expr: string, currentDb: string): string | null {
  const v = /^@@(?:session\.|global\.|local\.)?(\w+)$/i.exec(expr);
  if (v) return SESSION_VARIABLES[v[1]!.toLowerCase()] ?? null;
  if (/^version\(\)$/i.test(expr)) return '5.7.99';
  if (/^(database|schema)\(\)$/i.test(expr)) return currentDb || null;
  if (/^(connection_id)\(\)$/i.test(expr)) return '1';
  if (/^'.*'$/s.test(expr) || /^".*"$/s.test(expr)) return expr.slice(1, -1);
  if (/^null$/i.test(expr)) return null;
  return expr;
}

/** Splits a SELECT list on top-level commas. */
function splitSelectList(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out.filter((x) => x.length > 0);
}
