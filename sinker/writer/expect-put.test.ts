// expectPut against small real node:http servers on loopback (real sockets, real 100-continue).
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { expectPut } from './expect-put.ts';
import { TransportError } from './transport.ts';

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

async function listen(server: http.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Seen {
  headers: http.IncomingHttpHeaders;
  raw: string[];
  body: string;
  url: string;
}

/** A BE: lets node send 100 Continue (no checkContinue listener), reads the body, answers JSON. */
async function backend(seen: Seen[]): Promise<string> {
  return listen(
    http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          headers: req.headers,
          raw: req.rawHeaders,
          body: Buffer.concat(chunks).toString(),
          url: req.url ?? '',
        });
        res.end(`{\n    "Status": "Success",\n    "Message": "OK"\n}\n`);
      });
    }),
  );
}

/** An FE: checks Expect is present, answers 307 without 100 Continue and without reading the body. */
async function frontend(beHost: string, userinfo: string, feSeen: http.IncomingHttpHeaders[]): Promise<string> {
  const fe = http.createServer();
  fe.on('checkContinue', (req, res) => {
    feSeen.push(req.headers);
    res.writeHead(307, {
      Location: `http://${userinfo}@${beHost}${req.url}?`,
      'Content-Type': 'text/html;charset=utf-8',
    });
    res.end();
  });
  fe.on('request', (_req, res) => {
    res.end('{"status":"FAILED","msg":"There is no 100-continue header"}');
  });
  return listen(fe);
}

test('FE 307 → BE: headers first, no body to the FE, full body to the BE with the userinfo credentials', async () => {
  const seen: Seen[] = [];
  const feSeen: http.IncomingHttpHeaders[] = [];
  const be = await backend(seen);
  const fe = await frontend(be, 'root:p%40ss%3Aw0rd', feSeen);
  const body = Buffer.from('a\t1\nb\t2');
  const reply = await expectPut(
    new URL(`http://${fe}/api/db/tbl/_stream_load`),
    { authorization: 'Basic d3Jvbmc6d3Jvbmc=', label: 'L1', format: 'csv' },
    body,
    { timeoutMs: 5000 },
  );
  assert.equal(reply.status, 200);
  assert.match(reply.body.toString(), /"Status": "Success"/);
  assert.equal(reply.url, `http://${be}/api/db/tbl/_stream_load?`);
  assert.equal(feSeen.length, 1);
  assert.equal(feSeen[0]?.expect, '100-continue');
  assert.equal(feSeen[0]?.label, 'L1');
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.body, 'a\t1\nb\t2');
  assert.equal(seen[0]?.headers.label, 'L1');
  assert.equal(seen[0]?.headers['content-length'], String(body.length));
  const auth = Buffer.from(String(seen[0]?.headers.authorization).replace('Basic ', ''), 'base64').toString();
  assert.equal(auth, 'root:p@ss:w0rd');
  // Exactly one Authorization line reached the BE (ours was replaced, not doubled).
  const rawAuth = seen[0]?.raw.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'authorization');
  assert.equal(rawAuth?.length, 1);
});

test('an early final reply (header error) is taken without sending the body', async () => {
  let bytes = 0;
  const be = await listen(
    (() => {
      const s = http.createServer();
      s.on('checkContinue', (req, res) => {
        req.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.end('{"Status": "Fail", "Message": "[INVALID_ARGUMENT]enclose must be single-char"}');
      });
      return s;
    })(),
  );
  const reply = await expectPut(new URL(`http://${be}/api/db/t/_stream_load`), {}, Buffer.alloc(100000, 'x'), {
    timeoutMs: 5000,
  });
  assert.match(reply.body.toString(), /INVALID_ARGUMENT/);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(bytes, 0);
});

test('a 307 to a closed port fails in the connect phase, not ambiguous', async () => {
  const probe = http.createServer();
  const dead = await listen(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  const fe = await frontend(dead, 'root:', []);
  await assert.rejects(
    expectPut(new URL(`http://${fe}/api/db/t/_stream_load`), {}, Buffer.from('x'), { timeoutMs: 5000 }),
    (e: unknown) => e instanceof TransportError && e.phase === 'connect' && !e.ambiguous && e.code === 'ECONNREFUSED',
  );
});

test('a BE that accepts and hangs before 100 Continue: deadline, not ambiguous', async () => {
  const s = http.createServer();
  s.on('checkContinue', () => {});
  const be = await listen(s);
  const t0 = Date.now();
  await assert.rejects(
    expectPut(new URL(`http://${be}/x`), {}, Buffer.from('x'), { timeoutMs: 300, continueTimeoutMs: 10000 }),
    (e: unknown) => e instanceof TransportError && !e.ambiguous && /no reply within 300 ms/.test(e.message),
  );
  assert.ok(Date.now() - t0 < 2000);
});

test('body sent, then no reply: deadline, ambiguous', async () => {
  const s = http.createServer((req) => {
    req.resume();
  });
  const be = await listen(s);
  await assert.rejects(
    expectPut(new URL(`http://${be}/x`), {}, Buffer.from('rows'), { timeoutMs: 300 }),
    (e: unknown) => e instanceof TransportError && e.ambiguous && e.phase === 'reply',
  );
});

test('body sent, then the connection drops: ambiguous', async () => {
  const s = http.createServer((req) => {
    req.on('data', () => {});
    req.on('end', () => req.socket.destroy());
  });
  const be = await listen(s);
  await assert.rejects(
    expectPut(new URL(`http://${be}/x`), {}, Buffer.from('rows'), { timeoutMs: 3000 }),
    (e: unknown) => e instanceof TransportError && e.ambiguous,
  );
});

test('a server that never answers the Expect gets the body after the continue timeout', async () => {
  const seen: string[] = [];
  const s = http.createServer();
  s.on('checkContinue', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(Buffer.concat(chunks).toString());
      res.end('{"Status": "Success", "Message": "OK"}');
    });
  });
  const be = await listen(s);
  const t0 = Date.now();
  const reply = await expectPut(new URL(`http://${be}/x`), {}, Buffer.from('late body'), {
    timeoutMs: 5000,
    continueTimeoutMs: 100,
  });
  assert.equal(reply.status, 200);
  assert.deepEqual(seen, ['late body']);
  assert.ok(Date.now() - t0 >= 90);
});

