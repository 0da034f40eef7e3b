// Topics written by Kafka's real Java producer (the console producer) with each compression codec —
// none, gzip, snappy, lz4, zstd — and a topic whose own compression.type=zstd has the broker compress
// what an uncompressed producer sent: the sinker (kafkajs, which decodes only gzip by itself, plus
// sinker/kafka-codecs.ts) loads every message exactly once with its values and keeps running.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { type KafkaCodec, lz4Codec, snappyCodec, zstdCodec } from '../../../sinker/kafka-codecs.ts';
import { type GeneratedEvent, takeEvents } from '../../support/events.ts';
import { waitForTopicLeaders } from '../../support/kafka-topic.ts';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  readDlq,
  type Scenario,
  scenario,
  startSinker,
  storage,
  waitCaughtUp,
  waitQuiet,
} from './helpers.ts';

const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs;
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
const PER_CODEC = 300;
const producerTopic: Scenario = scenario('codecs', 4);
const brokerTopic: Scenario = scenario('broker-zstd', 2);
const bigTopic: Scenario = scenario('codecs-big', 2);
const sinkers: SinkerProcess[] = [];

function kafka() {
  return new Kafka({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    logLevel: logLevel.NOTHING,
    clientId: 'it-codecs',
  });
}

before(async () => {
  await createTopic(producerTopic);
  const admin = kafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic: brokerTopic.topic,
          numPartitions: brokerTopic.partitions,
          replicationFactor: 1,
          configEntries: [{ name: 'compression.type', value: 'zstd' }],
        },
      ],
      waitForLeaders: false,
    });
    await waitForTopicLeaders(admin, brokerTopic.topic, brokerTopic.partitions);
  } finally {
    await admin.disconnect();
  }
  await createTopic(bigTopic);
  await createTable(producerTopic);
  await createTable(brokerTopic);
  await createTable(bigTopic);
});

after(async () => {
  await Promise.all(sinkers.map((p) => p.kill()));
  await cleanup(producerTopic);
  await cleanup(brokerTopic);
  await cleanup(bigTopic);
  await closeStorage();
});

/**
 * Sends the events with Kafka's console producer (a JVM, the Java client), one line each keyed by
 * id (so every partition gets some), compressed with `codec`; batches up to 64 KiB, so snappy
 * batches hold several 32 KiB xerial blocks.
 */
async function javaProduce(
  s: Scenario,
  events: readonly GeneratedEvent[],
  codec: string,
  properties: Record<string, string> = {},
): Promise<void> {
  const file = join(s.dir, `values-${codec}.txt`);
  // JSON text holds no raw tab or newline: a tab separates the key.
  writeFileSync(file, `${events.map((e) => `${e.id}\t${e.value}`).join('\n')}\n`);
  const child = spawn(
    join(testbed('KAFKA_BIN'), 'kafka-console-producer'),
    [
      ...['--bootstrap-server', testbed('KAFKA_BOOTSTRAP'), '--topic', s.topic],
      // The tool's own option: it sets compression.type over any --command-property of that name.
      ...['--compression-codec', codec],
      ...['--reader-property', 'parse.key=true', '--reader-property', 'key.separator=\t'],
      ...['--command-property', 'acks=all', '--command-property', 'batch.size=65536'],
      ...['--command-property', 'linger.ms=20'],
      ...Object.entries(properties).flatMap(([k, v]) => ['--command-property', `${k}=${v}`]),
    ],
    { stdio: [openSync(file, 'r'), 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((ok) => child.on('exit', ok));
  clearTimeout(timer);
  assert.equal(code, 0, `kafka-console-producer --compression-codec ${codec} exited ${code}: ${out.slice(-2000)}`);
}

/**
 * How many record batches of each codec the topic holds, read here with kafkajs and counting
 * decoders in this test process: proof the topics hold what the test says the sinker decoded.
 */
async function compressedBatches(
  topic: string,
  messages: number,
  largest: Record<string, number> = {},
): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  const gzip = CompressionCodecs[CompressionTypes.GZIP]() as KafkaCodec;
  const counted = (name: string, codec: KafkaCodec) => () => ({
    compress: codec.compress,
    decompress: (b: Buffer) => {
      seen[name] = (seen[name] ?? 0) + 1;
      largest[name] = Math.max(largest[name] ?? 0, b.length);
      return codec.decompress(b);
    },
  });
  CompressionCodecs[CompressionTypes.GZIP] = counted('gzip', gzip);
  CompressionCodecs[CompressionTypes.Snappy] = counted('snappy', snappyCodec);
  CompressionCodecs[CompressionTypes.LZ4] = counted('lz4', lz4Codec);
  CompressionCodecs[CompressionTypes.ZSTD] = counted('zstd', zstdCodec);
  const groupId = `${topic}-codec-count`;
  const client = kafka();
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 250 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let read = 0;
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          read += batch.messages.length;
          if (read >= messages) resolve();
        },
      });
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`read ${read} of ${messages} messages of ${topic} in 60 s`)), 60_000).unref(),
    );
    await Promise.race([done, timeout]);
  } finally {
    await consumer.disconnect();
    const admin = client.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
  }
  return seen;
}

