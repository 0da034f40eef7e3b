// SIGTERM when the sinker cannot finish its work: it still exits by itself, with exit code 1 ("not
// flushed"), and loses nothing. Redis here sits behind a proxy owned by the test that can stop
// answering (connections stay open, replies never come: a hung Redis or a network partition) for
// this sinker only, so the shared test bed's Redis keeps serving everyone else.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SinkerProcess as Sinker, type SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  armFault,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  disarmFault,
  drainAndAssert,
  faultsFired,
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
const hung: Scenario = scenario('shutdown-hung', 1);
const redis = new URL(testbed('REDIS_URL'));
const proxy = new SilentProxy(redis.hostname, Number(redis.port));
const sinkers: SinkerProcess[] = [];

before(async () => {
  for (const x of [s, hung]) {
    await createTopic(x);
    await createTable(x);
  }
  await proxy.start();
});

after(async () => {
  for (const p of sinkers) await p.kill();
  await proxy.close();
  await cleanup(s);
  await cleanup(hung);
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

test('a second signal while stopping exits at once, also when it is the other one (SIGTERM, then SIGINT)', async () => {
  // Loads that Doris answers only after 15 s, by aborting them: the stop would wait the whole
  // shutdown_timeout for them.
  const fault = await armFault({ type: 'slow_reply', table: hung.table, delayMs: 15_000, commit: 'never', count: 50 });
  try {
    const c = await startSinker(hung, 'c', { shutdown_timeout: 300, doris: { timeout: 600 } });
    sinkers.push(c);
    const produced = await produce(hung, 100, 23);
    for (let i = 0; !((await faultsFired()).get(fault)?.fired ?? 0); i++) {
      assert.ok(i < 600, 'no load reached the emulator within 60 s');
      await sleep(100);
    }
    c.child.kill('SIGTERM');
    await c.waitForLog(/^shutting down/, 30_000);
    c.child.kill('SIGINT');
    // Before: SIGINT was taken as a first signal and waited with SIGTERM's stop for the 300 s.
    const killAt = setTimeout(() => c.child.kill('SIGKILL'), 60_000);
    const exit = await c.exited;
    clearTimeout(killAt);
    assert.deepEqual(exit, { code: 1, signal: null }, `SIGINT after SIGTERM did not exit at once:\n${c.tail()}`);
    await disarmFault(fault);
    const d = await startSinker(hung, 'd');
    sinkers.push(d);
    await drainAndAssert(hung, validIds(produced.events), 'after the second signal', 120_000);
  } finally {
    await disarmFault(fault);
  }
});
