import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { parseDocument } from 'yaml';
import { renderConfigDocs } from './docs.ts';
import { ConfigError, loadConfig, parseConfig, redactConfig, redactUrl } from './load.ts';
import { CONFIG_SCHEMA, type SchemaNode } from './schema.ts';

const NO_ENV = {};

/** The problems parseConfig reports for `yaml`, or fails when it is valid. */
function problems(yaml: string, env: Record<string, string> = NO_ENV): string[] {
  try {
    parseConfig(yaml, { env, source: 'test.yaml' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /^invalid config test\.yaml:\n {2}- /);
    return err.problems;
  }
  return assert.fail(`expected ${JSON.stringify(yaml)} to be refused`);
}

function one(yaml: string, env: Record<string, string> = NO_ENV): string {
  const p = problems(yaml, env);
  assert.equal(p.length, 1, `expected one problem, got:\n${p.join('\n')}`);
  return p[0]!;
}

test('an empty file gives the seed defaults (pprof off, new keys sane)', () => {
  const c = parseConfig('', { env: NO_ENV });
  assert.deepEqual(c.kafka, {
    brokers: ['localhost:9092'],
    topic: 'event_topic',
    group_id: 'doris-sinker-group',
    client_id: 'doris-sinker',
    from_earliest: true,
    max_fetch_records: 1000,
    max_fetch_bytes: 1048576,
    session_timeout: 30,
    heartbeat_interval: 3,
    metadata_max_age: 60,
  });
  assert.deepEqual(
    {
      ...c.doris,
      retry_backoff_ms: undefined,
      load_route: undefined,
      format: undefined,
      compress: undefined,
      stream_load_properties: undefined,
    },
    {
      fe_hosts: ['127.0.0.1:8030'],
      query_port: 9030,
      database: 'test_db',
      table: 'tb_event',
      user: 'root',
      password: '',
      timeout: 600,
      max_retries: 3,
      retry_backoff_ms: undefined,
      load_route: undefined,
      format: undefined,
      compress: undefined,
      stream_load_properties: undefined,
    },
  );
  assert.equal(c.doris.format, 'json');
  assert.equal(c.doris.load_route, 'auto');
  assert.deepEqual(
    { ...c.batch, max_buffer_bytes: undefined, merge_partitions: undefined },
    {
      max_batch_rows: 10000,
      max_batch_size: 10485760,
      max_batch_interval: 30,
      flush_worker_count: 4,
      map_workers: 1,
      max_buffer_bytes: undefined,
      merge_partitions: undefined,
    },
  );
  assert.deepEqual(c.schema, {
    mode: 'auto',
    auto: { refresh_interval: 0, validate_on_start: true },
    manual: { columns: [] },
    zero_date: '1970-01-01',
  });
  assert.deepEqual(c.log, {
    level: 'info',
    output: 'stdout',
    file_path: '/var/log/doris-sinker.log',
    format: 'json',
    enable_sampling: true,
    max_size: 100,
    max_age: 7,
    max_backups: 10,
  });
  assert.deepEqual(c.metrics, { enabled: true, port: 9090, path: '/metrics' });
  assert.deepEqual(c.pprof, { enabled: false, port: 6060, host: '127.0.0.1' });
  assert.equal(c.name, 'doris-sinker');
  assert.equal(c.shutdown_timeout, 25);
  assert.equal(c.dedupe.key_prefix, 'doris-sinker', 'key_prefix defaults to the name');
  assert.equal(c.dlq.file_path, 'doris-sinker-dlq.jsonl');
  assert.equal(c.kafka.sasl, undefined);
});

test('given values win over defaults; nested defaults fill in around them', () => {
  const c = parseConfig(
    'name: orders\nbatch: {max_batch_rows: 50}\nschema:\n  mode: manual\n  manual:\n    columns:\n      - {name: id, type: bigint, nullable: false}\n      - {name: t, type: "varchar(10)"}\ndlq: {kafka_topic: dlq}\ndoris: {stream_load_properties: {strict_mode: true, max_filter_ratio: 0.1}}\n',
    { env: NO_ENV },
  );
  assert.equal(c.batch.max_batch_rows, 50);
  assert.equal(c.batch.max_batch_size, 10485760);
  assert.deepEqual(c.schema.manual.columns, [
    { name: 'id', type: 'bigint', nullable: false },
    { name: 't', type: 'varchar(10)', nullable: true },
  ]);
  assert.deepEqual(c.dlq, { kafka_topic: 'dlq' }, 'no default file when a topic is given');
  assert.equal(c.dedupe.key_prefix, 'orders');
  assert.deepEqual(c.doris.stream_load_properties, { strict_mode: 'true', max_filter_ratio: '0.1' });
});

test('an empty section (every key commented out) means its defaults', () => {
  const c = parseConfig('kafka:\n  # topic: x\ndlq:\nschema:\n  auto:\n', { env: NO_ENV });
  assert.equal(c.kafka.topic, 'event_topic');
  assert.equal(c.dlq.file_path, 'doris-sinker-dlq.jsonl');
  assert.equal(c.schema.auto.refresh_interval, 0);
  // a scalar where a section belongs is still an error
  assert.equal(one('kafka: 5'), 'kafka: expected a mapping of keys to values, found 5');
});

test('environment overrides for secrets and address lists', () => {
  const c = parseConfig('kafka:\n  sasl: {mechanism: plain, username: u}\ndoris: {password: fromfile}\n', {
    env: {
      DORIS_PASSWORD: 's3cret',
      REDIS_URL: 'redis://:pw@redis:6379/1',
      KAFKA_SASL_PASSWORD: 'kpw',
      KAFKA_BROKERS: ' k1:9092, k2:9093 ,',
      DORIS_FE_HOSTS: 'fe1:8030,fe2:8030',
    },
  });
  assert.equal(c.doris.password, 's3cret');
  assert.equal(c.dedupe.redis_url, 'redis://:pw@redis:6379/1');
  assert.equal(c.kafka.sasl?.password, 'kpw');
  assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9093']);
  assert.deepEqual(c.doris.fe_hosts, ['fe1:8030', 'fe2:8030']);
  // An empty variable (an unset compose variable passed on) overrides nothing. DORIS_PASSWORD=''
  // replaced the file's password with none, and REDIS_URL='' with dedupe.required false turned Redis,
  // and exactly-once with it, off.
  const kept = parseConfig(
    'kafka:\n  brokers: [k:1]\n  sasl: {mechanism: plain, username: u, password: kfile}\ndoris: {password: fromfile, fe_hosts: [f:1]}\ndedupe: {redis_url: "redis://r:6379", required: false}\n',
    { env: { DORIS_PASSWORD: '', REDIS_URL: '', KAFKA_SASL_PASSWORD: '', KAFKA_BROKERS: '', DORIS_FE_HOSTS: ' , ' } },
  );
  assert.equal(kept.doris.password, 'fromfile');
  assert.equal(kept.dedupe.redis_url, 'redis://r:6379');
  assert.equal(kept.kafka.sasl?.password, 'kfile');
  assert.deepEqual(kept.kafka.brokers, ['k:1']);
  assert.deepEqual(kept.doris.fe_hosts, ['f:1']);
  assert.equal(parseConfig('', { env: { DORIS_PASSWORD: ' ' } }).doris.password, ' ', 'a password of spaces is one');
  // KAFKA_SASL_PASSWORD alone does not switch SASL on
  assert.equal(parseConfig('', { env: { KAFKA_SASL_PASSWORD: 'x' } }).kafka.sasl, undefined);
  // a bad value from the environment says where it came from
  assert.equal(
    one('', { KAFKA_BROKERS: 'k1:9092,oops' }),
    'kafka.brokers[1] (from KAFKA_BROKERS): expected a host:port string, found "oops"',
  );
  assert.equal(
    one('', { REDIS_URL: 'http://x' }),
    'dedupe.redis_url (from REDIS_URL): expected a redis:// or rediss:// URL (or "" for no Redis), found "http://x"',
  );
});

test('type, range and enum problems name the key, what was expected and what was found', () => {
  const cases: Array<[string, string]> = [
    ['batch: {max_batch_rows: ten}', 'batch.max_batch_rows: expected an integer ≥ 1, found "ten"'],
    ['batch: {max_batch_rows: 0}', 'batch.max_batch_rows: expected an integer ≥ 1, found 0'],
    ['batch: {max_batch_rows: 1.5}', 'batch.max_batch_rows: expected an integer ≥ 1, found 1.5'],
    ['batch: {max_batch_interval: 0}', 'batch.max_batch_interval: expected a number > 0, found 0'],
    // Durations and sizes with a unit (the DorisSink's spelling): the error now says what the number counts.
    [
      'batch: {max_batch_interval: 5s}',
      'batch.max_batch_interval: expected a number > 0, found "5s" (a plain number of seconds, without a unit)',
    ],
    [
      'batch: {max_batch_size: 10MiB}',
      'batch.max_batch_size: expected an integer ≥ 1, found "10MiB" (a plain number of bytes, without a unit)',
    ],
    [
      'doris: {retry_backoff_ms: 1s}',
      'doris.retry_backoff_ms: expected an integer ≥ 1, found "1s" (a plain number of milliseconds, without a unit)',
    ],
    ['log: {max_age: 7d}', 'log.max_age: expected an integer ≥ 1, found "7d" (a plain number of days, without a unit)'],
    [
      'log: {max_size: 100 MB}',
      'log.max_size: expected an integer from 1 to 1048576, found "100 MB" (a plain number of MiB, without a unit)',
    ],
    ['batch: {flush_worker_count: 100}', 'batch.flush_worker_count: expected an integer from 1 to 64, found 100'],
    ['batch: {max_batch_size: }', 'batch.max_batch_size: expected an integer ≥ 1, found null (an empty value)'],
    ['kafka: {brokers: []}', 'kafka.brokers: expected a non-empty list of host:port strings, found an empty list'],
    [
      'kafka: {brokers: localhost:9092}',
      'kafka.brokers: expected a non-empty list of host:port strings, found "localhost:9092"',
    ],
    ['kafka: {brokers: [localhost]}', 'kafka.brokers[0]: expected a host:port string, found "localhost"'],
    // Ports out of range passed ([0-9]{1,5}): 'Config OK', then Kafka 'Port should be >= 0 and < 65536'
    // retried for good, and an FE at port 0 never answered.
    ['kafka: {brokers: ["k:99999"]}', 'kafka.brokers[0]: expected a host:port string, found "k:99999"'],
    ['kafka: {brokers: ["k:65536"]}', 'kafka.brokers[0]: expected a host:port string, found "k:65536"'],
    ['doris: {fe_hosts: ["fe:0"]}', 'doris.fe_hosts[0]: expected a host:port string, found "fe:0"'],
    ['doris: {fe_hosts: ["fe:08030"]}', 'doris.fe_hosts[0]: expected a host:port string, found "fe:08030"'],
    ['kafka: {from_earliest: yes please}', 'kafka.from_earliest: expected true or false, found "yes please"'],
    ['kafka: {topic: ""}', 'kafka.topic: expected a non-empty string, found ""'],
    [
      'kafka: {sasl: {mechanism: gssapi, username: u}}',
      'kafka.sasl.mechanism: expected one of plain, scram-sha-256, scram-sha-512, found "gssapi"',
    ],
    [
      'kafka: {sasl: {mechanism: plain}}',
      'kafka.sasl.username: expected a non-empty string, found nothing (the key is required)',
    ],
    ['doris: {query_port: 70000}', 'doris.query_port: expected an integer from 1 to 65535, found 70000'],
    ['doris: {format: parquet}', 'doris.format: expected one of json, csv, found "parquet"'],
    ['doris: {load_route: magic}', 'doris.load_route: expected one of auto, backend, frontend, found "magic"'],
    [
      'doris: {password: 123456}',
      'doris.password: expected a string (quote digits: "123456"), found a value (hidden: secret)',
    ],
    [
      'doris: {stream_load_properties: {strict_mode: [1]}}',
      'doris.stream_load_properties.strict_mode: expected a string, number or boolean, found a list',
    ],
    ['doris: {timeout: 300000}', 'doris.timeout: expected an integer from 1 to 259200, found 300000'],
    ['doris: [a, b]', 'doris: expected a mapping of keys to values, found a list'],
    ['schema: {mode: magic}', 'schema.mode: expected one of auto, manual, found "magic"'],
    ['schema: {zero_date: yesterday}', 'schema.zero_date: expected a date YYYY-MM-DD, found "yesterday"'],
    // Shaped like a date, not one: accepted before, every missing DATE field got it.
    [
      'schema: {zero_date: 2024-13-45}',
      'schema.zero_date: expected a date YYYY-MM-DD of the calendar, found "2024-13-45"',
    ],
    [
      'schema: {zero_date: 2023-02-29}',
      'schema.zero_date: expected a date YYYY-MM-DD of the calendar, found "2023-02-29"',
    ],
    // Huge values that the schema took and that broke at run time: a refresh timer past Node's
    // 2^31-1 ms runs every millisecond; Redis refuses EX 1e21 ("1e+21") and past ~9.2e15; pino-roll
    // refuses a size of "1e+21m" and the log file is given up.
    [
      'schema: {auto: {refresh_interval: 2592000}}',
      'schema.auto.refresh_interval: expected an integer from 0 to 604800, found 2592000',
    ],
    ['dedupe: {ttl: 1e21}', 'dedupe.ttl: expected an integer from 1 to 31536000, found 1e+21'],
    ['dedupe: {ttl: 9223372036854775}', 'dedupe.ttl: expected an integer from 1 to 31536000, found 9223372036854776'],
    ['log: {max_size: 1e21}', 'log.max_size: expected an integer from 1 to 1048576, found 1e+21'],
    [
      'schema: {manual: {columns: [{name: a}]}}',
      'schema.manual.columns[0].type: expected a non-empty string, found nothing (the key is required)',
    ],
    [
      'schema: {manual: {columns: [id]}}',
      'schema.manual.columns[0]: expected a column {name, type, nullable}, found "id"',
    ],
    ['dedupe: {ttl: -1}', 'dedupe.ttl: expected an integer from 1 to 31536000, found -1'],
    [
      'kafka: {max_fetch_bytes: 60000000}',
      'kafka.max_fetch_bytes: expected an integer from 1024 to 52428800, found 60000000',
    ],
    ['dedupe: {key_fields: [id, id]}', 'dedupe.key_fields: expected a list of non-empty strings, found a list'],
    ['log: {level: loud}', 'log.level: expected one of trace, debug, info, warn, error, fatal, found "loud"'],
    ['log: {output: syslog}', 'log.output: expected one of stdout, file, both, found "syslog"'],
    ['metrics: {path: metrics}', 'metrics.path: expected a path starting with /, found "metrics"'],
    ['pprof: {enabled: 1}', 'pprof.enabled: expected true or false, found 1'],
    ['name: "my.sink"', 'name: expected a name of letters, digits, "-" and "_" (at most 63, no dots), found "my.sink"'],
    ['dlq: {file_path: ""}', 'dlq.file_path: expected a non-empty string, found ""'],
    ['shutdown_timeout: 0', 'shutdown_timeout: expected an integer from 1 to 3600, found 0'],
    ['[1, 2]', '(top level): expected a mapping of sections (kafka, doris, batch, ...), found a list'],
    // The file's text is not quoted: it may be a Secret's password file or a .env given by mistake.
    [
      'just text',
      '(top level): expected a mapping of sections (kafka, doris, batch, ...), found a single text value, not key: value lines (not shown)',
    ],
    [
      'DORIS_PASSWORD=s3cret\nREDIS_URL=redis://:pw@r:6379\n',
      '(top level): expected a mapping of sections (kafka, doris, batch, ...), found a single text value, not key: value lines (not shown)',
    ],
  ];
  for (const [yaml, expected] of cases) assert.equal(one(yaml), expected, yaml);
});

test('unknown keys are named, with a did-you-mean', () => {
  assert.equal(one('batch: {max_batch_row: 5}'), 'batch.max_batch_row: unknown key (did you mean "max_batch_rows"?)');
  assert.equal(one('kafka: {groupId: g}'), 'kafka.groupId: unknown key (did you mean "group_id"?)');
  assert.equal(one('doris: {fe_host: [a:1]}'), 'doris.fe_host: unknown key (did you mean "fe_hosts"?)');
  assert.equal(one('kafak: {}'), 'kafak: unknown key (did you mean "kafka"?)');
  assert.equal(one('metrics: {zzz: 1}'), 'metrics.zzz: unknown key (known keys: enabled, port, path, port_file)');
  assert.equal(
    one('schema: {manual: {columns: [{name: a, type: int, nulable: true}]}}'),
    'schema.manual.columns[0].nulable: unknown key (did you mean "nullable"?)',
  );
  // A key of another section: the whole path. Before, the list of this section's keys, or a near
  // miss that misleads (metrics.host: "port"). The DorisSink spells schema.refreshInterval and
  // schema.columns one level up from the file's keys.
  assert.equal(
    one('schema: {refresh_interval: 60}'),
    'schema.refresh_interval: unknown key (did you mean schema.auto.refresh_interval?)',
  );
  assert.equal(
    one('schema: {refreshInterval: 60}'),
    'schema.refreshInterval: unknown key (did you mean schema.auto.refresh_interval?)',
  );
  assert.equal(
    one('schema: {columns: [{name: a, type: int}]}'),
    'schema.columns: unknown key (did you mean schema.manual.columns?)',
  );
  assert.equal(one('metrics: {host: 0.0.0.0}'), 'metrics.host: unknown key (did you mean pprof.host?)');
  assert.equal(one('max_batch_rows: 5'), 'max_batch_rows: unknown key (did you mean batch.max_batch_rows?)');
  assert.equal(
    one('log: {enabled: true}'),
    'log.enabled: unknown key (did you mean kafka.tls.enabled or metrics.enabled or pprof.enabled?)',
  );
});

test('cross-field checks', () => {
  const cases: Array<[string, string]> = [
    [
      'schema: {mode: manual}',
      'schema.manual.columns: expected at least one column {name, type} when schema.mode is manual, found an empty list',
    ],
    [
      'schema: {mode: manual, manual: {columns: [{name: a, type: int}, {name: b, type: blob}]}}',
      'schema.manual.columns[1].type: expected a Doris type such as bigint, varchar(64), decimal(18,4), datetime(3), json, found "blob" (cannot parse Doris type "blob": unknown type name "blob" at character 4)',
    ],
    [
      'schema: {mode: manual, manual: {columns: [{name: a, type: int}, {name: a, type: int}]}}',
      'schema.manual.columns[1].name: expected a column not listed before, found "a" (column "a" is listed twice)',
    ],
    // Doris column names ignore case: accepted before, then every load naming both refused.
    [
      'schema: {mode: manual, manual: {columns: [{name: id, type: int}, {name: n, type: int}, {name: ID, type: bigint}]}}',
      'schema.manual.columns[2].name: expected a column not listed before (Doris column names ignore case), found "ID" (columns[0] is "id")',
    ],
    [
      'dedupe: {redis_url: ""}',
      'dedupe.redis_url: expected a redis:// URL (exactly-once keeps its intents and watermarks in Redis; set dedupe.required: false to run at-least-once without it), found ""',
    ],
    [
      'dedupe: {redis_url: "", required: false, key_fields: [id]}',
      'dedupe.key_fields: expected an empty list when dedupe.redis_url is empty (content dedupe keeps its keys in Redis), found [id]',
    ],
    [
      'schema: {mode: manual, manual: {columns: [{name: id, type: bigint}]}}\ndedupe: {key_fields: [idd]}',
      'dedupe.key_fields[0]: expected a column of schema.manual.columns, found "idd"',
    ],
    [
      'kafka: {session_timeout: 10, heartbeat_interval: 10}',
      'kafka.heartbeat_interval: expected less than kafka.session_timeout (10), found 10',
    ],
    [
      'kafka: {tls: {cert_file: /c.pem}}',
      'kafka.tls.key_file: expected a PEM file path (mutual TLS needs both cert_file and key_file), found nothing',
    ],
    [
      'kafka: {topic: events}\ndlq: {kafka_topic: events}',
      'dlq.kafka_topic: expected a topic other than kafka.topic (the sinker would consume its own dead letters again), found "events"',
    ],
    [
      'metrics: {path: /readyz}',
      'metrics.path: expected a path other than /healthz and /readyz (the probes answer there), found "/readyz"',
    ],
    [
      'batch: {max_buffer_bytes: 2000000}',
      'batch.max_buffer_bytes: expected at least batch.max_batch_size (10485760), found 2000000',
    ],
    [
      'metrics: {port: 7000}\npprof: {enabled: true, port: 7000}',
      'pprof.port: expected a port other than metrics.port (7000), found 7000',
    ],
    [
      'doris: {stream_load_properties: {Label: x}}',
      'doris.stream_load_properties.Label: expected no "Label" header (the sinker sets it itself), found "x"',
    ],
    [
      'doris: {stream_load_properties: {timeout: 5}}',
      'doris.stream_load_properties.timeout: expected no "timeout" header (the sinker sets it itself), found 5',
    ],
    [
      'doris: {stream_load_properties: {skip_lines: 1}}',
      'doris.stream_load_properties.skip_lines: expected no "skip_lines" header (Doris would skip the first lines of every batch, and those rows would be lost), found 1',
    ],
    [
      'doris: {stream_load_properties: {txn_operation: abort}}',
      'doris.stream_load_properties.txn_operation: expected no "txn_operation" header (the sinker sets it itself), found "abort"',
    ],
    [
      'doris: {format: csv}\nschema: {mode: manual, manual: {columns: [{name: id, type: bigint}, {name: l, type: json}]}}',
      'doris.format: expected json, found "csv" (CSV cannot carry the JSON/nested columns l; use json)',
    ],
  ];
  for (const [yaml, expected] of cases) assert.equal(one(yaml), expected, yaml);
  // at-least-once without Redis is a valid choice
  assert.equal(parseConfig('dedupe: {redis_url: "", required: false}', { env: NO_ENV }).dedupe.redis_url, '');
});

test('every problem is reported at once, sorted by path, one line each', () => {
  const p = problems(
    'batch: {max_batch_rows: ten, max_batch_size: -1}\nlog: {level: loud}\nkafak: {}\nschema: {mode: manual}',
  );
  assert.deepEqual(
    p.map((x) => x.split(':')[0]),
    ['batch.max_batch_rows', 'batch.max_batch_size', 'kafak', 'log.level', 'schema.manual.columns'],
  );
});

test('YAML syntax errors give line and column; duplicate keys are errors', () => {
  assert.equal(
    one('batch:\n  max_batch_rows: [1, 2\n'),
    'line 3, column 1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
  );
  assert.match(
    one('batch:\n  max_batch_rows: 1\n  max_batch_rows: 2\n'),
    /^line 3, column 3: YAML syntax: Map keys must be unique$/,
  );
});

test('loadConfig reads a file and names it; a missing file is a ConfigError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sinker-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'batch: {max_batch_rows: 7}\n');
  assert.equal(loadConfig(file, NO_ENV).batch.max_batch_rows, 7);
  writeFileSync(file, 'batch: {max_batch_rows: x}\n');
  assert.throws(
    () => loadConfig(file, NO_ENV),
    (e: Error) => e instanceof ConfigError && e.message.startsWith(`invalid config ${file}:`),
  );
  assert.throws(() => loadConfig(join(dir, 'nope.yaml'), NO_ENV), /cannot read the file: no such file/);
  // Latin-1 text: the ä of the password was read as U+FFFD, a different password, without a word.
  writeFileSync(file, Buffer.from('name: s\ndoris:\n  password: "p\xe4ssword"\n', 'latin1'));
  assert.throws(
    () => loadConfig(file, NO_ENV),
    (e: Error) => e instanceof ConfigError && e.problems[0] === 'line 3: the file is not UTF-8 text (save it as UTF-8)',
  );
  writeFileSync(file, 'doris:\n  password: "pässword"\n');
  assert.equal(loadConfig(file, NO_ENV).doris.password, 'pässword');
  // Was 'EISDIR: illegal operation on a directory, read'.
  assert.throws(
    () => loadConfig(dir, NO_ENV),
    (e: Error) => e instanceof ConfigError && e.problems[0] === 'cannot read the file: it is a directory, not a file',
  );
});

