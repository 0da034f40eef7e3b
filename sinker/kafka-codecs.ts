// Codecs for Kafka record batches compressed with snappy, lz4 and zstd, registered in kafkajs, which
// decodes only uncompressed and gzip batches by itself and throws KafkaJSNotImplemented on the rest.
// Imported for its effect by consumer.ts, where every Kafka client's config comes from, so the
// sinker, `check` and `replay` read topics whatever codec their producers or the broker chose.
import { promisify } from 'node:util';
import { constants, zstdCompress, zstdDecompressSync } from 'node:zlib';
import kafkajs from 'kafkajs';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompressBlock, uncompressSync as snappyUncompressBlock } from 'snappy';
import { decodeLz4Frames } from './kafka-codecs-lz4.ts';

/** The shape kafkajs calls: compress gets its records encoder, decompress a batch's records bytes. */
export interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

// snappy-java's stream framing (SnappyOutputStream), which Kafka's Java clients write: an 8-byte
// magic, a version and a compatible version (int32 BE each), then blocks of [int32 BE length][raw
// snappy block]. Other clients (librdkafka, old ones) may send one raw snappy block instead.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
/** snappy-java's default block size. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

function snappyBlock(block: Buffer, where: string): Buffer {
  try {
    // copyOutputData: a plain Buffer costs half the CPU of the external one it makes otherwise.
    return snappyUncompressBlock(block, { asBuffer: true, copyOutputData: true }) as Buffer;
  } catch (err) {
    throw new Error(`snappy: cannot decompress ${where}: ${(err as Error).message}`);
  }
}

/** Decompresses Kafka's snappy: snappy-java (xerial) framed blocks, or one raw snappy block. */
export function decodeSnappy(buffer: Buffer): Buffer {
  if (buffer.length < XERIAL_HEADER_BYTES || !buffer.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) {
    return snappyBlock(buffer, `raw block of ${buffer.length} bytes`);
  }
  const blocks: Buffer[] = [];
  let at = XERIAL_HEADER_BYTES;
  while (at < buffer.length) {
    if (at + 4 > buffer.length) {
      throw new Error(`snappy: xerial block length at byte ${at} cut short (${buffer.length} bytes in all)`);
    }
    const length = buffer.readInt32BE(at);
    if (length < 0 || at + 4 + length > buffer.length) {
      throw new Error(`snappy: xerial block at byte ${at} says ${length} bytes, past the end (${buffer.length})`);
    }
    blocks.push(snappyBlock(buffer.subarray(at + 4, at + 4 + length), `xerial block at byte ${at}`));
    at += 4 + length;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
}

/** Compresses as Kafka's Java producer does (xerial framing), which every Kafka client reads. */
export function encodeSnappy(data: Buffer): Buffer {
  const parts: Buffer[] = [XERIAL_MAGIC, int32(XERIAL_VERSION), int32(XERIAL_VERSION)];
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_BYTES) {
    const block = snappyCompressBlock(data.subarray(at, at + XERIAL_BLOCK_BYTES));
    parts.push(int32(block.length), block);
  }
  return Buffer.concat(parts);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

// Every codec decodes in line: a batch of a few hundred KB takes a few hundred microseconds, and
// zlib's thread-pool variant hands each 16 KiB of output back and forth (twice zstd's CPU).
export const snappyCodec: KafkaCodec = {
  compress: async (encoder) => encodeSnappy(encoder.buffer),
  decompress: async (buffer) => decodeSnappy(buffer),
};

/** LZ4 frame format, as Kafka ≥ 0.10 writes it (kafka-codecs-lz4.ts reads it). */
export const lz4Codec: KafkaCodec = {
  compress: async (encoder) => compressFrameSync(encoder.buffer),
  decompress: async (buffer) => {
    try {
      return decodeLz4Frames(buffer);
    } catch (err) {
      throw new Error(`lz4: cannot decompress a frame of ${buffer.length} bytes: ${(err as Error).message}`);
    }
  },
};

const zstdCompressAsync = promisify(zstdCompress);
/** Output chunk: fewer rounds than the 16 KiB default (-7% CPU on 300 KB batches), no large spare buffer. */
const ZSTD_CHUNK_BYTES = 64 * 1024;

/** zstd from Node's own zlib; level 3 is Kafka's default (compression.zstd.level). */
export const zstdCodec: KafkaCodec = {
  compress: (encoder) => zstdCompressAsync(encoder.buffer, { params: { [constants.ZSTD_c_compressionLevel]: 3 } }),
  decompress: async (buffer) => {
    try {
      return zstdDecompressSync(buffer, { chunkSize: ZSTD_CHUNK_BYTES });
    } catch (err) {
      throw new Error(`zstd: cannot decompress ${buffer.length} bytes: ${(err as Error).message}`);
    }
  },
};

/** Puts the codecs in kafkajs's table (one table per process; idempotent). */
export function registerKafkaCodecs(): void {
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  CompressionCodecs[CompressionTypes.Snappy] = () => snappyCodec;
  CompressionCodecs[CompressionTypes.LZ4] = () => lz4Codec;
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstdCodec;
}

registerKafkaCodecs();
