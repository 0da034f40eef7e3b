// MariaDB of the test bed holds test_db.tb_event, the canonical table of ../shared/bench.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { testbed } from '../../support/testbed.ts';
import { requireListening } from './require-up.ts';

let conn: mysql.Connection;

before(async () => {
  const host = testbed('MARIADB_HOST');
  const port = Number(testbed('MARIADB_PORT'));
  await requireListening('mariadb', `${host}:${port}`);
  conn = await mysql.createConnection({
    host,
    port,
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    database: testbed('MARIADB_DATABASE'),
  });
});

after(async () => {
  await conn?.end();
});

test('DESCRIBE test_db.tb_event returns the 66 columns of the canonical table', async () => {
  const [rows] = await conn.query<mysql.RowDataPacket[]>('DESCRIBE test_db.tb_event');
  assert.equal(rows.length, 66);
  assert.deepEqual(
    rows.slice(0, 4).map((r) => [r.Field, r.Type, r.Null]),
    [
      ['id', 'bigint(20)', 'NO'],
      ['integration_id', 'bigint(20)', 'NO'],
      ['arrive_time', 'bigint(20)', 'NO'],
      ['event_time', 'bigint(20)', 'NO'],
    ],
  );
});

test('the test user may create and drop databases', async () => {
  const db = `smoke_${Date.now()}_${process.pid}`;
  await conn.query(`CREATE DATABASE ${db}`);
  const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW DATABASES LIKE ?', [db]);
  assert.equal(rows.length, 1);
  await conn.query(`DROP DATABASE ${db}`);
});