test("relative paths in the file are taken from the working directory, not the file's, as docs/config.md says", () => {
  const dir = mkdtempSync(join(tmpdir(), 'sinker-config-'));
  writeFileSync(join(dir, 'ca.pem'), 'not read as PEM here');
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'kafka: {tls: {ca_file: ca.pem}}\n');
  const cwd = process.cwd();
  try {
    process.chdir(tmpdir());
    assert.throws(() => loadConfig(file, NO_ENV), /kafka\.tls\.ca_file: cannot read ca\.pem: no such file/);
    process.chdir(dir);
    assert.equal(loadConfig(file, NO_ENV).kafka.tls?.ca_file, 'ca.pem');
  } finally {
    process.chdir(cwd);
  }
  const docs = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8').replaceAll('\n', ' ');
  assert.match(
    docs,
    /Relative paths in the file .* are taken from the working directory the sinker is started in, not from the config file's directory/,
  );
});

test('a TLS file the config names that cannot be read is a ConfigError naming the key, the path and why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sinker-config-'));
  const file = join(dir, 'c.yaml');
  const ca = join(dir, 'ca.pem');
  const cert = join(dir, 'client.pem');
  writeFileSync(cert, '-----BEGIN CERTIFICATE-----\n');
  const key = join(dir, 'keys'); // a directory, not a file
  mkdirSync(key);
  writeFileSync(file, `kafka: {tls: {ca_file: ${ca}, cert_file: ${cert}, key_file: ${key}}}\n`);
  const err = (() => {
    try {
      loadConfig(file, NO_ENV);
    } catch (e) {
      return e as ConfigError;
    }
    assert.fail('loadConfig accepted unreadable TLS files');
  })();
  assert.ok(err instanceof ConfigError);
  assert.deepEqual(err.problems, [
    `kafka.tls.ca_file: cannot read ${ca}: no such file`,
    `kafka.tls.key_file: cannot read ${key}: it is a directory, not a file`,
  ]);
  // With TLS off the files are not read, so not checked.
  writeFileSync(file, `kafka: {tls: {enabled: false, ca_file: ${ca}}}\n`);
  assert.equal(loadConfig(file, NO_ENV).kafka.tls?.enabled, false);
  // Readable files pass.
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
  writeFileSync(file, `kafka: {tls: {ca_file: ${ca}}}\n`);
  assert.equal(loadConfig(file, NO_ENV).kafka.tls?.ca_file, ca);
});

