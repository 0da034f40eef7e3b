// StreamLoadWriter against FakeDoris (real loopback HTTP servers; see fake-doris.testkit.ts).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, test } from 'node:test';
import type { LoadBatch } from '../batch.ts';
import type { DorisConfig } from '../config/types.ts';
import { FakeDoris } from './fake-doris.testkit.ts';
import {
  type RejectedRow,
  SetupRefusedError,
  StreamLoadError,
  StreamLoadWriter,
  type WriterOptions,
} from './writer.ts';

let doris: FakeDoris;
const writers: StreamLoadWriter[] = [];

before(async () => {
  doris = await new FakeDoris().start();
});
after(async () => {
  for (const w of writers) await w.close();
  await doris.stop();
});
beforeEach(() => {
  doris.table.length = 0;
  doris.labels.clear();
  doris.faults.length = 0;
  doris.loadRequests.length = 0;
});

function dorisConfig(over: Partial<DorisConfig> = {}): DorisConfig {
  return {
    fe_hosts: [doris.feAddr],
    query_port: 9030,
    database: 'db',
    table: 'tbl',
    user: doris.user,
    password: doris.password,
    timeout: 2,
    max_retries: 3,
    retry_backoff_ms: 1,
    load_route: 'backend',
    format: 'csv',
    compress: false,
    stream_load_properties: {},
    ...over,
  };
}

function writer(
  over: Partial<DorisConfig> = {},
  opts: Partial<WriterOptions> = {},
): { w: StreamLoadWriter; dlq: RejectedRow[] } {
  const dlq: RejectedRow[] = [];
  const w = new StreamLoadWriter({
    sink: 'sink',
    doris: dorisConfig(over),
    encoding: { headers: { format: 'csv', column_separator: '\t' }, lineDelimiter: '\n' },
    deadLetter: async (_b, rows) => {
      dlq.push(...rows);
    },
    labelPollMs: 5,
    ...opts,
  });
  writers.push(w);
  return { w, dlq };
}

function batch(rows: string[], first = 100, partition = 0): LoadBatch {
  return {
    topic: 'events',
    partition,
    firstOffset: String(first),
    lastOffset: String(first + rows.length - 1),
    rows,
    rowOffsets: rows.map((_, i) => String(first + i)),
    bytes: rows.reduce((n, r) => n + Buffer.byteLength(r), 0),
  };
}

const ROWS = ['1\ta', '2\tb', '3\tc'];

test('BE route: loads the batch under its deterministic label', async () => {
  const { w } = writer();
  const r = await w.load(batch(ROWS));
  assert.equal(r.status, 'loaded');
  assert.equal(r.label, 'sink:events:0:100');
  assert.equal(r.loadedRows, 3);
  assert.equal(r.attempts, 1);
  assert.equal(r.route, 'backend');
  assert.deepEqual(doris.table, ROWS);
  assert.equal(doris.labels.get('sink:events:0:100')?.state, 'VISIBLE');
  assert.ok(r.txnId && Number(r.txnId) > 1000);
});

test('FE route: Expect + 307 to the BE with the full body', async () => {
  const { w } = writer({ load_route: 'frontend' });
  const r = await w.load(batch(ROWS));
  assert.equal(r.status, 'loaded');
  assert.equal(r.route, 'frontend');
  assert.deepEqual(doris.table, ROWS);
  assert.deepEqual(
    doris.loadRequests.map((q) => q.route),
    ['fe', 'be'],
  );
});

test('gzip body with compress_type: gz', async () => {
  const { w } = writer({ compress: true });
  const r = await w.load(batch(ROWS));
  assert.equal(r.status, 'loaded');
  assert.deepEqual(doris.table, ROWS);
});

test('a retry of a committed batch is Label Already Exists + FINISHED = success, no duplicate', async () => {
  const { w } = writer();
  await w.load(batch(ROWS));
  const again = await w.load(batch(ROWS));
  assert.equal(again.status, 'already-loaded');
  assert.equal(again.loadedRows, 3);
  assert.deepEqual(doris.table, ROWS);
});

