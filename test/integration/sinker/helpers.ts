// Shared parts of the sinker's end-to-end tests: a scenario (its own topic, group, sink name, Redis
// prefix and Doris table), the config for a sinker child process, the rows the emulator stored in
// MariaDB, and the one assertion every fault test ends with: each produced message exactly once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import mysql from 'mysql2/promise';
import type { GeneratedEvent } from '../../support/events.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { type ProduceResult, produceEvents, produceValues as produceTo } from '../../support/produce.ts';
import { SinkerProcess } from '../../support/sinker-process.ts';
import { testbed, testbedEnv } from '../../support/testbed.ts';

const DDL = readFileSync(new URL('../../../../shared/bench/tb_event.doris.sql', import.meta.url), 'utf8');

export interface Scenario {
  tag: string;
  topic: string;
  group: string;
  name: string;
  prefix: string;
  table: string;
  dir: string;
  dlqFile: string;
  partitions: number;
}

export function scenario(tag: string, partitions = 4): Scenario {
  const id = randomUUID().slice(0, 8);
  const dir = join(tmpdir(), `sinker-it-${tag}-${id}`);
  mkdirSync(dir, { recursive: true });
  return {
    tag,
    topic: `it-sink-${tag}-${id}`,
    group: `it-sink-${tag}-${id}`,
    name: `it-${tag}-${id}`,
    prefix: `it:${tag}:${id}:`,
    table: `it_sink_${tag.replace(/-/g, '_')}_${id}`,
    dir,
    dlqFile: join(dir, 'dlq.jsonl'),
    partitions,
  };
}

// ---- components ------------------------------------------------------------------------------

function kafka(): Kafka {
  return new Kafka({ brokers: testbed('KAFKA_BOOTSTRAP').split(','), logLevel: logLevel.NOTHING, clientId: 'it-sink' });
}

export async function createTopic(s: Scenario): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    await createTopicAndWait(admin, s.topic, s.partitions);
  } finally {
    await admin.disconnect();
  }
}

