// The test bed's kube-apiserver is real: a namespace and a CustomResourceDefinition created through
// @kubernetes/client-node become Established, an instance is served back to kubectl, and RBAC
// refuses an identity without bindings (a ServiceAccount token from the TokenRequest API).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { testbed } from '../../support/testbed.ts';
import { requireListening } from './require-up.ts';

const run = promisify(execFile);
const suffix = randomUUID().slice(0, 8);
const namespace = `smoke-${suffix}`;
const group = `s${suffix}.smoke.doris-sinker.test`;
const crdName = `widgets.${group}`;

const kc = new KubeConfig();
let core: CoreV1Api;
let ext: ApiextensionsV1Api;

before(async () => {
  await requireListening('k8s', testbed('KUBE_APISERVER'));
  kc.loadFromFile(testbed('KUBECONFIG'));
  core = kc.makeApiClient(CoreV1Api);
  ext = kc.makeApiClient(ApiextensionsV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});

after(async () => {
  // The CRD's finalizer runs inside kube-apiserver, so it goes away; the namespace only turns
  // Terminating (no namespace controller without kube-controller-manager), which is harmless.
  await ext?.deleteCustomResourceDefinition({ name: crdName }).catch(() => {});
  await core?.deleteNamespace({ name: namespace }).catch(() => {});
});

const crd: V1CustomResourceDefinition = {
  metadata: { name: crdName },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['size'],
                properties: { size: { type: 'integer', minimum: 1 }, colour: { type: 'string' } },
              },
            },
          },
        },
      },
    ],
  },
};

async function waitEstablished(name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await ext.readCustomResourceDefinition({ name });
    if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a CRD becomes Established, its instance is validated and kubectl reads it back', {
  timeout: 60_000,
}, async () => {
  await ext.createCustomResourceDefinition({ body: crd });
  await waitEstablished(crdName, 30_000);

  const objects = kc.makeApiClient(CustomObjectsApi);
  const ref = { group, version: 'v1', namespace, plural: 'widgets' };
  await objects.createNamespacedCustomObject({
    ...ref,
    body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 3, colour: 'blue' } },
  });
  // Structural schema validation is the apiserver's: size 0 violates minimum 1.
  await assert.rejects(
    objects.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w0' }, spec: { size: 0 } },
    }),
    (e: unknown) => e instanceof ApiException && e.code === 422,
  );

  const { stdout } = await run(
    testbed('KUBECTL'),
    ['--kubeconfig', testbed('KUBECONFIG'), 'get', crdName, 'w1', '-n', namespace, '-o', 'json'],
    { timeout: 30_000 },
  );
  const got = JSON.parse(stdout);
  assert.equal(got.kind, 'Widget');
  assert.equal(got.metadata.namespace, namespace);
  assert.deepEqual(got.spec, { size: 3, colour: 'blue' });
});

test('RBAC refuses a ServiceAccount token that has no bindings', { timeout: 30_000 }, async () => {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'nobody' } } });
  const tr = await core.createNamespacedServiceAccountToken({
    name: 'nobody',
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const token = tr.status?.token;
  assert.ok(token, 'TokenRequest returned a token');

  const cluster = kc.getCurrentCluster();
  assert.ok(cluster);
  const saConfig = new KubeConfig();
  saConfig.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: 'sa' }],
    currentContext: 'sa',
  });
  const asSa = saConfig.makeApiClient(CoreV1Api);
  // Authenticated (a bad token would be 401), but not authorized.
  await assert.rejects(asSa.listNamespacedPod({ namespace }), (e: unknown) => {
    assert.ok(e instanceof ApiException, `expected an ApiException, got ${e}`);
    assert.equal(e.code, 403);
    assert.match(String(e.body), new RegExp(`system:serviceaccount:${namespace}:nobody`));
    return true;
  });
  // The admin identity may do the same call: the 403 is RBAC, not a broken request.
  const pods = await core.listNamespacedPod({ namespace });
  assert.deepEqual(pods.items, []);
});

test('RBAC refuses the unprivileged client certificate of KUBECONFIG_UNPRIVILEGED', { timeout: 30_000 }, async () => {
  const nobody = new KubeConfig();
  nobody.loadFromFile(testbed('KUBECONFIG_UNPRIVILEGED'));
  await assert.rejects(
    nobody.makeApiClient(CoreV1Api).listNamespace(),
    (e: unknown) => e instanceof ApiException && e.code === 403,
  );
});
