// The chart as rendered: `helm lint`, `helm template` validated by the test bed's apiserver
// (`kubectl apply --dry-run=server`), and the properties the chart promises (security context,
// least-privilege RBAC, CRD upgrade policy, monitoring objects gated by values and API presence).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { minimalSink } from '../../../operator/api/example.ts';
import { desiredObjects } from '../../../operator/desired/objects.ts';
import { CHART_DIR, find, helm, type K8sObject, kubectl, kubeVersion, renderChart } from './tools.ts';

const MONITORING = 'monitoring.coreos.com/v1';

function dryRunServer(objs: K8sObject[]): string {
  const text = objs.map((o) => JSON.stringify(o)).join('\n');
  const r = kubectl(['apply', '--dry-run=server', '-f', '-'], text);
  assert.equal(r.status, 0, `kubectl apply --dry-run=server refused the rendered chart:\n${r.stderr}`);
  return r.stdout;
}

test('helm lint passes with default and non-default values', () => {
  for (const set of [[], ['replicaCount=3', 'watchNamespaces={default,kube-public}', 'crds.install=false']]) {
    const args = ['lint', CHART_DIR, '--strict', '--kube-version', kubeVersion()];
    for (const s of set) args.push('--set', s);
    const r = helm(args);
    assert.equal(r.status, 0, `helm lint ${set.join(' ')}:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('helm template with default values is accepted by the apiserver (dry run)', () => {
  const objs = renderChart({ namespace: 'default' });
  const kinds = objs.map((o) => o.kind).sort();
  for (const k of [
    'ClusterRole',
    'ClusterRoleBinding',
    'ConfigMap',
    'CustomResourceDefinition',
    'Deployment',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
  ]) {
    assert.ok(kinds.includes(k), `default render lacks a ${k}: ${kinds.join(', ')}`);
  }
  const out = dryRunServer(objs);
  assert.match(out, /deployment\.apps\/rel-doris-sinker-operator (created|configured|unchanged) \(server dry run\)/);
  assert.match(out, /customresourcedefinition\.apiextensions\.k8s\.io\/dorissinks\.dorissinker\.io/);
});

test('helm template with several replicas and watched namespaces is accepted by the apiserver (dry run)', () => {
  const objs = renderChart({
    namespace: 'default',
    set: ['replicaCount=3', 'watchNamespaces={default,kube-public}', 'crds.install=false', 'dashboards.enabled=false'],
  });
  dryRunServer(objs);
  assert.equal(find(objs, 'Deployment').spec.replicas, 3);
  assert.ok(!objs.some((o) => o.kind === 'CustomResourceDefinition'), 'crds.install=false still renders the CRD');
  assert.ok(!objs.some((o) => o.kind === 'ClusterRoleBinding'), 'watched namespaces must not bind cluster-wide');
  const bindings = objs.filter((o) => o.kind === 'RoleBinding' && o.roleRef.kind === 'ClusterRole');
  assert.deepEqual(bindings.map((b) => b.metadata.namespace).sort(), ['default', 'kube-public']);
  const env = find(objs, 'Deployment').spec.template.spec.containers[0].env as { name: string; value?: string }[];
  assert.equal(env.find((e) => e.name === 'WATCH_NAMESPACES')?.value, 'default,kube-public');
  assert.equal(env.find((e) => e.name === 'LEADER_ELECTION')?.value, 'true');
});

test('the operator Deployment runs non-root on a read-only root filesystem, with probes and a metrics port', () => {
  const objs = renderChart({ set: ['image.tag=1.2.3', 'sinkerImage.repository=reg/sinker', 'sinkerImage.tag=9'] });
  const pod = find(objs, 'Deployment').spec.template.spec;
  const c = pod.containers[0];
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.notEqual(pod.securityContext.runAsUser, 0);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.image, 'doris-sinker-operator:1.2.3');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.readinessProbe.httpGet.port, 'http');
  assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  const env = Object.fromEntries((c.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
  assert.equal(env.SINKER_IMAGE, 'reg/sinker:9');
  assert.equal(env.HTTP_PORT, '8080');
  assert.equal(env.WATCH_NAMESPACES, '');
  assert.equal(pod.serviceAccountName, 'rel-doris-sinker-operator');
  const svc = find(objs, 'Service');
  assert.deepEqual(svc.spec.selector, find(objs, 'Deployment').spec.selector.matchLabels);
});

test('hostNetwork: the operator joins the node network and upgrades without a surge pod (its port is a host port)', () => {
  const plain = find(renderChart({}), 'Deployment').spec;
  assert.equal(plain.template.spec.hostNetwork, undefined);
  assert.equal(plain.strategy, undefined, 'default Deployments keep the default rolling update');
  const objs = renderChart({ namespace: 'default', set: ['hostNetwork=true'] });
  dryRunServer(objs);
  const spec = find(objs, 'Deployment').spec;
  assert.equal(spec.template.spec.hostNetwork, true);
  assert.equal(spec.template.spec.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.deepEqual(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
});

test('RBAC grants exactly what the operator needs: no wildcards, Secrets read-only, Leases only in its namespace', () => {
  const objs = renderChart();
  const role = find(objs, 'ClusterRole');
  const grants = new Map<string, string[]>();
  for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
    for (const g of rule.apiGroups)
      for (const r of rule.resources) {
        assert.ok(!rule.verbs.includes('*') && r !== '*' && g !== '*', `wildcard in ${JSON.stringify(rule)}`);
        grants.set(`${g}/${r}`, [...(grants.get(`${g}/${r}`) ?? []), ...rule.verbs].sort());
      }
  }
  // Server-side apply is patch (create for a new object); delete only for OwnerReferencesPermissionEnforcement;
  // no get anywhere but Secrets and the Lease: the informers' caches answer every read.
  const rw = ['create', 'delete', 'list', 'patch', 'watch'];
  assert.deepEqual(Object.fromEntries(grants), {
    'dorissinker.io/dorissinks': ['list', 'watch'],
    // status by server-side apply; the scale subresource is for HPAs and kubectl, not the operator
    'dorissinker.io/dorissinks/status': ['patch'],
    // blockOwnerDeletion on the children, under OwnerReferencesPermissionEnforcement
    'dorissinker.io/dorissinks/finalizers': ['update'],
    '/configmaps': rw,
    '/services': rw,
    'apps/deployments': rw,
    'policy/poddisruptionbudgets': rw,
    // read by name only: no list/watch, so the operator never holds the cluster's other Secrets
    '/secrets': ['get'],
    // core/v1 Events, created (never patched: no event series)
    '/events': ['create'],
    // a sink's pods, listed by its selector while none is ready (crash-loop check); not watched
    '/pods': ['list'],
  });
  const lease = find(objs, 'Role');
  assert.equal(lease.metadata.namespace, 'dso');
  assert.deepEqual(
    lease.rules.map((r: { resources: string[] }) => r.resources),
    [['leases'], ['leases']],
  );
  assert.deepEqual(lease.rules[1].resourceNames, ['rel-doris-sinker-operator']);
  // the elector reads and replaces its Lease (optimistic concurrency on resourceVersion), never patches it
  assert.deepEqual(lease.rules[1].verbs, ['get', 'update']);
  const noLe = renderChart({ set: ['leaderElection.enabled=false'] });
  assert.ok(!noLe.some((o) => o.kind === 'Role'), 'no Lease permissions without leader election');
});

test('the CRD is templated behind crds.install with helm.sh/resource-policy: keep', () => {
  const crd = find(renderChart(), 'CustomResourceDefinition');
  assert.equal(crd.metadata.name, 'dorissinks.dorissinker.io');
  assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
  assert.ok(crd.spec.versions[0].subresources.scale, 'the scale subresource is part of the chart CRD');
  const without = renderChart({ set: ['crds.install=false'] });
  assert.ok(!without.some((o) => o.kind === 'CustomResourceDefinition'));
});

test('ServiceMonitor, PodMonitor and PrometheusRule need both their value and the monitoring API', () => {
  const on = ['metrics.serviceMonitor.enabled=true', 'metrics.podMonitor.enabled=true', 'prometheusRule.enabled=true'];
  const monitoringKinds = (objs: K8sObject[]) =>
    objs
      .filter((o) => o.apiVersion === MONITORING)
      .map((o) => o.kind)
      .sort();
  assert.deepEqual(monitoringKinds(renderChart({ set: on })), [], 'rendered without the monitoring API');
  assert.deepEqual(monitoringKinds(renderChart({ apiVersions: [MONITORING] })), [], 'rendered though disabled');
  const objs = renderChart({ set: on, apiVersions: [MONITORING] });
  assert.deepEqual(monitoringKinds(objs), ['PodMonitor', 'PrometheusRule', 'ServiceMonitor']);

  const rule = find(objs, 'PrometheusRule');
  const file = parse(readFileSync(join(CHART_DIR, 'files', 'alerts.yaml'), 'utf8'));
  assert.deepEqual(rule.spec, file, 'the PrometheusRule must carry files/alerts.yaml verbatim');
  // Without the operator's ServiceMonitor, the alert that fires on "no operator series" stays out.
  const unscraped = find(
    renderChart({ set: ['prometheusRule.enabled=true'], apiVersions: [MONITORING] }),
    'PrometheusRule',
  ).spec as typeof file;
  assert.deepEqual(
    unscraped,
    { groups: file.groups.filter((g: { name: string }) => g.name !== 'doris-sinker-operator-presence') },
    'without the ServiceMonitor: every group but the presence group, verbatim',
  );
  assert.ok(file.groups.some((g: { name: string }) => g.name === 'doris-sinker-operator-presence'));

  const sm = find(objs, 'ServiceMonitor');
  const svcLabels = find(objs, 'Service').metadata.labels ?? {};
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels as Record<string, string>)) {
    assert.equal(svcLabels[k], v, `ServiceMonitor selects ${k}=${v}, which the metrics Service lacks`);
  }
  assert.equal(sm.spec.endpoints[0].port, find(objs, 'Service').spec.ports[0].name);
  // Per-sink operator series carry the sink's namespace; Prometheus must not rename it.
  assert.equal(sm.spec.endpoints[0].honorLabels, true);
  const pm = find(objs, 'PodMonitor');
  // The labels and port the operator puts on sinker pods (operator/desired).
  assert.deepEqual(pm.spec.selector.matchLabels, {
    'app.kubernetes.io/name': 'doris-sinker',
    'app.kubernetes.io/component': 'sinker',
  });
  assert.equal(pm.spec.podMetricsEndpoints[0].port, 'metrics');
  assert.deepEqual(pm.spec.namespaceSelector, { any: true });
});

test('the PodMonitor port is declared by sinker pods except host-network ones, and the README says so', () => {
  const port = find(renderChart({ set: ['metrics.podMonitor.enabled=true'], apiVersions: [MONITORING] }), 'PodMonitor')
    .spec.podMetricsEndpoints[0].port;
  const declared = (hostNetwork: boolean) => {
    const sink = minimalSink();
    if (hostNetwork) sink.spec.podTemplate = { hostNetwork: true };
    const pod = desiredObjects({ sink, defaultImage: 'img', replicas: 1, secretVersions: {} }).deployment.spec?.template
      .spec;
    return (pod?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.name));
  };
  assert.deepEqual(declared(false), [port]);
  // On the host network each sinker binds a free port and names none: the PodMonitor cannot find them.
  assert.deepEqual(declared(true), []);
  const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  const claim = readme.match(/The PodMonitor scrapes .*?\.(?= [A-Z])/)?.[0] ?? '';
  assert.doesNotMatch(claim, /every sinker pod/, 'the README must not promise every sinker pod');
  assert.match(claim, /hostNetwork/, 'the README must say host-network sinkers are not scraped');
});

test('dashboards are ConfigMaps with the Grafana sidecar label and valid dashboard JSON', () => {
  const objs = renderChart({ set: ['dashboards.namespace=monitoring'] });
  const cms = objs.filter((o) => o.kind === 'ConfigMap');
  assert.ok(cms.length >= 1, 'no dashboard ConfigMap');
  for (const cm of cms) {
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    assert.equal(cm.metadata.namespace, 'monitoring');
    for (const [key, text] of Object.entries(cm.data as Record<string, string>)) {
      const dash = JSON.parse(text) as { title: string; panels: unknown[]; uid: string };
      assert.ok(dash.title && dash.uid && dash.panels.length > 0, `${key} is not a dashboard`);
    }
  }
  const off = renderChart({ set: ['dashboards.enabled=false'] });
  assert.ok(!off.some((o) => o.kind === 'ConfigMap'));
});

test('NOTES.txt tells where the operator runs, the CRD policy, and when monitoring objects were left out', () => {
  const r = helm([
    'install',
    'notes',
    CHART_DIR,
    '-n',
    'notes-ns',
    '--dry-run=client',
    '--set',
    'prometheusRule.enabled=true',
    '--set',
    'watchNamespaces={team-a}',
    // The CRD exists on the test bed, unowned by Helm: even a dry-run install refuses to adopt it.
    '--set',
    'crds.install=false',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
  assert.match(notes, /Watching DorisSinks in: team-a/);
  assert.match(notes, /Lease notes-ns\/notes-doris-sinker-operator/);
  assert.match(notes, /did not install the DorisSink CRD/);
  assert.match(notes, /does not serve monitoring\.coreos\.com\/v1/);
});
