import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { classifyReply, type LoadOutcome } from './classify.ts';
import { decodeReplyBody, parseReply } from './reply.ts';

// A BE reply the way Doris prints it: pretty JSON, 4-space indent, trailing newline (§3).
function beBody(fields: Record<string, unknown>): string {
  const base: Record<string, unknown> = {
    TxnId: 1001,
    Label: 'sink:t:0:0',
    Comment: '',
    TwoPhaseCommit: 'false',
    Status: 'Fail',
    Message: 'OK',
    NumberTotalRows: 0,
    NumberLoadedRows: 0,
    NumberFilteredRows: 0,
    NumberUnselectedRows: 0,
    LoadBytes: 0,
    LoadTimeMs: 3,
    BeginTxnTimeMs: 0,
    StreamLoadPutTimeMs: 1,
    ReadDataTimeMs: 0,
    WriteDataTimeMs: 1,
    ReceiveDataTimeMs: 0,
    CommitAndPublishTimeMs: 0,
  };
  return `${JSON.stringify({ ...base, ...fields }, null, 4)}\n`;
}

function fail(message: string, extra: Record<string, unknown> = {}): LoadOutcome {
  return classifyReply(parseReply(200, beBody({ Status: 'Fail', Message: message, ...extra })));
}

function kindOf(o: LoadOutcome): string {
  return o.kind === 'retryable' && o.reroute ? 'retryable+reroute' : o.kind;
}

test('§7 Success → committed, with counters and timings parsed', () => {
  const o = classifyReply(
    parseReply(
      200,
      beBody({
        Status: 'Success',
        Message: 'OK',
        NumberTotalRows: 10,
        NumberLoadedRows: 9,
        NumberFilteredRows: 1,
        LoadBytes: 500,
        ErrorURL: 'http://be:8040/api/_load_error_log?file=x',
      }),
    ),
  );
  assert.equal(o.kind, 'committed');
  if (o.kind !== 'committed') return;
  assert.equal(o.publishTimeout, false);
  assert.equal(o.reply.numberLoadedRows, 9);
  assert.equal(o.reply.numberFilteredRows, 1);
  assert.equal(o.reply.txnId, '1001');
  assert.equal(o.reply.errorUrl, 'http://be:8040/api/_load_error_log?file=x');
  assert.equal(o.reply.streamLoadPutTimeMs, 1);
});

test('§7 Publish Timeout → committed (visible later)', () => {
  const o = classifyReply(
    parseReply(
      200,
      beBody({
        Status: 'Publish Timeout',
        Message: '[PUBLISH_TIMEOUT]TStatus: transaction commit successfully, BUT data will be visible later',
      }),
    ),
  );
  assert.equal(o.kind, 'committed');
  assert.ok(o.kind === 'committed' && o.publishTimeout);
});

test('§7 Label Already Exists + FINISHED → already-committed', () => {
  const o = classifyReply(
    parseReply(
      200,
      beBody({
        TxnId: -1,
        Status: 'Label Already Exists',
        ExistingJobStatus: 'FINISHED',
        Message:
          '[LABEL_ALREADY_EXISTS]TStatus: errCode = 2, detailMessage = Label [L] has already been used, relate to txn [77], status [VISIBLE].',
      }),
    ),
  );
  assert.equal(o.kind, 'already-committed');
  assert.equal(o.kind === 'already-committed' && o.reply.txnId, '-1');
});

test('§7 Label Already Exists + RUNNING → running (poll, same label)', () => {
  const o = classifyReply(parseReply(200, beBody({ Status: 'Label Already Exists', ExistingJobStatus: 'RUNNING' })));
  assert.equal(o.kind, 'running');
});

test('§7 Label Already Exists + PRECOMMITTED → precommitted', () => {
  const o = classifyReply(
    parseReply(200, beBody({ Status: 'Label Already Exists', ExistingJobStatus: 'PRECOMMITTED' })),
  );
  assert.equal(o.kind, 'precommitted');
});

test('Label Already Exists with an empty ExistingJobStatus (old cloud mode) reads the message', () => {
  const visible = classifyReply(
    parseReply(
      200,
      beBody({
        Status: 'Label Already Exists',
        ExistingJobStatus: '',
        Message: 'Label [L] has already been used, relate to txn [6], status=[TXN_STATUS_VISIBLE]',
      }),
    ),
  );
  assert.equal(visible.kind, 'already-committed');
  const unknown = classifyReply(
    parseReply(200, beBody({ Status: 'Label Already Exists', ExistingJobStatus: '', Message: 'Label [L] used' })),
  );
  assert.equal(unknown.kind, 'running');
});

