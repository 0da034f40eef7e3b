import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchErrorLog, parseErrorLog } from './error-log.ts';

const LOG = [
  'Reason: column(id) value is incorrect. src line [abc\t1\tx]; ',
  'Reason: the length of input is too long than schema. column_name: name; input str: [toolong]. src line [{"id":2,"name":"a]b"}]; ',
  'Reason: no partition for this tuple. src line [3\t2019-01-01]; ',
  '',
].join('\n');

test('parseErrorLog reads every entry with its reason and raw row, even rows holding "]"', () => {
  const entries = parseErrorLog(LOG);
  assert.equal(entries.length, 3);
  assert.deepEqual(entries[0], { reason: 'column(id) value is incorrect', line: 'abc\t1\tx' });
  assert.equal(entries[1]?.line, '{"id":2,"name":"a]b"}');
  assert.match(entries[1]?.reason ?? '', /too long than schema/);
  assert.equal(entries[2]?.reason, 'no partition for this tuple');
});

test('parseErrorLog of an empty or foreign text finds nothing', () => {
  assert.deepEqual(parseErrorLog(''), []);
  assert.deepEqual(parseErrorLog('<html>404</html>'), []);
});

test('matchErrorLog marks every copy of a bad row and reports unmatched entries', () => {
  const rows = ['ok\t1', 'abc\t1\tx', 'ok\t2', 'abc\t1\tx', '3\t2019-01-01'];
  const { bad, unmatched } = matchErrorLog(rows, parseErrorLog(LOG));
  assert.deepEqual([...bad.keys()].sort(), [1, 3, 4]);
  assert.equal(bad.get(4), 'no partition for this tuple');
  assert.equal(unmatched.length, 1);
  assert.equal(unmatched[0]?.line, '{"id":2,"name":"a]b"}');
});
