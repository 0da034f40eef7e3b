// `npm run demo`: the whole local stack in one command. Brings up the test bed (test/infra/up),
// builds the images if their inputs changed and loads them into the node (test/support/images.ts),
// installs the operator with the chart, applies a sample DorisSink (tb_event, 8 partitions, 1..4
// sinkers scaled on lag), produces the dirty event mix and shows rows, lag, replicas and throughput
// live; then prints how to look around and how to stop. `--help` lists the options.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import mysql from 'mysql2/promise';
import { METRICS_PORT_FILE } from '../operator/desired/names.ts';
import {
  applySink,
  createTopic,
  deleteKafka,
  deleteRedisPrefix,
  deleteSink,
  helm,
  installOperator,
  kubectl,
  listPods,
  mustKubectl,
  ROOT,
  sinkSelector,
  uninstallOperator,
  waitFor,
  waitReadyPods,
  waitSinkReady,
} from '../test/e2e/stack.ts';
import { ensureImages } from '../test/support/images.ts';
import { freePort } from '../test/support/sinker-process.ts';
import { envFilePath, testbed, testbedEnv } from '../test/support/testbed.ts';
import { type DemoArgs, parseArgs, USAGE } from './demo/args.ts';
import { DEMO, DEMO_GROUP, DEMO_REDIS_PREFIX } from './demo/names.ts';
import { type ProduceProgress, produceDemo } from './demo/producer.ts';
import {
  drained,
  fmtDuration,
  line,
  lookAround,
  panel,
  type Rates,
  rate,
  type Sample,
  type Snapshot,
  style,
  summary,
  trim,
} from './demo/render.ts';
import { type Reading, Sampler } from './demo/sampler.ts';
import { Screen } from './demo/screen.ts';

/**
 * This run's topics. Stream Load labels are sink:topic:partition:offset, and Doris (the emulator too)
 * remembers a label for hours: a topic of the same name would have its loads answered "Label Already
 * Exists" and not stored. A fresh topic per run gives fresh labels.
 */
const TOPIC = `${DEMO.topicPrefix}-${Date.now().toString(36)}`;
const DLQ_TOPIC = `${TOPIC}-dlq`;
const RATE_WINDOW_MS = 5000;
/** A reading slower than this is shown as a warning; the panel keeps its refresh rate. */
const READ_TIMEOUT_MS = 5000;
/** On the operator's pod template: its image ID, since the tag (:dev) stays when the image changes. */
const IMAGE_ANNOTATION = 'doris-sinker/image';
/** --no-follow fails when nothing new arrives for this long. */
const STALL_MS = 120_000;

let args: DemoArgs;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const screen = new Screen(process.stdout, args.color);
const st = style(screen.color);
const began = Date.now();
const timings: [string, number][] = [];

/** Runs one step between a "▸ title" line and a "✔ title (duration)" line. */
async function step<T>(title: string, fn: () => Promise<T>): Promise<T> {
  screen.print(`${st.cyan('▸')} ${title}`);
  const t0 = Date.now();
  const r = await fn();
  timings.push([title.split(':')[0] as string, Date.now() - t0]);
  screen.print(`${st.green('✔')} ${title} ${st.dim(`(${fmtDuration(Date.now() - t0)})`)}`);
  return r;
}

/** A sub-step's progress line, cut to the terminal (test/infra/up lists every emulator table). */
const detail = (l: string) => {
  const max = Math.max(40, (screen.live ? screen.width : 160) - 5);
  screen.print(st.dim(`    ${l.length > max ? `${l.slice(0, max - 1)}…` : l}`));
};

