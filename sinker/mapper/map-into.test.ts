// Mapper.mapInto must write exactly the bytes encode(map()) gives, and dead-letter the same messages
// with the same reasons, for every kind of message: checked over the dirty mix and hand-made cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { takeEvents } from '../../test/support/events.ts';
import { createEncoder, type LoadFormat } from '../encode/encoders.ts';
import { columnsFromDescribe, columnsFromManual, type DescribeRow, tableSchema } from '../schema/schema.ts';
import { Mapper } from './mapper.ts';
import { RowBuffer } from './row-buffer.ts';

const TB_EVENT: Array<[string, string, boolean]> = [
  ['id', 'BIGINT', false],
  ['integration_id', 'BIGINT', false],
  ['arrive_time', 'BIGINT', false],
  ['event_time', 'BIGINT', false],
  ['event_type', 'VARCHAR(64)', true],
  ['source', 'VARCHAR(128)', true],
  ['title', 'VARCHAR(512)', true],
  ['description', 'STRING', true],
  ['priority', 'INT', true],
  ['severity', 'TINYINT', true],
  ['is_recovered', 'BOOLEAN', true],
  ['score', 'DOUBLE', true],
  ['amount', 'DECIMAL(18, 4)', true],
  ['event_date', 'DATE', true],
  ['created_at', 'DATETIME(3)', true],
  ['labels', 'JSON', true],
];
for (let i = 1; i <= 50; i++) TB_EVENT.push([`extend${i}`, 'VARCHAR(256)', true]);

function mapperOf(cols: Array<[string, string, boolean]>, extra: Record<string, string> = {}): Mapper {
  const rows: DescribeRow[] = cols.map(([Field, Type, nullable]) => ({
    Field,
    Type,
    Null: nullable ? 'Yes' : 'No',
    Key: 'false',
    Default: null,
    Extra: extra[Field] ?? 'NONE',
  }));
  return new Mapper(tableSchema(columnsFromDescribe(rows)), { zeroDate: '1970-01-01' });
}

/** Both paths over the same messages, on two mappers (their statistics are compared too). */
function compare(cols: Array<[string, string, boolean]>, messages: Buffer[], format: LoadFormat, extra = {}): void {
  const a = mapperOf(cols, extra);
  const b = mapperOf(cols, extra);
  const enc = createEncoder(format, a.columns);
  const plan = b.planFor(enc);
  const out = new RowBuffer(16);
  for (const msg of messages) {
    const want = a.map(msg);
    const before = out.rowCount;
    const got = b.mapInto(msg, plan, out);
    if (!want.ok) {
      assert.deepEqual(got, want, `DLQ verdict for ${msg.toString()}`);
      assert.equal(out.rowCount, before);
      continue;
    }
    assert.equal(got, undefined, `row expected for ${msg.toString()}: ${JSON.stringify(got)}`);
    assert.equal(out.row(out.rowCount - 1), enc.encode(want.values, want.clean), `row for ${msg.toString()}`);
  }
  assert.deepEqual(b.drainStats(), a.drainStats());
}

const dirty = takeEvents({ seed: 7, mix: 'dirty' }, 3000).map((e) => Buffer.from(e.value, 'utf8'));

test('mapInto = encode(map()) over the dirty mix, JSON lines', () => compare(TB_EVENT, dirty, 'json'));

test('mapInto = encode(map()) over the dirty mix, CSV (no JSON column)', () =>
  compare(
    TB_EVENT.filter(([n]) => n !== 'labels'),
    dirty,
    'csv',
  ));

