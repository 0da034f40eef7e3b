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
