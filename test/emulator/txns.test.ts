import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check2pc, DEFAULT_TXN_CONFIG, find2pc, type TwoPcOp, TxnRegistry } from './txns.ts';

function reg(over: Partial<typeof DEFAULT_TXN_CONFIG> = {}) {
  return new TxnRegistry({ ...DEFAULT_TXN_CONFIG, ...over });
}

test('label format: regex and length 128', () => {
  const r = reg();
  assert.equal(r.begin('d', 't', 'a-b_c:1', 0, 1000).kind, 'ok');
  const bad = r.begin('d', 't', 'a.b', 0, 1000);
  assert.equal(bad.kind, 'bad_label');
  assert.match(
    (bad as { message: string }).message,
    /Label format error\. regex: \^\[\\-_A-Za-z0-9:\]\{1,128\}\$, label: a\.b/,
  );
  assert.equal(r.begin('d', 't', 'x'.repeat(128), 0, 1000).kind, 'ok');
  assert.equal(r.begin('d', 't', 'x'.repeat(129), 0, 1000).kind, 'bad_label');
});

test('label reuse: RUNNING, PRECOMMITTED, FINISHED; ABORTED frees it; per database; ids increase', () => {
  const r = reg();
  const a = r.begin('d', 't', 'L', 0, 1000);
  assert.equal(a.kind, 'ok');
  const t = (a as { txn: { id: number } }).txn as Parameters<TxnRegistry['abort']>[0];
  assert.equal((r.begin('d', 't', 'L', 1, 1000) as { existing: string }).existing, 'RUNNING');
  r.precommit(t, 2);
  assert.equal((r.begin('d', 't', 'L', 3, 1000) as { existing: string }).existing, 'PRECOMMITTED');
  r.commit(t, 4);
  assert.equal((r.begin('d', 't', 'L', 5, 1000) as { existing: string }).existing, 'FINISHED');
  r.visible(t, 6);
  assert.equal((r.begin('d', 't', 'L', 7, 1000) as { existing: string }).existing, 'FINISHED');
  assert.equal(r.begin('other', 't', 'L', 8, 1000).kind, 'ok', 'labels are per database');
  const b = r.begin('d', 't', 'M', 9, 1000) as { txn: Parameters<TxnRegistry['abort']>[0] };
  r.abort(b.txn, 10, 'x');
  const again = r.begin('d', 't', 'M', 11, 1000);
  assert.equal(again.kind, 'ok');
  assert.ok((again as { txn: { id: number } }).txn.id > b.txn.id);
});

test('retention: by age and by count per database', () => {
  const r = reg({ labelTtlMs: 100, labelMax: 2 });
  const done = (label: string, at: number) => {
    const b = r.begin('d', 't', label, at, 1000) as { txn: Parameters<TxnRegistry['abort']>[0] };
    r.visible(b.txn, at);
  };
  done('a', 0);
  done('b', 1);
  done('c', 2);
  assert.equal(r.begin('d', 't', 'a', 3, 1000).kind, 'ok', 'oldest dropped beyond the count cap');
  assert.equal(r.begin('d', 't', 'b', 3, 1000).kind, 'exists');
  r.tick(500);
  assert.equal(r.begin('d', 't', 'b', 501, 1000).kind, 'ok', 'expired by age');
});

test('precommit timeout aborts with "timeout by txn manager"; PREPARE past its load timeout too', () => {
  const r = reg({ precommitTimeoutMs: 50 });
  const a = (r.begin('d', 't', 'p', 0, 1000) as { txn: Parameters<TxnRegistry['abort']>[0] }).txn;
  r.precommit(a, 0);
  const b = (r.begin('d', 't', 'q', 0, 100) as { txn: Parameters<TxnRegistry['abort']>[0] }).txn;
  assert.deepEqual(
    r.tick(60).map((t) => t.label),
    ['p'],
  );
  assert.equal(a.reason, 'timeout by txn manager');
  assert.deepEqual(
    r.tick(200).map((t) => t.label),
    ['q'],
  );
  assert.equal(b.state, 'ABORTED');
});

