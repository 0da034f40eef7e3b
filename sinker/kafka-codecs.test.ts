import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compressSync as snappyRawBlock } from 'snappy';
import { decodeSnappy, encodeSnappy, type KafkaCodec, lz4Codec, snappyCodec, zstdCodec } from './kafka-codecs.ts';
import { decodeLz4Frames } from './kafka-codecs-lz4.ts';

// kafkajs's own record batch encoder and decoder (the ones its producer and consumer run), which
// find the codec by the batch's attributes in the table kafka-codecs.ts fills.
const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<{ records: { offset: string; value: Buffer | null }[] }>;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: { compression: number; records: unknown[]; lastOffsetDelta: number }) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: {
  offsetDelta: number;
  value: Buffer;
}) => unknown;

const { CompressionTypes } = kafkajs;
const FIXTURES = new URL('../test/fixtures/kafka-codecs/', import.meta.url);

const CODECS: [string, KafkaCodec][] = [
  ['snappy', snappyCodec],
  ['lz4', lz4Codec],
  ['zstd', zstdCodec],
];

/** Text that compresses (JSON-ish lines) with random bytes mixed in, of `n` bytes. */
function sample(n: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < n; i++) {
    const line = `{"id":${i},"note":"line ${i} ${'x'.repeat(i % 50)}"}\n`;
    lines.push(line);
    length += line.length;
  }
  const text = Buffer.from(lines.join('')).subarray(0, n);
  const noise = randomBytes(Math.floor(n / 4));
  return Buffer.concat([text.subarray(0, n - noise.length), noise]);
}

for (const [name, codec] of CODECS) {
  test(`${name}: round trip of empty, tiny, and multi-block inputs`, async () => {
    for (const n of [0, 1, 100, 32 * 1024, 32 * 1024 + 1, 200_000, 1_500_000]) {
      const input = sample(n);
      const packed = await codec.compress({ buffer: input });
      const back = await codec.decompress(packed);
      assert.equal(back.length, input.length, `${name} ${n} bytes: length`);
      assert.ok(back.equals(input), `${name} ${n} bytes: content`);
    }
  });

  test(`${name}: corrupt input is an error naming the codec`, async () => {
    const packed = await codec.compress({ buffer: sample(100_000) });
    const cut = packed.subarray(0, Math.floor(packed.length / 2));
    await assert.rejects(() => codec.decompress(cut), new RegExp(`^Error: ${name}:`));
  });
}

test('snappy: a raw snappy block (no xerial framing) decodes too', () => {
  const input = sample(70_000);
  assert.ok(decodeSnappy(snappyRawBlock(input)).equals(input));
});

