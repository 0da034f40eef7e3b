// Doris refusing the sink's setup (a wrong or rotated password, a table that is not there) refuses
// every batch alike: the sinker holds the data in Kafka rather than dead-letter the topic. Nothing
// goes to the DLQ, nothing is committed, /readyz says why, doris_load_blocked is 1, and once the cause
// is gone (a sinker with the right password, the table created) every message loads exactly once.
// Before, each batch was dead-lettered and its offsets committed within seconds.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import mysql from 'mysql2/promise';
import { metricValue, SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import { PASSWORD, queryRows, startTestEmulator, type TestEmulator } from '../emulator/helpers.ts';
import {
  cleanup,
  closeStorage,
  createNarrowNameTable,
  createTopic,
  drainAndAssert,
  NARROW_NAME_LOOSE_SCHEMA,
  produceValues,
  readDlq,
  rowCount,
  type Scenario,
  type SinkerOverrides,
  scenario,
  sinkerConfig,
  sleep,
  startSinker,
  waitCaughtUp,
} from './helpers.ts';

// Manual schema: the sinker starts without reading the table (DESCRIBE would stop it first).
const over: SinkerOverrides = {
  schema: NARROW_NAME_LOOSE_SCHEMA,
  batch: { max_batch_rows: 50, max_batch_interval: 0.3 },
};
const HELD = /^Doris refuses the sink's setup: loads held/;

const procs: SinkerProcess[] = [];
const scenarios: Scenario[] = [];
const emulators: TestEmulator[] = [];

after(async () => {
  for (const p of procs) await p.kill();
  for (const s of scenarios) await cleanup(s);
  for (const t of emulators) await t.close();
  await closeStorage();
});

/** Messages with ids first..first+count-1 (each a row of the narrow table). */
async function produceIds(s: Scenario, first: number, count: number): Promise<bigint[]> {
  const ids = Array.from({ length: count }, (_, i) => BigInt(first + i));
  await produceValues(
    s,
    ids.map((id) => JSON.stringify({ id: Number(id), name: 'ok' })),
  );
  return ids;
}

/** The group's committed offsets, partition → offset ('-1': none). */
async function committed(s: Scenario): Promise<string[]> {
  const admin = new Kafka({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    logLevel: logLevel.NOTHING,
    clientId: 'it-config-refusal',
  }).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: s.group, topics: [s.topic] });
    return (t?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => p.offset);
  } finally {
    await admin.disconnect();
  }
}

async function readyz(p: SinkerProcess): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${p.metricsPort}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text() };
}

/** Waits until the sinker has sent `n` Stream Loads Doris refused for the setup (doris_stream_load_total{status="config"}). */
async function waitRefusals(p: SinkerProcess, n: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (Date.now() < deadline) {
    if (!p.running) assert.fail(`the sinker exited:\n${p.tail()}`);
    seen = metricValue(await p.scrape(), 'doris_stream_load_total', { status: 'config' });
    if (seen >= n) return seen;
    await sleep(250);
  }
  assert.fail(`only ${seen} setup refusals after ${timeoutMs} ms, want ${n}:\n${p.tail()}`);
}

