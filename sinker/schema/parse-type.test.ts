import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDorisType, parseDorisType, TypeParseError } from './parse-type.ts';

// [spelling as some Doris version prints it, canonical spelling]
const CASES: Array<[string, string]> = [
  // current master, lower case
  ['boolean', 'boolean'],
  ['tinyint', 'tinyint'],
  ['smallint', 'smallint'],
  ['int', 'int'],
  ['bigint', 'bigint'],
  ['largeint', 'largeint'],
  ['float', 'float'],
  ['double', 'double'],
  ['decimal(38,9)', 'decimal(38,9)'],
  ['decimal(18,4)', 'decimal(18,4)'],
  ['date', 'date'],
  ['datetime', 'datetime'],
  ['datetime(3)', 'datetime(3)'],
  ['datetime(6)', 'datetime(6)'],
  ['time', 'time'],
  ['time(3)', 'time(3)'],
  ['timestamptz(6)', 'timestamptz(6)'],
  ['char(1)', 'char(1)'],
  ['varchar(65533)', 'varchar(65533)'],
  ['text', 'text'],
  ['string', 'text'],
  ['json', 'json'],
  ['hll', 'hll'],
  ['bitmap', 'bitmap'],
  ['quantile_state', 'quantile_state'],
  ['ipv4', 'ipv4'],
  ['ipv6', 'ipv6'],
  ['variant', 'variant'],
  [
    'variant<PROPERTIES ("variant_max_subcolumns_count" = "2")>',
    'variant<PROPERTIES ("variant_max_subcolumns_count" = "2")>',
  ],
  ['varbinary(100)', 'varbinary(100)'],
  ['array<int>', 'array<int>'],
  ['map<int,int>', 'map<int,int>'],
  ['struct<f1:int>', 'struct<f1:int>'],
  ['agg_state<max_by(int not null, int null)>', 'agg_state<max_by(int not null, int null)>'],
  // 2.0.x / 2.1.x upper case
  ['INT', 'int'],
  ['DATE', 'date'],
  ['DATETIME', 'datetime'],
  ['DATETIME(3)', 'datetime(3)'],
  ['DECIMAL(10, 2)', 'decimal(10,2)'],
  ['DECIMAL', 'decimal(9,0)'],
  ['CHAR(10)', 'char(10)'],
  ['VARCHAR(255)', 'varchar(255)'],
  ['VARCHAR(*)', 'varchar(65533)'],
  ['TEXT', 'text'],
  ['BOOLEAN', 'boolean'],
  ['LARGEINT', 'largeint'],
  ['HLL', 'hll'],
  ['BITMAP', 'bitmap'],
  ['VARIANT', 'variant'],
  ['JSON', 'json'],
  ['ARRAY<TEXT>', 'array<text>'],
  ['MAP<INT,DECIMAL(20, 5)>', 'map<int,decimal(20,5)>'],
  ['STRUCT<add:DOUBLE,x:BIGINT,y:DOUBLE>', 'struct<add:double,x:bigint,y:double>'],
  ['STRUCT<A:INT,B:STRING>', 'struct<a:int,b:text>'],
  [
    'AGG_STATE<arguments=max_by(INT, INT NULL), function_name=max_by, result_is_nullable=true>',
    'agg_state<arguments=max_by(INT, INT NULL), function_name=max_by, result_is_nullable=true>',
  ],
  // 1.2.x
  ['DATEV2', 'date'],
  ['DATETIMEV2(0)', 'datetime'],
  ['DATETIMEV2(3)', 'datetime(3)'],
  ['DECIMALV3(5, 1)', 'decimal(5,1)'],
  ['DECIMAL(27, 9)', 'decimal(27,9)'],
  ['JSONB', 'json'],
  ['INT(11)', 'int'],
  ['BIGINT(20)', 'bigint'],
  ['TINYINT(4)', 'tinyint'],
  ['SMALLINT(6)', 'smallint'],
  ['LARGEINT(40)', 'largeint'],
  ['ARRAY<INT(11)>', 'array<int>'],
  ['ARRAY<NOT_NULL(INT(11))>', 'array<int not null>'],
  // nesting and spacing
  ['array<array<varchar(10)>>', 'array<array<varchar(10)>>'],
  ['map<varchar(20), array<decimal(10, 2)>>', 'map<varchar(20),array<decimal(10,2)>>'],
  ['struct<a:int, b:map<text,int>, c:array<datetime(3)>>', 'struct<a:int,b:map<text,int>,c:array<datetime(3)>>'],
  ["struct<a:int COMMENT 'the a', b:text>", 'struct<a:int,b:text>'],
  ['  Decimal( 18 , 4 )  ', 'decimal(18,4)'],
];

test('every Doris type spelling maps to the normalized model', () => {
  for (const [spelling, canonical] of CASES) {
    assert.equal(formatDorisType(parseDorisType(spelling)), canonical, spelling);
  }
});

test('the model carries precision, scale, length and nested types', () => {
  assert.deepEqual(parseDorisType('DECIMAL(10, 2)'), { kind: 'decimal', precision: 10, scale: 2 });
  assert.deepEqual(parseDorisType('decimalv3(38,18)'), { kind: 'decimal', precision: 38, scale: 18 });
  assert.deepEqual(parseDorisType('datetimev2(6)'), { kind: 'datetime', scale: 6 });
  assert.deepEqual(parseDorisType('date'), { kind: 'date' });
  assert.deepEqual(parseDorisType('varchar(64)'), { kind: 'varchar', length: 64 });
  assert.deepEqual(parseDorisType('text'), { kind: 'string' });
  assert.deepEqual(parseDorisType('map<text,int>'), {
    kind: 'map',
    key: { kind: 'string' },
    value: { kind: 'int' },
  });
  assert.deepEqual(parseDorisType('struct<x:bigint>'), {
    kind: 'struct',
    struct: [{ name: 'x', type: { kind: 'bigint' } }],
  });
  assert.deepEqual(parseDorisType('variant<a:int>'), { kind: 'variant', detail: 'a:int' });
});

test('bad spellings fail naming the type and the position', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty Doris type/],
    ['foo', /unknown type name "foo"/],
    ['decimal(10,12)', /scale 12 greater than precision 10/],
    ['decimal(99,2)', /precision 99 outside/],
    ['datetime(7)', /greater than 6/],
    ['array<int', /expected ">"/],
    ['map<int>', /expected ","/],
    ['int int', /unexpected text after the type/],
    ['json(3)', /unexpected "\("/],
    ['struct<>', /struct/],
  ];
  for (const [spelling, re] of bad) {
    assert.throws(
      () => parseDorisType(spelling),
      (err: Error) => err instanceof TypeParseError && re.test(err.message),
      spelling,
    );
  }
});
