import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basicAuth, headerChecks, LoadError, planOptions } from './load-options.ts';
import { getProfile } from './profile.ts';

const p3 = getProfile('3.0');
const auth = `Basic ${Buffer.from('root:pw').toString('base64')}`;

function check(h: Record<string, string>, p = p3): string {
  try {
    planOptions(h, p, headerChecks(h, p));
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof LoadError);
    return e.message;
  }
}

test('BE header errors, in the BE order, with their texts', () => {
  assert.equal(
    check({ group_commit: 'bogus' }),
    '[INVALID_ARGUMENT]group_commit can only be [async_mode, sync_mode, off_mode]',
  );
  assert.equal(check({ 'content-length': '1' }), '[NOT_AUTHORIZED]no valid Basic authorization');
  assert.equal(check({ 'content-length': '1' }, getProfile('2.0')), '[INTERNAL_ERROR]no valid Basic authorization');
  assert.equal(check({ 'content-length': '1' }, getProfile('1.2')), 'no valid Basic authorization');
  assert.equal(
    check({ authorization: auth, 'content-length': '1', format: 'xml' }),
    '[DATA_FILE_TYPE_ERROR]unknown data format, format=xml',
  );
  assert.match(check({ authorization: auth }), /content_length is empty and transfer-encoding!=chunked/);
  assert.equal(
    check({ authorization: auth, 'content-length': '1', 'transfer-encoding': 'chunked' }),
    '[INVALID_ARGUMENT]please do not set both content_length and transfer-encoding',
  );
  assert.equal(
    check({ authorization: auth, 'content-length': '1', timeout: 'abc' }),
    "[INVALID_ARGUMENT]Invalid format of 'timeout': 'abc', stoi",
  );
  assert.equal(
    check({ authorization: auth, 'content-length': '1', label: 'l', group_commit: 'sync_mode' }),
    "[INVALID_ARGUMENT]label and group_commit can't be set at the same time",
  );
  assert.equal(
    check({
      authorization: auth,
      'content-length': '1',
      label: 'l',
      group_commit: 'sync_mode',
      two_phase_commit: 'true',
    }),
    'ok',
  );
  assert.match(
    check({
      authorization: auth,
      'content-length': String(101 * 1024 * 1024),
      format: 'json',
      read_json_by_line: 'false',
    }),
    /^\[E-217\]/,
  );
});

test('body size limits: streaming_load_max_mb for every body, the JSON one unless read by line; texts per profile', () => {
  const big = (n: number, extra: Record<string, string> = {}) => ({
    authorization: auth,
    'content-length': String(n),
    ...extra,
  });
  const gb100 = 102400 * 1024 * 1024;
  assert.equal(
    check(big(gb100 + 1)),
    `[E-217]body size ${gb100 + 1} exceed BE's conf \`streaming_load_max_mb\` ${gb100}. increase it if you are sure this load is reasonable`,
  );
  assert.equal(check(big(gb100, { format: 'json', read_json_by_line: 'true' })), 'ok');
  assert.match(check(big(gb100 + 1, { format: 'json', read_json_by_line: 'true' })), /^\[E-217\]body size /);
  assert.equal(
    check(big(104857601, { format: 'json' })),
    "[E-217]json body size 104857601 exceed BE's conf `streaming_load_json_max_mb` 104857600. increase it if you are sure this load is reasonable",
  );
  const gb10 = 10240 * 1024 * 1024;
  assert.equal(
    check(big(gb10 + 1), getProfile('2.0')),
    `[INTERNAL_ERROR]body exceed max size: ${gb10}, data: ${gb10 + 1}`,
  );
  assert.equal(check(big(gb10 + 1), getProfile('2.1')), 'ok', '2.1: the 100 GB default');
  assert.equal(
    check(big(104857601, { format: 'json' }), getProfile('2.1')),
    "[INTERNAL_ERROR]The size of this batch exceed the max size [104857600]  of json type data  data [ 104857601 ]. Split the file, or use 'read_json_by_line'",
  );
});

