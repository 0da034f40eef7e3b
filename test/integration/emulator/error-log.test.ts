// The error log behind ErrorURL as the BE writes it (doris-stream-load.md §6, read against the BE's
// RuntimeState::append_error_msg_to_file, VFileScanner, CsvReader, NewJsonReader and
// OlapTableBlockConvertor): which `src line` each kind of refusal prints, the 51-line cap, the early
// stop at the 52nd bad row, and the file name. A writer that matches log lines to its rows must cope
// with all of it; these are the cases where the emulator used to be kinder than Doris.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, event, jsonLines, load, request, startTestEmulator, type TestEmulator } from './helpers.ts';

let t: TestEmulator;
before(async () => {
  t = await startTestEmulator();
  await t.emu.engine.addDdl(
    `CREATE TABLE test_db.t_log (
      k BIGINT NOT NULL, s VARCHAR(5), d DECIMAL(4,1), ti TINYINT NOT NULL, b BOOLEAN
    ) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1`,
  );
});
after(async () => {
  await t?.close();
});

const url = () => `http://${t.fe}/api/test_db/t_log/_stream_load`;

async function put(body: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
  const r = await load(url(), { headers: { Authorization: basic(), ...headers }, body });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Record<string, unknown>;
}

async function errorLog(reply: Record<string, unknown>): Promise<string> {
  assert.equal(typeof reply.ErrorURL, 'string', JSON.stringify(reply));
  const r = await request(reply.ErrorURL as string, { method: 'GET', expect: false });
  assert.equal(r.status, 200);
  return r.body;
}

test('scanner refusals print the source values joined by spaces (NULL for \\N), sink refusals an empty src line', async () => {
  const body = [
    '1\u0001ok\u00011.5\u0001x\u00011', // strict: tinyint "x" does not convert
    '2\u0001toolong\u00011\u00017\u00010', // sink: string longer than VARCHAR(5)
    '3\u0001ok\u000112345\u00017\u00011', // sink: decimal(4,1) range
    '\\N\u0001ok\u00011\u00017\u00011', // scanner: NULL into NOT NULL k
  ].join('\n');
  const reply = await put(body, { column_separator: '\\x01', strict_mode: 'true', max_filter_ratio: '1' });
  assert.equal(reply.Status, 'Success');
  assert.equal(reply.NumberFilteredRows, 4);
  // Named after the fragment instance (RuntimeState: db "insert_stmt", label = instance id).
  assert.match(
    reply.ErrorURL as string,
    /\/api\/_load_error_log\?file=__shard_\d+\/error_log_insert_stmt_([0-9a-f]+)-([0-9a-f]+)_\1_\2$/,
  );
  // Scanner lines first (column by column), then the sink's; every line ends with a newline.
  assert.equal(
    await errorLog(reply),
    'Reason: column(k) values is null while columns is not nullable. src line [NULL ok 1 7 1]; \n' +
      'Reason: column(ti) value is incorrect while strict mode is true, src value is x. src line [1 ok 1.5 x 1]; \n' +
      'Reason: column_name[s], the length of input is too long than schema. first 32 bytes of input str: [toolong] schema length: 5; actual length: 7; . src line []; \n' +
      'Reason: column_name[d], decimal value is not valid for definition, value=12345.0, precision=4, scale=1, min=-999.9, max=999.9; . src line []; \n',
  );
});

test('JSON: booleans reach their columns as 1 / 0; a missing NOT NULL key is the scanner NULL error', async () => {
  const body = '{"k": 1, "s": true, "ti": false, "b": true}\n{"s": "a", "ti": 1}\n';
  const reply = await put(body, { format: 'json', read_json_by_line: 'true', max_filter_ratio: '1' });
  assert.equal(reply.NumberLoadedRows, 1, JSON.stringify(reply));
  const rows = await t.maria.query(`SELECT k, s, ti, b FROM ${t.tableName('test_db', 't_log')} WHERE k = 1`);
  assert.deepEqual((rows[0] as unknown[])[0], { k: '1', s: '1', ti: 0, b: 1 });
  // The JSON reader fills a missing key with NULL (source slots are nullable); the scanner refuses it.
  assert.equal(
    await errorLog(reply),
    'Reason: column(k) values is null while columns is not nullable. src line [NULL a NULL 1 NULL]; \n',
  );
});

