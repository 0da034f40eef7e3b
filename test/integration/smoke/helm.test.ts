// helm against the test bed: `helm template` renders the one-template smoke chart for the test
// bed's Kubernetes version, and `helm install` puts it into the test kube-apiserver.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { testbed } from '../../support/testbed.ts';
import { requireListening } from './require-up.ts';

const run = promisify(execFile);
const chart = fileURLToPath(new URL('../../fixtures/smoke-chart', import.meta.url));
const suffix = randomUUID().slice(0, 8);
const namespace = `smoke-helm-${suffix}`;
const release = `smoke-${suffix}`;

async function helm(...args: string[]): Promise<string> {
  const { stdout } = await run(testbed('HELM'), args, { timeout: 60_000 });
  return stdout;
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(testbed('KUBECTL'), ['--kubeconfig', testbed('KUBECONFIG'), ...args], {
    timeout: 30_000,
  });
  return stdout;
}

before(async () => {
  await requireListening('k8s', testbed('KUBE_APISERVER'));
});

after(async () => {
  await helm('uninstall', release, '-n', namespace, '--kubeconfig', testbed('KUBECONFIG')).catch(() => {});
  await kubectl('delete', 'namespace', namespace, '--wait=false').catch(() => {});
});

test('helm template renders the chart for the test bed Kubernetes version', async () => {
  const kubeVersion = testbed('K8S_VERSION');
  const out = await helm('template', 'demo', chart, '--kube-version', kubeVersion, '--set', 'message=templated');
  const docs = parseAllDocuments(out).map((d) => d.toJS());
  assert.equal(docs.length, 1);
  assert.equal(docs[0].kind, 'ConfigMap');
  assert.equal(docs[0].metadata.name, 'demo-smoke');
  assert.deepEqual(docs[0].data, { message: 'templated', kubeVersion });
  // Without --kube-version helm assumes v1.20, which the chart's kubeVersion constraint refuses.
  await assert.rejects(helm('template', 'demo', chart), /kubeVersion|incompatible/i);
});

test('helm install puts the chart into the test apiserver', { timeout: 120_000 }, async () => {
  const kubeconfig = testbed('KUBECONFIG');
  await helm(
    'install',
    release,
    chart,
    '-n',
    namespace,
    '--create-namespace',
    '--kubeconfig',
    kubeconfig,
    '--set',
    'message=installed',
  );

  const cm = JSON.parse(await kubectl('get', 'configmap', `${release}-smoke`, '-n', namespace, '-o', 'json'));
  assert.equal(cm.data.message, 'installed');
  assert.equal(cm.data.kubeVersion, testbed('K8S_VERSION'), 'helm read the version from the apiserver');
  assert.equal(cm.metadata.labels['app.kubernetes.io/managed-by'], 'Helm');

  const releases = JSON.parse(await helm('list', '-n', namespace, '--kubeconfig', kubeconfig, '-o', 'json'));
  assert.deepEqual(
    releases.map((r: { name: string; status: string }) => [r.name, r.status]),
    [[release, 'deployed']],
  );

  await helm('uninstall', release, '-n', namespace, '--kubeconfig', kubeconfig);
  await assert.rejects(kubectl('get', 'configmap', `${release}-smoke`, '-n', namespace), /NotFound|not found/);
});
