// Schema change mid-stream: `ALTER TABLE … ADD COLUMN` on the emulator's query port while the sinker
// runs with schema.auto.refresh_interval 1 s. Every message carries the new field from the start (an
// extra field until the column exists); once the sinker reports the new schema, new messages fill the
// new column. Nothing is lost or doubled, and no value lands in another row or column. A CSV sink,
// whose header names the columns, stops instead (exit 3, to be restarted) and its restart loads on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { type GeneratedEvent, serialize, takeEvents } from '../../support/events.ts';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
import { testbed, testbedEnv } from '../../support/testbed.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  drainAndAssert,
  produceValues,
  type Scenario,
  scenario,
  startSinker,
  storage,
  waitForRows,
} from './helpers.ts';
import { SilentProxy } from './silent-proxy.ts';

const s: Scenario = scenario('schema');
const csv: Scenario = scenario('schema-csv', 2);
const outage: Scenario = scenario('schema-outage', 1);
let sinker: SinkerProcess | undefined;

before(async () => {
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  await sinker?.kill();
  await cleanup(s);
  await cleanup(csv);
  await cleanup(outage);
  await closeStorage();
});

/** Clean events with ids from `first`, each carrying `new_field` = "nf-<id>" (and no invalid JSON). */
function events(first: bigint, count: number): GeneratedEvent[] {
  return takeEvents({ seed: Number(first), mix: 'clean', firstId: first }, count).map((e) => {
    const fields = { ...e.fields!, new_field: `nf-${e.id}` };
    return { ...e, fields, value: serialize(fields) };
  });
}

