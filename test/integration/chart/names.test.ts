// Object names of a release: the usual Helm convention (`<release>-<chart>`, or the release name alone
// when it already contains the chart's name; nameOverride and fullnameOverride), the chart's name at
// most once in any name, and every name within 63 characters (a Service name is a DNS label) whatever
// the release name Helm accepts (up to 53 characters).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { find, type K8sObject, kubectl, renderChart } from './tools.ts';

const CHART = 'doris-sinker-operator';

/** `Kind name` of every object the release owns by name (the CRD's name is fixed by its group). */
function names(objs: K8sObject[]): string[] {
  return objs
    .filter((o) => o.kind !== 'CustomResourceDefinition')
    .map((o) => `${o.kind} ${o.metadata.name}`)
    .sort();
}

/** The names a release whose fullname is `base` gets with the default values. */
function expected(base: string): string[] {
  return [
    `ClusterRole ${base}`,
    `ClusterRole ${base}-edit`,
    `ClusterRole ${base}-view`,
    `ClusterRoleBinding ${base}`,
    `ConfigMap ${base}-dashboard-operator`,
    `ConfigMap ${base}-dashboard-sinker`,
    `Deployment ${base}`,
    `Role ${base}-leader-election`,
    `RoleBinding ${base}-leader-election`,
    `Service ${base}-metrics`,
    `ServiceAccount ${base}`,
  ].sort();
}

function leaseName(objs: K8sObject[]): string | undefined {
  const env = find(objs, 'Deployment').spec.template.spec.containers[0].env as { name: string; value?: string }[];
  return env.find((e) => e.name === 'LEADER_ELECTION_LEASE')?.value;
}

for (const [release, base] of [
  // Named like the chart (as skaffold.yaml and the chart README install it): no doubling.
  [CHART, CHART],
  [`prod-${CHART}`, `prod-${CHART}`],
  ['rel', `rel-${CHART}`],
  // The release name does not contain the chart's name: the convention appends it.
  ['doris-sinker', `doris-sinker-${CHART}`],
] as const) {
  test(`release ${release}: objects are named ${base}[-suffix], the chart's name at most once`, () => {
    const objs = renderChart({ release });
    assert.deepEqual(names(objs), expected(base));
    assert.equal(leaseName(objs), base);
    assert.equal(find(objs, 'Deployment').spec.template.spec.serviceAccountName, base);
    for (const n of names(objs)) {
      assert.ok(n.split(CHART).length - 1 <= 1, `${n} repeats the chart's name`);
    }
  });
}

test('fullnameOverride names every object; nameOverride replaces the chart name and the name label', () => {
  assert.deepEqual(names(renderChart({ set: ['fullnameOverride=dso'] })), expected('dso'));
  const objs = renderChart({ release: 'rel', set: ['nameOverride=op'] });
  assert.deepEqual(names(objs), expected('rel-op'));
  assert.equal(find(objs, 'Deployment').spec.selector.matchLabels['app.kubernetes.io/name'], 'op');
});

test('a 53-character release name (Helm longest) keeps every name within 63 characters, suffixes intact', () => {
  const release = `r${'x'.repeat(51)}9`;
  assert.equal(release.length, 53);
  const objs = renderChart({ release, namespace: 'default', set: ['watchNamespaces={default,kube-public}'] });
  for (const o of objs) {
    assert.ok(o.metadata.name.length <= 63, `${o.kind} ${o.metadata.name} has ${o.metadata.name.length} characters`);
    assert.doesNotMatch(o.metadata.name, /-$|--/, `${o.kind} ${o.metadata.name}`);
  }
  const svc = find(objs, 'Service').metadata.name as string;
  assert.match(svc, /-metrics$/);
  assert.match(find(objs, 'Role').metadata.name, /-leader-election$/);
  const dashboards = objs.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name as string);
  assert.equal(new Set(dashboards).size, 2, `dashboard ConfigMaps share a name: ${dashboards.join(', ')}`);
  for (const d of dashboards) assert.match(d, /-dashboard-(sinker|operator)$/);
  // The apiserver takes every object (a Service name over 63 characters is refused).
  const r = kubectl(['apply', '--dry-run=server', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
  assert.equal(r.status, 0, `the apiserver refused the release's objects:\n${r.stderr}`);
});

test("two releases' dashboard ConfigMaps hold different file names (the Grafana sidecar's folder is shared)", () => {
  // The sidecar writes each data key as a file of one folder for the whole cluster, and deletes the
  // files a deleted ConfigMap named: with equal keys, uninstalling (or renaming) one release's
  // dashboards removed the other's from Grafana.
  const keys = (release: string) =>
    renderChart({ release })
      .filter((o) => o.kind === 'ConfigMap')
      .flatMap((o) => Object.keys(o.data as Record<string, string>));
  const a = keys('team-a');
  const b = keys('team-b');
  assert.equal(a.length, 2);
  assert.deepEqual(
    a.filter((k) => b.includes(k)),
    [],
    `shared file names: ${a.join(', ')}`,
  );
  assert.deepEqual(a.sort(), [
    'team-a-doris-sinker-operator-dashboard-operator.json',
    'team-a-doris-sinker-operator-dashboard-sinker.json',
  ]);
});
