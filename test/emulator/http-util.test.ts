import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { BodyPool, type ReceivedBody, readBody } from './http-util.ts';

/** A server that reads each request's body with `readBody` (pooled), copies it, and hands both out. */
async function withServer(
  pool: BodyPool,
  fn: (send: (body: Buffer, chunked: boolean) => Promise<{ got: ReceivedBody; copy: Buffer }>) => Promise<void>,
): Promise<void> {
  const seen: Array<{ got: ReceivedBody; copy: Buffer }> = [];
  const server = createServer(async (req, res) => {
    const got = await readBody(req, 10_000, pool);
    seen.push({ got, copy: Buffer.from(got.body) });
    res.end('ok');
    if (got.backing) pool.give(got.backing);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const send = (body: Buffer, chunked: boolean) =>
    new Promise<{ got: ReceivedBody; copy: Buffer }>((ok, fail) => {
      const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/' }, (res) => {
        res.resume();
        res.on('end', () => ok(seen[seen.length - 1]!));
      });
      req.on('error', fail);
      if (!chunked) req.setHeader('content-length', body.length);
      // several writes: the body arrives in several chunks either way
      for (let at = 0; at < body.length; at += 100_000) req.write(body.subarray(at, at + 100_000));
      req.end();
    });
  try {
    await fn(send);
  } finally {
    await new Promise((ok) => server.close(ok));
  }
}

test('pooled bodies arrive byte for byte, with and without Content-Length, and their buffers are reused', async () => {
  const pool = new BodyPool(2);
  await withServer(pool, async (send) => {
    const a = randomBytes(1_000_000);
    const first = await send(a, false);
    assert.ok(first.copy.equals(a), 'sized from Content-Length');
    assert.ok(first.got.backing);

    const b = randomBytes(900_000);
    const second = await send(b, false);
    assert.ok(second.copy.equals(b));
    assert.equal(second.got.backing, first.got.backing, 'the first buffer came back and served the second body');

    // No Content-Length: the buffer starts small and grows as chunks come.
    const c = randomBytes(3_000_000);
    const third = await send(c, true);
    assert.ok(third.copy.equals(c), 'grown across chunks without losing bytes');
    assert.ok(third.got.backing!.length >= c.length);
  });
});

test('the pool hands out the smallest free buffer that fits and keeps at most its limit', () => {
  const pool = new BodyPool(2);
  const small = Buffer.allocUnsafeSlow(100_000);
  const big = Buffer.allocUnsafeSlow(1_000_000);
  const extra = Buffer.allocUnsafeSlow(500_000);
  pool.give(big);
  pool.give(small);
  pool.give(extra); // over the limit: dropped
  assert.equal(pool.take(50_000), small);
  assert.equal(pool.take(50_000), big);
  const fresh = pool.take(50_000);
  assert.notEqual(fresh, extra, 'a buffer given past the limit is not kept');
  assert.ok(fresh.length >= 50_000);
});
