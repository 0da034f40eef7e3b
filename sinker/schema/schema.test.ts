import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  columnsFromDescribe,
  columnsFromManual,
  type DescribeRow,
  isGeneratedColumn,
  schemaDiff,
  schemaHash,
} from './schema.ts';

const row = (
  Field: string,
  Type: string,
  Null = 'Yes',
  Key = 'false',
  Default: string | null = null,
  Extra = 'NONE',
): DescribeRow => ({
  Field,
  Type,
  Null,
  Key,
  Default,
  Extra,
});

test('DESCRIBE rows become columns in table order with nullability, key, default and extra', () => {
  const cols = columnsFromDescribe([
    row('id', 'bigint', 'No', 'true', null, ''),
    row('amount', 'DECIMAL(18, 4)'),
    row('tags', 'array<int>', 'No', 'false', '[]'),
    row('seq', 'bigint', 'No', 'false', null, 'NONE,AUTO_INCREMENT'),
  ]);
  assert.deepEqual(
    cols.map((c) => [c.name, c.type.kind, c.nullable, c.isKey, c.default, c.extra]),
    [
      ['id', 'bigint', false, true, null, ''],
      ['amount', 'decimal', true, false, null, 'NONE'],
      ['tags', 'array', false, false, '[]', 'NONE'],
      ['seq', 'bigint', false, false, null, 'NONE,AUTO_INCREMENT'],
    ],
  );
  assert.equal(isGeneratedColumn(cols[3]!), true);
  assert.equal(isGeneratedColumn(cols[0]!), false);
});

test('hidden columns and variant sub-column rows are dropped', () => {
  const cols = columnsFromDescribe([
    row('k', 'int', 'No', 'true'),
    row('v', 'variant'),
    row('v.a', 'bigint'),
    row('__DORIS_DELETE_SIGN__', 'tinyint', 'No', 'false', '0'),
    row('__DORIS_VERSION_COL__', 'bigint', 'No', 'false', '0'),
  ]);
  assert.deepEqual(
    cols.map((c) => c.name),
    ['k', 'v'],
  );
});

test('MySQL-style Null/Key values are understood too', () => {
  const [c] = columnsFromDescribe([row('id', 'bigint(20)', 'NO', 'PRI', null, '')]);
  assert.equal(c!.nullable, false);
  assert.equal(c!.isKey, true);
});

test('a bad DESCRIBE type names the column', () => {
  assert.throws(() => columnsFromDescribe([row('x', 'blob')]), /column x: cannot parse Doris type "blob"/);
  assert.throws(() => columnsFromDescribe([]), /no columns/);
});

test('manual columns go through the same parser and name the bad entry', () => {
  const cols = columnsFromManual([
    { name: 'id', type: 'BIGINT', nullable: false },
    { name: 'ts', type: 'datetimev2(3)', nullable: true },
  ]);
  assert.deepEqual(
    cols.map((c) => [c.name, c.type, c.nullable]),
    [
      ['id', { kind: 'bigint' }, false],
      ['ts', { kind: 'datetime', scale: 3 }, true],
    ],
  );
  assert.throws(
    () =>
      columnsFromManual([
        { name: 'a', type: 'int', nullable: true },
        { name: 'b', type: 'nope', nullable: true },
      ]),
    /schema\.manual\.columns\[1\]\.type: cannot parse Doris type "nope"/,
  );
  assert.throws(
    () =>
      columnsFromManual([
        { name: 'a', type: 'int', nullable: true },
        { name: 'a', type: 'int', nullable: true },
      ]),
    /columns\[1\]\.name: column "a" is listed twice/,
  );
});

test('the schema hash is stable across spellings and changes with the load shape', () => {
  const modern = columnsFromDescribe([row('id', 'bigint', 'No', 'true'), row('amount', 'decimal(18,4)')]);
  const old = columnsFromDescribe([
    row('id', 'BIGINT(20)', 'No', 'true', null, ''),
    row('amount', 'DECIMALV3(18, 4)', 'Yes', 'false', '0', 'NONE,BLOOM_FILTER'),
  ]);
  assert.match(schemaHash(modern), /^[0-9a-f]{16}$/);
  assert.equal(schemaHash(modern), schemaHash(old));
  const added = columnsFromDescribe([
    row('id', 'bigint', 'No', 'true'),
    row('amount', 'decimal(18,4)'),
    row('x', 'int'),
  ]);
  assert.notEqual(schemaHash(added), schemaHash(modern));
  const retyped = columnsFromDescribe([row('id', 'bigint', 'No', 'true'), row('amount', 'decimal(18,5)')]);
  assert.notEqual(schemaHash(retyped), schemaHash(modern));
  const nullability = columnsFromDescribe([row('id', 'bigint', 'Yes', 'true'), row('amount', 'decimal(18,4)')]);
  assert.notEqual(schemaHash(nullability), schemaHash(modern));
});

test('a column named with a dot is a column when what precedes the dot is not a variant', () => {
  // Doris allows `.` in column names; only describe_extend_variant_column rows hang off a variant.
  const cols = columnsFromDescribe([
    row('a', 'int', 'No', 'true'),
    row('a.b', 'varchar(10)'),
    row('v', 'variant'),
    row('v.x', 'bigint'),
    row('odd name ü', 'string'),
  ]);
  assert.deepEqual(
    cols.map((c) => c.name),
    ['a', 'a.b', 'v', 'odd name ü'],
  );
});

test('schemaDiff names the added, dropped and retyped columns and sees a new order', () => {
  const before = columnsFromDescribe([
    row('id', 'bigint', 'No', 'true'),
    row('a', 'varchar(8)'),
    row('b', 'int'),
    row('c', 'string'),
  ]);
  const after = columnsFromDescribe([
    row('id', 'bigint', 'No', 'true'),
    row('b', 'bigint'),
    row('A', 'varchar(32)', 'No'),
    row('d', 'date'),
  ]);
  assert.deepEqual(schemaDiff(before, after), {
    added: ['d'],
    dropped: ['c'],
    changed: ['b: int → bigint', 'A: varchar(8) → varchar(32) not null'],
    reordered: true,
  });
  assert.deepEqual(schemaDiff(before, before), { added: [], dropped: [], changed: [], reordered: false });
});
