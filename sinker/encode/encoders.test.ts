import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FieldExtractor } from '../mapper/extract.ts';
import { parseDorisType } from '../schema/parse-type.ts';
import type { Column } from '../schema/types.ts';
import { bodyOf, createEncoder, valueClass } from './encoders.ts';

const col = (name: string, type: string): Column => ({
  name,
  type: parseDorisType(type),
  nullable: true,
  isKey: false,
  default: null,
  extra: '',
});

const TRICKY = [
  '',
  'plain',
  'a,b,c',
  'say "hi"',
  '"',
  '""',
  'tab\there',
  'line\nbreak',
  'cr\rlf\r\n',
  'back\\slash\\',
  '\\',
  '\\N',
  'N',
  'ctrl\u0001\u0002\u001f',
  'emoji 😀👍🏽',
  '中文字符 日本語',
  '\u2028\u2029',
  ',"\\\n\t',
  '   spaces   ',
];

/**
 * Reads a CSV body the way Doris does with enclose `"` and escape `\`: a line delimiter inside an
 * enclosed field is data; an unenclosed `\N` is NULL; an enclosed field is unquoted and unescaped
 * (`\x` → x, `""` → `"`).
 */
function parseDorisCsv(body: string): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let fields: (string | null)[] = [];
  let i = 0;
  while (i < body.length) {
    let value: string | null;
    if (body[i] === '"') {
      i++;
      let v = '';
      for (;;) {
        if (i >= body.length) throw new Error('unterminated enclosed field');
        const c = body[i]!;
        if (c === '\\') {
          v += body[i + 1];
          i += 2;
        } else if (c === '"' && body[i + 1] === '"') {
          v += '"';
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          v += c;
          i++;
        }
      }
      value = v;
    } else {
      let j = i;
      while (j < body.length && body[j] !== ',' && body[j] !== '\n') j++;
      const raw = body.slice(i, j);
      value = raw === '\\N' ? null : raw;
      i = j;
    }
    fields.push(value);
    if (body[i] === ',') i++;
    else if (body[i] === '\n' || i >= body.length) {
      rows.push(fields);
      fields = [];
      i++;
    } else throw new Error(`garbage after an enclosed field at ${i}`);
  }
  return rows;
}

test('CSV: every tricky string survives byte for byte, NULL is \\N, numbers are bare', () => {
  const cols = [col('id', 'bigint'), col('s', 'varchar(100)'), col('t', 'text'), col('d', 'decimal(38,10)')];
  const enc = createEncoder('csv', cols);
  const rows = TRICKY.map((s, i) => [
    String(i),
    s,
    i % 3 === 0 ? null : `${s}!`,
    '12345678901234567890123456.0123456789',
  ]);
  const body = bodyOf(rows.map((r) => enc.encode(r)));
  const back = parseDorisCsv(body);
  assert.equal(back.length, rows.length);
  for (const [i, r] of rows.entries()) {
    assert.deepEqual(back[i], r, JSON.stringify(TRICKY[i]));
    assert.equal(Buffer.from(back[i]![1]!).equals(Buffer.from(r[1]!)), true);
  }
  assert.equal(enc.encode(['1', 'a', null, '2']), '1,"a",\\N,"2"');
  assert.equal(enc.encode(['1', '\\N', 'x"y', '2']), '1,"\\\\N","x\\"y","2"');
});

test('CSV headers: enclose, escape, separator and the column list', () => {
  const enc = createEncoder('csv', [col('id', 'bigint'), col('select', 'text'), col('we`ird', 'int')]);
  assert.deepEqual(enc.headers, {
    format: 'csv',
    column_separator: ',',
    enclose: '"',
    escape: '\\',
    columns: '`id`,`select`,`we``ird`',
  });
  for (const v of Object.values(enc.headers)) assert.doesNotMatch(v, /[\r\n]/, 'header values cannot hold newlines');
});

