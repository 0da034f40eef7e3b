// The FE's 307 Location byte for byte (doris-stream-load.md §1.2, RestBaseController.redirectTo): the
// credentials go through java.net.URI's user-info quoting (`:` `;` `&` `=` `+` `$` `,` stay as they
// are, `%` and `@` are escaped, non-ASCII as UTF-8), and the query string is appended as the client
// sent it. A client that reads the credentials back must undo exactly that.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { basic, event, jsonLines, request, startTestEmulator, type TestEmulator } from './helpers.ts';

const PASSWORD = "p:a;s&s=w+o$r,d%41@ /é'*";

let t: TestEmulator;
before(async () => {
  t = await startTestEmulator({ password: PASSWORD });
});
after(async () => {
  await t?.close();
});

const path = '/api/test_db/tb_event/_stream_load';

test('the Location quotes user info as java.net.URI does, and the credentials read back from it load', async () => {
  const r = await request(`http://${t.fe}${path}`, {
    headers: { Authorization: basic('root', PASSWORD), label: 'redirect-quoting' },
    body: 'x',
  });
  assert.equal(r.status, 307, r.body);
  const be = `127.0.0.1:${t.emu.bePorts[0]}`;
  assert.equal(r.headers.location, `http://root:p:a;s&s=w+o$r,d%2541%40%20%2F%C3%A9'*@${be}${path}?`);
  // curl --location-trusted style: the credentials come from the Location's user info.
  const u = new URL(r.headers.location!);
  assert.equal(decodeURIComponent(u.password), PASSWORD);
  const body = jsonLines([event(1)]);
  const done = await request(r.headers.location!, {
    headers: { format: 'json', read_json_by_line: 'true', label: 'redirect-quoting' },
    body,
  });
  assert.equal(JSON.parse(done.body).Status, 'Success', done.body);
});

test('the query string is appended as the client sent it (getQueryString), not re-encoded', async () => {
  // Raw request line: WHATWG URL (and so helpers.request) would turn ' into %27 before sending.
  const [host, port] = t.fe.split(':');
  const location = await new Promise<string | undefined>((resolve, reject) => {
    const req = http.request(
      {
        host,
        port,
        method: 'PUT',
        path: `${path}?x='y'&z=%7e&w=a%20b`,
        headers: { Authorization: basic('root', PASSWORD), Expect: '100-continue', 'Content-Length': '1' },
      },
      (res) => {
        res.resume();
        req.destroy();
        resolve(res.headers.location);
      },
    );
    req.on('error', reject);
    req.flushHeaders();
  });
  assert.match(location ?? '', /\/_stream_load\?x='y'&z=%7e&w=a%20b$/);
});
