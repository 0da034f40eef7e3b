// `doris-sinker replay` loads each dead-lettered record (topic, partition, offset) once across any
// number of runs: a DLQ that grows between replays, `--limit` then a full replay, a replay that
// crashes between a load and its bookkeeping in Redis (both before and after the load), rows Doris
// refuses (not marked, loaded after a fix), and Redis unreachable (nothing loads; --dry-run still
// works). Real Redis and the emulator; rows are counted in its MariaDB.
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../sinker/config/load.ts';
import { replayKeys } from '../../../sinker/dedupe/keys.ts';
import { DlqReadError, readDlqFile } from '../../../sinker/dlq/reader.ts';
import type { DlqRecord } from '../../../sinker/dlq/record.ts';
import { type ReplayHooks, replayDlq } from '../../../sinker/replay.ts';
import { freePort, runSinkerCommand } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanupWithoutKafka,
  createNarrowNameTable,
  createTable,
  NARROW_NAME_LOOSE_SCHEMA,
  rowCount,
  type Scenario,
  type SinkerOverrides,
  scenario,
  sinkerConfig,
  storage,
} from './helpers.ts';

const scenarios: Scenario[] = [];
const redis = new Redis(testbed('REDIS_URL'), { maxRetriesPerRequest: 1 });

after(async () => {
  await cleanupWithoutKafka(scenarios, redis);
  redis.disconnect();
});

async function tbEventScenario(tag: string): Promise<Scenario> {
  const s = scenario(tag);
  scenarios.push(s);
  await createTable(s);
  return s;
}

/** One DLQ file line for a record of the scenario's topic, its value a tb_event row with `id`. */
function dlqLine(s: Scenario, partition: number, offset: number, value: Record<string, unknown>): string {
  return `${JSON.stringify({
    sink: s.name,
    topic: s.topic,
    partition,
    offset: String(offset),
    reason: 'invalid_json: repaired by hand',
    time: new Date().toISOString(),
    value: JSON.stringify(value),
    value_encoding: 'utf8',
  })}\n`;
}

const event = (id: number) => ({ id, integration_id: 1, arrive_time: 1, event_time: 1, title: `replayed-${id}` });

async function replayCli(s: Scenario, tag: string, args: string[] = [], over: SinkerOverrides = {}) {
  const config = await sinkerConfig(s, over);
  return runSinkerCommand({ dir: s.dir, tag, config, command: ['replay'], extraArgs: args });
}

/** Runs the replay in this process with `hooks` (a throw in one is a crash at that point). */
async function replayInProcess(
  s: Scenario,
  hooks: ReplayHooks,
  over: SinkerOverrides = {},
  source: AsyncIterable<DlqRecord> = readDlqFile(s.dlqFile),
) {
  const config = parseConfig(JSON.stringify(await sinkerConfig(s, over)), { env: {} });
  let output = '';
  const out = new Writable({
    write(chunk, _enc, cb) {
      output += String(chunk);
      cb();
    },
  });
  try {
    const code = await replayDlq(config, { source, sourceName: `file ${s.dlqFile}`, hooks }, out);
    return { code, output, error: undefined as Error | undefined };
  } catch (error) {
    return { code: undefined, output, error: error as Error };
  }
}

async function openIntents(s: Scenario): Promise<number> {
  return redis.hlen(replayKeys(s.prefix, s.name, s.topic).intents);
}

async function replayedOffsets(s: Scenario, partition: number): Promise<number[]> {
  const members = await redis.smembers(replayKeys(s.prefix, s.name, s.topic).replayed(partition));
  return members.map(Number).sort((a, b) => a - b);
}

const crash = () => {
  throw new Error('simulated crash');
};

