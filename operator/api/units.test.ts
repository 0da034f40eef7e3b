import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DURATION_PATTERN, QUANTITY_PATTERN } from './openapi.ts';
import { parseBytes, parseDuration } from './units.ts';

test('parseDuration', () => {
  assert.equal(parseDuration('30s', 'f'), 30);
  assert.equal(parseDuration('5m', 'f'), 300);
  assert.equal(parseDuration('1h30m', 'f'), 5400);
  assert.equal(parseDuration('1.5s', 'f'), 1.5);
  assert.equal(parseDuration('250ms', 'f'), 0.25);
  assert.throws(() => parseDuration('5', 'spec.batch.maxBatchInterval'), /spec\.batch\.maxBatchInterval: "5"/);
  assert.throws(() => parseDuration('', 'f'), /not a duration/);
  assert.throws(() => parseDuration('5m x', 'f'), /not a duration/);
});

test('duration pattern in the CRD agrees with the parser', () => {
  const re = new RegExp(DURATION_PATTERN);
  for (const ok of ['30s', '5m', '1h30m', '250ms', '1.5s']) {
    assert.ok(re.test(ok), ok);
    parseDuration(ok, 'f');
  }
  for (const bad of ['5', 'm', '-5s', '5 m', '5d']) {
    assert.ok(!re.test(bad), bad);
    assert.throws(() => parseDuration(bad, 'f'));
  }
});

test('parseBytes', () => {
  assert.equal(parseBytes(1048576, 'f'), 1048576);
  assert.equal(parseBytes('16Mi', 'f'), 16 * 1024 * 1024);
  assert.equal(parseBytes('1G', 'f'), 1e9);
  assert.equal(parseBytes('1k', 'f'), 1000);
  assert.equal(parseBytes('0.5Ki', 'f'), 512);
  assert.equal(parseBytes('1e3', 'f'), 1000);
  assert.equal(parseBytes('100', 'f'), 100);
  assert.throws(() => parseBytes('16MB', 'spec.batch.maxBatchSize'), /spec\.batch\.maxBatchSize/);
  const re = new RegExp(QUANTITY_PATTERN);
  for (const ok of ['16Mi', '1G', '1e3', '100']) assert.ok(re.test(ok), ok);
  assert.ok(!re.test('16MB'));
});
