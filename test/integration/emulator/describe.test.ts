// DESCRIBE and DDL over the MySQL-protocol port with mysql2 as the client (doris-stream-load.md §8,
// §11 behaviour 16), in every version profile.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { basic, event, jsonLines, load, PASSWORD, queryRows, startTestEmulator, type TestEmulator } from './helpers.ts';

let t: TestEmulator;
let c: mysql.Connection;
before(async () => {
  t = await startTestEmulator();
  c = await mysql.createConnection({
    host: '127.0.0.1',
    port: t.emu.queryPort,
    user: 'root',
    password: PASSWORD,
    database: 'test_db',
  });
  await c.query(`CREATE TABLE IF NOT EXISTS t_desc (
      k1 INT NOT NULL, k2 VARCHAR(20) NOT NULL, d DECIMAL(5, 1) DEFAULT "0", dt DATETIME(3), dd DATE, s STRING, j JSON, b BOOLEAN,
      arr ARRAY<INT>, li LARGEINT, m MAP<STRING, INT>
    ) UNIQUE KEY(k1, k2) DISTRIBUTED BY HASH(k1) BUCKETS 1 PROPERTIES ("replication_num" = "1")`);
});
after(async () => {
  await c?.end();
  await t?.close();
});

const expected: Record<string, Record<string, string>> = {
  '1.2': {
    k1: 'INT',
    k2: 'VARCHAR(20)',
    d: 'DECIMALV3(5, 1)',
    dt: 'DATETIMEV2(3)',
    dd: 'DATEV2',
    s: 'TEXT',
    j: 'JSONB',
    b: 'BOOLEAN',
    arr: 'ARRAY<INT>',
    li: 'LARGEINT',
    m: 'MAP<STRING,INT>',
  },
  '2.0': {
    k1: 'INT',
    k2: 'VARCHAR(20)',
    d: 'DECIMAL(5, 1)',
    dt: 'DATETIME(3)',
    dd: 'DATE',
    s: 'TEXT',
    j: 'JSON',
    b: 'BOOLEAN',
    arr: 'ARRAY<INT>',
    li: 'LARGEINT',
    m: 'MAP<STRING,INT>',
  },
  '3.0': {
    k1: 'int',
    k2: 'varchar(20)',
    d: 'decimal(5,1)',
    dt: 'datetime(3)',
    dd: 'date',
    s: 'text',
    j: 'json',
    b: 'boolean',
    arr: 'array<int>',
    li: 'largeint',
    m: 'map<string,int>',
  },
};
expected['2.1'] = expected['2.0']!;
expected['4.0'] = expected['3.0']!;

test('DESCRIBE: six VARCHAR columns, Key true/false, Default NULL on the wire, type spelling per profile', async (tc) => {
  tc.after(() => t.control('POST', '/config', { profile: '3.0' }));
  for (const profile of ['1.2', '2.0', '2.1', '3.0', '4.0']) {
    await t.control('POST', '/config', { profile });
    const [rows, fields] = await c.query<mysql.RowDataPacket[]>('DESCRIBE test_db.t_desc');
    assert.deepEqual(
      fields.map((f) => f.name),
      ['Field', 'Type', 'Null', 'Key', 'Default', 'Extra'],
    );
    assert.ok(
      fields.every((f) => f.columnType === 253),
      'every column is VARCHAR',
    );
    const types = Object.fromEntries(rows.map((r) => [r.Field, r.Type]));
    assert.deepEqual(types, expected[profile], `profile ${profile}`);
    const k1 = rows.find((r) => r.Field === 'k1')!;
    assert.deepEqual(
      { ...k1 },
      { Field: 'k1', Type: expected[profile]!.k1, Null: 'No', Key: 'true', Default: null, Extra: '' },
    );
    const d = rows.find((r) => r.Field === 'd')!;
    assert.equal(d.Default, '0');
    assert.equal(d.Key, 'false');
    assert.equal(
      d.Extra,
      profile === '1.2' || profile === '2.0' ? 'REPLACE' : 'NONE',
      'UNIQUE value columns: merge-on-write from 2.1',
    );
  }
  await t.control('POST', '/config', { profile: '3.0' });
  const [canon] = await c.query<mysql.RowDataPacket[]>('DESC tb_event');
  assert.equal(canon.length, 66);
  assert.deepEqual(
    { ...canon.find((r) => r.Field === 'created_at') },
    { Field: 'created_at', Type: 'datetime(3)', Null: 'Yes', Key: 'false', Default: null, Extra: 'NONE' },
  );
});

test('ALTER TABLE ADD COLUMN shows in DESCRIBE and in MariaDB; loads can use it', async () => {
  await c.query("ALTER TABLE test_db.tb_event ADD COLUMN new_col VARCHAR(16) DEFAULT 'dflt' AFTER event_time");
  const [rows] = await c.query<mysql.RowDataPacket[]>('DESC test_db.tb_event');
  assert.equal(rows[4]!.Field, 'new_col');
  assert.equal(rows[4]!.Type, 'varchar(16)');
  assert.equal(rows[4]!.Default, 'dflt');
  assert.equal(rows[4]!.Extra, 'NONE');
  const cols = await queryRows(t.maria, `SHOW COLUMNS FROM ${t.tableName('test_db', 'tb_event')} LIKE 'new_col'`);
  assert.equal(cols.length, 1);
  await assert.rejects(
    c.query('ALTER TABLE test_db.tb_event ADD COLUMN new_col INT'),
    /Duplicate column name 'new_col'/,
  );
});