test('a DLQ that grows between replays: each record loads once, the third replay loads nothing', async () => {
  const s = await tbEventScenario('replay-grow');
  writeFileSync(s.dlqFile, dlqLine(s, 0, 5, event(1005)) + dlqLine(s, 0, 9, event(1009)));
  const r1 = await replayCli(s, 'replay1');
  assert.equal(r1.exit.code, 0, r1.output);
  assert.match(r1.output, /2 read, 2 loaded in 1 batches, 0 already replayed, 0 still invalid, 0 refused/, r1.output);
  await assertExactlyOnce(s, [1005n, 1009n], 'after the first replay');

  // More dead letters in the same partition, one of them a second copy of offset 9. Before the fix
  // the second replay's chunk started at offset 5 again, its label collided with the first's, and
  // 20 and 30 were skipped with it.
  appendFileSync(
    s.dlqFile,
    dlqLine(s, 0, 20, event(1020)) + dlqLine(s, 0, 9, event(1009)) + dlqLine(s, 0, 30, event(1030)),
  );
  const r2 = await replayCli(s, 'replay2');
  assert.equal(r2.exit.code, 0, r2.output);
  assert.match(r2.output, new RegExp(`${s.topic}/0: 2 to load, 2 already replayed`), r2.output);
  assert.match(r2.output, /duplicate record .*\/0@9: counted once/, r2.output);
  assert.match(
    r2.output,
    /5 read, 2 loaded in 1 batches, 2 already replayed, 0 still invalid, 0 refused, 1 repeated in the DLQ, 0 in failed loads/,
    r2.output,
  );
  assert.doesNotMatch(r2.output, /was already in Doris/, r2.output);
  await assertExactlyOnce(s, [1005n, 1009n, 1020n, 1030n], 'after the DLQ grew and was replayed again');

  const r3 = await replayCli(s, 'replay3');
  assert.equal(r3.exit.code, 0, r3.output);
  assert.match(r3.output, /5 read, 0 loaded in 0 batches, 4 already replayed/, r3.output);
  await assertExactlyOnce(s, [1005n, 1009n, 1020n, 1030n], 'after a third replay with nothing new');

  // Each row once, counted in MariaDB directly too.
  const [rows] = await storage().query(
    `SELECT CAST(id AS CHAR) AS id, COUNT(*) AS n FROM \`${s.table}\` GROUP BY id ORDER BY id`,
  );
  assert.deepEqual(
    (rows as { id: string; n: number | string }[]).map((r) => [r.id, Number(r.n)]),
    [
      ['1005', 1],
      ['1009', 1],
      ['1020', 1],
      ['1030', 1],
    ],
  );
  assert.deepEqual(await replayedOffsets(s, 0), [5, 9, 20, 30]);
  assert.equal(await openIntents(s), 0);
  // The pipeline's keys are untouched.
  assert.deepEqual(await redis.keys(`${s.prefix}{${s.name}:${s.topic}}:intents`), []);
  assert.deepEqual(await redis.keys(`${s.prefix}{${s.name}:${s.topic}}:wm`), []);
});

test('--limit 1, then a full replay: the rest loads, nothing twice', async () => {
  const s = await tbEventScenario('replay-limit');
  writeFileSync(s.dlqFile, dlqLine(s, 1, 5, event(2005)) + dlqLine(s, 1, 9, event(2009)));
  const dry = await replayCli(s, 'dry', ['--dry-run']);
  assert.equal(dry.exit.code, 0, dry.output);
  assert.match(dry.output, /dry run: 2 records read, 2 would load, 0 already replayed/, dry.output);

  const r1 = await replayCli(s, 'limit1', ['--limit', '1']);
  assert.equal(r1.exit.code, 0, r1.output);
  assert.match(r1.output, /1 read, 1 loaded in 1 batches, 0 already replayed/, r1.output);
  await assertExactlyOnce(s, [2005n], 'after --limit 1');

  const dry2 = await replayCli(s, 'dry2', ['--dry-run']);
  assert.match(dry2.output, /dry run: 2 records read, 1 would load, 1 already replayed/, dry2.output);

  const r2 = await replayCli(s, 'full');
  assert.equal(r2.exit.code, 0, r2.output);
  assert.match(r2.output, /2 read, 1 loaded in 1 batches, 1 already replayed/, r2.output);
  await assertExactlyOnce(s, [2005n, 2009n], 'after the full replay');
  assert.deepEqual(await replayedOffsets(s, 1), [5, 9]);
});

