// Mapper → encoder → Stream Load (the emulator's BE) → MariaDB, for both body formats: tricky strings
// arrive byte for byte, NULL stays NULL, and big numbers arrive digit for digit.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { bodyOf, createEncoder, type LoadFormat } from '../../../sinker/encode/encoders.ts';
import { Mapper } from '../../../sinker/mapper/mapper.ts';
import { describeTable } from '../../../sinker/schema/describe.ts';
import { testbed } from '../../support/testbed.ts';

const TABLE = 'encode_roundtrip_it';
const DDL = `CREATE TABLE test_db.${TABLE} (
  id BIGINT NOT NULL, s STRING, v VARCHAR(200), big LARGEINT, amount DECIMAL(38, 10), dt DATETIME(3), flag BOOLEAN
) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1`;

const TRICKY = [
  'plain',
  'a,b,c',
  'say "hi"',
  'tab\there',
  'line\nbreak',
  'cr\rlf\r\n',
  'back\\slash\\',
  '\\N',
  'ctrl\u0001\u0002\u001f',
  'emoji 😀👍🏽',
  '中文字符 日本語',
  ',"\\\n\t',
  '',
];

let db: mysql.Connection;

before(async () => {
  const res = await fetch(`http://${testbed('DORIS_CONTROL')}/tables`, {
    method: 'POST',
    body: JSON.stringify({ ddl: DDL }),
  });
  assert.equal(res.status, 200, await res.text());
  db = await mysql.createConnection({
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    database: testbed('MARIADB_DATABASE'),
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
});

after(async () => {
  await db?.end();
});

async function load(format: LoadFormat, idBase: number): Promise<void> {
  const [host, port] = testbed('DORIS_QUERY').split(':');
  const schema = await describeTable({
    host: host!,
    port: Number(port),
    user: testbed('DORIS_USER'),
    password: testbed('DORIS_PASSWORD'),
    database: 'test_db',
    table: TABLE,
  });
  const mapper = new Mapper(schema, { zeroDate: '1970-01-01' });
  const enc = createEncoder(format, mapper.columns);
  await db.query(`DELETE FROM ${TABLE} WHERE id >= ? AND id < ?`, [idBase, idBase + 1000]);
  const rows = TRICKY.map((s, i) => {
    const msg = JSON.stringify({ id: idBase + i, s, v: s, flag: i % 2 === 0, dt: '2026-11-24 06:00:00.123' });
    // big numbers written as raw JSON digits, beyond what a double holds
    const withNumbers = `${msg.slice(0, -1)},"big":170141183460469231731687303715884105727,"amount":1234567890123456789012345678.0123456789}`;
    const r = mapper.map(Buffer.from(i === 3 ? JSON.stringify({ id: idBase + i, s: null, v: s }) : withNumbers));
    assert.ok(r.ok, JSON.stringify(r));
    return enc.encode(r.values);
  });
  const auth = Buffer.from(`${testbed('DORIS_USER')}:${testbed('DORIS_PASSWORD')}`).toString('base64');
  const res = await fetch(`http://${testbed('DORIS_BE_HTTP')}/api/test_db/${TABLE}/_stream_load`, {
    method: 'PUT',
    headers: {
      ...enc.headers,
      label: `encode_rt_${format}_${process.pid}_${Date.now()}`,
      authorization: `Basic ${auth}`,
    },
    body: bodyOf(rows),
  });
  const reply = (await res.json()) as { Status: string; Message: string; NumberLoadedRows: number };
  assert.equal(reply.Status, 'Success', JSON.stringify(reply));
  assert.equal(reply.NumberLoadedRows, TRICKY.length);
}

for (const [format, idBase] of [
  ['csv', 1000],
  ['json', 2000],
] as const) {
  test(`${format}: strings byte for byte, NULL, and exact big numbers reach the table`, async () => {
    await load(format, idBase);
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      `SELECT id, HEX(s) AS s, HEX(v) AS v, CAST(big AS CHAR) AS big, CAST(amount AS CHAR) AS amount, dt, flag FROM ${TABLE} WHERE id >= ? AND id < ? ORDER BY id`,
      [idBase, idBase + 1000],
    );
    assert.equal(rows.length, TRICKY.length);
    for (const [i, s] of TRICKY.entries()) {
      const r = rows[i]!;
      const hex = Buffer.from(s, 'utf8').toString('hex').toUpperCase();
      if (i === 3) {
        assert.equal(r.s, null, 'explicit null on a nullable column is NULL');
        assert.equal(r.big, '0', 'a missing field gets the zero value');
      } else {
        assert.equal(r.s, hex, `${format} s of ${JSON.stringify(s)}`);
        assert.equal(r.big, '170141183460469231731687303715884105727');
        assert.equal(r.amount, '1234567890123456789012345678.0123456789');
        assert.equal(r.dt, '2026-11-24 06:00:00.123');
        assert.equal(Number(r.flag), i % 2 === 0 ? 1 : 0);
      }
      assert.equal(r.v, hex, `${format} v of ${JSON.stringify(s)}`);
    }
  });
}
