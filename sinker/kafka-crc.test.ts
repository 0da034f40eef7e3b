import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { kafkaClientConfig } from './consumer.ts';
import { CorruptRecordBatchError, recordBatchesChecked } from './kafka-crc.ts';

const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch(o: { firstOffset: unknown; records: unknown[]; lastOffsetDelta: number }): Promise<Encoded>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: object) => Encoded;
const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown };
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => object;
const { KafkaJSPartialMessageError } = require('kafkajs/src/errors.js') as { KafkaJSPartialMessageError: typeof Error };

/** What kafkajs's fetch decoding calls for each batch (the cached module: checked, once consumer.ts is loaded). */
const decodeBatch = (buffer: Buffer) =>
  (
    require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
      d: object,
    ) => Promise<{ records: { value: Buffer }[] }>
  )(new Decoder(buffer));

async function batch(firstOffset: string, values: string[]): Promise<Buffer> {
  const records = values.map((v, i) =>
    Record({ offsetDelta: i, timestampDelta: 0, key: null, value: Buffer.from(v), headers: {} }),
  );
  const encoded = await RecordBatch({
    firstOffset: Long.fromString(firstOffset),
    records,
    lastOffsetDelta: values.length - 1,
  });
  return Buffer.from(encoded.buffer);
}

test('kafkajs fetches check record batch CRCs: the check is in place before any fetch decoder is loaded', () => {
  assert.ok(typeof kafkaClientConfig === 'function');
  assert.equal(recordBatchesChecked, true);
});

test('an intact record batch decodes as before; one with a changed byte is refused, naming its offset', async () => {
  const values = ['{"id":1,"name":"a"}', '{"id":2,"name":"b"}', '{"id":3,"name":"c"}'];
  const good = await batch('9007199254740993', values);
  const decoded = await decodeBatch(good);
  assert.deepEqual(
    decoded.records.map((r) => r.value.toString()),
    values,
  );
  // One bit of one value flipped: still valid framing, so unchecked it decodes into a changed value.
  const bad = Buffer.from(good);
  const at = bad.indexOf('"id":2');
  bad[at + 5]! ^= 0x01;
  await assert.rejects(decodeBatch(bad), (err: Error) => {
    assert.ok(err instanceof CorruptRecordBatchError);
    assert.equal(err.firstOffset, '9007199254740993');
    assert.match(
      err.message,
      /record batch from offset 9007199254740993 \(\d+ bytes\) is corrupt: its CRC-32C is 0x[0-9a-f]{8}/,
    );
    return true;
  });
  // The stored CRC itself damaged: refused too.
  const badCrc = Buffer.from(good);
  badCrc[17]! ^= 0x80;
  await assert.rejects(decodeBatch(badCrc), CorruptRecordBatchError);
});

test('a batch cut short by the fetch size is left to kafkajs, which skips it as partial', async () => {
  const good = await batch('42', ['{"id":1}', '{"id":2}']);
  await assert.rejects(decodeBatch(good.subarray(0, good.length - 3)), KafkaJSPartialMessageError);
});
