// A dead letter carries what a user debugging it asks about the original message: its key, its
// Kafka timestamp and its headers, besides its bytes and position. Both DLQ paths of the running
// sinker (the mapper's invalid JSON, and a row Doris refuses, read back from Kafka by offset), in
// both DLQ forms (the file's JSON lines and the topic's messages); `replay` reads them all back.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { type DlqTopicRecord, readDlqTopic } from '../../../sinker/dlq/reader.ts';
import type { DlqHeader } from '../../../sinker/dlq/record.ts';
import { runSinkerCommand, SinkerProcess } from '../../support/sinker-process.ts';
import {
  cleanup,
  closeStorage,
  createNarrowNameTable,
  createTopic,
  NARROW_NAME_LOOSE_SCHEMA,
  readDlq,
  type Scenario,
  scenario,
  sinkerConfig,
  waitCaughtUp,
} from '../sinker/helpers.ts';
import { createOwnTopics, deleteOwnTopics } from './topics.ts';

const s: Scenario = scenario('dlq-meta', 2);
const dlqTopic = `it-dlq-meta-${randomUUID().slice(0, 8)}`;
let kafka: Kafka;
let sinker: SinkerProcess | undefined;

before(async () => {
  kafka = await createOwnTopics('it-dlq-meta', [{ name: dlqTopic, partitions: 2 }]);
  await createTopic(s);
  await createNarrowNameTable(s);
});

after(async () => {
  await sinker?.kill();
  await cleanup(s);
  await deleteOwnTopics(kafka, [dlqTopic]);
  await closeStorage();
});

interface Sent {
  value: string;
  key: string;
  timestamp: string;
  headers: Record<string, string | string[]>;
}

/** What each dead letter's original was, by its value. */
const deadOnes = new Map<string, Sent>();

function expectOriginal(r: { value: Buffer | null; key: Buffer | null; timestamp?: string; headers?: DlqHeader[] }) {
  const sent = deadOnes.get(r.value?.toString() ?? '');
  assert.ok(sent, `a dead letter of one of the messages sent: ${r.value}`);
  assert.equal(r.key?.toString(), sent.key, 'the original key');
  assert.equal(r.timestamp, sent.timestamp, 'the original timestamp');
  const want: [string, string][] = Object.entries(sent.headers).flatMap(([n, v]) =>
    (Array.isArray(v) ? v : [v]).map((x): [string, string] => [n, x]),
  );
  assert.deepEqual(
    (r.headers ?? []).map((h) => [h.name, h.value?.toString()]),
    want,
    'the original headers, a repeated one included',
  );
}

test("dead letters keep the original message's key, timestamp and headers, in the file and the topic", async () => {
  const base = Date.parse('2026-11-01T00:00:00Z');
  const messages: Sent[] = [];
  for (let id = 1; id <= 40; id++) {
    // id 7, 27: invalid JSON (the mapper); id 10, 30: a name longer than the table's (Doris refuses).
    const value =
      id % 20 === 7
        ? `{"id": ${id}, "name": `
        : `{"id": ${id}, "name": "${id % 20 === 10 ? `far-too-long-${id}` : `n${id}`}"}`;
    const m: Sent = {
      value,
      key: `key-${id}`,
      timestamp: String(base + id * 1000),
      headers: { 'trace-id': `trace-${id}`, hop: ['a', `b${id}`] },
    };
    messages.push(m);
    if (id % 20 === 7 || id % 20 === 10) deadOnes.set(value, m);
  }
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: s.topic, messages: messages.map((m) => ({ ...m })) });
  await producer.disconnect();

  const config = await sinkerConfig(s, { schema: NARROW_NAME_LOOSE_SCHEMA });
  config.dlq = { file_path: s.dlqFile, kafka_topic: dlqTopic };
  sinker = new SinkerProcess({ dir: s.dir, tag: 'sinker', config });
  await sinker.waitReady(60_000);
  await waitCaughtUp(s, 90_000);
  const exit = await sinker.term(30_000);
  assert.equal(exit.code, 0, `clean stop: ${sinker.tail(20)}`);
  sinker = undefined;

  const lines = readDlq(s);
  assert.equal(lines.length, 4, `DLQ file: ${lines.map((l) => l.value).join(' | ')}`);
  for (const l of lines) {
    assert.doesNotMatch(l.reason, /not readable/, 'the original was read back');
    expectOriginal({
      value: Buffer.from(l.value ?? ''),
      key: typeof l.key === 'string' ? Buffer.from(l.key) : null,
      timestamp: l.timestamp as string | undefined,
      headers: (l.headers as { name: string; value: string }[] | undefined)?.map((h) => ({
        name: h.name,
        value: Buffer.from(h.value),
      })),
    });
  }
  const fromTopic: DlqTopicRecord[] = [];
  for await (const r of readDlqTopic({ kafka, topic: dlqTopic, idleMs: 200 })) fromTopic.push(r);
  assert.equal(fromTopic.length, 4, `DLQ topic: ${fromTopic.map((r) => r.value).join(' | ')}`);
  for (const r of fromTopic) expectOriginal(r);

  // replay reads both forms (a dry run: the records are as refused as they were).
  for (const from of [
    ['--from-topic', dlqTopic],
    ['--from-file', s.dlqFile],
  ]) {
    const r = await runSinkerCommand({ dir: s.dir, tag: 'replay', config, command: ['replay', ...from, '--dry-run'] });
    assert.equal(r.exit.code, 0, r.output);
    assert.match(r.output, /dry run: 4 records read, 2 would load, 0 already replayed, 2 still invalid/, r.output);
  }
});
