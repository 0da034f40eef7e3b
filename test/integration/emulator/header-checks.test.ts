// BE header checks where the emulator differed from stream_load.cpp (doris-stream-load.md §1.3, §2,
// §10): the status code of an unknown format, JSON + compress_type refused before the txn begins on
// the profiles that refuse it, the JSON size limit reading only the explicit read_json_by_line header,
// a chunked group-commit load losing its label instead of failing, and the skip_lines texts.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { basic, event, jsonLines, load, raw, request, sleep, startTestEmulator, type TestEmulator } from './helpers.ts';

let t: TestEmulator;
before(async () => {
  t = await startTestEmulator({ groupCommitIntervalMs: 200 });
});
afterEach(() => {
  t.emu.engine.setProfile('3.0');
});
after(async () => {
  await t?.close();
});

const path = '/api/test_db/tb_event/_stream_load';

async function be(headers: Record<string, string>, body = jsonLines([event(1)]), chunked = false) {
  const r = await request(`http://${t.be}${path}`, {
    headers: { Authorization: basic(), ...headers },
    body,
    chunked,
  });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Record<string, unknown>;
}

async function txnsOf(label: string): Promise<unknown[]> {
  const r = await t.control('GET', `/txns?db=test_db&label=${encodeURIComponent(label)}`);
  assert.ok(Array.isArray(r.txns), JSON.stringify(r));
  return r.txns as unknown[];
}

test('unknown format: [DATA_FILE_TYPE_ERROR], before any txn', async () => {
  const r = await be({ label: 'fmt-xml', format: 'xml' });
  assert.equal(r.Status, 'Fail');
  assert.equal(r.Message, '[DATA_FILE_TYPE_ERROR]unknown data format, format=xml');
  assert.equal(r.TxnId, -1);
});

test('profile 2.1: JSON + compress_type is refused in on_header, so no txn begins and the label is untouched', async () => {
  t.emu.engine.setProfile('2.1');
  const r = await be({ label: 'json-gz-21', format: 'json', read_json_by_line: 'true', compress_type: 'gz' });
  assert.equal(r.Status, 'Fail');
  assert.equal(r.Message, '[INTERNAL_ERROR]compress data of JSON format is not supported.');
  assert.equal(r.TxnId, -1, 'refused before begin-txn');
  assert.deepEqual(await txnsOf('json-gz-21'), []);
  // (a refusal after begin-txn leaves an ABORTED txn behind, which is what the check above rules out)
  await be({ label: 'json-21-bad-strict', format: 'json', read_json_by_line: 'true', strict_mode: 'maybe' });
  assert.equal((await txnsOf('json-21-bad-strict')).length, 1);
});

test('profile 4.0: the 100 MB JSON limit applies unless read_json_by_line is sent, although by-line is the default', async () => {
  t.emu.engine.setProfile('4.0');
  // The BE answers from the headers alone; a client waiting for 100 Continue never sends the body.
  const head = (extra: string) =>
    `PUT ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic()}\r\nformat: json\r\n${extra}Content-Length: 104857601\r\nExpect: 100-continue\r\n\r\n`;
  const refused = await raw(t.be, head(''), { waitMs: 1500 });
  assert.doesNotMatch(refused, /100 Continue/);
  assert.match(refused, /"Status": "Fail"/);
  assert.match(refused, /\[E-217\]/);
  const byLine = await raw(t.be, head('read_json_by_line: true\r\n'), { waitMs: 1500 });
  assert.match(byLine, /^HTTP\/1\.1 100 Continue/, 'with the header the body is asked for');
});

test('group commit: a chunked load loses its label instead of failing on it; with Content-Length it fails', async () => {
  const json = { format: 'json', read_json_by_line: 'true', group_commit: 'async_mode' };
  const chunked = await be({ label: 'gc-chunked', ...json }, jsonLines([event(2)]), true);
  assert.equal(chunked.Status, 'Success', JSON.stringify(chunked));
  assert.match(chunked.Label as string, /^group_commit_[0-9a-f]+_[0-9a-f]+$/);
  assert.equal(chunked.GroupCommit, true);
  const sized = await be({ label: 'gc-sized', ...json });
  assert.equal(sized.Message, "[INVALID_ARGUMENT]label and group_commit can't be set at the same time");
  await sleep(400); // let the group commit before the emulator closes
});

test('skip_lines: a non-number is the stoi error, a negative one its own text', async () => {
  const csv = { column_separator: ',', format: 'csv' };
  const word = await be({ label: 'skip-word', skip_lines: 'abc', ...csv }, '1');
  assert.equal(word.Message, "[INVALID_ARGUMENT]Invalid format of 'skip_lines': 'abc', stoi");
  const negative = await be({ label: 'skip-neg', skip_lines: '-1', ...csv }, '1');
  assert.equal(negative.Message, "[INVALID_ARGUMENT]Invalid 'skip_lines': -1");
  const loaded = await load(`http://${t.fe}${path}`, {
    headers: { Authorization: basic(), label: 'skip-ok', skip_lines: '1', ...csv },
    body: 'header line\n',
  });
  assert.equal(JSON.parse(loaded.body).Status, 'Success', loaded.body);
});

test('Comment is echoed once _on_header has read it: not for a load refused at the timeout check or before', async () => {
  const bad = await be({ label: 'comment-bad', comment: 'batch 7', timeout: 'abc' });
  assert.equal(bad.Message, "[INVALID_ARGUMENT]Invalid format of 'timeout': 'abc', stoi");
  assert.equal(bad.Comment, '');
  const noAuth = await request(`http://${t.be}${path}`, { headers: { comment: 'batch 7' }, body: '' });
  assert.equal(JSON.parse(noAuth.body).Comment, '');
  // read before begin-txn: a load refused there (an unknown table) still echoes it
  const r = await request(`http://${t.be}/api/test_db/no_table/_stream_load`, {
    headers: { Authorization: basic(), comment: 'batch 7' },
    body: '',
  });
  assert.equal(JSON.parse(r.body).Comment, 'batch 7');
});

test('a body over streaming_load_max_mb (100 GB) is refused from its Content-Length, without 100 Continue', async () => {
  const head = (length: number) =>
    `PUT ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic()}\r\nformat: csv\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`;
  const limit = 102400 * 1024 * 1024;
  const refused = await raw(t.be, head(limit + 1), { waitMs: 1500 });
  assert.doesNotMatch(refused, /100 Continue/);
  assert.match(
    refused,
    /"Message": "\[E-217\]body size 107374182401 exceed BE's conf `streaming_load_max_mb` 107374182400\./,
  );
  assert.match(refused, /"TxnId": -1/);
  const asked = await raw(t.be, head(limit), { waitMs: 1500 });
  assert.match(asked, /^HTTP\/1\.1 100 Continue/, 'at the limit the body is asked for');
});