test('the redacted view hides passwords and Redis credentials, and leaves the config itself alone', () => {
  const c = parseConfig('kafka: {sasl: {mechanism: plain, username: u, password: kp}}\ndoris: {password: dp}\n', {
    env: { REDIS_URL: 'redis://user:rp@redis:6379/0' },
  });
  const r = redactConfig(c);
  assert.equal(r.doris.password, '***');
  assert.equal(r.kafka.sasl?.password, '***');
  assert.equal(r.dedupe.redis_url, 'redis://user:***@redis:6379/0');
  const text = JSON.stringify(r);
  for (const secret of ['kp', 'dp', 'rp']) assert.doesNotMatch(text, new RegExp(`"${secret}"|:${secret}@`));
  assert.equal(c.doris.password, 'dp');
  assert.equal(
    redactConfig(parseConfig('', { env: NO_ENV })).doris.password,
    '',
    'an empty password stays visibly empty',
  );
});

test('docs/config.md is generated from the schema and up to date', () => {
  const file = new URL('../../docs/config.md', import.meta.url);
  assert.equal(
    readFileSync(file, 'utf8'),
    renderConfigDocs(),
    'docs/config.md is stale: run `node scripts/gen-config-docs.ts`',
  );
});

function leafKeys(node: SchemaNode, prefix: string, out: string[]): void {
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (child.type === 'object' && child.properties) leafKeys(child, path, out);
    else out.push(path);
  }
}

