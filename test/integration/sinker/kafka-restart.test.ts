// The Kafka broker restarted mid-stream (the test bed's single node: every partition, the group
// coordinator and the offsets topic go away together). The sinker rides it out or restarts its
// consumer by itself; when the broker is back it loads the rest, and Doris holds every produced
// message exactly once.
// test-lane: exclusive (stops and restarts the test bed's Kafka)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SinkerProcess } from '../../support/sinker-process.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  drainAndAssert,
  produce,
  type Scenario,
  scenario,
  sleep,
  startSinker,
  testbedPart,
  validIds,
  waitForRows,
} from './helpers.ts';

const s: Scenario = scenario('kafka');
let sinker: SinkerProcess | undefined;

before(async () => {
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  try {
    testbedPart('up', 'kafka');
  } catch {
    // idempotent; the next test's checks show a Kafka that did not come back
  }
  await sinker?.kill();
  await cleanup(s);
  await closeStorage();
});

test('Kafka broker restart mid-stream: the sinker recovers by itself, every message exactly once', async () => {
  sinker = await startSinker(s, 'sinker');
  const first = await produce(s, 3000, 21);
  await waitForRows(s, 500, 30_000);

  testbedPart('down', 'kafka');
  // Long enough for kafkajs to exhaust its connection retries and crash its consumer (it then
  // restarts it, or the sinker does): the path that must re-settle every partition.
  await sleep(Number(process.env.KAFKA_DOWN_MS ?? 8000));
  assert.ok(sinker.running, `the sinker exited with the broker down:\n${sinker.tail()}`);
  testbedPart('up', 'kafka');

  const second = await produce(s, 2000, 22, 3001n);
  const ids = [...validIds(first.events), ...validIds(second.events)];
  await drainAndAssert(s, ids, 'after a Kafka broker restart', 120_000);
  assert.ok(sinker.running, `the sinker exited:\n${sinker.tail()}`);
  const crashes = sinker.logLines.filter((l) => l.msg === 'kafka consumer crashed').length;
  const joins = sinker.logLines.filter((l) => l.msg === 'consumer group assignment').length;
  process.stderr.write(`kafka restart: consumer crashed ${crashes} time(s), joined ${joins} time(s)\n`);
  const exit = await sinker.term();
  assert.deepEqual(exit, { code: 0, signal: null }, sinker.tail());
});
