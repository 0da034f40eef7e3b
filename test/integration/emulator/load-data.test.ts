// Data through curl and node:http into MariaDB (doris-stream-load.md §2, §6; §11 behaviours 9-12):
// CSV with enclose/escape and tricky strings, JSON lines and arrays, gzip, columns/where, strict mode,
// the filter ratio with a working ErrorURL, early stop, empty body, and rows in MariaDB = rows loaded.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  basic,
  curlLoad,
  event,
  jsonLines,
  load,
  queryRows,
  request,
  startTestEmulator,
  type TestEmulator,
} from './helpers.ts';

let t: TestEmulator;
let dir: string;
before(async () => {
  t = await startTestEmulator();
  dir = mkdtempSync(join(tmpdir(), 'emu-load-'));
  await t.emu.engine.addDdl(
    `CREATE TABLE test_db.t_types (
      k BIGINT NOT NULL, s VARCHAR(12), d DECIMAL(6,2), dt DATETIME(3), b BOOLEAN, big LARGEINT, ti TINYINT, j JSON
    ) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1`,
  );
});
after(async () => {
  await t?.close();
});

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function mariaCount(table: string, where = '1=1'): Promise<number> {
  const rows = await queryRows(t.maria, `SELECT COUNT(*) AS n FROM ${t.tableName('test_db', table)} WHERE ${where}`);
  return Number(rows[0]!.n);
}

const TRICKY = [
  'comma, inside',
  'quote " inside',
  'new\nline',
  'tab\there',
  'ctrl\u0001char',
  'emoji 😀🎉',
  'CJK 中文字符',
  'back\\slash',
  '',
];

test('curl CSV with enclose and escape: tricky strings round-trip into MariaDB exactly', async () => {
  const esc = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = TRICKY.map((s, i) => [1000 + i, 7, 1, 2, esc(s), esc(`extend-${i}`)].join(','));
  const f = file('tricky.csv', `${lines.join('\n')}\n`);
  const r = await curlLoad(t.fe, 'test_db', 'tb_event', f, {
    label: 'csv-tricky',
    format: 'csv',
    column_separator: ',',
    enclose: '"',
    escape: '\\',
    columns: 'id, integration_id, arrive_time, event_time, title, extend1',
  });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.Status, 'Success', r.stdout);
  assert.equal(j.NumberLoadedRows, TRICKY.length);
  const rows = await queryRows(
    t.maria,
    `SELECT id, title, extend1 FROM ${t.tableName('test_db', 'tb_event')} WHERE id BETWEEN 1000 AND 1099 ORDER BY id`,
  );
  assert.deepEqual(
    rows.map((x) => x.title),
    TRICKY,
  );
  assert.equal(rows[3]!.extend1, 'extend-3');
});

test('curl JSON lines with tricky strings and a label; rows in MariaDB equal NumberLoadedRows', async () => {
  const rows = TRICKY.map((s, i) =>
    event(2000 + i, { title: s, labels: { tags: [s], n: i }, amount: '12.345', created_at: '2024-05-06 07:08:09.123' }),
  );
  const f = file('rows.json', jsonLines(rows));
  const r = await curlLoad(t.fe, 'test_db', 'tb_event', f, {
    label: 'json-lines-1',
    format: 'json',
    read_json_by_line: 'true',
  });
  const j = JSON.parse(r.stdout);
  assert.equal(j.Status, 'Success', r.stdout);
  assert.equal(j.NumberLoadedRows, TRICKY.length);
  assert.equal(await mariaCount('tb_event', 'id BETWEEN 2000 AND 2099'), j.NumberLoadedRows);
  const got = await queryRows(
    t.maria,
    `SELECT title, labels, amount, created_at FROM ${t.tableName('test_db', 'tb_event')} WHERE id = 2005`,
  );
  assert.equal(got[0]!.title, 'emoji 😀🎉');
  assert.deepEqual(JSON.parse(String(got[0]!.labels)), { tags: ['emoji 😀🎉'], n: 5 });
  assert.equal(got[0]!.amount, '12.3450');
  assert.equal(got[0]!.created_at, '2024-05-06 07:08:09.123');
});