test('errors: unknown table 1051, unknown database 1049, wrong password 1045, unsupported statement 1105', async () => {
  await assert.rejects(c.query('DESC test_db.nope'), (e: { errno: number; message: string }) => {
    assert.equal(e.errno, 1051);
    assert.equal(e.message, "errCode = 2, detailMessage = Unknown table 'nope'");
    return true;
  });
  await assert.rejects(c.query('DESC nodb.t'), (e: { errno: number }) => e.errno === 1049);
  await assert.rejects(c.query('TRUNCATE TABLE test_db.tb_event'), (e: { errno: number }) => e.errno === 1105);
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: t.emu.queryPort, user: 'root', password: 'bad' }),
    (e: { errno: number }) => e.errno === 1045,
  );
});

test('DROP TABLE: gone for DESCRIBE, for Stream Load ("table not found") and in MariaDB; a missing one is 1051 unless IF EXISTS; created again, it loads', async () => {
  const ddl =
    'CREATE TABLE test_db.t_drop (id BIGINT NOT NULL) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")';
  const loadIds = (ids: number[]) =>
    load(`http://${t.fe}/api/test_db/t_drop/_stream_load`, {
      headers: { Authorization: basic(), format: 'json', read_json_by_line: 'true' },
      body: jsonLines(ids.map((id) => ({ id }))),
    });
  await c.query(ddl);
  assert.equal(JSON.parse((await loadIds([1, 2])).body).Status, 'Success');
  await c.query('DROP TABLE test_db.t_drop');
  await assert.rejects(c.query('DESC test_db.t_drop'), (e: { errno: number }) => e.errno === 1051);
  const refused = JSON.parse((await loadIds([3])).body) as { Status: string; Message: string };
  assert.equal(refused.Status, 'Fail');
  assert.match(refused.Message, /table not found, tableName=t_drop/);
  assert.equal(
    (await queryRows(t.maria, `SHOW TABLES FROM \`${t.prefix}test_db\` LIKE 't_drop'`)).length,
    0,
    'the MariaDB table outlived the drop',
  );
  await assert.rejects(c.query('DROP TABLE test_db.t_drop'), (e: { errno: number; message: string }) => {
    assert.equal(e.errno, 1051);
    assert.equal(e.message, "errCode = 2, detailMessage = Unknown table 't_drop'");
    return true;
  });
  await c.query('DROP TABLE IF EXISTS test_db.t_drop');
  await c.query(ddl);
  assert.equal(JSON.parse((await loadIds([4])).body).Status, 'Success');
  assert.deepEqual(
    (await queryRows(t.maria, `SELECT id FROM ${t.tableName('test_db', 't_drop')}`)).map((r) => String(r.id)),
    ['4'],
  );
});

test('session basics a client needs: SELECT 1, SET, USE, SHOW DATABASES/TABLES, a pool', async () => {
  const [one] = await c.query<mysql.RowDataPacket[]>('SELECT 1');
  assert.equal(Object.values(one[0]!)[0], '1');
  await c.query("SET time_zone = '+00:00'");
  await c.query('USE test_db');
  const [tables] = await c.query<mysql.RowDataPacket[]>('SHOW TABLES');
  assert.ok(tables.some((r) => Object.values(r)[0] === 't_desc'));
  const pool = mysql.createPool({
    host: '127.0.0.1',
    port: t.emu.queryPort,
    user: 'root',
    password: PASSWORD,
    connectionLimit: 3,
  });
  try {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => pool.query<mysql.RowDataPacket[]>('DESC test_db.t_desc')),
    );
    assert.ok(results.every(([r]) => r.length === 11));
  } finally {
    await pool.end();
  }
});

test('SELECT … FROM passes through to the stored rows, with Doris db names', async () => {
  const r = await load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
    headers: { Authorization: basic(), format: 'json', read_json_by_line: 'true' },
    body: jsonLines([event(7001, { title: 'seven' }), event(7002)]),
  });
  assert.equal(JSON.parse(r.body).NumberLoadedRows, 2);
  const [rows] = await c.query<mysql.RowDataPacket[]>(
    'SELECT id, title FROM test_db.tb_event WHERE id >= 7001 ORDER BY id',
  );
  assert.deepEqual(
    rows.map((x) => ({ ...x })),
    [
      { id: '7001', title: 'seven' },
      { id: '7002', title: null },
    ],
  );
  await c.query('USE test_db');
  const [n] = await c.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM tb_event WHERE id >= 7001');
  assert.equal(n[0]!.n, '2');
});

test('driver session probes: a multi-variable SELECT behind a /* comment */ (Connector/J on connect)', async () => {
  const [rows, fields] = await c.query<mysql.RowDataPacket[]>(
    '/* mysql-connector-j-8.4.0 */SELECT  @@session.auto_increment_increment AS auto_increment_increment, @@character_set_client AS character_set_client, @@max_allowed_packet AS max_allowed_packet, @@time_zone AS time_zone, @@transaction_isolation AS transaction_isolation, @@nope AS nope',
  );
  assert.deepEqual(
    fields.map((f) => f.name),
    [
      'auto_increment_increment',
      'character_set_client',
      'max_allowed_packet',
      'time_zone',
      'transaction_isolation',
      'nope',
    ],
  );
  assert.deepEqual(
    { ...rows[0] },
    {
      auto_increment_increment: '1',
      character_set_client: 'utf8mb4',
      max_allowed_packet: '16777216',
      time_zone: 'UTC',
      transaction_isolation: 'REPEATABLE-READ',
      nope: null,
    },
  );
});