test('snappy: compresses as snappy-java frames it: magic, versions 1/1, 32 KiB blocks each with its length', () => {
  const input = sample(70_000);
  const out = encodeSnappy(input);
  assert.deepEqual([...out.subarray(0, 8)], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
  assert.equal(out.readInt32BE(8), 1);
  assert.equal(out.readInt32BE(12), 1);
  let at = 16;
  let blocks = 0;
  while (at < out.length) {
    at += 4 + out.readInt32BE(at);
    blocks++;
  }
  assert.equal(at, out.length, 'the block lengths add up to the whole');
  assert.equal(blocks, 3, '70,000 bytes in 32 KiB blocks');
});

test('snappy: a xerial block length past the end names the byte', () => {
  const out = encodeSnappy(sample(40_000));
  out.writeInt32BE(out.readInt32BE(16) + 1_000_000, 16);
  assert.throws(() => decodeSnappy(out), /snappy: xerial block at byte 16 says \d+ bytes, past the end/);
});

test('lz4: reads an LZ4 frame with content and block checksums (other writers set them)', async () => {
  const input = sample(150_000);
  const frame = compressFrameSync(input, { contentChecksum: true, blockChecksums: true });
  assert.ok((await lz4Codec.decompress(frame)).equals(input));
});

test('registered in kafkajs: its record batch encoder and decoder round-trip every codec', async () => {
  const values = Array.from({ length: 500 }, (_, i) => Buffer.from(`{"id":${i + 1},"v":"${'abc'.repeat(i % 40)}"}`));
  for (const type of [
    CompressionTypes.None,
    CompressionTypes.GZIP,
    CompressionTypes.Snappy,
    CompressionTypes.LZ4,
    CompressionTypes.ZSTD,
  ]) {
    const batch = await RecordBatch({
      compression: type,
      lastOffsetDelta: values.length - 1,
      records: values.map((value, offsetDelta) => Record({ offsetDelta, value })),
    });
    assert.equal(batch.buffer.readInt16BE(21) & 7, type, `attributes carry codec ${type}`);
    const { records } = await decodeRecordBatch(new Decoder(batch.buffer));
    assert.deepEqual(
      records.map((r) => r.value?.toString()),
      values.map(String),
      `codec ${type}`,
    );
  }
});

for (const name of ['snappy', 'lz4', 'zstd']) {
  test(`decodes a record batch Kafka's Java producer compressed with ${name} (test/fixtures/kafka-codecs)`, async () => {
    const segment = readFileSync(new URL(`java-${name}.batch`, FIXTURES));
    assert.equal(
      segment.readInt16BE(21) & 7,
      CompressionTypes[name === 'snappy' ? 'Snappy' : name === 'lz4' ? 'LZ4' : 'ZSTD'],
    );
    const { records } = await decodeRecordBatch(new Decoder(segment));
    assert.equal(records.length, 1800);
    records.forEach((r, i) => {
      assert.equal(r.offset, String(i));
      assert.equal(r.value?.toString(), JSON.stringify({ id: i + 1, note: `fixture line ${i + 1}` }));
    });
  });
}

// The same records (JSON lines `{"id":N,"note":"fixture line N"}`) from librdkafka 2.16 (the C client
// under the Go, Python and .NET ones): raw snappy (no xerial framing), LZ4 frames, zstd frames
// without a content size; and an LZ4 frame of linked blocks with block and content checksums.
const fixtureLine = (id: number) => JSON.stringify({ id, note: `fixture line ${id}` });

for (const name of ['snappy', 'lz4', 'zstd']) {
  test(`decodes a record batch librdkafka compressed with ${name} (test/fixtures/kafka-codecs)`, async () => {
    const segment = readFileSync(new URL(`librdkafka-${name}.batch`, FIXTURES));
    assert.equal(segment.readInt32BE(8) + 12, segment.length, 'one batch');
    const { records } = await decodeRecordBatch(new Decoder(segment));
    assert.equal(records.length, 6000);
    records.forEach((r, i) => {
      assert.equal(r.offset, String(i));
      assert.equal(r.value?.toString(), fixtureLine(i + 1));
    });
  });
}

test('lz4: a frame of linked blocks with block and content checksums, as the lz4 tool writes it', async () => {
  const frame = readFileSync(new URL('lz4-cli-linked.lz4', FIXTURES));
  assert.equal(frame[4]! & 0x20, 0, 'blocks are linked');
  assert.equal(frame[4]! & 0x14, 0x14, 'block and content checksums');
  const text = Array.from({ length: 6000 }, (_, i) => `${fixtureLine(i + 1)}\n`).join('');
  assert.equal((await lz4Codec.decompress(frame)).toString(), text);
  // Checked there, not ignored: a flipped byte in a block is an error.
  const flipped = Buffer.from(frame);
  flipped[5000]! ^= 0x55;
  await assert.rejects(() => lz4Codec.decompress(flipped), /^Error: lz4: .*Checksum/);
});

/** A frame whose header checksum byte is whatever lz4-napi's own frame decoder accepts (found by trying). */
function withValidHeaderChecksum(frame: Buffer, hcAt: number): Buffer {
  for (let hc = 0; hc < 256; hc++) {
    frame[hcAt] = hc;
    try {
      decompressFrameSync(frame);
      return frame;
    } catch {
      // not this one
    }
  }
  throw new Error('no header checksum byte accepted');
}

test('lz4: incompressible input travels in uncompressed blocks, which read back as they are', () => {
  const input = randomBytes(200_000);
  const frame = compressFrameSync(input);
  assert.ok(frame.readUInt32LE(7) & 0x80000000, 'the first block is stored uncompressed');
  assert.ok(decodeLz4Frames(frame).equals(input));
});

test('lz4: a content size in the header is skipped; concatenated frames read as one', () => {
  const input = sample(100_000);
  const plain = compressFrameSync(input);
  const sized = Buffer.concat([plain.subarray(0, 6), Buffer.alloc(8), plain.subarray(6)]);
  sized[4]! |= 0x08;
  sized.writeBigUInt64LE(BigInt(input.length), 6);
  withValidHeaderChecksum(sized, 14);
  assert.ok(decodeLz4Frames(sized).equals(input));
  assert.ok(decodeLz4Frames(Buffer.concat([plain, sized])).equals(Buffer.concat([input, input])));
});

test('lz4: a frame flagged as linked blocks goes to the frame decoder whole', () => {
  const input = sample(200_000);
  const linked = Buffer.from(compressFrameSync(input));
  linked[4]! &= ~0x20;
  withValidHeaderChecksum(linked, 6);
  assert.ok(decodeLz4Frames(linked).equals(input));
});

test('lz4: a block running past the end names its byte', () => {
  const frame = Buffer.from(compressFrameSync(sample(100_000)));
  frame.writeUInt32LE(frame.length, 7);
  assert.throws(() => decodeLz4Frames(frame), new RegExp(`block at byte 7 says ${frame.length} bytes, past the end`));
});
