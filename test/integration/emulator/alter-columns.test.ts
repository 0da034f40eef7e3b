// ALTER TABLE … DROP COLUMN / MODIFY COLUMN on the query port, and loads that straddle a column change:
// Doris runs ADD/DROP COLUMN as a light schema change, and a load parsed before it (a precommitted 2PC
// txn, one waiting to publish) still commits: a dropped column's values are discarded, an added
// column takes its default. A load cut under the old column list after the change: JSON keys of a
// dropped column are ignored, a `columns` header naming it reads it as a source column that goes
// nowhere, and positional CSV with one field too many is filtered as Doris filters it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { basic, jsonLines, load, PASSWORD, queryRows, startTestEmulator, type TestEmulator, until } from './helpers.ts';

let t: TestEmulator;
let c: mysql.Connection;
let n = 0;

before(async () => {
  t = await startTestEmulator();
  c = await mysql.createConnection({
    host: '127.0.0.1',
    port: t.emu.queryPort,
    user: 'root',
    password: PASSWORD,
    database: 'test_db',
  });
});
after(async () => {
  await c?.end();
  await t?.close();
});

/** A fresh table `id BIGINT, a VARCHAR(8), b INT, c STRING` of the given key model. */
async function table(model = 'DUPLICATE'): Promise<string> {
  const name = `t_alter_${++n}`;
  await c.query(
    `CREATE TABLE ${name} (id BIGINT NOT NULL, a VARCHAR(8), b INT, c STRING) ${model} KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")`,
  );
  return name;
}

async function put(tbl: string, body: string, headers: Record<string, string>) {
  const r = await load(`http://${t.fe}/api/test_db/${tbl}/_stream_load`, {
    headers: { Authorization: basic(), ...headers },
    body,
  });
  return JSON.parse(r.body) as Record<string, unknown>;
}

const json = { format: 'json', read_json_by_line: 'true' };

async function desc(tbl: string): Promise<string[]> {
  const [rows] = await c.query<mysql.RowDataPacket[]>(`DESC ${tbl}`);
  return rows.map((r) => `${r.Field} ${r.Type}`);
}

async function stored(tbl: string): Promise<Record<string, unknown>[]> {
  return queryRows(t.maria, `SELECT * FROM ${t.tableName('test_db', tbl)} ORDER BY id`);
}

test('DROP COLUMN: gone from DESCRIBE and MariaDB; old-shape JSON and CSV with a columns header load, positional CSV one field over is filtered', async () => {
  const tbl = await table();
  await c.query(`ALTER TABLE ${tbl} DROP COLUMN b`);
  assert.deepEqual(await desc(tbl), ['id bigint', 'a varchar(8)', 'c text']);
  const byJson = await put(tbl, jsonLines([{ id: 1, a: 'x', b: 7, c: 'c1' }]), json);
  assert.equal(byJson.Status, 'Success', JSON.stringify(byJson));
  const byCsv = await put(tbl, '2,"y",8,"c2"\n', {
    format: 'csv',
    column_separator: ',',
    enclose: '"',
    columns: '`id`,`a`,`b`,`c`',
  });
  assert.equal(byCsv.Status, 'Success', JSON.stringify(byCsv));
  assert.equal(byCsv.NumberLoadedRows, 1);
  const positional = await put(tbl, '3,"z",9,"c3"\n', { format: 'csv', column_separator: ',', enclose: '"' });
  assert.equal(positional.Status, 'Fail');
  assert.equal(positional.NumberFilteredRows, 1);
  assert.deepEqual(await stored(tbl), [
    { id: '1', a: 'x', c: 'c1' },
    { id: '2', a: 'y', c: 'c2' },
  ]);
  await assert.rejects(c.query(`ALTER TABLE ${tbl} DROP COLUMN nope`), /Column does not exists: nope/);
  const uniq = await table('UNIQUE');
  await assert.rejects(
    c.query(`ALTER TABLE ${uniq} DROP COLUMN id`),
    /Can not drop key column in Unique data model table/,
  );
});

