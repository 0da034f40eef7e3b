// DROP COLUMN and MODIFY COLUMN (a wider type, moved to another place) mid-stream, with loads in
// flight, on a JSON sink refreshing its schema every second. Batches cut under the old column list
// load after the change (JSON lines name their columns: a dropped column's key is ignored), rows after
// the switch are mapped to the new columns, and every message is in Doris once with its own values.
//
// The test bed's emulator may run code older than this tree (it is started once for everyone), so
// this file runs its own emulator in-process on the test bed's MariaDB under a private prefix, and
// points the shared helpers at it through an env file of its own (DORIS_SINKER_ENV).
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { type Emulator, startEmulator } from '../../emulator/emulator.ts';
import { type GeneratedEvent, takeEvents } from '../../support/events.ts';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
import { envFilePath } from '../../support/testbed.ts';

const PASSWORD = 'schema-drop-modify';
const prefix = `sdm_${process.pid}_`;
let emu: Emulator;
let env: Record<string, string>;
let h: typeof import('./helpers.ts');
let s: import('./helpers.ts').Scenario;
let merged: import('./helpers.ts').Scenario;
let sinker: SinkerProcess | undefined;
const envFile = join(tmpdir(), `schema-drop-modify-${process.pid}.env`);

before(async () => {
  env = {};
  for (const line of readFileSync(envFilePath(), 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !line.startsWith('#')) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  emu = await startEmulator({
    password: PASSWORD,
    controlPort: 0,
    mysql: {
      host: env.MARIADB_HOST!,
      port: Number(env.MARIADB_PORT),
      user: env.MARIADB_USER!,
      password: env.MARIADB_PASSWORD!,
      dbPrefix: prefix,
    },
    ddl: [],
  });
  await emu.engine.createDatabase('test_db');
  const ours = {
    ...env,
    DORIS_FE_HTTP: `127.0.0.1:${emu.fePort}`,
    DORIS_BE_HTTP: `127.0.0.1:${emu.bePorts[0]}`,
    DORIS_QUERY: `127.0.0.1:${emu.queryPort}`,
    DORIS_CONTROL: `127.0.0.1:${emu.controlPort}`,
    DORIS_PASSWORD: PASSWORD,
    DORIS_EMULATOR_DB_PREFIX: prefix,
  };
  const file = join(tmpdir(), `schema-drop-modify-${process.pid}.env`);
  writeFileSync(
    file,
    `${Object.entries(ours)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  process.env.DORIS_SINKER_ENV = envFile;
  // Imported only now: the helpers read the env file on first use.
  h = await import('./helpers.ts');
  s = h.scenario('schema-dm');
  merged = h.scenario('schema-dm-merged', 8);
  for (const x of [s, merged]) {
    await h.createTopic(x);
    await h.createTable(x);
  }
});

after(async () => {
  await sinker?.kill();
  await h?.cleanup(s);
  await h?.cleanup(merged);
  await h?.closeStorage();
  await emu?.close();
  // It holds the test bed's MariaDB password.
  rmSync(envFile, { force: true });
  const maria = await mysql.createConnection({
    host: env.MARIADB_HOST,
    port: Number(env.MARIADB_PORT),
    user: env.MARIADB_USER,
    password: env.MARIADB_PASSWORD,
  });
  const [dbs] = await maria.query<mysql.RowDataPacket[]>(`SHOW DATABASES LIKE '${prefix}%'`);
  for (const row of dbs) await maria.query(`DROP DATABASE \`${Object.values(row)[0] as string}\``);
  await maria.end();
});

function events(first: bigint, count: number): GeneratedEvent[] {
  return takeEvents({ seed: Number(first), mix: 'clean', firstId: first }, count);
}

async function alter(sql: string): Promise<void> {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: emu.queryPort,
    user: 'root',
    password: PASSWORD,
    database: 'test_db',
  });
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

async function produce(list: GeneratedEvent[], to = s): Promise<void> {
  await h.produceValues(
    to,
    list.map((e) => e.value),
  );
}

