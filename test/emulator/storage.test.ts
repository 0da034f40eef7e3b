import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCreateTable } from './ddl.ts';
import { createTableSql, tsv } from './storage.ts';

test('LOAD DATA text escapes tabs, newlines, backslashes and NUL; NULL is \\N', () => {
  assert.equal(tsv([['a\tb', null, 'c\\N', 'l1\nl2\r', 'z\0']]).toString(), 'a\\tb\t\\N\tc\\\\N\tl1\\nl2\\r\tz\\0\n');
});

test('MariaDB DDL from Doris DDL: types, NOT NULL, primary key for UNIQUE, utf8mb4_bin', () => {
  const s = parseCreateTable('CREATE TABLE t (k BIGINT NOT NULL, v LARGEINT, d DATETIME(3), j JSON) UNIQUE KEY(k)');
  const sql = createTableSql('db', s);
  assert.match(sql, /`k` BIGINT NOT NULL/);
  assert.match(sql, /`v` DECIMAL\(39,0\) NULL/);
  assert.match(sql, /`d` DATETIME\(3\) NULL/);
  assert.match(sql, /`j` LONGTEXT NULL/);
  assert.match(sql, /PRIMARY KEY \(`k`\)/);
  assert.match(sql, /CHARSET=utf8mb4 COLLATE=utf8mb4_bin$/);
});
