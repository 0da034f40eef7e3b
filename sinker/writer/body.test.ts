import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildBody, gzipBody, loadHeaders, mergedBody } from './body.ts';

test('buildBody joins rows with the delimiter, no trailing delimiter, multi-byte safe', () => {
  const rows = ['a\t1', 'ü\t2', '日本\t3'];
  const bytes = rows.reduce((n, r) => n + Buffer.byteLength(r), 0);
  assert.equal(buildBody(rows, '\n', bytes).toString(), 'a\t1\nü\t2\n日本\t3');
  assert.equal(buildBody(rows, '\x02', bytes).toString(), 'a\t1\x02ü\t2\x02日本\t3');
  assert.equal(buildBody([], '\n', 0).length, 0);
});

test('buildBody survives a wrong byte hint', () => {
  const rows = ['héllo', 'world'];
  assert.equal(buildBody(rows, '\n', 3).toString(), 'héllo\nworld');
  assert.equal(buildBody(rows, '\n', 1000).toString(), 'héllo\nworld');
  assert.equal(buildBody(rows, '\n').toString(), 'héllo\nworld');
  const tricky = ['ab', 'cü', '日'];
  for (let hint = 0; hint <= 20; hint++) {
    assert.equal(buildBody(tricky, '\r\n', hint).toString(), 'ab\r\ncü\r\n日', `hint ${hint}`);
  }
});

test('gzipBody round-trips', async () => {
  const body = Buffer.from('x'.repeat(10000));
  const gz = await gzipBody(body);
  assert.ok(gz.length < body.length);
  assert.deepEqual(gunzipSync(gz), body);
});

test('loadHeaders: encoder headers win over user properties; the writer owns label, timeout, auth, compression', () => {
  const h = loadHeaders(
    {
      timeout: 600,
      stream_load_properties: {
        format: 'csv',
        strict_mode: 'true',
        Label: 'user',
        group_commit: 'async_mode',
        Expect: 'x',
      },
    },
    { headers: { format: 'json', read_json_by_line: 'true' }, lineDelimiter: '\n' },
    'sink:t:0:0',
    'Basic abc',
    true,
  );
  assert.deepEqual(h, {
    format: 'json',
    strict_mode: 'true',
    read_json_by_line: 'true',
    label: 'sink:t:0:0',
    timeout: '600',
    compress_type: 'gz',
    authorization: 'Basic abc',
  });
  const plain = loadHeaders(
    { timeout: 5, stream_load_properties: { compress_type: 'gz' } },
    { headers: {}, lineDelimiter: '\n' },
    'l',
    'a',
    false,
    {
      two_phase_commit: 'true',
    },
  );
  assert.equal(plain.compress_type, undefined);
  assert.equal(plain.two_phase_commit, 'true');
});

test('BodyPool reuses released buffers that are big enough, smallest first, and bounds what it keeps', async () => {
  const { BodyPool } = await import('./body.ts');
  const pool = new BodyPool(2);
  const a = pool.acquire(3_000_000);
  assert.equal(a.length, 3_000_000);
  assert.equal(a.buffer.byteLength, 3 * 1048576);
  const b = pool.acquire(100_000);
  pool.release(a);
  pool.release(b);
  pool.release(b); // twice: kept once
  assert.equal(pool.freeCount, 2);
  const c = pool.acquire(90_000);
  assert.equal(c.buffer, b.buffer, 'the smallest fitting buffer');
  const d = pool.acquire(2_000_000);
  assert.equal(d.buffer, a.buffer);
  const e = pool.acquire(5_000_000);
  assert.notEqual(e.buffer, a.buffer, 'nothing big enough left: a new one');
  pool.release(c);
  pool.release(d);
  pool.release(e);
  assert.equal(pool.freeCount, 2, 'at most maxFree kept');
  pool.release(Buffer.from('small, not ours'));
  assert.equal(pool.freeCount, 2);
  // buildBody writes into the pool's buffer.
  const body = buildBody(['x', 'y'], '\n', 2, (n) => pool.acquire(n));
  assert.equal(body.toString(), 'x\ny');
});

test('a merged body joins the batches bodies with \\n, skipping empty batches; else joins every row', () => {
  const b = (rows: string[], withBody = true) => ({
    rows,
    rowOffsets: rows.map((_, i) => String(i)),
    bytes: rows.reduce((n, r) => n + Buffer.byteLength(r), 0),
    ...(withBody ? { body: Buffer.from(rows.join('\n')) } : {}),
  });
  assert.equal(mergedBody([b(['a', 'bé']), b([]), b(['c'])], '\n').toString(), 'a\nbé\nc');
  assert.equal(mergedBody([b(['a']), b(['c'], false)], '\n').toString(), 'a\nc');
  assert.equal(mergedBody([b(['a', 'b']), b(['c'])], '\x02').toString(), 'a\x02b\x02c');
  assert.equal(mergedBody([b([]), b([])], '\n').length, 0);
});
