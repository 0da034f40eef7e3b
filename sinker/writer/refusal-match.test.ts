import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ErrorLogEntry, parseErrorLog } from './error-log.ts';
import { ERROR_LOG_MAX_ENTRIES, matchRefusal, type RefusalInput } from './refusal-match.ts';
import { rowShape } from './row-sources.ts';

// The sinker's own encodings (sinker/encode/encoders.ts); table (id BIGINT NOT NULL, name VARCHAR(5),
// amount DECIMAL(5,2), note STRING NOT NULL) in that order.
const CSV = rowShape(
  { format: 'csv', column_separator: ',', enclose: '"', escape: '\\', columns: '`id`,`name`,`amount`,`note`' },
  '\n',
);
const JSON_LINES = rowShape({ format: 'json', read_json_by_line: 'true' }, '\n');

const TOO_LONG = (col: string, v: string) =>
  `column_name[${col}], the length of input is too long than schema. first 32 bytes of input str: [${v}] schema length: 5; actual length: ${Buffer.byteLength(v)};`;
const DECIMAL = (v: string) =>
  `column_name[amount], decimal value is not valid for definition, value=${v}, precision=5, scale=2, min=-999.99, max=999.99;`;
const NOT_NULL = 'column(note) values is null while columns is not nullable';
const STRICT = (v: string) => `column(amount) value is incorrect while strict mode is true, src value is ${v}`;

function entry(reason: string, line = ''): ErrorLogEntry {
  return { reason, line };
}

function run(over: Partial<RefusalInput> & Pick<RefusalInput, 'rows' | 'entries'>) {
  return matchRefusal({ filtered: over.entries.length, message: 'too many filtered rows', shape: CSV, ...over });
}

test('CSV: every stage named (raw row, space-joined values, sink reason) → those rows out, the rest loads', () => {
  const rows = [
    '1,"ok","1.50","fine"', // good
    '2,"toolong","1","x"', // sink: varchar
    '3,"a b","99999","y"', // sink: decimal
    '4,"ok","1",\\N', // scanner: NOT NULL, prints NULL
    '5,"ok","abc","q \\"x\\" z"', // scanner: strict conversion; unescaped quotes, spaces
    '6,"ok"', // reader: column count, raw row
    '7,"","1",""', // good, empty strings
  ];
  const log = [
    `Reason: actual column number in csv file is  less than  schema column number.actual number: 2, column separator: [,], line delimiter: [\n], schema column number: 4; . src line [6,"ok"]; `,
    `Reason: ${STRICT('abc')}. src line [5 ok abc q "x" z]; `,
    `Reason: ${NOT_NULL}. src line [4 ok 1 NULL]; `,
    `Reason: ${TOO_LONG('name', 'toolong')} . src line []; `,
    `Reason: ${DECIMAL('99999.00')} . src line []; `,
  ].join('\n');
  const v = run({ rows, entries: parseErrorLog(log).entries });
  assert.deepEqual([...v.bad.keys()].sort(), [1, 2, 3, 4, 5]);
  assert.match(v.bad.get(1) ?? '', /too long than schema/);
  assert.match(v.bad.get(2) ?? '', /decimal value is not valid/);
  assert.equal(v.bad.get(3), NOT_NULL);
  assert.equal(v.bad.get(4), STRICT('abc'));
  assert.match(v.bad.get(5) ?? '', /actual column number/);
  assert.deepEqual(v.rest, { kind: 'load' });
});

test('JSON lines: the dump holds the table columns the row leaves out (default or NULL) wherever they sit', () => {
  // Table (id, created, name, amount, note, extra): created and extra are not loaded by the sinker.
  const rows = [
    '{"id":1,"name":"ok","amount":"1.5","note":"a b"}',
    '{"id":2,"name":"ok","amount":"1","note":null}',
    '{"id":3,"name":"ok","amount":1.0,"note":"x"}',
    '{"id":4,"name":"toolongvalue","amount":"2","note":"n"}',
  ];
  const entries = [
    entry(NOT_NULL, '2 2024-01-01 00:00:00 ok 1 NULL NULL'),
    entry(STRICT('1.0'), '3 2024-01-01 00:00:00 ok 1.0 x NULL'),
    entry(TOO_LONG('name', 'toolongvalue')),
  ];
  const v = run({ rows, entries, shape: JSON_LINES });
  assert.deepEqual([...v.bad.keys()], [1, 2, 3]);
  assert.deepEqual(v.rest, { kind: 'load' });
  // First values with a space, empty or null are not looked up by piece: still found.
  const odd = ['{"note":"a b","id":1}', '{"note":"","id":2}', '{"note":null,"id":3}', '{"note":"a","id":4}'];
  const w = run({
    rows: odd,
    shape: JSON_LINES,
    entries: [entry('e1', 'x a b 1'), entry('e2', ' 2 y'), entry(NOT_NULL, 'NULL 3')],
  });
  assert.deepEqual(
    [...w.bad.entries()],
    [
      [0, 'e1'],
      [1, 'e2'],
      [2, NOT_NULL],
    ],
  );
});

