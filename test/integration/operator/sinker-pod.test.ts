// The operator → sinker contract end to end, without a kubelet: the ConfigMap, environment and args
// the operator wrote into the apiserver run the real sinker process (as the pod would), the rows land
// in the Doris emulator exactly once, and the operator sees the sinker's commits as lag 0. The sink
// names no DLQ: the operator renders the topic <topic>-dlq, reports it missing until it is created,
// and the sinker's dead letters land in it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1EnvVar } from '@kubernetes/client-node';
import type { Admin } from 'kafkajs';
import { parse } from 'yaml';
import { minimalSink } from '../../../operator/api/example.ts';
import type { Controller } from '../../../operator/controller/controller.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { freePort, SinkerProcess } from '../../support/sinker-process.ts';
import { testbed } from '../../support/testbed.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  produce,
  produceValues,
  type Scenario,
  scenario,
  validIds,
  waitForRows,
} from '../sinker/helpers.ts';
import {
  applyCrd,
  connectedAdmin,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  startController,
  waitFor,
} from './support.ts';

let kc: KubeConfig;
let ns: string;
let s: Scenario;
let controller: Controller;
let sinker: SinkerProcess | undefined;
let admin: Admin;
const dlqTopic = () => `${s.topic}-dlq`;

before(async () => {
  kc = kubeConfig();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'pod');
  s = scenario('op-pod', 2);
  await createTopic(s);
  await createTable(s);
  admin = await connectedAdmin('operator-sinker-pod-test');
  controller = await startController(kc, ns, 'pod-test');
});

after(async () => {
  await sinker?.term().catch(() => {});
  await controller?.stop();
  await admin?.deleteTopics({ topics: [dlqTopic()] }).catch(() => {});
  await admin?.disconnect();
  if (s) await cleanup(s);
  await closeStorage();
  if (ns) await deleteNamespace(kc, ns);
});

/** The value of one container env var, resolved the way the kubelet does. */
async function resolveEnv(e: V1EnvVar): Promise<string> {
  if (e.value !== undefined) return e.value;
  const ref = e.valueFrom?.secretKeyRef;
  if (ref) {
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: ns, name: ref.name ?? '' });
    const data = secret.data?.[ref.key];
    assert.ok(data !== undefined, `Secret ${ref.name} has no key ${ref.key}`);
    return Buffer.from(data, 'base64').toString('utf8');
  }
  if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') return 'events-pod-0';
  throw new Error(`env ${e.name}: unsupported source`);
}

test('the sinker runs from what the operator wrote, loads every row once, and the operator sees lag 0', async () => {
  const [queryHost, queryPort] = testbed('DORIS_QUERY').split(':');
  assert.equal(queryHost, '127.0.0.1');
  await createSecret(kc, ns, 'doris', { password: testbed('DORIS_PASSWORD') });
  await createSecret(kc, ns, 'redis', { url: testbed('REDIS_URL') });
  const sink = minimalSink('events', ns);
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
    batch: { maxBatchRows: 200, maxBatchInterval: '500ms' },
    dedupe: { redisUrlSecretRef: { name: 'redis', key: 'url' }, keyPrefix: s.prefix },
    scaling: { pollInterval: '1s' },
    metricsPort: await freePort(),
  };
  await createSink(kc, sink);
  await waitFor('schema read', async () => ((await getSink(kc, ns, 'events')).status?.schema?.hash ? true : undefined));

  // the "pod": the Deployment's container, its env from the Secrets, its config from the ConfigMap
  const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name: 'events' });
  const container = d.spec?.template.spec?.containers[0];
  assert.deepEqual(container?.args, ['-config', '/etc/doris-sinker/config.yaml']);
  const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: ns, name: 'events-config' });
  const config = parse(cm.data?.['config.yaml'] ?? '') as Record<string, unknown>;
  // no spec.dlq: the topic <kafka.topic>-dlq, not the sinker's file in its read-only working directory
  assert.deepEqual(config.dlq, { kafka_topic: dlqTopic() });
  const degraded = await waitFor('the missing DLQ topic reported', async () => {
    const c = getCondition((await getSink(kc, ns, 'events')).status?.conditions, 'Degraded');
    return c?.reason === 'DeadLetterTopicMissing' ? c : undefined;
  });
  assert.equal(degraded.status, 'True');
  assert.match(degraded.message ?? '', new RegExp(`dead-letter topic ${dlqTopic()} does not exist`));
  await createTopicAndWait(admin, dlqTopic(), 1);
  await waitFor('Degraded cleared once the DLQ topic exists', async () => {
    const c = getCondition((await getSink(kc, ns, 'events')).status?.conditions, 'Degraded');
    return c?.status === 'False' ? c : undefined;
  });

  const env: Record<string, string> = {};
  for (const e of container?.env ?? []) env[e.name] = await resolveEnv(e);
  assert.deepEqual(Object.keys(env).sort(), ['DORIS_PASSWORD', 'POD_NAME', 'REDIS_URL']);
  sinker = new SinkerProcess({
    dir: s.dir,
    tag: 'pod',
    config,
    env,
  });
  await sinker.waitReady(60_000);

  const produced = await produce(s, 600, 7);
  const invalid = ['not json', '{"id": ', '[1, 2]'];
  await produceValues(s, invalid);
  const ids = validIds(produced.events);
  await waitForRows(s, ids.length, 60_000);
  await assertExactlyOnce(s, ids, 'operator-rendered sinker');
  // every message that could not be loaded is in the DLQ topic
  const deadLetters = produced.events.length - ids.length + invalid.length;
  await waitFor(
    `${deadLetters} dead letters in ${dlqTopic()}`,
    async () => {
      const offsets = await admin.fetchTopicOffsets(dlqTopic());
      return offsets.reduce((n, o) => n + Number(o.high), 0) === deadLetters ? true : undefined;
    },
    30_000,
  );

  // the sinker committed its offsets in the group the operator watches
  const status = await waitFor(
    'operator sees the group caught up',
    async () => {
      const st = (await getSink(kc, ns, 'events')).status;
      return st?.lag?.total === 0 ? st : undefined;
    },
    30_000,
  );
  assert.equal(status.partitions, 2);
});
