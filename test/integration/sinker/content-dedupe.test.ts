// Content dedupe (dedupe.key_fields: [id]) across a kill -9: the sinker dies while its loads are in
// flight (held by the emulator, committed at the end), the next sinker settles those intents as
// loaded; then the same messages are produced again (a producer's duplicates). Rows whose keys were
// seen are dropped: the table holds each id once, also for the rows of the loads the crash cut off.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
import {
  armFault,
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  disarmFault,
  drainAndAssert,
  produce,
  type Scenario,
  type SinkerOverrides,
  scenario,
  sleep,
  startSinker,
  validIds,
  waitCaughtUp,
  waitQuiet,
} from './helpers.ts';

const s: Scenario = scenario('cdedupe');
const procs: SinkerProcess[] = [];
let fault = 0;

before(async () => {
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  await disarmFault(fault);
  for (const p of procs) await p.kill();
  await cleanup(s);
  await closeStorage();
});

test('content dedupe keys survive a kill -9 mid-load: re-produced messages are dropped', async () => {
  const over: SinkerOverrides = { kafka: { session_timeout: 6 }, dedupe: { key_fields: ['id'] } };
  fault = await armFault({ type: 'slow_reply', delayMs: 2000, commit: 'after', count: 50, label: `^${s.name}:` });
  const a = await startSinker(s, 'a', over);
  procs.push(a);
  const first = await produce(s, 2000, 5);
  // Kill once A has finished a load (so B has a watermark to settle from) while others are in flight
  // (every reply is held 2 s): a fixed sleep missed the first completion on a busy machine.
  const deadline = Date.now() + 30_000;
  while (!(metricValue(await a.scrape(), 'batch_flush_total', { status: 'success' }) > 0)) {
    assert.ok(Date.now() < deadline, `sinker A finished no load in 30 s:\n${a.tail()}`);
    await sleep(100);
  }
  await a.kill();
  const b = await startSinker(s, 'b', over);
  procs.push(b);
  const ids = validIds(first.events);
  // Caught up, not merely quiet: B may sit out A's session (6 s) before it owns the partitions.
  await waitCaughtUp(s, 60_000);
  await drainAndAssert(s, ids, 'after the kill');

  await produce(s, 2000, 5); // the very same messages (same ids) again
  await waitCaughtUp(s, 60_000);
  await waitQuiet(s, 1500, 15_000);
  await assertExactlyOnce(s, ids, 'after the same messages were produced again');
  const settled = b.logLines.filter((l) => l.msg === 'partition settled' && l.watermark !== null).length;
  assert.ok(settled > 0, 'the second sinker settled loads the first one left in flight');
  assert.equal((await b.term()).code, 0, b.tail());
});