test('commit then dropped connection: settled by the label state, body not sent again', async () => {
  const { w } = writer();
  doris.faults.push('drop-after-commit');
  const r = await w.load(batch(ROWS));
  assert.equal(r.status, 'already-loaded');
  assert.equal(r.attempts, 1);
  assert.deepEqual(doris.table, ROWS);
});

test('no reply before the deadline and not committed: resent with the same label', async () => {
  const { w } = writer({ timeout: 1 });
  doris.faults.push('hang-before-reply');
  const r = await w.load(batch(ROWS));
  assert.equal(r.status, 'loaded');
  assert.equal(r.attempts, 2);
  assert.deepEqual(
    doris.loadRequests.map((q) => q.label),
    ['sink:events:0:100', 'sink:events:0:100'],
  );
  assert.deepEqual(doris.table, ROWS);
});

test('HTML 503 and -235 are retried with the same label', async () => {
  const { w } = writer();
  doris.faults.push('html-503', 'e235');
  const r = await w.load(batch(ROWS));
  assert.equal(r.status, 'loaded');
  assert.equal(r.attempts, 3);
  assert.equal(new Set(doris.loadRequests.map((q) => q.label)).size, 1);
  assert.deepEqual(doris.table, ROWS);
});

test('retries are bounded by max_retries: a retryable StreamLoadError', async () => {
  const { w } = writer({ max_retries: 2 });
  doris.faults.push('e235', 'e235', 'e235', 'e235');
  await assert.rejects(
    w.load(batch(ROWS)),
    (e: unknown) => e instanceof StreamLoadError && e.retryable && e.attempts === 3 && /E-235/.test(e.message),
  );
  assert.deepEqual(doris.table, []);
});

test('data quality: refused rows found from the ErrorURL, dead-lettered with the reason, the rest loaded under the same label', async () => {
  const { w, dlq } = writer();
  const rows = ['1\ta', '2\tBAD', '3\tc', '4\tBAD', '5\te'];
  const r = await w.load(batch(rows, 200));
  assert.equal(r.status, 'loaded');
  assert.equal(r.loadedRows, 3);
  assert.equal(r.deadLetteredRows, 2);
  assert.deepEqual(
    dlq.map((d) => [d.offset, d.row]),
    [
      ['201', '2\tBAD'],
      ['203', '4\tBAD'],
    ],
  );
  assert.match(dlq[0]?.reason ?? '', /column\(x\) value is incorrect/);
  assert.deepEqual(doris.table, ['1\ta', '3\tc', '5\te']);
  assert.equal(doris.labels.get('sink:events:0:200')?.state, 'VISIBLE');
  assert.equal(r.attempts, 2);
});

test('data quality: onDeadLettered hears the refused rows after the DLQ has them and before the rest loads', async () => {
  const { w, dlq } = writer();
  const heard: { offsets: string[]; inDlq: number; table: number; state: string | undefined }[] = [];
  const r = await w.load(batch(['1\ta', '2\tBAD', '3\tc'], 250), {
    onDeadLettered: async (rows) => {
      heard.push({
        offsets: rows.map((row) => row.offset),
        inDlq: dlq.length,
        table: doris.table.length,
        state: doris.labels.get('sink:events:0:250')?.state,
      });
    },
  });
  assert.equal(r.status, 'loaded');
  assert.deepEqual(heard, [{ offsets: ['251'], inDlq: 1, table: 0, state: 'ABORTED' }]);
  assert.deepEqual(doris.table, ['1\ta', '3\tc']);
});

