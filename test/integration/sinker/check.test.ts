// `doris-sinker check -config FILE` against the real test bed: everything reachable → exit 0, with
// the Redis state of every partition and the log file's directory; a component that is not there
// (Redis or Doris on a dead port) or a log directory that cannot be made → a FAIL line in plain
// words and exit 1;
// a manual column list the table contradicts → a FAIL naming the column; a bad config file, or a TLS
// file it names that cannot be read → exit 2 naming the key; stale exactly-once state (a record a
// settle left, or a watermark at or past the log end) → a FAIL with the sinker's message, exit 1.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { parseConfig } from '../../../sinker/config/load.ts';
import { dedupeKeys } from '../../../sinker/dedupe/keys.ts';
import { STALE_STATE_MESSAGE } from '../../../sinker/dedupe/stale.ts';
import { DedupeStore } from '../../../sinker/dedupe/store.ts';
import { freePort, runSinkerCommand } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import { cleanup, closeStorage, createTable, createTopic, type Scenario, scenario, sinkerConfig } from './helpers.ts';

const s: Scenario = scenario('check', 2);

before(async () => {
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  await cleanup(s);
  await closeStorage();
});

async function check(tag: string, config: Record<string, unknown>) {
  return runSinkerCommand({ dir: s.dir, tag, config, command: ['check'] }, 90_000);
}