/** `bash test/infra/up`: its progress lines go under the step; its tail goes into the error. */
function testbedUp(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(ROOT, 'test/infra/up')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let partial = '';
    const onData = (b: Buffer) => {
      partial += b.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.trim()) continue;
        tail.push(l);
        if (tail.length > 30) tail.shift();
        detail(l.trim());
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new Error(`test/infra/up: ${e.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`test/infra/up failed (exit ${code}):\n${tail.join('\n')}${partial}`)),
    );
  });
}

function storageDb(): string {
  return `${testbedEnv().DORIS_EMULATOR_DB_PREFIX ?? ''}${DEMO.database}`;
}

function mariadb(database?: string): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    ...(database ? { database } : {}),
  });
}

/**
 * The operator's HTTP port: the installed release's while its image is the same (an upgrade then
 * changes nothing), else a free one. The chart declares the port as a containerPort, which on the
 * host network is a host port: a new operator pod on the old port would stay Pending next to the
 * old pod on the one node, and the rolling update would never finish.
 */
async function operatorPort(imageId: string): Promise<number> {
  const r = await helm(['get', 'values', DEMO.release, '-n', DEMO.namespace, '-o', 'json']);
  if (r.status === 0) {
    const v = JSON.parse(r.stdout || '{}') as { httpPort?: number; podAnnotations?: Record<string, string> };
    if (v.httpPort && v.podAnnotations?.[IMAGE_ANNOTATION] === imageId) return v.httpPort;
  }
  return freePort();
}

/**
 * A demo run before the release was renamed left its operator under the old name, watching the same
 * namespace: beside the new one, two operators would reconcile the one sample sink.
 */
async function removePreviousRelease(): Promise<void> {
  const r = await helm(['status', DEMO.previousRelease, '-n', DEMO.namespace]);
  if (r.status !== 0) return;
  detail(`removing the operator release ${DEMO.previousRelease}, the demo's name for it before ${DEMO.release}`);
  await uninstallOperator({ release: DEMO.previousRelease, namespace: DEMO.namespace });
}

/** After `--down` the namespace takes a while to go; installing into it meanwhile fails. */
async function namespaceNotTerminating(): Promise<void> {
  const phase = async () =>
    (await kubectl(['get', 'namespace', DEMO.namespace, '-o', 'jsonpath={.status.phase}'])).stdout.trim();
  if ((await phase()) !== 'Terminating') return;
  detail(`namespace ${DEMO.namespace} is still being deleted (npm run demo -- --down): waiting`);
  await waitFor(`namespace ${DEMO.namespace} deleted`, async () => (await phase()) !== 'Terminating', 240_000, 2000);
}

/** The sample table in the emulator (created once; its DDL is the canonical tb_event), emptied. */
async function resetTable(): Promise<void> {
  const conn = await mariadb();
  try {
    const [rows] = await conn.query(
      'SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
      [storageDb(), DEMO.table],
    );
    if ((rows as unknown[]).length === 0) {
      const shared = process.env.DORIS_SINKER_SHARED ?? join(ROOT, '..', 'shared');
      const file = join(shared, 'bench', 'tb_event.doris.sql');
      if (!existsSync(file)) throw new Error(`${file} not found: set DORIS_SINKER_SHARED to the shared/ directory`);
      const r = await fetch(`http://${testbed('DORIS_CONTROL')}/tables`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ddl: readFileSync(file, 'utf8'), db: DEMO.database }),
      });
      if (!r.ok)
        throw new Error(`emulator: creating ${DEMO.database}.${DEMO.table}: HTTP ${r.status} ${await r.text()}`);
      detail(`created table ${DEMO.database}.${DEMO.table} (${file})`);
    } else {
      await conn.query(`TRUNCATE TABLE \`${storageDb()}\`.\`${DEMO.table}\``);
    }
  } finally {
    await conn.end();
  }
}

/**
 * Removes the sample sink and (unless `wait` is false) waits for its pods to go: none may still
 * read the topic being replaced, or load into the table being emptied, or hold the consumer group.
 */
async function removeSink(wait = true): Promise<void> {
  const exists = await kubectl(['-n', DEMO.namespace, 'get', 'dorissinks.dorissinker.io', DEMO.sink, '-o', 'name']);
  if (exists.status !== 0) return;
  await deleteSink(DEMO.namespace, DEMO.sink);
  if (!wait) return;
  const t0 = Date.now();
  // The sinker's grace period is 60 s; a sinker stops in seconds unless the machine is overloaded.
  await waitFor(
    'the previous run’s sinker pods to stop',
    async () => (await listPods(DEMO.namespace, sinkSelector(DEMO.sink))).length === 0,
    240_000,
    1000,
  );
  detail(`removed the previous run’s DorisSink (its pods stopped in ${fmtDuration(Date.now() - t0)})`);
}

/** Every topic a demo run made (the current run's too). */
async function demoTopics(): Promise<string[]> {
  const admin = new Kafka({ brokers: testbed('KAFKA_BOOTSTRAP').split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => t.startsWith(`${DEMO.topicPrefix}-`));
  } finally {
    await admin.disconnect();
  }
}

