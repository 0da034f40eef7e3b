// Produces the canonical dirty mix (test/support/events.ts) round-robin over the topic's partitions,
// optionally at a bounded rate, counting as it goes so the live panel can draw its progress bar.
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { generateEvents } from '../../test/support/events.ts';
import { idempotentProducer } from '../../test/support/produce.ts';

export interface ProduceProgress {
  sent: number;
  /** Valid events sent (each becomes a row) and invalid ones (each goes to the DLQ). */
  valid: number;
  invalid: number;
  done: boolean;
}

export interface DemoProduceOptions {
  brokers: string[];
  topic: string;
  partitions: number;
  count: number;
  /** Events per second; 0 = unbounded. */
  rate: number;
  seed: number;
  progress: ProduceProgress;
}

/** How many events may have been sent `elapsedMs` into a run at `rate`/s (all of them when unbounded). */
export function allowance(rate: number, elapsedMs: number, count: number): number {
  if (rate <= 0) return count;
  return Math.min(count, Math.floor((rate * elapsedMs) / 1000));
}

export async function produceDemo(o: DemoProduceOptions): Promise<void> {
  const kafka = new Kafka({ brokers: o.brokers, logLevel: logLevel.ERROR, clientId: 'doris-sinker-demo' });
  // Idempotent: a retried request must not write events twice (the panel compares rows with events sent).
  const producer = idempotentProducer(kafka);
  await producer.connect();
  // Kafka refuses a record batch over 1 MB per partition: ~400 canonical events each.
  const batchMax = Math.min(2000, 400 * o.partitions);
  const started = Date.now();
  let i = 0;
  let pending: { value: string; partition: number }[] = [];
  let pendingValid = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    await producer.send({ topic: o.topic, messages: pending, acks: -1, compression: CompressionTypes.None });
    o.progress.sent += pending.length;
    o.progress.valid += pendingValid;
    o.progress.invalid += pending.length - pendingValid;
    pending = [];
    pendingValid = 0;
  };
  try {
    for (const e of generateEvents({ seed: o.seed, mix: 'dirty' })) {
      if (i >= o.count) break;
      pending.push({ value: e.value, partition: i % o.partitions });
      if (e.kind !== 'invalid_json') pendingValid++;
      i++;
      const allowed = allowance(o.rate, Date.now() - started, o.count);
      if (pending.length >= batchMax || (o.rate > 0 && i >= allowed)) {
        await flush();
        // Ahead of the rate: wait until it allows the next event.
        while (o.rate > 0 && i >= allowance(o.rate, Date.now() - started, o.count) && i < o.count) {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
    await flush();
  } finally {
    o.progress.done = true;
    await producer.disconnect();
  }
}