test('identical rows: each is refused (Doris judges content); the entries must account for every copy', () => {
  const rows = ['1,"toolong","1","x"', '2,"ok","1","y"', '1,"toolong","1","x"'];
  const both = run({ rows, entries: [entry(TOO_LONG('name', 'toolong')), entry(TOO_LONG('name', 'toolong'))] });
  assert.deepEqual([...both.bad.keys()], [0, 2]);
  assert.deepEqual(both.rest, { kind: 'load' });
  // One entry and NumberFilteredRows 1 for two identical rows does not add up: trust nothing, bisect all.
  const one = run({ rows, entries: [entry(TOO_LONG('name', 'toolong'))] });
  assert.equal(one.bad.size, 0);
  assert.deepEqual(one.rest, { kind: 'bisect', suspects: [0, 1, 2] });
  assert.match(one.note ?? '', /does not add up/);
  // Three entries for two rows neither.
  const three = run({ rows, entries: Array.from({ length: 3 }, () => entry(TOO_LONG('name', 'toolong'))) });
  assert.equal(three.bad.size, 0);
});

test('n entries alike that exactly n differing rows fit: each entry is another row, so all n are refused', () => {
  const rows = ['1,"toolong","1","x"', '2,"ok","1","y"', '3,"toolong","2","z"', '4,"toolong","3",\\N'];
  const three = run({ rows, entries: Array.from({ length: 3 }, () => entry(TOO_LONG('name', 'toolong'))) });
  assert.deepEqual([...three.bad.keys()], [0, 2, 3]);
  assert.deepEqual(three.rest, { kind: 'load' });
  // Two entries for three rows that fit: which two is unknown.
  const two = run({ rows, entries: [entry(TOO_LONG('name', 'toolong')), entry(TOO_LONG('name', 'toolong'))] });
  assert.equal(two.bad.size, 0);
  assert.deepEqual(two.rest, { kind: 'bisect', suspects: [0, 2, 3] });
});

test('rows that fit the same line but differ are left to bisecting, only among themselves', () => {
  const rows = [
    '1,"a b","1","c"', // dumps "1 a b 1 c"
    '1,"a","b 1","c"', // dumps "1 a b 1 c" too
    '2,"ok","1",\\N', // dumps "2 ok 1 NULL"
    '2,"ok","1","NULL"', // dumps "2 ok 1 NULL" too
    '3,"toolong","1","z"',
    '4,"fine","1","z"',
  ];
  const v = run({
    rows,
    entries: [
      entry('some scanner error', '1 a b 1 c'),
      entry(NOT_NULL, '2 ok 1 NULL'),
      entry(TOO_LONG('name', 'toolong')),
    ],
  });
  assert.deepEqual([...v.bad.keys()], [4]);
  assert.deepEqual(v.rest, { kind: 'bisect', suspects: [0, 1, 2, 3] });
  // Two values cut alike at 32 bytes: the sink entry fits both rows.
  const a = `${'x'.repeat(31)}é`;
  const b = `${'x'.repeat(31)}ü`;
  const shown = Buffer.from(a).subarray(0, 32).toString();
  const cut = run({
    rows: [`1,"${a}","1","z"`, `2,"${b}","1","z"`, '3,"ok","1","z"'],
    entries: [entry(TOO_LONG('name', shown).replace(/actual length: \d+/, `actual length: ${Buffer.byteLength(a)}`))],
  });
  assert.equal(cut.bad.size, 0);
  assert.deepEqual(cut.rest, { kind: 'bisect', suspects: [0, 1] });
});

test('an entry no row fits (an unknown form, a reformatted row) sends every unnamed row to bisecting', () => {
  const rows = ['1,"toolong","1","x"', '2,"ok","1","y"', '3,"ok","1","z"'];
  const v = run({
    rows,
    entries: [entry(TOO_LONG('name', 'toolong')), entry('injected by the emulator (filter_rows fault)')],
  });
  assert.deepEqual([...v.bad.keys()], [0]);
  assert.deepEqual(v.rest, { kind: 'bisect', suspects: [1, 2] });
  const none = run({ rows, entries: [entry('column(x) value is incorrect', '9 nothing like it')] });
  assert.deepEqual(none.rest, { kind: 'bisect', suspects: [0, 1, 2] });
});

