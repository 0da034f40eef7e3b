// FE and BE on the wire (doris-stream-load.md §1, §3, §11 behaviours 1-6, 17): check order and error
// shapes, the 307, header validation before the body, Content-Length xor chunked, reply bytes, gzip.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { request as undiciRequest } from 'undici';
import {
  basic,
  event,
  jsonLines,
  load,
  PASSWORD,
  raw,
  request,
  startTestEmulator,
  type TestEmulator,
} from './helpers.ts';

let t: TestEmulator;
before(async () => {
  t = await startTestEmulator({ bePorts: [0, 0] });
});
after(async () => {
  await t?.close();
});

const path = '/api/test_db/tb_event/_stream_load';

test('FE: 307 to a BE with credentials in the URL and a trailing "?", round-robin over BEs, no 100 Continue', async () => {
  const r1 = await request(`http://${t.fe}${path}`, {
    headers: { Authorization: basic(), label: 'x' },
    body: 'a',
    follow: false,
  });
  assert.equal(r1.status, 307);
  assert.equal(r1.continued, false, 'the FE never sends 100 Continue');
  assert.equal(r1.headers.location, `http://root:${PASSWORD}@127.0.0.1:${t.emu.bePorts[0]}${path}?`);
  const r2 = await request(`http://${t.fe}${path}?a=1&b=2`, { headers: { Authorization: basic() }, body: 'a' });
  assert.equal(r2.headers.location, `http://root:${PASSWORD}@127.0.0.1:${t.emu.bePorts[1]}${path}?a=1&b=2`);
  assert.match(String(r2.headers['content-type']), /text\/html;charset=utf-8/);
});

test('FE check order: group_commit, then auth, then Expect, then db/table; all HTTP 200 with their JSON shapes', async () => {
  const fe = `http://${t.fe}`;
  const j = async (url: string, headers: Record<string, string>, expect = true) => {
    const r = await request(url, { headers, body: 'x', expect });
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as Record<string, unknown>;
  };
  assert.deepEqual(await j(`${fe}${path}`, { group_commit: 'bad' }), {
    status: 'FAILED',
    msg: 'Header `group_commit` can only be `sync_mode`, `async_mode` or `off_mode`.',
  });
  assert.deepEqual(await j(`${fe}${path}`, {}), {
    msg: 'Unauthorized',
    code: 401,
    data: 'Need auth information.',
    count: 0,
  });
  assert.deepEqual(await j(`${fe}${path}`, { Authorization: basic('root', 'wrong') }), {
    msg: 'Unauthorized',
    code: 401,
    data: "Access denied for user 'root@127.0.0.1' (using password: YES)",
    count: 0,
  });
  assert.deepEqual(await j(`${fe}${path}`, { Authorization: basic() }, false), {
    status: 'FAILED',
    msg: 'There is no 100-continue header',
  });
  assert.deepEqual(await j(`${fe}/api//tb_event/_stream_load`, { Authorization: basic() }), {
    status: 'FAILED',
    msg: 'No database selected.',
  });
  assert.deepEqual(await j(`${fe}/api/test_db//_stream_load`, { Authorization: basic() }), {
    status: 'FAILED',
    msg: 'No table selected.',
  });
  assert.deepEqual(
    await j(`${fe}/api/nodb/tb_event/_stream_load`, { Authorization: basic(), group_commit: 'sync_mode' }),
    {
      status: 'FAILED',
      msg: 'Database not found.',
    },
  );
  assert.deepEqual(
    await j(`${fe}/api/test_db/nope/_stream_load`, { Authorization: basic(), group_commit: 'async_mode' }),
    {
      status: 'FAILED',
      msg: 'OlapTable not found.',
    },
  );
});

test('FE does not check db/table without group commit; the BE answers NOT_FOUND', async () => {
  const r = await load(`http://${t.fe}/api/nodb/tb_event/_stream_load`, {
    headers: { Authorization: basic() },
    body: '1',
  });
  assert.equal(r.hops.length, 2);
  const j = JSON.parse(r.body);
  assert.equal(j.Status, 'Fail');
  assert.equal(j.Message, '[NOT_FOUND]TStatus: errCode = 7, detailMessage = unknown database, database=nodb');
  assert.equal(j.TxnId, -1);
  const r2 = await load(`http://${t.fe}/api/test_db/nope/_stream_load`, {
    headers: { Authorization: basic() },
    body: '1',
  });
  assert.equal(
    JSON.parse(r2.body).Message,
    '[NOT_FOUND]TStatus: errCode = 7, detailMessage = table not found, tableName=nope',
  );
});

