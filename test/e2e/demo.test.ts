// `npm run demo -- --no-follow --events 20000` works end to end, as README promises: it exits 0 after
// its summary, every valid event of the sample is a row of demo.tb_event exactly once, every invalid
// one is in the DLQ, and it printed the commands to look around. Runs the real command (test bed up,
// images built if changed and loaded, chart installed, sample DorisSink applied). With the stack up
// and the images built it takes about a minute. The demo leaves its sample running (as a user's run
// does); `npm run demo -- --down` removes it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import type { DorisSink } from '../../operator/api/types.ts';
import { DEMO } from '../../scripts/demo/names.ts';
import { takeEvents } from '../support/events.ts';
import { testbed, testbedEnv } from '../support/testbed.ts';
import { mustKubectl, ROOT, readTopic } from './stack.ts';

const EVENTS = 20_000;

function runDemo(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--disable-warning=TimeoutNegativeWarning', join(ROOT, 'scripts', 'demo.ts'), ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(
        new Error(`npm run demo ${args.join(' ')} still running after ${timeoutMs / 1000} s:\n${out.slice(-4000)}`),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test(`npm run demo -- --no-follow --events ${EVENTS}: exit 0, every valid event a row once, the invalid ones in the DLQ`, async () => {
  const started = Date.now();
  // Generous: a change to sinker/ or operator/ since the last run rebuilds an image (2-5 min here).
  const { code, out } = await runDemo(['--no-follow', '--no-color', '--events', String(EVENTS)], 15 * 60_000);
  const secs = Math.round((Date.now() - started) / 1000);
  console.log(`# demo finished in ${secs} s; ${out.match(/^Stack ready in .*$/m)?.[0] ?? 'no "Stack ready" line'}`);
  assert.equal(code, 0, `the demo exited ${code}:\n${out.slice(-6000)}`);

  const events = takeEvents({ seed: DEMO.seed, mix: 'dirty' }, EVENTS);
  const valid = events.filter((e) => e.kind !== 'invalid_json');
  const invalid = events.length - valid.length;
  assert.ok(invalid > 0, 'the sample holds invalid events');

  // What the demo said…
  assert.match(
    out,
    new RegExp(
      `✔ ${valid.length.toLocaleString('en-US')} rows loaded and ${invalid} invalid events dead-lettered \\(\\d+ DLQ messages\\), of ${EVENTS.toLocaleString('en-US')} produced`,
    ),
  );
  assert.ok(!out.includes('\x1b['), '--no-color: no ANSI escapes');
  assert.match(out, /get dorissinks/);
  assert.ok(
    out.includes(`KUBECONFIG=${testbed('KUBECONFIG')} ${testbed('KUBECTL')}`),
    'kubectl with the test bed kubeconfig',
  );
  assert.match(out, /curl -s http:\/\/127\.0\.0\.1:\d+\/metrics .*# sinker/, 'the sinker metrics URL');
  assert.match(out, /npm run demo -- --down/);

  // …is what the table and the DLQ hold: each valid id exactly once.
  const db = await mysql.createConnection({
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    database: `${testbedEnv().DORIS_EMULATOR_DB_PREFIX ?? ''}${DEMO.database}`,
  });
  try {
    const [rows] = await db.query(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids, MIN(id) AS lo, MAX(id) AS hi FROM \`${DEMO.table}\``,
    );
    const r = (rows as { n: number | string; ids: number | string; lo: number | string; hi: number | string }[])[0];
    assert.equal(Number(r?.n), valid.length, 'rows in demo.tb_event');
    assert.equal(Number(r?.ids), valid.length, 'no id twice');
    const [missing] = await db.query(
      `SELECT COUNT(*) AS n FROM \`${DEMO.table}\` WHERE id IN (${events
        .filter((e) => e.kind === 'invalid_json')
        .map((e) => String(e.id))
        .join(',')})`,
    );
    assert.equal(Number((missing as { n: number | string }[])[0]?.n), 0, 'no invalid event became a row');
  } finally {
    await db.end();
  }
  // The run's topics are in the sink it left running.
  const sink = JSON.parse(
    await mustKubectl(['-n', DEMO.namespace, 'get', 'dorissinks.dorissinker.io', DEMO.sink, '-o', 'json']),
  ) as DorisSink;
  const dlqTopic = sink.spec.dlq?.kafkaTopic;
  assert.ok(dlqTopic?.startsWith(`${sink.spec.kafka.topic}`), `the sink's DLQ topic: ${dlqTopic}`);
  assert.ok(out.includes(`into ${sink.spec.kafka.topic}`), 'the demo produced into the sink topic');
  // The DLQ is written at least once (a redelivery after a rebalance may repeat a message): every
  // invalid event is in it, and nothing else.
  const dlq = await readTopic(dlqTopic as string);
  const expectedDlq = new Set(events.filter((e) => e.kind === 'invalid_json').map((e) => e.value));
  assert.deepEqual(new Set(dlq.map((m) => m.value)), expectedDlq, `the distinct messages of ${dlqTopic}`);
  console.log(`# ${dlq.length} DLQ messages for ${invalid} invalid events`);
});
