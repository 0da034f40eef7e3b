// Content dedupe (dedupe.key_fields: [id]) with batches cut by max_batch_size, and the sinker
// killed after its first load while every later load fails. A batch cut by size is cut just before
// the row that would overflow it; that row's content key must go with the row's own batch. Given to
// the batch before (as it was), the first load marked the next batch's first row seen, and the
// second sinker, re-loading the killed sinker's open intents, dropped that row as a duplicate:
// one id missing from the table.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
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
  type SinkerOverrides,
  scenario,
  sleep,
  startSinker,
  validIds,
  waitCaughtUp,
} from './helpers.ts';

const s: Scenario = scenario('cdcuts', 1);
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

test('content keys of batches cut by size: a new owner re-loading open intents drops no row', async () => {
  const over: SinkerOverrides = {
    kafka: { session_timeout: 6 },
    // A few rows per batch, cut by size; the interval only flushes the tail.
    batch: { max_batch_size: 8192, max_batch_rows: 500, max_batch_interval: 2 },
    dedupe: { key_fields: ['id'] },
  };
  const first = await produce(s, 200, 11);
  // Every load but the first one (offset 0) times out in Doris and is rolled back: A keeps retrying
  // them with their intents recorded.
  fault = await armFault({ type: 'load_timeout', count: 100_000, label: `^${s.name}:.*:0:[1-9][0-9]*$` });
  const a = await startSinker(s, 'a', over);
  procs.push(a);
  // Killed once its first load is in and a later one was refused (its intent recorded).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const loaded = metricValue(await a.scrape(), 'batch_flush_total', { status: 'success' });
    const refused = (await faultsFired()).get(fault)?.fired ?? 0;
    if (loaded > 0 && refused > 0) break;
    assert.ok(Date.now() < deadline, `sinker A: ${loaded} loads in, ${refused} refused after 30 s:\n${a.tail()}`);
    await sleep(100);
  }
  await a.kill();
  await disarmFault(fault);

  const b = await startSinker(s, 'b', over);
  procs.push(b);
  await waitCaughtUp(s, 90_000);
  await drainAndAssert(s, validIds(first.events), 'after the second sinker re-loaded the open intents');
  const reloaded = b.logLines.filter((l) => l.msg === 'partition settled' && Number(l.reload) > 0).length;
  assert.ok(reloaded > 0, 'the second sinker re-loaded open intents');
  assert.equal((await b.term()).code, 0, b.tail());
});
