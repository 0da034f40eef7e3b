// describeTable against a query port that completes the login and then never answers (an FE stuck
// in a long GC, a half-dead proxy): the call must end with an error, or the schema refresh loop,
// which waits for one read to finish before the next, would never read the table again.
import assert from 'node:assert/strict';
import type { AddressInfo, Server, Socket } from 'node:net';
import { test } from 'node:test';
import mysql from 'mysql2';
import { describeTable } from './describe.ts';
import { SchemaError } from './schema.ts';

interface ServerConn {
  on(event: string, fn: (...args: never[]) => void): void;
  serverHandshake(args: Record<string, unknown>): void;
  stream: Socket;
}

async function stallingServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = mysql.createServer(((conn: ServerConn) => {
    sockets.add(conn.stream);
    conn.on('error', () => {});
    conn.serverHandshake({
      protocolVersion: 10,
      serverVersion: '5.7.99',
      connectionId: 1,
      statusFlags: 2,
      characterSet: 33,
      capabilityFlags: 0x000aa20f,
      authCallback: (_params: unknown, cb: (err: null) => void) => cb(null),
    });
    // Logged in, then silent: no answer to DESCRIBE, nor to COM_QUIT, and the socket stays open.
    conn.on('query', () => {});
  }) as never);
  // mysql2's server wraps a net.Server without exposing listen(port, host) or address().
  const inner = (server as unknown as { _server: Server })._server;
  await new Promise<void>((resolve) => inner.listen(0, '127.0.0.1', resolve));
  return {
    port: (inner.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => inner.close(() => resolve()));
    },
  };
}

test('a query port that logs in and then stalls: DESCRIBE fails after its timeout instead of hanging', async () => {
  const srv = await stallingServer();
  try {
    const outcome = await Promise.race([
      describeTable({
        host: '127.0.0.1',
        port: srv.port,
        user: 'root',
        password: '',
        database: 'test_db',
        table: 't',
        timeoutMs: 300,
      }).then(
        () => 'answered',
        (err: Error) => err,
      ),
      // Far beyond the 300 ms timeout plus the bounded close: only a hang gets here.
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000).unref()),
    ]);
    assert.ok(outcome instanceof SchemaError, String(outcome));
    assert.match(outcome.message, /^DESCRIBE test_db\.t on 127\.0\.0\.1:\d+ failed: Query inactivity timeout/);
    assert.equal(outcome.permanent, false);
  } finally {
    await srv.close();
  }
});
