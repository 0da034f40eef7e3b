// schema.auto.validate_on_start against the emulator's query port: a table DESCRIBE cannot read
// stops start-up at once with a message naming it (exit 2); with the check off the sinker waits,
// not ready, and starts loading once the table exists.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SinkerProcess } from '../../support/sinker-process.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  produce,
  scenario,
  sinkerConfig,
  sleep,
  validIds,
  waitForRows,
} from './helpers.ts';

const strict = scenario('startup-strict', 1);
const patient = scenario('startup-patient', 2);

after(async () => {
  await cleanup(strict);
  await cleanup(patient);
  await closeStorage();
});

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
  const p = new SinkerProcess({
    dir: patient.dir,
    tag: 'patient',
    config: await sinkerConfig(patient, { schema: { auto: { validate_on_start: false } } }),
  });
  try {
    await sleep(3000);
    assert.ok(p.running, `exited while waiting for the table:\n${p.tail()}`);
    const ready = await fetch(`http://127.0.0.1:${p.metricsPort}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    assert.notEqual(ready, 200, 'ready before its schema could be read');
    assert.match(p.output, /reading the table schema failed/);

    await createTable(patient);
    await p.waitReady(60_000);
    const ids = validIds((await produce(patient, 50, 7)).events);
    assert.equal(await waitForRows(patient, ids.length, 30_000), ids.length);
  } finally {
    await p.kill();
  }
});
