// Every row of doris-stream-load.md §7 against the Doris emulator's faults: the writer's verdict
// (done / retry with the same label / settle by label / dead-letter / give up) and, each time,
// the rows stored exactly once.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { SetupRefusedError, StreamLoadError } from '../../../sinker/writer/writer.ts';
import { armFault, closeStorage, emulator, freshTable, storedRows, txnsOf } from './emulator.ts';
import { closeWriters, csvBatch, expected, publishedSoon, SINK, writerFor } from './harness.ts';

let table: string;
let next = 1000;
/** Each test loads its own offset range, so its label and its rows are its own. */
function range(n: number): number {
  const first = next;
  next += n + 10;
  return first;
}
/** Regex for the label of the batch starting at `first` (faults fire only for it). */
function labelRe(first: number): string {
  return `^${SINK}:events:0:${first}$`;
}

before(async () => {
  await emulator();
  table = await freshTable('w7');
});
after(async () => {
  await closeWriters();
  await closeStorage();
});

let stored: string[] = [];
beforeEach(async () => {
  stored = await storedRows(table);
});

/** The rows this test added to the table. */
async function added(): Promise<string[]> {
  const now = await storedRows(table);
  const before = new Set(stored);
  return now.filter((r) => !before.has(r));
}

const NAMES = ['a', 'b', 'c', 'd'];

test('§7 Success → done in one attempt', async () => {
  const first = range(4);
  const { w, attempts } = await writerFor(table);
  const r = await w.load(csvBatch(NAMES, first));
  assert.equal(r.status, 'loaded');
  assert.deepEqual(attempts, ['backend:committed']);
  assert.deepEqual(await added(), expected(NAMES, first));
});

test('§7 Publish Timeout → committed, rows visible later, not retried', async () => {
  const first = range(4);
  await armFault({ type: 'publish_timeout', label: labelRe(first), delayMs: 300 });
  const { w, attempts } = await writerFor(table);
  const r = await w.load(csvBatch(NAMES, first));
  assert.equal(r.status, 'loaded');
  assert.equal(r.publishTimeout, true);
  assert.deepEqual(attempts, ['backend:committed']);
  await new Promise((res) => setTimeout(res, 600));
  assert.deepEqual(await added(), expected(NAMES, first));
});

test('§7 Label Already Exists + FINISHED → success (lost reply: commit then dropped connection)', async () => {
  for (const how of ['close', 'rst'] as const) {
    const first = range(4);
    await armFault({ type: 'commit_then_drop', label: labelRe(first), how });
    const { w } = await writerFor(table);
    const r = await w.load(csvBatch(NAMES, first));
    assert.equal(r.status, 'already-loaded', how);
    assert.deepEqual(await added(), expected(NAMES, first));
    stored = await storedRows(table);
  }
  // Sending the same batch again answers Label Already Exists + FINISHED: success, nothing added.
  const first = range(4);
  const { w, attempts } = await writerFor(table);
  await w.load(csvBatch(NAMES, first));
  stored = await storedRows(table);
  const again = await w.load(csvBatch(NAMES, first));
  assert.equal(again.status, 'already-loaded');
  assert.equal(attempts.at(-1), 'backend:already-committed');
  assert.deepEqual(await added(), []);
});

test('§7 Label Already Exists + RUNNING → wait, then settled by the label', async () => {
  const first = range(4);
  await armFault({ type: 'slow_reply', label: labelRe(first), delayMs: 1000, commit: 'after' });
  const a = await writerFor(table);
  const b = await writerFor(table);
  const slow = a.w.load(csvBatch(NAMES, first));
  await new Promise((res) => setTimeout(res, 200));
  const second = await b.w.load(csvBatch(NAMES, first));
  assert.equal(second.status, 'already-loaded');
  assert.equal(b.attempts[0], 'backend:running');
  assert.equal((await slow).status, 'loaded');
  assert.deepEqual(await added(), expected(NAMES, first));
});

test('§7 Label Already Exists + PRECOMMITTED → committed as ours (no second copy)', async () => {
  const first = range(4);
  const e = await emulator();
  const label = `${SINK}:events:0:${first}`;
  // An earlier 2PC load left the batch pre-committed under its label: PUT straight to a BE.
  const backends = (await (
    await fetch(`http://${e.fe}/api/backends?is_alive=true`, {
      headers: { authorization: `Basic ${Buffer.from(`${e.user}:${e.password}`).toString('base64')}` },
    })
  ).json()) as { data: { backends: { ip: string; http_port: number }[] } };
  const be = backends.data.backends[0];
  assert.ok(be, 'the emulator lists a backend');
  const pre = await fetch(`http://${be.ip}:${be.http_port}/api/test_db/${table}/_stream_load`, {
    method: 'PUT',
    headers: {
      authorization: `Basic ${Buffer.from(`${e.user}:${e.password}`).toString('base64')}`,
      label,
      two_phase_commit: 'true',
      format: 'csv',
      column_separator: ',',
    },
    body: expected(NAMES, first).join('\n'),
  });
  assert.match(await pre.text(), /"Status": "Success"/);
  assert.equal((await txnsOf('test_db', label))[0]?.state, 'PRECOMMITTED');
  assert.deepEqual(await added(), [], 'pre-committed rows are invisible');
  const { w, attempts } = await writerFor(table);
  const r = await w.load(csvBatch(NAMES, first));
  assert.equal(attempts[0], 'backend:precommitted');
  assert.equal(r.status, 'already-loaded');
  await publishedSoon(w, label);
  assert.deepEqual(await added(), expected(NAMES, first));
});