test('data quality without an ErrorURL: bisected with aborted 2PC probes, good rows kept', async () => {
  const { w, dlq } = writer();
  const rows = ['1\ta', '2\tb', '3\tBAD', '4\td', '5\te', '6\tf', '7\tBAD', '8\th'];
  doris.faults.push(
    'no-error-url',
    'no-error-url',
    'no-error-url',
    'no-error-url',
    'no-error-url',
    'no-error-url',
    'no-error-url',
  );
  const r = await w.load(batch(rows, 300));
  assert.equal(r.status, 'loaded');
  assert.deepEqual(
    dlq.map((d) => d.row),
    ['3\tBAD', '7\tBAD'],
  );
  assert.deepEqual(doris.table, ['1\ta', '2\tb', '4\td', '5\te', '6\tf', '8\th']);
  // Probes were 2PC and none of them stayed pre-committed.
  const probes = [...doris.labels.entries()].filter(([l]) => l.includes('_p'));
  assert.ok(probes.length > 0);
  assert.ok(
    probes.every(([, t]) => t.state === 'ABORTED'),
    JSON.stringify(probes),
  );
  assert.ok(doris.loadRequests.filter((q) => q.twoPc).length > 0);
  // The whole batch was just refused: no probe sends it whole again.
  assert.ok(
    doris.loadRequests.filter((q) => q.twoPc).every((q) => q.rows < rows.length),
    JSON.stringify(doris.loadRequests),
  );
});

test('every row refused: all dead-lettered and the label committed empty (settled by label after a crash)', async () => {
  const { w, dlq } = writer();
  const r = await w.load(batch(['BAD1', 'BAD2'], 400));
  assert.equal(r.status, 'dead-lettered');
  assert.equal(dlq.length, 2);
  assert.deepEqual(doris.table, []);
  assert.equal(doris.labels.get('sink:events:0:400')?.state, 'VISIBLE');
});

test("without holdConfigRefusals (replay), a wrong password ends the load with a SetupRefusedError naming Doris's reason, on either route, without retries; nothing dead-lettered", async () => {
  for (const route of ['backend', 'frontend'] as const) {
    let sent = 0;
    const { w, dlq } = writer({ password: 'wrong', load_route: route }, { onAttempt: () => sent++ });
    await assert.rejects(
      w.load(batch(ROWS)),
      (e: unknown) =>
        e instanceof SetupRefusedError &&
        !e.retryable &&
        /Need auth information/.test(e.reason) &&
        /^load sink:events:0:100: Doris refuses the sink's setup: /.test(e.message),
      route,
    );
    assert.deepEqual(dlq, [], route);
    assert.ok(sent <= 1, `${route}: ${sent} attempts`);
    assert.equal(w.blocked, undefined, route);
  }
  assert.deepEqual(doris.table, []);
});

test('holdConfigRefusals: a wrong password holds the load (same label, no DLQ, blocked says why) until Doris takes it', async () => {
  for (const route of ['backend', 'frontend'] as const) {
    doris.table.length = 0;
    doris.labels.clear();
    const right = doris.password;
    // Doris rotated the password; the writer still sends the old one. Later Doris takes it again.
    doris.password = 'rotated';
    try {
      let sent = 0;
      const { w, dlq } = writer(
        { load_route: route, password: right },
        { holdConfigRefusals: true, maxBackoffMs: 20, onAttempt: () => sent++ },
      );
      assert.equal(w.blocked, undefined);
      let settled = false;
      const p = w.load(batch(ROWS, 700)).finally(() => {
        settled = true;
      });
      // max_retries (3) + 1 attempts would have ended it before: held past that, not given up.
      while (sent < 8) await new Promise((r) => setTimeout(r, 5));
      assert.equal(settled, false, route);
      assert.match(w.blocked ?? '', /Need auth information/, route);
      assert.deepEqual(dlq, [], route);
      assert.deepEqual(doris.table, [], route);
      doris.password = right;
      const r = await p;
      assert.equal(r.status, 'loaded', route);
      assert.equal(r.label, 'sink:events:0:700', route);
      assert.deepEqual(doris.table, ROWS, route);
      assert.deepEqual(dlq, [], route);
      assert.equal(w.blocked, undefined, route);
    } finally {
      doris.password = right;
    }
  }
});