test('JSON array with strip_outer_array, gzip body with compress_type, jsonpaths and json_root', async () => {
  const arr = JSON.stringify([event(3000), event(3001), event(3002)]);
  const r = await load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
    headers: { Authorization: basic(), format: 'json', strip_outer_array: 'true', compress_type: 'gz' },
    body: gzipSync(arr),
  });
  const j = JSON.parse(r.body);
  assert.equal(j.NumberLoadedRows, 3, r.body);
  assert.equal(await mariaCount('tb_event', 'id BETWEEN 3000 AND 3002'), 3);
  const paths = await load(`http://${t.fe}/api/test_db/t_types/_stream_load`, {
    headers: {
      Authorization: basic(),
      format: 'json',
      json_root: '$.payload',
      jsonpaths: '["$.key", "$.name"]',
      columns: 'k, s',
    },
    body: '{"payload": {"key": 7, "name": "seven"}}',
  });
  assert.equal(JSON.parse(paths.body).NumberLoadedRows, 1, paths.body);
  const row = await queryRows(t.maria, `SELECT s FROM ${t.tableName('test_db', 't_types')} WHERE k = 7`);
  assert.equal(row[0]!.s, 'seven');
});

test('strict mode, NOT NULL, ranges, ratio check, ErrorURL served by the BE', async () => {
  const body = [
    '1,okay,1.005,2024-01-01 00:00:00,true,1,1,{}',
    '2,too long string!,1,2024-01-01,1,1,1,{}',
    '3,x,1,not a date,0,1,1,[]',
    '\\N,x,1,2024-01-01,0,1,1,{}',
  ].join('\n');
  const put = (headers: Record<string, string>) =>
    load(`http://${t.fe}/api/test_db/t_types/_stream_load`, {
      headers: { Authorization: basic(), column_separator: ',', ...headers },
      body,
    });
  const failed = JSON.parse((await put({ label: 'ratio-0' })).body);
  assert.equal(failed.Status, 'Fail');
  assert.equal(failed.Message, '[DATA_QUALITY_ERROR]too many filtered rows');
  assert.equal(failed.NumberLoadedRows, 0);
  assert.equal(failed.NumberFilteredRows, 2, 'too long + NULL key; the bad date becomes NULL without strict mode');
  // The BE names the file after the fragment instance, not the load (§6).
  assert.match(
    failed.ErrorURL,
    /^http:\/\/127\.0\.0\.1:\d+\/api\/_load_error_log\?file=__shard_\d+\/error_log_insert_stmt_([0-9a-f]+)-([0-9a-f]+)_\1_\2$/,
  );
  const log = await request(failed.ErrorURL, { method: 'GET', expect: false });
  assert.equal(log.status, 200);
  // Scanner errors print the source values joined by spaces; the sink's length check prints no row.
  assert.equal(
    log.body,
    'Reason: column(k) values is null while columns is not nullable. src line [NULL x 1 2024-01-01 0 1 1 {}]; \n' +
      'Reason: column_name[s], the length of input is too long than schema. first 32 bytes of input str: [too long string!] schema length: 12; actual length: 16; . src line []; \n',
  );
  const loose = JSON.parse((await put({ label: 'ratio-half', max_filter_ratio: '0.5' })).body);
  assert.equal(loose.Status, 'Success');
  assert.equal(loose.NumberLoadedRows, 2);
  assert.ok(loose.ErrorURL, 'ErrorURL also on success with filtered rows');
  const strict = JSON.parse((await put({ label: 'ratio-strict', max_filter_ratio: '1', strict_mode: 'true' })).body);
  assert.equal(strict.NumberFilteredRows, 3);
  assert.equal(strict.NumberLoadedRows, 1);
  const dt = await queryRows(
    t.maria,
    `SELECT k, dt, d FROM ${t.tableName('test_db', 't_types')} WHERE k IN (1, 3) ORDER BY k`,
  );
  assert.deepEqual(dt, [
    { k: '1', dt: '2024-01-01 00:00:00.000', d: '1.01' },
    { k: '1', dt: '2024-01-01 00:00:00.000', d: '1.01' },
    { k: '3', dt: null, d: '1.00' },
  ]);
});

