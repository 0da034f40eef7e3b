// describeTable against the Doris emulator's MySQL-protocol port, in every version profile: the type
// spellings of 1.2 (DATEV2, DECIMALV3(38, 9), JSONB), 2.x (upper case, `DECIMAL(38, 9)`) and 3.x/4.x
// (lower case) all parse to the same model, so the schema hash is the same in every profile.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeTable } from '../../../sinker/schema/describe.ts';
import { formatDorisType } from '../../../sinker/schema/parse-type.ts';
import { testbed } from '../../support/testbed.ts';

const TABLE = 'describe_types_it';
const DDL = `CREATE TABLE test_db.${TABLE} (
  k INT NOT NULL, l LARGEINT, d DECIMAL(38, 9), dt DATETIME(6), dd DATE, j JSON, a ARRAY<INT>,
  m MAP<STRING,INT>, s STRUCT<a:INT,b:STRING>, v VARIANT, ip4 IPV4, ip6 IPV6, c CHAR(3), b BOOLEAN,
  f FLOAT, t STRING, vc VARCHAR(64), bi BIGINT NOT NULL, ti TINYINT
) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1`;

const EXPECTED = [
  ['k', 'int', false],
  ['l', 'largeint', true],
  ['d', 'decimal(38,9)', true],
  ['dt', 'datetime(6)', true],
  ['dd', 'date', true],
  ['j', 'json', true],
  ['a', 'array<int>', true],
  ['m', 'map<text,int>', true],
  ['s', 'struct<a:int,b:text>', true],
  ['v', 'variant', true],
  ['ip4', 'ipv4', true],
  ['ip6', 'ipv6', true],
  ['c', 'char(3)', true],
  ['b', 'boolean', true],
  ['f', 'float', true],
  ['t', 'text', true],
  ['vc', 'varchar(64)', true],
  ['bi', 'bigint', false],
  ['ti', 'tinyint', true],
];

const control = () => `http://${testbed('DORIS_CONTROL')}`;
let originalProfile: string | undefined;

async function post(path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${control()}${path}`, { method: 'POST', body: JSON.stringify(body) });
  const json = await res.json();
  assert.equal(res.status, 200, `POST ${path}: ${JSON.stringify(json)}`);
  return json;
}

before(async () => {
  const res = await fetch(`${control()}/config`);
  originalProfile = ((await res.json()) as { profile: string }).profile;
  await post('/tables', { ddl: DDL });
});

after(async () => {
  if (originalProfile) await post('/config', { profile: originalProfile });
});

function target() {
  const [host, port] = testbed('DORIS_QUERY').split(':');
  return {
    host: host!,
    port: Number(port),
    user: testbed('DORIS_USER'),
    password: testbed('DORIS_PASSWORD'),
    database: 'test_db',
  };
}

test('every profile spells the types its own way; all parse to one model and one hash', async () => {
  const hashes = new Map<string, string>();
  for (const profile of ['1.2', '2.0', '2.1', '3.0', '4.0']) {
    await post('/config', { profile });
    const schema = await describeTable({ ...target(), table: TABLE });
    assert.deepEqual(
      schema.columns.map((c) => [c.name, formatDorisType(c.type), c.nullable]),
      EXPECTED,
      `profile ${profile}`,
    );
    assert.equal(schema.columns[0]!.isKey, true, `profile ${profile}: k is the key`);
    hashes.set(profile, schema.hash);
  }
  assert.equal(new Set(hashes.values()).size, 1, `one hash for all profiles: ${JSON.stringify([...hashes])}`);
});

test('the canonical table DESCRIBEs into 66 columns', async () => {
  const schema = await describeTable({ ...target(), table: 'tb_event' });
  assert.equal(schema.columns.length, 66);
  assert.deepEqual(
    schema.columns.slice(0, 16).map((c) => formatDorisType(c.type)),
    [
      'bigint',
      'bigint',
      'bigint',
      'bigint',
      'varchar(64)',
      'varchar(128)',
      'varchar(512)',
      'text',
      'int',
      'tinyint',
      'boolean',
      'double',
      'decimal(18,4)',
      'date',
      'datetime(3)',
      'json',
    ],
  );
});

test('an unknown table fails naming it', async () => {
  await assert.rejects(
    describeTable({ ...target(), table: 'no_such_tbl' }),
    /DESCRIBE test_db\.no_such_tbl on .* failed: .*no_such_tbl/,
  );
});