test('holdConfigRefusals: a held load ends when its signal aborts, retryable, nothing dead-lettered, blocked cleared', async () => {
  const right = doris.password;
  doris.password = 'rotated';
  try {
    const { w, dlq } = writer(
      { load_route: 'frontend', password: right },
      { holdConfigRefusals: true, maxBackoffMs: 20 },
    );
    const ac = new AbortController();
    const p = w.load(batch(ROWS), { signal: ac.signal });
    while (w.blocked === undefined) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await assert.rejects(p, (e: unknown) => e instanceof StreamLoadError && e.retryable);
    assert.equal(w.blocked, undefined);
    assert.deepEqual(dlq, []);
    assert.deepEqual(doris.table, []);
  } finally {
    doris.password = right;
  }
});

test('holdConfigRefusals: a label-state question (settling an intent) the FE refuses for the credentials is held with a signal, blocked says why', async () => {
  const right = doris.password;
  doris.password = 'rotated';
  try {
    const { w } = writer({ password: right }, { holdConfigRefusals: true, maxBackoffMs: 20 });
    // Without a signal (nothing could end the hold) it fails as before.
    await assert.rejects(w.labelState('sink:events:0:1'), /FE code 401/);
    const ac = new AbortController();
    let settled = false;
    const p = w.labelState('sink:events:0:1', ac.signal).finally(() => {
      settled = true;
    });
    while (w.blocked === undefined) await new Promise((r) => setTimeout(r, 5));
    assert.match(w.blocked ?? '', /Need auth information/);
    assert.equal(settled, false);
    doris.password = right;
    assert.equal(await p, 'UNKNOWN');
    assert.equal(w.blocked, undefined);
  } finally {
    doris.password = right;
  }
});

test("fatal (a body over Doris's limit): the batch goes to the DLQ with the reason, on either route, without retries", async () => {
  for (const route of ['backend', 'frontend'] as const) {
    doris.faults.push('body-exceed');
    const { w, dlq } = writer({ load_route: route });
    const r = await w.load(batch(ROWS));
    assert.equal(r.status, 'dead-lettered', route);
    assert.equal(dlq.length, 3, route);
    assert.match(dlq[0]?.reason ?? '', /body exceed/, route);
    assert.equal(r.attempts, 1, route);
  }
  assert.deepEqual(doris.table, []);
});

test('fatal without a dead-letter hook is a non-retryable StreamLoadError', async () => {
  doris.faults.push('body-exceed');
  const { w } = writer({ load_route: 'frontend' }, { deadLetter: undefined });
  await assert.rejects(
    w.load(batch(ROWS)),
    (e: unknown) => e instanceof StreamLoadError && !(e instanceof SetupRefusedError) && !e.retryable,
  );
});

test('auto route: BE listing fails → falls back to the FE route', async () => {
  // An FE list where the first FE is dead: failover to the second for both listing and loading.
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadAddr = `127.0.0.1:${(dead.address() as AddressInfo).port}`;
  await new Promise<void>((r) => dead.close(() => r()));
  const { w } = writer({ load_route: 'auto', fe_hosts: [deadAddr, doris.feAddr] });
  const r = await w.load(batch(ROWS));
  assert.equal(r.status, 'loaded');
  assert.equal(r.route, 'backend');
  assert.equal(w.fe.current, `http://${doris.feAddr}`);
  assert.deepEqual(doris.table, ROWS);
});

test('auto route: when the only BE is unreachable the FE route is used', async () => {
  const { w } = writer({ load_route: 'auto' });
  // The FE lists a BE on a port nobody listens on.
  (w.fe as unknown as { backends: () => Promise<unknown> }).backends = async () => [{ host: '127.0.0.1', httpPort: 1 }];
  const r = await w.load(batch(ROWS));
  assert.equal(r.status, 'loaded');
  assert.equal(r.route, 'frontend');
  assert.equal(r.attempts, 2);
  assert.deepEqual(doris.table, ROWS);
});

test('labelState and commitPrecommitted talk to the FE', async () => {
  const { w } = writer();
  assert.equal(await w.labelState('nope'), 'UNKNOWN');
  doris.labels.set('pc', { id: 1, state: 'PRECOMMITTED', rows: ['x'] });
  await w.commitPrecommitted('pc');
  assert.equal(await w.labelState('pc'), 'VISIBLE');
  assert.deepEqual(doris.table, ['x']);
});
