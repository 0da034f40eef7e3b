// describeTable over a real MySQL-protocol server (the test bed's MariaDB): connection, quoting,
// DESCRIBE's result set, the type parser on a real server's spellings (`bigint(20)`, `decimal(18,4)`,
// `datetime(3)`), and errors naming the table.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { describeTable } from '../../../sinker/schema/describe.ts';
import { formatDorisType } from '../../../sinker/schema/parse-type.ts';
import { testbed } from '../../support/testbed.ts';

const TABLE = `describe_it_${process.pid}`;
let conn: mysql.Connection;
const target = () => ({
  host: testbed('MARIADB_HOST'),
  port: Number(testbed('MARIADB_PORT')),
  user: testbed('MARIADB_USER'),
  password: testbed('MARIADB_PASSWORD'),
  database: testbed('MARIADB_DATABASE'),
});

before(async () => {
  conn = await mysql.createConnection(target());
  await conn.query(`DROP TABLE IF EXISTS \`${TABLE}\``);
  await conn.query(
    `CREATE TABLE \`${TABLE}\` (
      id BIGINT NOT NULL PRIMARY KEY,
      severity TINYINT,
      title VARCHAR(512),
      description TEXT,
      amount DECIMAL(18,4),
      event_date DATE,
      created_at DATETIME(3),
      score DOUBLE,
      \`select\` INT
    )`,
  );
});

after(async () => {
  await conn?.query(`DROP TABLE IF EXISTS \`${TABLE}\``);
  await conn?.end();
});

test('DESCRIBE returns the columns in order with parsed types, nullability and keys', async () => {
  const { database, ...rest } = target();
  const schema = await describeTable({ ...rest, database, table: TABLE });
  assert.deepEqual(
    schema.columns.map((c) => [c.name, formatDorisType(c.type), c.nullable, c.isKey]),
    [
      ['id', 'bigint', false, true],
      ['severity', 'tinyint', true, false],
      ['title', 'varchar(512)', true, false],
      ['description', 'text', true, false],
      ['amount', 'decimal(18,4)', true, false],
      ['event_date', 'date', true, false],
      ['created_at', 'datetime(3)', true, false],
      ['score', 'double', true, false],
      ['select', 'int', true, false],
    ],
  );
  assert.match(schema.hash, /^[0-9a-f]{16}$/);
  const again = await describeTable({ ...rest, database, table: TABLE });
  assert.equal(again.hash, schema.hash, 'the hash is stable across reads');
});

test('a missing table or a wrong password fails with the table and the server message', async () => {
  const t = target();
  await assert.rejects(describeTable({ ...t, table: 'no_such_table_here' }), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(`DESCRIBE ${t.database}\\.no_such_table_here on ${t.host}:${t.port} failed: .*no_such_table_here`),
    );
    return true;
  });
  await assert.rejects(describeTable({ ...t, password: 'wrong-password', table: TABLE }), /failed: Access denied/);
});
