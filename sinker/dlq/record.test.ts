import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DlqRecord, fromJsonLine, fromKafkaMessage, toJsonLine, toKafkaMessage } from './record.ts';

const rec = (value: Buffer | null, key: Buffer | null = null): DlqRecord => ({
  sink: 's',
  topic: 'events',
  partition: 3,
  offset: '9007199254740993',
  reason: 'invalid JSON at byte 4',
  time: '2026-11-24T06:00:00.000Z',
  value,
  key,
});

test('a text message is stored readable in the JSON line and comes back byte for byte', () => {
  const r = rec(Buffer.from('{"id": 1, "s": "ü\\n"'), Buffer.from('k1'));
  const line = toJsonLine(r);
  assert.ok(!line.includes('\n'));
  assert.match(line, /"value_encoding":"utf8"/);
  assert.deepEqual(fromJsonLine(line), r);
});

test('non-UTF-8 bytes are stored base64 and come back exactly', () => {
  const r = rec(Buffer.from([0xff, 0xfe, 0x00, 0x41]));
  const line = toJsonLine(r);
  assert.match(line, /"value_encoding":"base64"/);
  assert.deepEqual(fromJsonLine(line), r);
});

test('a tombstone (null value) survives', () => {
  assert.deepEqual(fromJsonLine(toJsonLine(rec(null))), rec(null));
});

test('bad lines are refused with where and which field', () => {
  assert.throws(() => fromJsonLine('{x', 'f.jsonl:7'), /f\.jsonl:7: not JSON/);
  assert.throws(() => fromJsonLine('[1]', 'f.jsonl:7'), /f\.jsonl:7: field sink must be a string/);
  assert.throws(() => fromJsonLine('null', 'f.jsonl:7'), /f\.jsonl:7: not a JSON object/);
  // Every start of a line, cut anywhere, reads as cut short; a line with an error inside does not.
  const line = toJsonLine(rec(Buffer.from('{"a":"\\"x"}'), Buffer.from([0xff])));
  for (let n = 1; n < line.length; n++) assert.throws(() => fromJsonLine(line.slice(0, n)), /: cut short/);
  assert.throws(() => fromJsonLine(line.replace(',"topic"', ',,"topic"')), /: not JSON/);
  assert.throws(() => fromJsonLine('{"sink":"s"}', 'f:1'), /field topic must be a string/);
  const bad = JSON.parse(toJsonLine(rec(Buffer.from('x'))));
  bad.value_encoding = 'hex';
  assert.throws(() => fromJsonLine(JSON.stringify(bad)), /value_encoding must be utf8 or base64/);
});

test('an offset or partition that cannot be a Kafka position is refused where the record is read, naming it', () => {
  // Read as they were, such a record passed a dry run ("would load") and then crashed the replay
  // with a stack trace from the load's label (or BigInt), after loading the records before it.
  const line = (o: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(toJsonLine(rec(Buffer.from('x')))), ...o });
  for (const offset of ['x5', '', '-1', '01', '1.5', ' 7', '9223372036854775808']) {
    assert.throws(() => fromJsonLine(line({ offset }), 'f:3'), /f:3: field offset must be a Kafka offset/, offset);
  }
  assert.equal(fromJsonLine(line({ offset: '9223372036854775807' })).offset, '9223372036854775807');
  assert.throws(() => fromJsonLine(line({ partition: -1 }), 'f:4'), /f:4: field partition must be an integer >= 0/);
  const m = toKafkaMessage(rec(Buffer.from('x')));
  assert.throws(
    () => fromKafkaMessage({ ...m, headers: { ...m.headers, 'dlq.offset': '5x' } }, 'dlq[0]@9'),
    /dlq\[0\]@9: header dlq\.offset must be a Kafka offset/,
  );
  assert.throws(
    () => fromKafkaMessage({ ...m, headers: { ...m.headers, 'dlq.partition': '-2' } }, 'dlq[0]@9'),
    /dlq\[0\]@9: header dlq\.partition must be an integer >= 0/,
  );
});

test('Kafka form: original bytes as value, metadata in headers, and back', () => {
  const r = rec(Buffer.from([1, 2, 3]), Buffer.from('key'));
  const m = toKafkaMessage(r);
  assert.deepEqual(m.value, Buffer.from([1, 2, 3]));
  assert.equal(m.headers['dlq.offset'], '9007199254740993');
  assert.equal(m.headers['dlq.reason'], 'invalid JSON at byte 4');
  // kafkajs delivers header values as Buffers.
  const headers = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, Buffer.from(v)]));
  assert.deepEqual(fromKafkaMessage({ key: m.key, value: m.value, headers }), r);
  assert.throws(
    () => fromKafkaMessage({ key: null, value: null, headers: {} }, 'dlq[0]@5'),
    /dlq\[0\]@5: header dlq.partition missing/,
  );
});
