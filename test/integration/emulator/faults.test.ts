// Every injected fault of doris-stream-load.md §11, armed through the control API, plus group commit.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  basic,
  event,
  jsonLines,
  load,
  queryRows,
  request,
  sleep,
  startTestEmulator,
  type TestEmulator,
  until,
} from './helpers.ts';

let t: TestEmulator;
before(async () => {
  t = await startTestEmulator({ groupCommitIntervalMs: 400 });
});
after(async () => {
  await t?.close();
});

const url = () => `http://${t.fe}/api/test_db/tb_event/_stream_load`;
const headers = (label?: string, extra: Record<string, string> = {}) => {
  const h: Record<string, string> = { Authorization: basic(), format: 'json', read_json_by_line: 'true', ...extra };
  if (label) h.label = label;
  return h;
};
const put = async (label: string | undefined, ids: number[], extra: Record<string, string> = {}) => {
  const r = await load(url(), { headers: headers(label, extra), body: jsonLines(ids.map((i) => event(i))) });
  return { r, j: JSON.parse(r.body) };
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
const arm = (spec: Record<string, unknown>) => t.control('POST', '/faults', spec);

test('1 commit_then_drop: committed, no reply; the retry gets Label Already Exists / FINISHED', async () => {
  await arm({ type: 'commit_then_drop', label: '^drop-1$' });
  await assert.rejects(put('drop-1', [100, 101]), /socket hang up|ECONNRESET/);
  assert.equal(await count(100, 101), 2);
  const { j } = await put('drop-1', [100, 101]);
  assert.equal(j.Status, 'Label Already Exists');
  assert.equal(j.ExistingJobStatus, 'FINISHED');
  await arm({ type: 'commit_then_drop', label: '^drop-2$', how: 'rst' });
  await assert.rejects(put('drop-2', [102]), /ECONNRESET|socket hang up/);
  assert.equal(await count(102, 102), 1);
});

test('2 publish_timeout: Publish Timeout now, rows visible later', async () => {
  await arm({ type: 'publish_timeout', label: '^pt-1$', delayMs: 500 });
  const { j } = await put('pt-1', [110, 111]);
  assert.equal(j.Status, 'Publish Timeout');
  assert.equal(j.Message, '[PUBLISH_TIMEOUT]TStatus: transaction commit successfully, BUT data will be visible later');
  assert.equal(await count(110, 111), 0);
  assert.equal((await put('pt-1', [110])).j.ExistingJobStatus, 'FINISHED', 'COMMITTED counts as FINISHED');
  await sleep(800);
  assert.equal(await count(110, 111), 2);
});

test('3 http_error: 502 HTML after a commit, 503 empty without one; not Doris JSON', async () => {
  await arm({ type: 'http_error', label: '^he-1$', status: 502, body: 'html', commit: true });
  const a = await put('he-1', [120]).catch((e: Error) => e);
  assert.ok(a instanceof Error, 'the HTML body is not JSON');
  const raw = await load(url(), { headers: headers('he-x'), body: jsonLines([event(129)]) });
  assert.equal(raw.status, 200, 'a disarmed fault: normal reply');
  assert.equal(await count(120, 120), 1);
  assert.equal((await put('he-1', [120])).j.ExistingJobStatus, 'FINISHED');
  await arm({ type: 'http_error', label: '^he-2$', status: 503, body: 'empty' });
  const b = await load(url(), { headers: headers('he-2'), body: jsonLines([event(121)]) });
  assert.equal(b.status, 503);
  assert.equal(b.body, '');
  assert.equal(await count(121, 121), 0);
  assert.equal((await put('he-2', [121])).j.Status, 'Success', 'nothing committed: the label is free');
});

test('4 slow_reply past the client timeout (committed before); load_timeout fails and frees the label', async () => {
  await arm({ type: 'slow_reply', label: '^slow-1$', delayMs: 1500, commit: 'before' });
  await assert.rejects(
    load(url(), { headers: headers('slow-1'), body: jsonLines([event(130)]), timeoutMs: 300 }),
    /timeout/,
  );
  assert.equal(await count(130, 130), 1);
  assert.equal((await put('slow-1', [130])).j.ExistingJobStatus, 'FINISHED');
  await arm({ type: 'load_timeout', label: '^lt-1$' });
  const { j } = await put('lt-1', [131]);
  assert.equal(j.Status, 'Fail');
  assert.match(j.Message, /^\[TIMEOUT\]/);
  assert.equal((await put('lt-1', [131])).j.Status, 'Success');
  await arm({ type: 'slow_reply', label: '^slow-2$', delayMs: 300, commit: 'never' });
  const never = await put('slow-2', [132]);
  assert.match(never.j.Message, /^\[CANCELLED\]/);
  assert.equal(await count(132, 132), 0);
});

test('4 a load past its own timeout header is aborted by the txn manager and never commits', async () => {
  await arm({ type: 'slow_reply', label: '^late-1$', delayMs: 1600, commit: 'after' });
  const late = put('late-1', [135], { timeout: '1' });
  await sleep(1300);
  const retry = await put('late-1', [135]);
  assert.equal(retry.j.Status, 'Success', 'the timed-out txn freed the label');
  const first = await late;
  assert.equal(first.j.Status, 'Fail');
  assert.match(first.j.Message, /is already aborted\. abort reason: timeout by txn manager/);
  assert.equal(await count(135, 135), 1, 'stored once');
});

test('6 too_many_versions for the next 2 loads, then clears', async () => {
  await arm({ type: 'too_many_versions', count: 2, label: '^tmv-' });
  const a = await put('tmv-1', [140]);
  assert.equal(a.j.Status, 'Fail');
  assert.equal(
    a.j.Message,
    '[E-235]failed to init rowset builder. version count: 2001, exceed limit: 2000, tablet: 12345. Please reduce the frequency of loading data or adjust the max_tablet_version_num or time_series_max_tablet_version_num in be.conf to a larger value.',
  );
  assert.equal((await put('tmv-1', [140])).j.Status, 'Fail', 'same label retried: still failing, label reusable');
  assert.equal((await put('tmv-1', [140])).j.Status, 'Success');
});

test('7 filter_rows: filtered rows with a working ErrorURL; too many fails the load', async () => {
  await arm({ type: 'filter_rows', label: '^fr-1$', rows: 1 });
  const { j } = await put('fr-1', [150, 151], { max_filter_ratio: '0.5' });
  assert.equal(j.NumberFilteredRows, 1);
  assert.equal(j.NumberLoadedRows, 1);
  const log = await request(j.ErrorURL, { method: 'GET', expect: false });
  assert.match(log.body, /injected/);
  await arm({ type: 'filter_rows', label: '^fr-2$', rows: 1 });
  assert.equal((await put('fr-2', [152])).j.Message, '[DATA_QUALITY_ERROR]too many filtered rows');
});

test("7 error_log_form: the log served in Doris's other line forms (stop line, Summary, cut at limitBytes)", async () => {
  const log = async (j: Record<string, unknown>) =>
    (await request(j.ErrorURL as string, { method: 'GET', expect: false })).body;
  const lines = (text: string) => text.split('\n').filter((l) => l !== '');
  // Rows refused by filter_rows; error_log_form then shapes the log they leave.
  await arm({ type: 'filter_rows', label: '^elf-1$', rows: 52 });
  await arm({ type: 'error_log_form', label: '^elf-1$', form: 'too_much_error' });
  const ids = Array.from({ length: 52 }, (_, i) => 160 + i);
  const a = await put('elf-1', ids, { max_filter_ratio: '1' });
  const stopped = lines(await log(a.j));
  assert.equal(stopped.length, 51);
  assert.equal(stopped[50], 'TOO MUCH ERROR! already reach 50. show no more next error.');
  assert.ok(stopped.slice(0, 50).every((l) => l.startsWith('Reason: ')));
  await arm({ type: 'filter_rows', label: '^elf-2$', rows: 1 });
  await arm({ type: 'error_log_form', label: '^elf-2$', form: 'summary', msg: 'the sum', limitBytes: 20 });
  const b = await put('elf-2', [220, 221], { max_filter_ratio: '1' });
  assert.deepEqual(lines(await log(b.j)), ['Reason: injected by error log is too long', 'Summary: the sum']);
});

test('8 dead BE behind the redirect (refused, hang) and No backend available', async () => {
  await arm({ type: 'dead_be', mode: 'refused' });
  await assert.rejects(put('dead-1', [160]), /ECONNREFUSED/);
  await arm({ type: 'dead_be', mode: 'hang' });
  await assert.rejects(
    load(url(), { headers: headers('dead-2'), body: jsonLines([event(161)]), timeoutMs: 500 }),
    /timeout/,
  );
  await arm({ type: 'no_backend' });
  const r = await load(url(), { headers: headers('dead-3'), body: '{}' });
  const j = JSON.parse(r.body);
  assert.equal(j.status, 'FAILED');
  assert.match(j.msg, /^No backend available for load, please check the status of your backends\./);
  assert.equal((await put('dead-1', [160])).j.Status, 'Success', 'the next redirect goes to a live BE');
});

test('9 txn_quota and 10 commit_fail (rows written, then rolled back, label reusable)', async () => {
  await arm({ type: 'txn_quota', label: '^q-1$' });
  const q = await put('q-1', [170]);
  assert.match(
    q.j.Message,
    /^\[ANALYSIS_ERROR\]TStatus: errCode = 2, detailMessage = current running txns on db \d+ is \d+, larger than limit \d+$/,
  );
  await arm({ type: 'commit_fail', label: '^cf-1$' });
  const c = await put('cf-1', [171, 172]);
  assert.equal(c.j.Status, 'Fail');
  assert.match(
    c.j.Message,
    /^\[ANALYSIS_ERROR\]TStatus: errCode = 2, detailMessage = get tableList write lock timeout, tableList=\(/,
  );
  assert.equal(c.j.NumberLoadedRows, 2, 'a commit-phase failure keeps the loaded count');
  assert.equal(await count(171, 172), 0, 'rolled back');
  assert.equal((await put('cf-1', [171, 172])).j.Status, 'Success');
  assert.equal(await count(171, 172), 2);
});

test('12 2PC commit failure keeps the txn PRECOMMITTED; the retried commit succeeds', async () => {
  const { j } = await put('tpc-f', [180], { two_phase_commit: 'true' });
  await arm({ type: 'commit_2pc_fail' });
  const commit = () =>
    load(`http://${t.fe}/api/test_db/_stream_load_2pc`, {
      headers: { Authorization: basic(), txn_id: String(j.TxnId), txn_operation: 'commit' },
      body: '',
      expect: false,
    });
  const a = JSON.parse((await commit()).body);
  assert.equal(a.status, 'ANALYSIS_ERROR');
  assert.match(a.msg, /get tableList write lock timeout/);
  assert.equal(await count(180, 180), 0);
  assert.equal(JSON.parse((await commit()).body).status, 'Success');
  // visible once published, which the commit reply does not wait for (§5)
  await until(async () => (await count(180, 180)) === 1, 5000, 'rows visible after publish');
});

test('13 FE JSON-shape variety on demand', async () => {
  await arm({ type: 'fe_error', shape: 'rest', msg: 'boom' });
  assert.deepEqual(JSON.parse((await load(url(), { headers: headers('fe-1'), body: '{}' })).body), {
    status: 'FAILED',
    msg: 'boom',
  });
  await arm({ type: 'fe_error', shape: 'response', msg: 'bang' });
  assert.deepEqual(JSON.parse((await load(url(), { headers: headers('fe-2'), body: '{}' })).body), {
    msg: 'bang',
    code: 1,
    data: 'bang',
    count: 0,
  });
});

test('15 group commit: shared group label, GroupCommit key set, sync waits for the interval, async is visible later', async () => {
  const gc = (mode: string, ids: number[]) =>
    load(url(), {
      headers: headers(undefined, { group_commit: mode }),
      body: jsonLines(ids.map((i) => event(i))),
    }).then((r) => JSON.parse(r.body));
  const t0 = Date.now();
  const [a, b] = await Promise.all([gc('sync_mode', [190]), gc('sync_mode', [191])]);
  assert.ok(Date.now() - t0 >= 350, 'sync mode returns after the group commit interval');
  assert.match(a.Label, /^group_commit_[0-9a-f]+_[0-9a-f]+$/);
  assert.equal(a.Label, b.Label, 'loads in one interval share the group label');
  assert.equal(a.GroupCommit, true);
  assert.equal('TwoPhaseCommit' in a || 'BeginTxnTimeMs' in a || 'CommitAndPublishTimeMs' in a, false);
  assert.equal(await count(190, 191), 2);
  const t1 = Date.now();
  const c = await gc('async_mode', [192]);
  assert.ok(Date.now() - t1 < 300, 'async mode returns at once');
  assert.equal(c.Status, 'Success');
  assert.equal(await count(192, 192), 0);
  await sleep(600);
  assert.equal(await count(192, 192), 1);
  const labelled = await load(url(), {
    headers: headers('gc-l', { group_commit: 'sync_mode' }),
    body: jsonLines([event(193)]),
  });
  assert.equal(
    JSON.parse(labelled.body).Message,
    "[INVALID_ARGUMENT]label and group_commit can't be set at the same time",
  );
  const twoPc = await load(url(), {
    headers: headers('gc-2pc', { group_commit: 'sync_mode', two_phase_commit: 'true' }),
    body: jsonLines([event(194)]),
  });
  assert.equal(JSON.parse(twoPc.body).TwoPhaseCommit, 'true', '2PC silently disables group commit');
});

test('11 group commit async: schema-change block (FE) and WAL space (BE)', async () => {
  await arm({ type: 'schema_change_block' });
  const r = await load(url(), { headers: headers(undefined, { group_commit: 'async_mode' }), body: '{}' });
  assert.deepEqual(JSON.parse(r.body), { status: 'FAILED', msg: 'insert table tb_event is blocked on schema change' });
  await arm({ type: 'wal_space' });
  const w = await load(url(), {
    headers: headers(undefined, { group_commit: 'async_mode' }),
    body: jsonLines([event(195)]),
  });
  assert.match(JSON.parse(w.body).Message, /There is no space for group commit stream load async WAL/);
});

test('control API: counters and faults fired; reset', async () => {
  const c = await t.control('GET', '/counters');
  const fired = c.faultsFired as Record<string, number>;
  assert.ok(fired.commit_then_drop === 2 && fired.too_many_versions === 2 && fired.dead_be === 2);
  assert.ok((c.status as Record<string, number>)['Publish Timeout'] === 1);
  assert.ok((c.twoPc as { commit: number; failed: number }).failed >= 1);
  await assert.rejects(t.control('POST', '/faults', { type: 'nope' }), /unknown fault type/);
  await t.control('POST', '/reset', {});
  const z = await t.control('GET', '/counters');
  assert.equal(z.loads, 0);
  assert.deepEqual(z.faultsFired, {});
});