type Row = Record<string, string | null>;

/** What the table must hold for a clean generated event, column by column, as MariaDB returns it. */
function expectedRow(e: GeneratedEvent): Row {
  const f = e.fields!;
  const out: Row = {
    id: String(e.id),
    integration_id: String(f.integration_id),
    arrive_time: String(f.arrive_time),
    event_time: String(f.event_time),
    event_type: String(f.event_type),
    source: String(f.source),
    title: String(f.title),
    description: String(f.description),
    priority: String(f.priority),
    severity: String(f.severity),
    is_recovered: f.is_recovered ? '1' : '0',
    score: String(f.score),
    amount: String(f.amount),
    event_date: String(f.event_date),
    created_at: String(f.created_at),
    labels: JSON.stringify(f.labels),
  };
  for (let i = 1; i <= 50; i++) out[`extend${i}`] = f[`extend${i}`] === undefined ? '' : String(f[`extend${i}`]);
  return out;
}

/** Every event's row holds its values, every column. */
async function assertValues(s: Scenario, events: readonly GeneratedEvent[]): Promise<void> {
  const [rows] = await storage().query(
    `SELECT CAST(id AS CHAR) AS id, CAST(integration_id AS CHAR) AS integration_id, CAST(arrive_time AS CHAR) AS arrive_time,
       CAST(event_time AS CHAR) AS event_time, event_type, source, title, description, CAST(priority AS CHAR) AS priority,
       CAST(severity AS CHAR) AS severity, CAST(is_recovered AS CHAR) AS is_recovered, score, CAST(amount AS CHAR) AS amount,
       CAST(event_date AS CHAR) AS event_date, CAST(created_at AS CHAR) AS created_at, labels,
       ${Array.from({ length: 50 }, (_, i) => `extend${i + 1}`).join(', ')}
     FROM \`${s.table}\``,
  );
  const byId = new Map((rows as Row[]).map((r) => [r.id as string, r]));
  for (const e of events) {
    const got = byId.get(String(e.id));
    assert.ok(got, `row ${e.id} missing`);
    for (const [col, want] of Object.entries(expectedRow(e))) {
      if (col === 'score') assert.equal(Number(got[col]), Number(want), `id ${e.id} ${col}`);
      else if (col === 'labels') assert.deepEqual(JSON.parse(String(got[col])), JSON.parse(String(want)), `id ${e.id}`);
      else assert.equal(got[col], want, `id ${e.id} column ${col}`);
    }
  }
}

async function assertLoadedAndRunning(
  s: Scenario,
  sinker: SinkerProcess,
  events: readonly GeneratedEvent[],
  context: string,
): Promise<void> {
  await waitCaughtUp(s, 90_000).catch((err: Error) => {
    throw new Error(`${context}: ${err.message}\n${sinker.tail()}`);
  });
  await waitQuiet(s, 1000, 10_000);
  await assertExactlyOnce(
    s,
    events.map((e) => e.id),
    context,
  );
  await assertValues(s, events);
  assert.ok(sinker.running, `${context}: the sinker stopped:\n${sinker.tail()}`);
  assert.equal(metricValue(await sinker.scrape(), 'kafka_messages_consumed_total'), events.length, context);
  assert.deepEqual(
    readDlq(s).map((d) => d.reason),
    [],
    `${context}: dead letters`,
  );
}