test('a keep-alive agent reuses the BE connection across loads', async () => {
  const sockets = new Set<unknown>();
  const s = http.createServer((req, res) => {
    sockets.add(req.socket);
    req.resume();
    req.on('end', () => res.end('{"Status": "Success", "Message": "OK"}'));
  });
  const be = await listen(s);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 3; i++) {
    const r = await expectPut(new URL(`http://${be}/x`), {}, Buffer.from(`b${i}`), { timeoutMs: 2000, agent });
    assert.equal(r.status, 200);
  }
  agent.destroy();
  assert.equal(sockets.size, 1);
});

test('redirect loops stop', async () => {
  const s = http.createServer();
  let self = '';
  s.on('checkContinue', (req, res) => {
    res.writeHead(307, { Location: `http://${self}${req.url}` });
    res.end();
  });
  self = await listen(s);
  await assert.rejects(
    expectPut(new URL(`http://${self}/x`), {}, Buffer.from('x'), { timeoutMs: 2000, maxRedirects: 2 }),
    /more than 2 redirects/,
  );
});

test('a 307 whose Location is not a URL is a TransportError that does not carry the credentials in it', async () => {
  const s = http.createServer();
  s.on('checkContinue', (_req, res) => {
    // The FE puts the Basic credentials into the Location's userinfo (§1.2).
    res.writeHead(307, { Location: 'http://root:s3cret@be-host:80:80/api/db/t/_stream_load?' });
    res.end();
  });
  const fe = await listen(s);
  const err = await expectPut(new URL(`http://${fe}/api/db/t/_stream_load`), {}, Buffer.from('x'), {
    timeoutMs: 2000,
  }).catch((e: unknown) => e);
  assert.ok(err instanceof TransportError, String(err));
  assert.equal(err.ambiguous, false);
  assert.match(err.message, /Location/);
  assert.doesNotMatch(JSON.stringify(err, Object.getOwnPropertyNames(err)), /s3cret/);
  assert.doesNotMatch(String(err.stack), /s3cret/);
});

/** An agent whose connections never complete: a host that drops packets (no RST, no SYN-ACK). */
class NeverConnects extends http.Agent {
  override createConnection(): net.Socket {
    const s = new net.Socket();
    Object.defineProperty(s, 'connecting', { value: true, configurable: true });
    return s;
  }
}

test('a host that never completes the connection fails in the connect phase (not ambiguous), at the connect timeout or the deadline', async () => {
  for (const opts of [
    { timeoutMs: 5000, connectTimeoutMs: 100 },
    { timeoutMs: 100, connectTimeoutMs: 5000 },
  ]) {
    const agent = new NeverConnects();
    const err = await expectPut(new URL('http://fe.invalid:8030/api/db/t/_stream_load'), {}, Buffer.from('x'), {
      ...opts,
      agent,
    }).catch((e: unknown) => e);
    agent.destroy();
    assert.ok(err instanceof TransportError, String(err));
    assert.equal(err.phase, 'connect', JSON.stringify(opts));
    assert.equal(err.ambiguous, false);
    assert.equal(err.code, 'ETIMEDOUT_CONNECT');
  }
});

test('firstReplyTimeoutMs: an FE that accepts and never answers is given up on then, not at the deadline', async () => {
  const s = http.createServer();
  s.on('checkContinue', () => {});
  const fe = await listen(s);
  const err = await expectPut(new URL(`http://${fe}/api/db/t/_stream_load`), {}, Buffer.from('x'), {
    timeoutMs: 60_000,
    firstReplyTimeoutMs: 100,
    continueTimeoutMs: 60_000,
  }).catch((e: unknown) => e);
  assert.ok(err instanceof TransportError, String(err));
  assert.equal(err.phase, 'reply');
  assert.equal(err.ambiguous, false, 'the body was never sent');
  assert.match(err.message, /no reply within 100 ms/);
});
