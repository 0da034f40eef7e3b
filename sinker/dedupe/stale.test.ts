import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findStale, findStaleInTopic, type LogBounds, STALE_STATE_MESSAGE, StaleStateError } from './stale.ts';
import type { Intent, PartitionState } from './state.ts';

const log = (high: string, low = '0'): LogBounds => ({ low, high });
const intent = (first: string, last: string): Intent => ({ label: `s:t:3:${first}`, first, last, created: 0 });
const st = (watermark: string | null, ...intents: Intent[]): PartitionState => ({ watermark, intents });

test('a watermark at or past the log end is stale: an offset known to be in Doris is not in the log', () => {
  // re-created topic holding 20 messages, where 50 were loaded
  assert.deepEqual(findStale(3, st('49'), null, log('20')), {
    partition: 3,
    reason: 'watermark',
    offset: '49',
    watermark: '49',
    logStart: '0',
    logEnd: '20',
  });
  assert.equal(
    findStale(3, st('20'), null, log('20'))?.reason,
    'watermark',
    'watermark = high: offset 20 is not written yet',
  );
  assert.equal(findStale(3, st('0'), null, log('0'))?.reason, 'watermark', 're-created and still empty');
});

test('an intent reaching the log end is stale, by its first or its last offset', () => {
  assert.equal(findStale(0, st(null, intent('30', '39')), null, log('20'))?.offset, '39');
  assert.deepEqual(findStale(0, st('9', intent('10', '25')), null, log('20')), {
    partition: 0,
    reason: 'intent',
    offset: '25',
    watermark: '9',
    logStart: '0',
    logEnd: '20',
  });
  assert.equal(findStale(0, st('9', intent('10', '19')), null, log('20')), null, 'an intent inside the log');
});

test('a committed offset past the log end is stale only while Redis holds state for the partition', () => {
  assert.equal(
    findStale(1, st('9'), '31', log('20'))?.reason,
    'committed',
    'loaded while Redis was away, then truncated',
  );
  assert.equal(findStale(1, st(null, intent('5', '9')), '31', log('20'))?.reason, 'committed');
  // A renamed sink keeping its group id: no state of its own, Kafka resets the position.
  assert.equal(findStale(1, st(null), '31', log('20')), null);
  // committed = high: everything read, nothing new (the next offset to read is the end).
  assert.equal(findStale(1, st('19'), '20', log('20')), null);
});

test('normal state is never stale', () => {
  assert.equal(findStale(0, st('19'), '20', log('20')), null, 'watermark = high - 1: caught up');
  assert.equal(findStale(0, st(null), null, log('0')), null, 'nothing known, empty topic');
  assert.equal(findStale(0, st(null), null, log('500')), null, 'no watermark');
  assert.equal(
    findStale(0, st('5'), '6', log('100', '80')),
    null,
    'retention deleted loaded messages (watermark below low)',
  );
  assert.equal(findStale(0, st('99'), null, log('100', '100')), null, 'empty after retention, all of it loaded');
  assert.equal(
    findStale(0, st('9007199254740992'), null, log('9007199254740993')),
    null,
    'offsets compare exactly past 2^53',
  );
  assert.equal(findStale(0, st('9007199254740993'), null, log('9007199254740993'))?.reason, 'watermark');
});

test('the whole topic is judged: any partition with stale state, the lowest first; the committed offset only of the settling one', () => {
  const states = new Map([
    [0, st('199')],
    [1, st('199')],
    [3, st('5')],
  ]);
  const logs = new Map([
    [0, log('300')],
    [1, log('10')],
    [2, log('0')],
  ]);
  assert.equal(findStaleInTopic(states, logs, new Map([[0, '200']]))?.partition, 1);
  // partition 3 is not in the log's list (metadata not refreshed yet after the topic grew): not judged
  assert.equal(findStaleInTopic(new Map([[3, st('5')]]), logs, new Map([[3, null]])), null);
  const fine = new Map([
    [0, st('199')],
    [1, st('9')],
  ]);
  assert.equal(findStaleInTopic(fine, logs, new Map([[0, '200']])), null);
  assert.equal(findStaleInTopic(fine, logs, new Map([[1, '11']]))?.reason, 'committed');
  assert.equal(findStaleInTopic(fine, logs, new Map([[0, '301']]))?.reason, 'committed');
  assert.equal(findStaleInTopic(new Map(), logs, new Map([[0, '999']])), null, 'no state at all');
});

test('the refusal names topic, partition, what lies past the end, and the log says what to do', () => {
  const err = new StaleStateError('orders', {
    partition: 2,
    reason: 'watermark',
    offset: '49',
    watermark: '49',
    logStart: '0',
    logEnd: '20',
    at: '2026-11-25T08:00:00.000Z',
  });
  assert.equal(
    err.message,
    'topic orders partition 2: watermark 49 is at or past the log end 20 (found 2026-11-25T08:00:00.000Z)',
  );
  assert.match(STALE_STATE_MESSAGE, /re-created or truncated/);
  assert.match(STALE_STATE_MESSAGE, /new name/);
  assert.match(STALE_STATE_MESSAGE, /Deleting and re-creating a topic/);
  assert.match(STALE_STATE_MESSAGE, /Redis keys/);
  assert.match(STALE_STATE_MESSAGE, /labels/);
});
