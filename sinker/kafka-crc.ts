// Record batches are checked against their CRC-32C before kafkajs decodes them, as Kafka's Java
// consumer does by default (check.crcs). kafkajs reads the CRC and ignores it: a batch damaged on the
// broker's disk or in transit then decodes into changed values, silently, whenever the damage
// misses the framing (tried on a real broker: a flipped bit changed 144 of 1,800 values of an lz4
// batch, 73 of a snappy one; only gzip, with a checksum of its own, noticed). A batch that fails the
// check stops the fetch with an error naming its offset, so nothing of it is loaded or committed,
// and the consumer retries (a bad read heals; a bad disk keeps failing loudly).
//
// kafkajs loads its fetch response decoders lazily, on the first fetch, and they take the record
// batch decoder from the module cache then: replacing the cached module's export before that puts
// the check in their path. Imported for its effect by consumer.ts, where every Kafka client's
// config comes from.
import { createRequire } from 'node:module';
import { crc32c } from '@node-rs/crc32';

const require = createRequire(import.meta.url);
const BATCH_DECODER = require.resolve('kafkajs/src/protocol/recordBatch/v0/decoder.js');
const FETCH_MESSAGES = require.resolve('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js');
const CHECKED = Symbol.for('doris-sinker.kafkajs.checkedRecordBatches');

// A record batch from its first byte: firstOffset int64, length int32 (of what follows), then
// partitionLeaderEpoch int32, magic int8, crc uint32, and from attributes on the bytes the CRC covers.
const LENGTH_AT = 8;
const CONTENT_AT = 12;
const CRC_AT = 17;
const COVERED_FROM = 21;

export class CorruptRecordBatchError extends Error {
  override readonly name = 'CorruptRecordBatchError';
  readonly firstOffset: string;
  constructor(firstOffset: string, stored: number, computed: number, bytes: number) {
    super(
      `Kafka record batch from offset ${firstOffset} (${bytes} bytes) is corrupt: its CRC-32C is ` +
        `${hex(stored)}, its bytes give ${hex(computed)}. Damaged on the broker's disk or in transit; ` +
        'nothing of it is loaded, and the fetch is retried',
    );
    this.firstOffset = firstOffset;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** What kafkajs's batch decoder reads from: its buffer and where the batch starts in it. */
interface BatchSource {
  buffer: Buffer;
  offset: number;
}

/**
 * Throws CorruptRecordBatchError when the record batch at `source.offset` is whole in the buffer
 * and fails its CRC. A batch cut short by the fetch size is left to kafkajs, which skips it as
 * partial and fetches it again whole.
 */
export function checkRecordBatch(source: BatchSource): void {
  const b = source.buffer;
  const at = source.offset;
  if (b.length - at < CONTENT_AT) return;
  const length = b.readInt32BE(at + LENGTH_AT);
  if (length < COVERED_FROM - CONTENT_AT || b.length - at - CONTENT_AT < length) return;
  const stored = b.readUInt32BE(at + CRC_AT);
  const computed = crc32c(b.subarray(at + COVERED_FROM, at + CONTENT_AT + length)) >>> 0;
  if (stored !== computed) {
    throw new CorruptRecordBatchError(b.readBigInt64BE(at).toString(), stored, computed, CONTENT_AT + length);
  }
}

type BatchDecoder = ((source: BatchSource) => Promise<unknown>) & { [CHECKED]?: true };

/**
 * Puts checkRecordBatch in front of kafkajs's record batch decoder. Returns false when kafkajs's
 * fetch decoding was loaded before (it holds the unchecked decoder then): a unit test fails on it.
 */
function checkRecordBatches(): boolean {
  require(BATCH_DECODER);
  const cached = require.cache[BATCH_DECODER]!;
  const decode = cached.exports as BatchDecoder;
  if (decode[CHECKED]) return true;
  if (require.cache[FETCH_MESSAGES]) return false;
  // async like the original: a refusal is a rejected promise, as kafkajs's own errors there are
  const checked: BatchDecoder = async (source) => {
    checkRecordBatch(source);
    return decode(source);
  };
  checked[CHECKED] = true;
  cached.exports = checked;
  return true;
}

/** Whether kafkajs's fetches check record batch CRCs (see checkRecordBatches). */
export const recordBatchesChecked = checkRecordBatches();
