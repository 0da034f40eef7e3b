// `doris-sinker replay` holds a bounded window of the DLQ in memory: it reads records up to
// `windowBytes` of rows (batch.max_buffer_bytes / 8 by default), loads them, then reads on. It read the
// whole DLQ first: 400,000 dead letters (a 209 MB file) took 795 MB of RSS in a dry run, growing with
// the DLQ, and --limit could not help (a later --limit N reads the same first N again). Across
// windows each record still loads once, also when the run is killed between a load and its
// bookkeeping. Real Redis and the emulator, rows counted in its MariaDB.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../sinker/config/load.ts';
import { replayKeys } from '../../../sinker/dedupe/keys.ts';
import type { DlqRecord } from '../../../sinker/dlq/record.ts';
import { type ReplayHooks, replayDlq } from '../../../sinker/replay.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanupWithoutKafka,
  createTable,
  type Scenario,
  scenario,
  sinkerConfig,
} from '../sinker/helpers.ts';

const scenarios: Scenario[] = [];
const redis = new Redis(testbed('REDIS_URL'), { maxRetriesPerRequest: 1 });

after(async () => {
  await cleanupWithoutKafka(scenarios, redis);
  redis.disconnect();
});

const N = 30;
const ids = Array.from({ length: N }, (_, i) => BigInt(6000 + i));

/** N dead letters over two partitions, counting how many were taken from it. */
function source(s: Scenario, pulled: { n: number }): AsyncIterable<DlqRecord> {
  return (async function* () {
    for (let i = 0; i < N; i++) {
      pulled.n++;
      yield {
        sink: s.name,
        topic: s.topic,
        partition: i % 2,
        offset: String(100 + i),
        reason: 'invalid_json: repaired by hand',
        time: new Date().toISOString(),
        value: Buffer.from(
          JSON.stringify({ id: 6000 + i, integration_id: 1, arrive_time: 1, event_time: 1, title: `w-${i}` }),
        ),
        key: null,
      };
    }
  })();
}

async function replay(s: Scenario, hooks: ReplayHooks, pulled: { n: number }) {
  const config = parseConfig(JSON.stringify(await sinkerConfig(s, { batch: { max_batch_rows: 4 } })), { env: {} });
  let output = '';
  const out = new Writable({
    write(chunk, _enc, cb) {
      output += String(chunk);
      cb();
    },
  });
  try {
    // About 6 rows of ~90 bytes to a window.
    const code = await replayDlq(
      config,
      { source: source(s, pulled), sourceName: 'test source', hooks, windowBytes: 500 },
      out,
    );
    return { code, output, error: undefined as Error | undefined };
  } catch (error) {
    return { code: undefined, output, error: error as Error };
  }
}

test('records load window by window, each once; a run killed in a later window is settled by the next', async () => {
  const s = scenario('replay-window', 2);
  scenarios.push(s);
  await createTable(s);

  // The first load starts before the source is read to its end.
  const pulled = { n: 0 };
  const atIntent: number[] = [];
  let loads = 0;
  const crashed = await replay(
    s,
    {
      afterIntent: () => {
        atIntent.push(pulled.n);
      },
      afterLoad: () => {
        // Killed between the third load and its bookkeeping.
        if (++loads === 3) throw new Error('simulated crash');
      },
    },
    pulled,
  );
  assert.match(String(crashed.error), /simulated crash/, crashed.output);
  assert.ok(atIntent[0]! < N, `the first load began after ${atIntent[0]} of ${N} records were read`);

  const again = await replay(s, {}, { n: 0 });
  assert.equal(again.error, undefined, again.error?.stack);
  assert.equal(again.code, 0, again.output);
  assert.match(again.output, /left by an interrupted replay/, again.output);
  await assertExactlyOnce(s, ids, 'after a crashed windowed replay and a second one');
  assert.equal(await redis.hlen(replayKeys(s.prefix, s.name, s.topic).intents), 0);

  const third = await replay(s, {}, { n: 0 });
  assert.equal(third.code, 0, third.output);
  assert.match(third.output, new RegExp(`${N} read, 0 loaded in 0 batches, ${N} already replayed`), third.output);
  await assertExactlyOnce(s, ids, 'after a third replay');
});
