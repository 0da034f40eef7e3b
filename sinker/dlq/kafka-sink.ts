// The topic DLQ: each record's original bytes as the message value, the metadata in headers.
// Sent with acks=all and awaited, so a record is durable before the writer goes on.
//
// A write that succeeds writes each record once, which kafkajs's idempotent producer alone does not
// give. When one partition of a produce request fails (a partition of a just-created topic not led
// yet: NOT_LEADER, UNKNOWN_TOPIC_OR_PARTITION), kafkajs treats the whole request as failed: it rolls
// back the sequence numbers of every partition in it, the ones the broker did append included, and
// retries after grouping the messages into partitions again. Its default partitioner sends a message
// without a key round-robin, from a counter that moved on, so the retry put such a message in the
// other partition: written twice; and the next message sent to the partition it first went to reused
// its sequence number, which the broker took for a duplicate and dropped (acknowledged, never
// written). That is the symptom of a CI run that read DLQ record 11 twice and never record 12;
// test/integration/dlq/kafka-retry.test.ts reproduces it every time by failing one partition of a
// request. Hence `dlqPartitioner`: a message's partition is a function of the message, so a retry
// resends the same batches with the same sequence numbers and the broker's deduplication does its
// job. And after a failed write the producer is replaced: its sequence numbers may no longer match
// what the broker holds.
import type { ICustomPartitioner, IHeaders, Kafka, Producer } from 'kafkajs';
import { CompressionTypes, Partitioners } from 'kafkajs';
import { DLQ_HEADER, type DlqKafkaMessage, type DlqRecord, toKafkaMessage } from './record.ts';

/**
 * Bytes of records per send. The broker refuses a partition's record batch over the topic's
 * max.message.bytes (1 MiB by default) with MESSAGE_TOO_LARGE, and kafkajs puts everything a send
 * gives one partition into one batch: the rows Doris refuses from one load (up to
 * batch.max_batch_size, 10 MiB by default) go in several sends. A topic set lower still is met by
 * halving a send it refuses.
 */
export const SEND_BYTES = 512 * 1024;

/** A record's size in a record batch, near enough: its bytes and a record's framing. */
function messageBytes(m: DlqKafkaMessage): number {
  let n = 32 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [name, v] of Object.entries(m.headers)) {
    for (const x of Array.isArray(v) ? v : [v]) n += 8 + Buffer.byteLength(name) + Buffer.byteLength(x);
  }
  return n;
}

/** Consecutive runs of messages of at most `max` bytes each (a larger message on its own). */
function cutBySize<T>(items: readonly T[], size: (item: T) => number, max: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (cur.length > 0 && bytes + n > max) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(item);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function tooLarge(err: unknown): boolean {
  const type = ((err as { cause?: { type?: unknown } }).cause ?? (err as { type?: unknown }))?.type;
  return type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE';
}

function headerText(headers: IHeaders | undefined, name: string): string {
  let v = headers?.[name];
  if (Array.isArray(v)) v = v[0];
  return v === undefined ? '' : v.toString();
}

/** FNV-1a, 32 bits, of a string's UTF-16 code units: cheap, and the same in every process. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A DLQ message's partition, the same every time it is asked: by key as kafkajs's default (Java's
 * murmur2, so keyed records sit where the Java client would put them), without a key by where the
 * original message was read (its dlq.topic, dlq.partition and dlq.offset headers). Never a counter.
 */
export const dlqPartitioner: ICustomPartitioner = () => {
  const byKey = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== undefined && message.partition !== null) return message.partition;
    if (message.key !== undefined && message.key !== null) return byKey(args);
    const ids = partitionMetadata.map((p) => p.partitionId).sort((a, b) => a - b);
    const h = fnv1a(
      [DLQ_HEADER.topic, DLQ_HEADER.partition, DLQ_HEADER.offset]
        .map((n) => headerText(message.headers, n))
        .join('\u0000'),
    );
    return ids[h % ids.length] ?? 0;
  };
};

/** One producer and the writes under way on it. */
interface Generation {
  producer: Producer;
  connected: Promise<void> | undefined;
  inFlight: number;
  /** Replaced after a failed write: disconnected once its last write is over. */
  retired: boolean;
}

