// The operator runs with exactly the chart's ClusterRole (bound in one namespace, as the chart does
// for watchNamespaces) against the RBAC-enforcing apiserver, and fails without it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1Deployment,
  type V1Role,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { minimalSink } from '../../../operator/api/example.ts';
import { Controller } from '../../../operator/controller/controller.ts';
import { kubeLeaseStore, LeaderElector } from '../../../operator/controller/leader.ts';
import { OperatorMetrics } from '../../../operator/controller/metrics.ts';
import { testbed } from '../../support/testbed.ts';
import {
  applyCrd,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  patchSinkSpec,
  quietLog,
  ROOT,
  waitFor,
} from './support.ts';

const ID = randomBytes(3).toString('hex');
const ROLE = `rbac-test-${ID}`;
let admin: KubeConfig;
let ns: string;

/** The chart's objects exactly as `helm template` renders them (release "rbac"). */
function renderChart(): { kind?: string; metadata?: { name?: string } }[] {
  const r = spawnSync(
    testbed('HELM'),
    [
      'template',
      'rbac',
      join(ROOT, 'charts', 'doris-sinker-operator'),
      '--namespace',
      'default',
      '--kube-version',
      testbed('K8S_VERSION'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `helm template: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

/** The chart's ClusterRole, renamed so it can't clash with an install. */
function chartClusterRole(): V1ClusterRole {
  const role = renderChart().find((o) => o.kind === 'ClusterRole') as V1ClusterRole | undefined;
  assert.ok(role, 'the chart renders a ClusterRole');
  return { ...role, metadata: { name: ROLE } };
}

/** The chart's leader-election Role and the Lease name the chart gives the operator. */
function chartLeaderRole(): { role: V1Role; lease: string } {
  const objs = renderChart();
  const role = objs.find((o) => o.kind === 'Role') as V1Role | undefined;
  assert.ok(role, 'the chart renders a leader-election Role');
  const dep = objs.find((o) => o.kind === 'Deployment') as V1Deployment | undefined;
  const lease = dep?.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'LEADER_ELECTION_LEASE')?.value;
  assert.ok(lease, 'the chart tells the operator its Lease name');
  return { role: { ...role, metadata: { name: 'leader-election', namespace: ns } }, lease };
}

/** A kubeconfig that authenticates as `serviceaccount` with a fresh token. */
async function serviceAccountConfig(serviceaccount: string): Promise<KubeConfig> {
  const core = admin.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({
    namespace: ns,
    name: serviceaccount,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'testbed', server: testbed('KUBE_APISERVER'), caFile: testbed('KUBE_CA_FILE') }],
    users: [{ name: serviceaccount, token: tr.status?.token as string }],
    contexts: [{ name: 'sa', cluster: 'testbed', user: serviceaccount }],
    currentContext: 'sa',
  });
  return kc;
}

function controllerAs(kc: KubeConfig): Controller {
  return new Controller({
    kc,
    namespace: ns,
    defaultImage: 'doris-sinker:test',
    identity: `rbac-${ID}`,
    metrics: new OperatorMetrics(),
    log: quietLog(),
    backoffMaxMs: 500,
  });
}

before(async () => {
  admin = kubeConfig();
  await applyCrd(admin);
  ns = await freshNamespace(admin, 'rbac');
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'operator' } } });
  await admin.makeApiClient(RbacAuthorizationV1Api).createClusterRole({ body: chartClusterRole() });
  await createSecret(admin, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
  const sink = minimalSink('guarded', ns);
  delete sink.metadata.uid;
  delete sink.metadata.generation;
  sink.spec.kafka.brokers = ['127.0.0.1:1'];
  sink.spec.schema = { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] };
  await createSink(admin, sink);
});

after(async () => {
  await admin
    .makeApiClient(RbacAuthorizationV1Api)
    .deleteClusterRole({ name: ROLE })
    .catch(() => {});
  if (ns) await deleteNamespace(admin, ns);
});

test('without the chart role the operator cannot work (403 on its watches)', async () => {
  const c = controllerAs(await serviceAccountConfig('operator'));
  const started = c.start();
  try {
    const h = await waitFor('a forbidden watch', () =>
      c.health().find((x) => /403|forbidden/i.test(x.lastError ?? '')),
    );
    assert.equal(h.synced, false);
    assert.equal((await getSink(admin, ns, 'guarded')).status, undefined, 'nothing reconciled');
  } finally {
    await c.stop();
    await Promise.race([started, new Promise((r) => setTimeout(r, 100))]);
  }
});

test("with exactly the chart's ClusterRole bound in the namespace, the operator reconciles", async () => {
  await admin.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ROLE },
      subjects: [{ kind: 'ServiceAccount', name: 'operator', namespace: ns }],
    },
  });
  // RBAC changes reach the authorizer's cache asynchronously.
  const kc = await serviceAccountConfig('operator');
  await waitFor('the binding to take effect', async () =>
    (await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: ns, name: 'redis' })) ? true : undefined,
  );
  const c = controllerAs(kc);
  try {
    await c.start();
    const s = await waitFor('reconciled as the service account', async () => {
      const x = await getSink(admin, ns, 'guarded');
      return x.status?.observedGeneration === 1 ? x : undefined;
    });
    assert.equal(s.status?.schema?.columns, 1);
    const d = await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name: 'guarded' });
    assert.ok(d.metadata?.managedFields?.some((m) => m.manager === 'doris-sinker-operator'));
    // Events are allowed too: pausing scales 1 → 0 and records a Scaled event.
    await patchSinkSpec(admin, ns, 'guarded', { paused: true });
    await waitFor('a Scaled event written by the service account', async () => {
      const events = await admin.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
      return events.items.find((e) => e.reason === 'Scaled' && e.involvedObject.name === 'guarded');
    });
    assert.ok(c.health().every((h) => h.synced && !/403/.test(h.lastError ?? '')));
    // Secrets are read by name only: the role does not let the operator list (or watch) them.
    await assert.rejects(kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns }), /403|forbidden/i);
    // The sink's pods are listed (crash-loop check), not watched.
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: ns,
      labelSelector: 'dorissinker.io/sink=guarded',
    });
    assert.ok(Array.isArray(pods.items));
    await assert.rejects(
      kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace: ns, name: 'any' }),
      /403|forbidden/i,
      'no get on pods: the operator only lists them',
    );
  } finally {
    await c.stop();
  }
});

test("leader election works with the chart's Role (create, then get/update of its one Lease)", async () => {
  const { role, lease } = chartLeaderRole();
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace: ns, body: role });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'leader-election' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader-election' },
      subjects: [{ kind: 'ServiceAccount', name: 'operator', namespace: ns }],
    },
  });
  const kc = await serviceAccountConfig('operator');
  const store = kubeLeaseStore(kc.makeApiClient(CoordinationV1Api), ns, lease);
  const elector = new LeaderElector({ identity: 'sa', store, onStartedLeading: () => {}, onStoppedLeading: () => {} });
  await waitFor('lease acquired as the service account', () =>
    elector.tryAcquireOrRenew().then((ok) => ok || undefined),
  );
  assert.equal(await elector.tryAcquireOrRenew(), true, 'and renewed (update)');
  // a Lease of any other name is forbidden
  const other = kubeLeaseStore(kc.makeApiClient(CoordinationV1Api), ns, 'someone-else');
  await assert.rejects(other.get(), /403|forbidden/i);
});