test('the error log is cut at 51 entries: the named rows go, the rest is loaded again for the next ones', () => {
  // 60 bad rows, the first 51 logged.
  const rows = Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? `${i},"toolong","${i}","x"` : `${i},"ok","1","y"`));
  const entries = Array.from({ length: ERROR_LOG_MAX_ENTRIES }, (_, k) =>
    entry(NOT_NULL.replace('note', 'x'), `${2 * k} toolong ${2 * k} x`),
  );
  const cut = run({ rows: rows, entries: entries, filtered: 60 });
  assert.equal(cut.bad.size, 51);
  assert.deepEqual(cut.rest, { kind: 'reload' });
  // The early stop of a zero-tolerance load: 51 entries, the 52nd row stopped it (counters may lag).
  for (const filtered of [52, 0]) {
    const stop = run({
      rows: rows,
      entries: entries,
      filtered,
      message: '[DATA_QUALITY_ERROR]Encountered unqualified data, stop processing. Please check …',
    });
    assert.equal(stop.bad.size, 51, `filtered ${filtered}`);
    assert.deepEqual(stop.rest, { kind: 'reload' });
  }
  // Cut, and no entry names a row for sure: only bisecting makes progress.
  const blind = run({ rows: rows, entries: entries.map((e) => ({ ...e, line: 'nothing' })), filtered: 60 });
  assert.equal(blind.bad.size, 0);
  assert.equal(blind.rest.kind === 'bisect' && blind.rest.suspects.length, 120);
});

test('NumberFilteredRows is checked against the log', () => {
  const rows = ['1,"toolong","1","x"', '2,"ok","1","y"', '3,"ok","1",\\N'];
  const entries = [entry(TOO_LONG('name', 'toolong'))];
  // More filtered than logged (and not cut): a row Doris filtered without a line; bisect the others.
  const more = run({ rows, entries, filtered: 2 });
  assert.deepEqual([...more.bad.keys()], [0]);
  assert.deepEqual(more.rest, { kind: 'bisect', suspects: [1, 2] });
  // Fewer filtered than logged: the count is not about these rows; nothing is trusted.
  const fewer = run({ rows, entries: [...entries, entry(NOT_NULL, '3 ok 1 NULL')], filtered: 1 });
  assert.equal(fewer.bad.size, 0);
  assert.deepEqual(fewer.rest, { kind: 'bisect', suspects: [0, 1, 2] });
  // No entry at all.
  assert.deepEqual(run({ rows, entries: [], filtered: 1 }).rest, { kind: 'bisect', suspects: [0, 1, 2] });
});

test('without a known row shape only raw rows are matched, as before', () => {
  const rows = ['1\tok', '2\tBAD', '3\tok'];
  const raw = run({ rows, entries: [entry('column(x) value is incorrect', '2\tBAD')], shape: undefined });
  assert.deepEqual([...raw.bad.keys()], [1]);
  assert.deepEqual(raw.rest, { kind: 'load' });
  const scanner = run({ rows, entries: [entry('column(x) value is incorrect', '2 BAD')], shape: undefined });
  assert.equal(scanner.bad.size, 0);
  assert.deepEqual(scanner.rest, { kind: 'bisect', suspects: [0, 1, 2] });
});

test('CSV without a columns header: the sink reason may name any field (names unknown)', () => {
  const shape = rowShape({ column_separator: ',' }, '\n');
  const rows = ['1,ok', '2,waytoolong', '3,ok'];
  const v = run({ rows, shape, entries: [entry(TOO_LONG('name', 'waytoolong'))] });
  assert.deepEqual([...v.bad.keys()], [1]);
  assert.deepEqual(v.rest, { kind: 'load' });
});

test('a log that says TOO MUCH ERROR is cut: the rows it names go, the rest is loaded again (no bisecting)', () => {
  const rows = ['1,"ok","1","a"', '2,"ok","1",\\N', '3,"ok","1",\\N', '4,"ok","1","d"'];
  // 51 rows refused, the log names one and stops (the other refused rows are elsewhere in the batch).
  const entries = [entry(NOT_NULL, '2 ok 1 NULL')];
  const v = run({ rows, entries, filtered: 51, cut: true });
  assert.deepEqual([...v.bad.keys()], [1]);
  assert.deepEqual(v.rest, { kind: 'reload' });
  // Without the stop line the same log is incomplete with nothing to say where the rest is: bisect.
  assert.equal(run({ rows, entries, filtered: 51 }).rest.kind, 'bisect');
});

test('an entry cut at the size limit names no row: the rows it could be are bisected, none dead-lettered on a guess', () => {
  const rows = ['1,"ok","1","a"', '2,"ok","1",\\N', '3,"ok","1","c"'];
  const entries = [{ reason: NOT_NULL, line: '', truncated: true }];
  const v = run({ rows, entries });
  assert.equal(v.bad.size, 0);
  assert.deepEqual(v.rest, { kind: 'bisect', suspects: [0, 1, 2] });
});