async function alter(sql: string): Promise<void> {
  const [host, port] = testbed('DORIS_QUERY').split(':');
  const conn = await mysql.createConnection({
    host,
    port: Number(port),
    user: testbed('DORIS_USER'),
    password: testbedEnv().DORIS_PASSWORD ?? '',
    database: 'test_db',
  });
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

test('ALTER TABLE ADD COLUMN mid-stream: new messages fill the new column, nothing lost or mis-mapped', async () => {
  sinker = await startSinker(s, 'sinker', { schema: { auto: { refresh_interval: 1 } } });
  const before1 = events(1n, 1500);
  await produceValues(
    s,
    before1.map((e) => e.value),
  );
  await waitForRows(s, 500, 30_000);

  // Alter while the rest of the first slice is still being loaded, and keep producing.
  await alter(`ALTER TABLE test_db.${s.table} ADD COLUMN new_field VARCHAR(64)`);
  const during = events(1501n, 1000);
  await produceValues(
    s,
    during.map((e) => e.value),
  );
  await sinker.waitForLog(/^table schema changed; now loading the new columns/, 15_000);

  const after1 = events(2501n, 1500);
  await produceValues(
    s,
    after1.map((e) => e.value),
  );
  const all = [...before1, ...during, ...after1];
  await drainAndAssert(
    s,
    all.map((e) => e.id),
    'across the schema change',
    60_000,
  );

  const [rows] = await storage().query(
    `SELECT CAST(id AS CHAR) AS id, new_field, title, extend50, CAST(priority AS CHAR) AS priority FROM \`${s.table}\``,
  );
  const byId = new Map((rows as Record<string, string | null>[]).map((r) => [r.id as string, r]));
  let filled = 0;
  for (const e of all) {
    const r = byId.get(String(e.id))!;
    // Filled or not (rows loaded before the switch have no value), never someone else's value.
    if (r.new_field !== null && r.new_field !== '') {
      assert.equal(r.new_field, `nf-${e.id}`, `row ${e.id} new_field`);
      filled++;
    }
    assert.equal(r.title, e.fields!.title, `row ${e.id} title`);
    assert.equal(r.extend50, (e.fields!.extend50 as string | undefined) ?? '', `row ${e.id} extend50`);
    assert.equal(r.priority, String(e.fields!.priority), `row ${e.id} priority`);
  }
  // Everything produced after the sinker reported the new schema has the new column filled.
  for (const e of after1) assert.equal(byId.get(String(e.id))!.new_field, `nf-${e.id}`, `row ${e.id} after the switch`);
  assert.ok(filled >= after1.length, `${filled} rows with new_field`);

  const m = await sinker.scrape();
  assert.equal(metricValue(m, 'schema_changes_total'), 1);
  assert.equal(metricValue(m, 'schema_columns'), 67);
  const exit = await sinker.term();
  assert.deepEqual(exit, { code: 0, signal: null }, sinker.tail());
});

test('a CSV sink stops to reload a changed schema with exit code 3 (not 0), and its restart loads the rest once', async () => {
  await createTopic(csv);
  await createTable(csv);
  const over = { doris: { format: 'csv' }, schema: { auto: { refresh_interval: 1 } } };
  const first = events(1n, 200);
  let p = await startSinker(csv, 'csv', over);
  try {
    await produceValues(
      csv,
      first.map((e) => e.value),
    );
    assert.equal(await waitForRows(csv, first.length, 30_000), first.length);
    await alter(`ALTER TABLE test_db.${csv.table} ADD COLUMN new_field VARCHAR(64)`);
    await p.waitForLog(/^schema changed in a way the running writer cannot follow; exiting to reload$/, 15_000);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
    const exit = await p.exited;
    clearTimeout(timer);
    // Before: 0, which a supervisor restarting only failures (systemd Restart=on-failure) leaves stopped.
    assert.deepEqual(exit, { code: 3, signal: null }, p.tail());
    await p.waitForLog(/^stopped; everything consumed is in Doris$/, 1000);
  } finally {
    await p.kill();
  }

  // The supervisor's restart: the new column is loaded from the start.
  p = await startSinker(csv, 'csv-restarted', over);
  try {
    const second = events(201n, 200);
    await produceValues(
      csv,
      second.map((e) => e.value),
    );
    await drainAndAssert(
      csv,
      [...first, ...second].map((e) => e.id),
      'across the CSV restart',
    );
    const [rows] = await storage().query(
      `SELECT CAST(id AS CHAR) AS id, new_field FROM \`${csv.table}\` WHERE id > 200 ORDER BY id`,
    );
    assert.deepEqual(
      (rows as { id: string; new_field: string | null }[]).filter((r) => r.new_field !== `nf-${r.id}`),
      [],
      'rows after the restart without their new_field',
    );
    assert.deepEqual(await p.term(), { code: 0, signal: null }, p.tail());
  } finally {
    await p.kill();
  }
});

test('a DESCRIBE outage during refresh keeps the schema, is logged once (not per tick), and its end is logged', async () => {
  await createTopic(outage);
  await createTable(outage);
  const [host, port] = testbed('DORIS_QUERY').split(':');
  const proxy = new SilentProxy(host!, Number(port));
  await proxy.start();
  const proxyPort = Number(proxy.address.split(':')[1]);
  const p = await startSinker(outage, 'outage', {
    doris: { query_port: proxyPort },
    schema: { auto: { refresh_interval: 1 } },
  });
  try {
    const failed = /^schema refresh failed; keeping the current schema$/;
    await proxy.close(); // DESCRIBE: ECONNREFUSED
    await p.waitForLog(failed, 15_000);
    // Several more ticks fail while the query port is down (one a second); loading goes on meanwhile.
    const first = events(1n, 100);
    await produceValues(
      outage,
      first.map((e) => e.value),
    );
    assert.equal(await waitForRows(outage, first.length, 30_000), first.length);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    // Before: one warning per tick of the outage.
    assert.equal(p.logLines.filter((l) => failed.test(String(l.msg))).length, 1, p.tail());
    await proxy.start(proxyPort);
    const back = await p.waitForLog(/^schema refresh reads the table again$/, 15_000);
    assert.ok(Number(back.failures) >= 3, `failures ${back.failures}`);
    assert.equal(p.logLines.filter((l) => failed.test(String(l.msg))).length, 1, p.tail());
    assert.equal(metricValue(await p.scrape(), 'schema_changes_total'), 0);
    assert.deepEqual(await p.term(), { code: 0, signal: null }, p.tail());
  } finally {
    await p.kill();
    await proxy.close();
  }
});
