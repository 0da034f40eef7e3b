// The topic DLQ: each record's original bytes as the message value, the metadata in headers.
// Sent with acks=all and awaited, so a record is durable before the writer goes on.
import type { Kafka, Producer } from 'kafkajs';
import { type DlqRecord, toKafkaMessage } from './record.ts';

export class KafkaDlqSink {
  readonly topic: string;
  readonly #producer: Producer;
  #connected: Promise<void> | undefined;

  constructor(kafka: Kafka, topic: string) {
    this.topic = topic;
    this.#producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1 });
  }

  async #connect(): Promise<void> {
    this.#connected ??= this.#producer.connect().catch((e) => {
      this.#connected = undefined;
      throw e;
    });
    await this.#connected;
  }

  async write(records: readonly DlqRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#connect();
    try {
      await this.#producer.send({ topic: this.topic, acks: -1, messages: records.map(toKafkaMessage) });
    } catch (e) {
      throw new Error(`DLQ topic ${this.topic}: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#producer.disconnect();
  }
}