test('JSON keys match column names exactly: "S" is not the column s (NewJsonReader _slot_desc_index)', async () => {
  const reply = await put('{"k": 7, "S": "upper", "ti": 1}\n{"k": 8, "s": "lower", "ti": 1}\n', {
    format: 'json',
    read_json_by_line: 'true',
  });
  assert.equal(reply.NumberLoadedRows, 2, JSON.stringify(reply));
  const [rows] = await t.maria.query(
    `SELECT k, s FROM ${t.tableName('test_db', 't_log')} WHERE k IN (7, 8) ORDER BY k`,
  );
  assert.deepEqual(rows, [
    { k: '7', s: null },
    { k: '8', s: 'lower' },
  ]);
});

test('JSON numbers reach their columns as their own token text (1.0 stays 1.0 in a VARCHAR)', async () => {
  const reply = await put('{"k": 11, "s": 1.0, "ti": 1, "d": 2.50}\n{"k": 12, "s": "x", "ti": 1e1}\n', {
    format: 'json',
    read_json_by_line: 'true',
    max_filter_ratio: '1',
  });
  assert.equal(reply.NumberLoadedRows, 1, JSON.stringify(reply));
  const [rows] = await t.maria.query(`SELECT k, s, d FROM ${t.tableName('test_db', 't_log')} WHERE k IN (11, 12)`);
  assert.deepEqual(rows, [{ k: '11', s: '1.0', d: '2.5' }]);
  // "1e1" is no TINYINT: NULL, and ti is NOT NULL
  assert.match(
    await errorLog(reply),
    /column\(ti\) values is null while columns is not nullable\. src line \[12 x NULL 1e1 NULL\]/,
  );
});

test('a STRING value over 1 MiB (string_type_length_soft_limit_bytes) is refused by the sink; 1 MiB loads', async () => {
  const body = jsonLines([
    event(21, { description: 'x'.repeat(1_048_577) }),
    event(22, { description: 'y'.repeat(1_048_576) }),
  ]);
  const r = await load(`http://${t.fe}/api/test_db/tb_event/_stream_load`, {
    headers: { Authorization: basic(), format: 'json', read_json_by_line: 'true', max_filter_ratio: '1' },
    body,
  });
  const reply = JSON.parse(r.body) as Record<string, unknown>;
  assert.equal(reply.NumberLoadedRows, 1, r.body);
  assert.equal(reply.NumberFilteredRows, 1);
  assert.equal(
    await errorLog(reply),
    `Reason: column_name[description], the length of input string is too long than vec schema. first 32 bytes of input str: [${'x'.repeat(32)}] schema length: -1; limit length: 1048576; actual length: 1048577; . src line []; \n`,
  );
});

test('the column-count reason prints the line delimiter as it is; the src line is the raw row', async () => {
  const reply = await put('1,a\n', { column_separator: ',', max_filter_ratio: '1' });
  assert.equal(
    await errorLog(reply),
    'Reason: actual column number in csv file is  less than  schema column number.actual number: 2, column separator: [,], line delimiter: [\n], schema column number: 5; . src line [1,a]; \n',
  );
});

test('the error log keeps the first 51 bad rows; 51 bad rows fail on the ratio, the 52nd stops the load', async () => {
  const bad = (n: number) => Array.from({ length: n }, (_, i) => `${i}`).join('\n');
  const loose = await put(bad(80), { column_separator: ',', max_filter_ratio: '1' });
  assert.equal(loose.NumberFilteredRows, 80);
  // (each reason holds the raw "\n" delimiter, so count entries, not lines)
  const entries = (await errorLog(loose)).split('Reason: ').slice(1);
  assert.equal(entries.length, 51);
  assert.match(entries[50]!, /src line \[50\]; \n$/);

  const at51 = await put(bad(51), { column_separator: ',' });
  assert.equal(at51.Status, 'Fail');
  assert.equal(at51.Message, '[DATA_QUALITY_ERROR]too many filtered rows');
  const at52 = await put(bad(52), { column_separator: ',' });
  assert.equal(at52.Status, 'Fail');
  assert.match(at52.Message as string, /^\[DATA_QUALITY_ERROR\]Encountered unqualified data, stop processing\./);
  assert.ok(at52.ErrorURL, 'the early stop keeps its ErrorURL');
});