test('2PC state-machine texts', () => {
  const r = reg();
  const t = (r.begin('d', 't', 'L', 0, 1000) as { txn: Parameters<TxnRegistry['abort']>[0] }).txn;
  // find2pc, then (after the password check) check2pc, as loadTxn2PCImpl does
  const err = (op: TwoPcOp, id: number | undefined, label = '') => {
    const f = find2pc(r, 'd', op, id, label);
    return 'error' in f ? f.error : (check2pc(f.txn, op) ?? 'ok');
  };
  assert.equal(err('commit', t.id), `transaction [${t.id}] is prepare, not pre-committed.`);
  // the label has a txn, only not a PRECOMMITTED one: "running" (getTransactionIdByLabel)
  assert.equal(err('commit', undefined, 'L'), 'running transaction not found, label=L');
  assert.equal(err('abort', undefined, 'L'), 'ok', 'abort by label finds PREPARE');
  r.precommit(t, 1);
  assert.equal(err('commit', undefined, 'L'), 'ok');
  r.commit(t, 2);
  assert.equal(err('commit', t.id), `transaction [${t.id}] is already committed, not pre-committed.`);
  r.visible(t, 3);
  assert.equal(err('commit', t.id), `transaction [${t.id}] is already visible, not pre-committed.`);
  assert.equal(err('abort', t.id), `transaction [${t.id}] is already VISIBLE, could not abort.`);
  assert.equal(err('abort', undefined, 'L'), 'running transaction not found, label=L');
  assert.equal(err('commit', undefined, 'L'), 'running transaction not found, label=L', 'a committed label');
  // a label never used: not "running", whichever the operation
  assert.equal(err('abort', undefined, 'NEVER'), 'transaction not found, label=NEVER');
  assert.equal(err('commit', undefined, 'NEVER'), 'transaction not found, label=NEVER');
  assert.equal(err('commit', 42), 'transaction [42] not found');
  assert.deepEqual(find2pc(r, 'other', 'commit', t.id, ''), { error: `transaction [${t.id}] not found` });
  const u = (r.begin('d', 't', 'U', 4, 1000) as { txn: Parameters<TxnRegistry['abort']>[0] }).txn;
  r.abort(u, 5, 'timeout by txn manager');
  assert.equal(err('commit', u.id), `transaction [${u.id}] is already aborted. abort reason: timeout by txn manager`);
  assert.equal(err('abort', u.id), `transaction [${u.id}] is already aborted, abort reason: timeout by txn manager`);
});

test('the txn manager does not abort a committing txn; abort of a finished txn is a no-op', () => {
  const r = reg();
  const a = (r.begin('d', 't', 'c', 0, 100) as { txn: Parameters<TxnRegistry['abort']>[0] }).txn;
  a.committing = true;
  assert.deepEqual(r.tick(500), []);
  a.committing = false;
  r.visible(a, 600);
  r.abort(a, 700, 'late');
  assert.equal(a.state, 'VISIBLE');
  assert.equal(a.reason, '');
});

test('evict: a finished txn is forgotten at once (its label free again); a running one is kept', () => {
  const r = reg();
  const a = r.begin('d', 't', 'L', 0, 1000) as { txn: Parameters<TxnRegistry['abort']>[0] };
  r.evict(a.txn);
  assert.equal((r.begin('d', 't', 'L', 1, 1000) as { existing: string }).existing, 'RUNNING', 'not finished: kept');
  r.precommit(a.txn, 2);
  r.commit(a.txn, 3);
  r.visible(a.txn, 4);
  r.evict(a.txn);
  assert.equal(r.latest('d', 'L'), undefined);
  assert.equal(r.get(a.txn.id), undefined);
  assert.equal(r.begin('d', 't', 'L', 5, 1000).kind, 'ok', 'the label is free again');
});
