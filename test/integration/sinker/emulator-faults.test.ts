// Every Doris fault the emulator injects, while the real sinker runs: each fault is armed for this
// sink's labels only, a slice of messages is produced, and afterwards Doris holds every message
// produced so far exactly once. The ambiguous ones (committed, then 5xx / slow past the timeout /
// dropped connection / publish timeout) are where a retry without the label would duplicate rows.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
import { testbed, testbedEnv } from '../../support/testbed.ts';
import {
  armFault,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  drainAndAssert,
  type FaultSpec,
  faultsFired,
  produce,
  type Scenario,
  type SinkerOverrides,
  scenario,
  sleep,
  startSinker,
  validIds,
} from './helpers.ts';

/** Produces a slice while `spec` is armed for this sink, then checks it fired and all is once. */
async function underFault(
  s: Scenario,
  ids: bigint[],
  state: { next: bigint; seed: number },
  spec: Omit<FaultSpec, 'label'>,
  count = 400,
): Promise<void> {
  const id = await armFault({ count: 1, ...spec, label: `^${s.name}:` });
  const r = await produce(s, count, state.seed++, state.next);
  state.next += BigInt(count);
  ids.push(...validIds(r.events));
  // The fault is consumed (removed) once it fired `count` times.
  const deadline = Date.now() + 30_000;
  while ((await faultsFired()).has(id) && Date.now() < deadline) await sleep(200);
  assert.ok(!(await faultsFired()).has(id), `fault ${JSON.stringify(spec)} never fired`);
  await drainAndAssert(s, ids, `after fault ${JSON.stringify(spec)}`, 60_000);
}

function faultSuite(route: 'backend' | 'frontend' | 'auto', faults: Omit<FaultSpec, 'label'>[]): void {
  describe(`emulator faults, load_route ${route}`, () => {
    const s = scenario(`faults-${route}`);
    const ids: bigint[] = [];
    const state = { next: 1n, seed: 100 };
    let sinker: SinkerProcess | undefined;
    const over: SinkerOverrides = {
      // A 2 s Stream Load timeout makes the slow replies below ambiguous timeouts.
      doris: { load_route: route, timeout: 2, max_retries: 2, retry_backoff_ms: 100 },
      batch: { max_batch_interval: 0.2, max_batch_rows: 200, flush_worker_count: 2 },
    };

    before(async () => {
      await createTopic(s);
      await createTable(s);
      sinker = await startSinker(s, 'sinker', over);
    });

    after(async () => {
      await sinker?.kill();
      await cleanup(s);
    });

    for (const spec of faults) {
      test(`${spec.type} ${JSON.stringify({ ...spec, type: undefined })}: every message exactly once`, async () => {
        await underFault(s, ids, state, spec);
        assert.ok(sinker!.running, `the sinker exited:\n${sinker!.tail()}`);
      });
    }

    test('the retries show in doris_stream_load_retries_total, the memory gauges are exported', async () => {
      const text = await sinker!.scrape();
      // every fault above makes at least one load send its label again
      assert.ok(metricValue(text, 'doris_stream_load_retries_total', { sink: s.name }) > 0, text);
      for (const name of ['kafka_fetch_paused', 'batch_current_bytes', 'batch_buffer_bytes']) {
        assert.match(text, new RegExp(`^${name}\\{[^}]*sink="${s.name}"[^}]*\\} \\d`, 'm'), `${name} missing`);
      }
    });

    test('graceful stop after the faults', async () => {
      const exit = await sinker!.term();
      assert.deepEqual(exit, { code: 0, signal: null }, sinker!.tail());
      await drainAndAssert(s, ids, 'after SIGTERM', 10_000);
    });

    test('the Doris password is in nothing the sinker wrote, nor in a dead letter', () => {
      // Every route carries it (Basic to the FE and the BEs, the FE's 307 Location as userinfo,
      // DESCRIBE), and the faults above took the paths that quote URLs, replies and errors.
      const password = testbedEnv().DORIS_PASSWORD ?? '';
      assert.ok(password.length >= 8, 'the test bed gives the emulator a password');
      const basic = Buffer.from(`${testbed('DORIS_USER')}:${password}`).toString('base64');
      assert.match(sinker!.output, /stream load retry/, 'the faults were logged');
      const dead = existsSync(s.dlqFile) ? readFileSync(s.dlqFile, 'utf8') : '';
      for (const [what, text] of [
        ['the output', sinker!.output],
        ['the dead letters', dead],
      ] as const) {
        assert.ok(!text.includes(password), `${what} holds the password`);
        assert.ok(!text.includes(basic), `${what} holds the Basic credentials`);
      }
    });
  });
}

faultSuite('backend', [
  { type: 'http_error', status: 503, body: 'html', commit: false },
  { type: 'http_error', status: 502, body: 'empty', commit: true },
  { type: 'slow_reply', delayMs: 4000, commit: 'before' },
  { type: 'slow_reply', delayMs: 4000, commit: 'after' },
  { type: 'slow_reply', delayMs: 4000, commit: 'never' },
  { type: 'commit_then_drop', how: 'close' },
  { type: 'commit_then_drop', how: 'rst' },
  { type: 'publish_timeout', delayMs: 1500 },
  { type: 'too_many_versions', count: 3 },
  { type: 'load_timeout' },
]);

faultSuite('frontend', [
  { type: 'dead_be', mode: 'refused' },
  { type: 'dead_be', mode: 'hang' },
  { type: 'commit_then_drop', how: 'close' },
  { type: 'http_error', status: 504, body: 'text', commit: true },
]);

faultSuite('auto', [
  { type: 'http_error', status: 503, body: 'html', commit: true },
  { type: 'commit_then_drop', how: 'rst' },
]);

after(async () => {
  await closeStorage();
});
