// Shared helpers of the writer's integration tests: where the Doris emulator listens (from the test
// bed), its control API (faults, transactions, tables), and the MariaDB rows behind a table.
import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { DorisConfig } from '../../../sinker/config/types.ts';
import { testbed, testbedEnv } from '../../support/testbed.ts';

export interface Emulator {
  fe: string;
  control: string;
  user: string;
  password: string;
}

let checked: Emulator | undefined;

/** The emulator of the test bed; fails with how to start it when it does not answer. */
export async function emulator(): Promise<Emulator> {
  if (checked) return checked;
  const e: Emulator = {
    fe: testbed('DORIS_FE_HTTP'),
    control: testbed('DORIS_CONTROL'),
    user: testbed('DORIS_USER'),
    password: testbedEnv().DORIS_PASSWORD ?? '',
  };
  try {
    const r = await fetch(`http://${e.control}/health`);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
  } catch (err) {
    throw new Error(
      `Doris emulator control API ${e.control} does not answer: run \`test/infra/up emulator\` (${(err as Error).message})`,
    );
  }
  checked = e;
  return e;
}

async function control(path: string, method = 'GET', body?: unknown): Promise<unknown> {
  const e = await emulator();
  const r = await fetch(`http://${e.control}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const json = (await r.json()) as unknown;
  if (!r.ok) throw new Error(`emulator control ${method} ${path}: HTTP ${r.status} ${JSON.stringify(json)}`);
  return json;
}

export interface FaultSpec {
  type: string;
  count?: number;
  label?: string;
  table?: string;
  delayMs?: number;
  status?: number;
  body?: 'html' | 'empty' | 'text';
  commit?: boolean | 'before' | 'after' | 'never';
  mode?: 'refused' | 'hang';
  how?: 'close' | 'rst';
  rows?: number;
  shape?: 'rest' | 'response';
  msg?: string;
  form?: 'too_much_error' | 'summary';
  limitBytes?: number;
}

export async function armFault(spec: FaultSpec): Promise<{ id: number }> {
  return (await control('/faults', 'POST', spec)) as { id: number };
}

export async function disarmFault(id: number): Promise<void> {
  await control(`/faults/${id}`, 'DELETE');
}

export interface EmuTxn {
  id: number;
  label: string;
  state: string;
  reason?: string;
}

export async function txnsOf(db: string, label: string): Promise<EmuTxn[]> {
  const r = (await control(`/txns?db=${encodeURIComponent(db)}&label=${encodeURIComponent(label)}`)) as {
    txns: EmuTxn[];
  };
  return r.txns;
}

const created: string[] = [];

/** Create a fresh two-column table `it_<tag>_<random>` (id BIGINT NOT NULL, name VARCHAR(8) or `nameType`) in test_db. */
export async function freshTable(tag: string, nameType = 'VARCHAR(8)'): Promise<string> {
  const name = `it_${tag}_${randomUUID().slice(0, 8)}`;
  created.push(name);
  await control('/tables', 'POST', {
    ddl: `CREATE TABLE test_db.${name} (id BIGINT NOT NULL, name ${nameType}) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")`,
  });
  return name;
}

let pool: mysql.Pool | undefined;

/** MariaDB database holding the emulator's Doris db `test_db`. */
function storageDb(): string {
  return `${testbedEnv().DORIS_EMULATOR_DB_PREFIX ?? ''}test_db`;
}

/** The rows stored for a table, as `id,name` strings sorted by id. */
export async function storedRows(table: string): Promise<string[]> {
  pool ??= mysql.createPool({
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    connectionLimit: 2,
  });
  const [rows] = await pool.query(`SELECT id, name FROM \`${storageDb()}\`.\`${table}\` ORDER BY id, name`);
  return (rows as { id: number | string; name: string | null }[]).map((r) => `${r.id},${r.name ?? '\\N'}`);
}

/** Drop the MariaDB tables this run created (the emulator forgets them when it restarts) and disconnect. */
export async function closeStorage(): Promise<void> {
  if (pool) {
    for (const t of created.splice(0)) await pool.query(`DROP TABLE IF EXISTS \`${storageDb()}\`.\`${t}\``);
    await pool.end();
  }
  pool = undefined;
}

/** Doris settings for the emulator; `timeout` small so the deadline tests stay quick. */
export async function dorisConfig(table: string, over: Partial<DorisConfig> = {}): Promise<DorisConfig> {
  const e = await emulator();
  return {
    fe_hosts: [e.fe],
    query_port: 9030,
    database: 'test_db',
    table,
    user: e.user,
    password: e.password,
    timeout: 3,
    max_retries: 4,
    retry_backoff_ms: 20,
    load_route: 'backend',
    format: 'csv',
    compress: false,
    stream_load_properties: {},
    ...over,
  };
}