/** What a held sinker shows: the error line, /readyz 503 with the reason, the gauge at 1, no DLQ, no commit, no row. */
async function assertHeld(
  s: Scenario,
  p: SinkerProcess,
  reason: RegExp,
  { tableExists = true, loads = true, committedBefore = undefined as string[] | undefined } = {},
): Promise<void> {
  const line = await p.waitForLog(HELD, 90_000);
  assert.equal(line.level, 'error', JSON.stringify(line));
  assert.match(String(line.reason), reason, JSON.stringify(line));
  // max_retries is 3: more refusals than one batch's retries, and still holding.
  if (loads) await waitRefusals(p, 12, 120_000);
  const r = await readyz(p);
  assert.equal(r.status, 503, r.body);
  assert.match(r.body, /^doris: Doris refuses the sink's setup; loads held, nothing committed: /m, r.body);
  assert.match(r.body, reason, r.body);
  const text = await p.scrape();
  assert.equal(metricValue(text, 'doris_load_blocked'), 1);
  assert.equal(metricValue(text, 'kafka_fetch_paused'), 0, 'the memory bound is not what paused fetching');
  assert.deepEqual(readDlq(s), [], 'dead-lettered while Doris refused the setup');
  if (committedBefore) assert.deepEqual(await committed(s), committedBefore, 'offsets committed while held');
  else
    assert.ok(
      (await committed(s)).every((o) => o === '-1'),
      `offsets committed: ${await committed(s)}`,
    );
  if (tableExists) assert.equal(await rowCount(s), 0);
  // One error line for the hold, not one per retry.
  assert.equal(p.logLines.filter((l) => HELD.test(String(l.msg))).length, 1, p.tail());
}

test('a wrong password holds every batch in Kafka (no DLQ, no commit, not ready, gauge 1); SIGTERM leaves it unflushed; the right password loads each message once', async () => {
  const s = scenario('cfg-password', 2);
  scenarios.push(s);
  await createTopic(s);
  await createNarrowNameTable(s);
  const ids = await produceIds(s, 1, 300);

  const wrong = await sinkerConfig(s, { ...over, doris: { password: 'rotated-elsewhere' } });
  const a = new SinkerProcess({ dir: s.dir, tag: 'a-wrong-password', config: wrong });
  procs.push(a);
  await assertHeld(s, a, /Access denied|Unauthorized|auth/i);
  // The password is never in what the sinker reports.
  assert.ok(!a.output.includes('rotated-elsewhere'), 'the password reached the log');
  assert.ok(!(await readyz(a)).body.includes('rotated-elsewhere'));

  // SIGTERM while held: exits by itself within shutdown_timeout (20 s; term() SIGKILLs at 40 s),
  // code 1 (not flushed), still nothing committed or dead-lettered.
  assert.deepEqual(await a.term(), { code: 1, signal: null }, a.tail());
  assert.ok(
    (await committed(s)).every((o) => o === '-1'),
    `offsets committed: ${await committed(s)}`,
  );
  assert.deepEqual(readDlq(s), []);

  // Restarted with the password still wrong, over the intents the first one left open: the settle's
  // label-state questions are held the same way (not ready, gauge 1) instead of failing quietly.
  const a2 = new SinkerProcess({ dir: s.dir, tag: 'a2-still-wrong', config: wrong });
  procs.push(a2);
  await assertHeld(s, a2, /Access denied|Unauthorized|auth/i, { loads: false });
  const exit2 = await a2.term();
  assert.equal(exit2.signal, null, `did not exit by itself:\n${a2.tail()}`);
  assert.ok(
    (await committed(s)).every((o) => o === '-1'),
    `offsets committed: ${await committed(s)}`,
  );

  // The password fixed: everything loads, once.
  const b = await startSinker(s, 'b-right-password', over);
  procs.push(b);
  await waitCaughtUp(s, 90_000);
  await drainAndAssert(s, ids, 'after the password was fixed', 30_000);
  assert.deepEqual(readDlq(s), []);
  assert.equal(metricValue(await b.scrape(), 'doris_load_blocked'), 0);
  assert.deepEqual(await b.term(), { code: 0, signal: null }, b.tail());
});

test('a table that is not there holds the batches; once it is created they load exactly once, without a restart', async () => {
  const s = scenario('cfg-table', 2);
  scenarios.push(s);
  await createTopic(s);
  const ids = await produceIds(s, 1, 200);

  const a = new SinkerProcess({ dir: s.dir, tag: 'a-no-table', config: await sinkerConfig(s, over) });
  procs.push(a);
  await assertHeld(s, a, /not found|unknown table/i, { tableExists: false });

  await createNarrowNameTable(s);
  await a.waitForLog(/^loads no longer held: consumption resumes$/, 90_000);
  const more = await produceIds(s, 1001, 100);
  await waitCaughtUp(s, 90_000);
  await drainAndAssert(s, [...ids, ...more], 'after the table was created', 30_000);
  assert.deepEqual(readDlq(s), []);
  assert.equal(metricValue(await a.scrape(), 'doris_load_blocked'), 0);
  assert.equal((await readyz(a)).status, 200);
  assert.deepEqual(await a.term(), { code: 0, signal: null }, a.tail());
});

test('a table dropped mid-stream holds the batches that follow instead of dead-lettering them; created again, they load once', async () => {
  // A private emulator: DROP TABLE is newer than the shared test bed's running one may be.
  const t = await startTestEmulator();
  emulators.push(t);
  const s = scenario('cfg-drop', 2);
  scenarios.push(s);
  await createTopic(s);
  const q = await mysql.createConnection({
    host: '127.0.0.1',
    port: t.emu.queryPort,
    user: 'root',
    password: PASSWORD,
    database: 'test_db',
  });
  try {
    const ddl = `CREATE TABLE test_db.${s.table} (id BIGINT NOT NULL, name VARCHAR(8) NULL) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1`;
    const ids = async () =>
      (await queryRows(t.maria, `SELECT CAST(id AS CHAR) AS id FROM ${t.tableName('test_db', s.table)}`))
        .map((r) => String(r.id))
        .sort((a, b) => Number(a) - Number(b));
    await q.query(ddl);
    const doris = { fe_hosts: [t.fe], query_port: t.emu.queryPort, password: PASSWORD };
    const a = await startSinker(s, 'a', { ...over, doris });
    procs.push(a);
    const first = await produceIds(s, 1, 200);
    await waitCaughtUp(s, 90_000);
    assert.deepEqual(await ids(), first.map(String));
    const before = await committed(s);

    await q.query(`DROP TABLE test_db.${s.table}`);
    const second = await produceIds(s, 1001, 200);
    await assertHeld(s, a, /table not found/, { tableExists: false, committedBefore: before });

    await q.query(ddl);
    await a.waitForLog(/^loads no longer held: consumption resumes$/, 90_000);
    await waitCaughtUp(s, 90_000);
    // The rows loaded before the drop went with the table; every later message is in the new one, once.
    assert.deepEqual(await ids(), second.map(String));
    assert.deepEqual(readDlq(s), []);
    assert.equal(metricValue(await a.scrape(), 'doris_load_blocked'), 0);
    assert.deepEqual(await a.term(), { code: 0, signal: null }, a.tail());
  } finally {
    await q.end();
  }
});
