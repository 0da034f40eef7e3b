import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getProfile } from './profile.ts';
import { emptyReply, loadReplyBody, loadReplyObject, responseBody, restBaseResult, twoPcBody } from './reply.ts';

test('load reply: key order, types, 4-space pretty print and trailing newline', () => {
  const r = emptyReply('l1', 'c', 'Success', 'OK');
  r.txnId = 5;
  r.errorUrl = 'http://x/api/_load_error_log?file=a';
  r.firstErrorMsg = 'bad';
  const body = loadReplyBody(r, getProfile('3.0'));
  assert.ok(
    body.startsWith(
      '{\n    "TxnId": 5,\n    "Label": "l1",\n    "Comment": "c",\n    "TwoPhaseCommit": "false",\n    "Status": "Success",\n',
    ),
  );
  assert.ok(body.endsWith('"\n}\n'));
  assert.deepEqual(Object.keys(JSON.parse(body)), [
    'TxnId',
    'Label',
    'Comment',
    'TwoPhaseCommit',
    'Status',
    'Message',
    'NumberTotalRows',
    'NumberLoadedRows',
    'NumberFilteredRows',
    'NumberUnselectedRows',
    'LoadBytes',
    'LoadTimeMs',
    'BeginTxnTimeMs',
    'StreamLoadPutTimeMs',
    'ReadDataTimeMs',
    'WriteDataTimeMs',
    'ReceiveDataTimeMs',
    'CommitAndPublishTimeMs',
    'ErrorURL',
  ]);
  assert.equal(loadReplyObject(r, getProfile('4.0')).FirstErrorMsg, 'bad');
  const old = loadReplyObject(r, getProfile('1.2'));
  assert.equal('Comment' in old || 'ReceiveDataTimeMs' in old, false);
});

test('Label Already Exists carries ExistingJobStatus after Status; group commit swaps keys', () => {
  const r = emptyReply('l', '', 'Label Already Exists', 'm');
  r.existingJobStatus = 'FINISHED';
  const keys = Object.keys(loadReplyObject(r, getProfile('3.0')));
  assert.equal(keys[keys.indexOf('Status') + 1], 'ExistingJobStatus');
  const g = emptyReply('group_commit_a_b', '', 'Success', 'OK');
  g.groupCommit = true;
  const o = loadReplyObject(g, getProfile('3.0'));
  assert.equal(o.GroupCommit, true);
  assert.equal('TwoPhaseCommit' in o || 'BeginTxnTimeMs' in o || 'CommitAndPublishTimeMs' in o, false);
});

test('2PC and FE shapes', () => {
  assert.equal(
    twoPcBody('Success', 'transaction [1] commit successfully.'),
    '{\n    "status": "Success",\n    "msg": "transaction [1] commit successfully."\n}',
  );
  assert.equal(
    restBaseResult('There is no 100-continue header'),
    '{"status":"FAILED","msg":"There is no 100-continue header"}',
  );
  assert.equal(
    responseBody('Unauthorized', 401, 'Need auth information.'),
    '{"msg":"Unauthorized","code":401,"data":"Need auth information.","count":0}',
  );
});
