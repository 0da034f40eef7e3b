import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCreateTable } from './ddl.ts';
import { headerChecks, planOptions } from './load-options.ts';
import { getProfile } from './profile.ts';
import { processRows, tooManyFiltered } from './rows.ts';

const schema = parseCreateTable(`CREATE TABLE t (
  id BIGINT NOT NULL, name VARCHAR(5), amount DECIMAL(5,2), ts DATETIME(3), flag BOOLEAN, j JSON, big LARGEINT
) DUPLICATE KEY(id)`);
const p = getProfile('3.0');

function load(body: string, headers: Record<string, string>) {
  const h: Record<string, string> = {
    authorization: `Basic ${Buffer.from('root:').toString('base64')}`,
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  };
  const opts = planOptions(h, p, headerChecks(h, p));
  return processRows(schema, opts, Buffer.from(body), p, 'full');
}

test('CSV: conversion failure is NULL without strict mode, filtered with it; range errors filtered either way', () => {
  const body = '1,ab,1.005,2024-01-01 00:00:00,true,{},1\n2,abcdef,1,x,1,[],2\n3,ok,99999,2024-01-01,0,null,3\n';
  const loose = load(body, { column_separator: ',' });
  assert.equal(loose.total, 3);
  assert.equal(loose.filtered, 2, 'varchar too long and decimal overflow are filtered even without strict mode');
  assert.deepEqual(loose.rows, [['1', 'ab', '1.01', '2024-01-01 00:00:00.000', '1', '{}', '1']]);
  const strict = load('1,ab,1,nonsense,true,{},1\n', { column_separator: ',', strict_mode: 'true' });
  assert.equal(strict.filtered, 1);
  assert.match(
    strict.errors[0]!,
    /^Reason: column\(ts\) value is incorrect while strict mode is true, src value is nonsense\. src line \[1 ab 1 nonsense true \{\} 1\]; $/,
  );
  const nonStrict = load('1,ab,1,nonsense,true,{},1\n', { column_separator: ',' });
  assert.deepEqual(nonStrict.rows[0]![3], null);
});

test('CSV: NOT NULL, column count, columns mapping and where', () => {
  const r = load('\\N,a\n1\n5,b\n7,c\n', { column_separator: ',', columns: 'id, name', where: 'id > 5' });
  assert.equal(r.total, 4);
  assert.equal(r.filtered, 2);
  assert.equal(r.unselected, 1);
  assert.deepEqual(r.rows, [['7', 'c', null, null, null, null, null]]);
  // The reader's column-count error is logged before the block's NOT NULL error of an earlier row.
  assert.match(r.errors[0]!, /actual column number in csv file is {2}less than {2}schema column number/);
  assert.equal(r.errors[1], 'Reason: column(id) values is null while columns is not nullable. src line [NULL a]; ');
  assert.equal(tooManyFiltered(r, 0), true);
  assert.equal(tooManyFiltered(r, 0.7), false);
});

test('JSON lines, arrays, jsonpaths, json_root, big numbers keep their digits', () => {
  const r = load(
    '{"id": 1, "big": 170141183460469231731687303715884105727, "j": {"a": [1]}, "NAME": "x"}\n\n{"id": 2}\n',
    {
      format: 'json',
      read_json_by_line: 'true',
    },
  );
  assert.equal(r.total, 2);
  // "NAME" is not the column "name": JSON keys match column names exactly, so it is ignored.
  assert.deepEqual(r.rows[0], ['1', null, null, null, null, '{"a":[1]}', '170141183460469231731687303715884105727']);
  const arr = load('[{"id": 1}, {"id": 2}]', { format: 'json', strip_outer_array: 'true' });
  assert.equal(arr.rows.length, 2);
  const noStrip = load('[{"id": 1}]', { format: 'json', read_json_by_line: 'false' });
  assert.equal(noStrip.filtered, 1);
  assert.match(noStrip.errors[0]!, /JSON data is array-object, `strip_outer_array` must be TRUE/);
  const paths = load('{"a": {"b": 7}, "n": "zz"}', {
    format: 'json',
    jsonpaths: '["$.a.b", "$.n"]',
    columns: 'id, name',
  });
  assert.deepEqual(paths.rows[0]!.slice(0, 2), ['7', 'zz']);
  const root = load('{"data": {"id": 9}}', { format: 'json', json_root: '$.data' });
  assert.equal(root.rows[0]![0], '9');
  const missing = load('{"name": "x"}\n', { format: 'json', read_json_by_line: 'true', max_filter_ratio: '1' });
  // Source slots are nullable: a missing NOT NULL key is the scanner's NULL error, not the reader's.
  assert.equal(
    missing.errors[0],
    'Reason: column(id) values is null while columns is not nullable. src line [NULL x NULL NULL NULL NULL NULL]; ',
  );
  const bad = load('{"id": 1\n', { format: 'json', read_json_by_line: 'true' });
  assert.equal(bad.filtered, 1);
});