test('a sinker loads topics the Java producer compressed with none, gzip, snappy, lz4 and zstd, each message once', async (t) => {
  const a = await startSinker(producerTopic, 'codecs');
  sinkers.push(a);
  const events: GeneratedEvent[] = [];
  for (const [i, codec] of CODECS.entries()) {
    const part = takeEvents({ seed: 7100 + i, mix: 'clean', firstId: BigInt(i * PER_CODEC + 1) }, PER_CODEC);
    await javaProduce(producerTopic, part, codec);
    events.push(...part);
  }
  await assertLoadedAndRunning(producerTopic, a, events, 'producer-compressed topic');

  const batches = await compressedBatches(producerTopic.topic, events.length);
  t.diagnostic(`compressed batches in the topic: ${JSON.stringify(batches)}`);
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    assert.ok((batches[codec] ?? 0) > 0, `the topic holds ${codec} batches: ${JSON.stringify(batches)}`);
  }

  const exit = await a.term();
  assert.equal(exit.code, 0, `clean stop:\n${a.tail()}`);
});

test('a sinker loads a topic whose compression.type=zstd has the broker compress an uncompressed producer', async (t) => {
  const b = await startSinker(brokerTopic, 'broker-zstd');
  sinkers.push(b);
  const events = takeEvents({ seed: 7200, mix: 'clean' }, PER_CODEC);
  await javaProduce(brokerTopic, events, 'none');
  await assertLoadedAndRunning(brokerTopic, b, events, 'broker-compressed topic');

  const batches = await compressedBatches(brokerTopic.topic, events.length);
  t.diagnostic(`compressed batches in the topic: ${JSON.stringify(batches)}`);
  assert.ok((batches.zstd ?? 0) > 0, `the broker stored zstd batches: ${JSON.stringify(batches)}`);
  assert.deepEqual(Object.keys(batches), ['zstd'], `only zstd batches: ${JSON.stringify(batches)}`);

  const exit = await b.term();
  assert.equal(exit.code, 0, `clean stop:\n${b.tail()}`);
});

/**
 * The event with a description of about `bytes` bytes: base64 of pseudo-random bytes, which
 * compresses to about three quarters, so its batch stays larger than a fetch in every codec.
 */
function withLongDescription(e: GeneratedEvent, bytes: number): GeneratedEvent {
  const raw = Buffer.alloc(Math.ceil((bytes * 3) / 4));
  let x = Number(e.id) | 1;
  for (let i = 0; i < raw.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    raw[i] = x >>> 24;
  }
  const description = `${e.id}: ${raw.toString('base64')}`;
  const before = `"description":${JSON.stringify(e.fields!.description)}`;
  assert.ok(e.value.includes(before), `event ${e.id} has its description in its value`);
  return {
    ...e,
    fields: { ...e.fields, description },
    value: e.value.replace(before, `"description":${JSON.stringify(description)}`),
  };
}

const FETCH_BYTES = 262_144;

test('Java producer batches of 1 MiB (hundreds of records) and records larger than a fetch, each codec: each message once', async (t) => {
  // Fetches of 256 KiB a partition: Kafka still returns a first batch larger than that, whole.
  const c = await startSinker(bigTopic, 'codecs-big', { kafka: { max_fetch_bytes: FETCH_BYTES } });
  sinkers.push(c);
  const events: GeneratedEvent[] = [];
  for (const [i, codec] of CODECS.entries()) {
    const part = takeEvents({ seed: 7300 + i, mix: 'clean', firstId: BigInt(i * 10_000 + 1) }, 2000);
    // Three records of 900 KB, larger than a fetch (under Doris's 1 MB for a STRING value).
    for (const at of [0, 1000, 1999]) part[at] = withLongDescription(part[at]!, 900_000);
    await javaProduce(bigTopic, part, codec, {
      'batch.size': '1048576',
      'linger.ms': '500',
      'max.request.size': '4194304',
    });
    events.push(...part);
  }
  await assertLoadedAndRunning(bigTopic, c, events, 'big batches and records');

  const largest: Record<string, number> = {};
  const batches = await compressedBatches(bigTopic.topic, events.length, largest);
  t.diagnostic(`compressed batches in the topic: ${JSON.stringify(batches)}, largest: ${JSON.stringify(largest)}`);
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    assert.ok(
      (largest[codec] ?? 0) > FETCH_BYTES,
      `the topic holds ${codec} batches larger than a fetch: ${JSON.stringify(largest)}`,
    );
  }

  const exit = await c.term();
  assert.equal(exit.code, 0, `clean stop:\n${c.tail()}`);
});
