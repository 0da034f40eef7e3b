// The test bed runs what a cluster runs: kube-controller-manager turns a Deployment into a
// ReplicaSet and Pods, kube-scheduler binds them to the node, the real kubelet starts them with
// containerd + runc from the project's base image, and deleting the Deployment garbage-collects
// its ReplicaSet and Pods after the container got SIGTERM. Needs `test/infra/up` (k8s and node).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import {
  BASE_IMAGE,
  freePort,
  httpText,
  kubeConfig,
  loadBaseImage,
  requireNodeReady,
  SERVER_SCRIPT,
  waitFor,
} from './support.ts';

const namespace = `node-${randomUUID().slice(0, 8)}`;
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
let nodeName = '';

before(async () => {
  nodeName = await requireNodeReady(core);
  await loadBaseImage();
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});

after(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => {});
});

function deployment(name: string, port: number): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          hostNetwork: true,
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: 'web',
              image: BASE_IMAGE,
              imagePullPolicy: 'Never',
              command: ['node', '-e', SERVER_SCRIPT],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'PORT', value: String(port) },
                { name: 'GRACE_MS', value: '3000' },
              ],
              readinessProbe: { httpGet: { path: '/', port }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

test('a ServiceAccount and the root CA ConfigMap appear in a new namespace', { timeout: 90_000 }, async () => {
  const sa = await waitFor('ServiceAccount default', () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace }),
  );
  assert.equal(sa.metadata?.namespace, namespace);
  const cm = await waitFor('ConfigMap kube-root-ca.crt', () =>
    core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace }),
  );
  assert.match(cm.data?.['ca.crt'] ?? '', /BEGIN CERTIFICATE/);
});

test('a hostNetwork Deployment becomes available, and deleting it collects its ReplicaSet and Pods', {
  timeout: 180_000,
}, async () => {
  const port = await freePort();
  const name = 'web';
  const created = await apps.createNamespacedDeployment({ namespace, body: deployment(name, port) });

  const available = await waitFor(
    'Deployment web available',
    async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace });
      return (d.status?.availableReplicas ?? 0) >= 1 ? d : undefined;
    },
    120_000,
  );
  assert.equal(available.status?.readyReplicas, 1);

  // The chain of owners the controllers built: Deployment → ReplicaSet → Pod.
  const rsList = await apps.listNamespacedReplicaSet({ namespace, labelSelector: `app=${name}` });
  assert.equal(rsList.items.length, 1);
  const rs = rsList.items[0];
  assert.equal(rs?.metadata?.ownerReferences?.[0]?.uid, created.metadata?.uid);
  const pods = await core.listNamespacedPod({ namespace, labelSelector: `app=${name}` });
  assert.equal(pods.items.length, 1);
  const pod = pods.items[0];
  assert.equal(pod?.metadata?.ownerReferences?.[0]?.uid, rs?.metadata?.uid);
  assert.equal(pod?.spec?.nodeName, nodeName);
  assert.equal(pod?.status?.phase, 'Running');
  const podName = pod?.metadata?.name ?? '';

  // The process answering on this machine's port is the pod's container.
  assert.equal(await httpText(`http://127.0.0.1:${port}/`), `serving:${podName}`);

  await apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: 'Background' });
  // The kubelet sends SIGTERM and waits: the container keeps answering, now as "terminating".
  await waitFor(
    'the container to see SIGTERM',
    async () => (await httpText(`http://127.0.0.1:${port}/`)) === `terminating:${podName}`,
    60_000,
    100,
  );
  await waitFor('the ReplicaSet and Pod to be garbage-collected', async () => {
    const [r, p] = await Promise.all([
      apps.listNamespacedReplicaSet({ namespace, labelSelector: `app=${name}` }),
      core.listNamespacedPod({ namespace, labelSelector: `app=${name}` }),
    ]);
    return r.items.length === 0 && p.items.length === 0;
  });
  assert.equal(await httpText(`http://127.0.0.1:${port}/`), undefined, 'the container should have stopped');
});

test('a container that exits is restarted by the kubelet', { timeout: 120_000 }, async () => {
  const name = 'crasher';
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        hostNetwork: true,
        containers: [
          {
            name: 'c',
            image: BASE_IMAGE,
            imagePullPolicy: 'Never',
            command: ['node', '-e', 'setTimeout(() => process.exit(3), 200)'],
          },
        ],
      },
    },
  });
  const status = await waitFor(
    'a restart of crasher',
    async () => {
      const p = await core.readNamespacedPod({ name, namespace });
      const c = p.status?.containerStatuses?.[0];
      return (c?.restartCount ?? 0) >= 1 ? c : undefined;
    },
    90_000,
    500,
  );
  assert.equal(status.lastState?.terminated?.exitCode, 3);
});
