// Redis stopped mid-stream: the sinker stops loading (no load may run without its intent recorded),
// says so in its log and metrics, and resumes by itself when Redis is back; Doris then holds every
// produced message exactly once.
// test-lane: exclusive (stops and restarts the test bed's Redis)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  drainAndAssert,
  produce,
  rowCount,
  type Scenario,
  scenario,
  sleep,
  startSinker,
  testbedPart,
  validIds,
  waitForRows,
} from './helpers.ts';

const s: Scenario = scenario('redis');
let sinker: SinkerProcess | undefined;

before(async () => {
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  // Whatever happened, leave Redis running for the next test.
  try {
    testbedPart('up', 'redis');
  } catch {
    // up is idempotent; a failure here shows in the next test's own checks
  }
  await sinker?.kill();
  await cleanup(s);
  await closeStorage();
});

test('Redis restart mid-stream: consumption pauses, resumes, every message exactly once', async () => {
  sinker = await startSinker(s, 'sinker');
  const first = await produce(s, 2000, 11);
  await waitForRows(s, 200, 30_000);

  testbedPart('down', 'redis');
  const second = produce(s, 2000, 12, 2001n);
  await sleep(2000);
  const pausedAt = await rowCount(s);
  await sleep(3000);
  const stillAt = await rowCount(s);
  assert.equal(stillAt, pausedAt, 'rows kept arriving while Redis was down: a load ran without its intent');
  assert.ok(sinker.running, `the sinker died with Redis down:\n${sinker.tail()}`);
  await sinker.waitForLog(/^Redis unreachable/, 10_000);
  const m = await sinker.scrape();
  assert.ok(metricValue(m, 'dedupe_redis_errors_total') > 0, 'dedupe_redis_errors_total counts the outage');

  testbedPart('up', 'redis');
  const ids = [...validIds(first.events), ...validIds((await second).events)];
  assert.ok(stillAt < ids.length, `the pause held back rows (${stillAt} of ${ids.length} loaded during the outage)`);
  await drainAndAssert(s, ids, 'after a Redis restart', 90_000);
  await sinker.waitForLog(/^Redis reachable again/, 10_000);
  const exit = await sinker.term();
  assert.deepEqual(exit, { code: 0, signal: null }, sinker.tail());
});
