// Transactions survive an emulator restart like they survive an FE restart: finished labels still
// answer Label Already Exists, precommitted 2PC data can still be committed, unfinished loads are aborted.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { startEmulator } from '../../emulator/emulator.ts';
import { basic, CANONICAL_DDL, event, jsonLines, load, mariaConfig, PASSWORD, queryRows, until } from './helpers.ts';

test('labels, PRECOMMITTED txns and their rows survive a restart', async () => {
  const prefix = `emu_${randomBytes(4).toString('hex')}_`;
  const start = () =>
    startEmulator({ password: PASSWORD, mysql: { ...mariaConfig(), dbPrefix: prefix }, ddl: [CANONICAL_DDL] });
  const maria = await mysql.createConnection({ ...mariaConfig(), supportBigNumbers: true, bigNumberStrings: true });
  try {
    let emu = await start();
    const put = async (label: string, ids: number[], extra: Record<string, string> = {}) => {
      const r = await load(`http://127.0.0.1:${emu.fePort}/api/test_db/tb_event/_stream_load`, {
        headers: { Authorization: basic(), format: 'json', read_json_by_line: 'true', label, ...extra },
        body: jsonLines(ids.map((i) => event(i))),
      });
      return JSON.parse(r.body);
    };
    const done = await put('before-restart', [1, 2]);
    assert.equal(done.Status, 'Success');
    const pre = await put('pre-restart', [3], { two_phase_commit: 'true' });
    assert.equal(pre.Status, 'Success');
    await emu.engine.addDdl('CREATE TABLE test_db.t_later (k INT NOT NULL) DUPLICATE KEY(k)', undefined, true);
    await emu.engine.addColumn(
      'test_db',
      't_later',
      { ...emu.engine.table('test_db', 'tb_event')!.columns[4]!, name: 'v' },
      undefined,
    );
    await emu.close();

    emu = await start();
    try {
      const again = await put('before-restart', [1, 2]);
      assert.equal(again.Status, 'Label Already Exists');
      assert.equal(again.ExistingJobStatus, 'FINISHED');
      assert.deepEqual(
        emu.engine.table('test_db', 't_later')?.columns.map((c) => c.name),
        ['k', 'v'],
        'run-time DDL (tables, added columns) is replayed',
      );
      const next = await put('after-restart', [4]);
      assert.ok(next.TxnId > pre.TxnId, 'txn ids keep increasing across restarts');
      const commit = await load(`http://127.0.0.1:${emu.fePort}/api/test_db/_stream_load_2pc`, {
        headers: { Authorization: basic(), txn_id: String(pre.TxnId), txn_operation: 'commit' },
        body: '',
        expect: false,
      });
      assert.equal(JSON.parse(commit.body).status, 'Success', commit.body);
      const ids = async () => await queryRows(maria, `SELECT id FROM \`${prefix}test_db\`.tb_event ORDER BY id`);
      // the commit reply does not wait for publish (§5)
      await until(async () => (await ids()).length === 4, 5000, 'rows visible after publish');
      const rows = await ids();
      assert.deepEqual(
        rows.map((r) => r.id),
        ['1', '2', '3', '4'],
      );
    } finally {
      await emu.close();
    }
  } finally {
    const [dbs] = await maria.query<mysql.RowDataPacket[]>(`SHOW DATABASES LIKE '${prefix}%'`);
    for (const row of dbs) await maria.query(`DROP DATABASE \`${Object.values(row)[0] as string}\``);
    await maria.end();
  }
});