const ODD: Array<[string, string, boolean]> = [
  ['i8', 'TINYINT', false],
  ['i16', 'SMALLINT', true],
  ['i32', 'INT', true],
  ['i64', 'BIGINT', true],
  ['big', 'LARGEINT', true],
  ['f', 'FLOAT', true],
  ['d', 'DOUBLE', true],
  ['dec', 'DECIMAL(10, 2)', true],
  ['b', 'BOOLEAN', true],
  ['dt', 'DATE', true],
  ['ts', 'DATETIME(3)', true],
  ['ts0', 'DATETIME', true],
  ['s', 'VARCHAR(6)', false],
  ['c', 'CHAR(3)', true],
  ['txt', 'STRING', true],
  ['j', 'JSON', true],
  ['arr', 'ARRAY<INT>', true],
  ['m', 'MAP<STRING,INT>', true],
  ['ip', 'IPV4', true],
  ['auto', 'BIGINT', true],
];

const CASES = [
  '{"i8":1,"i64":9223372036854775807,"big":-9223372036854775809}',
  '{"i8":1,"i64":9223372036854775808}',
  '{"i8":1,"i64":-9223372036854775809}',
  '{"i8":1,"i64":1234567890123456789,"i32":-2147483648}',
  '{"i8":1,"i64":9999999999999999999}',
  '{"i8":1,"i64":12345678901234567890}',
  '{"i8":1,"i32":2147483648}',
  '{"i8":1,"i32":-2147483649,"i16":32768}',
  '{"i8":127,"i16":-32768,"i32":2147483647,"i64":-9223372036854775808,"big":170141183460469231731687303715884105727}',
  '{"i8":128}',
  '{"i8":-129}',
  '{"i8":-128,"i32":-0,"i64":123456789012345,"f":1.5e3,"d":1e400}',
  '{"i8":1.0,"i16":"42","i32":" 7 ","i64":true,"f":"2.5","d":null,"dec":12.345}',
  '{"i8":1,"dec":"123456789.1"}',
  '{"i8":1,"dec":-1.20,"b":1,"dt":"2026-02-29","ts":"2026-11-24 06:00:00.1234"}',
  '{"i8":1,"b":"TRUE","dt":"2026-11-24T00:00:00","ts":"2026-11-24T06:01:02Z","ts0":"2026-11-24 06:01:02"}',
  '{"i8":1,"dt":" 2026-11-24","ts":"2026-11-24 06:01:02.123","ts0":"2026-11-24 06:01:02.5"}',
  '{"i8":1,"s":"abcdef","c":"日"}',
  '{"i8":1,"s":"abcdefg"}',
  '{"i8":1,"s":"日本","c":"日本"}',
  '{"i8":1,"s":"a\\"b","txt":"tab\\there\\u0001 \\ud83d\\ude00 ,\\\\"}',
  '{"i8":1,"txt":"emoji 😀 CJK 中文","s":null}',
  '{"i8":1,"j":{"a":[1,2,{"b":"x"}]},"arr":[1,2],"m":{"k":1}}',
  '{"i8":1,"j":{\n"a":1\r\n},"arr":"[1,2]","m":"{\\"k\\":1}"}',
  '{"i8":1,"j":"plain","arr":5,"m":[1]}',
  '{"i8":1,"j":12,"ip":"10.0.0.1"}',
  '{"i8":1,"ip":"300.1.1.1","auto":null}',
  '{"i8":1,"txt":42,"s":true,"c":{"x":1}}',
  '\ufeff{"i8":1,"txt":"bom"}',
  '  {"i8" : 1 , "txt" : "spaces" }  ',
  '{"i8":1,"i\\u0038":2}',
  '{"i8":1,"i8":3}',
  '{}',
  '[]',
  '"str"',
  '{"i8":1,',
  '{"i8":01}',
  '',
  '{"i8":1,"txt":"\u0000"}',
  '{"i8":-0,"i16":-0.0,"i32":-0e5,"i64":-0,"big":-0,"dec":-0.00,"d":-0}',
  '{"i8":1,"i64":"-0","big":-0.0,"dec":-0}',
  '{"i8":1,"txt":"\\ud83d\\ude00 \\uD83D\\uDE00"}',
  '{"i8":1,"txt":"\\ud800"}',
  '{"i8":1,"s":"\\udc00"}',
  '{"i8":1,"txt":"\\ud800\\u0041"}',
  '{"i8":1,"txt":"x\\udbff"}',
  '{"i8":1,"j":{"a":"\\ud800"},"arr":"[1]","m":{"\\udc00":1}}',
  '{"i8":1,"j":"{\\"a\\":\\"\\ud800\\"}"}',
];