test('BE: a header error is answered before the body, without 100 Continue', async () => {
  const head = [
    `PUT ${path} HTTP/1.1`,
    `Host: ${t.be}`,
    `Authorization: ${basic()}`,
    'Expect: 100-continue',
    'strict_mode: maybe',
    'Content-Length: 5',
    '',
    '',
  ].join('\r\n');
  const out = await raw(t.be, head, { waitMs: 1500 });
  assert.ok(out.startsWith('HTTP/1.1 200 OK'), out);
  assert.ok(!out.includes('100 Continue'), 'no 100 Continue on a header error');
  assert.match(out, /"Message": "\[INVALID_ARGUMENT\]Invalid strict mode format. Must be bool type"/);

  const ok = await raw(t.be, head.replace('strict_mode: maybe\r\n', ''), { waitMs: 300 });
  assert.ok(ok.startsWith('HTTP/1.1 100 Continue'), `good headers get 100 Continue first: ${ok}`);
});

test('BE: Expect is not required; Content-Length xor chunked; missing auth', async () => {
  const be = `http://${t.be}${path}`;
  const body = jsonLines([event(1)]);
  const direct = await request(be, { headers: { Authorization: basic(), format: 'json' }, body, expect: false });
  assert.equal(JSON.parse(direct.body).Status, 'Success');
  const chunked = await request(be, { headers: { Authorization: basic(), format: 'json' }, body, chunked: true });
  assert.equal(JSON.parse(chunked.body).NumberLoadedRows, 1);
  const both = await raw(
    t.be,
    `PUT ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic()}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`,
    {
      waitMs: 1000,
    },
  );
  assert.match(both, /"Message": "\[INVALID_ARGUMENT\]please do not set both content_length and transfer-encoding"/);
  const neither = await raw(t.be, `PUT ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic()}\r\n\r\n`, {
    waitMs: 1000,
  });
  assert.match(
    neither,
    /content_length is empty and transfer-encoding!=chunked, please set content_length or transfer-encoding=chunked/,
  );
  const noAuth = await request(be, { body: 'x' });
  assert.equal(JSON.parse(noAuth.body).Message, '[NOT_AUTHORIZED]no valid Basic authorization');
  const badPw = await request(be, { headers: { Authorization: basic('root', 'bad') }, body: 'x' });
  assert.equal(
    JSON.parse(badPw.body).Message,
    "[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = Access denied for user 'root@127.0.0.1' (using password: YES)",
  );
  const badTimeout = await request(be, { headers: { Authorization: basic(), timeout: 'abc' }, body: 'x' });
  assert.equal(JSON.parse(badTimeout.body).Message, "[INVALID_ARGUMENT]Invalid format of 'timeout': 'abc', stoi");
  const notFound = await request(`http://${t.be}/api/x`, { body: 'x' });
  assert.equal(notFound.status, 404);
  assert.equal(notFound.body, 'Not Found');
});

test('reply bytes: HTTP 200, §3 key order, 4-space pretty print, trailing newline; gzip when accepted', async () => {
  const be = `http://${t.be}${path}`;
  const body = jsonLines([event(2)]);
  const r = await raw(
    t.be,
    `PUT ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic()}\r\nformat: json\r\nlabel: shape-1\r\ncomment: hi\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    { waitMs: 1000 },
  );
  const text = r.slice(r.indexOf('\r\n\r\n') + 4);
  assert.ok(text.startsWith('{\n    "TxnId": '), text);
  assert.ok(text.endsWith('\n}\n'));
  const j = JSON.parse(text);
  assert.deepEqual(Object.keys(j), [
    'TxnId',
    'Label',
    'Comment',
    'TwoPhaseCommit',
    'Status',
    'Message',
    'NumberTotalRows',
    'NumberLoadedRows',
    'NumberFilteredRows',
    'NumberUnselectedRows',
    'LoadBytes',
    'LoadTimeMs',
    'BeginTxnTimeMs',
    'StreamLoadPutTimeMs',
    'ReadDataTimeMs',
    'WriteDataTimeMs',
    'ReceiveDataTimeMs',
    'CommitAndPublishTimeMs',
  ]);
  assert.equal(j.TwoPhaseCommit, 'false');
  assert.equal(j.Comment, 'hi');
  assert.equal(j.LoadBytes, Buffer.byteLength(body));
  const gz = await request(be, {
    headers: { Authorization: basic(), format: 'json', 'Accept-Encoding': 'gzip, deflate' },
    body,
  });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(JSON.parse(gz.body).Status, 'Success');
  const gzBody = await request(be, {
    headers: { Authorization: basic(), format: 'json', compress_type: 'gz' },
    body: gzipSync(body),
  });
  const gj = JSON.parse(gzBody.body);
  assert.equal(gj.NumberLoadedRows, 1);
  assert.equal(gj.LoadBytes, gzipSync(body).length);
});

test('FE extras: /api/backends, get_load_state, /api/health', async () => {
  const b = await request(`http://${t.fe}/api/backends?is_alive=true`, {
    method: 'GET',
    headers: { Authorization: basic() },
    expect: false,
  });
  const bj = JSON.parse(b.body);
  assert.equal(bj.code, 0);
  assert.deepEqual(
    bj.data.backends.map((x: { http_port: number }) => x.http_port),
    t.emu.bePorts,
  );
  const body = jsonLines([event(3)]);
  await load(`http://${t.fe}${path}`, { headers: { Authorization: basic(), format: 'json', label: 'state-1' }, body });
  const s = await request(`http://${t.fe}/api/test_db/get_load_state?label=state-1`, {
    method: 'GET',
    headers: { Authorization: basic() },
    expect: false,
  });
  assert.deepEqual(JSON.parse(s.body), { msg: 'success', code: 0, data: 'VISIBLE', count: 0 });
  const u = await request(`http://${t.fe}/api/test_db/get_load_state?label=nope`, {
    method: 'GET',
    headers: { Authorization: basic() },
    expect: false,
  });
  assert.equal(JSON.parse(u.body).data, 'UNKNOWN');
  // GetStreamLoadState's other answers: badRequest and okWithCommonError put the kind in msg, the text in data
  const get = async (p: string) =>
    JSON.parse(
      (await request(`http://${t.fe}${p}`, { method: 'GET', headers: { Authorization: basic() }, expect: false })).body,
    );
  assert.deepEqual(await get('/api/test_db/get_load_state'), {
    msg: 'Bad Request',
    code: 403,
    data: 'No label selected',
    count: 0,
  });
  assert.deepEqual(await get('/api/no_db/get_load_state?label=x'), {
    msg: 'Error',
    code: 1,
    data: 'errCode = 7, detailMessage = unknown databases, dbName=no_db',
    count: 0,
  });
  // TableSchemaAction likewise
  assert.deepEqual(await get('/api/test_db/no_table/_schema'), {
    msg: 'Error',
    code: 1,
    data: "errCode = 2, detailMessage = Unknown table 'no_table'",
    count: 0,
  });
});