test('Success under two_phase_commit → precommitted', () => {
  const o = classifyReply(parseReply(200, beBody({ Status: 'Success', TwoPhaseCommit: 'true' })));
  assert.equal(o.kind, 'precommitted');
});

test('§7 too many versions (-235) → retryable', () => {
  const o = fail(
    '[E-235]failed to init rowset builder. version count: 2001, exceed limit: 2000, tablet: 12345. Please reduce the frequency of loading data or adjust the max_tablet_version_num or time_series_max_tablet_version_num in be.conf to a larger value.',
  );
  assert.equal(kindOf(o), 'retryable');
});

test('§7 running-txn quota → retryable', () => {
  const o = fail(
    '[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = current running txns on db 10 is 10000, larger than limit 10000',
  );
  assert.equal(kindOf(o), 'retryable');
});

test('§7 TIMEOUT / CANCELLED / write lock timeout / no FE master heartbeat → retryable', () => {
  for (const m of [
    '[TIMEOUT]FragmentMgr cancel worker going to cancel timeout instance 1-2',
    '[CANCELLED]cancelled: memory limit exceeded',
    '[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = get tableList write lock timeout, tableList=(t)',
    '[SERVICE_UNAVAILABLE]Have not get FE Master heartbeat yet',
  ]) {
    assert.equal(kindOf(fail(m)), 'retryable', m);
  }
});

test('commit-time failure keeps its loaded count and is retried', () => {
  const o = fail(
    '[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = get tableList write lock timeout, tableList=(x)',
    {
      NumberTotalRows: 814,
      NumberLoadedRows: 814,
    },
  );
  assert.equal(o.kind, 'retryable');
  assert.equal(o.kind === 'retryable' && o.reply?.numberLoadedRows, 814);
});

test('§7 No backend available (FE) → retryable, re-ask the FE', () => {
  const o = classifyReply(
    parseReply(
      200,
      JSON.stringify({
        status: 'FAILED',
        msg: 'No backend available for load, please check the status of your backends. policy: ...',
      }),
    ),
  );
  assert.equal(kindOf(o), 'retryable+reroute');
});

test('§7 group commit blocked on schema change → retryable', () => {
  const o = classifyReply(
    parseReply(200, JSON.stringify({ status: 'FAILED', msg: 'insert table t is blocked on schema change' })),
  );
  assert.equal(kindOf(o), 'retryable');
});

test('§7 too many filtered rows / Encountered unqualified data → data-quality with the ErrorURL', () => {
  const url = 'http://127.0.0.1:8040/api/_load_error_log?file=__shard_1/error_log_x';
  const o = fail('[DATA_QUALITY_ERROR]too many filtered rows', {
    ErrorURL: url,
    NumberTotalRows: 5,
    NumberFilteredRows: 2,
  });
  assert.equal(o.kind, 'data-quality');
  assert.equal(o.kind === 'data-quality' && o.errorUrl, url);
  const old = fail('[INTERNAL_ERROR]too many filtered rows');
  assert.equal(old.kind, 'data-quality');
  const early = fail(
    '[DATA_QUALITY_ERROR]Encountered unqualified data, stop processing. Please check if the source data matches the schema, and consider disabling strict mode or increasing max_filter_ratio.',
  );
  assert.equal(early.kind, 'data-quality');
  assert.equal(early.kind === 'data-quality' && early.errorUrl, undefined);
});

test('§7 auth, privileges, label format, unknown db/table, INVALID_ARGUMENT, format → config (the setup, every batch)', () => {
  for (const m of [
    "[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = Access denied for user 'root@127.0.0.1' (using password: YES)",
    '[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = Access denied; you need (at least one of) the LOAD privilege(s) for this operation',
    '[NOT_AUTHORIZED]no valid Basic authorization',
    'Need auth information.',
    '[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = Label format error. regex: ^[\\-_A-Za-z0-9:]{1,128}$, label: a.b',
    '[NOT_FOUND]TStatus: errCode = 7, detailMessage = unknown database, database=x',
    '[NOT_FOUND]TStatus: errCode = 7, detailMessage = table not found, tableName=t',
    'errCode = 2, detailMessage = OlapTable not found.',
    'errCode = 2, detailMessage = table type is not OLAP, tableName=v',
    '[INVALID_ARGUMENT]enclose must be single-char, actually is ab',
    'unknown data format, format=xml',
    'compress data of JSON format is not supported.',
    "[INVALID_ARGUMENT]Invalid format of 'timeout': 'abc', stoi",
    'Invalid timeout: 300000. Timeout should be lower than Config.max_stream_load_timeout_second: 259200',
    '[INVALID_ARGUMENT]Invalid strict mode format. Must be bool type',
  ]) {
    const o = fail(m);
    assert.equal(kindOf(o), 'config', m);
    assert.ok(o.kind === 'config' && o.reason === m && o.reply?.status === 'Fail', m);
  }
});