test('config.example.yaml is valid, and mentions every key (set or commented out)', () => {
  const text = readFileSync(new URL('../../config.example.yaml', import.meta.url), 'utf8');
  const c = parseConfig(text, { env: NO_ENV, source: 'config.example.yaml' });
  assert.deepEqual(c, parseConfig('', { env: NO_ENV }), 'the example shows the defaults');
  // Also once renamed, as each sink must be: a default derived from the name (the DLQ file) set in
  // the example would stay the first sink's after the user renames theirs.
  const renamed = text.replace(/^name: \S+/m, 'name: other');
  assert.ok(renamed !== text, 'config.example.yaml sets no top-level name');
  assert.deepEqual(
    parseConfig(renamed, { env: NO_ENV, source: 'config.example.yaml' }),
    parseConfig('name: other', { env: NO_ENV }),
    'the example, renamed, shows the defaults of the new name',
  );
  // uncomment everything: still valid YAML that the schema knows, so commented keys are real keys
  const uncommented = text.replace(/^(\s*)# ?(\s*[a-z_]+:(\s.*)?)$/gm, '$1$2');
  const doc = parseDocument(uncommented);
  assert.equal(doc.errors.length, 0);
  // Each key by its whole path: matched by its last name on any line, dlq.file_path was "mentioned"
  // by log.file_path, pprof.port by metrics.port (both could be deleted with the test passing).
  const all = doc.toJS() as Record<string, unknown>;
  const keys: string[] = [];
  leafKeys(CONFIG_SCHEMA, '', keys);
  for (const key of keys) {
    let at: unknown = all;
    for (const part of key.split('.')) {
      at = at !== null && typeof at === 'object' && part in at ? (at as Record<string, unknown>)[part] : undefined;
    }
    assert.ok(at !== undefined, `config.example.yaml does not mention ${key}`);
  }
});

test('a bad Redis URL in an error shows its credentials redacted; a password query parameter is redacted too', () => {
  for (const [yaml, env] of [
    ['dedupe: {redis_url: "http://:s3cret@redis:6379"}', NO_ENV],
    ['', { REDIS_URL: 'mysql://u:s3cret@redis:6379' }],
  ] as const) {
    assert.throws(
      () => parseConfig(yaml, { env }),
      (e: Error) => e instanceof ConfigError && /dedupe\.redis_url/.test(e.message) && !e.message.includes('s3cret'),
    );
  }
  const r = redactConfig(parseConfig('dedupe: {redis_url: "redis://redis:6379/0?password=s3cret"}', { env: NO_ENV }));
  assert.equal(r.dedupe.redis_url, 'redis://redis:6379/0?password=***');
  assert.equal(redactUrl('redis://redis:6379/0'), 'redis://redis:6379/0');
});

test('a URL with user:password@ given where a host:port belongs is refused with the password hidden', () => {
  for (const [yaml, env, path] of [
    ['doris: {fe_hosts: ["http://root:s3cret@fe:8030"]}', NO_ENV, 'doris.fe_hosts[0]'],
    ['kafka: {brokers: ["sasl://u:s3cret@kafka:9092"]}', NO_ENV, 'kafka.brokers[0]'],
    // No scheme: URL reads `u:` as one and the rest as a path, with no password in it.
    ['kafka: {brokers: ["u:s3cret@kafka:9092"]}', NO_ENV, 'kafka.brokers[0]'],
    ['', { KAFKA_BROKERS: 'u:s3/cret@x@kafka:9092' }, 'kafka.brokers[0] (from KAFKA_BROKERS)'],
    ['doris: {fe_hosts: ["root:s3cret@fe:8030"]}', NO_ENV, 'doris.fe_hosts[0]'],
    ['', { DORIS_FE_HOSTS: 'http://root:s3cret@fe:8030' }, 'doris.fe_hosts[0] (from DORIS_FE_HOSTS)'],
    // Not a URL at all (the port), and a / in the password: masked up to the last @.
    ['dedupe: {redis_url: "http://:s3/cret@redis:99999"}', NO_ENV, 'dedupe.redis_url'],
  ] as const) {
    const p = one(yaml, env);
    assert.ok(p.startsWith(`${path}: expected`), p);
    assert.ok(!p.includes('s3cret') && !p.includes('cret'), p);
    assert.match(p, /:\*\*\*@/);
  }
});

test('an Authorization header in doris.stream_load_properties is refused without quoting its credentials', () => {
  const basic = Buffer.from('root:s3cret').toString('base64');
  const p = one(`doris: {stream_load_properties: {Authorization: "Basic ${basic}"}}`);
  assert.equal(
    p,
    'doris.stream_load_properties.Authorization: expected no "Authorization" header (the sinker sets it itself), found a value (hidden: secret)',
  );
  // Other reserved headers still show what was given.
  assert.match(one('doris: {stream_load_properties: {format: csv}}'), /found "csv"$/);
});

test('an unquoted password starting with * (a YAML alias) is a config error at its line, not quoting the rest of it', () => {
  // yaml throws a ReferenceError naming the alias, which main.ts printed with its stack (exit 1).
  assert.equal(
    one('doris:\n  user: root\n  password: *s3cret\n'),
    'line 3, column 13: YAML syntax: a value starting with * is an alias, and no anchor of that name comes before it (quote the value: "*...")',
  );
  // An alias to an anchor set before it is still YAML's own business.
  assert.equal(parseConfig('doris:\n  user: &u root\n  database: *u\n', { env: NO_ENV }).doris.database, 'root');
});

test('an unquoted password starting with ! (a YAML tag) is a config error at its line, not a different password', () => {
  // yaml only warned, and read the value as "" (or as what follows the tag): a wrong password, silently.
  const tagged =
    'YAML syntax: a value starting with ! is a YAML tag, which this config does not use (quote the value: "!...")';
  assert.equal(one('doris:\n  password: !s3cret\n'), `line 2, column 13: ${tagged}`);
  assert.equal(one('doris:\n  password: !s3 cret\n'), `line 2, column 13: ${tagged}`);
  assert.equal(parseConfig('doris:\n  password: "!s3cret"\n', { env: NO_ENV }).doris.password, '!s3cret');
  assert.equal(parseConfig('doris:\n  password: !!str 123\n', { env: NO_ENV }).doris.password, '123');
});

test('a Redis URL ioredis cannot read is a config error on dedupe.redis_url, its password hidden', () => {
  for (const url of ['redis://:s3cret@redis:99999', 'redis://:s3cret@re dis:6379', 'redis://:s3%zzcret@redis:6379']) {
    // What start-up met before: an error from inside ioredis naming no key (exit 1 with a stack).
    assert.throws(() => new Redis(url, { lazyConnect: true }), /Invalid URL|URI malformed/);
    const p = one('', { REDIS_URL: url });
    assert.match(p, /^dedupe\.redis_url \(from REDIS_URL\): expected a redis:\/\/ URL, found "redis:\/\/:\*\*\*@/);
    assert.ok(!p.includes('s3'), p);
  }
  // What ioredis reads stays valid: an encoded %, a space in the password, a query password.
  for (const url of [
    'redis://:s3%25cret@redis:6379/0',
    'redis://:s3 cret@redis:6379',
    'redis://redis:6379?password=x',
  ]) {
    assert.equal(parseConfig('', { env: { REDIS_URL: url } }).dedupe.redis_url, url);
    new Redis(url, { lazyConnect: true }).disconnect();
  }
});

test('a YAML syntax error in a secret value says where, quoting none of it', () => {
  // yaml's messages quote the text they trip on: 'Could not resolve tag: !s3cret!', 'Unexpected
  // scalar token in YAML stream: "s3cret ,"', 'Block scalar header includes extra characters: |s3cret'.
  for (const [yaml, line, key] of [
    ['doris:\n  password: !s3cret!\n', 2, 'password'],
    ['doris:\n  password: }s3cret ,\n', 2, 'password'],
    ['doris:\n  password: |s3cret\n', 2, 'password'],
    ['kafka:\n  sasl: {mechanism: plain, password: ]s3cret}\n', 2, 'password'],
    ['doris:\n  stream_load_properties:\n    Authorization: }Basic s3cret\n', 3, 'authorization'],
  ] as const) {
    const ps = problems(yaml);
    assert.ok(ps.length > 0);
    for (const p of ps) {
      assert.ok(!p.includes('s3cret'), p);
      assert.match(
        p,
        new RegExp(
          `^line ${line}, column \\d+: YAML syntax: the value of ${key} is not valid YAML \\(not shown: secret\\); quote it`,
        ),
      );
    }
  }
  // Elsewhere yaml's own words stay, with a URL's password masked.
  const p = problems('dedupe:\n  redis_url: ]redis://:s3cret@redis:6379\n');
  assert.ok(
    p.some((x) => x.includes('Unexpected scalar token in YAML stream: "redis://:***@redis:6379"')),
    p.join('\n'),
  );
  assert.ok(!p.join().includes('s3cret'));
  // A comma ends an unquoted value in {...}: the rest of the password reads as a key, not quoted.
  assert.equal(
    one('doris: {user: root, password: ab,s3cret}'),
    'doris: a key without a value that is not known here (not shown: it may be the rest of doris.password, cut at a comma in a {...} mapping; quote the value)',
  );
  assert.equal(one('doris: {user: root, pasword: x}'), 'doris.pasword: unknown key (did you mean "password"?)');
});

test('log.max_backups 0 is a config error, not a crash of the log transport at start (pino-roll needs a count > 0)', () => {
  assert.throws(
    () => parseConfig('log: {max_backups: 0}', { env: NO_ENV }),
    (e: Error) => e instanceof ConfigError && /log\.max_backups: expected an integer ≥ 1, found 0/.test(e.message),
  );
  assert.equal(parseConfig('log: {max_backups: 1}', { env: NO_ENV }).log.max_backups, 1);
});

test('host:port takes every port from 1 to 65535', () => {
  for (const port of [
    1, 9, 10, 99, 100, 999, 1000, 8030, 9999, 10000, 59999, 60000, 64999, 65000, 65499, 65500, 65529, 65530, 65535,
  ]) {
    assert.deepEqual(parseConfig(`kafka: {brokers: ["k:${port}", "[::1]:${port}"]}`, { env: NO_ENV }).kafka.brokers, [
      `k:${port}`,
      `[::1]:${port}`,
    ]);
  }
});

test('schema.zero_date takes any calendar date, leap days and year 0000 included', () => {
  for (const date of ['2024-02-29', '2000-02-29', '0000-01-01', '9999-12-31']) {
    assert.equal(parseConfig(`schema: {zero_date: "${date}"}`, { env: NO_ENV }).schema.zero_date, date);
  }
});
