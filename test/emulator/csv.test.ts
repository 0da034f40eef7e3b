import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CsvOptions, CsvScanner, countCsv, fieldText, parseSeparator } from './csv.ts';

function opts(o: Partial<CsvOptions> = {}): CsvOptions {
  return {
    columnSeparator: Buffer.from(','),
    lineDelimiter: Buffer.from('\n'),
    enclose: -1,
    escape: -1,
    trimDoubleQuotes: false,
    ...o,
  };
}

function rows(text: string, o: CsvOptions): (string | null)[][] {
  const buf = Buffer.from(text);
  const sc = new CsvScanner(buf, o);
  const out: (string | null)[][] = [];
  while (sc.next()) {
    if (sc.isEmptyLine()) continue;
    const r: (string | null)[] = [];
    for (let i = 0; i < sc.fieldCount; i++) r.push(fieldText(buf, sc, i, o));
    out.push(r);
  }
  return out;
}

test('plain CSV: rows, empty lines skipped, CRLF, last line without delimiter, \\N is NULL', () => {
  assert.deepEqual(rows('a,b\n\nc,\\N\r\nd,e', opts()), [
    ['a', 'b'],
    ['c', null],
    ['d', 'e'],
  ]);
});

test('enclose keeps separators, newlines, tabs and \\u0001 inside a field; escape protects the enclose', () => {
  const o = opts({ enclose: 34, escape: 92 });
  const text = '1,"a,b\nc","say \\"hi\\"\t\u0001 😀 中文"\n2,"",x\n';
  assert.deepEqual(rows(text, o), [
    ['1', 'a,b\nc', 'say "hi"\t\u0001 😀 中文'],
    ['2', '', 'x'],
  ]);
});

test('bytes after a closing enclose that are not a separator make the rest of the line one field (Doris)', () => {
  const o = opts({ enclose: 34 });
  assert.deepEqual(rows('"a"b,c\n', o), [['"a"b,c']]);
});

test('multi-byte separators and delimiters, hex form', () => {
  const o = opts({ columnSeparator: parseSeparator('\\x01\\x02'), lineDelimiter: parseSeparator('||') });
  assert.deepEqual(rows('a\u0001\u0002b||c\u0001\u0002d||', o), [
    ['a', 'b'],
    ['c', 'd'],
  ]);
  assert.deepEqual(parseSeparator('\\t'), Buffer.from('\t'));
  assert.deepEqual(parseSeparator('\\x01'), Buffer.from([1]));
  assert.throws(() => parseSeparator('\\x0'), /Hex str/);
});

test('trim_double_quotes strips quotes without enclose', () => {
  assert.deepEqual(rows('"a",b\n', opts({ trimDoubleQuotes: true })), [['a', 'b']]);
});

test('countCsv counts rows and wrong column counts, honouring enclose and skip', () => {
  const o = opts({ enclose: 34, escape: 92 });
  assert.deepEqual(countCsv(Buffer.from('h1,h2\n1,"x,\ny"\n2\n3,4\n'), o, 2, 1), [3, 1]);
});

test('the scanner grows its field arrays for wide rows', () => {
  const wide = Array.from({ length: 600 }, (_, i) => String(i)).join(',');
  const r = rows(`${wide}\n`, opts());
  assert.equal(r[0]!.length, 600);
  assert.equal(r[0]![599], '599');
});