test('a precommitted 2PC load commits across DROP and ADD COLUMN, each value in its own column', async () => {
  const tbl = await table();
  const pre = await put(tbl, jsonLines([{ id: 10, a: 'ten', b: 10, c: 'c10' }]), {
    ...json,
    two_phase_commit: 'true',
  });
  assert.equal(pre.Status, 'Success', JSON.stringify(pre));
  await c.query(`ALTER TABLE ${tbl} DROP COLUMN a`);
  await c.query(`ALTER TABLE ${tbl} ADD COLUMN d VARCHAR(8) AFTER id`);
  const r = await load(`http://${t.fe}/api/test_db/_stream_load_2pc`, {
    headers: { Authorization: basic(), txn_id: String(pre.TxnId), txn_operation: 'commit' },
    body: '',
    expect: false,
  });
  assert.equal(JSON.parse(r.body).status, 'Success', r.body);
  await until(async () => (await stored(tbl)).length === 1, 5000, 'the committed row');
  assert.deepEqual(await stored(tbl), [{ id: '10', d: null, b: 10, c: 'c10' }]);
});

test('MODIFY COLUMN: a wider VARCHAR takes longer values, a shorter one is refused; FIRST / AFTER reorder DESCRIBE', async () => {
  const tbl = await table();
  const long = jsonLines([{ id: 1, a: 'twelve chars' }]);
  const before1 = await put(tbl, long, json);
  assert.equal(before1.Status, 'Fail', 'varchar(8) holds no 12 bytes');
  await c.query(`ALTER TABLE ${tbl} MODIFY COLUMN a VARCHAR(32)`);
  assert.deepEqual(await desc(tbl), ['id bigint', 'a varchar(32)', 'b int', 'c text']);
  assert.equal((await put(tbl, long, json)).Status, 'Success');
  await assert.rejects(c.query(`ALTER TABLE ${tbl} MODIFY COLUMN a VARCHAR(4)`), /Cannot shorten string length/);
  await c.query(`ALTER TABLE ${tbl} MODIFY COLUMN b BIGINT AFTER c`);
  assert.deepEqual(await desc(tbl), ['id bigint', 'a varchar(32)', 'c text', 'b bigint']);
  await c.query(`ALTER TABLE ${tbl} MODIFY COLUMN c STRING FIRST`);
  assert.deepEqual(await desc(tbl), ['c text', 'id bigint', 'a varchar(32)', 'b bigint']);
  const mixed = await put(tbl, jsonLines([{ id: 2, a: 'x', b: 2 ** 40, c: 'cc' }]), json);
  assert.equal(mixed.Status, 'Success', JSON.stringify(mixed));
  const [row] = await queryRows(t.maria, `SELECT id, a, b, c FROM ${t.tableName('test_db', tbl)} WHERE id = 2`);
  assert.deepEqual({ ...row }, { id: '2', a: 'x', b: String(2 ** 40), c: 'cc' });
});

test('group commit: an ALTER between two loads starts a new group; both groups publish, each value in its column', async () => {
  const tbl = `t_alter_gc_${++n}`;
  await c.query(
    `CREATE TABLE ${tbl} (id BIGINT NOT NULL, a VARCHAR(8), b INT) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1", "group_commit_interval_ms" = "300")`,
  );
  const gc = { ...json, group_commit: 'async_mode' };
  const one = await put(tbl, jsonLines([{ id: 1, a: 'one', b: 1 }]), gc);
  await c.query(`ALTER TABLE ${tbl} ADD COLUMN z VARCHAR(8) AFTER id`);
  const two = await put(tbl, jsonLines([{ id: 2, z: 'zz', a: 'two', b: 2 }]), gc);
  assert.equal(one.Status, 'Success');
  assert.equal(two.Status, 'Success');
  assert.notEqual(one.Label, two.Label, 'a group holds loads of one column list');
  await until(async () => (await stored(tbl)).length === 2, 5000, 'both groups published');
  assert.deepEqual(await stored(tbl), [
    { id: '1', z: null, a: 'one', b: 1 },
    { id: '2', z: 'zz', a: 'two', b: 2 },
  ]);
});
