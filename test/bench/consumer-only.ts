// Consumer-only loops on the bench topic: how fast a Node Kafka client alone reads the canonical
// messages (no mapping, no loads), to tell whether the client library is the sinker's ceiling.
//   node test/bench/consumer-only.ts [--messages N] [--clients kafkajs,kafkajs-socket,kafkajs-small,platformatic] [--shared-kafka]
// kafkajs        — the sinker's consumer: its settings (max_fetch_bytes 1 MiB per partition, 4 MiB
//                  per fetch) and its broker sockets (responses read whole, sinker/kafka-socket.ts);
// kafkajs-socket — the same settings on kafkajs's own sockets (64 KiB chunks joined per response);
// kafkajs-small  — the sinker's settings before 2026-11-24 (1 MiB per fetch, 512 KiB per partition),
//                  kafkajs's own sockets;
// platformatic   — @platformatic/kafka (devDependency) with the same 1 MiB / 16 MiB limits.
// Each: fresh group, from earliest, counts messages and value bytes; msgs/s from first to last message,
// CPU seconds of this process per million messages.
import { Kafka, logLevel } from 'kafkajs';
import { fetchMaxBytes } from '../../sinker/consumer.ts';
import { framedSocketFactory } from '../../sinker/kafka-socket.ts';
import { testbed } from '../support/testbed.ts';
import { defineCli, oneOfEach } from './support/cli.ts';
import { startPrivateKafka } from './support/private-kafka.ts';

export const CLI = defineCli(import.meta, {
  options: {
    messages: {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 1_000_000,
      value: 'N',
      description: 'messages each client reads',
    },
    topic: {
      type: 'string',
      default: 'bench-tb-event-clean-8p',
      value: 'T',
      description: 'the topic read (pre-filled)',
    },
    clients: {
      type: 'string',
      default: 'kafkajs,kafkajs-socket,kafkajs-small,platformatic',
      value: 'C,...',
      check: oneOfEach(['kafkajs', 'kafkajs-socket', 'kafkajs-small', 'platformatic']),
      description: 'the clients to run, in order',
    },
    'shared-kafka': { type: 'boolean', description: "read from the test bed's broker instead of the private one" },
  },
});
const opts = CLI.parse();
const MESSAGES = opts.messages;
const TOPIC = opts.topic;
const CLIENTS = opts.clients.split(',');

interface LoopResult {
  client: string;
  messages: number;
  seconds: number;
  msgs_per_sec: number;
  mib_per_sec: number;
  cpu_seconds_per_million_msgs: number;
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

type KafkajsVariant = 'kafkajs' | 'kafkajs-socket' | 'kafkajs-small';

async function kafkajsLoop(brokers: string, variant: KafkajsVariant): Promise<LoopResult> {
  const small = variant === 'kafkajs-small';
  const kafka = new Kafka({
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    clientId: 'consumer-only',
    ...(variant === 'kafkajs' ? { socketFactory: framedSocketFactory } : {}),
  });
  const consumer = kafka.consumer({
    groupId: `consumer-only-${Date.now()}`,
    ...(small
      ? { maxBytes: 1048576, maxBytesPerPartition: 524288 }
      : { maxBytes: fetchMaxBytes(1048576), maxBytesPerPartition: 1048576 }),
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  let n = 0;
  let bytes = 0;
  let t0 = 0;
  let c0 = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  let t1 = 0;
  let c1 = 0;
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch }) => {
      if (n === 0) {
        t0 = performance.now();
        c0 = cpuNow();
      }
      for (const m of batch.messages) bytes += m.value?.length ?? 0;
      n += batch.messages.length;
      if (n >= MESSAGES && t1 === 0) {
        t1 = performance.now();
        c1 = cpuNow();
        done();
      }
    },
  });
  await finished;
  await consumer.disconnect();
  const s = (t1 - t0) / 1000;
  return {
    client: variant,
    messages: n,
    seconds: Math.round(s * 10) / 10,
    msgs_per_sec: Math.round(n / s),
    mib_per_sec: Math.round((bytes / s / 1048576) * 10) / 10,
    cpu_seconds_per_million_msgs: Math.round(((c1 - c0) / n) * 1e6 * 100) / 100,
  };
}

async function platformaticLoop(brokers: string): Promise<LoopResult> {
  const { Consumer } = await import('@platformatic/kafka');
  const consumer = new Consumer({
    groupId: `consumer-only-pl-${Date.now()}`,
    clientId: 'consumer-only',
    bootstrapBrokers: [brokers],
    autocommit: false,
    maxBytes: 16 * 1048576,
    maxBytesPerPartition: 1048576,
    maxWaitTime: 500,
  });
  const stream = await consumer.consume({ topics: [TOPIC], mode: 'earliest' });
  let n = 0;
  let bytes = 0;
  let t0 = 0;
  let c0 = 0;
  for await (const m of stream) {
    if (n === 0) {
      t0 = performance.now();
      c0 = cpuNow();
    }
    bytes += m.value?.length ?? 0;
    if (++n >= MESSAGES) break;
  }
  const t1 = performance.now();
  const c1 = cpuNow();
  await stream.close();
  await consumer.close(true);
  const s = (t1 - t0) / 1000;
  return {
    client: 'platformatic',
    messages: n,
    seconds: Math.round(s * 10) / 10,
    msgs_per_sec: Math.round(n / s),
    mib_per_sec: Math.round((bytes / s / 1048576) * 10) / 10,
    cpu_seconds_per_million_msgs: Math.round(((c1 - c0) / n) * 1e6 * 100) / 100,
  };
}

async function main(): Promise<void> {
  const pk = opts['shared-kafka'] ? undefined : await startPrivateKafka(testbed('KAFKA_LIBS'), testbed('KAFKA_BIN'));
  const brokers = pk?.bootstrap ?? testbed('KAFKA_BOOTSTRAP');
  const results: LoopResult[] = [];
  try {
    for (const c of CLIENTS) {
      const r =
        c === 'platformatic' ? await platformaticLoop(brokers) : await kafkajsLoop(brokers, c as KafkajsVariant);
      results.push(r);
      console.log(JSON.stringify(r));
    }
  } finally {
    await pk?.stop();
  }
}

if (import.meta.main) {
  await main();
  process.exit(0);
}
