import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDdlPath, parseArgs } from './cli-args.ts';

test('CLI: ports, several BEs, mysql, repeatable ddl, defaults', () => {
  const a = parseArgs(
    [
      '--fe-port',
      '18030',
      '--be-ports',
      '18040,18041',
      '--query-port',
      '19030',
      '--control-port',
      '0',
      '--mysql',
      '127.0.0.1:13306',
      'u',
      'p',
      '--ddl',
      'a.sql',
      '--ddl',
      'b.sql',
      '--profile',
      '2.1',
      '--label-ttl-s',
      '5',
    ],
    { DORIS_EMULATOR_PASSWORD: 'secret' },
  );
  assert.deepEqual(a.bePorts, [18040, 18041]);
  assert.equal(a.controlPort, undefined, 'control port 0 means off');
  assert.deepEqual(a.mysql, { host: '127.0.0.1', port: 13306, user: 'u', password: 'p' });
  assert.deepEqual(a.ddl, ['a.sql', 'b.sql']);
  assert.equal(a.profile, '2.1');
  assert.equal(a.labelTtlMs, 5000);
  assert.equal(a.password, 'secret');
  assert.deepEqual(parseArgs([]).ddl, [defaultDdlPath()]);
  assert.match(defaultDdlPath(), /shared\/bench\/tb_event\.doris\.sql$/);
  assert.throws(() => parseArgs(['--profile', '9']), /--profile must be one of/);
  assert.throws(() => parseArgs(['--bogus']), /unknown option --bogus/);
});
