// Labels and two-phase commit (doris-stream-load.md §4, §5; §11 behaviours 7, 8, 9, 13, 16, 18).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import {
  basic,
  event,
  jsonLines,
  load,
  PASSWORD,
  queryRows,
  raw,
  request,
  sleep,
  startTestEmulator,
  type TestEmulator,
  until,
} from './helpers.ts';

let t: TestEmulator;
before(async () => {
  t = await startTestEmulator({ labelTtlMs: 60_000, labelMax: 50 });
});
after(async () => {
  await t?.close();
});

const url = () => `http://${t.fe}/api/test_db/tb_event/_stream_load`;
const put = async (label: string | undefined, ids: number[], extra: Record<string, string> = {}) => {
  const headers: Record<string, string> = {
    Authorization: basic(),
    format: 'json',
    read_json_by_line: 'true',
    ...extra,
  };
  if (label !== undefined) headers.label = label;
  const r = await load(url(), { headers, body: jsonLines(ids.map((i) => event(i))) });
  return JSON.parse(r.body);
};
const count = async (lo: number, hi: number) =>
  Number(
    (
      await queryRows(
        t.maria,
        `SELECT COUNT(*) AS n FROM ${t.tableName('test_db', 'tb_event')} WHERE id BETWEEN ? AND ?`,
        [lo, hi],
      )
    )[0]!.n,
  );

async function loadState(label: string): Promise<string> {
  const r = await request(`http://${t.fe}/api/test_db/get_load_state?label=${label}`, {
    method: 'GET',
    headers: { Authorization: basic() },
    expect: false,
  });
  return JSON.parse(r.body).data as string;
}

async function twoPc(headers: Record<string, string>, viaFe = true) {
  const base = viaFe ? t.fe : t.be;
  const r = await load(`http://${base}/api/test_db/_stream_load_2pc`, {
    headers: { Authorization: basic(), ...headers },
    body: '',
    expect: false,
  });
  return { text: r.body, json: JSON.parse(r.body) as { status: string; msg: string }, hops: r.hops };
}

