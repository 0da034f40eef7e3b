import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from './config/load.ts';
import { consumerOptions, fetchMaxBytes } from './consumer.ts';

test('consumer options: metadata refreshed every kafka.metadata_max_age seconds (default 60, not kafkajs 300)', () => {
  const defaults = consumerOptions(parseConfig('', { env: {} }).kafka);
  assert.equal(defaults.metadataMaxAge, 60_000);
  const set = consumerOptions(parseConfig('kafka: {metadata_max_age: 5}', { env: {} }).kafka);
  assert.equal(set.metadataMaxAge, 5000);
});

test('consumer options: timeouts in ms, fetch sizes from max_fetch_bytes, no topic auto-creation', () => {
  const o = consumerOptions(
    parseConfig('kafka: {group_id: g, session_timeout: 10, heartbeat_interval: 2, max_fetch_bytes: 2048}', { env: {} })
      .kafka,
  );
  assert.equal(o.groupId, 'g');
  assert.equal(o.sessionTimeout, 10_000);
  assert.equal(o.heartbeatInterval, 2000);
  assert.equal(o.maxBytesPerPartition, 2048);
  assert.equal(o.maxBytes, fetchMaxBytes(2048));
  assert.equal(o.allowAutoTopicCreation, false);
});

test('kafka.metadata_max_age outside 1..3600 is refused naming the key', () => {
  assert.throws(() => parseConfig('kafka: {metadata_max_age: 0}', { env: {} }), /kafka\.metadata_max_age/);
  assert.throws(() => parseConfig('kafka: {metadata_max_age: 3601}', { env: {} }), /kafka\.metadata_max_age/);
});
