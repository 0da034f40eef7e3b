import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { kafkaClientConfig } from './consumer.ts';
import { CorruptRecordBatchError, decodeRecordBatch, recordBatchesChecked } from './kafka-record-batch.ts';

const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch(o: object): Promise<Encoded>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: object) => Encoded;
const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown };
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => { buffer: Buffer; offset: number };
const { KafkaJSPartialMessageError } = require('kafkajs/src/errors.js') as { KafkaJSPartialMessageError: typeof Error };
const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: Record<string, number> };

const BATCH_DECODER = require.resolve('kafkajs/src/protocol/recordBatch/v0/decoder.js');
type DecodeBatch = (d: { buffer: Buffer; offset: number }) => Promise<{ records: { value: Buffer | null }[] }>;

/** kafkajs's own decoder: a fresh copy of its module, the cached one being ours. */
const kafkajsDecoder: DecodeBatch = (() => {
  const saved = require.cache[BATCH_DECODER]!;
  delete require.cache[BATCH_DECODER];
  try {
    return require(BATCH_DECODER) as DecodeBatch;
  } finally {
    require.cache[BATCH_DECODER] = saved;
  }
})();

/** What kafkajs's fetch decoding calls for each batch: the cached module (ours once consumer.ts is loaded). */
const decodeBatch = (buffer: Buffer) => (require(BATCH_DECODER) as DecodeBatch)(new Decoder(buffer));

interface RecordSpec {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[]>;
  timestampDelta?: number | unknown;
}

async function batch(
  firstOffset: string,
  specs: RecordSpec[],
  o: { compression?: number; firstTimestamp?: unknown; maxTimestamp?: unknown; transactional?: boolean } = {},
): Promise<Buffer> {
  const records = specs.map((r, i) =>
    Record({
      offsetDelta: i,
      timestampDelta: r.timestampDelta ?? i,
      key: r.key ?? null,
      value: r.value,
      headers: r.headers ?? {},
    }),
  );
  const encoded = await RecordBatch({
    firstOffset: Long.fromString(firstOffset),
    records,
    lastOffsetDelta: specs.length - 1,
    ...o,
  });
  return Buffer.from(encoded.buffer);
}

/** The batch with attribute bits set (control batch, log-append time) and its CRC made right again. */
function withAttributes(b: Buffer, bits: number): Buffer {
  const out = Buffer.from(b);
  out.writeInt16BE(out.readInt16BE(21) | bits, 21);
  out.writeUInt32BE(crc32c(out.subarray(21)) >>> 0, 17);
  return out;
}

test('kafkajs fetches decode record batches here: in place before any fetch decoder is loaded', () => {
  assert.ok(typeof kafkaClientConfig === 'function');
  assert.equal(recordBatchesChecked, true);
  assert.notEqual(require(BATCH_DECODER), kafkajsDecoder);
});

test("batches decode into exactly kafkajs's records: offsets, timestamps, keys, values, headers, every codec", async () => {
  const specs: RecordSpec[] = [
    { value: Buffer.from('{"id":1}') },
    { key: Buffer.from('k-2'), value: Buffer.from('{"id":2,"s":"é 😀"}'), headers: { a: 'x' } },
    { key: Buffer.alloc(0), value: null, headers: { dup: ['1', '2', '3'], other: Buffer.from([0, 255]) } },
    { value: Buffer.alloc(0), timestampDelta: Long.fromString('1099511627776') },
    { value: Buffer.alloc(3000, 0x61), timestampDelta: Long.fromString('-5') },
    // 9 bytes as a varlong, past what a double holds exactly
    { value: Buffer.from('y'), timestampDelta: Long.fromString('36028797018963969') },
    {
      value: Buffer.from('x'),
      timestampDelta: Long.fromString('4611686018427387904'),
      headers: { __proto__: 'p' } as never,
    },
  ];
  const bases = ['0', '17', '9007199254740990', '9007199254741000', '9223372036854775800'];
  const times = [
    undefined,
    Long.fromString('-1'),
    Long.fromString('1764000000000'),
    Long.fromString('9223372036854775000'),
  ];
  let n = 0;
  for (const compression of [Types.None!, Types.GZIP!, Types.Snappy!, Types.LZ4!, Types.ZSTD!]) {
    for (const base of bases) {
      for (const firstTimestamp of times) {
        const plain = await batch(base, specs, {
          compression,
          ...(firstTimestamp ? { firstTimestamp, maxTimestamp: firstTimestamp } : {}),
          transactional: n % 2 === 1,
        });
        for (const b of [plain, withAttributes(plain, 0x20), withAttributes(plain, 0x08)]) {
          // two batches back to back, as a fetch holds them
          const both = Buffer.concat([b, b]);
          const ours = new Decoder(both);
          const theirs = new Decoder(both);
          for (let k = 0; k < 2; k++) {
            const got = await (require(BATCH_DECODER) as DecodeBatch)(ours);
            const want = await kafkajsDecoder(theirs);
            assert.deepStrictEqual(got, want, `codec ${compression}, first offset ${base}, batch ${n}`);
            assert.equal(ours.offset, theirs.offset);
          }
          n++;
        }
      }
    }
  }
  assert.equal(n, 5 * bases.length * times.length * 3);
});

test('values of uncompressed batches are views of the fetched bytes, not copies', async () => {
  const b = await batch('5', [{ value: Buffer.from('{"a":1}') }, { value: Buffer.from('{"a":2}') }]);
  const decoded = await decodeBatch(b);
  for (const r of decoded.records) assert.equal(r.value!.buffer, b.buffer);
});

test('an intact record batch decodes; one with a changed byte is refused, naming its offset', async () => {
  const values = ['{"id":1,"name":"a"}', '{"id":2,"name":"b"}', '{"id":3,"name":"c"}'];
  const good = await batch(
    '9007199254740993',
    values.map((v) => ({ value: Buffer.from(v) })),
  );
  const decoded = await decodeBatch(good);
  assert.deepEqual(
    decoded.records.map((r) => r.value!.toString()),
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
  const unchecked = await kafkajsDecoder(new Decoder(bad));
  assert.notEqual(unchecked.records[1]!.value!.toString(), values[1], 'kafkajs alone hands the changed value on');
  // The stored CRC itself damaged: refused too.
  const badCrc = Buffer.from(good);
  badCrc[17]! ^= 0x80;
  await assert.rejects(decodeBatch(badCrc), CorruptRecordBatchError);
});

test("a batch cut short by the fetch size is kafkajs's partial message, as kafkajs's decoding expects", async () => {
  const good = await batch('42', [{ value: Buffer.from('{"id":1}') }, { value: Buffer.from('{"id":2}') }]);
  for (const cut of [3, good.length - 20, good.length - 1]) {
    await assert.rejects(decodeBatch(good.subarray(0, cut)), (err: Error) => {
      assert.ok(err instanceof KafkaJSPartialMessageError);
      assert.equal(err.name, 'KafkaJSPartialMessageError');
      return true;
    });
  }
  assert.equal(decodeRecordBatch.name, 'decodeRecordBatch');
});
