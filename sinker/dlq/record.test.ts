import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type DlqKafkaMessage,
  type DlqRecord,
  fromJsonLine,
  fromKafkaMessage,
  toJsonLine,
  toKafkaMessage,
} from './record.ts';

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
  const headers = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, Buffer.from(v as string)]));
  assert.deepEqual(fromKafkaMessage({ key: m.key, value: m.value, headers }), r);
  assert.throws(
    () => fromKafkaMessage({ key: null, value: null, headers: {} }, 'dlq[0]@5'),
    /dlq\[0\]@5: header dlq.partition missing/,
  );
});

const withOriginal = (): DlqRecord => ({
  ...rec(Buffer.from('{"id":'), Buffer.from([0x00, 0xff])),
  timestamp: '1764050000123',
  headers: [
    { name: 'trace-id', value: Buffer.from('abc') },
    { name: 'bin', value: Buffer.from([0xff, 0x00]) },
    { name: 'trace-id', value: Buffer.from('def') },
    { name: 'dlq.reason', value: Buffer.from('an upstream DLQ reason') },
  ],
});

test("JSON line: the original's timestamp and headers (in order, repeated names, binary values) come back", () => {
  const r = withOriginal();
  r.headers!.push({ name: 'empty', value: null });
  const line = toJsonLine(r);
  const o = JSON.parse(line);
  assert.equal(o.timestamp, '1764050000123');
  assert.deepEqual(o.headers[0], { name: 'trace-id', value: 'abc', value_encoding: 'utf8' });
  assert.deepEqual(o.headers[1], { name: 'bin', value: '/wA=', value_encoding: 'base64' });
  assert.deepEqual(o.headers[4], { name: 'empty', value: null, value_encoding: null });
  assert.deepEqual(fromJsonLine(line), r);
  // None: no field at all (lines stay short for the common message without headers).
  assert.deepEqual(Object.keys(JSON.parse(toJsonLine(rec(Buffer.from('x'))))).includes('headers'), false);
});

test("Kafka form: the original's headers under their own names, its timestamp in dlq.timestamp, and back", () => {
  const r = withOriginal();
  const m = toKafkaMessage(r);
  assert.equal(m.headers['dlq.timestamp'], '1764050000123');
  assert.deepEqual(m.headers['trace-id'], [Buffer.from('abc'), Buffer.from('def')]);
  assert.deepEqual(m.headers.bin, Buffer.from([0xff, 0x00]));
  // A name the original shares with the sinker's own: the sinker's first, the original's after.
  assert.deepEqual(m.headers['dlq.reason'], ['invalid JSON at byte 4', Buffer.from('an upstream DLQ reason')]);
  // As kafkajs delivers them: Buffers, a repeated name as an array.
  const asRead = (h: DlqKafkaMessage['headers']) =>
    Object.fromEntries(
      Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => Buffer.from(x)) : Buffer.from(v)]),
    );
  const back = fromKafkaMessage({ key: m.key, value: m.value, headers: asRead(m.headers) });
  assert.equal(back.reason, 'invalid JSON at byte 4');
  assert.equal(back.timestamp, '1764050000123');
  // Grouped by name in the order the names first come, as kafkajs groups them (dlq.* come first).
  assert.deepEqual(back.headers, [
    { name: 'dlq.reason', value: Buffer.from('an upstream DLQ reason') },
    { name: 'trace-id', value: Buffer.from('abc') },
    { name: 'trace-id', value: Buffer.from('def') },
    { name: 'bin', value: Buffer.from([0xff, 0x00]) },
  ]);
  // kafkajs cannot send a null header value: it goes as an empty one.
  const nul = toKafkaMessage({ ...rec(null), headers: [{ name: 'n', value: null }] });
  assert.deepEqual(nul.headers.n, Buffer.alloc(0));
});

test('records written before the timestamp and headers existed still read back, without them', () => {
  // A line exactly as the sinker wrote it before (and a DLQ message with only the six dlq.* headers).
  const old =
    '{"sink":"s","topic":"events","partition":3,"offset":"17","reason":"invalid JSON","time":"2026-11-20T06:00:00.000Z","value":"{x","value_encoding":"utf8","key":"k","key_encoding":"utf8"}';
  const r = fromJsonLine(old);
  assert.deepEqual(r, {
    ...rec(Buffer.from('{x'), Buffer.from('k')),
    offset: '17',
    reason: 'invalid JSON',
    time: '2026-11-20T06:00:00.000Z',
  });
  assert.equal('timestamp' in r || 'headers' in r, false);
  const headers = {
    'dlq.sink': Buffer.from('s'),
    'dlq.topic': Buffer.from('events'),
    'dlq.partition': Buffer.from('3'),
    'dlq.offset': Buffer.from('17'),
    'dlq.reason': Buffer.from('invalid JSON'),
    'dlq.time': Buffer.from('2026-11-20T06:00:00.000Z'),
  };
  const k = fromKafkaMessage({ key: null, value: Buffer.from('{x'), headers });
  assert.equal(k.offset, '17');
  assert.equal('timestamp' in k || 'headers' in k, false);
});

test('a bad timestamp or header in a DLQ record is refused naming it', () => {
  const line = (o: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(toJsonLine(rec(Buffer.from('x')))), ...o });
  assert.throws(() => fromJsonLine(line({ timestamp: 17 }), 'f:2'), /f:2: field timestamp must be a Kafka timestamp/);
  assert.throws(
    () => fromJsonLine(line({ timestamp: 'soon' }), 'f:2'),
    /f:2: field timestamp must be a Kafka timestamp/,
  );
  // Whatever timestamp a message came with reads back (-1: none; before 1970 from a producer that set it).
  for (const timestamp of ['-1', '-86400000', '0']) {
    assert.equal(fromJsonLine(toJsonLine({ ...rec(null), timestamp })).timestamp, timestamp);
  }
  assert.throws(() => fromJsonLine(line({ headers: {} }), 'f:2'), /f:2: field headers must be an array/);
  assert.throws(
    () => fromJsonLine(line({ headers: [{ value: 'x' }] }), 'f:2'),
    /f:2: headers\[0\]\.name must be a string/,
  );
  assert.throws(
    () => fromJsonLine(line({ headers: [{ name: 'a', value: 'x', value_encoding: 'hex' }] }), 'f:2'),
    /f:2: headers\[0\]\.value_encoding must be utf8 or base64/,
  );
  const m = toKafkaMessage(rec(Buffer.from('x')));
  assert.throws(
    () => fromKafkaMessage({ ...m, headers: { ...m.headers, 'dlq.timestamp': 'x' } }, 'dlq[0]@9'),
    /dlq\[0\]@9: header dlq\.timestamp must be a Kafka timestamp/,
  );
});
