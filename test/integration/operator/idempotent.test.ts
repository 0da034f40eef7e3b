// Level-triggered and idempotent: once a sink has settled, reconciling it again with nothing changed
// writes nothing. Against the real apiserver (and the test bed's controller-manager, which writes the
// Deployment's and PDB's status on its own): the sink's resourceVersion, the ConfigMap's and Service's,
// and the operator's own managed-fields entry on the Deployment and PDB stay as they were across N
// reconciles, and no Event is recorded.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, type KubeConfig, type KubernetesObject, PolicyV1Api } from '@kubernetes/client-node';
import type { Admin } from 'kafkajs';
import { minimalSink } from '../../../operator/api/example.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import type { Controller } from '../../../operator/controller/controller.ts';
import { KubeClient } from '../../../operator/controller/kube.ts';
import { FIELD_MANAGER } from '../../../operator/desired/names.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { testbed } from '../../support/testbed.ts';
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
  waitSettled,
} from './support.ts';

const RECONCILES = 5;
const topic = `idle-${randomBytes(3).toString('hex')}`;
let kc: KubeConfig;
let ns: string;
let admin: Admin;
let controller: Controller;

before(async () => {
  kc = kubeConfig();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'idempotent');
  admin = await connectedAdmin('operator-idempotent-test');
  await createTopicAndWait(admin, topic, 2);
  await createTopicAndWait(admin, `${topic}-dlq`, 1);
  await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
  controller = await startController(kc, ns, 'idempotent-test');
});

after(async () => {
  await controller?.stop();
  await admin?.deleteTopics({ topics: [topic, `${topic}-dlq`] }).catch(() => {});
  await admin?.disconnect();
  if (ns) await deleteNamespace(kc, ns);
});

/** What the operator itself last changed on an object: its Apply entry (time and fields). */
function ownEntry(o: KubernetesObject): string {
  const mine = o.metadata?.managedFields?.filter((m) => m.manager === FIELD_MANAGER) ?? [];
  assert.ok(mine.length > 0, `${o.kind} ${o.metadata?.name} has fields managed by ${FIELD_MANAGER}`);
  // A digest keeps a failure's diff readable; any change of time or fields changes it.
  return createHash('sha256').update(JSON.stringify(mine)).digest('hex').slice(0, 16);
}

async function snapshot(name: string) {
  const core = kc.makeApiClient(CoreV1Api);
  const sink = await getSink(kc, ns, name);
  const configMap = await core.readNamespacedConfigMap({ namespace: ns, name: `${name}-config` });
  const service = await core.readNamespacedService({ namespace: ns, name: `${name}-metrics` });
  const deployment = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name });
  const pdb = await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ namespace: ns, name });
  const events = await core.listNamespacedEvent({ namespace: ns });
  return {
    sink: sink.metadata.resourceVersion,
    configMap: configMap.metadata?.resourceVersion,
    service: service.metadata?.resourceVersion,
    deployment: { generation: deployment.metadata?.generation, own: ownEntry(deployment) },
    pdb: { generation: pdb.metadata?.generation, own: ownEntry(pdb) },
    events: events.items.filter((e) => e.source?.component === FIELD_MANAGER).length,
  };
}

for (const [label, over] of [
  ['auto-scaled on lag', {}],
  ['paused', { paused: true }],
] as const) {
  test(`a settled sink (${label}): ${RECONCILES} more reconciles write nothing`, async () => {
    const name = label === 'paused' ? 'idle-paused' : 'idle';
    const sink: DorisSink = minimalSink(name, ns);
    delete sink.metadata.uid;
    delete sink.metadata.generation;
    sink.spec = {
      ...sink.spec,
      ...over,
      // An image the node does not hold, never pulled: the pod waits with one steady reason
      // (ErrImageNeverPull), where a pull would alternate ErrImagePull / ImagePullBackOff, each a
      // real change of the Ready message.
      imagePullPolicy: 'Never',
      kafka: { brokers: [testbed('KAFKA_BOOTSTRAP')], topic },
      schema: { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] },
      // One lag read at the first reconcile; the idle reconciles below fall within the interval.
      scaling: { pollInterval: '10m', minReplicas: 1 },
    };
    await createSink(kc, sink);
    const key = `${ns}/${name}`;
    // Settled with the lag read: nothing left for a reconcile to react to.
    await waitSettled(kc, controller, ns, name, (x) => x.status?.lag?.total !== undefined);

    const before = await snapshot(name);
    const statusBefore = JSON.stringify((await getSink(kc, ns, name)).status);
    // Count the status requests too: a status the apiserver already holds is not even sent.
    const applyStatus = KubeClient.prototype.applyStatus;
    let statusRequests = 0;
    KubeClient.prototype.applyStatus = function (this: KubeClient, ...args) {
      statusRequests++;
      return applyStatus.apply(this, args);
    };
    try {
      for (let i = 0; i < RECONCILES; i++) await controller.reconciler.reconcile(key);
    } finally {
      KubeClient.prototype.applyStatus = applyStatus;
    }
    const after = await snapshot(name);
    const statusAfter = JSON.stringify((await getSink(kc, ns, name)).status);
    assert.deepEqual(
      after,
      before,
      `idle reconciles changed an object, the operator’s fields or recorded an Event; status before ${statusBefore}, after ${statusAfter}`,
    );

    assert.equal(statusRequests, 0, 'no status request for an unchanged status');
    const s = await getSink(kc, ns, name);
    assert.equal(s.status?.observedGeneration, s.metadata.generation);
    for (const c of s.status?.conditions ?? []) assert.equal(c.observedGeneration, s.metadata.generation, c.type);
    assert.equal(getCondition(s.status?.conditions, 'Degraded')?.status, 'False', JSON.stringify(s.status?.conditions));
  });
}
