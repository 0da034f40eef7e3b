import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBackends, parseLoadState, parseTwoPcReply } from './fe-replies.ts';

test('parseLoadState reads every transaction state', () => {
  for (const s of ['UNKNOWN', 'PREPARE', 'PRECOMMITTED', 'COMMITTED', 'VISIBLE', 'ABORTED']) {
    assert.equal(parseLoadState(JSON.stringify({ msg: 'success', code: 0, data: s, count: 0 })), s);
  }
  assert.equal(parseLoadState('{"msg":"success","code":0,"data":"TXN_STATUS_VISIBLE","count":0}'), 'VISIBLE');
});

test('parseLoadState refuses FE errors and odd states with the detail', () => {
  assert.throws(
    () => parseLoadState('{"msg":"Unauthorized","code":401,"data":"Need auth information.","count":0}'),
    /code 401: Unauthorized Need auth information/,
  );
  assert.throws(() => parseLoadState('{"msg":"success","code":0,"data":"WEIRD"}'), /unexpected state "WEIRD"/);
  assert.equal(parseLoadState('{"msg":"label [x] not found","code":1,"data":null,"count":0}'), 'UNKNOWN');
  assert.throws(() => parseLoadState('<html>'), /not JSON/);
});

test('parseBackends keeps live backends with an http port', () => {
  const text = JSON.stringify({
    msg: 'success',
    code: 0,
    data: {
      backends: [
        { ip: '10.0.0.1', http_port: 8040, is_alive: true },
        { ip: '10.0.0.2', http_port: 8040, is_alive: false },
        { ip: '10.0.0.3', http_port: '8041', is_alive: true },
        { ip: '', http_port: 8040, is_alive: true },
      ],
    },
    count: 0,
  });
  assert.deepEqual(parseBackends(text), [
    { host: '10.0.0.1', httpPort: 8040 },
    { host: '10.0.0.3', httpPort: 8041 },
  ]);
  assert.throws(() => parseBackends('{"msg":"success","code":0,"data":{}}'), /no data.backends/);
  assert.throws(() => parseBackends('{"msg":"Unauthorized","code":401,"data":"x"}'), /code 401/);
});

test('parseTwoPcReply recognises success, already-done and not-found', () => {
  assert.equal(
    parseTwoPcReply('{\n    "status": "Success",\n    "msg": "label [l] commit successfully."\n}', 'commit').result,
    'done',
  );
  assert.equal(
    parseTwoPcReply(
      '{"status":"ANALYSIS_ERROR","msg":"TStatus: errCode = 2, detailMessage = transaction [5] is already visible, not pre-committed."}',
      'commit',
    ).result,
    'already',
  );
  assert.equal(
    parseTwoPcReply('{"status":"ANALYSIS_ERROR","msg":"transaction [5] is already aborted, abort reason: x"}', 'abort')
      .result,
    'already',
  );
  assert.equal(
    parseTwoPcReply('{"status":"ANALYSIS_ERROR","msg":"transaction not found, label=l"}', 'abort').result,
    'not-found',
  );
  assert.equal(parseTwoPcReply('{"status":"INTERNAL_ERROR","msg":"boom"}', 'commit').result, 'failed');
  assert.equal(parseTwoPcReply('garbage', 'commit').result, 'failed');
});