/** Writes `count` messages to each partition named, so that the state written below fits the log. */
async function fill(counts: Record<number, number>): Promise<void> {
  const kafka = new Kafka({ brokers: testbed('KAFKA_BOOTSTRAP').split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (const [partition, count] of Object.entries(counts)) {
      await producer.send({
        topic: s.topic,
        messages: Array.from({ length: count }, (_, i) => ({ partition: Number(partition), value: `{"id":${i}}` })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** A store for the sink `name` (the scenario's prefix and topic). */
async function storeOf(config: Record<string, unknown>): Promise<DedupeStore> {
  const parsed = parseConfig(JSON.stringify(config), { env: {} });
  const store = new DedupeStore({ config: parsed.dedupe, sink: parsed.name, topic: parsed.kafka.topic });
  await store.connect();
  return store;
}

test('check: every component reachable → OK lines and exit 0', async () => {
  const { exit, output } = await check('ok', await sinkerConfig(s));
  assert.equal(exit.code, 0, output);
  assert.match(output, /all checks passed/);
  assert.doesNotMatch(output, /TimeoutNegativeWarning/, 'a Node warning in the report');
  assert.doesNotMatch(output, /^FAIL/m);
  for (const part of [/kafka/i, /redis/i, /doris|stream load|query/i]) assert.match(output, part);
});

test('check: Redis on a dead port → a FAIL line naming the address it tried (password hidden), exit 1', async () => {
  const port = await freePort();
  const { exit, output } = await check(
    'redis-down',
    await sinkerConfig(s, { dedupe: { redis_url: `redis://:s3cret@127.0.0.1:${port}/0` } }),
  );
  assert.equal(exit.code, 1, output);
  const fail = output.split('\n').filter((l) => l.startsWith('FAIL'));
  assert.equal(fail.length, 1, output);
  // ioredis's own words are only "Connection is closed.": the address says which Redis to look at.
  assert.ok(fail[0]!.startsWith(`FAIL Redis: redis://:***@127.0.0.1:${port}/0: `), fail[0]);
  assert.doesNotMatch(output, /s3cret/);
  assert.match(output, /1 of \d+ checks failed/);
});

test('check: a topic that does not exist → a FAIL line naming it and what to do, exit 1', async () => {
  const topic = `${s.topic}-missing`;
  const { exit, output } = await check('no-topic', await sinkerConfig(s, { kafka: { topic } }));
  assert.equal(exit.code, 1, output);
  const fail = output.split('\n').filter((l) => l.startsWith('FAIL Kafka:'));
  assert.equal(fail.length, 1, output);
  assert.match(fail[0]!, new RegExp(`topic "${topic}" does not exist .*create it, or fix kafka\\.topic`));
  assert.doesNotMatch(fail[0]!, /does not host this topic-partition/);
});

test('check: Doris FE on a dead port → FAIL lines naming Doris, exit 1', async () => {
  const port = await freePort();
  const { exit, output } = await check(
    'doris-down',
    await sinkerConfig(s, { doris: { fe_hosts: [`127.0.0.1:${port}`], query_port: port } }),
  );
  assert.equal(exit.code, 1, output);
  const fail = output.split('\n').filter((l) => l.startsWith('FAIL'));
  assert.ok(fail.length >= 1, output);
  assert.ok(
    fail.every((l) => /doris|schema|stream load|query|describe/i.test(l)),
    output,
  );
  assert.ok(
    fail.some((l) => l.includes(String(port)) || /refused/i.test(l)),
    output,
  );
});

test('check: a manual column list is held to the table: a miscased column is a FAIL naming it, exit 1', async () => {
  const columns = [
    { name: 'id', type: 'bigint', nullable: false },
    { name: 'event_type', type: 'varchar(64)', nullable: true },
  ];
  const good = await check('manual-ok', await sinkerConfig(s, { schema: { mode: 'manual', manual: { columns } } }));
  assert.equal(good.exit.code, 0, good.output);
  assert.match(good.output, /^OK +Doris schema \(query port\): manual schema: 2 columns, all in test_db\./m);

  const miscased = [columns[0], { ...columns[1], name: 'Event_Type' }];
  const bad = await check(
    'manual-case',
    await sinkerConfig(s, { schema: { mode: 'manual', manual: { columns: miscased } } }),
  );
  assert.equal(bad.exit.code, 1, bad.output);
  assert.match(
    bad.output,
    /^FAIL Doris schema \(query port\): schema\.manual\.columns against the table: column "Event_Type" is "event_type" in the table/m,
  );
});

test('check: a bad config file → exit 2 naming the key, what was expected and what was found', async () => {
  const config = await sinkerConfig(s, { batch: { max_batch_rows: 'lots' } });
  const { exit, output } = await check('bad', config);
  assert.equal(exit.code, 2, output);
  assert.match(output, /batch\.max_batch_rows/);
  assert.match(output, /integer/);
  assert.match(output, /lots/);

  const typo = await sinkerConfig(s);
  (typo.kafka as Record<string, unknown>).group_idd = 'x';
  const r2 = await check('typo', typo);
  assert.equal(r2.exit.code, 2, r2.output);
  assert.match(r2.output, /kafka\.group_idd/);
  assert.match(r2.output, /group_id/);
});

test('check and the sinker: a TLS file that cannot be read → exit 2 naming the key, the path and why', async () => {
  const ca = join(s.dir, 'missing-ca.pem');
  const config = await sinkerConfig(s, { kafka: { tls: { ca_file: ca } } });
  const { exit, output } = await check('tls-missing', config);
  assert.equal(exit.code, 2, output);
  assert.ok(output.includes(`kafka.tls.ca_file: cannot read ${ca}: no such file`), output);
  assert.doesNotMatch(output, /ENOENT|^\s+at /m, 'a raw error or a stack trace');

  // The sinker itself stops the same way at start-up.
  const run = await runSinkerCommand({ dir: s.dir, tag: 'tls-missing-run', config }, 30_000);
  assert.equal(run.exit.code, 2, run.output);
  assert.ok(run.output.includes(`kafka.tls.ca_file: cannot read ${ca}: no such file`), run.output);
  assert.doesNotMatch(run.output, /ENOENT|^\s+at /m, 'a raw error or a stack trace');
});

test("check: Redis state of every partition of the topic, and the log file's directory", async () => {
  // Partition 0 has loaded up to 41; partition 1 has an intent not settled yet and no watermark.
  // The log holds those offsets (else the state could not belong to it: see the stale test).
  await fill({ 0: 42, 1: 100 });
  const config = await sinkerConfig(s);
  const store = await storeOf(config);
  try {
    await store.recordIntent(0, { label: 'check-it-0', first: '0', last: '41', created: Date.now() });
    await store.complete(0, { first: '0', last: '41' });
    await store.recordIntent(1, { label: 'check-it-1', first: '42', last: '99', created: Date.now() });
  } finally {
    await store.close();
  }
  const logDir = join(s.dir, 'logs', 'sub');
  config.log = { level: 'info', output: 'file', file_path: join(logDir, 'sinker.log') };
  const { exit, output } = await check('partitions', config);
  assert.equal(exit.code, 0, output);
  const redis = output.split('\n').find((l) => l.startsWith('OK   Redis:'));
  assert.ok(redis, output);
  assert.match(redis, /1 of 2 partitions has a watermark \(p0 41\); none yet on p1/);
  assert.match(redis, /1 unsettled intent \(p1 42-99, \d+ s old/);
  assert.match(output, /^OK +Exactly-once state: no stale state: every watermark and intent lies below/m);
  const log = output.split('\n').find((l) => l.includes('Log file:'));
  assert.ok(log?.startsWith('OK'), output);
  assert.ok(log !== undefined);
  assert.ok(log.includes(`directory ${logDir} does not exist yet; the sinker creates it`), log);
  assert.equal(existsSync(join(s.dir, 'logs')), false, 'check created the log directory');

  // A log file whose directory cannot be made: a FAIL line naming log.file_path, exit 1.
  writeFileSync(join(s.dir, 'plain-file'), 'x');
  config.log = { level: 'info', output: 'both', file_path: join(s.dir, 'plain-file', 'sinker.log') };
  const bad = await check('log-bad', config);
  assert.equal(bad.exit.code, 1, bad.output);
  const fail = bad.output.split('\n').filter((l) => l.startsWith('FAIL'));
  assert.equal(fail.length, 1, bad.output);
  assert.match(fail[0]!, /^FAIL Log file: log\.file_path .*plain-file.* is a file, not a directory/);
});

test("check: exactly-once state that cannot belong to the topic's log → a FAIL with the sinker's message and the keys, exit 1; check records nothing", async () => {
  // Another sink name on the same topic: its own keys.
  const config = { ...(await sinkerConfig(s)), name: `${s.name}-stale` };
  const keys = dedupeKeys(s.prefix, `${s.name}-stale`, s.topic);
  const store = await storeOf(config);
  try {
    // A watermark far past partition 0's log end: the topic was re-created (or truncated).
    await store.recordIntent(0, { label: 'check-stale-0', first: '0', last: '99999', created: Date.now() });
    await store.complete(0, { first: '0', last: '99999' });
    const found = await check('stale-found', config);
    assert.equal(found.exit.code, 1, found.output);
    const fail = found.output.split('\n').filter((l) => l.startsWith('FAIL'));
    assert.equal(fail.length, 1, found.output);
    assert.ok(fail[0]!.startsWith(`FAIL Exactly-once state: ${STALE_STATE_MESSAGE}. Found by this check`), fail[0]);
    assert.match(fail[0]!, /partition 0: watermark 99999 is at or past the log end \d+ .*; redisKeys /);
    assert.ok(fail[0]!.includes(keys.pattern), fail[0]);
    assert.match(found.output, /^OK +Redis: reachable; /m);
    assert.equal(await store.staleState(), null, 'check recorded the stale state');

    // What a settle records: reported as recorded, with when it was found.
    await store.markStale({
      partition: 1,
      reason: 'intent',
      offset: '777',
      watermark: null,
      logStart: '0',
      logEnd: '5',
      at: '2026-11-25T08:00:00.000Z',
    });
    const recorded = await check('stale-recorded', config);
    assert.equal(recorded.exit.code, 1, recorded.output);
    const line = recorded.output.split('\n').find((l) => l.startsWith('FAIL Exactly-once state:'));
    assert.ok(line, recorded.output);
    assert.ok(
      line.includes(
        `Recorded in ${keys.stale}: topic ${s.topic} partition 1: an intent reaching offset 777 is at or past the log end 5 (found 2026-11-25T08:00:00.000Z)`,
      ),
      line,
    );
  } finally {
    await store.close();
  }
});