test('mapInto = encode(map()) for odd values of every kind, JSON lines', () => {
  const msgs = CASES.map((c) => Buffer.from(c, 'utf8'));
  msgs.push(Buffer.from([0x7b, 0x22, 0x74, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])); // bad UTF-8
  msgs.push(Buffer.from([0x7b, 0x22, 0x74, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x22, 0x2c])); // bad UTF-8 + syntax
  compare(ODD, msgs, 'json', { auto: 'AUTO_INCREMENT' });
});

test('mapInto = encode(map()) for odd values, CSV', () => {
  const cols = ODD.filter(([, t]) => !/JSON|ARRAY|MAP/.test(t));
  compare(
    cols,
    CASES.map((c) => Buffer.from(c, 'utf8')),
    'csv',
  );
});

test('mapInto: null and empty messages, no columns', () => {
  const m = new Mapper(tableSchema(columnsFromManual([])), { zeroDate: '1970-01-01' });
  const out = new RowBuffer();
  assert.equal(m.mapInto(Buffer.from('{"a":1}'), m.planFor(createEncoder('json', [])), out), undefined);
  assert.equal(out.row(0), '{}');
  assert.equal(m.mapInto(null, m.planFor(createEncoder('json', [])), out)?.code, 'invalid_json');
  assert.equal(out.rowCount, 1);
});

test('RowBuffer grows and keeps earlier rows', () => {
  const out = new RowBuffer(1);
  for (let k = 0; k < 100; k++) {
    out.writeString(`row ${k} ${'é'.repeat(k)}`);
    out.endRow();
  }
  assert.equal(out.rowCount, 100);
  assert.equal(out.row(0), 'row 0 ');
  assert.equal(out.row(99), `row 99 ${'é'.repeat(99)}`);
});

test('mapInto writes -0 as 0 into integer columns and dead-letters a lone surrogate escape', () => {
  for (const format of ['json', 'csv'] as const) {
    const m = mapperOf(
      [
        ['i', 'INT', true],
        ['b', 'BIGINT', true],
        ['s', 'STRING', true],
      ],
      {},
    );
    const plan = m.planFor(createEncoder(format, m.columns));
    const out = new RowBuffer();
    assert.equal(m.mapInto(Buffer.from('{"i":-0,"b":-0,"s":"x"}'), plan, out), undefined);
    assert.equal(out.row(0), format === 'json' ? '{"i":0,"b":0,"s":"x"}' : '0,0,"x"');
    const v = m.mapInto(Buffer.from(String.raw`{"i":1,"s":"ok \ud800"}`), plan, out);
    assert.deepEqual(v, {
      ok: false,
      code: 'out_of_range',
      reason: String.raw`field "s": string has a lone UTF-16 surrogate escape \ud800, which has no UTF-8 form`,
    });
    assert.equal(out.rowCount, 1);
    assert.equal(m.mapInto(Buffer.from(String.raw`{"s":"\ud83d\ude00"}`), plan, out), undefined);
    assert.ok(out.row(1).includes('😀'), out.row(1));
  }
});

test('mapInto: a key spelled with other hex case than the column name needs is not copied as a run', () => {
  // found by test/unit/mapper-fuzz.ts (seed 6 case 1206): the run copied `"\u001Fy"` where encode()
  // writes JSON.stringify's `"\u001fy"` (the same length, so the spelling check let it through)
  const cols: Array<[string, string, boolean]> = [
    ['\u001fy', 'BOOLEAN', true],
    ['b', 'INT', true],
  ];
  const msgs = ['{"\\u001Fy":true,"b":1}', '{"\\u001fy":true,"b":2}', '{"b":3,"\\u001Fy":false}'];
  compare(
    cols,
    msgs.map((m) => Buffer.from(m, 'utf8')),
    'json',
  );
});
