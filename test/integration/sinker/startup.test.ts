// What a sinker does at start when its table or its topic is not there yet. A table DESCRIBE cannot
// read stops start-up with a message naming it (exit 2, schema.auto.validate_on_start); with the check
// off, or for a missing topic (the sinker never creates topics), it waits, not ready, with a log line
// naming what it waits for, and starts loading once it exists.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SinkerProcess } from '../../support/sinker-process.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  produce,
  type Scenario,
  scenario,
  sinkerConfig,
  sleep,
  validIds,
  waitForRows,
} from './helpers.ts';

const strict = scenario('startup-strict', 1);
const patient = scenario('startup-patient', 2);
const noTopic = scenario('startup-topic', 2);

after(async () => {
  for (const s of [strict, patient, noTopic]) await cleanup(s);
  await closeStorage();
});

/**
 * Starts a sinker that must wait: it logs `waitLine`, and 3 s later it still runs and is not ready;
 * then `provide` creates what it waited for, and it becomes ready and loads.
 */
async function waitsThenLoads(
  s: Scenario,
  over: Parameters<typeof sinkerConfig>[1],
  waitLine: RegExp,
  provide: () => Promise<void>,
): Promise<Record<string, unknown>> {
  const p = new SinkerProcess({ dir: s.dir, tag: 'waiting', config: await sinkerConfig(s, over) });
  try {
    // The wait line first (a start on a loaded machine takes seconds), then 3 s more of waiting.
    const line = await p.waitForLog(waitLine);
    await sleep(3000);
    assert.ok(p.running, `exited while waiting:\n${p.tail()}`);
    assert.equal(await p.isReady(), false, 'ready before it could load');

    await provide();
    await p.waitReady(60_000);
    const ids = validIds((await produce(s, 50, 7)).events);
    assert.equal(await waitForRows(s, ids.length, 30_000), ids.length);
    return line;
  } finally {
    await p.kill();
  }
}

test('validate_on_start (the default): a missing table stops start-up with exit 2 and says why', async () => {
  await createTopic(strict);
  const p = new SinkerProcess({ dir: strict.dir, tag: 'strict', config: await sinkerConfig(strict) });
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
  const exit = await p.exited;
  clearTimeout(timer);
  assert.deepEqual(exit, { code: 2, signal: null }, p.tail());
  assert.match(
    p.output,
    new RegExp(`doris-sinker: DESCRIBE test_db\\.${strict.table} on [^ ]+ failed: .*Unknown table`),
  );
  assert.match(p.output, /schema\.auto\.validate_on_start is true/);
});

test('validate_on_start false: the sinker waits for the table, not ready, then loads', async () => {
  await createTopic(patient);
  await waitsThenLoads(
    patient,
    { schema: { auto: { validate_on_start: false } } },
    /^reading the table schema failed/,
    () => createTable(patient),
  );
});

test('a missing topic: the sinker waits, not ready, says which topic, and consumes once it exists', async () => {
  await createTable(noTopic);
  const line = await waitsThenLoads(noTopic, {}, /^kafka\.topic does not exist/, () => createTopic(noTopic));
  assert.equal(line.topic, noTopic.topic);
});
