// LZ4 frame format reader for Kafka's lz4 record batches. Kafka's Java producer writes one frame of
// independent blocks (64 KiB, no checksums); those are cut out here and each decoded with the block
// decoder, about three times cheaper than lz4-napi's frame decoder on a 300 KB batch. A frame of
// linked blocks (the LZ4 frame library's default; librdkafka, like Java, writes independent ones)
// needs the previous blocks' output, so it goes to the frame
// decoder whole. Checksums are not verified: the broker checked the batch's CRC when it was written.
import { decompressFrameSync, uncompressSync } from 'lz4-napi';

const FRAME_MAGIC = 0x184d2204;
const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_DICT_ID = 0x01;
const BLOCK_UNCOMPRESSED = 0x80000000;
/** BD bits 6-4: 4 → 64 KiB, 5 → 256 KiB, 6 → 1 MiB, 7 → 4 MiB. */
const BLOCK_MAX_BYTES = new Map([
  [4, 64 * 1024],
  [5, 256 * 1024],
  [6, 1024 * 1024],
  [7, 4 * 1024 * 1024],
]);

/** Decompresses one or more concatenated LZ4 frames. */
export function decodeLz4Frames(buffer: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buffer.length) {
    const frame = readFrame(buffer, at, out);
    if (frame === undefined) return decompressFrameSync(buffer);
    at = frame;
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

/**
 * Decodes the frame at `start` into `out` and returns where it ends, or undefined when this reader
 * leaves the whole input to the frame decoder (linked blocks, a dictionary, not a frame).
 */
function readFrame(buffer: Buffer, start: number, out: Buffer[]): number | undefined {
  if (start + 7 > buffer.length || buffer.readUInt32LE(start) !== FRAME_MAGIC) return undefined;
  const flg = buffer[start + 4]!;
  const maxBlock = BLOCK_MAX_BYTES.get((buffer[start + 5]! >> 4) & 0x07);
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01 || !(flg & FLG_BLOCK_INDEPENDENT) || flg & FLG_DICT_ID) {
    return undefined;
  }
  if (maxBlock === undefined) return undefined;
  let at = start + 6 + (flg & FLG_CONTENT_SIZE ? 8 : 0) + 1; // descriptor, content size, header checksum
  const blockChecksum = flg & FLG_BLOCK_CHECKSUM ? 4 : 0;
  for (;;) {
    if (at + 4 > buffer.length) throw new Error(`block size at byte ${at} cut short (${buffer.length} bytes)`);
    const word = buffer.readUInt32LE(at);
    at += 4;
    if (word === 0) break; // end mark
    const size = word & ~BLOCK_UNCOMPRESSED;
    if (size > maxBlock || at + size + blockChecksum > buffer.length) {
      throw new Error(`block at byte ${at - 4} says ${size} bytes, past the end or the frame's block size`);
    }
    const data = buffer.subarray(at, at + size);
    if (word & BLOCK_UNCOMPRESSED) out.push(data);
    else {
      // The block decoder reads a 4-byte output size first: the frame's block size bounds it.
      const sized = Buffer.allocUnsafe(4 + size);
      sized.writeUInt32LE(maxBlock, 0);
      data.copy(sized, 4);
      out.push(uncompressSync(sized));
    }
    at += size + blockChecksum;
  }
  return at + (flg & FLG_CONTENT_CHECKSUM ? 4 : 0);
}
