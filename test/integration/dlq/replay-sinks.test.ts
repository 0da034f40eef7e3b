// `doris-sinker replay` of a DLQ that holds more than this sink's dead letters, and of one holding a
// line that is not a record. Sinks reading one topic into different tables share a DLQ topic (the
// operator's default is `<kafka.topic>-dlq` for each of them): a dead letter of the other sink is a
// message this sink loaded (or dead-lettered) itself, so replaying it here loads it twice. Real
// Redis and the emulator, rows counted in its MariaDB.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { replayKeys } from '../../../sinker/dedupe/keys.ts';
import { runSinkerCommand } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanupWithoutKafka,
  createNarrowNameTable,
  createTable,
  NARROW_NAME_LOOSE_SCHEMA,
  rowCount,
  type Scenario,
  scenario,
  sinkerConfig,
} from '../sinker/helpers.ts';

const scenarios: Scenario[] = [];
const redis = new Redis(testbed('REDIS_URL'), { maxRetriesPerRequest: 1 });

after(async () => {
  await cleanupWithoutKafka(scenarios, redis);
  redis.disconnect();
});

async function tbEventScenario(tag: string): Promise<Scenario> {
  const s = scenario(tag, 1);
  scenarios.push(s);
  await createTable(s);
  return s;
}

function dlqLine(sink: string, s: Scenario, offset: number, id: number): string {
  return `${JSON.stringify({
    sink,
    topic: s.topic,
    partition: 0,
    offset: String(offset),
    reason: 'data_quality: refused by that sink',
    time: new Date().toISOString(),
    value: JSON.stringify({ id, integration_id: 1, arrive_time: 1, event_time: 1, title: `t-${id}` }),
    value_encoding: 'utf8',
  })}\n`;
}

async function replayCli(s: Scenario, tag: string, args: string[] = []) {
  return runSinkerCommand({ dir: s.dir, tag, config: await sinkerConfig(s), command: ['replay'], extraArgs: args });
}

test("a DLQ shared with another sink: replay loads this sink's dead letters only, and says how many it left", async () => {
  const s = await tbEventScenario('replay-shared');
  // Offset 9 was dead-lettered by the other sink (its table refused it); this sink loaded it.
  writeFileSync(s.dlqFile, dlqLine(s.name, s, 5, 4005) + dlqLine('other-sink', s, 9, 4009));
  const dry = await replayCli(s, 'dry', ['--dry-run']);
  assert.equal(dry.exit.code, 0, dry.output);
  assert.match(dry.output, /dry run: 1 records read, 1 would load/, dry.output);
  const r = await replayCli(s, 'replay');
  assert.equal(r.exit.code, 0, r.output);
  assert.match(r.output, /skipped 1 records of sink other-sink \(another sink sharing this DLQ/, r.output);
  assert.match(r.output, /1 read, 1 loaded in 1 batches/, r.output);
  await assertExactlyOnce(s, [4005n], "after replaying this sink's dead letter only");
});

test('a DLQ file line that is not a record: replay stops naming the line, without a stack trace, and loads nothing', async () => {
  const s = await tbEventScenario('replay-badline');
  writeFileSync(s.dlqFile, `${dlqLine(s.name, s, 5, 5005)}{"sink":"x",,}\n${dlqLine(s.name, s, 6, 5006)}`);
  const r = await replayCli(s, 'replay');
  assert.equal(r.exit.code, 1, r.output);
  assert.match(r.output, /replay stopped: reading file .*dlq\.jsonl: .*dlq\.jsonl:2: not JSON/, r.output);
  assert.doesNotMatch(r.output, /\n {4}at /, 'no stack trace');
  assert.equal(await rowCount(s), 0);
});

test('a DLQ topic that does not exist: --from-topic is an error (exit 2); the configured one means no dead letters yet (exit 0)', async () => {
  // Before, the reader asked the brokers for the topic's offsets: kafkajs retried for about 110 s,
  // logging each try, then the replay died with a KafkaJSNonRetriableError stack trace (exit 1).
  const s = await tbEventScenario('replay-notopic');
  const missing = `${s.topic}-no-such-dlq`;
  const config = await sinkerConfig(s);
  const typo = await runSinkerCommand({
    dir: s.dir,
    tag: 'typo',
    config,
    command: ['replay'],
    extraArgs: ['--from-topic', missing],
  });
  assert.equal(typo.exit.code, 2, typo.output);
  assert.match(typo.output, new RegExp(`--from-topic ${missing} does not exist`), typo.output);
  assert.doesNotMatch(typo.output, /\n {4}at |KafkaJS|"level":"error"/, 'no stack trace, no kafkajs error lines');
  const none = await runSinkerCommand({
    dir: s.dir,
    tag: 'none',
    config: { ...config, dlq: { kafka_topic: missing } },
    command: ['replay'],
  });
  assert.equal(none.exit.code, 0, none.output);
  assert.match(none.output, new RegExp(`no dead letters: the DLQ topic ${missing} does not exist`), none.output);
  assert.doesNotMatch(none.output, /\n {4}at |KafkaJS|"level":"error"/, 'no stack trace, no kafkajs error lines');
});

test('with max_filter_ratio above 0, a row Doris filters in a replay is refused and not marked, not lost to later replays', async () => {
  // Doris loads the rest and drops the row, and the replay marked every offset of the load replayed:
  // the record could never be replayed again, after a fix, and no line said so (the pipeline
  // accepts such filtering by its config; a replay is asked for these records).
  const s = scenario('replay-filtered', 1);
  scenarios.push(s);
  await createNarrowNameTable(s);
  const line = (offset: number, id: number, name: string) =>
    `${JSON.stringify({
      sink: s.name,
      topic: s.topic,
      partition: 0,
      offset: String(offset),
      reason: 'data_quality: refused',
      time: new Date().toISOString(),
      value: JSON.stringify({ id, name }),
      value_encoding: 'utf8',
    })}\n`;
  writeFileSync(s.dlqFile, line(5, 9005, 'ok') + line(6, 9006, 'far-too-long-for-the-column') + line(7, 9007, 'ok2'));
  const config = {
    ...(await sinkerConfig(s, { schema: NARROW_NAME_LOOSE_SCHEMA })),
  } as Record<string, Record<string, unknown>>;
  config.doris = { ...config.doris, stream_load_properties: { max_filter_ratio: '0.5' } };
  const r = await runSinkerCommand({ dir: s.dir, tag: 'filtered', config, command: ['replay'] });
  assert.equal(r.exit.code, 1, r.output);
  assert.match(r.output, /refused by Doris: .*\/0@6/, r.output);
  assert.match(r.output, /3 read, 2 loaded in \d+ batches, 0 already replayed, 0 still invalid, 1 refused/, r.output);
  await assertExactlyOnce(s, [9005n, 9007n], 'the rows that fit');
  const marked = await redis.smembers(replayKeys(s.prefix, s.name, s.topic).replayed(0));
  assert.deepEqual(
    marked.map(Number).sort((a, b) => a - b),
    [5, 7],
    'the filtered record is not marked replayed',
  );
});
