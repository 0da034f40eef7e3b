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
