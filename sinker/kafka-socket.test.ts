import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { test } from 'node:test';
import {
  FrameReader,
  framedSocketFactory,
  freshConnectionState,
  MAX_FRAME_BYTES,
  wholeResponses,
} from './kafka-socket.ts';

/** A Kafka-style frame: 4-byte big-endian size, then that many bytes of `fill`. */
function frame(size: number, fill: number): Buffer {
  const b = Buffer.alloc(4 + size, fill);
  b.writeInt32BE(size, 0);
  return b;
}

/** Deterministic pseudo-random read sizes. */
function sizes(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return 1 + (x % 9000);
  };
}

test('FrameReader cuts a stream read in arbitrary pieces into its frames, each in a buffer of its own', () => {
  const frames = [frame(0, 1), frame(3, 2), frame(70_000, 3), frame(1, 4), frame(200_000, 5)];
  const stream = Buffer.concat(frames);
  const reader = new FrameReader();
  const next = sizes(7);
  const out: Buffer[] = [];
  let at = 0;
  while (at < stream.length) {
    const target = reader.target();
    assert.ok(target.length > 0, 'a read target is never empty');
    const n = Math.min(next(), target.length, stream.length - at);
    stream.copy(target, 0, at, at + n);
    at += n;
    const done = reader.advance(n);
    if (done) out.push(done);
  }
  assert.equal(out.length, frames.length);
  for (let i = 0; i < frames.length; i++) {
    assert.ok(out[i]!.equals(frames[i]!), `frame ${i}`);
    assert.equal(out[i]!.length, frames[i]!.length, `frame ${i} is exactly its size`);
  }
  // No two large frames share memory: kafkajs may keep one while the next one is read.
  assert.notEqual(out[2]!.buffer, out[4]!.buffer);
});

test('FrameReader refuses a size no Kafka response has, naming it', () => {
  for (const size of [-1, MAX_FRAME_BYTES + 1]) {
    const reader = new FrameReader();
    reader.target().writeInt32BE(size, 0);
    assert.throws(() => reader.advance(4), new RegExp(`response of ${size} bytes`));
  }
});

test('FrameReader: reads of every size from 1 byte up, so sizes split at every byte and reads that end exactly on a frame', () => {
  const frames = [frame(5, 1), frame(0, 2), frame(9, 3), frame(2, 4)];
  const stream = Buffer.concat(frames);
  for (let most = 1; most <= stream.length; most++) {
    const reader = new FrameReader();
    const out: Buffer[] = [];
    let at = 0;
    while (at < stream.length) {
      const target = reader.target();
      // A read never goes past the frame (or size) being read: one read, at most one frame.
      const n = Math.min(most, target.length);
      stream.copy(target, 0, at, at + n);
      at += n;
      const done = reader.advance(n);
      if (done) out.push(done);
    }
    assert.deepEqual(out, frames, `reads of at most ${most} bytes`);
  }
});

