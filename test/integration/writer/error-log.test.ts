// A batch Doris refuses for data quality, against the emulator's error log as the BE writes it: the
// writer names the refused rows from the log's three forms (reader: raw row; scanner: values joined by
// spaces; table sink: empty line, the reason naming column and value), dead-letters them with Doris's
// reason and loads the rest once, in 2 Stream Loads instead of one bisect probe after another.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { LoadBatch } from '../../../sinker/batch.ts';
import { createEncoder, LINE_DELIMITER, type LoadFormat } from '../../../sinker/encode/encoders.ts';
import type { Column, DorisType } from '../../../sinker/schema/types.ts';
import { testbed, testbedEnv } from '../../support/testbed.ts';
import { armFault, emulator } from './emulator.ts';
import { closeWriters, SINK, writerFor } from './harness.ts';

const tables: string[] = [];
let pool: mysql.Pool;

before(async () => {
  await emulator();
  pool = mysql.createPool({
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    connectionLimit: 2,
  });
});
after(async () => {
  await closeWriters();
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS \`${storageDb()}\`.\`${t}\``);
  await pool.end();
});

function storageDb(): string {
  return `${testbedEnv().DORIS_EMULATOR_DB_PREFIX ?? ''}test_db`;
}

/**
 * A table of its own: id BIGINT NOT NULL, [src VARCHAR(16) DEFAULT "kafka" — a column the sinker
 * does not load,] name VARCHAR(8), amount DECIMAL(5,2), note STRING NOT NULL, flag BOOLEAN.
 */
async function table(tag: string, unloaded: boolean): Promise<string> {
  const name = `it_${tag}_${randomUUID().slice(0, 8)}`;
  tables.push(name);
  const e = await emulator();
  const ddl = `CREATE TABLE test_db.${name} (id BIGINT NOT NULL, ${unloaded ? 'src VARCHAR(16) DEFAULT "kafka", ' : ''}name VARCHAR(8), amount DECIMAL(5,2), note STRING NOT NULL, flag BOOLEAN) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ("replication_num" = "1")`;
  const r = await fetch(`http://${e.control}/tables`, {
    method: 'POST',
    body: JSON.stringify({ ddl }),
    headers: { 'content-type': 'application/json' },
  });
  assert.ok(r.ok, `create ${name}: HTTP ${r.status} ${await r.text()}`);
  return name;
}

function column(name: string, type: DorisType, nullable = true): Column {
  return { name, type, nullable, isKey: name === 'id', default: null, extra: '' };
}
/** The columns the sinker loads, in table order. */
const COLUMNS = [
  column('id', { kind: 'bigint' }, false),
  column('name', { kind: 'varchar', length: 8 }),
  column('amount', { kind: 'decimal', precision: 5, scale: 2 }),
  column('note', { kind: 'string' }, false),
  column('flag', { kind: 'boolean' }),
];

type Values = [string, string | null, string | null, string | null, string | null];

/** A row: its values and what Doris must do with it (undefined: load it; else the reason's pattern). */
interface Case {
  values?: Values;
  /** A row no encoder writes (the reader refuses it), sent as is. */
  raw?: (id: number) => string;
  refused?: RegExp;
}

const TOO_LONG = /^column_name\[name\], the length of input is too long than schema/;
const DECIMAL = /^column_name\[amount\], decimal value is not valid for definition/;
const STRICT = /^column\(amount\) value is incorrect while strict mode is true/;
const NOT_NULL = /^column\(note\) values is null while columns is not nullable/;

/** Rows of every stage, with good rows around them that look alike (spaces, empty strings, NULLs). */
function mixedCases(format: LoadFormat): Case[] {
  const good = (i: number): Case => ({
    values: [String(i), i % 3 === 0 ? 'a b' : i % 3 === 1 ? '' : null, '1.5', i % 2 ? 'x y z' : '', '1'],
  });
  const cases: Case[] = [];
  for (let i = 0; i < 40; i++) cases.push(good(i));
  const bad: Case[] = [
    { values: ['0', 'waytoolong1', '1', 'n', '1'], refused: TOO_LONG },
    { values: ['0', 'waytoolong2', '1', 'a b', null], refused: TOO_LONG },
    { values: ['0', 'ok', '12345.678', 'n', '0'], refused: DECIMAL },
    { values: ['0', 'ok', '-99999', '', '1'], refused: DECIMAL },
    { values: ['0', 'x y', 'abc', 'n', '1'], refused: STRICT },
    { values: ['0', '', '1.2.3', 'a "q" b', '1'], refused: STRICT },
    { values: ['0', 'ok', '1', null, '1'], refused: NOT_NULL },
    { values: ['0', null, null, null, null], refused: NOT_NULL },
    format === 'csv'
      ? { raw: (id) => `${id},"short row"`, refused: /actual column number in csv file is {2}less than/ }
      : { raw: (id) => `{"id":${id},"name":"cut`, refused: /^Parse json data for JsonDoc failed/ },
  ];
  // Spread the bad rows through the batch; ids are set when the batch is built.
  bad.forEach((b, k) => {
    cases.splice(3 + k * 4, 0, b);
  });
  return cases;
}

