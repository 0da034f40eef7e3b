import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseErrorLog } from './error-log.ts';

const LOG = [
  'Reason: column(id) value is incorrect. src line [abc\t1\tx]; ',
  'Reason: the length of input is too long than schema. column_name: name; input str: [toolong]. src line [{"id":2,"name":"a]b"}]; ',
  'Reason: no partition for this tuple. src line [3\t2019-01-01]; ',
  '',
].join('\n');

test('parseErrorLog reads every entry with its reason and raw row, even rows holding "]"', () => {
  const { entries, cut, summaries } = parseErrorLog(LOG);
  assert.equal(cut, false);
  assert.deepEqual(summaries, []);
  assert.equal(entries.length, 3);
  assert.deepEqual(entries[0], { reason: 'column(id) value is incorrect', line: 'abc\t1\tx' });
  assert.equal(entries[1]?.line, '{"id":2,"name":"a]b"}');
  assert.match(entries[1]?.reason ?? '', /too long than schema/);
  assert.equal(entries[2]?.reason, 'no partition for this tuple');
});

test('parseErrorLog of an empty or foreign text finds nothing', () => {
  assert.deepEqual(parseErrorLog(''), { entries: [], cut: false, summaries: [] });
  assert.deepEqual(parseErrorLog('<html>404</html>'), { entries: [], cut: false, summaries: [] });
});

test('parseErrorLog reads all three line forms the BE writes: Reason entries, Summary notes, the TOO MUCH ERROR stop', () => {
  const text = [
    'Reason: column(id) value is incorrect. src line [a,1]; ',
    'Summary: 2 rows filtered by the sink',
    'Reason: the length of input is too long than schema. src line []; ',
    'TOO MUCH ERROR! already reach 50. show no more next error.',
    '',
  ].join('\n');
  const log = parseErrorLog(text);
  assert.deepEqual(log.entries, [
    { reason: 'column(id) value is incorrect', line: 'a,1' },
    { reason: 'the length of input is too long than schema', line: '' },
  ]);
  assert.deepEqual(log.summaries, ['2 rows filtered by the sink']);
  assert.equal(log.cut, true);
});

test('an entry cut at load_error_log_limit_bytes stays one refused row and does not swallow the next entry', () => {
  const text = [
    'Reason: column(name) value is incorrect. src line [7,xxxxxxxxerror log is too long',
    'Reason: column(id) value is incorrect. src line [b,2]; ',
    'Reason: column(name) vaerror log is too long',
    '',
  ].join('\n');
  const log = parseErrorLog(text);
  assert.deepEqual(log.entries, [
    { reason: 'column(name) value is incorrect', line: '', truncated: true },
    { reason: 'column(id) value is incorrect', line: 'b,2' },
    { reason: 'column(name) va', line: '', truncated: true },
  ]);
  assert.equal(log.cut, false);
});

test('a reason holding line breaks (the column-count reason prints the delimiter) is one entry', () => {
  const text =
    'Reason: actual column number in csv file is  less than  schema column number.actual number: 2, column separator: [,], line delimiter: [\n], schema column number: 5; . src line [1,a]; \n';
  const log = parseErrorLog(text);
  assert.equal(log.entries.length, 1);
  assert.equal(log.entries[0]?.line, '1,a');
  assert.match(log.entries[0]?.reason ?? '', /line delimiter: \[\n\], schema column number: 5;$/);
});
