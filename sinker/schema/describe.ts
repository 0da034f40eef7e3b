// Reads a table's columns with `DESCRIBE db.table` over the MySQL protocol (Doris FE query port).
import mysql from 'mysql2/promise';
import { columnsFromDescribe, type DescribeRow, SchemaError, tableSchema } from './schema.ts';
import type { TableSchema } from './types.ts';

export interface DescribeOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  table: string;
  /** Connect + query deadline, milliseconds. */
  timeoutMs?: number;
}

function quoteIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** `host:port` from `doris.fe_hosts` (HTTP port) → the FE host; the query port comes from `doris.query_port`. */
export function feHostName(feHost: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(feHost) ?? /^([^:]+)(?::\d+)?$/.exec(feHost);
  return m ? m[1]! : feHost;
}

/**
 * MySQL-protocol errors that asking again will not fix: access denied (login, database, table),
 * unknown database, unknown table (Doris answers 1051; MySQL's own spelling is 1146).
 */
const PERMANENT_ERRNOS = new Set([1044, 1045, 1049, 1051, 1142, 1146]);

/** Runs DESCRIBE and returns the parsed schema. Errors name the host, the table and Doris's message. */
export async function describeTable(opts: DescribeOptions): Promise<TableSchema> {
  const target = `${opts.database}.${opts.table} on ${opts.host}:${opts.port}`;
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({
      host: opts.host,
      port: opts.port,
      user: opts.user,
      password: opts.password,
      connectTimeout: opts.timeoutMs ?? 10_000,
    });
    const [rows] = await conn.query({
      sql: `DESCRIBE ${quoteIdent(opts.database)}.${quoteIdent(opts.table)}`,
      timeout: opts.timeoutMs ?? 10_000,
    });
    return tableSchema(columnsFromDescribe(normalizeRows(rows)));
  } catch (err) {
    if (err instanceof SchemaError) throw new SchemaError(`DESCRIBE ${target}: ${err.message}`);
    const e = err as { message?: string; code?: string; errno?: number };
    throw new SchemaError(
      `DESCRIBE ${target} failed: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`,
      e.errno !== undefined && PERMANENT_ERRNOS.has(e.errno),
    );
  } finally {
    if (conn) await close(conn);
  }
}

/** How long a polite close may take before the socket is dropped. */
const CLOSE_WAIT_MS = 1000;

/**
 * end() sends COM_QUIT and waits for the server to close the socket, which a server that stopped
 * answering (the reason a query just timed out) never does: the caller, and the refresh loop behind
 * it, would wait for good. Bounded, then destroyed.
 */
async function close(conn: mysql.Connection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    conn.end().then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!closed) conn.destroy();
}

/** mysql2 rows → DescribeRow, every value as text (or null). */
function normalizeRows(rows: unknown): DescribeRow[] {
  if (!Array.isArray(rows)) throw new SchemaError('DESCRIBE returned no result set');
  const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
  return rows.map((r: Record<string, unknown>) => ({
    Field: text(r.Field) ?? '',
    Type: text(r.Type) ?? '',
    Null: text(r.Null) ?? '',
    Key: text(r.Key) ?? '',
    Default: text(r.Default),
    Extra: text(r.Extra),
  }));
}
