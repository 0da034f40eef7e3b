// The whole loop without a kubelet: a small stand-in kubelet keeps as many real sinker processes
// running as the operator's Deployment asks for (and reports them in the Deployment's status); a
// backlog scales the Deployment up to the partition cap, the sinkers work it off exactly once, and
// the replicas come back down after the stabilization window.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { parse } from 'yaml';
import { minimalSink } from '../../../operator/api/example.ts';
import type { Controller } from '../../../operator/controller/controller.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  produce,
  rowCount,
  type Scenario,
  scenario,
  validIds,
  waitCaughtUp,
  waitForRows,
} from '../sinker/helpers.ts';
import {
  applyCrd,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  startController,
  waitFor,
} from './support.ts';

const PARTITIONS = 3;
let kc: KubeConfig;
let ns: string;
let s: Scenario;
let controller: Controller;

/**
 * The sink names no DLQ, so the operator renders the topic <topic>-dlq; it exists, as it must in
 * production (a test bed broker would create it on the first dead letter, and it would be left over).
 */
async function dlqTopic(f: (admin: Admin) => Promise<unknown>): Promise<void> {
  const admin = new Kafka({ brokers: [testbed('KAFKA_BOOTSTRAP')], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await f(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Runs sinker processes for one Deployment the way a kubelet + ReplicaSet would (roughly). */
class StandInKubelet {
  readonly pods: SinkerProcess[] = [];
  maxRunning = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #seq = 0;

  readonly name: string;
  readonly env: Record<string, string>;

  constructor(name: string, env: Record<string, string>) {
    this.name = name;
    this.env = env;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    while (!this.#stopped) {
      try {
        const d = await apps.readNamespacedDeployment({ namespace: ns, name: this.name });
        const want = d.spec?.replicas ?? 0;
        while (this.pods.length < want) {
          const cm = await core.readNamespacedConfigMap({ namespace: ns, name: `${this.name}-config` });
          const config = parse(cm.data?.['config.yaml'] ?? '') as { metrics: { port: number } };
          // each pod has its own network namespace; here they share one, so each binds a free port
          config.metrics.port = 0;
          const pod = new SinkerProcess({
            dir: s.dir,
            tag: `pod-${this.#seq++}`,
            config,
            env: { ...this.env, POD_NAME: `${this.name}-${this.#seq}` },
          });
          this.pods.push(pod);
        }
        while (this.pods.length > want) await this.pods.pop()?.term();
        this.maxRunning = Math.max(this.maxRunning, this.pods.length);
        let ready = 0;
        for (const p of this.pods) {
          if (await p.isReady()) ready++;
        }
        await apps.patchNamespacedDeploymentStatus(
          {
            namespace: ns,
            name: this.name,
            body: {
              status: {
                observedGeneration: d.metadata?.generation,
                replicas: this.pods.length,
                readyReplicas: ready,
                availableReplicas: ready,
              },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch {
        // the next round tries again
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await Promise.all(this.pods.splice(0).map((p) => p.term()));
  }
}

before(async () => {
  kc = kubeConfig();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'loop');
  s = scenario('op-loop', PARTITIONS);
  await createTopic(s);
  await createTable(s);
  await dlqTopic((admin) => createTopicAndWait(admin, `${s.topic}-dlq`, 1));
  controller = await startController(kc, ns, 'loop-test');
});

let kubelet: StandInKubelet | undefined;
after(async () => {
  await kubelet?.stop();
  await controller?.stop();
  if (s) await dlqTopic((admin) => admin.deleteTopics({ topics: [`${s.topic}-dlq`] })).catch(() => {});
  if (s) await cleanup(s);
  await closeStorage();
  if (ns) await deleteNamespace(kc, ns);
});

test('a backlog scales the sinkers up to the partition cap; they load it exactly once; replicas come back down', async () => {
  const [, queryPort] = testbed('DORIS_QUERY').split(':');
  await createSecret(kc, ns, 'doris', { password: testbed('DORIS_PASSWORD') });
  await createSecret(kc, ns, 'redis', { url: testbed('REDIS_URL') });
  // the backlog is there before the sink
  const produced = await produce(s, 3000, 11);
  const ids = validIds(produced.events);

  const sink = minimalSink('loop', ns);
  delete sink.metadata.uid;
  delete sink.metadata.generation;
  sink.spec = {
    kafka: { brokers: [testbed('KAFKA_BOOTSTRAP')], topic: s.topic, groupId: s.group, fromEarliest: true },
    doris: {
      feHosts: [testbed('DORIS_FE_HTTP')],
      queryPort: Number(queryPort),
      database: 'test_db',
      table: s.table,
      user: testbed('DORIS_USER'),
      passwordSecretRef: { name: 'doris', key: 'password' },
      timeout: '30s',
    },
    // small batches and a tiny per-replica budget, so a few thousand messages are a backlog
    batch: { maxBatchRows: 100, maxBatchInterval: '500ms' },
    dedupe: { redisUrlSecretRef: { name: 'redis', key: 'url' }, keyPrefix: s.prefix },
    scaling: { minReplicas: 1, maxReplicas: 10, lagPerReplica: 200, pollInterval: '1s', scaleDownStabilization: '6s' },
  };
  await createSink(kc, sink);
  kubelet = new StandInKubelet('loop', {
    DORIS_PASSWORD: testbed('DORIS_PASSWORD'),
    REDIS_URL: testbed('REDIS_URL'),
  });
  kubelet.start();

  // lag ~3000 / 200 → 15 wanted, capped at the 3 partitions
  const up = await waitFor(
    'scaled to the partition cap',
    async () => {
      const st = (await getSink(kc, ns, 'loop')).status;
      return st?.desiredReplicas === PARTITIONS ? st : undefined;
    },
    60_000,
  );
  assert.equal(up.partitions, PARTITIONS);
  await waitFor('three sinkers running', () => (kubelet?.maxRunning === PARTITIONS ? true : undefined), 60_000);

  await waitForRows(s, ids.length, 120_000);
  await assertExactlyOnce(s, ids, 'scaled sinkers');

  // caught up: after the window the operator scales back to minReplicas and the kubelet follows
  let last: unknown;
  const down = await waitFor(
    'scaled back down',
    async () => {
      const st = (await getSink(kc, ns, 'loop')).status;
      last = { lag: st?.lag, desired: st?.desiredReplicas, scaling: getCondition(st?.conditions, 'Scaling')?.message };
      // (lag within one replica's budget: the sinkers' last commits may trail the loaded rows briefly)
      return st?.lag?.total !== undefined && st.lag.total < 200 && st.desiredReplicas === 1 ? st : undefined;
    },
    90_000,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}; last status ${JSON.stringify(last)}; sinker log tail:\n${kubelet?.pods[0]?.output.slice(-3000)}`,
    );
  });
  assert.ok(down.lastScaleTime);
  await waitFor('one sinker left', () => (kubelet?.pods.length === 1 ? true : undefined), 60_000);
  // The Deployment's status trails its pods (terminating replicas stay counted ready for a moment),
  // and the sink's status follows the Deployment's: wait for both to show the one replica.
  const ready = await waitFor(
    'Ready from the Deployment status, 1 ready replica',
    async () => {
      const st = (await getSink(kc, ns, 'loop')).status;
      return getCondition(st?.conditions, 'Ready')?.reason === 'Running' && st?.readyReplicas === 1 ? st : undefined;
    },
    30_000,
  );
  assert.equal(ready.readyReplicas, 1);
  const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
  const scaled = events.items.filter((e) => e.reason === 'Scaled').map((e) => e.message ?? '');
  // (the Deployment was created at 3: a first decision is not a scale event) Scaled events lead from 3
  // down to 1: in one step, or in two when the lag drained slowly enough for the window to hold a 2.
  const steps = new Map<number, number>();
  for (const m of scaled) {
    const step = /replicas (\d+) → (\d+)/.exec(m);
    if (step) steps.set(Number(step[1]), Number(step[2]));
  }
  const path = [PARTITIONS];
  while (steps.has(path.at(-1)!) && path.length <= PARTITIONS) path.push(steps.get(path.at(-1)!)!);
  assert.ok(
    path.at(-1) === 1 && path.every((n, i) => i === 0 || n < path[i - 1]!),
    `scale events from ${PARTITIONS} down to 1: ${path.join(' → ')}\n${scaled.join('\n')}`,
  );
});

test('minReplicas 0, activationLag above the partition count, a new group reading from the end: one sinker starts, commits, and the sink goes to 0', async () => {
  // The group never committed: the lag is a placeholder 1 per partition holding data (3), not above
  // activationLag 100. Held at 0, no sinker would ever commit and nothing produced would be loaded.
  const f = scenario('op-activate', PARTITIONS);
  await createTopic(f);
  await createTable(f);
  await dlqTopic((admin) => createTopicAndWait(admin, `${f.topic}-dlq`, 1));
  let fresh: StandInKubelet | undefined;
  try {
    const [, queryPort] = testbed('DORIS_QUERY').split(':');
    for (const [name, data] of [
      ['doris', { password: testbed('DORIS_PASSWORD') }],
      ['redis', { url: testbed('REDIS_URL') }],
    ] as const) {
      await createSecret(kc, ns, name, data).catch(() => {}); // (the first test may have made them)
    }
    // written before the sink: skipped, as fromEarliest: false says
    await produce(f, 150, 21);
    const sink = minimalSink('fresh', ns);
    delete sink.metadata.uid;
    delete sink.metadata.generation;
    sink.spec = {
      kafka: { brokers: [testbed('KAFKA_BOOTSTRAP')], topic: f.topic, groupId: f.group, fromEarliest: false },
      doris: {
        feHosts: [testbed('DORIS_FE_HTTP')],
        queryPort: Number(queryPort),
        database: 'test_db',
        table: f.table,
        user: testbed('DORIS_USER'),
        passwordSecretRef: { name: 'doris', key: 'password' },
        timeout: '30s',
      },
      batch: { maxBatchRows: 100, maxBatchInterval: '500ms' },
      dedupe: { redisUrlSecretRef: { name: 'redis', key: 'url' }, keyPrefix: f.prefix },
      scaling: {
        minReplicas: 0,
        maxReplicas: 3,
        lagPerReplica: 200,
        activationLag: 100,
        pollInterval: '1s',
        scaleDownStabilization: '6s',
      },
    };
    await createSink(kc, sink);
    fresh = new StandInKubelet('fresh', { DORIS_PASSWORD: testbed('DORIS_PASSWORD'), REDIS_URL: testbed('REDIS_URL') });
    fresh.start();
    const started = await waitFor(
      'one sinker wanted',
      async () => {
        const st = (await getSink(kc, ns, 'fresh')).status;
        return st?.lag?.total !== undefined && st.desiredReplicas === 1 ? st : undefined;
      },
      30_000,
    );
    assert.equal(started.lag?.total, PARTITIONS, 'a placeholder 1 per partition');
    const pod = await waitFor('the sinker running', () => fresh?.pods[0], 30_000);
    await waitFor('the sinker ready', async () => ((await pod.isReady()) ? true : undefined), 60_000);
    // Produced once it runs: loaded and committed. (A round written while it still joins the group is
    // skipped by the reset to the end, so rounds go on until every partition has a commit.)
    let caughtUp = false;
    for (let round = 0; round < 6 && !caughtUp; round++) {
      await produce(f, 60, 31 + round, 10_000n * BigInt(round + 1));
      caughtUp = await waitCaughtUp(f, 15_000).then(
        () => true,
        () => false,
      );
    }
    assert.ok(caughtUp, `group ${f.group} committed every partition`);
    assert.ok((await rowCount(f)) > 0, 'rows loaded');
    // committed everywhere, lag 0 ≤ activationLag: back to 0 after the window
    const idle = await waitFor(
      'scaled to zero',
      async () => {
        const st = (await getSink(kc, ns, 'fresh')).status;
        return st?.desiredReplicas === 0 ? st : undefined;
      },
      60_000,
    );
    assert.equal(idle.lag?.total, 0);
    assert.equal(getCondition(idle.conditions, 'Ready')?.reason, 'Idle');
    await waitFor('no sinker left', () => (fresh?.pods.length === 0 ? true : undefined), 60_000);
  } finally {
    await fresh?.stop();
    await dlqTopic((admin) => admin.deleteTopics({ topics: [`${f.topic}-dlq`] })).catch(() => {});
    await cleanup(f);
  }
});