test('a replay that crashed after its load, before marking: the next replay settles it without loading it twice', async () => {
  const s = await tbEventScenario('replay-crash-after');
  writeFileSync(s.dlqFile, dlqLine(s, 0, 5, event(3005)) + dlqLine(s, 0, 9, event(3009)));
  const crashed = await replayInProcess(s, { afterLoad: crash });
  assert.match(String(crashed.error), /simulated crash/, crashed.output);
  // What the crash left: the rows in Doris, the intent in Redis, nothing marked.
  await assertExactlyOnce(s, [3005n, 3009n], 'right after the crash');
  assert.equal(await openIntents(s), 1);
  assert.deepEqual(await replayedOffsets(s, 0), []);

  appendFileSync(s.dlqFile, dlqLine(s, 0, 20, event(3020)));
  const r = await replayCli(s, 'after-crash');
  assert.equal(r.exit.code, 0, r.output);
  assert.match(r.output, /settling .*_replay-[0-9a-f]+ \(2 records, left by an interrupted replay\)/, r.output);
  assert.match(r.output, /was already in Doris \(an earlier replay loaded it\); marked replayed/, r.output);
  assert.match(r.output, /3 read, 1 loaded in 2 batches, 2 already replayed/, r.output);
  await assertExactlyOnce(s, [3005n, 3009n, 3020n], 'after the replay that settled the crashed one');
  assert.equal(await openIntents(s), 0);
  assert.deepEqual(await replayedOffsets(s, 0), [5, 9, 20]);

  const again = await replayCli(s, 'again');
  assert.match(again.output, /3 read, 0 loaded in 0 batches, 3 already replayed/, again.output);
  await assertExactlyOnce(s, [3005n, 3009n, 3020n], 'after one more replay');
});

test('a replay that crashed after recording its intent, before the load: the next replay loads those records once', async () => {
  const s = await tbEventScenario('replay-crash-before');
  writeFileSync(s.dlqFile, dlqLine(s, 2, 5, event(4005)) + dlqLine(s, 2, 9, event(4009)));
  const crashed = await replayInProcess(s, { afterIntent: crash });
  assert.match(String(crashed.error), /simulated crash/, crashed.output);
  assert.equal(await rowCount(s), 0);
  assert.equal(await openIntents(s), 1);

  const r = await replayCli(s, 'after-crash');
  assert.equal(r.exit.code, 0, r.output);
  assert.match(r.output, /settling .* \(2 records, left by an interrupted replay\)/, r.output);
  assert.match(r.output, /2 read, 2 loaded in 1 batches, 0 already replayed/, r.output);
  await assertExactlyOnce(s, [4005n, 4009n], 'after the replay that settled the crashed one');
  assert.equal(await openIntents(s), 0);
});

test('a crashed replay settled by a --limit run that reads only part of it: by the label state in Doris', async () => {
  // Crash after the load: the label is in Doris, so its records are marked although one was not read.
  const a = await tbEventScenario('replay-crash-part');
  writeFileSync(a.dlqFile, dlqLine(a, 0, 5, event(5005)) + dlqLine(a, 0, 9, event(5009)));
  assert.match(String((await replayInProcess(a, { afterLoad: crash })).error), /simulated crash/);
  const r1 = await replayCli(a, 'limit1', ['--limit', '1']);
  assert.equal(r1.exit.code, 0, r1.output);
  assert.match(r1.output, /settled .* in Doris \(VISIBLE\); its records are marked replayed/, r1.output);
  assert.match(r1.output, /1 read, 0 loaded in 0 batches, 1 already replayed/, r1.output);
  assert.deepEqual(await replayedOffsets(a, 0), [5, 9]);
  const r2 = await replayCli(a, 'full');
  assert.match(r2.output, /2 read, 0 loaded in 0 batches, 2 already replayed/, r2.output);
  await assertExactlyOnce(a, [5005n, 5009n], 'crash after the load, then --limit 1, then all');

  // Crash before the load: the label never reached Doris, so the intent is dropped and the records load as new ones.
  const b = await tbEventScenario('replay-crash-part-b');
  writeFileSync(b.dlqFile, dlqLine(b, 0, 5, event(6005)) + dlqLine(b, 0, 9, event(6009)));
  assert.match(String((await replayInProcess(b, { afterIntent: crash })).error), /simulated crash/);
  const r3 = await replayCli(b, 'limit1', ['--limit', '1']);
  assert.equal(r3.exit.code, 0, r3.output);
  assert.match(r3.output, /never reached Doris \(UNKNOWN\); its records load as new ones/, r3.output);
  assert.match(r3.output, /1 read, 1 loaded in 1 batches, 0 already replayed/, r3.output);
  const r4 = await replayCli(b, 'full');
  assert.match(r4.output, /2 read, 1 loaded in 1 batches, 1 already replayed/, r4.output);
  await assertExactlyOnce(b, [6005n, 6009n], 'crash before the load, then --limit 1, then all');
  assert.equal(await openIntents(b), 0);
});

