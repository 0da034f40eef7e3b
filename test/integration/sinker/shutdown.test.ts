// SIGTERM when the sinker cannot finish its work: it still exits by itself, with exit code 1 ("not
// flushed"), and loses nothing. Redis here sits behind a proxy owned by the test that can stop
// answering (connections stay open, replies never come: a hung Redis or a network partition) for
// this sinker only, so the shared test bed's Redis keeps serving everyone else.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SinkerProcess as Sinker, type SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  drainAndAssert,
  produce,
  type Scenario,
  scenario,
  sinkerConfig,
  sleep,
  startSinker,
  validIds,
  waitForRows,
} from './helpers.ts';
import { SilentProxy } from './silent-proxy.ts';

const s: Scenario = scenario('shutdown', 2);
const redis = new URL(testbed('REDIS_URL'));
const proxy = new SilentProxy(redis.hostname, Number(redis.port));
const sinkers: SinkerProcess[] = [];

before(async () => {
  await createTopic(s);
  await createTable(s);
  await proxy.start();
});

after(async () => {
  for (const p of sinkers) await p.kill();
  await proxy.close();
  await cleanup(s);
  await closeStorage();
});

test('SIGTERM while Redis does not answer and a fetch waits for Redis: exits by itself, code 1, nothing lost', async () => {
  const config = await sinkerConfig(s, {
    shutdown_timeout: 3,
    // Content keys are checked in Redis before rows join a batch; large fetches make eachBatch hold
    // the next fetch while more than 8 MiB wait for that check.
    kafka: { max_fetch_bytes: 8 * 1024 * 1024 },
    dedupe: { redis_url: `redis://${proxy.address}`, key_fields: ['id'] },
    batch: { map_workers: 0 },
  });
  const a = new Sinker({ dir: s.dir, tag: 'a', config });
  sinkers.push(a);
  await a.waitReady(60_000);
  const first = await produce(s, 2000, 21);
  await waitForRows(s, first.events.length, 60_000);

  proxy.silence();
  const second = await produce(s, 60_000, 22, 100_000n);
  await a.waitForLog(/^Redis unreachable/, 60_000);
  // The pause is probed once a second: an open socket is not an answer, so it must hold meanwhile.
  await sleep(4000);
  const falseRecovery = a.logLines.find((l) => /^Redis reachable again/.test(String(l.msg)));
  assert.equal(falseRecovery, undefined, `Redis said to be back while it did not answer:\n${a.tail()}`);
  // Before: kafkajs's disconnect waited for the held eachBatch, which waited for chunks retrying
  // Redis for good: no exit until the SIGKILL.
  const exit = await a.term(60_000);
  assert.deepEqual(exit, { code: 1, signal: null }, `the sinker did not exit by itself:\n${a.tail()}`);
  assert.ok(
    a.logLines.some((l) => l.msg === 'stopped with data not flushed'),
    `no 'stopped with data not flushed' line:\n${a.tail()}`,
  );
  // Redis's QUIT gets no answer either (ioredis gives up after 5 s): the close is not waited for past its bound.
  assert.ok(
    a.logLines.some((l) => l.msg === 'connections did not close in time; leaving without them'),
    `the closing step was not bounded:\n${a.tail()}`,
  );

  proxy.answer();
  const b = await startSinker(s, 'b');
  sinkers.push(b);
  await drainAndAssert(s, [...validIds(first.events), ...validIds(second.events)], 'after the stop', 120_000);
  assert.deepEqual(await b.term(), { code: 0, signal: null });
});
