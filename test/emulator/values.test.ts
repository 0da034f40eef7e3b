import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ColumnDef } from './ddl.ts';
import { parseDorisType } from './doris-types.ts';
import { Failure, makeConverter, parseDateTime, zoneOffset } from './values.ts';

function col(type: string): ColumnDef {
  return {
    name: 'c',
    type: parseDorisType(type),
    typeText: type,
    nullable: true,
    isKey: false,
    defaultValue: null,
    aggregation: 'NONE',
    autoIncrement: false,
    comment: '',
  };
}

function conv(type: string, v: string) {
  return makeConverter(col(type))(v);
}

test('integer ranges including bigint and largeint edges', () => {
  assert.equal(conv('TINYINT', '127'), '127');
  assert.ok(conv('TINYINT', '128') instanceof Failure);
  assert.equal((conv('TINYINT', '300') as Failure).always, false, 'out of range int is a conversion failure');
  assert.equal(conv('INT', '-2147483648'), '-2147483648');
  assert.ok(conv('INT', '2147483648') instanceof Failure);
  assert.equal(conv('BIGINT', '9223372036854775807'), '9223372036854775807');
  assert.ok(conv('BIGINT', '9223372036854775808') instanceof Failure);
  assert.equal(conv('LARGEINT', '170141183460469231731687303715884105727'), '170141183460469231731687303715884105727');
  assert.ok(conv('LARGEINT', '170141183460469231731687303715884105728') instanceof Failure);
  assert.ok(conv('INT', '1.5') instanceof Failure);
  assert.ok(conv('INT', 'abc') instanceof Failure);
});

test('decimal: rounds half up to the scale, integer digits beyond p-s are filtered always', () => {
  assert.equal(conv('DECIMAL(18,4)', '12.34565'), '12.3457');
  assert.equal(conv('DECIMAL(18,4)', '-0.00004'), '0.0000');
  const over = conv('DECIMAL(5,1)', '9999.96');
  assert.ok(over instanceof Failure && over.always, 'rounding up past the precision is out of range');
  const f = conv('DECIMAL(1,0)', '10');
  assert.ok(f instanceof Failure && f.always);
  assert.equal(conv('DECIMAL(10,2)', '1e3'), '1000.00');
  assert.ok(conv('DECIMAL(10,2)', 'x') instanceof Failure);
});

test('varchar length is in bytes and filtered always', () => {
  assert.equal(conv('VARCHAR(6)', '你好'), '你好');
  const f = conv('VARCHAR(5)', '你好');
  assert.ok(f instanceof Failure && f.always);
  assert.match((f as Failure).reason, /schema length: 5; actual length: 6/);
  assert.equal(conv('CHAR(4)', '😀'), '😀');
  assert.ok(conv('CHAR(3)', '😀') instanceof Failure);
});

test('dates and datetimes: formats, leap years, precision rounding, zones', () => {
  assert.equal(conv('DATE', '2024-02-29'), '2024-02-29');
  assert.ok(conv('DATE', '2023-02-29') instanceof Failure);
  assert.equal(conv('DATE', '20240102'), '2024-01-02');
  assert.equal(conv('DATE', '2024-01-02 10:00:00'), '2024-01-02');
  assert.equal(conv('DATETIME(3)', '2024-01-02 03:04:05.1236'), '2024-01-02 03:04:05.124');
  assert.equal(conv('DATETIME', '2024-12-31 23:59:59.6'), '2025-01-01 00:00:00');
  assert.equal(conv('DATETIME', '2024-01-02T03:04:05Z'), '2024-01-02 03:04:05');
  assert.equal(conv('DATETIME', '2024-01-02T03:04:05+08:00'), '2024-01-01 19:04:05');
  assert.ok(conv('DATETIME', '2024-01-02 24:00:00') instanceof Failure);
  assert.equal(parseDateTime('2024-1-2 3:4:5', 0), '2024-01-02 03:04:05');
});

test('boolean, double, json', () => {
  assert.equal(conv('BOOLEAN', 'true'), '1');
  assert.equal(conv('BOOLEAN', '0'), '0');
  assert.ok(conv('BOOLEAN', 'yes') instanceof Failure);
  assert.equal(conv('DOUBLE', '1.5e3'), '1.5e3');
  assert.ok(conv('DOUBLE', 'NaN') instanceof Failure);
  assert.equal(conv('JSON', '{"a":[1,2]}'), '{"a":[1,2]}');
  assert.ok(conv('JSON', '{a:1}') instanceof Failure);
});

test('time zones: zone-suffixed instants go to the load zone; plain wall times are kept', () => {
  const sh = zoneOffset('Asia/Shanghai');
  assert.equal(parseDateTime('2024-01-02T00:00:00Z', 0, sh), '2024-01-02 08:00:00');
  assert.equal(parseDateTime('2024-01-02 00:00:00', 0, sh), '2024-01-02 00:00:00');
  assert.equal(parseDateTime('2024-07-01T12:00:00+02:00', 0, zoneOffset('America/New_York')), '2024-07-01 06:00:00');
  assert.equal(parseDateTime('2024-01-01T12:00:00+02:00', 0, zoneOffset('America/New_York')), '2024-01-01 05:00:00');
  assert.equal(parseDateTime('2024-01-02T00:00:00Z', 3, zoneOffset('-05:30')), '2024-01-01 18:30:00.000');
  assert.throws(() => zoneOffset('Mars/Olympus'), /Unknown or incorrect time zone: 'Mars\/Olympus'/);
});

test('STRING: the 1 MiB soft limit (string_type_length_soft_limit_bytes) refuses longer values always', () => {
  const text = makeConverter({ ...col('STRING'), name: 'description' });
  assert.equal(text('é'.repeat(524_288)), 'é'.repeat(524_288), 'exactly 1 MiB of UTF-8 loads');
  const over = text(`${'é'.repeat(524_288)}x`);
  assert.ok(over instanceof Failure && over.always);
  assert.match(over.reason, /^column_name\[description\], the length of input string is too long than vec schema\./);
});