test('rows Doris refuses are not marked, also across a crash; after a fix they load once', async () => {
  const s = scenario('replay-refused');
  scenarios.push(s);
  await createNarrowNameTable(s);
  const over: SinkerOverrides = { schema: NARROW_NAME_LOOSE_SCHEMA };
  const row = (id: number, name: string) => ({ id, name });
  writeFileSync(
    s.dlqFile,
    dlqLine(s, 0, 5, row(7005, 'ok')) + dlqLine(s, 0, 9, row(7009, 'far-too-long-for-the-column')),
  );
  // The load carries 5 and Doris refuses 9; the replay crashes before marking anything.
  const crashed = await replayInProcess(s, { afterLoad: crash }, over);
  assert.match(String(crashed.error), /simulated crash/, crashed.output);
  await assertExactlyOnce(s, [7005n], 'after the crashed replay');

  const r1 = await replayCli(s, 'unfixed', [], over);
  assert.equal(r1.exit.code, 1, r1.output);
  assert.match(r1.output, /refused by Doris: .*\/0@9/, r1.output);
  assert.match(r1.output, /2 read, 0 loaded in 2 batches, 1 already replayed, 0 still invalid, 1 refused/, r1.output);
  assert.deepEqual(await replayedOffsets(s, 0), [5]);
  await assertExactlyOnce(s, [7005n], 'after a replay of the still-refused row');

  // Fixed in the DLQ file: the same offset with a name that fits.
  writeFileSync(s.dlqFile, dlqLine(s, 0, 5, row(7005, 'ok')) + dlqLine(s, 0, 9, row(7009, 'fits')));
  const r2 = await replayCli(s, 'fixed', [], over);
  assert.equal(r2.exit.code, 0, r2.output);
  assert.match(r2.output, /2 read, 1 loaded in 1 batches, 1 already replayed, 0 still invalid, 0 refused/, r2.output);
  await assertExactlyOnce(s, [7005n, 7009n], 'after the fix');
  assert.deepEqual(await replayedOffsets(s, 0), [5, 9]);
  assert.equal(await openIntents(s), 0);
});

test('Redis unreachable: replay loads nothing and names dedupe.redis_url; --dry-run still reports', async () => {
  const s = await tbEventScenario('replay-noredis');
  writeFileSync(s.dlqFile, dlqLine(s, 0, 5, event(8005)));
  const dead = { dedupe: { redis_url: `redis://127.0.0.1:${await freePort()}` } };
  const r = await replayCli(s, 'noredis', [], dead);
  assert.equal(r.exit.code, 1, r.output);
  assert.match(
    r.output,
    /replay stopped: Redis at dedupe\.redis_url \(redis:\/\/127\.0\.0\.1:\d+\/?\) is unreachable/,
    r.output,
  );
  assert.equal(await rowCount(s), 0);

  const dry = await replayCli(s, 'noredis-dry', ['--dry-run'], dead);
  assert.equal(dry.exit.code, 0, dry.output);
  assert.match(dry.output, /cannot tell which records were replayed before: Redis at dedupe\.redis_url/, dry.output);
  assert.match(dry.output, /dry run: 1 records read, 1 would load \(some may be replayed already\)/, dry.output);
  assert.equal(await rowCount(s), 0);
});

test('a DLQ read that cannot reach the end (a partition delivering nothing): replay loads nothing and says why, exit 1', async () => {
  const s = await tbEventScenario('replay-stalled');
  writeFileSync(s.dlqFile, dlqLine(s, 0, 5, event(8105)));
  async function* stalled(): AsyncGenerator<DlqRecord> {
    yield* readDlqFile(s.dlqFile);
    throw new DlqReadError('DLQ topic dlq: no record from partition 1 (nothing yet, end 3) for 30 s: held elsewhere');
  }
  const r = await replayInProcess(s, {}, {}, stalled());
  assert.equal(r.error, undefined, r.error?.stack);
  assert.equal(r.code, 1, r.output);
  assert.match(
    r.output,
    /^replay stopped: reading file .*: DLQ topic dlq: no record from partition 1 \(nothing yet, end 3\) for 30 s: held elsewhere\. Nothing was loaded/m,
  );
  assert.equal(await rowCount(s), 0);
  assert.equal(await openIntents(s), 0);
});
