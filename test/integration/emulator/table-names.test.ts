// Table names are case-sensitive, as in Doris with its default lower_case_table_names = 0: a load or a
// DESCRIBE naming `TB_EVENT` does not find `tb_event` (doris-stream-load.md §1.4, §8). Column names in
// a `columns` header stay case-insensitive.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { basic, event, jsonLines, load, PASSWORD, startTestEmulator, type TestEmulator } from './helpers.ts';

let t: TestEmulator;
before(async () => {
  t = await startTestEmulator();
});
after(async () => {
  await t?.close();
});

test('a stream load to TB_EVENT is "table not found"; tb_event loads', async () => {
  const put = async (table: string, label: string) =>
    JSON.parse(
      (
        await load(`http://${t.fe}/api/test_db/${table}/_stream_load`, {
          headers: { Authorization: basic(), label, format: 'json', read_json_by_line: 'true' },
          body: jsonLines([event(1)]),
        })
      ).body,
    ) as Record<string, unknown>;
  const upper = await put('TB_EVENT', 'case-upper');
  assert.equal(upper.Status, 'Fail');
  assert.equal(upper.Message, '[NOT_FOUND]TStatus: errCode = 7, detailMessage = table not found, tableName=TB_EVENT');
  assert.equal((await put('tb_event', 'case-lower')).Status, 'Success');
});

test('DESCRIBE test_db.TB_EVENT is Unknown table; columns header names still match case-insensitively', async () => {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: t.emu.queryPort,
    user: 'root',
    password: PASSWORD,
  });
  try {
    await assert.rejects(conn.query('DESCRIBE test_db.TB_EVENT'), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 1051);
      assert.match(e.message, /Unknown table 'TB_EVENT'/);
      return true;
    });
    const [rows] = await conn.query('DESCRIBE test_db.tb_event');
    assert.ok((rows as unknown[]).length > 0);
  } finally {
    await conn.end();
  }
  const r = await load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
    headers: {
      Authorization: basic(),
      label: 'case-columns',
      column_separator: ',',
      columns: 'ID, Integration_Id, ARRIVE_TIME, event_time',
    },
    body: '5,1,2,3\n',
  });
  assert.equal(JSON.parse(r.body).NumberLoadedRows, 1, r.body);
});
