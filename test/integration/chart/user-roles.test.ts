// Users' access to DorisSinks through the cluster's built-in roles: with the chart installed, a user
// bound to `edit` (or `admin`) in a namespace may create, change, scale and delete DorisSinks there,
// and one bound to `view` may read them, as with Deployments; checked on the test bed's apiserver,
// whose controller manager folds the chart's aggregated ClusterRoles into those roles.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CHART_DIR, helm, kubectl, renderChart } from './tools.ts';

const ID = randomBytes(3).toString('hex');
const NS = `chart-users-${ID}`;
const RELEASE = `users-${ID}`;
const EDITOR = `editor-${ID}`;
const VIEWER = `viewer-${ID}`;
const SINKS = 'dorissinks.dorissinker.io';

function must(r: { status: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.status, 0, `${what} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function can(user: string, verb: string, resource: string, ...more: string[]): string {
  return kubectl(['auth', 'can-i', verb, resource, '-n', NS, '--as', user, ...more]).stdout.trim();
}

/** Polls `can-i` until it answers `want`: the aggregation controller updates the roles asynchronously. */
async function eventually(user: string, verb: string, resource: string, want: string, ...more: string[]) {
  const deadline = Date.now() + 30_000;
  let got = can(user, verb, resource, ...more);
  while (got !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    got = can(user, verb, resource, ...more);
  }
  assert.equal(got, want, `${user} can-i ${verb} ${resource} ${more.join(' ')}`);
}

before(() => {
  must(kubectl(['create', 'namespace', NS]), 'create namespace');
  for (const [user, role] of [
    [EDITOR, 'edit'],
    [VIEWER, 'view'],
  ] as const) {
    must(kubectl(['-n', NS, 'create', 'rolebinding', user, `--clusterrole=${role}`, `--user=${user}`]), role);
  }
  // The shared CRD exists on the test bed (other tests apply it): this release leaves it alone.
  must(
    helm([
      'install',
      RELEASE,
      CHART_DIR,
      '-n',
      NS,
      '--set',
      'crds.install=false',
      '--set',
      'replicaCount=0',
      '--set',
      'dashboards.enabled=false',
    ]),
    'helm install',
  );
});

after(() => {
  helm(['uninstall', RELEASE, '-n', NS]);
  kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
});

test('a namespace editor may create, change, scale and delete DorisSinks; a viewer may read them', async () => {
  for (const verb of ['create', 'update', 'patch', 'delete']) await eventually(EDITOR, verb, SINKS, 'yes');
  await eventually(EDITOR, 'update', SINKS, 'yes', '--subresource', 'scale');
  for (const verb of ['get', 'list', 'watch']) {
    await eventually(VIEWER, verb, SINKS, 'yes');
    await eventually(EDITOR, verb, SINKS, 'yes');
  }
  // The status is the operator's; a viewer changes nothing.
  assert.equal(can(EDITOR, 'patch', SINKS, '--subresource', 'status'), 'no');
  assert.equal(can(VIEWER, 'create', SINKS), 'no');
  assert.equal(can(VIEWER, 'delete', SINKS), 'no');
  // Only in the namespace the user is bound in.
  assert.equal(kubectl(['auth', 'can-i', 'create', SINKS, '-n', 'default', '--as', EDITOR]).stdout.trim(), 'no');
});

test('rbac.aggregateToDefaultRoles=false and rbac.create=false leave the built-in roles alone', () => {
  const aggregated = (set: string[]) =>
    renderChart({ set })
      .filter((o) => o.kind === 'ClusterRole')
      .filter((o) =>
        Object.keys(o.metadata.labels ?? {}).some((k) => k.startsWith('rbac.authorization.k8s.io/aggregate-to-')),
      )
      .map((o) => o.metadata.name);
  assert.deepEqual(aggregated([]), ['rel-doris-sinker-operator-view', 'rel-doris-sinker-operator-edit']);
  assert.deepEqual(aggregated(['rbac.aggregateToDefaultRoles=false']), []);
  assert.deepEqual(aggregated(['rbac.create=false']), []);
});