/** Topics from scratch: a deleted topic lingers a moment in Kafka, so creation is retried. */
async function resetKafka(): Promise<void> {
  await deleteKafka(await demoTopics(), [DEMO_GROUP]);
  await deleteRedisPrefix(DEMO_REDIS_PREFIX);
  for (const [topic, partitions] of [
    [TOPIC, DEMO.partitions],
    [DLQ_TOPIC, 1],
  ] as const) {
    await waitFor(`topic ${topic} created`, () => createTopic(topic, partitions).then(() => true), 60_000, 1000);
  }
}

async function up(): Promise<{ operatorDeployment: string; operatorPort: number }> {
  await step('test bed: Kafka, Redis, MariaDB, Doris emulator, control plane, node (test/infra/up)', testbedUp);
  const images = await step(
    'images: doris-sinker and doris-sinker-operator, built if changed, loaded into the node',
    () => ensureImages({ load: true, log: detail }),
  );
  const op = await step(
    `operator: helm upgrade --install ${DEMO.release} charts/doris-sinker-operator -n ${DEMO.namespace}`,
    async () => {
      await namespaceNotTerminating();
      await removePreviousRelease();
      const imageId = images.operator.id.slice(0, 12);
      const installed = await installOperator({
        release: DEMO.release,
        namespace: DEMO.namespace,
        watchNamespaces: [DEMO.namespace],
        operatorImage: images.operator.tag,
        sinkerImage: images.sinker.tag,
        httpPort: await operatorPort(imageId),
        // The tag stays :dev when the image changes: the ID in the pod template rolls the operator.
        set: { [`podAnnotations.${IMAGE_ANNOTATION}`]: imageId },
        timeoutMs: 150_000,
      });
      // installOperator is content with any ready pod: wait for the new one when the template changed.
      await mustKubectl([
        '-n',
        DEMO.namespace,
        'rollout',
        'status',
        `deploy/${installed.deployment}`,
        '--timeout=150s',
      ]);
      return installed;
    },
  );
  await step(
    `sample: DorisSink ${DEMO.namespace}/${DEMO.sink} (${DEMO.partitions} partitions, ${DEMO.minReplicas}..${DEMO.maxReplicas} sinkers) → ${DEMO.database}.${DEMO.table}`,
    async () => {
      await removeSink();
      // (The running operator reads the new topic's lag too: its Kafka admin client is replaced after
      // a failed read, e.g. stale metadata for a topic created after it started.)
      await Promise.all([resetKafka(), resetTable()]);
      await applySink({
        name: DEMO.sink,
        namespace: DEMO.namespace,
        topic: TOPIC,
        dlqTopic: DLQ_TOPIC,
        database: DEMO.database,
        table: DEMO.table,
        minReplicas: DEMO.minReplicas,
        maxReplicas: DEMO.maxReplicas,
        lagPerReplica: DEMO.lagPerReplica,
        scaleDownStabilization: DEMO.scaleDownStabilization,
        pollInterval: DEMO.pollInterval,
        maxBatchRows: 20_000,
        maxBatchInterval: '1s',
      });
      await waitSinkReady(DEMO.namespace, DEMO.sink, 150_000);
      await waitReadyPods(DEMO.namespace, DEMO.sink, DEMO.minReplicas, 150_000);
    },
  );
  return { operatorDeployment: op.deployment, operatorPort: op.httpPort };
}

async function down(): Promise<void> {
  await step(`remove the demo from the test bed (namespace ${DEMO.namespace}, topics, table)`, async () => {
    await removeSink(false);
    const r = await helm(['status', DEMO.release, '-n', DEMO.namespace]);
    if (r.status === 0) await uninstallOperator({ release: DEMO.release, namespace: DEMO.namespace });
    await removePreviousRelease();
    // The namespace goes in the background (the sinkers' grace period is 60 s).
    await kubectl(['delete', 'namespace', DEMO.namespace, '--ignore-not-found', '--wait=false']);
    await deleteKafka(await demoTopics(), [DEMO_GROUP]);
    await deleteRedisPrefix(DEMO_REDIS_PREFIX);
    const conn = await mariadb();
    await conn.query(`DROP TABLE IF EXISTS \`${storageDb()}\`.\`${DEMO.table}\``).finally(() => conn.end());
  });
  screen.print(`The test bed keeps running (tests use it): ${st.bold('test/infra/down')} stops it.`);
}

