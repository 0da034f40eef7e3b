// Deleting a DorisSink with the operator running, against the test bed's controller-manager (whose
// garbage collector follows the owner references): the children go with it, in the background or
// in the foreground (the sink waits, deletionTimestamp set, until its children are gone, and the
// operator must not re-create them meanwhile), and no finalizer of the operator's holds it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, PolicyV1Api, Watch } from '@kubernetes/client-node';
import { minimalSink } from '../../../operator/api/example.ts';
import { GROUP, PLURAL, VERSION } from '../../../operator/api/schema.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import type { Controller } from '../../../operator/controller/controller.ts';
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
  waitSettled,
} from './support.ts';

let kc: KubeConfig;
let ns: string;
let controller: Controller;

before(async () => {
  kc = kubeConfig();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'deletion');
  await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
  controller = await startController(kc, ns, 'deletion-test');
});

after(async () => {
  await controller?.stop();
  if (ns) await deleteNamespace(kc, ns);
});

/** Which of the sink's four children exist. */
async function children(name: string): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const exists = (p: Promise<unknown>) =>
    p.then(
      () => true,
      (err: { code?: number }) => {
        if (err.code === 404) return false;
        throw err;
      },
    );
  const found: string[] = [];
  if (await exists(core.readNamespacedConfigMap({ namespace: ns, name: `${name}-config` }))) found.push('ConfigMap');
  if (await exists(core.readNamespacedService({ namespace: ns, name: `${name}-metrics` }))) found.push('Service');
  if (await exists(kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name })))
    found.push('Deployment');
  if (await exists(kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ namespace: ns, name })))
    found.push('PodDisruptionBudget');
  return found;
}

for (const propagationPolicy of ['Background', 'Foreground'] as const) {
  test(`deleting a sink (${propagationPolicy}) removes its children and the sink itself`, async () => {
    const name = `gone-${propagationPolicy.toLowerCase()}`;
    const sink: DorisSink = minimalSink(name, ns);
    delete sink.metadata.uid;
    delete sink.metadata.generation;
    sink.spec.kafka.brokers = ['127.0.0.1:1'];
    sink.spec.imagePullPolicy = 'Never';
    sink.spec.schema = { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] };
    sink.spec.scaling = { pollInterval: '10m' };
    await createSink(kc, sink);
    // No reconcile in flight or queued when the deletion lands (one that read the sink before it can
    // still apply after it: the reconciler unit test 'deleted while Kafka was read' covers what the
    // operator narrows there); left are the reconciles the deletion itself triggers.
    await waitSettled(kc, controller, ns, name);
    assert.equal((await children(name)).length, 4);
    const live = await getSink(kc, ns, name);
    assert.deepEqual(live.metadata.finalizers ?? [], [], 'the operator adds no finalizer');
    // Every change of the ConfigMap from here on: the garbage collector deletes it, and the operator,
    // reconciling on that event a sink whose deletion is under way, must not apply it again.
    const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: ns, name: `${name}-config` });
    const seen: string[] = [];
    const watching = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { fieldSelector: `metadata.name=${name}-config`, resourceVersion: cm.metadata?.resourceVersion },
      (type: string) => seen.push(type),
      () => {},
    );

    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      name,
      propagationPolicy,
    });
    await waitFor(
      `${name} and its children gone`,
      async () => {
        const sinkGone = await getSink(kc, ns, name).then(
          () => false,
          (err: { code?: number }) => err.code === 404,
        );
        return sinkGone && (await children(name)).length === 0 ? true : undefined;
      },
      60_000,
      500,
    );
    // Reconciles that arrive after the deletion (children's delete events, polls) create nothing.
    await controller.reconciler.reconcile(`${ns}/${name}`);
    assert.deepEqual(await children(name), []);
    watching.abort();
    assert.ok(seen.includes('DELETED'), `the ConfigMap's deletion was watched: ${seen.join(',')}`);
    assert.ok(!seen.includes('ADDED'), `the ConfigMap was not re-created during the deletion: ${seen.join(',')}`);
  });
}
