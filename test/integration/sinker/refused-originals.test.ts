// Rows Doris refuses after the mapper accepted them (here: a manual schema that allows longer text
// than the table does) are dead-lettered with the ORIGINAL Kafka message, byte for byte — read back
// from Kafka by offset — not the encoded CSV row, so `replay` can map them again. The rest loads,
// and the throwaway consumer groups used to read them back are gone afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createNarrowNameTable,
  createTopic,
  NARROW_NAME_LOOSE_SCHEMA,
  produceValues,
  readDlq,
  type Scenario,
  scenario,
  startSinker,
  waitForRows,
  waitQuiet,
} from './helpers.ts';

const s: Scenario = scenario('refused', 2);
let sinker: SinkerProcess | undefined;

before(async () => {
  await createTopic(s);
  await createNarrowNameTable(s);
});

after(async () => {
  await sinker?.kill();
  await cleanup(s);
  await closeStorage();
});

test('rows Doris refuses go to the DLQ as their original Kafka bytes, with Doris’s reason', async () => {
  // Spaces, an unknown field and key order unlike the encoded row: only the original has them.
  const values: string[] = [];
  const refused = new Set<string>();
  const loaded: bigint[] = [];
  for (let id = 1; id <= 300; id++) {
    const long = id % 25 === 0;
    const name = long ? `name-far-too-long-${id}` : `n${id}`;
    const v = `{ "extra": {"a": [1, 2]},  "name": "${name}", "id": ${id} }`;
    values.push(v);
    if (long) refused.add(v);
    else loaded.push(BigInt(id));
  }
  await produceValues(s, values);
  sinker = await startSinker(s, 'refused', {
    doris: { format: 'csv' },
    schema: NARROW_NAME_LOOSE_SCHEMA,
  });
  await waitForRows(s, loaded.length, 90_000);
  await waitQuiet(s, 1500, 15_000);
  await assertExactlyOnce(s, loaded, 'refused rows left out');
  // The DLQ write comes right after the refusal is known; give the last one a moment.
  const deadline = Date.now() + 60_000;
  while (readDlq(s).length < refused.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  const dlq = readDlq(s);
  assert.equal(dlq.length, refused.size, `DLQ lines: ${dlq.map((d) => d.value).join(' | ')}`);
  for (const d of dlq) {
    assert.ok(refused.has(d.value ?? ''), `DLQ value is the original message byte for byte: ${d.value}`);
    assert.match(d.reason, /too long/i, `Doris's reason: ${d.reason}`);
    assert.doesNotMatch(d.reason, /not readable/);
    assert.equal(d.topic, s.topic);
  }
  const exit = await sinker.term(30_000);
  assert.equal(exit.code, 0, `clean stop: ${sinker.tail(20)}`);
  sinker = undefined;

  const admin = new Kafka({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    logLevel: logLevel.NOTHING,
    clientId: 'it-refused',
  }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const left = groups.filter((g) => g.groupId.startsWith(`${s.group}-dlq-originals-`));
    assert.deepEqual(left, [], 'the throwaway groups that read the originals back are deleted');
  } finally {
    await admin.disconnect();
  }
});