function batchOf(format: LoadFormat, cases: Case[], first: number): { batch: LoadBatch; ids: number[] } {
  const enc = createEncoder(format, COLUMNS);
  const rows: string[] = [];
  const ids: number[] = [];
  cases.forEach((c, k) => {
    const id = first + k;
    ids.push(id);
    if (c.raw) rows.push(c.raw(id));
    else {
      const v = [...(c.values as Values)];
      v[0] = String(id);
      rows.push(enc.encode(v));
    }
  });
  return {
    batch: {
      topic: 'events',
      partition: 0,
      firstOffset: String(first),
      lastOffset: String(first + rows.length - 1),
      rows,
      rowOffsets: ids.map(String),
      bytes: rows.reduce((s, r) => s + Buffer.byteLength(r), 0),
    },
    ids,
  };
}

async function storedIds(t: string): Promise<number[]> {
  const [rows] = await pool.query(`SELECT id FROM \`${storageDb()}\`.\`${t}\` ORDER BY id`);
  return (rows as { id: number | string }[]).map((r) => Number(r.id));
}

/** Loads the cases as one batch; checks the DLQ (rows, reasons) and the table (good rows once). */
async function loadAndCheck(format: LoadFormat, t: string, cases: Case[], first: number) {
  const enc = createEncoder(format, COLUMNS);
  const { w, dlq } = await writerFor(
    t,
    { format, stream_load_properties: { strict_mode: 'true' } },
    { encoding: { headers: { ...enc.headers }, lineDelimiter: LINE_DELIMITER } },
  );
  const { batch, ids } = batchOf(format, cases, first);
  const r = await w.load(batch);
  assert.equal(r.status, 'loaded');
  const refused = cases.map((c, k) => [c, ids[k] as number] as const).filter(([c]) => c.refused);
  assert.deepEqual(
    dlq.map((d) => Number(d.offset)).sort((a, b) => a - b),
    refused.map(([, id]) => id),
    'the refused rows, and only those, are dead-lettered',
  );
  for (const [c, id] of refused) {
    const d = dlq.find((x) => Number(x.offset) === id);
    assert.match(d?.reason ?? '', c.refused as RegExp, `reason of row ${id}: ${batch.rows[id - first]}`);
    assert.equal(d?.row, batch.rows[id - first]);
  }
  const good = ids.filter((_, k) => !cases[k]?.refused);
  assert.deepEqual(await storedIds(t), good, 'every good row loaded exactly once');
  assert.equal(r.loadedRows, good.length);
  assert.equal(await w.labelState(r.label), 'VISIBLE');
  return r;
}

test('CSV: reader, scanner and sink refusals named from the log; 2 Stream Loads', async () => {
  const t = await table('elogcsv', false);
  const r = await loadAndCheck('csv', t, mixedCases('csv'), 1000);
  assert.equal(r.deadLetteredRows, 9);
  assert.equal(r.attempts, 2, 'the refused load and the load of the rest: no bisect probe');
});

test('JSON lines, table with a column the sinker does not load (its default shows in the scanner lines)', async () => {
  const t = await table('elogjson', true);
  const r = await loadAndCheck('json', t, mixedCases('json'), 2000);
  assert.equal(r.deadLetteredRows, 9);
  assert.equal(r.attempts, 2);
});

test('rows refused alike: copies of one row, and one long value under several ids, all named', async () => {
  const t = await table('elogdup', false);
  const alike: Case = { values: ['0', 'waytoolong', '1', 'n', '1'], refused: TOO_LONG };
  const copy: Case = { values: ['0', 'ok', 'abc', 'n', '1'], refused: STRICT };
  const cases: Case[] = [alike, { values: ['0', 'ok', '1', 'n', '1'] }, alike, copy, alike, copy];
  const enc = createEncoder('csv', COLUMNS);
  const { batch } = batchOf('csv', cases, 3000);
  // Kafka messages of the same content: the same row text at two offsets.
  batch.rows[3] = enc.encode(['2999', 'ok', 'abc', 'n', '1']);
  batch.rows[5] = batch.rows[3] as string;
  const { w, dlq } = await writerFor(
    t,
    { stream_load_properties: { strict_mode: 'true' } },
    { encoding: { headers: { ...enc.headers }, lineDelimiter: LINE_DELIMITER } },
  );
  const r = await w.load(batch);
  assert.deepEqual(dlq.map((d) => d.offset).sort(), ['3000', '3002', '3003', '3004', '3005']);
  assert.match(dlq.find((d) => d.offset === '3005')?.reason ?? '', STRICT);
  assert.match(dlq.find((d) => d.offset === '3004')?.reason ?? '', TOO_LONG);
  assert.deepEqual(await storedIds(t), [3001]);
  assert.equal(r.attempts, 2);
});