test('JSON lines: one object per line, strings escaped, big numbers exact, nested JSON kept', () => {
  const cols = [
    col('id', 'bigint'),
    col('big', 'largeint'),
    col('amount', 'decimal(38,10)'),
    col('score', 'double'),
    col('ok', 'boolean'),
    col('s', 'text'),
    col('labels', 'json'),
    col('tags', 'array<text>'),
    col('day', 'date'),
    col('n', 'int'),
  ];
  const enc = createEncoder('json', cols);
  assert.deepEqual(enc.headers, { format: 'json', read_json_by_line: 'true', strip_outer_array: 'false' });
  const ex = new FieldExtractor(cols.map((c) => c.name));
  for (const s of TRICKY) {
    const values = [
      '9007199254740993',
      '170141183460469231731687303715884105727',
      '12345678901234567890123456.0123456789',
      '0.1000000000000000055511151231257827',
      'true',
      s,
      '{"k":[1,"x\\ny"]}',
      '["a","b"]',
      '2024-01-02',
      null,
    ];
    const line = enc.encode(values);
    assert.doesNotMatch(line, /[\n\r]/, 'a JSON line holds no raw newline');
    const obj = JSON.parse(line) as Record<string, unknown>;
    assert.equal(obj.s, s);
    assert.deepEqual(obj.labels, { k: [1, 'x\ny'] });
    assert.deepEqual(obj.tags, ['a', 'b']);
    assert.equal(obj.ok, true);
    assert.equal(obj.n, null);
    assert.equal(obj.day, '2024-01-02');
    assert.equal(obj.big, '170141183460469231731687303715884105727');
    assert.equal(obj.amount, '12345678901234567890123456.0123456789');
    // the bare numbers keep every digit on the wire
    ex.scanText(line);
    assert.equal(line.slice(ex.starts[0], ex.ends[0]), '9007199254740993');
    assert.equal(line.slice(ex.starts[3], ex.ends[3]), '0.1000000000000000055511151231257827');
  }
});

test('value classes by type', () => {
  assert.equal(valueClass(parseDorisType('bigint')), 'raw');
  assert.equal(valueClass(parseDorisType('boolean')), 'raw');
  assert.equal(valueClass(parseDorisType('largeint')), 'string');
  assert.equal(valueClass(parseDorisType('decimal(10,2)')), 'string');
  assert.equal(valueClass(parseDorisType('datetime(3)')), 'string');
  assert.equal(valueClass(parseDorisType('map<text,int>')), 'json');
  assert.equal(bodyOf([]), '');
  assert.equal(bodyOf(['a', 'b']), 'a\nb\n');
});

test("the mapper's clean flags only skip work: lines are identical with and without them", async () => {
  const { Mapper } = await import('../mapper/mapper.ts');
  const { tableSchema } = await import('../schema/schema.ts');
  const cols = [
    col('id', 'bigint'),
    col('s', 'text'),
    col('d', 'datetime(3)'),
    col('j', 'json'),
    col('amt', 'decimal(20,4)'),
    col('b', 'boolean'),
  ];
  const mapper = new Mapper(tableSchema(cols), { zeroDate: '1970-01-01' });
  const messages = [
    '{"id":1,"s":"plain","d":"2024-01-01 00:00:00.5","j":{"a":"q\\"x"},"amt":"1.5","b":true}',
    '{"id":2,"s":"esc \\" \\\\ \\n \\u0001","d":"2024-01-01","j":"[1]","amt":2,"b":"false"}',
    '{"id":3,"s":{"obj":"v"},"j":null,"amt":null}',
    '{"id":4,"s":["x","y"],"j":[{"k":"v"}]}',
    '{"id":5,"s":12.50,"b":null}',
    ...TRICKY.map((s, i) => JSON.stringify({ id: 100 + i, s, j: { s } })),
  ];
  let cleanCount = 0;
  for (const format of ['json', 'csv'] as const) {
    const enc = createEncoder(format, mapper.columns);
    for (const m of messages) {
      const r = mapper.map(m);
      assert.ok(r.ok, m);
      cleanCount += r.clean.reduce((a, b) => a + b, 0);
      assert.equal(enc.encode(r.values, r.clean), enc.encode(r.values), `${format}: ${m}`);
    }
  }
  assert.ok(cleanCount > 0, 'some values were marked clean');
});

test('encoded lines are flat strings: they do not keep the message text and a cons tree alive', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { Mapper } = await import('../mapper/mapper.ts');
  const { tableSchema } = await import('../schema/schema.ts');
  const cols = Array.from({ length: 40 }, (_, i) => col(`c${i}`, 'varchar(100)'));
  const mapper = new Mapper(tableSchema(cols), { zeroDate: '1970-01-01' });
  for (const format of ['json', 'csv'] as const) {
    const enc = createEncoder(format, mapper.columns);
    const keep: string[] = [];
    let chars = 0;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let n = 0; n < 3000; n++) {
      // a fat message (unwanted padding) whose text must not stay reachable through the line
      const msg = JSON.stringify({
        pad: 'x'.repeat(4000),
        ...Object.fromEntries(cols.map((c, i) => [c.name, `v${n}-${i}-abcdefgh`])),
      });
      const r = mapper.map(Buffer.from(msg));
      assert.ok(r.ok);
      const line = enc.encode(r.values, r.clean);
      chars += line.length;
      keep.push(line);
    }
    gc();
    const perRow = (process.memoryUsage().heapUsed - before) / keep.length;
    assert.ok(
      perRow < (chars / keep.length) * 1.6 + 64,
      `${format}: ${perRow.toFixed(0)} heap bytes per row for ${(chars / keep.length).toFixed(0)} chars`,
    );
  }
});
