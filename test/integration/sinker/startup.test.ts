// What a sinker does at start when its table or its topic is not there yet. A table DESCRIBE cannot
// read stops start-up with a message naming it (exit 2, schema.auto.validate_on_start); with the check
// off, or for a missing topic (the sinker never creates topics), it waits, not ready, with a log line
// naming what it waits for, and starts loading once it exists. Kafka that does not answer at start
// is waited for the same way, and a SIGTERM meanwhile ends the process at once (exit 143).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freePort, SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  produce,
  type Scenario,
  scenario,
  sinkerConfig,
  sleep,
  validIds,
  waitForRows,
} from './helpers.ts';
import { SilentProxy } from './silent-proxy.ts';

const strict = scenario('startup-strict', 1);
const patient = scenario('startup-patient', 2);
const noTopic = scenario('startup-topic', 2);
const noKafka = scenario('startup-kafka', 2);
const noKafkaTerm = scenario('startup-kafka-term', 1);

after(async () => {
  for (const s of [strict, patient, noTopic, noKafka, noKafkaTerm]) await cleanup(s);
  await closeStorage();
});

/**
 * Starts a sinker that must wait: it logs `waitLine`, and 3 s later it still runs and is not ready;
 * then `provide` creates what it waited for, and it becomes ready and loads.
 */
async function waitsThenLoads(
  s: Scenario,
  over: Parameters<typeof sinkerConfig>[1],
  waitLine: RegExp,
  provide: () => Promise<void>,
): Promise<Record<string, unknown>> {
  const p = new SinkerProcess({ dir: s.dir, tag: 'waiting', config: await sinkerConfig(s, over) });
  try {
    // The wait line first (a start on a loaded machine takes seconds), then 3 s more of waiting.
    const line = await p.waitForLog(waitLine);
    await sleep(3000);
    assert.ok(p.running, `exited while waiting:\n${p.tail()}`);
    assert.equal(await p.isReady(), false, 'ready before it could load');

    await provide();
    await p.waitReady(60_000);
    // Over IPv6 too, as probes and Prometheus reach a pod on an IPv6-only cluster (it listened on 0.0.0.0).
    const v6 = await fetch(`http://[::1]:${p.metricsPort}/readyz`, { signal: AbortSignal.timeout(5000) });
    assert.equal(v6.status, 200);
    const ids = validIds((await produce(s, 50, 7)).events);
    assert.equal(await waitForRows(s, ids.length, 30_000), ids.length);
    return line;
  } finally {
    await p.kill();
  }
}

test('validate_on_start (the default): a missing table stops start-up with exit 2 and says why', async () => {
  await createTopic(strict);
  const p = new SinkerProcess({ dir: strict.dir, tag: 'strict', config: await sinkerConfig(strict) });
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
  const exit = await p.exited;
  clearTimeout(timer);
  assert.deepEqual(exit, { code: 2, signal: null }, p.tail());
  assert.match(
    p.output,
    new RegExp(`doris-sinker: DESCRIBE test_db\\.${strict.table} on [^ ]+ failed: .*Unknown table`),
  );
  assert.match(p.output, /schema\.auto\.validate_on_start is true/);
});

test('validate_on_start false: the sinker waits for the table, not ready, then loads', async () => {
  await createTopic(patient);
  await waitsThenLoads(
    patient,
    { schema: { auto: { validate_on_start: false } } },
    /^reading the table schema failed/,
    () => createTable(patient),
  );
});

test('a missing topic: the sinker waits, not ready, says which topic, and consumes once it exists', async () => {
  await createTable(noTopic);
  const line = await waitsThenLoads(noTopic, {}, /^kafka\.topic does not exist/, () => createTopic(noTopic));
  assert.equal(line.topic, noTopic.topic);
});

/** Polls until `n` log lines match `msg` (the process must keep running meanwhile). */
async function logsAtLeast(p: SinkerProcess, msg: RegExp, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (p.logLines.filter((l) => msg.test(String(l.msg))).length < n) {
    assert.ok(p.running, `exited while waiting:\n${p.tail()}`);
    assert.ok(Date.now() < deadline, `fewer than ${n} ${msg} lines within ${timeoutMs} ms:\n${p.tail()}`);
    await sleep(200);
  }
}

test('Kafka unreachable at start: the sinker waits, not ready, one line a try naming the brokers, then loads once', async () => {
  await createTable(noKafka);
  await createTopic(noKafka);
  const ids = validIds((await produce(noKafka, 60, 11)).events);
  // A real address nothing listens on yet; the proxy to the test bed's broker takes it later.
  const port = await freePort();
  const broker = `127.0.0.1:${port}`;
  const p = new SinkerProcess({
    dir: noKafka.dir,
    tag: 'no-kafka',
    config: await sinkerConfig(noKafka, { kafka: { brokers: [broker] } }),
  });
  const [host, upstreamPort] = testbed('KAFKA_BOOTSTRAP').split(',')[0]!.split(':');
  const proxy = new SilentProxy(host!, Number(upstreamPort));
  try {
    // Before: kafkajs retried for about two minutes, logging each try, then exit 1 with a stack trace.
    const line = await p.waitForLog(/^Kafka unreachable at start$/, 30_000);
    assert.deepEqual(line.brokers, [broker]);
    assert.match(String(line.err), new RegExp(`ECONNREFUSED ${broker}`));
    assert.equal(typeof line.retryInMs, 'number');
    await logsAtLeast(p, /^Kafka unreachable at start$/, 2, 30_000);
    assert.equal(await p.isReady(), false, 'ready without Kafka');
    assert.deepEqual(
      p.logLines.filter((l) => l.component === 'kafkajs').map((l) => l.msg),
      [],
      "kafkajs's own retry lines while waiting",
    );
    assert.doesNotMatch(p.output, /^\s+at /m, 'a stack trace in the output');

    await proxy.start(port);
    await p.waitReady(60_000);
    assert.equal(await waitForRows(noKafka, ids.length, 30_000), ids.length);
    await assertExactlyOnce(noKafka, ids, 'Kafka answering after the start');
    assert.deepEqual(await p.term(), { code: 0, signal: null }, p.tail());
  } finally {
    await p.kill();
    await proxy.close();
  }
});

test('SIGTERM while waiting for Kafka at start ends the process at once, exit 143 (handled: PID 1 in the image)', async () => {
  await createTable(noKafkaTerm);
  const p = new SinkerProcess({
    dir: noKafkaTerm.dir,
    tag: 'no-kafka-term',
    config: await sinkerConfig(noKafkaTerm, { kafka: { brokers: [`127.0.0.1:${await freePort()}`] } }),
  });
  try {
    await p.waitForLog(/^Kafka unreachable at start$/, 30_000);
    // term() SIGKILLs after 20 s, which would show as signal SIGKILL. 143 = 128 + SIGTERM, from the
    // sinker's own handler (test/unit/pid1-signals.test.ts: as PID 1 the default action never comes).
    assert.deepEqual(await p.term(20_000), { code: 143, signal: null }, p.tail());
    assert.ok(
      p.logLines.some((l) => l.msg === 'stopped while starting (nothing consumed yet)' && l.signal === 'SIGTERM'),
    );
  } finally {
    await p.kill();
  }
});
