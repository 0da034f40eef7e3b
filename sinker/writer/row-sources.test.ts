import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CsvShape, dumpLine, dumpMatches, rowShape, rowSources } from './row-sources.ts';

const SINKER_CSV = {
  format: 'csv',
  column_separator: ',',
  enclose: '"',
  escape: '\\',
  columns: '`id`,`Name`,`we``ird`',
};

test('rowShape reads the CSV framing and the columns header (back-quoted names, lower case)', () => {
  assert.deepEqual(rowShape(SINKER_CSV, '\n'), {
    format: 'csv',
    separator: ',',
    enclose: '"',
    escape: '\\',
    trimDoubleQuotes: false,
    stripCr: true,
    columns: ['id', 'name', 'we`ird'],
  });
  // Doris's defaults: csv, tab separator, no enclose, no columns header (the table's columns).
  assert.deepEqual(rowShape({}, '\n'), {
    format: 'csv',
    separator: '\t',
    enclose: '',
    escape: '',
    trimDoubleQuotes: false,
    stripCr: true,
  });
  assert.equal((rowShape({ column_separator: '\\x01' }, '\n') as CsvShape).separator, '\u0001');
  assert.deepEqual(rowShape({ format: 'json', read_json_by_line: 'true' }, '\n'), { format: 'json' });
});

test('rowShape gives up where rows are not read as plain lines of values', () => {
  for (const h of [
    { format: 'json', jsonpaths: '["$.a"]' },
    { format: 'json', json_root: '$.data' },
    { format: 'json', strip_outer_array: 'true' },
    { format: 'json', columns: 'a,b' },
    { format: 'csv_with_names' },
    { format: 'parquet' },
    { columns: 'a, b, c = a + b' },
    { skip_lines: '1' },
    { empty_field_as_null: 'true' },
    { enclose: '""' },
  ] as Record<string, string>[]) {
    assert.equal(rowShape(h, '\n'), undefined, JSON.stringify(h));
  }
});

test('CSV rows: enclose and escape stripped, \\N is NULL, an enclosed \\N a string, separators inside quotes kept', () => {
  const shape = rowShape(SINKER_CSV, '\n') as CsvShape;
  assert.deepEqual(rowSources('1,"a,b",\\N', shape), {
    values: ['1', 'a,b', null],
    names: shape.columns,
    partial: false,
  });
  assert.deepEqual(rowSources('2,"say \\"hi\\" \\\\ ok","\\\\N"', shape)?.values, ['2', 'say "hi" \\ ok', '\\N']);
  assert.deepEqual(rowSources('3,"","a b"', shape)?.values, ['3', '', 'a b']);
  assert.deepEqual(rowSources('4,"x\ny",z\r', shape)?.values, ['4', 'x\ny', 'z'], 'CR of a CRLF delimiter dropped');
  // Bytes after a closing enclose make the rest of the line one field (Doris's reader).
  assert.deepEqual(rowSources('5,"a"b,c', rowShape({ column_separator: ',', enclose: '"' }, '\n')!)?.values, [
    '5',
    '"a"b,c',
  ]);
  assert.equal(rowSources('1,"a"', shape), undefined, 'a column count the reader refuses');
  const plain = rowShape({ column_separator: '||' }, '\n')!;
  assert.deepEqual(rowSources('1||two words||', plain), { values: ['1', 'two words', ''], partial: false });
});

test('JSON rows: values as the JSON reader hands them over (number tokens kept, booleans 1/0, nested as JSON)', () => {
  const shape = rowShape({ format: 'json' }, '\n')!;
  const s = rowSources(
    '{"id":12345678901234567890,"f":1.0,"e":1e2,"b":true,"c":false,"n":null,"s":"a \\"b\\" c","o":{"k":[1.50,2]},"ID":"x"}',
    shape,
  );
  assert.deepEqual(s, {
    values: ['12345678901234567890', '1.0', '1e2', '1', '0', null, 'a "b" c', '{"k":[1.50,2]}', 'x'],
    names: ['id', 'f', 'e', 'b', 'c', 'n', 's', 'o', 'id'],
    partial: true,
  });
  // Plain numbers (no token JSON.parse would print otherwise) take the fast path: same values.
  assert.deepEqual(rowSources('{"id":7,"ts":"2024-01-01 00:00:00","n":[1,2.5,-3],"x":"1.0"}', shape)?.values, [
    '7',
    '2024-01-01 00:00:00',
    '[1,2.5,-3]',
    '1.0',
  ]);
  assert.deepEqual(rowSources('{"a":-0,"b":{"c":"\\\\"},"d":1E3}', shape)?.values, ['-0', '{"c":"\\\\"}', '1E3']);
  assert.equal(rowSources('{"id":1', shape), undefined);
  assert.equal(rowSources('[1,2]', shape), undefined);
  assert.equal(rowSources('"text"', shape), undefined);
});

test('dumpLine joins the values with single spaces, NULL for null, nothing for an empty string', () => {
  assert.equal(dumpLine(['1', null, '', 'a b']), '1 NULL  a b');
  assert.equal(dumpLine([]), '');
});

test('dumpMatches: exact for complete rows; a partial row may have the missing columns anywhere', () => {
  const full = { values: ['1', 'a b', null], partial: false };
  assert.ok(dumpMatches(full, '1 a b NULL'));
  assert.ok(!dumpMatches(full, '1 a b NULL 7'), 'no extra values for a complete row');
  const part = { values: ['1', 'a b', null], partial: true };
  for (const line of [
    '1 a b NULL',
    'X 1 a b NULL',
    '1 2024-01-01 00:00:00 a b NULL',
    '1 a b  NULL',
    '1 a b NULL x y',
    '1  a b NULL',
  ]) {
    assert.ok(dumpMatches(part, line), line);
  }
  for (const line of ['1 a bc NULL', '11 a b NULL', '1 a b NULLX', 'a b 1 NULL', '1 a NULL', '']) {
    assert.ok(!dumpMatches(part, line), line);
  }
  // A value shorter than the line with the same text nearby: the pieces must be whole.
  assert.ok(!dumpMatches({ values: ['a', 'b'], partial: true }, 'ab ba'));
  assert.ok(dumpMatches({ values: ['', 'b'], partial: true }, 'x  b'));
});