export class KafkaDlqSink {
  readonly topic: string;
  readonly #kafka: Kafka;
  #current: Generation;
  /** Records this topic holds (acknowledged by the brokers). */
  readonly #written = new WeakSet<DlqRecord>();

  constructor(kafka: Kafka, topic: string) {
    this.topic = topic;
    this.#kafka = kafka;
    this.#current = this.#newGeneration();
  }

  #newGeneration(): Generation {
    const producer = this.#kafka.producer({
      allowAutoTopicCreation: true,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: dlqPartitioner,
    });
    return { producer, connected: undefined, inFlight: 0, retired: false };
  }

  async #connect(g: Generation): Promise<void> {
    g.connected ??= g.producer.connect().catch((e) => {
      g.connected = undefined;
      throw e;
    });
    await g.connected;
  }

  /**
   * Writes the records in sends of at most SEND_BYTES, one after another. A send the broker refuses
   * as too large is halved and each half sent (the part of it a partition took may be written
   * twice: at least once); a single record too large for the topic is sent again gzipped, and if
   * that is refused too, fails the write, naming it.
   */
  async write(records: readonly DlqRecord[]): Promise<void> {
    // A failed write is retried with the same records until every sink has them: the sends that
    // landed are not sent again (with the file DLQ failing, or after a later send failed).
    const sized = records
      .filter((r) => !this.#written.has(r))
      .map((r) => {
        const message = toKafkaMessage(r);
        return { r, message, bytes: messageBytes(message) };
      });
    for (const part of cutBySize(sized, (m) => m.bytes, SEND_BYTES)) await this.#sendHalving(part);
  }

  async #sendHalving(part: { r: DlqRecord; message: DlqKafkaMessage; bytes: number }[]): Promise<void> {
    try {
      await this.#send(part.map((m) => m.message));
      for (const { r } of part) this.#written.add(r);
    } catch (e) {
      if (!tooLarge(e)) throw e;
      if (part.length === 1) {
        const { r, bytes } = part[0]!;
        // The source topic's limit bounds its batches as stored, compressed when its producer
        // compressed them: a message larger than the limit got in, and JSON compresses well.
        try {
          await this.#send([part[0]!.message], CompressionTypes.GZIP);
          this.#written.add(r);
          return;
        } catch (again) {
          if (!tooLarge(again)) throw again;
        }
        throw new Error(
          `${(e as Error).message}: the dead letter of ${r.topic}/${r.partition}@${r.offset} is about ${bytes} bytes, more than the topic takes, gzipped too: raise its max.message.bytes (kafka-configs.sh --alter --entity-type topics --entity-name ${this.topic} --add-config max.message.bytes=N)`,
          { cause: (e as Error).cause ?? e },
        );
      }
      const half = Math.ceil(part.length / 2);
      await this.#sendHalving(part.slice(0, half));
      await this.#sendHalving(part.slice(half));
    }
  }

  async #send(messages: DlqKafkaMessage[], compression = CompressionTypes.None): Promise<void> {
    const g = this.#current;
    g.inFlight++;
    try {
      await this.#connect(g);
      await g.producer.send({ topic: this.topic, acks: -1, messages, compression });
    } catch (e) {
      // Part of the records may be written while kafkajs rolled the sequence numbers back: with the
      // same producer, the next record sent to such a partition would be taken for a duplicate and
      // dropped. A new producer (a new producer id) starts clean: a retry of this write may write
      // part of it twice (at least once), but nothing is lost. Writes already under way on the old
      // one finish first.
      if (g.connected !== undefined && !g.retired) {
        g.retired = true;
        if (this.#current === g) this.#current = this.#newGeneration();
      }
      throw new Error(`DLQ topic ${this.topic}: ${(e as Error).message}`, { cause: e });
    } finally {
      g.inFlight--;
      if (g.retired && g.inFlight === 0) await g.producer.disconnect().catch(() => {});
    }
  }

  async close(): Promise<void> {
    if (this.#current.connected) await this.#current.producer.disconnect();
  }
}