test("framedSocketFactory: a size past MAX_FRAME_BYTES is the socket's error, which kafkajs reports naming the broker", async () => {
  // What a plain-text client meets on an HTTP port: "HTTP" read as a size.
  const server = net.createServer((conn) => {
    conn.on('error', () => {});
    conn.on('data', () => conn.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const require = createRequire(import.meta.url);
  const Connection = require('kafkajs/src/network/connection.js') as new (
    o: object,
  ) => {
    connect(): Promise<boolean>;
    disconnect(): Promise<boolean>;
    send(p: object): Promise<unknown>;
  };
  const { createLogger, LEVELS } = require('kafkajs/src/loggers/index.js') as {
    createLogger(o: object): unknown;
    LEVELS: Record<string, number>;
  };
  const apiVersions = (
    require('kafkajs/src/protocol/requests/apiVersions/index.js') as { protocol(o: { version: number }): () => object }
  ).protocol({ version: 0 });
  const logged: { message: string; broker?: string }[] = [];
  const connection = new Connection({
    host: '127.0.0.1',
    port,
    logger: createLogger({
      level: LEVELS.ERROR,
      logCreator: () => (e: { log: { message: string; broker?: string } }) => logged.push(e.log),
    }),
    socketFactory: framedSocketFactory,
    requestTimeout: 5000,
    connectionTimeout: 5000,
  });
  try {
    await connection.connect();
    await assert.rejects(connection.send(apiVersions()), {
      name: 'KafkaJSConnectionError',
      message: `Connection error: Kafka broker sent a response of ${0x48545450} bytes (at most ${MAX_FRAME_BYTES} expected)`,
    });
    assert.ok(
      logged.some((l) => /response of \d+ bytes/.test(l.message) && l.broker === `127.0.0.1:${port}`),
      `logged with the broker: ${JSON.stringify(logged)}`,
    );
  } finally {
    await connection.disconnect();
    server.close();
  }
});

test('framedSocketFactory emits whole frames, however the peer writes them', async () => {
  const frames = [frame(10, 1), frame(300_000, 2), frame(0, 3), frame(65_536, 4)];
  const stream = Buffer.concat(frames);
  const server = net.createServer(async (conn) => {
    // Small writes with pauses, so the client's reads end inside sizes and bodies.
    const next = sizes(11);
    for (let at = 0; at < stream.length; ) {
      const n = Math.min(next(), stream.length - at);
      conn.write(stream.subarray(at, at + n));
      at += n;
      if (at % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    conn.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  try {
    let connected = false;
    const socket = framedSocketFactory({
      host: '127.0.0.1',
      port,
      ssl: undefined as never,
      onConnect: () => {
        connected = true;
      },
    });
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    await once(socket, 'end');
    socket.destroy();
    assert.ok(connected, 'onConnect called');
    assert.equal(got.length, frames.length);
    for (let i = 0; i < frames.length; i++) assert.ok(got[i]!.equals(frames[i]!), `frame ${i}`);
  } finally {
    server.close();
  }
});

test("kafkajs's connection hands a whole response on without copying it", () => {
  assert.equal(wholeResponses, true, 'kafkajs Connection.prototype.processData is wrapped');
  const { prototype } = createRequire(import.meta.url)('kafkajs/src/network/connection.js') as {
    prototype: object;
  };
  const payloads: Buffer[] = [];
  const conn = Object.assign(Object.create(prototype), {
    chunks: [],
    bytesBuffered: 0,
    bytesNeeded: 4,
    authHandlers: null,
    requestQueue: { fulfillRequest: (r: { payload: Buffer }) => payloads.push(r.payload) },
  }) as { processData(b: Buffer): void };
  // size, correlation id, payload
  const response = (id: number, body: string) => {
    const b = Buffer.alloc(8 + body.length);
    b.writeInt32BE(4 + body.length, 0);
    b.writeInt32BE(id, 4);
    b.write(body, 8);
    return b;
  };
  const first = response(1, 'first');
  const second = response(2, 'second');
  conn.processData(first);
  conn.processData(second);
  assert.deepEqual(
    payloads.map((p) => p.toString()),
    ['first', 'second'],
  );
  // Without the wrapper the second response is joined with the first's empty remainder: a copy.
  assert.equal(payloads[1]!.buffer, second.buffer, 'the second payload is a view of the frame, not a copy');
});

test('a kafkajs connection reset in the middle of a response answers again once it reconnects', {
  timeout: 30_000,
}, async () => {
  assert.equal(freshConnectionState, true, 'kafkajs Connection.prototype.connect is wrapped');
  const require = createRequire(import.meta.url);
  const Connection = require('kafkajs/src/network/connection.js') as new (
    o: object,
  ) => {
    connect(): Promise<boolean>;
    disconnect(): Promise<boolean>;
    send(p: object): Promise<{ apiVersions: { apiKey: number; maxVersion: number }[] }>;
  };
  const { createLogger, LEVELS } = require('kafkajs/src/loggers/index.js') as {
    createLogger(o: object): unknown;
    LEVELS: Record<string, number>;
  };
  const apiVersions = (
    require('kafkajs/src/protocol/requests/apiVersions/index.js') as {
      protocol(o: { version: number }): () => object;
    }
  ).protocol({ version: 0 });
  // kafkajs's own socket factory, the one the TLS path uses: it hands a response on in pieces.
  const kafkajsSocket = (require('kafkajs/src/network/socketFactory.js') as () => unknown)();

  // ApiVersions v0 answers: the first connection gets the size and half the body, then a reset.
  let connections = 0;
  const server = net.createServer((conn) => {
    const nth = ++connections;
    conn.on('error', () => {});
    conn.on('data', (req: Buffer) => {
      const correlationId = req.readInt32BE(8);
      const body = Buffer.alloc(4 + 2 + 4 + 6);
      body.writeInt32BE(correlationId, 0);
      body.writeInt16BE(0, 4); // no error
      body.writeInt32BE(1, 6); // one api
      body.writeInt16BE(18, 10); // ApiVersions
      body.writeInt16BE(0, 12);
      body.writeInt16BE(nth, 14); // max version: which connection answered
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length, 0);
      if (nth === 1)
        conn.write(Buffer.concat([size, body.subarray(0, 7)]), () => setTimeout(() => conn.resetAndDestroy(), 50));
      else conn.write(Buffer.concat([size, body]));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const connection = new Connection({
    host: '127.0.0.1',
    port,
    logger: createLogger({ level: LEVELS.NOTHING, logCreator: () => () => {} }),
    socketFactory: kafkajsSocket,
    requestTimeout: 5000,
    connectionTimeout: 5000,
  });
  try {
    await connection.connect();
    await assert.rejects(connection.send(apiVersions()), /ECONNRESET|Closed connection/);
    await connection.connect();
    const answer = await connection.send(apiVersions());
    // Before: the second answer was read behind the first one's 11 bytes and the request timed out.
    assert.deepEqual(
      answer.apiVersions.map((a) => [a.apiKey, a.maxVersion]),
      [[18, 2]],
      'the second connection answered',
    );
  } finally {
    await connection.disconnect();
    server.close();
  }
});
