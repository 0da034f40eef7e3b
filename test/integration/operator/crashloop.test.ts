// Every sinker pod crash-looping on the test bed's real node (kubelet, controller-manager): the
// operator holds the scale-up that lag asks for, and says why, quoting the container's last exit.
// The sink runs the base image, which has no sinker and no entrypoint: the container's command is
// the sinker's first argument, `-config`, which the runtime cannot start (as a broken image would).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Admin, Kafka } from 'kafkajs';
import { minimalSink } from '../../../operator/api/example.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import type { Controller } from '../../../operator/controller/controller.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { idempotentProducer } from '../../support/produce.ts';
import { testbed } from '../../support/testbed.ts';
import { BASE_IMAGE, loadBaseImage, requireNodeReady } from '../node/support.ts';
import {
  applyCrd,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  startController,
  testKafka,
  waitFor,
} from './support.ts';

const PARTITIONS = 4;
const topic = `crash-${randomBytes(3).toString('hex')}`;
let kc: KubeConfig;
let ns: string;
let kafka: Kafka;
let admin: Admin;
let controller: Controller;

before(async () => {
  kc = kubeConfig();
  await requireNodeReady(kc.makeApiClient(CoreV1Api));
  await loadBaseImage();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'crashloop');
  kafka = testKafka('operator-crashloop-test');
  admin = kafka.admin();
  await admin.connect();
  await createTopicAndWait(admin, topic, PARTITIONS);
  await createTopicAndWait(admin, `${topic}-dlq`, 1);
  await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
  controller = await startController(kc, ns, 'crashloop-test');
});

after(async () => {
  await controller?.stop();
  await admin?.deleteTopics({ topics: [topic, `${topic}-dlq`] }).catch(() => {});
  await admin?.disconnect();
  if (ns) await deleteNamespace(kc, ns);
});

test('every pod crash-looping: lag does not scale the sinkers up; Ready=False CrashLoopBackOff with the exit', {
  timeout: 240_000,
}, async () => {
  const sink: DorisSink = minimalSink('crashing', ns);
  delete sink.metadata.uid;
  delete sink.metadata.generation;
  sink.spec = {
    ...sink.spec,
    image: BASE_IMAGE,
    imagePullPolicy: 'Never',
    kafka: { brokers: [testbed('KAFKA_BOOTSTRAP')], topic, fromEarliest: true },
    schema: { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] },
    scaling: { minReplicas: 1, maxReplicas: PARTITIONS, lagPerReplica: 10, pollInterval: '2s' },
  };
  await createSink(kc, sink);

  // An empty topic: one replica (minReplicas), which crash-loops.
  const looping = await waitFor(
    'Ready=False CrashLoopBackOff',
    async () => {
      const s = await getSink(kc, ns, 'crashing');
      return getCondition(s.status?.conditions, 'Ready')?.reason === 'CrashLoopBackOff' ? s : undefined;
    },
    180_000,
    1000,
  );
  const ready = getCondition(looping.status?.conditions, 'Ready');
  assert.equal(ready?.status, 'False');
  // the runtime's own complaint, from the container's last termination
  assert.match(
    ready?.message ?? '',
    /^the sinker pod is crash-looping \(pod crashing-[a-z0-9-]+ restarted \d+ times, last exit code \d+ \(\w+\): .*"-config".*\); see kubectl logs crashing-/,
  );
  const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
  assert.equal(
    events.items.filter((e) => e.reason === 'CrashLoopBackOff' && e.involvedObject.name === 'crashing').length,
    1,
    'one Warning Event',
  );

  // A backlog of 100 messages wants 100 / 10 → 4 replicas; while the pod crash-loops, 1 is kept.
  const producer = idempotentProducer(kafka);
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `{"id":${i}}` })) });
  await producer.disconnect();
  const held = await waitFor(
    'the lag read',
    async () => {
      const s = await getSink(kc, ns, 'crashing');
      return s.status?.lag?.total === 100 ? s : undefined;
    },
    30_000,
  );
  const scaling = getCondition(held.status?.conditions, 'Scaling');
  assert.equal(scaling?.status, 'False');
  assert.equal(scaling?.reason, 'ScaleUpHeld');
  assert.match(scaling?.message ?? '', /lag 100 → recommended 4 .*crash-looping: holding 1 replicas/);
  assert.equal(held.status?.desiredReplicas, 1);
  const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name: 'crashing' });
  assert.equal(d.spec?.replicas, 1);
});
