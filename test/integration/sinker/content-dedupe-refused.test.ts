// Content dedupe (dedupe.key_fields: [id]) and a row Doris refuses for data quality, with the sinker
// killed after the rest of its batch committed and before it recorded the load. The next sinker
// settles the load by its label; the refused row's key must not be marked seen then: it is in the
// dead-letter queue, not in Doris, and a corrected message with the same id must load. Before, the
// intent carried every row's key and the settle marked the refused row seen with the others, so the
// corrected message was dropped as a duplicate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SinkerProcess } from '../../support/sinker-process.ts';
import {
  armFault,
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createNarrowNameTable,
  createTopic,
  disarmFault,
  faultsFired,
  NARROW_NAME_LOOSE_SCHEMA,
  produceValues,
  readDlq,
  rowCount,
  type Scenario,
  type SinkerOverrides,
  scenario,
  sleep,
  startSinker,
  waitCaughtUp,
  waitQuiet,
} from './helpers.ts';

const s: Scenario = scenario('cdrefused', 1);
const procs: SinkerProcess[] = [];
let fault = 0;

before(async () => {
  await createTopic(s);
  await createNarrowNameTable(s);
});

after(async () => {
  await disarmFault(fault);
  for (const p of procs) await p.kill();
  await cleanup(s);
  await closeStorage();
});

const row = (id: number, name: string) => JSON.stringify({ id, name });

test('a row refused in a load the next sinker settles is not seen: its corrected message loads', async () => {
  const over: SinkerOverrides = {
    kafka: { session_timeout: 6 },
    doris: { format: 'csv' },
    schema: NARROW_NAME_LOOSE_SCHEMA,
    dedupe: { key_fields: ['id'] },
  };
  // One batch, offsets 0..4 (all produced before the sinker starts); id 3's name is too long for the table.
  await produceValues(s, [row(1, 'a'), row(2, 'b'), row(3, 'far-too-long'), row(4, 'd'), row(5, 'e')]);
  // The batch's first load is refused for id 3; the second (the other four rows, same label)
  // commits, and its reply is held long past the sinker's timeout.
  fault = await armFault({
    type: 'slow_reply',
    commit: 'before',
    delayMs: 60_000,
    count: 2,
    label: `^${s.name}:[^:]*:0:0$`,
  });
  const a = await startSinker(s, 'a', over);
  procs.push(a);
  const deadline = Date.now() + 30_000;
  while ((await rowCount(s)) < 4) {
    assert.ok(Date.now() < deadline, `sinker A: the four good rows not in after 30 s:\n${a.tail()}`);
    await sleep(50);
  }
  // Committed, not yet recorded in Redis (the reply is held): kill it now.
  await a.kill();
  // Both attempts met the fault (a fault that fired its count is gone from the list).
  assert.equal((await faultsFired()).has(fault), false, 'the load was not refused once, then committed');
  assert.deepEqual(
    readDlq(s).map((d) => d.offset),
    ['2'],
  );
  await disarmFault(fault);

  const b = await startSinker(s, 'b', over);
  procs.push(b);
  await waitCaughtUp(s, 60_000);
  // The producer corrects id 3.
  await produceValues(s, [row(3, 'c')]);
  await waitCaughtUp(s, 60_000);
  await waitQuiet(s, 1000, 15_000);
  await assertExactlyOnce(s, [1n, 2n, 3n, 4n, 5n], 'the corrected id 3 loaded after the settle');
  assert.equal((await b.term()).code, 0, b.tail());
});
