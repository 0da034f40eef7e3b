// The writer's routes against the Doris emulator: BE direct, FE 307 with Expect, auto; gzip; JSON
// lines; a repeated batch is refused by its label, so Doris holds each row once. Labels are per
// database, so every test here loads its own offset range.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { closeStorage, emulator, freshTable, storedRows, txnsOf } from './emulator.ts';
import { closeWriters, csvBatch, expected, JSON_LINES, SINK, writerFor } from './harness.ts';

let table: string;
before(async () => {
  await emulator();
  table = await freshTable('wroute');
});
after(async () => {
  await closeWriters();
  await closeStorage();
});

test('each route loads once; loading the same batch again is refused by its label', async () => {
  const names = ['a', 'b', 'c'];
  let first = 0;
  for (const route of ['backend', 'frontend', 'auto'] as const) {
    const { w } = await writerFor(table, { load_route: route });
    const b = csvBatch(names, first);
    const r = await w.load(b);
    assert.equal(r.status, 'loaded', route);
    assert.equal(r.loadedRows, 3);
    assert.equal(r.route, route === 'frontend' ? 'frontend' : 'backend');
    assert.equal(r.label, `${SINK}:events:0:${first}`);
    const again = await w.load(b);
    assert.equal(again.status, 'already-loaded', route);
    assert.equal(await w.labelState(r.label), 'VISIBLE');
    const txns = await txnsOf('test_db', r.label);
    assert.deepEqual(
      txns.map((t) => t.state),
      ['VISIBLE'],
    );
    first += 10;
  }
  assert.deepEqual(await storedRows(table), [...expected(names, 0), ...expected(names, 10), ...expected(names, 20)]);
});

test('gzip bodies (compress_type: gz) on both routes', async () => {
  const t = await freshTable('wgzip');
  for (const [i, route] of (['backend', 'frontend'] as const).entries()) {
    const { w } = await writerFor(t, { load_route: route, compress: true });
    const r = await w.load(csvBatch(['x', 'y'], 100 * (i + 1)));
    assert.equal(r.status, 'loaded');
  }
  assert.deepEqual(await storedRows(t), [...expected(['x', 'y'], 100), ...expected(['x', 'y'], 200)]);
});

test('JSON lines', async () => {
  const t = await freshTable('wjson');
  const { w } = await writerFor(t, { format: 'json' }, { encoding: JSON_LINES });
  const rows = ['{"id":1,"name":"ü,\\"q"}', '{"id":2,"name":null}', '{"id":3}'];
  const r = await w.load({
    topic: 'events',
    partition: 0,
    firstOffset: '401',
    lastOffset: '403',
    rows,
    rowOffsets: ['401', '402', '403'],
    bytes: rows.reduce((s, x) => s + Buffer.byteLength(x), 0),
  });
  assert.equal(r.status, 'loaded');
  assert.equal(r.loadedRows, 3);
  assert.deepEqual(await storedRows(t), ['1,ü,"q', '2,\\N', '3,\\N']);
});

test('fe_hosts failover: a dead first FE is skipped for listing backends and for loading', async () => {
  const t = await freshTable('wfail');
  const e = await emulator();
  for (const route of ['backend', 'frontend'] as const) {
    const { w } = await writerFor(t, { load_route: route, fe_hosts: ['127.0.0.1:1', e.fe] });
    const r = await w.load(csvBatch(['f'], route === 'backend' ? 301 : 302));
    assert.equal(r.status, 'loaded', route);
    assert.equal(w.fe.current, `http://${e.fe}`);
  }
  assert.deepEqual(await storedRows(t), ['301,f', '302,f']);
});

/** An FE behind a proxy that answers every request with a 5xx (the FE down behind it). */
async function failingFe(status: number): Promise<{ host: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end(`<html><body>${status} Bad Gateway</body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    hits: () => hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('fe_hosts failover: an FE answering 5xx to the load (FE route) hands it to the next FE', async () => {
  const t = await freshTable('wfe5xx');
  const e = await emulator();
  const bad = await failingFe(502);
  try {
    const { w, attempts } = await writerFor(t, { load_route: 'frontend', fe_hosts: [bad.host, e.fe] });
    const r = await w.load(csvBatch(['g'], 311));
    assert.equal(r.status, 'loaded');
    assert.equal(bad.hits(), 1, 'the 5xx FE is asked once');
    assert.deepEqual(attempts, ['frontend:retryable', 'frontend:committed']);
    assert.equal(w.fe.current, `http://${e.fe}`);
  } finally {
    await bad.close();
  }
  assert.deepEqual(await storedRows(t), ['311,g']);
});

test('a 12 MiB body loads whole on both routes (Expect + 307 re-sent to the BE, and direct)', async () => {
  const t = await freshTable('wbig', 'STRING');
  // 24 values of 512 KiB: under the 1 MiB STRING limit each, 12 MiB together.
  const names = Array.from({ length: 24 }, (_, i) => String.fromCharCode(97 + i).repeat(512 * 1024));
  for (const [route, first] of [
    ['frontend', 600],
    ['backend', 700],
  ] as const) {
    const { w, attempts } = await writerFor(t, { load_route: route, timeout: 120 });
    const r = await w.load(csvBatch(names, first));
    assert.equal(r.status, 'loaded', route);
    assert.equal(r.loadedRows, 24, route);
    assert.deepEqual(attempts, [`${route}:committed`]);
  }
  const stored = await storedRows(t);
  assert.deepEqual(
    stored.map((s) => s.length),
    [...expected(names, 600), ...expected(names, 700)].map((s) => s.length),
  );
  assert.deepEqual(stored, [...expected(names, 600), ...expected(names, 700)]);
});

test('fe_hosts failover: an FE that accepts the load and never answers is left for the next FE at once', async () => {
  const t = await freshTable('wfehang');
  const e = await emulator();
  let hits = 0;
  const hung = http.createServer(() => hits++);
  hung.on('checkContinue', () => hits++);
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(hung.address() as AddressInfo).port}`;
  try {
    const { w, attempts } = await writerFor(t, { load_route: 'frontend', fe_hosts: [host, e.fe] });
    const r = await w.load(csvBatch(['h'], 321));
    assert.equal(r.status, 'loaded');
    assert.deepEqual(attempts, ['frontend:transport', 'frontend:committed']);
    // The silent FE had the load only: the label's state (the outcome was unknown) was asked of the next.
    assert.equal(hits, 1);
    assert.equal(w.fe.current, `http://${e.fe}`);
  } finally {
    hung.closeAllConnections();
    await new Promise((resolve) => hung.close(resolve));
  }
  assert.deepEqual(await storedRows(t), ['321,h']);
});