test('more than 50 bad rows with max_filter_ratio 0: early stop message', async () => {
  const body = Array.from({ length: 80 }, (_, i) => `${i},x`).join('\n');
  const r = await load(`http://${t.fe}/api/test_db/t_types/_stream_load`, {
    headers: { Authorization: basic(), column_separator: ',' },
    body,
  });
  const j = JSON.parse(r.body);
  assert.equal(j.Status, 'Fail');
  assert.match(j.Message, /^\[DATA_QUALITY_ERROR\]Encountered unqualified data, stop processing\./);
});

test('columns mapping and where: unselected rows counted, not stored', async () => {
  const body = '10,a\n11,b\n12,c\n';
  const r = await load(`http://${t.fe}/api/test_db/t_types/_stream_load`, {
    headers: {
      Authorization: basic(),
      column_separator: ',',
      columns: 'k, tmp, s = tmp, ti = 5',
      where: 'k >= 11 AND s <> "c"',
    },
    body,
  });
  const j = JSON.parse(r.body);
  assert.deepEqual([j.NumberTotalRows, j.NumberLoadedRows, j.NumberUnselectedRows, j.NumberFilteredRows], [3, 1, 2, 0]);
  const rows = await queryRows(
    t.maria,
    `SELECT k, s, ti FROM ${t.tableName('test_db', 't_types')} WHERE k BETWEEN 10 AND 12`,
  );
  assert.deepEqual(rows, [{ k: '11', s: 'b', ti: 5 }]);
});

test('csv_with_names skips the header; skip_lines; trim_double_quotes; multi-char separator in hex', async () => {
  const r = await load(`http://${t.fe}/api/test_db/t_types/_stream_load`, {
    headers: {
      Authorization: basic(),
      format: 'csv_with_names',
      column_separator: '\\x01\\x02',
      columns: 'k, s',
      trim_double_quotes: 'true',
    },
    body: 'k\u0001\u0002s\n20\u0001\u0002"twenty"\n',
  });
  assert.equal(JSON.parse(r.body).NumberLoadedRows, 1, r.body);
  const rows = await queryRows(t.maria, `SELECT s FROM ${t.tableName('test_db', 't_types')} WHERE k = 20`);
  assert.equal(rows[0]!.s, 'twenty');
  const skip = await load(`http://${t.fe}/api/test_db/t_types/_stream_load`, {
    headers: { Authorization: basic(), column_separator: ',', columns: 'k, s', skip_lines: '2' },
    body: 'junk\njunk\n21,x\n',
  });
  assert.equal(JSON.parse(skip.body).NumberLoadedRows, 1);
});

test('empty body is Success with 0 rows and a real txn', async () => {
  const r = await load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
    headers: { Authorization: basic(), label: 'empty-1' },
    body: '',
  });
  const j = JSON.parse(r.body);
  assert.equal(j.Status, 'Success');
  assert.equal(j.NumberTotalRows, 0);
  assert.ok(j.TxnId > 0);
});

test('read_json_by_line default: whole-body JSON on 3.0, lines on 4.0', async () => {
  const body = jsonLines([event(4000), event(4001)]);
  const put = () =>
    load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
      headers: { Authorization: basic(), format: 'json', max_filter_ratio: '1' },
      body,
    });
  const v3 = JSON.parse((await put()).body);
  assert.equal(v3.NumberLoadedRows, 0, 'two objects in one body are not one JSON document');
  await t.control('POST', '/config', { profile: '4.0' });
  try {
    const v4 = JSON.parse((await put()).body);
    assert.equal(v4.NumberLoadedRows, 2);
  } finally {
    await t.control('POST', '/config', { profile: '3.0' });
  }
});

