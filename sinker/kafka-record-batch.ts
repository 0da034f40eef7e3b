// kafkajs's record batch decoder, replaced: each batch is checked against its CRC-32C, then decoded
// into exactly the objects kafkajs's own decoder makes, only faster.
//
// The check: kafkajs reads the CRC and ignores it, while Kafka's Java consumer checks it by default
// (check.crcs). A batch damaged on the broker's disk or in transit then decodes into changed values,
// silently, whenever the damage misses the framing (tried on a real broker: a flipped bit changed 144
// of 1,800 values of an lz4 batch, 73 of a snappy one; only gzip, with a checksum of its own,
// noticed). A batch that fails the check rejects the fetch with an error naming its offset, so
// nothing of it is loaded or committed, and the consumer retries (a bad read heals; a bad disk keeps
// failing loudly).
//
// The speed: kafkajs adds each record's offset and timestamp deltas with a 64-bit Long object and
// formats the sum, reads varlongs as Longs, makes a Decoder per record, and throws a new error (stack
// captured) for the batch a fetch cuts short. That was about a tenth of the sinker's main thread.
// Here offsets and timestamps are added as numbers while they stay exact (bigints past 2^53), the
// record is read in place, and the cut batch is reported with one error object made once.
//
// kafkajs loads its fetch response decoders lazily, on the first fetch, and they take the record
// batch decoder from the module cache then: replacing the cached module's export before that puts
// this one in their path. Imported for its effect by consumer.ts, where every Kafka client's config
// comes from.
import { createRequire } from 'node:module';
import { crc32c } from '@node-rs/crc32';

const require = createRequire(import.meta.url);
const BATCH_DECODER = require.resolve('kafkajs/src/protocol/recordBatch/v0/decoder.js');
const FETCH_MESSAGES = require.resolve('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js');
const REPLACED = Symbol.for('doris-sinker.kafkajs.recordBatchDecoder');

interface Codec {
  decompress(buffer: Buffer): Promise<Buffer>;
}
const { lookupCodecByAttributes } = require('kafkajs/src/protocol/message/compression/index.js') as {
  lookupCodecByAttributes(attributes: number): Codec | null;
};
const TimestampTypes = require('kafkajs/src/protocol/timestampTypes.js') as {
  CREATE_TIME: number;
  LOG_APPEND_TIME: number;
};
const { KafkaJSPartialMessageError } = require('kafkajs/src/errors.js') as {
  KafkaJSPartialMessageError: new (message: string) => Error;
};

// A record batch from its first byte: firstOffset int64, length int32 (of what follows), then
// partitionLeaderEpoch int32, magic int8, crc uint32, and from attributes on the bytes the CRC covers.
const LENGTH_AT = 8;
const CONTENT_AT = 12;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const FIRST_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const PRODUCER_EPOCH_AT = 51;
const FIRST_SEQUENCE_AT = 53;
const RECORDS_AT = 57;

const TIMESTAMP_TYPE_FLAG = 0x8;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

/**
 * What kafkajs's fetch decoding does with a batch the fetch size cut short: it stops reading the
 * partition's batches (it checks the error's name only). One object, made once: a fetch cuts a batch
 * short on nearly every partition, and a new error per time captured a stack each time.
 */
const PARTIAL = new KafkaJSPartialMessageError('record batch cut short by the fetch size');

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

/** What kafkajs hands the batch decoder: the fetch's bytes and where the batch starts in them. */
interface BatchSource {
  buffer: Buffer;
  offset: number;
}

type Headers = Record<string, Buffer | null | (Buffer | null)[]>;

/** The batch fields kafkajs gives each record (batchContext) and the batch itself. */
interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  timestampType: number;
}

interface DecodedRecord {
  magicByte: number;
  attributes: number;
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  isControlRecord: boolean;
  batchContext: BatchContext & { magicByte: number };
}

/** Bytes of a batch's content before its records: partitionLeaderEpoch through the records count. */
const MIN_CONTENT = RECORDS_AT + 4 - CONTENT_AT;

/**
 * The content length of the record batch at `at` once it is checked: whole in `b`, long enough for
 * its fields, and its bytes matching its CRC-32C (else CorruptRecordBatchError). -1 when the fetch
 * cut it short (kafkajs then stops reading the partition and fetches it again whole).
 */