test('more than 51 bad rows with max_filter_ratio 0 stops the load early; 51 do not', () => {
  const rows = (n: number) => Array.from({ length: n }, () => 'x,y,z').join('\n');
  const r = load(rows(60), { column_separator: ',' });
  assert.match(r.fatal!, /^\[DATA_QUALITY_ERROR\]Encountered unqualified data, stop processing/);
  assert.equal(r.filtered, 52, 'the 52nd bad row stops the load');
  const at51 = load(rows(51), { column_separator: ',' });
  assert.equal(at51.fatal, undefined);
  assert.equal(at51.filtered, 51);
});

test('the error log holds the first 51 bad rows only', () => {
  const body = Array.from({ length: 80 }, (_, i) => `${i}`).join('\n');
  const r = load(body, { column_separator: ',', max_filter_ratio: '1' });
  assert.equal(r.filtered, 80);
  assert.equal(r.errors.length, 51);
  assert.match(r.errors[50]!, /src line \[50\]; $/);
});

test('sink errors (length, decimal range) carry an empty src line and come after the scanner errors', () => {
  const r = load('1,abcdef,1,x,1,[],2\n2,ok,1,y,1,[],2\n3,ok,99999,2024-01-01,0,null,3\n', {
    column_separator: ',',
    strict_mode: 'true',
    max_filter_ratio: '1',
  });
  assert.equal(r.filtered, 3);
  assert.deepEqual(r.errors, [
    // row 1 has a bad date too: the scanner refuses it first, so the sink never sees its long name
    'Reason: column(ts) value is incorrect while strict mode is true, src value is x. src line [1 abcdef 1 x 1 [] 2]; ',
    'Reason: column(ts) value is incorrect while strict mode is true, src value is y. src line [2 ok 1 y 1 [] 2]; ',
    'Reason: column_name[amount], decimal value is not valid for definition, value=99999.00, precision=5, scale=2, min=-999.99, max=999.99; . src line []; ',
  ]);
});

test('JSON numbers reach their columns as their own text: 1.0 stays 1.0, 1e2 is not 100', () => {
  const r = load('{"id": 1, "name": 1.50, "amount": 1e2, "j": {"x": 2.0}}\n', {
    format: 'json',
    read_json_by_line: 'true',
  });
  // name is VARCHAR: the token text; amount DECIMAL(5,2): "1e2" converts; j keeps the nested text
  assert.deepEqual(r.rows[0]!.slice(0, 3), ['1', '1.50', '100.00']);
  assert.equal(r.rows[0]![5], '{"x":2.0}');
  const asInt = load('{"id": 1e2}\n', { format: 'json', read_json_by_line: 'true', max_filter_ratio: '1' });
  assert.equal(asInt.filtered, 1, '"1e2" is no BIGINT: NULL, and id is NOT NULL');
});

test('JSON booleans reach their columns as 1 / 0, as the JSON reader writes them', () => {
  const r = load('{"id": true, "name": false, "flag": true}\n', { format: 'json', read_json_by_line: 'true' });
  assert.deepEqual(r.rows[0]!.slice(0, 5), ['1', '0', null, null, '1']);
});

test('counting mode frames rows and checks column counts only', () => {
  const h: Record<string, string> = {
    authorization: 'Basic cm9vdDo=',
    'content-length': '1',
    column_separator: ',',
    enclose: '"',
  };
  const opts = planOptions(h, p, headerChecks(h, p));
  const r = processRows(schema, opts, Buffer.from('1,"a,\nb",1,2,3,4,5\n1,2\n'), p, 'count');
  assert.equal(r.total, 2);
  assert.equal(r.filtered, 1);
  assert.equal(r.rows.length, 0);
});
