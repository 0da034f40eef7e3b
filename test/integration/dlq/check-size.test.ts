// `doris-sinker check` holds the DLQ topic's max.message.bytes (its own, else the broker's
// message.max.bytes) to the source topic's, on the real broker: a dead letter is the original
// message and its dlq.* headers, so a DLQ topic that takes less than the source refuses the dead
// letter of a large message for good, and the sinker retries it for ever with its partition stopped.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { runSinkerCommand } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  type Scenario,
  scenario,
  sinkerConfig,
} from '../sinker/helpers.ts';
import { createOwnTopics, deleteOwnTopics } from './topics.ts';

const s: Scenario = scenario('dlq-check', 1);
const id = randomUUID().slice(0, 8);
const small = `it-dlq-check-small-${id}`;
const large = `it-dlq-check-large-${id}`;
let kafka: Kafka;

before(async () => {
  kafka = await createOwnTopics('it-dlq-check', [
    { name: small, partitions: 1, configs: { 'max.message.bytes': '20000' } },
    { name: large, partitions: 1, configs: { 'max.message.bytes': '2097152' } },
  ]);
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  await deleteOwnTopics(kafka, [small, large]);
  await cleanup(s);
  await closeStorage();
});

async function check(tag: string, dlqTopic: string) {
  const config = await sinkerConfig(s);
  config.dlq = { kafka_topic: dlqTopic };
  return runSinkerCommand({ dir: s.dir, tag, config, command: ['check'] }, 90_000);
}

const dlqLine = (output: string) => output.split('\n').find((l) => / DLQ topic: /.test(l)) ?? '';

test('check: a DLQ topic that takes smaller records than the source topic → a FAIL in plain words, exit 1', async () => {
  const { exit, output } = await check('small', small);
  assert.equal(exit.code, 1, output);
  const line = dlqLine(output);
  assert.match(line, /^FAIL DLQ topic: /, output);
  // The source topic has the broker's default (message.max.bytes, 1048588 unless the broker sets it).
  assert.match(line, new RegExp(`topic "${small}" takes records up to 20000 bytes \\(max\\.message\\.bytes\\)`), line);
  assert.match(line, new RegExp(`"${s.topic}" up to \\d{6,}: `), line);
  assert.match(line, /could never be written/, line);
  assert.match(
    line,
    new RegExp(
      `kafka-configs\\.sh --bootstrap-server ${testbed('KAFKA_BOOTSTRAP')} --alter --entity-type topics --entity-name ${small} --add-config max\\.message\\.bytes=\\d+`,
    ),
    line,
  );
  assert.equal(output.split('\n').filter((l) => l.startsWith('FAIL')).length, 1, output);
});

test('check: a DLQ topic that takes at least what the source takes → OK with both sizes, exit 0', async () => {
  const { exit, output } = await check('large', large);
  assert.equal(exit.code, 0, output);
  assert.match(
    dlqLine(output),
    new RegExp(
      `^OK   DLQ topic: topic "${large}" exists; it takes records up to 2097152 bytes \\(max\\.message\\.bytes\\), "${s.topic}" up to \\d+`,
    ),
    output,
  );
});