function checkedLength(b: Buffer, at: number): number {
  if (b.length - at < CONTENT_AT) return -1;
  const length = b.readInt32BE(at + LENGTH_AT);
  if (b.length - at - CONTENT_AT < length) return -1;
  const firstOffset = () => b.readBigInt64BE(at).toString();
  if (length < MIN_CONTENT) {
    throw new Error(`Kafka record batch from offset ${firstOffset()} is corrupt: its length ${length} is too short`);
  }
  const stored = b.readUInt32BE(at + CRC_AT);
  const computed = crc32c(b.subarray(at + ATTRIBUTES_AT, at + CONTENT_AT + length)) >>> 0;
  if (stored !== computed) throw new CorruptRecordBatchError(firstOffset(), stored, computed, CONTENT_AT + length);
  return length;
}

/** Reads records from one buffer (the batch's, or its decompressed records) in place. */
class RecordReader {
  buf: Buffer;
  at: number;
  constructor(buf: Buffer, at: number) {
    this.buf = buf;
    this.at = at;
  }

  /** A zigzag varint, decoded bit for bit as kafkajs's Decoder.readVarInt does. */
  varInt(): number {
    const b = this.buf;
    let byte: number;
    let result = 0;
    let shift = 0;
    do {
      byte = b[this.at++]!;
      result += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    return (result >>> 1) ^ -(result & 1);
  }

  /** A zigzag varlong: a number while exact (up to 7 bytes), else a bigint. */
  varLong(): number | bigint {
    const b = this.buf;
    const start = this.at;
    let byte: number;
    let n = 0;
    let scale = 1;
    let count = 0;
    do {
      byte = b[this.at++]!;
      n += (byte & 0x7f) * scale;
      scale *= 128;
      count++;
    } while (byte >= 0x80 && count < 10);
    if (byte >= 0x80) throw new Error('Invalid Long, must contain 9 bytes or less');
    if (count <= 7) return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
    // kafkajs's Long is a bigint that never wraps: the same sums, unbounded
    let big = 0n;
    for (let k = count - 1; k >= 0; k--) big = (big << 7n) | BigInt(b[start + k]! & 0x7f);
    return (big >> 1n) ^ -(big & 1n);
  }

  bytes(): Buffer | null {
    const length = this.varInt();
    if (length === -1) return null;
    const out = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  string(): string | null {
    const length = this.varInt();
    if (length === -1) return null;
    const out = this.buf.toString('utf8', this.at, this.at + length);
    this.at += length;
    return out;
  }
}

/** firstOffset + offsetDelta (or a timestamp plus its delta), as kafkajs's Long sum (a bigint) formats it. */
function plus(base: number | bigint, delta: number | bigint): string {
  if (typeof base === 'number' && typeof delta === 'number') {
    const sum = base + delta;
    if (Number.isSafeInteger(sum)) return String(sum);
  }
  return (BigInt(base) + BigInt(delta)).toString();
}

/** An int64 as a number when exact, else as a bigint. */
function int64(b: Buffer, at: number): number | bigint {
  const v = b.readBigInt64BE(at);
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

function decodeRecord(
  r: RecordReader,
  context: BatchContext & { magicByte: number },
  firstOffset: number | bigint,
  firstTimestamp: number | bigint,
  appendTime: string | undefined,
): DecodedRecord {
  const length = r.varInt();
  const end = r.at + length;
  const attributes = r.buf.readInt8(r.at++);
  const timestampDelta = r.varLong();
  const timestamp = appendTime ?? plus(firstTimestamp, timestampDelta);
  const offset = plus(firstOffset, r.varInt());
  const key = r.bytes();
  const value = r.bytes();
  const headers: Headers = {};
  let count = r.varInt();
  if (count === -1) count = 0;
  for (let h = 0; h < count; h++) {
    const name = String(r.string());
    const v = r.bytes();
    const old = headers[name];
    const merged = old === undefined ? v : Array.isArray(old) ? old.concat([v]) : [old, v];
    // an own property, as kafkajs's object spread makes it (assigning __proto__ would set the prototype)
    if (name === '__proto__')
      Object.defineProperty(headers, name, { value: merged, enumerable: true, writable: true, configurable: true });
    else headers[name] = merged;
  }
  // The record's length bounds it, as kafkajs reads each record from a buffer of that length.
  r.at = end;
  return {
    magicByte: context.magicByte,
    attributes,
    timestamp,
    offset,
    key,
    value,
    headers,
    isControlRecord: context.isControlBatch,
    batchContext: context,
  };
}

/**
 * Decodes the record batch at `source.offset` as kafkajs's recordBatch/v0/decoder does (same fields,
 * same record objects, keys and values views of the fetched bytes), after checking its CRC, and moves
 * `source.offset` past it. A batch the fetch cut short rejects with kafkajs's partial-message error.
 */
export async function decodeRecordBatch(source: BatchSource): Promise<BatchContext & { records: DecodedRecord[] }> {
  const b = source.buffer;
  const at = source.offset;
  const length = checkedLength(b, at);
  if (length < 0) throw PARTIAL;
  const end = at + CONTENT_AT + length;
  source.offset = end;
  const attributes = b.readInt16BE(at + ATTRIBUTES_AT);
  const firstOffset = int64(b, at);
  const firstTimestamp = int64(b, at + FIRST_TIMESTAMP_AT);
  const timestampType =
    (attributes & TIMESTAMP_TYPE_FLAG) > 0 ? TimestampTypes.LOG_APPEND_TIME : TimestampTypes.CREATE_TIME;
  const context: BatchContext = {
    firstOffset: String(firstOffset),
    firstTimestamp: String(firstTimestamp),
    partitionLeaderEpoch: b.readInt32BE(at + CONTENT_AT),
    inTransaction: (attributes & TRANSACTIONAL_FLAG) > 0,
    isControlBatch: (attributes & CONTROL_FLAG) > 0,
    lastOffsetDelta: b.readInt32BE(at + LAST_OFFSET_DELTA_AT),
    producerId: b.readBigInt64BE(at + PRODUCER_ID_AT).toString(),
    producerEpoch: b.readInt16BE(at + PRODUCER_EPOCH_AT),
    firstSequence: b.readInt32BE(at + FIRST_SEQUENCE_AT),
    maxTimestamp: b.readBigInt64BE(at + MAX_TIMESTAMP_AT).toString(),
    timestampType,
  };
  const recordContext = { ...context, magicByte: b.readInt8(at + MAGIC_AT) };
  const appendTime =
    timestampType === TimestampTypes.LOG_APPEND_TIME && context.maxTimestamp ? context.maxTimestamp : undefined;
  const count = b.readInt32BE(at + RECORDS_AT);
  const codec = lookupCodecByAttributes(attributes);
  let reader: RecordReader;
  if (!codec) {
    reader = new RecordReader(b.subarray(0, end), at + RECORDS_AT + 4);
  } else {
    if (count <= 0) return { ...context, records: [] };
    reader = new RecordReader(await codec.decompress(b.subarray(at + RECORDS_AT + 4, end)), 0);
  }
  const records: DecodedRecord[] = new Array(count === -1 ? 0 : count);
  for (let i = 0; i < records.length; i++) {
    records[i] = decodeRecord(reader, recordContext, firstOffset, firstTimestamp, appendTime);
  }
  return { ...context, records };
}

type BatchDecoder = ((source: BatchSource) => Promise<unknown>) & { [REPLACED]?: true };

/**
 * Puts decodeRecordBatch in kafkajs's place. Returns false when kafkajs's fetch decoding was loaded
 * before (it holds kafkajs's own decoder then): a unit test fails on it.
 */
function replaceRecordBatchDecoder(): boolean {
  require(BATCH_DECODER);
  const cached = require.cache[BATCH_DECODER]!;
  if ((cached.exports as BatchDecoder)[REPLACED]) return true;
  if (require.cache[FETCH_MESSAGES]) return false;
  const decoder: BatchDecoder = decodeRecordBatch;
  decoder[REPLACED] = true;
  cached.exports = decoder;
  return true;
}

/** Whether kafkajs's fetches decode record batches here, CRC checked (see replaceRecordBatchDecoder). */
export const recordBatchesChecked = replaceRecordBatchDecoder();