test('profile 1.2 prints raw messages; 2.0 uses INTERNAL_ERROR for auth', async () => {
  await t.control('POST', '/config', { profile: '1.2' });
  try {
    const r = await request(`http://${t.be}${path}`, { body: 'x' });
    const j = JSON.parse(r.body);
    assert.equal(j.Message, 'no valid Basic authorization');
    assert.equal('Comment' in j, false);
    assert.equal('ReceiveDataTimeMs' in j, false);
    await t.control('POST', '/config', { profile: '2.0' });
    const r2 = await request(`http://${t.be}${path}`, { body: 'x' });
    assert.equal(JSON.parse(r2.body).Message, '[INTERNAL_ERROR]no valid Basic authorization');
  } finally {
    await t.control('POST', '/config', { profile: '3.0' });
  }
});

test('BE without Expect (undici): a header error is readable and the connection stays usable', async () => {
  const big = Buffer.alloc(8 * 1024 * 1024, 'a');
  const url = `http://${t.be}${path}`;
  for (const strict of ['bad', 'bad']) {
    const r = await undiciRequest(url, {
      method: 'PUT',
      body: big,
      headers: { authorization: basic(), strict_mode: strict },
    });
    assert.equal(r.statusCode, 200);
    const j = (await r.body.json()) as { Message: string };
    assert.equal(j.Message, '[INVALID_ARGUMENT]Invalid strict mode format. Must be bool type');
  }
  const ok = await undiciRequest(url, {
    method: 'PUT',
    body: jsonLines([event(9)]),
    headers: { authorization: basic(), format: 'json' },
  });
  assert.equal(((await ok.body.json()) as { Status: string }).Status, 'Success');
});

test('FE without Expect (client sent the body anyway): the error is readable, the connection reusable', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 2; i++) {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const body = Buffer.alloc(4 * 1024 * 1024, 'x');
        const req = http.request(
          {
            host: '127.0.0.1',
            port: t.emu.fePort,
            path,
            method: 'PUT',
            agent,
            headers: { Authorization: basic(), 'Content-Length': body.length },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      assert.deepEqual(JSON.parse(r.body), { status: 'FAILED', msg: 'There is no 100-continue header' });
    }
  } finally {
    agent.destroy();
  }
});

test('FE /api/{db}/{table}/_schema (the Kafka connector reads keysType from it)', async () => {
  const r = await request(`http://${t.fe}/api/test_db/tb_event/_schema`, {
    method: 'GET',
    headers: { Authorization: basic() },
    expect: false,
  });
  const j = JSON.parse(r.body);
  assert.equal(j.code, 0);
  assert.equal(j.data.keysType, 'DUP_KEYS');
  assert.equal(j.data.tableType, 'OLAP');
  assert.equal(j.data.status, 200);
  assert.equal(j.data.properties.length, 66);
  assert.deepEqual(j.data.properties[0], { type: 'BIGINT', comment: '', name: 'id', aggregation_type: '' });
  const amount = j.data.properties.find((p: { name: string }) => p.name === 'amount');
  assert.deepEqual(amount, {
    precision: '18',
    scale: '4',
    type: 'DECIMAL64',
    comment: '',
    name: 'amount',
    aggregation_type: 'NONE',
  });
  const missing = await request(`http://${t.fe}/api/test_db/nope/_schema`, {
    method: 'GET',
    headers: { Authorization: basic() },
    expect: false,
  });
  assert.equal(JSON.parse(missing.body).code, 1);
});