test('generated UUID label; txn ids increase; label reuse after FINISHED is Label Already Exists / FINISHED', async () => {
  const a = await put(undefined, [100]);
  assert.match(a.Label, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const b = await put('reuse-1', [101]);
  assert.ok(b.TxnId > a.TxnId);
  const again = await put('reuse-1', [101]);
  assert.equal(again.Status, 'Label Already Exists');
  assert.equal(again.ExistingJobStatus, 'FINISHED');
  assert.equal(again.TxnId, -1);
  assert.equal(again.NumberLoadedRows, 0);
  assert.equal(
    again.Message,
    `[LABEL_ALREADY_EXISTS]TStatus: errCode = 2, detailMessage = Label [reuse-1] has already been used, relate to txn [${b.TxnId}], status [VISIBLE].`,
  );
  assert.equal(await count(101, 101), 1, 'the duplicate stored nothing');
});

test('a label whose load failed (ABORTED) is reusable at once; bad label format fails', async () => {
  const bad = await put('abort-1', [110], { strict_mode: 'nope' });
  assert.equal(bad.Status, 'Fail');
  assert.ok(bad.TxnId > 0, 'the txn had begun and was rolled back');
  const ok = await put('abort-1', [110]);
  assert.equal(ok.Status, 'Success');
  const dot = await put('has.dot', [111]);
  assert.equal(dot.Status, 'Fail');
  assert.equal(
    dot.Message,
    '[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = Label format error. regex: ^[\\-_A-Za-z0-9:]{1,128}$, label: has.dot',
  );
  const long = await put('x'.repeat(129), [112]);
  assert.match(long.Message, /Label format error/);
});

test('concurrent load with the same label: RUNNING, and it later resolves', async () => {
  await t.control('POST', '/faults', { type: 'slow_reply', label: '^running-1$', delayMs: 800, commit: 'after' });
  const first = put('running-1', [120]);
  await sleep(200);
  const second = await put('running-1', [120]);
  assert.equal(second.Status, 'Label Already Exists');
  assert.equal(second.ExistingJobStatus, 'RUNNING');
  assert.match(second.Message, /status \[PREPARE\]\.$/);
  assert.equal((await first).Status, 'Success');
  assert.equal((await put('running-1', [120])).ExistingJobStatus, 'FINISHED');
});

test('2PC: precommitted rows are invisible until commit (via FE 307, by txn_id); commit reply shape', async () => {
  const pre = await put('tpc-1', [130, 131], { two_phase_commit: 'true' });
  assert.equal(pre.Status, 'Success');
  assert.equal(pre.TwoPhaseCommit, 'true');
  assert.equal(pre.CommitAndPublishTimeMs, 0);
  assert.equal(await count(130, 131), 0, 'invisible before commit');
  assert.equal((await put('tpc-1', [130])).ExistingJobStatus, 'PRECOMMITTED');
  // The commit answers without waiting for publish (§5): COMMITTED and invisible until the publish daemon ran.
  t.emu.engine.config.publishDelayMs = 400;
  const c = await twoPc({ txn_id: String(pre.TxnId), txn_operation: 'commit' });
  t.emu.engine.config.publishDelayMs = 20;
  assert.equal(c.hops.length, 2, 'the FE redirects 2PC to a BE');
  assert.equal(c.text, `{\n    "status": "Success",\n    "msg": "transaction [${pre.TxnId}] commit successfully."\n}`);
  assert.equal(await loadState('tpc-1'), 'COMMITTED');
  assert.equal(await count(130, 131), 0, 'not visible yet');
  const committed = await twoPc({ txn_id: String(pre.TxnId), txn_operation: 'commit' });
  assert.equal(
    committed.json.msg,
    `TStatus: errCode = 2, detailMessage = transaction [${pre.TxnId}] is already committed, not pre-committed.`,
  );
  await until(async () => (await count(130, 131)) === 2, 5000, 'rows visible after publish');
  assert.equal(await loadState('tpc-1'), 'VISIBLE');
  const again = await twoPc({ txn_id: String(pre.TxnId), txn_operation: 'commit' });
  assert.equal(again.json.status, 'ANALYSIS_ERROR');
  assert.equal(
    again.json.msg,
    `TStatus: errCode = 2, detailMessage = transaction [${pre.TxnId}] is already visible, not pre-committed.`,
  );
  assert.match(
    again.json.msg,
    /transaction \[(\d+)\] is already \b(COMMITTED|committed|VISIBLE|visible)\b, not pre-committed\./,
    'the connectors regex',
  );
});

test('2PC abort by label directly on the BE; the label is free again; abort of aborted; unknown txn', async () => {
  const pre = await put('tpc-2', [140], { two_phase_commit: 'true' });
  const a = await twoPc({ label: 'tpc-2', txn_operation: 'abort' }, false);
  assert.deepEqual(a.json, { status: 'Success', msg: 'label [tpc-2] abort successfully.' });
  assert.equal(await count(140, 140), 0);
  const a2 = await twoPc({ txn_id: String(pre.TxnId), txn_operation: 'abort' });
  assert.match(a2.json.msg, new RegExp(`transaction \\[${pre.TxnId}\\] is already aborted, abort reason: `));
  const c = await twoPc({ txn_id: String(pre.TxnId), txn_operation: 'commit' });
  assert.match(c.json.msg, /is already aborted\. abort reason: User Abort/);
  assert.equal((await put('tpc-2', [140])).Status, 'Success');
  const unknown = await twoPc({ txn_id: '123', txn_operation: 'commit' });
  assert.equal(unknown.json.msg, 'TStatus: errCode = 2, detailMessage = transaction [123] not found');
  const badOp = await twoPc({ txn_id: '1', txn_operation: 'COMMIT' });
  assert.deepEqual(badOp.json, {
    status: 'INTERNAL_ERROR',
    msg: "transaction operation should be 'commit' or 'abort'",
  });
  const badId = await twoPc({ txn_id: 'x', txn_operation: 'commit' });
  assert.match(badId.json.msg, /^convert txn_id \[x\] failed, reason=/);
});

test('2PC straight to the BE: texts and check order of StreamLoad2PCAction and loadTxn2PCImpl', async () => {
  const be = async (headers: Record<string, string>) => {
    const r = await request(`http://${t.be}/api/test_db/_stream_load_2pc`, { headers, body: '', expect: false });
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as { status: string; msg: string };
  };
  const fe = (m: string) => `TStatus: errCode = 2, detailMessage = ${m}`;
  const wrong = basic('root', 'not-the-password');
  const pre = await put('tpc-be-1', [150], { two_phase_commit: 'true' });
  // Without Authorization the BE does not refuse: the FE checks an empty user once it found the txn.
  assert.deepEqual(await be({ label: 'tpc-be-1', txn_operation: 'commit' }), {
    status: 'ANALYSIS_ERROR',
    msg: fe("Access denied for user '@127.0.0.1' (using password: NO)"),
  });
  // Both named: the reply names both, the id as it was sent.
  assert.deepEqual(
    await be({ Authorization: basic(), label: 'tpc-be-1', txn_id: `+${pre.TxnId}`, txn_operation: 'commit' }),
    { status: 'Success', msg: `label [tpc-be-1] transaction [+${pre.TxnId}] commit successfully.` },
  );
  // The label has a txn, no longer PRECOMMITTED: "running"; a label never used is not.
  const again = await be({ Authorization: basic(), label: 'tpc-be-1', txn_operation: 'commit' });
  assert.equal(again.msg, fe('running transaction not found, label=tpc-be-1'));
  const never = await be({ Authorization: basic(), label: 'tpc-be-never', txn_operation: 'abort' });
  assert.equal(never.msg, fe('transaction not found, label=tpc-be-never'));
  // The operation is checked before the password; the txn is looked up before it too.
  assert.deepEqual(await be({ Authorization: wrong, txn_id: '1', txn_operation: 'Commit' }), {
    status: 'INTERNAL_ERROR',
    msg: "transaction operation should be 'commit' or 'abort'",
  });
  assert.equal(
    (await be({ Authorization: wrong, txn_id: '123', txn_operation: 'abort' })).msg,
    fe('transaction [123] not found'),
  );
  const denied = await be({ Authorization: wrong, txn_id: String(pre.TxnId), txn_operation: 'abort' });
  assert.match(
    denied.msg,
    /^TStatus: errCode = 2, detailMessage = Access denied for user 'root@127\.0\.0\.1' \(using password: YES\)$/,
  );
  // std::stoull: digits first, the rest ignored; no digits is its own error
  assert.equal(
    (await be({ Authorization: basic(), txn_id: '123abc', txn_operation: 'abort' })).msg,
    fe('transaction [123] not found'),
  );
  assert.deepEqual(await be({ Authorization: basic(), txn_id: 'x1', txn_operation: 'abort' }), {
    status: 'INTERNAL_ERROR',
    msg: 'convert txn_id [x1] failed, reason=stoull',
  });
});

test('2PC FE pre-checks; empty-body 2PC load is a PRECOMMITTED empty txn', async () => {
  const fe = `http://${t.fe}/api/test_db/_stream_load_2pc`;
  const r1 = await request(fe, {
    headers: { Authorization: basic(), txn_operation: 'commit' },
    expect: false,
    body: '',
  });
  assert.deepEqual(JSON.parse(r1.body), { status: 'FAILED', msg: 'No transaction id or label selected.' });
  const r2 = await request(fe, { headers: { Authorization: basic(), label: 'x' }, expect: false, body: '' });
  assert.deepEqual(JSON.parse(r2.body), {
    status: 'FAILED',
    msg: "No transaction operation('commit' or 'abort') selected.",
  });
  const empty = await load(url(), {
    headers: { Authorization: basic(), label: 'tpc-empty', two_phase_commit: 'true' },
    body: '',
  });
  const j = JSON.parse(empty.body);
  assert.equal(j.Status, 'Success');
  assert.ok(j.TxnId > 0);
  const s = await request(`http://${t.fe}/api/test_db/get_load_state?label=tpc-empty`, {
    method: 'GET',
    headers: { Authorization: basic() },
    expect: false,
  });
  assert.equal(JSON.parse(s.body).data, 'PRECOMMITTED');
});

test('a committed txn whose publish fails stays COMMITTED and is published again until visible, as the publish daemon does', async () => {
  await t.control('POST', '/faults', { type: 'publish_fail', count: 2, label: '^tpc-pf$' });
  const pre = await put('tpc-pf', [190, 191], { two_phase_commit: 'true' });
  assert.equal(pre.Status, 'Success');
  const c = await twoPc({ label: 'tpc-pf', txn_operation: 'commit' });
  assert.equal(c.json.status, 'Success', 'Doris answers once the txn is committed');
  const state = async () =>
    JSON.parse(
      (
        await request(`http://${t.fe}/api/test_db/get_load_state?label=tpc-pf`, {
          method: 'GET',
          headers: { Authorization: basic() },
          expect: false,
        })
      ).body,
    ).data as string;
  assert.equal(await state(), 'COMMITTED');
  assert.equal(await count(190, 191), 0, 'not visible while publishing fails');
  const deadline = Date.now() + 10_000;
  while ((await state()) !== 'VISIBLE' && Date.now() < deadline) await sleep(50);
  assert.equal(await state(), 'VISIBLE');
  assert.equal(await count(190, 191), 2, 'published once it could be');
});

test('precommit timeout aborts with "timeout by txn manager"; a later commit says so; label reusable', async () => {
  await t.control('POST', '/config', { precommitTimeoutMs: 300 });
  try {
    const pre = await put('tpc-timeout', [150], { two_phase_commit: 'true' });
    await sleep(800);
    const c = await twoPc({ txn_id: String(pre.TxnId), txn_operation: 'commit' });
    assert.equal(
      c.json.msg,
      `TStatus: errCode = 2, detailMessage = transaction [${pre.TxnId}] is already aborted. abort reason: timeout by txn manager`,
    );
    assert.equal((await put('tpc-timeout', [150])).Status, 'Success');
  } finally {
    await t.control('POST', '/config', { precommitTimeoutMs: 3_600_000 });
  }
});

test('SHOW TRANSACTION WHERE LABEL LIKE over the MySQL port', async () => {
  const c = await mysql.createConnection({
    host: '127.0.0.1',
    port: t.emu.queryPort,
    user: 'root',
    password: PASSWORD,
  });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>("SHOW TRANSACTION FROM test_db WHERE LABEL LIKE 'tpc-%'");
    const byLabel = new Map<string, string[]>();
    for (const r of rows) byLabel.set(r.Label, [...(byLabel.get(r.Label) ?? []), r.TransactionStatus]);
    assert.deepEqual(byLabel.get('tpc-1'), ['VISIBLE']);
    assert.deepEqual(byLabel.get('tpc-2'), ['ABORTED', 'VISIBLE']);
    assert.deepEqual(byLabel.get('tpc-timeout'), ['ABORTED', 'VISIBLE']);
    assert.ok('PrepareTime' in rows[0]! && 'TransactionId' in rows[0]!);
  } finally {
    await c.end();
  }
});

