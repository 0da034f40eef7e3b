import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { BackendRoute, NoBackendError } from './backend-route.ts';
import type { Backend } from './fe-replies.ts';
import { TransportError } from './transport.ts';

function route(list: () => Promise<Backend[]>, clock: { t: number }) {
  return new BackendRoute({ listBackends: list, refreshMs: 1000, downMs: 500, now: () => clock.t });
}

test('round-robin over the listed backends, skipping one marked down until its time is up', async () => {
  const clock = { t: 0 };
  const r = route(
    async () => [
      { host: '10.0.0.1', httpPort: 8040 },
      { host: '10.0.0.2', httpPort: 8040 },
      { host: '::1', httpPort: 8041 },
    ],
    clock,
  );
  assert.deepEqual(
    [await r.pick(), await r.pick(), await r.pick(), await r.pick()],
    ['http://10.0.0.1:8040', 'http://10.0.0.2:8040', 'http://[::1]:8041', 'http://10.0.0.1:8040'],
  );
  r.markDown('http://10.0.0.2:8040');
  assert.deepEqual([await r.pick(), await r.pick()], ['http://[::1]:8041', 'http://10.0.0.1:8040']);
  clock.t = 600;
  assert.equal(await r.pick(), 'http://10.0.0.2:8040');
  await r.close();
});

test('the list is re-read when stale; listing failures and empty lists are NoBackendError', async () => {
  const clock = { t: 0 };
  let calls = 0;
  let answer: Backend[] | Error = [{ host: 'a', httpPort: 1 }];
  const r = route(async () => {
    calls++;
    if (answer instanceof Error) throw answer;
    return answer;
  }, clock);
  await r.pick();
  await r.pick();
  assert.equal(calls, 1);
  clock.t = 2000;
  answer = [{ host: 'b', httpPort: 2 }];
  assert.equal(await r.pick(), 'http://b:2');
  assert.equal(calls, 2);
  clock.t = 4000;
  answer = [];
  await assert.rejects(r.pick(), (e: unknown) => e instanceof NoBackendError && /no live backend/.test(e.message));
  answer = new Error('backends: FE code 401: Unauthorized');
  await assert.rejects(r.backends(true), (e: unknown) => e instanceof NoBackendError && e.fatal);
  answer = new Error('connect ECONNREFUSED');
  await assert.rejects(r.backends(true), (e: unknown) => e instanceof NoBackendError && !e.fatal);
  await r.close();
});

test('all backends down → NoBackendError', async () => {
  const clock = { t: 0 };
  const r = route(async () => [{ host: 'a', httpPort: 1 }], clock);
  r.markDown('http://a:1');
  await assert.rejects(r.pick(), /all 1 backends refused/);
  await r.close();
});

test('put: a refused connection is a non-ambiguous connect error and marks the BE down; a reply is returned as is', async () => {
  const clock = { t: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(`{"Status": "Success", "Label": "${req.headers.label}"}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const r = route(
    async () => [
      { host: '127.0.0.1', httpPort: deadPort },
      { host: '127.0.0.1', httpPort: port },
    ],
    clock,
  );
  const deadOrigin = await r.pick();
  await assert.rejects(
    r.put(deadOrigin, '/api/d/t/_stream_load', { label: 'L' }, Buffer.from('x'), AbortSignal.timeout(2000)),
    (e: unknown) => e instanceof TransportError && e.phase === 'connect' && !e.ambiguous,
  );
  assert.equal(await r.pick(), `http://127.0.0.1:${port}`);
  assert.equal(await r.pick(), `http://127.0.0.1:${port}`, 'the refusing BE is skipped');
  const reply = await r.put(
    `http://127.0.0.1:${port}`,
    '/api/d/t/_stream_load',
    { label: 'L2' },
    Buffer.from('x'),
    AbortSignal.timeout(2000),
  );
  assert.equal(reply.status, 200);
  assert.match(reply.body.toString(), /"Label": "L2"/);
  await r.close();
  server.close();
});
