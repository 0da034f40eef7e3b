import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { defaultDdlPath } from './cli-args.ts';
import { parseCreateTable, parseDdlFile } from './ddl.ts';

test('parses the canonical tb_event DDL: 66 columns, DUPLICATE KEY(id, integration_id), types and nullability', () => {
  const [t] = parseDdlFile(readFileSync(defaultDdlPath(), 'utf8'));
  assert.ok(t);
  assert.equal(t.db, 'test_db');
  assert.equal(t.name, 'tb_event');
  assert.equal(t.columns.length, 66);
  assert.equal(t.keysType, 'DUPLICATE');
  assert.deepEqual(t.keyColumns, ['id', 'integration_id']);
  const by = new Map(t.columns.map((c) => [c.name, c]));
  assert.equal(by.get('id')!.nullable, false);
  assert.equal(by.get('id')!.isKey, true);
  assert.equal(by.get('title')!.type.base, 'varchar');
  assert.equal(by.get('title')!.type.precision, 512);
  assert.deepEqual([by.get('amount')!.type.precision, by.get('amount')!.type.scale], [18, 4]);
  assert.equal(by.get('created_at')!.type.precision, 3);
  assert.equal(by.get('description')!.type.base, 'string');
  assert.equal(by.get('labels')!.type.base, 'json');
  assert.equal(by.get('score')!.aggregation, 'NONE');
  assert.equal(by.get('id')!.aggregation, null);
});

test('handles backticks, comments, defaults, aggregation, nested types, INDEX and UNIQUE merge-on-read', () => {
  const t = parseCreateTable(`
    CREATE TABLE IF NOT EXISTS \`d\`.\`t\` (
      \`k\` INT NOT NULL COMMENT "key", -- trailing comment
      v1 BIGINT SUM DEFAULT "0",
      v2 ARRAY<INT> REPLACE NULL,
      v3 MAP<STRING, INT> REPLACE,
      v4 DATETIME(6) MAX DEFAULT CURRENT_TIMESTAMP,
      INDEX idx_k (k) USING INVERTED COMMENT 'x'
    ) ENGINE=OLAP AGGREGATE KEY(k) COMMENT 'tbl'
    DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ("replication_num" = "1")`);
  assert.equal(t.db, 'd');
  assert.equal(t.keysType, 'AGGREGATE');
  assert.equal(t.columns.length, 5);
  assert.equal(t.columns[0]!.comment, 'key');
  assert.equal(t.columns[1]!.aggregation, 'SUM');
  assert.equal(t.columns[1]!.defaultValue, '0');
  assert.equal(t.columns[2]!.type.raw, 'array<int>');
  assert.equal(t.columns[3]!.type.raw, 'map<string,int>');
  assert.equal(t.columns[4]!.defaultValue, 'CURRENT_TIMESTAMP');
  assert.equal(t.properties.replication_num, '1');

  const u = parseCreateTable(
    `CREATE TABLE u (k VARCHAR(10), v INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) PROPERTIES ("enable_unique_key_merge_on_write" = "false")`,
  );
  assert.equal(u.columns[1]!.aggregation, 'REPLACE');
});

test('default DUPLICATE key takes leading columns up to 36 bytes and stops after a string', () => {
  const t = parseCreateTable('CREATE TABLE t (a BIGINT, b VARCHAR(20), c INT)');
  assert.deepEqual(t.keyColumns, ['a', 'b']);
});

test('errors name the line and the token', () => {
  assert.throws(
    () => parseCreateTable('CREATE TABLE t (\n a INT,\n b INT FOO\n)'),
    /line 3: unexpected word in column b, found "FOO"/,
  );
  assert.throws(() => parseCreateTable('CREATE TABLE t (a INT) DUPLICATE KEY(z)'), /key column z/);
});