test('§7 body-size limits → fatal (this batch only: a smaller one loads)', () => {
  for (const m of [
    '[E-217]The size of this batch exceed the max size [104857600]  of json type data',
    '[EXCEEDED_LIMIT]body exceed max size: 10737418240, limit: 10737418240',
  ]) {
    assert.equal(kindOf(fail(m)), 'fatal', m);
  }
});

test('old (pre-2022) messages without a [CODE] prefix still classify', () => {
  assert.equal(kindOf(fail('errCode = 2, detailMessage = too many filtered rows')), 'data-quality');
  assert.equal(kindOf(fail('errCode = 2, detailMessage = unknown database, database=x')), 'config');
});

test('an unknown failure text is retried, never dead-lettered on a guess', () => {
  assert.equal(kindOf(fail('[INTERNAL_ERROR]something new happened')), 'retryable');
});

test('FE RestBaseResult shapes: missing Expect, auth, no db → config', () => {
  for (const msg of [
    'There is no 100-continue header',
    'No database selected.',
    'Access denied; you need (at least one of) the LOAD privilege(s) for this operation',
    'Header `group_commit` can only be `sync_mode`, `async_mode` or `off_mode`.',
  ]) {
    const o = classifyReply(parseReply(200, JSON.stringify({ status: 'FAILED', msg })));
    assert.equal(o.kind, 'config', msg);
    assert.ok(o.kind === 'config' && o.reason.includes(msg));
  }
});

test('FE ResponseBody shapes: 401 → config; 503 → retryable', () => {
  const auth = classifyReply(
    parseReply(
      200,
      '{"msg":"Unauthorized","code":401,"data":"Access denied for user \'root@127.0.0.1\' (using password: YES)","count":0}',
    ),
  );
  assert.equal(auth.kind, 'config');
  assert.match(auth.kind === 'config' ? auth.reason : '', /Access denied/);
  const need = classifyReply(
    parseReply(200, '{"msg":"Unauthorized","code":401,"data":"Need auth information.","count":0}'),
  );
  assert.equal(need.kind, 'config');
  const busy = classifyReply(parseReply(503, '{"msg":"Service Unavailable","code":503,"data":null,"count":0}'));
  assert.equal(kindOf(busy), 'retryable+reroute');
});

test('§7 5xx HTML, empty body, truncated JSON → retryable (same label settles it)', () => {
  for (const [status, body] of [
    [502, '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>'],
    [503, ''],
    [504, '<html>Gateway Timeout</html>'],
    [200, '{"TxnId": 5, "Status": "Succ'],
  ] as const) {
    const o = classifyReply(parseReply(status, body));
    assert.equal(o.kind, 'retryable', `${status} ${body}`);
    assert.match(o.kind === 'retryable' ? o.reason : '', new RegExp(`HTTP ${status}`));
  }
});

test('a 401/403/404/405 that is not a Doris reply (a proxy, a wrong path) → config', () => {
  for (const status of [401, 403, 404, 405]) {
    assert.equal(classifyReply(parseReply(status, 'Not Found')).kind, 'config', String(status));
  }
});

test('gzip replies are decoded before parsing', () => {
  const body = beBody({ Status: 'Success', NumberLoadedRows: 3 });
  const text = decodeReplyBody(gzipSync(body), 'gzip');
  const o = classifyReply(parseReply(200, text));
  assert.equal(o.kind, 'committed');
  assert.equal(o.kind === 'committed' && o.reply.numberLoadedRows, 3);
  // Magic bytes are enough even without the header; plain text passes through.
  assert.equal(decodeReplyBody(gzipSync('x')), 'x');
  assert.equal(decodeReplyBody(Buffer.from('plain'), undefined), 'plain');
});

test('TxnId digits beyond 2^53 are kept exactly', () => {
  const text = '{"TxnId": 9007199254740993, "Label": "l", "Status": "Success", "Message": "OK"}';
  const p = parseReply(200, text);
  assert.equal(p.shape, 'be-load');
  assert.equal(p.shape === 'be-load' && p.reply.txnId, '9007199254740993');
});
