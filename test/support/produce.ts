// Produces into Kafka for tests, benchmarks and the demo: the canonical workload (test/support/events.ts)
// or given values, always through an idempotent producer. As a command:
// `node test/support/produce.ts TOPIC COUNT [seed] [clean|dirty]`.
import { CompressionTypes, Kafka, logLevel, type Producer, type ProducerConfig } from 'kafkajs';
import { type EventKind, type GeneratedEvent, generateEvents } from './events.ts';

export interface ProduceOptions {
  brokers: string[];
  topic: string;
  count: number;
  seed: number;
  mix: 'clean' | 'dirty';
  /** Messages go round-robin over this many partitions (default: the topic's count, looked up). */
  partitions?: number;
  firstId?: bigint;
  /** Keep the generated events (for assertions); off for big runs. */
  keep?: boolean;
  onProgress?: (sent: number) => void;
}

export interface ProduceResult {
  kinds: Record<EventKind, number>;
  events: GeneratedEvent[];
}

/**
 * The producer every test and benchmark writes with: idempotent, so each message lands once. kafkajs
 * retries a whole broker request when any one partition of it fails (a fresh topic's partition not
 * led yet, a broker restart), and without idempotence the partitions that had succeeded get their
 * messages again — duplicates in Kafka, at offsets of their own, that an exactly-once check would
 * blame on the sinker.
 */
export function idempotentProducer(kafka: Kafka, opts: ProducerConfig = {}): Producer {
  return kafka.producer({ allowAutoTopicCreation: false, ...opts, idempotent: true, maxInFlightRequests: 1 });
}

/** Sends raw message values round-robin over `partitions` partitions, 1000 a request. */
export async function produceValues(
  kafka: Kafka,
  topic: string,
  values: readonly string[],
  partitions: number,
): Promise<void> {
  const producer = idempotentProducer(kafka);
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 1000) {
      const messages = values.slice(i, i + 1000).map((value, j) => ({ value, partition: (i + j) % partitions }));
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

export async function produceEvents(opts: ProduceOptions): Promise<ProduceResult> {
  const kafka = new Kafka({ brokers: opts.brokers, logLevel: logLevel.ERROR, clientId: 'doris-sinker-producer' });
  let partitions = opts.partitions;
  if (partitions === undefined) {
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [opts.topic] });
    await admin.disconnect();
    partitions = meta.topics[0]?.partitions.length ?? 1;
  }
  const producer = idempotentProducer(kafka);
  await producer.connect();
  const kinds = { clean: 0, missing_required: 0, extra_fields: 0, number_as_string: 0, wrong_type: 0, invalid_json: 0 };
  const events: GeneratedEvent[] = [];
  let pending: { value: string; partition: number }[] = [];
  let sent = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    await producer.send({ topic: opts.topic, messages: pending, acks: -1, compression: CompressionTypes.None });
    sent += pending.length;
    pending = [];
    opts.onProgress?.(sent);
  };
  try {
    let i = 0;
    for (const e of generateEvents({
      seed: opts.seed,
      mix: opts.mix,
      ...(opts.firstId ? { firstId: opts.firstId } : {}),
    })) {
      if (i >= opts.count) break;
      kinds[e.kind]++;
      if (opts.keep) events.push(e);
      pending.push({ value: e.value, partition: i % partitions });
      i++;
      // Kafka refuses a record batch over 1 MB per partition: ~400 canonical events each.
      if (pending.length >= Math.min(2000, 400 * partitions)) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return { kinds, events };
}

if (import.meta.main) {
  const [topic, count, seed, mix] = process.argv.slice(2);
  if (!topic || !count) {
    process.stderr.write('usage: node test/support/produce.ts TOPIC COUNT [seed] [clean|dirty]\n');
    process.exit(2);
  }
  const { testbed } = await import('./testbed.ts');
  const brokers = (process.env.KAFKA_BOOTSTRAP ?? testbed('KAFKA_BOOTSTRAP')).split(',');
  const started = Date.now();
  const r = await produceEvents({
    brokers,
    topic,
    count: Number(count),
    seed: Number(seed ?? 1),
    mix: mix === 'clean' ? 'clean' : 'dirty',
    onProgress: (n) => process.stderr.write(`\rproduced ${n}/${count}`),
  });
  process.stderr.write(`\rproduced ${count} messages in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  process.stdout.write(`${JSON.stringify(r.kinds)}\n`);
}
