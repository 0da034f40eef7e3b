import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DedupeUnavailableError, isUnavailable } from './errors.ts';

test('connection-level ioredis errors mean "Redis is away"; error replies do not', () => {
  for (const m of [
    'connect ECONNREFUSED 127.0.0.1:6379',
    'Connection is closed.',
    "Stream isn't writeable and enableOfflineQueue options is false",
    'Command timed out',
    'read ECONNRESET',
  ]) {
    assert.ok(isUnavailable(new Error(m)), m);
  }
  const reply = Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), {
    name: 'ReplyError',
  });
  assert.ok(!isUnavailable(reply));
  assert.ok(!isUnavailable(new Error('dedupe: intent field 0:1 is not JSON')));
  assert.ok(!isUnavailable('ECONNREFUSED'));
});

test('a DedupeUnavailableError is recognised whatever its cause says, and names the operation', () => {
  const e = new DedupeUnavailableError('complete', new Error('something odd'));
  assert.ok(isUnavailable(e));
  assert.match(e.message, /Redis unavailable during complete: something odd/);
  assert.equal(e.operation, 'complete');
});
