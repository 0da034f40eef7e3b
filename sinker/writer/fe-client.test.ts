import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FeClient, FeUnavailableError, feOrigin } from './fe-client.ts';

test('feOrigin accepts host:port, a URL, or a bare host (port 8030)', () => {
  assert.equal(feOrigin('fe1:8030'), 'http://fe1:8030');
  assert.equal(feOrigin('http://fe1:18030'), 'http://fe1:18030');
  assert.equal(feOrigin('fe1'), 'http://fe1:8030');
  assert.equal(feOrigin('https://fe.example.com'), 'https://fe.example.com:8030');
  assert.equal(feOrigin('[::1]:8030'), 'http://[::1]:8030');
});

test('FE failover: a dead or 5xx FE hands the call to the next; the good one is kept first', async () => {
  let hits = 0;
  const good = http.createServer((req, res) => {
    hits++;
    assert.equal(req.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    const body = gzipSync('{"msg":"success","code":0,"data":"VISIBLE","count":0}');
    res.writeHead(200, { 'content-encoding': 'gzip' });
    res.end(body);
  });
  const bad = http.createServer((_req, res) => {
    res.statusCode = 503;
    res.end('busy');
  });
  for (const s of [good, bad]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = (s: http.Server) => `127.0.0.1:${(s.address() as AddressInfo).port}`;
  const fe = new FeClient({ hosts: ['127.0.0.1:1', addr(bad), addr(good)], user: 'u', password: 'p', timeoutMs: 2000 });
  assert.equal(await fe.loadState('db', 'lbl'), 'VISIBLE');
  assert.equal(fe.current, `http://${addr(good)}`);
  assert.equal(await fe.loadState('db', 'lbl'), 'VISIBLE');
  assert.equal(hits, 2);
  await fe.close();

  const none = new FeClient({ hosts: ['127.0.0.1:1', addr(bad)], user: 'u', password: 'p', timeoutMs: 2000 });
  await assert.rejects(
    none.loadState('db', 'l'),
    (e: unknown) => e instanceof FeUnavailableError && /no FE answered/.test(e.message),
  );
  await none.close();
  good.close();
  bad.close();
});

test('an FE with no hosts is a configuration error', () => {
  assert.throws(() => new FeClient({ hosts: [], user: 'u', password: 'p', timeoutMs: 1 }), /doris.fe_hosts/);
});

test('fetchText sends the Doris credentials to a BE error log only, not to an object store’s presigned ErrorURL', async () => {
  const seen: (string | undefined)[] = [];
  const s = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.end('Reason: x. src line [1]; \n');
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(s.address() as AddressInfo).port}`;
  const fe = new FeClient({ hosts: [host], user: 'u', password: 'p', timeoutMs: 2000 });
  try {
    // The BE's own error log (§6), which a BE with enable_all_http_auth guards.
    await fe.fetchText(`http://${host}/api/_load_error_log?file=__shard_1/error_log_x`);
    // A cloud / S3 ErrorURL: the BE uploaded the log and returns a presigned URL (RuntimeState::get_error_log_file_path).
    assert.equal(
      await fe.fetchText(`http://${host}/bucket/error_log/x?X-Amz-Signature=abc&X-Amz-Expires=604799`),
      'Reason: x. src line [1]; \n',
    );
    assert.deepEqual(seen, [`Basic ${Buffer.from('u:p').toString('base64')}`, undefined]);
  } finally {
    await fe.close();
    s.close();
  }
});
