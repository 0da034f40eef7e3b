// The test bed's own emulator (started by test/infra/up): reachable where the env file says, with
// the credentials it lists, storing rows in the test bed's MariaDB test_db.tb_event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { testbed, testbedEnv } from '../../support/testbed.ts';
import { event, jsonLines, load, mariaConfig, request } from './helpers.ts';

test('test-bed emulator: FE 307 → BE load lands in MariaDB; DESCRIBE and control API answer', async () => {
  const fe = testbed('DORIS_FE_HTTP');
  const auth = `Basic ${Buffer.from(`${testbed('DORIS_USER')}:${testbed('DORIS_PASSWORD')}`).toString('base64')}`;
  const control = testbed('DORIS_CONTROL');
  const health = await request(`http://${control}/health`, { method: 'GET', expect: false });
  assert.deepEqual(JSON.parse(health.body), { ok: true });

  // An id range no other test uses; cleaned up afterwards so the shared table stays as it was.
  const base = 9_100_000_000 + (Date.now() % 1_000_000) * 10;
  const label = `emu-testbed-${base}`;
  const r = await load(`http://${fe}/api/test_db/tb_event/_stream_load`, {
    headers: { Authorization: auth, label, format: 'json', read_json_by_line: 'true' },
    body: jsonLines([event(base), event(base + 1)]),
  });
  assert.equal(r.hops.length, 2);
  const j = JSON.parse(r.body);
  assert.equal(j.Status, 'Success', r.body);
  assert.equal(j.NumberLoadedRows, 2);

  // Doris db test_db is MariaDB `<prefix>test_db` (the env file names a prefix when the emulator has one).
  const storageDb = `${testbedEnv().DORIS_EMULATOR_DB_PREFIX ?? ''}test_db`;
  const maria = await mysql.createConnection({ ...mariaConfig(), database: storageDb });
  try {
    const [rows] = await maria.query<mysql.RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM tb_event WHERE id BETWEEN ? AND ?',
      [base, base + 1],
    );
    assert.equal(Number(rows[0]!.n), 2);
    await maria.query('DELETE FROM tb_event WHERE id BETWEEN ? AND ?', [base, base + 1]);
  } finally {
    await maria.end();
  }

  const [host, port] = testbed('DORIS_QUERY').split(':');
  const q = await mysql.createConnection({
    host,
    port: Number(port),
    user: testbed('DORIS_USER'),
    password: testbed('DORIS_PASSWORD'),
  });
  try {
    const [desc] = await q.query<mysql.RowDataPacket[]>('DESC test_db.tb_event');
    assert.ok(desc.length >= 66);
    assert.equal(desc[0]!.Field, 'id');
  } finally {
    await q.end();
  }
});