test('validate and count modes accept rows without storing them', async () => {
  await t.control('POST', '/config', { mode: 'count' });
  try {
    const body = `${Array.from({ length: 5 }, (_, i) => `${5000 + i},1,2,3,"a,b",x`).join('\n')}\n1,2\n`;
    const r = await load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
      headers: {
        Authorization: basic(),
        column_separator: ',',
        enclose: '"',
        columns: 'id, integration_id, arrive_time, event_time, title, extend1',
        max_filter_ratio: '0.5',
      },
      body,
    });
    const j = JSON.parse(r.body);
    assert.deepEqual([j.NumberTotalRows, j.NumberLoadedRows, j.NumberFilteredRows], [6, 5, 1]);
    await t.control('POST', '/config', { mode: 'validate' });
    const v = JSON.parse(
      (
        await load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
          headers: { Authorization: basic(), format: 'json' },
          body: JSON.stringify(event(5100)),
        })
      ).body,
    );
    assert.equal(v.NumberLoadedRows, 1);
    assert.equal(await mariaCount('tb_event', 'id BETWEEN 5000 AND 5100'), 0);
  } finally {
    await t.control('POST', '/config', { mode: 'full' });
  }
});

test('counters: loads, rows, bytes, labels, per-status counts', async () => {
  const c = await t.control('GET', '/counters');
  assert.ok((c.loads as number) >= 10);
  assert.ok((c.loadedRows as number) >= 20);
  assert.ok((c.bytes as number) > 0);
  assert.ok((c.labels as number) >= 5);
  const status = c.status as Record<string, number>;
  assert.ok(status.Success! >= 5 && status.Fail! >= 2);
});

test('large loads (LOAD DATA path): tricky strings and NULLs survive; UNIQUE tables upsert', async () => {
  const rows = Array.from({ length: 1500 }, (_, i) =>
    event(60_000 + i, {
      title: TRICKY[i % TRICKY.length],
      description: i % 7 === 0 ? null : `d\\N ${i}\t\\`,
      score: i / 3,
    }),
  );
  const r = await load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
    headers: { Authorization: basic(), format: 'json', read_json_by_line: 'true' },
    body: jsonLines(rows),
  });
  assert.equal(JSON.parse(r.body).NumberLoadedRows, 1500, r.body);
  const got = await queryRows(
    t.maria,
    `SELECT id, title, description FROM ${t.tableName('test_db', 'tb_event')} WHERE id >= 60000 ORDER BY id`,
  );
  assert.equal(got.length, 1500);
  for (const [i, g] of got.entries()) {
    assert.equal(g.title, TRICKY[i % TRICKY.length]);
    assert.equal(g.description, i % 7 === 0 ? null : `d\\N ${i}\t\\`);
  }
  await t.emu.engine.addDdl(
    'CREATE TABLE test_db.t_uniq (k INT NOT NULL, v VARCHAR(10)) UNIQUE KEY(k) DISTRIBUTED BY HASH(k)',
  );
  for (const v of ['one', 'two']) {
    const body = Array.from({ length: 600 }, (_, i) => `${i},${v}`).join('\n');
    const u = await load(`http://${t.fe}/api/test_db/t_uniq/_stream_load`, {
      headers: { Authorization: basic(), column_separator: ',' },
      body,
    });
    assert.equal(JSON.parse(u.body).NumberLoadedRows, 600);
  }
  const uq = await queryRows(
    t.maria,
    `SELECT COUNT(*) AS n, MIN(v) AS lo, MAX(v) AS hi FROM ${t.tableName('test_db', 't_uniq')}`,
  );
  assert.deepEqual(uq[0], { n: '600', lo: 'two', hi: 'two' });
});