test('2PC commit failing with a write-lock timeout (txn stays PRECOMMITTED) is retried until committed', async () => {
  const first = range(4);
  const label = `${SINK}:events:0:${first}`;
  await armFault({ type: 'commit_2pc_fail', label: `^${label}$`, count: 2 });
  const { w, attempts } = await writerFor(table, { stream_load_properties: { two_phase_commit: 'true' } });
  const r = await w.load(csvBatch(NAMES, first));
  assert.deepEqual(attempts, ['backend:precommitted']);
  assert.equal(r.status, 'loaded');
  await publishedSoon(w, label);
  assert.deepEqual(await added(), expected(NAMES, first));
});

test('Success under two_phase_commit (set by the user) is committed by the writer', async () => {
  const first = range(4);
  const { w, attempts } = await writerFor(table, { stream_load_properties: { two_phase_commit: 'true' } });
  const r = await w.load(csvBatch(NAMES, first));
  assert.deepEqual(attempts, ['backend:precommitted']);
  assert.equal(r.status, 'loaded');
  assert.equal(r.loadedRows, 4);
  await publishedSoon(w, r.label);
  assert.deepEqual(await added(), expected(NAMES, first));
});

test('§7 network error / timeout before a reply → same label; committed-before-timeout is not loaded twice', async () => {
  for (const commit of ['before', 'after', 'never'] as const) {
    const first = range(4);
    await armFault({ type: 'slow_reply', label: labelRe(first), delayMs: 4500, commit });
    const { w } = await writerFor(table, { timeout: 2 });
    const r = await w.load(csvBatch(NAMES, first));
    assert.ok(r.status === 'loaded' || r.status === 'already-loaded', `${commit}: ${r.status}`);
    const labels = await txnsOf('test_db', r.label);
    assert.equal(labels.filter((t) => t.state === 'VISIBLE').length, 1, commit);
    assert.deepEqual(await added(), expected(NAMES, first), commit);
    stored = await storedRows(table);
  }
});

test('§7 5xx / HTML / empty / non-JSON reply → retried with the same label (committed or not)', async () => {
  for (const [status, body, commit] of [
    [502, 'html', false],
    [503, 'empty', true],
    [504, 'text', true],
  ] as const) {
    const first = range(4);
    await armFault({ type: 'http_error', label: labelRe(first), status, body, commit });
    const { w, attempts } = await writerFor(table);
    const r = await w.load(csvBatch(NAMES, first));
    assert.equal(attempts[0], 'backend:retryable');
    assert.equal(r.status, commit ? 'already-loaded' : 'loaded', `${status}`);
    assert.deepEqual(await added(), expected(NAMES, first), `${status}`);
    stored = await storedRows(table);
  }
});

test('§7 -235 too many versions, running-txn quota, [TIMEOUT], write-lock timeout at commit → retried, loaded once', async () => {
  for (const type of ['too_many_versions', 'txn_quota', 'load_timeout', 'commit_fail'] as const) {
    const first = range(4);
    await armFault({ type, label: labelRe(first), count: 2 });
    const { w, attempts } = await writerFor(table);
    const r = await w.load(csvBatch(NAMES, first));
    assert.equal(r.status, 'loaded', type);
    assert.deepEqual(attempts, ['backend:retryable', 'backend:retryable', 'backend:committed'], type);
    assert.deepEqual(await added(), expected(NAMES, first), type);
    stored = await storedRows(table);
  }
});

test('retryable failures are bounded by max_retries', async () => {
  const first = range(4);
  await armFault({ type: 'too_many_versions', label: labelRe(first), count: 10 });
  const { w } = await writerFor(table, { max_retries: 2 });
  await assert.rejects(
    w.load(csvBatch(NAMES, first)),
    (e: unknown) => e instanceof StreamLoadError && e.retryable && e.attempts === 3,
  );
  assert.deepEqual(await added(), []);
  // The label is free: the same batch loads later.
  const again = await (await writerFor(table)).w.load(csvBatch(NAMES, first)).catch(() => undefined);
  if (again) assert.equal(again.status, 'loaded');
});