/** The first ready sinker pod and its metrics URL (hostNetwork: the port it wrote to its port file). */
async function sinkerMetrics(): Promise<{ pod?: string; url?: string }> {
  const pods = await listPods(DEMO.namespace, sinkSelector(DEMO.sink)).catch(() => []);
  const pod = pods.find((p) => p.ready && !p.deleting)?.name;
  if (!pod) return {};
  const port = await mustKubectl(['-n', DEMO.namespace, 'exec', pod, '-c', 'sinker', '--', 'cat', METRICS_PORT_FILE])
    .then((s) => s.trim())
    .catch(() => '');
  return { pod, ...(/^\d+$/.test(port) ? { url: `http://127.0.0.1:${port}/metrics` } : {}) };
}

async function show(started: { operatorDeployment: string; operatorPort: number }): Promise<number> {
  const header = {
    sink: `${DEMO.namespace}/${DEMO.sink}`,
    topic: TOPIC,
    partitions: DEMO.partitions,
    table: `${DEMO.database}.${DEMO.table}`,
  };
  const sampler = new Sampler({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    topic: TOPIC,
    dlqTopic: DLQ_TOPIC,
    group: DEMO_GROUP,
    mariadb: {
      host: testbed('MARIADB_HOST'),
      port: Number(testbed('MARIADB_PORT')),
      user: testbed('MARIADB_USER'),
      password: testbed('MARIADB_PASSWORD'),
    },
    storageTable: `\`${storageDb()}\`.\`${DEMO.table}\``,
    kubeconfig: testbed('KUBECONFIG'),
    namespace: DEMO.namespace,
    sink: DEMO.sink,
    podSelector: sinkSelector(DEMO.sink),
    minReplicas: DEMO.minReplicas,
    maxReplicas: DEMO.maxReplicas,
  });
  const progress: ProduceProgress = { sent: 0, valid: 0, invalid: 0, done: false };
  const t0 = Date.now();
  let produceMs = 0;
  let produceError: Error | undefined;
  const producing = produceDemo({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    topic: TOPIC,
    partitions: DEMO.partitions,
    count: args.events,
    rate: args.rate,
    seed: DEMO.seed,
    progress,
  })
    .then(() => {
      produceMs = Date.now() - t0;
    })
    .catch((e: Error) => {
      produceError = e;
    });
  screen.print(
    `${st.cyan('▸')} producing ${args.events.toLocaleString('en-US')} events${args.rate ? ` at ${args.rate.toLocaleString('en-US')}/s` : ''} into ${TOPIC}; live view (refreshed every second)`,
  );
  let produced: Sample[] = [];
  let loaded: Sample[] = [];
  const rates: Rates = { produce: 0, load: 0, peakLoad: 0 };
  let last: Reading | undefined;
  let lastChange = Date.now();
  let lastTotal = -1;
  let maxReady = 0;
  let doneAt: number | undefined;
  let stopping = false;
  let warning = '';
  process.once('SIGINT', () => {
    stopping = true;
  });
  const snapshot = (r: Reading): Snapshot => ({
    t: Date.now() - t0,
    produced: progress.sent,
    toProduce: args.events,
    rows: r.rows,
    expectedRows: progress.valid,
    dlq: r.dlq,
    expectedDlq: progress.invalid,
    ...(r.lag !== undefined ? { lag: r.lag, lagPartitions: r.lagPartitions ?? 0 } : {}),
    ...(r.operatorLag !== undefined ? { operatorLag: r.operatorLag } : {}),
    replicas: r.replicas,
  });
  try {
    while (!stopping) {
      const tick = Date.now();
      try {
        last = await Promise.race([
          sampler.read(),
          sleep(READ_TIMEOUT_MS).then(() => {
            throw new Error(`no answer within ${READ_TIMEOUT_MS / 1000} s (busy machine?)`);
          }),
        ]);
        warning = '';
      } catch (err) {
        warning = (err as Error).message.split('\n')[0] ?? '';
      }
      if (produceError) throw new Error(`producing into ${TOPIC} failed: ${produceError.message}`);
      if (last) {
        const s = snapshot(last);
        produced = trim([...produced, { t: s.t, v: s.produced }], RATE_WINDOW_MS);
        loaded = trim([...loaded, { t: s.t, v: s.rows }], RATE_WINDOW_MS);
        rates.produce = rate(produced, RATE_WINDOW_MS);
        rates.load = rate(loaded, RATE_WINDOW_MS);
        rates.peakLoad = Math.max(rates.peakLoad, rates.load);
        maxReady = Math.max(maxReady, s.replicas.ready ?? 0);
        const total = s.rows + s.dlq + s.produced;
        if (total !== lastTotal) {
          lastTotal = total;
          lastChange = Date.now();
        }
        const lines = panel(header, s, rates, { color: screen.color, width: screen.width });
        if (warning) lines.push(st.yellow(`  (last reading failed: ${warning})`));
        const isDone = progress.done && drained(s);
        screen.panel(lines, line(s, rates), 5000, isDone && doneAt === undefined);
        if (isDone && doneAt === undefined) {
          doneAt = Date.now();
          screen.keep();
          screen.print();
          for (const l of summary(
            {
              events: progress.sent,
              rows: s.rows,
              dlq: s.dlq,
              invalid: progress.invalid,
              produceMs,
              loadMs: doneAt - t0,
              peakLoad: rates.peakLoad,
              maxReplicas: maxReady,
            },
            screen.color,
          ))
            screen.print(l);
          const m = await sinkerMetrics();
          const env = testbedEnv();
          screen.print();
          for (const l of lookAround(
            {
              kubectl: testbed('KUBECTL'),
              kubeconfig: testbed('KUBECONFIG'),
              namespace: DEMO.namespace,
              sink: DEMO.sink,
              ...(m.pod ? { pod: m.pod } : {}),
              ...(m.url ? { sinkerMetrics: m.url } : {}),
              operatorMetrics: `http://127.0.0.1:${started.operatorPort}/metrics`,
              operatorDeployment: started.operatorDeployment,
              queryHost: (env.DORIS_QUERY ?? '127.0.0.1:9030').split(':')[0] ?? '127.0.0.1',
              queryPort: (env.DORIS_QUERY ?? '127.0.0.1:9030').split(':')[1] ?? '9030',
              envFile: envFilePath(),
              database: DEMO.database,
              table: DEMO.table,
              demo: 'npm run demo',
            },
            screen.color,
          ))
            screen.print(l);
          if (!args.follow) return 0;
          screen.print();
          screen.print(
            st.dim(
              'Still watching (replicas scale back in after the stabilization window); Ctrl-C leaves the stack running.',
            ),
          );
        }
        if (!args.follow && doneAt === undefined && Date.now() - lastChange > STALL_MS) {
          screen.keep();
          const pods = await kubectl(['-n', DEMO.namespace, 'get', 'dorissinks,pods', '-o', 'wide']);
          throw new Error(
            `nothing arrived for ${STALL_MS / 1000} s: ${s.rows}/${s.expectedRows} rows, ${s.dlq}/${s.expectedDlq} dead letters\n${pods.stdout}`,
          );
        }
      } else if (warning) {
        screen.panel([st.yellow(`waiting for a first reading: ${warning}`)], `waiting for a first reading: ${warning}`);
      }
      await sleep(Math.max(0, 1000 - (Date.now() - tick)));
    }
    screen.keep();
    screen.print();
    screen.print(`Stopped watching; the stack keeps running (${st.bold('npm run demo -- --down')} removes the demo).`);
    return 0;
  } finally {
    await producing;
    await sampler.close();
  }
}

async function main(): Promise<number> {
  if (args.down) {
    await down();
    return 0;
  }
  const started = await up();
  const startSecs = (Date.now() - began) / 1000;
  screen.print(
    st.bold(`Stack ready in ${fmtDuration(startSecs * 1000)}`) +
      st.dim(` (${timings.map(([k, ms]) => `${k} ${fmtDuration(ms)}`).join(', ')})`),
  );
  return show(started);
}

try {
  const code = await main();
  screen.close();
  process.exit(code);
} catch (err) {
  screen.keep();
  screen.print(st.red(`✘ demo: ${(err as Error).message}`));
  screen.close();
  process.exit(1);
}