test('NULL and the string "NULL" print alike: only those two rows are bisected', async () => {
  const t = await table('elognull', false);
  const cases: Case[] = [
    { values: ['0', 'ok', '1', 'a', '1'] },
    { values: ['0', 'same', '1', null, '1'], refused: NOT_NULL },
    { values: ['0', 'ok', '1', 'b', '1'] },
    { values: ['0', 'same', '1', 'NULL', '1'] },
    { values: ['0', 'ok', '1', 'c', '1'] },
  ];
  // Same id for both look-alikes, so their dumps are equal: build the batch by hand.
  const enc = createEncoder('csv', COLUMNS);
  const { batch } = batchOf('csv', cases, 4000);
  batch.rows[3] = enc.encode(['4001', 'same', '1', 'NULL', '1']);
  const { w, dlq } = await writerFor(
    t,
    { stream_load_properties: { strict_mode: 'true' } },
    { encoding: { headers: { ...enc.headers }, lineDelimiter: LINE_DELIMITER } },
  );
  const r = await w.load(batch);
  assert.deepEqual(
    dlq.map((d) => d.offset),
    ['4001'],
  );
  assert.match(dlq[0]?.reason ?? '', NOT_NULL);
  assert.deepEqual(await storedIds(t), [4000, 4001, 4002, 4004]);
  // Refused load, probe of the two look-alikes, one probe each, the load of the rest.
  assert.equal(r.attempts, 5);
});

test('more refused rows than the 51 the log holds: named 51 at a time, the rest loaded again', async () => {
  const t = await table('elogcut', false);
  const cases: Case[] = [];
  for (let i = 0; i < 100; i++) {
    cases.push(
      i % 10 < 7
        ? { values: ['0', `toolong${i}x`, '1', 'n', '1'], refused: TOO_LONG }
        : { values: ['0', 'ok', '1', `good ${i}`, '1'] },
    );
  }
  // 70 refused: the zero-tolerance load stops at the 52nd; the log names the first 51, the next
  // load's log the other 19, then the 30 good rows load.
  const r = await loadAndCheck('csv', t, cases, 5000);
  assert.equal(r.deadLetteredRows, 70);
  assert.equal(r.attempts, 3);
});

/** 51 rows the sink refuses (too long) among 29 good ones: the zero-tolerance load fails on the ratio. */
function fiftyOneRefused(): Case[] {
  const cases: Case[] = [];
  for (let i = 0; i < 80; i++) {
    cases.push(
      i < 51
        ? { values: ['0', `toolong${i}x`, '1', 'n', '1'], refused: TOO_LONG }
        : { values: ['0', 'ok', '1', `g ${i}`, '1'] },
    );
  }
  return cases;
}

test('a log that stops with TOO MUCH ERROR after 50 entries: the 50 named, the rest loaded again, no bisecting', async () => {
  const t = await table('elogstop', false);
  const first = 6000;
  await armFault({ type: 'error_log_form', form: 'too_much_error', label: `^${SINK}:events:0:${first}$` });
  const r = await loadAndCheck('csv', t, fiftyOneRefused(), first);
  assert.equal(r.deadLetteredRows, 51);
  // Refused (log: 50 entries and the stop line), refused (the 51st named), the 29 good rows. Read
  // as a complete log short of one row, the first would have bisected the 30 rows it did not name.
  assert.equal(r.attempts, 3);
});

test('entries cut at load_error_log_limit_bytes and a Summary line: the cut rows are found by bisecting, none guessed', async () => {
  const t = await table('elogcutbytes', false);
  const first = 7000;
  // 60 bytes cut every sink entry (their reasons are longer) but not the scanner's short ones.
  await armFault({ type: 'error_log_form', form: 'summary', limitBytes: 60, label: `^${SINK}:events:0:${first}$` });
  const r = await loadAndCheck('csv', t, mixedCases('csv'), first);
  assert.equal(r.deadLetteredRows, 9);
});