test('§7 No backend available (FE) and a dead BE behind the 307 → re-ask the FE', async () => {
  for (const spec of [
    { type: 'no_backend' },
    { type: 'dead_be', mode: 'refused' },
    { type: 'dead_be', mode: 'hang' },
  ] as const) {
    const first = range(4);
    await armFault({ ...spec, label: labelRe(first) });
    const { w, attempts } = await writerFor(table, { load_route: 'frontend', timeout: 2 });
    const r = await w.load(csvBatch(NAMES, first));
    assert.equal(r.status, 'loaded', JSON.stringify(spec));
    assert.equal(attempts.at(-1), 'frontend:committed');
    assert.ok(attempts.length >= 2);
    assert.deepEqual(await added(), expected(NAMES, first), JSON.stringify(spec));
    stored = await storedRows(table);
  }
});

test('§7 too many filtered rows → the refused rows dead-lettered with Doris’s reason, the rest loaded', async () => {
  const first = range(5);
  const names = ['ok1', 'waytoolong1', 'ok2', 'waytoolong2', 'ok3'];
  const { w, dlq } = await writerFor(table);
  const r = await w.load(csvBatch(names, first));
  assert.equal(r.status, 'loaded');
  assert.equal(r.loadedRows, 3);
  assert.deepEqual(
    dlq.map((d) => d.offset),
    [String(first + 1), String(first + 3)],
  );
  assert.match(dlq[0]?.reason ?? '', /too long/);
  assert.deepEqual(await added(), [`${first},ok1`, `${first + 2},ok2`, `${first + 4},ok3`]);
  assert.equal(await w.labelState(r.label), 'VISIBLE');
});

test('a data-quality refusal whose error log names no row is bisected; no good row is lost', async () => {
  const first = range(4);
  await armFault({ type: 'filter_rows', label: labelRe(first), rows: 1 });
  const { w, dlq } = await writerFor(table);
  const r = await w.load(csvBatch(NAMES, first));
  assert.equal(r.status, 'loaded');
  assert.deepEqual(dlq, []);
  assert.deepEqual(await added(), expected(NAMES, first));
});

test('every row refused → all dead-lettered, the label committed empty', async () => {
  const first = range(2);
  const { w, dlq } = await writerFor(table);
  const r = await w.load(csvBatch(['waytoolong1', 'waytoolong2'], first));
  assert.equal(r.status, 'dead-lettered');
  assert.equal(dlq.length, 2);
  assert.equal(await w.labelState(r.label), 'VISIBLE');
  assert.deepEqual(await added(), []);
});

test("§7 auth / unknown table / label format → not retried; the load stops with Doris's reason, nothing dead-lettered", async () => {
  // Refusals of the sink's setup: each batch would meet the same one. The sinker holds such loads
  // (holdConfigRefusals, config-refusal.test.ts); without it (replay) the load stops, and the rows
  // stay where they came from rather than in the DLQ.
  const cases = [
    {
      what: 'wrong password',
      table,
      over: { password: 'wrong', load_route: 'frontend' as const },
      reason: /Access denied|Unauthorized/,
    },
    { what: 'wrong password (BE route)', table, over: { password: 'wrong' }, reason: /Access denied|Unauthorized/ },
    { what: 'unknown table', table: 'no_such_table', over: {}, reason: /table not found|unknown/i },
    { what: 'label format', table, over: {}, label: 'bad.label', reason: /Label format error/ },
  ];
  for (const c of cases) {
    const { w, dlq } = await writerFor(c.table, c.over);
    await assert.rejects(w.load(csvBatch(NAMES, range(4)), c.label ? { label: c.label } : {}), (err: Error) => {
      assert.ok(err instanceof SetupRefusedError, `${c.what}: ${err.message}`);
      assert.equal(err.attempts, 1, `${c.what}: not retried`);
      assert.match(err.reason, c.reason, c.what);
      return true;
    });
    assert.equal(dlq.length, 0, c.what);
  }
  assert.deepEqual(await added(), []);
});

test('FE error JSON shapes without a Status key are recognised', async () => {
  for (const shape of ['rest', 'response'] as const) {
    const first = range(4);
    await armFault({ type: 'fe_error', label: labelRe(first), shape, msg: 'Access denied for user x' });
    const { w, dlq } = await writerFor(table, { load_route: 'frontend' });
    await assert.rejects(w.load(csvBatch(NAMES, first)), (err: Error) => {
      assert.ok(err instanceof SetupRefusedError, `${shape}: ${err.message}`);
      assert.match(err.reason, /Access denied/);
      return true;
    });
    assert.equal(dlq.length, 0, shape);
  }
  assert.deepEqual(await added(), []);
});