test('label retention by count frees the oldest labels', async () => {
  await t.control('POST', '/config', { labelMax: 2 });
  try {
    await put('keep-a', [160]);
    await put('keep-b', [161]);
    await put('keep-c', [162]);
    assert.equal((await put('keep-a', [160])).Status, 'Success', 'keep-a was forgotten: the load ran again');
    assert.equal((await put('keep-c', [162])).Status, 'Label Already Exists');
  } finally {
    await t.control('POST', '/config', { labelMax: 50 });
  }
});

test('mid-body disconnect rolls back (label reusable); post-body disconnect still commits', async () => {
  const body = jsonLines([event(170), event(171)]);
  const head = (label: string) =>
    `PUT /api/test_db/tb_event/_stream_load HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic()}\r\nformat: json\r\nread_json_by_line: true\r\nlabel: ${label}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  await raw(t.be, head('cut-1'), { body: Buffer.from(body.slice(0, 10)), destroyAfterMs: 100, waitMs: 500 });
  await sleep(200);
  const txns = (await t.control('GET', '/txns?db=test_db&label=cut-1')).txns as { state: string }[];
  assert.deepEqual(
    txns.map((x) => x.state),
    ['ABORTED'],
  );
  assert.equal(await count(170, 171), 0);
  await raw(t.be, head('cut-2'), { body: Buffer.from(body), destroyAfterMs: 0, waitMs: 300 });
  await sleep(300);
  assert.equal(await count(170, 171), 2, 'the body was complete: the load committed');
  assert.equal((await put('cut-1', [172])).Status, 'Success');
});