async function control(path: string, method = 'GET', body?: unknown): Promise<unknown> {
  const r = await fetch(`http://${testbed('DORIS_CONTROL')}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const json = (await r.json()) as unknown;
  if (!r.ok) throw new Error(`emulator control ${method} ${path}: HTTP ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Creates the scenario's table in the emulator (and so in MariaDB) with the canonical tb_event DDL. */
export async function createTable(s: Scenario): Promise<void> {
  const ddl = DDL.replace(/^--.*$/gm, '')
    .replace('IF NOT EXISTS test_db.tb_event', `test_db.${s.table}`)
    .trim()
    .replace(/;$/, '');
  assert.ok(ddl.includes(s.table), 'the tb_event DDL changed shape: cannot rename the table');
  await control('/tables', 'POST', { ddl });
}

/**
 * A table whose `name` holds 8 characters, for a sinker given NARROW_NAME_LOOSE_SCHEMA: longer names
 * pass the mapper and Doris refuses those rows for data quality (the DLQ paths after mapping).
 */
export async function createNarrowNameTable(s: Scenario): Promise<void> {
  await createTableFromDdl(
    `CREATE TABLE test_db.${s.table} (id BIGINT NOT NULL, name VARCHAR(8) NULL) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1`,
  );
}

/** A manual schema looser than createNarrowNameTable's table (`name` up to 100). */
export const NARROW_NAME_LOOSE_SCHEMA = {
  mode: 'manual',
  manual: {
    columns: [
      { name: 'id', type: 'bigint', nullable: false },
      { name: 'name', type: 'varchar(100)' },
    ],
  },
};

/** Creates a table in the emulator (and so in MariaDB) from Doris DDL. */
export async function createTableFromDdl(ddl: string): Promise<void> {
  await control('/tables', 'POST', { ddl });
}

export interface FaultSpec {
  type: string;
  count?: number;
  label?: string;
  table?: string;
  delayMs?: number;
  status?: number;
  body?: 'html' | 'empty' | 'text';
  commit?: boolean | 'before' | 'after' | 'never';
  mode?: 'refused' | 'hang';
  how?: 'close' | 'rst';
  evict?: boolean;
}

export async function armFault(spec: FaultSpec): Promise<number> {
  return ((await control('/faults', 'POST', spec)) as { id: number }).id;
}

/** How often each armed fault fired so far, by id. */
export async function faultsFired(): Promise<Map<number, { fired: number; remaining: number }>> {
  const r = (await control('/faults')) as { faults?: { id: number; fired: number; remaining: number }[] };
  return new Map((r.faults ?? []).map((f) => [f.id, f]));
}

export async function disarmFault(id: number): Promise<void> {
  await control(`/faults/${id}`, 'DELETE').catch(() => {});
}

export async function emulatorCounters(): Promise<Record<string, unknown>> {
  return (await control('/counters')) as Record<string, unknown>;
}

let pool: mysql.Pool | undefined;

export function storage(): mysql.Pool {
  pool ??= mysql.createPool({
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    database: `${testbedEnv().DORIS_EMULATOR_DB_PREFIX ?? ''}test_db`,
    connectionLimit: 3,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
  });
  return pool;
}

export async function rowCount(s: Scenario): Promise<number> {
  const [rows] = await storage().query(`SELECT COUNT(*) AS n FROM \`${s.table}\``);
  return Number((rows as { n: string | number }[])[0]!.n);
}

/** Waits until the table holds at least `n` rows; resolves with the count seen. */
export async function waitForRows(s: Scenario, n: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = await rowCount(s);
    if (seen >= n) return seen;
    await sleep(250);
  }
  return seen;
}

/**
 * Waits until the scenario's group has committed every partition up to its end offset: everything
 * produced so far was consumed and its rows loaded (or dropped as duplicates), since the sinker
 * commits only what is in Doris. Unlike a quiet row count, it can't be fooled by a pause (a
 * rebalance, a held load) with messages still to come. Throws with the lag when it times out.
 */
export async function waitCaughtUp(s: Scenario, timeoutMs: number): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let lag = 'no commits yet';
    while (Date.now() < deadline) {
      const ends = await admin.fetchTopicOffsets(s.topic);
      const [committed] = await admin.fetchOffsets({ groupId: s.group, topics: [s.topic] });
      const at = new Map(committed?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
      const behind = ends.filter((e) => (at.get(e.partition) ?? -1n) < BigInt(e.high));
      if (behind.length === 0) return;
      lag = behind.map((e) => `p${e.partition} ${at.get(e.partition) ?? -1n}/${e.high}`).join(', ');
      await sleep(250);
    }
    throw new Error(`group ${s.group} not caught up after ${timeoutMs} ms: ${lag}`);
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the row count holds still for `quietMs` (nothing more arriving). */
export async function waitQuiet(s: Scenario, quietMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  while (Date.now() < deadline) {
    const n = await rowCount(s);
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return n;
    await sleep(250);
  }
  return last;
}

export async function dropTable(s: Scenario): Promise<void> {
  await storage()
    .query(`DROP TABLE IF EXISTS \`${s.table}\``)
    .catch(() => {});
}

export async function closeStorage(): Promise<void> {
  await pool?.end();
  pool = undefined;
}

/**
 * After tests whose scenarios make no Kafka topic or group (replay from a DLQ file): drops their
 * tables and Redis keys and closes the storage pool. The full cleanup would wait seconds per
 * scenario for a topic that never existed.
 */
export async function cleanupWithoutKafka(scenarios: readonly Scenario[], redis: Redis): Promise<void> {
  for (const s of scenarios) {
    if (process.env.SINKER_IT_KEEP === '1') continue;
    await dropTable(s);
    const keys = await redis.keys(`${s.prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await closeStorage();
}

export async function cleanup(s: Scenario): Promise<void> {
  // SINKER_IT_KEEP=1 keeps the table, topic, group and Redis keys for a post-mortem.
  if (process.env.SINKER_IT_KEEP === '1') {
    process.stderr.write(
      `kept for inspection: table ${s.table}, topic ${s.topic}, Redis ${s.prefix}*, logs ${s.dir}\n`,
    );
    return;
  }
  await dropTable(s);
  const admin = kafka().admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics: [s.topic] }).catch(() => {});
    await admin.deleteGroups([s.group]).catch(() => {});
  } finally {
    await admin.disconnect().catch(() => {});
  }
  const redis = new Redis(testbed('REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = await redis.keys(`${s.prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } catch {
    // Redis may be the component a test stopped; its keys are per-scenario and harmless.
  } finally {
    redis.disconnect();
  }
}

// ---- the sinker ------------------------------------------------------------------------------

export interface SinkerOverrides {
  kafka?: Record<string, unknown>;
  doris?: Record<string, unknown>;
  batch?: Record<string, unknown>;
  schema?: Record<string, unknown>;
  dedupe?: Record<string, unknown>;
  shutdown_timeout?: number;
}

/** A sinker config for the scenario: small batches and short timeouts so faults show quickly. */
export async function sinkerConfig(s: Scenario, over: SinkerOverrides = {}): Promise<Record<string, unknown>> {
  const [feHost] = testbed('DORIS_FE_HTTP').split(',');
  const queryPort = Number(testbed('DORIS_QUERY').split(':').pop());
  return {
    name: s.name,
    shutdown_timeout: over.shutdown_timeout ?? 20,
    kafka: {
      brokers: testbed('KAFKA_BOOTSTRAP').split(','),
      topic: s.topic,
      group_id: s.group,
      client_id: s.name,
      from_earliest: true,
      session_timeout: 10,
      heartbeat_interval: 1,
      ...over.kafka,
    },
    doris: {
      fe_hosts: [feHost],
      query_port: queryPort,
      database: 'test_db',
      table: s.table,
      user: testbed('DORIS_USER'),
      password: testbedEnv().DORIS_PASSWORD ?? '',
      timeout: 5,
      max_retries: 3,
      retry_backoff_ms: 100,
      load_route: 'backend',
      format: 'json',
      ...over.doris,
    },
    batch: {
      max_batch_rows: 500,
      max_batch_interval: 0.3,
      flush_worker_count: 4,
      ...over.batch,
    },
    schema: { mode: 'auto', ...over.schema },
    dedupe: { redis_url: testbed('REDIS_URL'), key_prefix: s.prefix, ...over.dedupe },
    dlq: { file_path: s.dlqFile },
    log: { level: 'info', output: 'stdout' },
    // port 0: the sinker binds a free port and SinkerProcess reads it (no race for a port picked here)
    metrics: { enabled: true, port: 0 },
  };
}

/** Starts a sinker child process for the scenario and waits for /readyz. */
export async function startSinker(s: Scenario, tag: string, over: SinkerOverrides = {}): Promise<SinkerProcess> {
  const p = new SinkerProcess({ dir: s.dir, tag, config: await sinkerConfig(s, over) });
  await p.waitReady(60_000);
  return p;
}

// ---- producing and asserting -----------------------------------------------------------------

export async function produce(s: Scenario, count: number, seed: number, firstId = 1n): Promise<ProduceResult> {
  return produceEvents({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    topic: s.topic,
    count,
    seed,
    mix: 'dirty',
    keep: true,
    partitions: s.partitions,
    firstId,
  });
}

/**
 * Produces the dirty mix in chunks until stopped; `stop` resolves with the ids that must become
 * rows, and `invalid` holds the values that must reach the DLQ.
 */
export function backgroundProducer(
  s: Scenario,
  chunk: number,
  everyMs: number,
  firstSeed = 1,
): { stop: () => Promise<bigint[]>; invalid: string[] } {
  let stopped = false;
  const ids: bigint[] = [];
  const invalid: string[] = [];
  const done = (async () => {
    let next = 1n;
    for (let seed = firstSeed; !stopped; seed++) {
      const r = await produce(s, chunk, seed, next);
      ids.push(...validIds(r.events));
      for (const e of r.events) if (e.kind === 'invalid_json') invalid.push(e.value);
      next += BigInt(chunk);
      await sleep(everyMs);
    }
  })();
  return {
    invalid,
    stop: async () => {
      stopped = true;
      await done;
      return ids;
    },
  };
}

/**
 * A zombie owner (DESIGN §3): sinkers A and B share the topic; with loads held `holdMs` in the
 * emulator, A freezes (SIGSTOP) past its session, B takes every partition and settles A's open
 * intents, more messages arrive, then A wakes up. Doris must hold every message exactly once, and
 * both stop cleanly. `procs` and `faults` collect what the caller's `after` cleans up.
 */
export async function frozenOwnerScenario(
  z: Scenario,
  over: SinkerOverrides,
  opts: { seed: number; holdMs: number; procs: SinkerProcess[]; faults: number[] },
): Promise<{ a: SinkerProcess; b: SinkerProcess }> {
  const a = await startSinker(z, 'a', over);
  opts.procs.push(a);
  const b = await startSinker(z, 'b', over);
  opts.procs.push(b);
  opts.faults.push(
    await armFault({ type: 'slow_reply', delayMs: opts.holdMs, commit: 'after', count: 20, label: `^${z.name}:` }),
  );
  const first = await produce(z, 3000, opts.seed);
  await sleep(1000);
  a.freeze();
  // Past A's session: the group drops A and B takes every partition, settling A's open intents.
  await sleep(9000);
  const second = await produce(z, 2000, opts.seed + 1, 3001n);
  await sleep(3000);
  a.resume();
  const ids = [...validIds(first.events), ...validIds(second.events)];
  await drainAndAssert(z, ids, 'after a zombie owner woke up', 90_000);
  assert.ok(a.running && b.running, `${a.tail()}\n---\n${b.tail()}`);
  const exits = await Promise.all([a.term(), b.term()]);
  assert.deepEqual(
    exits.map((e) => e.code),
    [0, 0],
    `${a.tail()}\n---\n${b.tail()}`,
  );
  await assertExactlyOnce(z, ids, 'after both stopped');
  return { a, b };
}

/** Produces raw message values round-robin over the scenario's partitions. */
export async function produceValues(s: Scenario, values: readonly string[]): Promise<void> {
  await produceTo(kafka(), s.topic, values, s.partitions);
}

/** Ids of the events that must become rows (everything but invalid JSON). */
export function validIds(events: readonly GeneratedEvent[]): bigint[] {
  return events.filter((e) => e.kind !== 'invalid_json').map((e) => e.id);
}

export interface OnceReport {
  rows: number;
  missing: string[];
  duplicated: string[];
  unexpected: string[];
}

/** Compares the table's ids with the expected ones: every id exactly once, nothing else. */
export async function exactlyOnceReport(s: Scenario, expected: readonly bigint[]): Promise<OnceReport> {
  const [rows] = await storage().query(`SELECT CAST(id AS CHAR) AS id, COUNT(*) AS n FROM \`${s.table}\` GROUP BY id`);
  const counts = new Map((rows as { id: string; n: string | number }[]).map((r) => [r.id, Number(r.n)]));
  const want = new Set(expected.map(String));
  const missing = [...want].filter((id) => !counts.has(id));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
  const unexpected = [...counts.keys()].filter((id) => !want.has(id));
  let total = 0;
  for (const n of counts.values()) total += n;
  return { rows: total, missing, duplicated, unexpected };
}

export async function assertExactlyOnce(s: Scenario, expected: readonly bigint[], context = ''): Promise<void> {
  const r = await exactlyOnceReport(s, expected);
  const ok =
    r.missing.length === 0 && r.duplicated.length === 0 && r.unexpected.length === 0 && r.rows === expected.length;
  const show = (xs: string[]) => `${xs.length}${xs.length ? ` (e.g. ${xs.slice(0, 10).join(', ')})` : ''}`;
  assert.ok(
    ok,
    `${context}: expected ${expected.length} rows once each; table has ${r.rows}: missing ${show(r.missing)}, duplicated ${show(r.duplicated)}, unexpected ${show(r.unexpected)}${ok ? '' : await whereRowsCameFrom(s)}`,
  );
}

/**
 * What a failed exactly-once check needs to tell a duplicate's source apart: how many messages each
 * partition holds (a producer retry writes them twice) and every Doris load into the table with its
 * rows (a load carrying rows twice, or two loads of one range).
 */
async function whereRowsCameFrom(s: Scenario): Promise<string> {
  const parts: string[] = [];
  const admin = kafka().admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(s.topic);
    parts.push(
      `topic end offsets ${[...offsets]
        .sort((a, b) => a.partition - b.partition)
        .map((o) => `${o.partition}:${o.low}-${o.high}`)
        .join(' ')}`,
    );
  } catch (err) {
    parts.push(`topic offsets unavailable: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  try {
    const { txns } = (await control('/txns?db=test_db')) as {
      txns: { id: number; table: string; label: string; state: string; rows?: number; reason: string }[];
    };
    const mine = txns.filter((t) => t.table.toLowerCase() === s.table.toLowerCase());
    parts.push(
      `loads ${mine.map((t) => `${t.label.replace(/^.*?:[^:]*:/, '')}=${t.state}/${t.rows ?? '?'}${t.state === 'ABORTED' ? `(${t.reason.slice(0, 40)})` : ''}`).join(' ')}`,
    );
  } catch (err) {
    parts.push(`emulator txns unavailable: ${(err as Error).message}`);
  }
  return `\n  ${parts.join('\n  ')}`;
}

/** Waits for the expected ids to settle in the table, then asserts exactly once. */
export async function drainAndAssert(
  s: Scenario,
  expected: readonly bigint[],
  context: string,
  timeoutMs = 60_000,
): Promise<void> {
  await waitForRows(s, expected.length, timeoutMs);
  // A short quiet period catches duplicates that arrive after the count is reached.
  await waitQuiet(s, 1500, 15_000);
  await assertExactlyOnce(s, expected, context);
}

export interface DlqLine {
  sink: string;
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  time: string;
  value: string | null;
  value_encoding?: string;
  [k: string]: unknown;
}

export function readDlq(s: Scenario): DlqLine[] {
  let text = '';
  try {
    text = readFileSync(s.dlqFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as DlqLine);
}

/** A seeded pseudo-random generator in [0, 1): a failing run's kill points can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function stopAll(ps: readonly SinkerProcess[]): Promise<unknown> {
  return Promise.all(ps.map((p) => p.kill()));
}

const INFRA = fileURLToPath(new URL('../../infra/', import.meta.url));

/** Stops or starts one part of the test bed (fault injection), as `test/infra/down|up PART` would. */
export function testbedPart(cmd: 'up' | 'down', component: string): void {
  execFileSync(`${INFRA}${cmd}`, [component], { stdio: 'pipe', timeout: 180_000 });
}
