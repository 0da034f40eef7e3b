// kill -9 of the sinker at random points while messages keep arriving, at least ten times; then a
// last sinker drains the topic. Doris must hold every produced message exactly once: intents,
// watermarks and labels (DESIGN §3) cover every place a crash can land (mid-load, between load and
// Redis completion, between completion and the offset commit).
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
  readDlq,
  type Scenario,
  scenario,
  seededRandom,
  sleep,
  startSinker,
} from './helpers.ts';

const RUNS = Number(process.env.KILL9_RUNS ?? 10);
const s: Scenario = scenario('kill9');
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

test(`kill -9 at random points, ${RUNS} times while producing, then drain: every message exactly once`, async () => {
  const seed = Number(process.env.KILL9_SEED ?? Date.now() % 100_000);
  const rand = seededRandom(seed);
  // Loads held 0.5 s in the emulator (committed at the end of it): most kills land with loads in
  // flight and their intents open, which the next sinker must settle.
  fault = await armFault({ type: 'slow_reply', delayMs: 500, commit: 'after', count: 300, label: `^${s.name}:` });
  const producer = backgroundProducer(s, 100, 300);
  const waits: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const p = await startSinker(s, `run${run}`, {
      // A killed member holds its partitions until its session expires: keep that at the broker's minimum.
      kafka: { session_timeout: 6 },
      batch: { max_batch_interval: 0.2, max_batch_rows: 300 },
    });
    procs.push(p);
    const wait = 500 + Math.floor(rand() * 3500);
    waits.push(wait);
    await sleep(wait);
    const exit = await p.kill();
    assert.equal(exit.signal, 'SIGKILL', `run ${run} was killed, not exited on its own:\n${p.tail()}`);
  }
  const ids = await producer.stop();
  await disarmFault(fault);
  const last = await startSinker(s, 'drain', { kafka: { session_timeout: 6 }, batch: { max_batch_interval: 0.2 } });
  procs.push(last);
  await drainAndAssert(s, ids, `after ${RUNS} kills (seed ${seed}, waits ${waits.join(',')} ms)`, 90_000);
  const exit = await last.term();
  assert.deepEqual(exit, { code: 0, signal: null }, last.tail());
  // The DLQ is at-least-once across kills (replay loads a record once): every invalid message is there.
  const dlq = new Set(readDlq(s).map((d) => d.value));
  const lost = producer.invalid.filter((v) => !dlq.has(v));
  assert.equal(lost.length, 0, `${lost.length} of ${producer.invalid.length} invalid messages missing from the DLQ`);
  // Where the kills landed, as the next owners saw it: intents to reload (killed before the load
  // reached Doris), and Redis ahead of Kafka (killed between completing a load and committing it).
  const settles = procs.flatMap((p) => p.logLines.filter((l) => l.msg === 'partition settled'));
  const reloads = settles.filter((l) => Number(l.reload ?? 0) > 0).length;
  const ahead = settles.filter(
    (l) => l.watermark !== null && BigInt(l.watermark as string) >= BigInt((l.committed as string | null) ?? '0'),
  ).length;
  process.stderr.write(
    `kill9: seed ${seed}, ${ids.length} rows, ${settles.length} settles: ${reloads} with intents to reload, ${ahead} with Redis ahead of the committed offset\n`,
  );
});
