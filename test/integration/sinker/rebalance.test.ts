// Rebalance during loads: a second sinker joins the group while the first has loads in flight
// (slowed by the emulator so revocations land mid-load), later leaves with SIGTERM; a third joins and
// is SIGKILLed (its partitions move only when its session expires). Across all of them Doris holds
// every produced message exactly once: a revoked owner's load and the new owner's settle meet on the
// same label and intent (DESIGN §3, zombie owner).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SinkerProcess } from '../../support/sinker-process.ts';
import {
  armFault,
  backgroundProducer,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  disarmFault,
  drainAndAssert,
  frozenOwnerScenario,
  type Scenario,
  type SinkerOverrides,
  scenario,
  sleep,
  startSinker,
} from './helpers.ts';

const s: Scenario = scenario('rebalance', 6);
const procs: SinkerProcess[] = [];
const faults: number[] = [];

before(async () => {
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  for (const f of faults) await disarmFault(f);
  for (const p of procs) await p.kill();
  await cleanup(s);
  await closeStorage();
});

const assignedTo = (p: SinkerProcess): number[][] =>
  p.logLines.filter((l) => l.msg === 'consumer group assignment').map((l) => l.current as number[]);

test('a second sinker joins and leaves (SIGTERM, then SIGKILL) during loads: exactly once across all', async () => {
  const over: SinkerOverrides = {
    kafka: { session_timeout: 6 },
    batch: { max_batch_interval: 0.3, max_batch_rows: 200 },
    doris: { timeout: 10 },
  };
  // Slow loads (committed, reply held 1.5 s): revocations find loads in flight.
  faults.push(await armFault({ type: 'slow_reply', delayMs: 1500, commit: 'before', count: 40, label: `^${s.name}:` }));
  const a = await startSinker(s, 'a', over);
  procs.push(a);
  const prod = backgroundProducer(s, 150, 200, 500);
  await sleep(2000);

  const b = await startSinker(s, 'b', over);
  procs.push(b);
  await sleep(4000);
  const bExit = await b.term();
  assert.equal(bExit.code, 0, `B's graceful leave:\n${b.tail()}`);

  const c = await startSinker(s, 'c', over);
  procs.push(c);
  await sleep(3000);
  await c.kill();
  await sleep(2000);

  const ids = await prod.stop();
  await drainAndAssert(s, ids, 'after join/leave/kill rebalances', 90_000);

  // The rebalances did split the partitions: B and C each owned some while A kept others.
  const bParts = assignedTo(b).flat();
  const cParts = assignedTo(c).flat();
  assert.ok(bParts.length > 0 && cParts.length > 0, `B owned ${bParts}, C owned ${cParts}`);
  assert.ok(
    assignedTo(a).some((cur) => cur.length < s.partitions),
    `A gave partitions away: ${JSON.stringify(assignedTo(a))}`,
  );
  assert.ok(a.running, a.tail());
  const aExit = await a.term();
  assert.deepEqual(aExit, { code: 0, signal: null }, a.tail());
  await drainAndAssert(s, ids, 'after A stopped', 10_000);
  const revokedLoads = procs.flatMap((p) => p.logLines.filter((l) => l.msg === 'partition revoked')).length;
  process.stderr.write(`rebalance: ${ids.length} rows, ${revokedLoads} partition revocations\n`);
});

test('a zombie owner: a sinker frozen mid-load past its session wakes up after its partitions moved: exactly once', async () => {
  const z = scenario('zombie', 4);
  await createTopic(z);
  await createTable(z);
  const mine: SinkerProcess[] = [];
  try {
    const over: SinkerOverrides = {
      kafka: { session_timeout: 6 },
      batch: { max_batch_interval: 0.3, max_batch_rows: 200 },
      doris: { timeout: 20 },
    };
    // Loads held 3 s (committed first): A freezes with loads in flight and intents open.
    const { b } = await frozenOwnerScenario(z, over, { seed: 601, holdMs: 3000, procs: mine, faults });
    // B owned all four partitions while A was frozen.
    assert.ok(
      assignedTo(b).some((cur) => cur.length === 4),
      `B took over: ${JSON.stringify(assignedTo(b))}`,
    );
  } finally {
    for (const p of mine) await p.kill();
    await cleanup(z);
  }
});