test('DROP COLUMN, then MODIFY COLUMN (INT → BIGINT, moved after id) mid-stream: each message once, each value in its column', async () => {
  sinker = await h.startSinker(s, 'sinker', { schema: { auto: { refresh_interval: 1 } } });
  const first = events(1n, 1500);
  await produce(first);
  await h.waitForRows(s, 300, 30_000);
  // Loads of the first slice are still in flight and batches are cut under 66 columns.
  await alter(`ALTER TABLE test_db.${s.table} DROP COLUMN extend50`);
  const second = events(1501n, 1000);
  await produce(second);
  await sinker.waitForLog(/^table schema changed; now loading the new columns/, 15_000);
  const third = events(2501n, 1000);
  await produce(third);
  await h.waitForRows(s, 2000, 30_000);
  await alter(`ALTER TABLE test_db.${s.table} MODIFY COLUMN priority BIGINT AFTER id`);
  const fourth = events(3501n, 1000);
  await produce(fourth);
  await h.waitForRows(s, 3000, 30_000);
  const all = [...first, ...second, ...third, ...fourth];
  await h.drainAndAssert(
    s,
    all.map((e) => e.id),
    'across DROP and MODIFY COLUMN',
    60_000,
  );

  const [rows] = await h
    .storage()
    .query(
      `SELECT CAST(id AS CHAR) AS id, title, extend49, CAST(priority AS CHAR) AS priority, CAST(arrive_time AS CHAR) AS arrive_time FROM \`${s.table}\``,
    );
  const byId = new Map((rows as Record<string, string | null>[]).map((r) => [r.id as string, r]));
  for (const e of all) {
    const r = byId.get(String(e.id))!;
    assert.equal(r.title, e.fields!.title, `row ${e.id} title`);
    assert.equal(r.extend49, (e.fields!.extend49 as string | undefined) ?? '', `row ${e.id} extend49`);
    assert.equal(r.priority, String(e.fields!.priority), `row ${e.id} priority`);
    assert.equal(r.arrive_time, String(e.fields!.arrive_time), `row ${e.id} arrive_time`);
  }
  const changed = () => sinker!.logLines.filter((l) => String(l.msg).startsWith('table schema changed'));
  for (let i = 0; i < 60 && changed().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 250));
  const changes = changed();
  // What a user reads: which columns went, which changed type, and that the order changed.
  assert.deepEqual(
    changes.map((l) => [l.columns, l.added, l.dropped, l.changed, l.reordered]),
    [
      [65, [], ['extend50'], [], false],
      [65, [], [], ['priority: int → bigint'], true],
    ],
  );
  const m = await sinker.scrape();
  assert.equal(metricValue(m, 'schema_changes_total'), 2);
  assert.equal(metricValue(m, 'schema_columns'), 65);
  assert.deepEqual(h.readDlq(s), [], 'nothing dead-lettered across the changes');
  assert.deepEqual(await sinker.term(), { code: 0, signal: null }, sinker.tail());
});

test('merged two-phase loads across ADD COLUMN and DROP COLUMN: every message once, each value in its column', async () => {
  const p = await h.startSinker(merged, 'merged', {
    schema: { auto: { refresh_interval: 1 } },
    batch: { merge_partitions: true, max_batch_interval: 0.3, max_batch_rows: 2000 },
  });
  try {
    const first = events(1n, 2000);
    await produce(first, merged);
    await h.waitForRows(merged, 200, 30_000);
    // Merged loads are precommitted, then committed once Redis records the decision: an ALTER
    // between the two must not cost their rows.
    await alter(`ALTER TABLE test_db.${merged.table} ADD COLUMN added_late VARCHAR(16) AFTER id`);
    await alter(`ALTER TABLE test_db.${merged.table} DROP COLUMN extend49`);
    const second = events(2001n, 2000);
    await produce(second, merged);
    const all = [...first, ...second];
    await h.drainAndAssert(
      merged,
      all.map((e) => e.id),
      'merged loads across ADD and DROP COLUMN',
      60_000,
    );
    const [rows] = await h
      .storage()
      .query(`SELECT CAST(id AS CHAR) AS id, title, extend48, added_late FROM \`${merged.table}\``);
    const byId = new Map((rows as Record<string, string | null>[]).map((r) => [r.id as string, r]));
    for (const e of all) {
      const r = byId.get(String(e.id))!;
      assert.equal(r.title, e.fields!.title, `row ${e.id} title`);
      assert.equal(r.extend48, (e.fields!.extend48 as string | undefined) ?? '', `row ${e.id} extend48`);
      assert.ok(r.added_late === null || r.added_late === '', `row ${e.id} added_late ${r.added_late}`);
    }
    assert.deepEqual(h.readDlq(merged), [], 'nothing dead-lettered across the changes');
    assert.deepEqual(await p.term(), { code: 0, signal: null }, p.tail());
  } finally {
    await p.kill();
  }
});