test('compress_type: one LoadUtil::parse_format does not know makes the format unknown, before the txn', () => {
  const base = { authorization: auth, 'content-length': '1' };
  for (const c of ['plain', 'zip', 'gzip']) {
    assert.equal(check({ ...base, compress_type: c }), '[DATA_FILE_TYPE_ERROR]unknown data format, format=');
    assert.equal(
      check({ ...base, format: 'json', compress_type: c }),
      '[DATA_FILE_TYPE_ERROR]unknown data format, format=json',
    );
  }
  assert.equal(check({ ...base, format: 'CSV', compress_type: 'GZ' }), 'ok');
  // known but not gz: past the header checks (the emulator then says it does not decompress it)
  assert.match(check({ ...base, format: 'csv_with_names', compress_type: 'bz2' }), /^\[NOT_IMPLEMENTED_ERROR\]/);
  assert.equal(check({ ...base, format: 'parquet', compress_type: 'plain' }).includes('unknown data format'), false);
});

test('planning errors: strict_mode, enclose, JSON compression per profile', () => {
  const base = { authorization: auth, 'content-length': '1' };
  assert.equal(
    check({ ...base, strict_mode: 'yes' }),
    '[INVALID_ARGUMENT]Invalid strict mode format. Must be bool type',
  );
  assert.equal(check({ ...base, enclose: 'ab' }), '[INVALID_ARGUMENT]enclose must be single-char, actually is ab');
  assert.equal(check({ ...base, escape: '\\\\' }), '[INVALID_ARGUMENT]escape must be single-char, actually is \\\\');
  assert.equal(
    check({ ...base, format: 'json', compress_type: 'gz' }, getProfile('2.1')),
    '[INTERNAL_ERROR]compress data of JSON format is not supported.',
  );
  assert.equal(check({ ...base, format: 'json', compress_type: 'gz' }), 'ok');
});

test('read_json_by_line default per profile, two_phase_commit is case-sensitive', () => {
  const h = { authorization: auth, 'content-length': '1', format: 'json' };
  assert.equal(planOptions(h, p3, headerChecks(h, p3)).readJsonByLine, false);
  const p4 = getProfile('4.0');
  assert.equal(planOptions(h, p4, headerChecks(h, p4)).readJsonByLine, true);
  assert.equal(planOptions({ ...h, strip_outer_array: 'true' }, p4, headerChecks(h, p4)).readJsonByLine, false);
  assert.equal(headerChecks({ ...h, two_phase_commit: 'TRUE' }, p3).twoPhase, false);
  assert.equal(headerChecks({ ...h, two_phase_commit: 'true' }, p3).twoPhase, true);
});

test('basic auth decoding', () => {
  assert.deepEqual(basicAuth(auth), { user: 'root', password: 'pw' });
  assert.deepEqual(basicAuth(`Basic ${Buffer.from('u@c:').toString('base64')}`), { user: 'u@c', password: '' });
  assert.equal(basicAuth('Bearer x'), undefined);
});

test('merge_type, delete, partitions and timezone checks', () => {
  const base = { authorization: auth, 'content-length': '1' };
  assert.equal(
    check({ ...base, merge_type: 'MERGE' }),
    '[INVALID_ARGUMENT]Excepted DELETE ON clause when merge type is MERGE.',
  );
  assert.equal(
    check({ ...base, delete: 'k=1' }),
    '[INVALID_ARGUMENT]Not support DELETE ON clause when merge type is not MERGE.',
  );
  assert.equal(check({ ...base, merge_type: 'X' }), '[INVALID_ARGUMENT]Invalid merge type X');
  assert.equal(
    check({ ...base, partitions: 'p1', temporary_partitions: 'tp1' }),
    '[INVALID_ARGUMENT]Can not specify both partitions and temporary partitions',
  );
  assert.match(check({ ...base, timezone: 'Nowhere/X' }), /Unknown or incorrect time zone: 'Nowhere\/X'/);
  assert.equal(check({ ...base, timezone: 'Asia/Shanghai' }), 'ok');
});
