// `helm install`, `helm upgrade` carrying a CRD change, `helm uninstall` keeping the CRD, and another
// release adopting the kept CRD, into the test bed's apiserver. Other tests share that apiserver and its dorissinks.dorissinker.io CRD, so
// this one installs a copy of the chart whose CRD is renamed into a throwaway API group
// (<id>.test.dorissinker.io): the same template and the same upgrade policy, without touching the
// CRD the operator tests use.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { CHART_DIR, helm, kubectl } from './tools.ts';

const ID = randomBytes(3).toString('hex');
const NS = `chart-${ID}`;
const RELEASE = `it-${ID}`;
/** A second release that takes over the CRD the first one left behind. */
const SUCCESSOR = `it2-${ID}`;
const GROUP = `t${ID}.test.dorissinker.io`;
const CRD = `dorissinks.${GROUP}`;
const CRD_TEMPLATE = join('templates', 'crd-dorissinks.yaml');
const work = mkdtempSync(join(tmpdir(), 'dso-chart-'));

/** A copy of the chart with its CRD moved to GROUP; `edit` may change the CRD object. */
function chartCopy(name: string, version: string, edit?: (crd: CrdDoc) => void): string {
  const dir = join(work, name);
  cpSync(CHART_DIR, dir, { recursive: true });
  const path = join(dir, CRD_TEMPLATE);
  const lines = readFileSync(path, 'utf8').split('\n');
  // The generated template is `{{- if .Values.crds.install }}`, the CRD, `{{- end }}`.
  const open = lines.findIndex((l) => l.startsWith('{{- if .Values.crds.install }}'));
  const close = lines.findLastIndex((l) => l.startsWith('{{- end }}'));
  assert.ok(open >= 0 && close > open, `${CRD_TEMPLATE} is not wrapped in {{- if .Values.crds.install }}`);
  const crd = parse(lines.slice(open + 1, close).join('\n')) as CrdDoc;
  crd.metadata.name = CRD;
  crd.spec.group = GROUP;
  // Short names and categories would make `kubectl get dsink` ambiguous for tests running alongside.
  delete crd.spec.names.shortNames;
  delete crd.spec.names.categories;
  edit?.(crd);
  writeFileSync(
    path,
    [...lines.slice(0, open + 1), stringify(crd, { lineWidth: 0 }), ...lines.slice(close)].join('\n'),
  );
  const chartYaml = join(dir, 'Chart.yaml');
  writeFileSync(chartYaml, readFileSync(chartYaml, 'utf8').replace(/^version: .*$/m, `version: ${version}`));
  return dir;
}

interface CrdDoc {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: {
    group: string;
    names: { shortNames?: string[]; categories?: string[] };
    versions: { name: string; schema: { openAPIV3Schema: { properties: Record<string, SchemaNode> } } }[];
  };
}
interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
}

function must(r: { status: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.status, 0, `${what} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function servedSpecProperties(): Record<string, SchemaNode> {
  const crd = JSON.parse(must(kubectl(['get', 'crd', CRD, '-o', 'json']), `kubectl get crd ${CRD}`)) as CrdDoc;
  const v = crd.spec.versions.find((x) => x.name === 'v1alpha1');
  assert.ok(v, `${CRD} serves no v1alpha1`);
  return v.schema.openAPIV3Schema.properties.spec?.properties ?? {};
}

/** A minimal sink of the throwaway group, with `extra` merged into its spec. */
function sink(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: `${GROUP}/v1alpha1`,
    kind: 'DorisSink',
    metadata: { name: 'probe', namespace: NS },
    spec: {
      kafka: { brokers: ['kafka:9092'], topic: 'events' },
      doris: { feHosts: ['doris-fe:8030'], database: 'analytics', table: 'tb_event' },
      dedupe: { redisUrlSecretRef: { name: 'redis', key: 'url' } },
      ...extra,
    },
  });
}

let v1 = '';
let v2 = '';
before(() => {
  v1 = chartCopy('v1', '0.1.0');
  v2 = chartCopy('v2', '0.1.1', (crd) => {
    const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec;
    assert.ok(spec?.properties, 'chart CRD has no spec properties');
    spec.properties.upgradeProbe = { type: 'string', description: 'Added by the chart upgrade test.' };
  });
});

after(() => {
  helm(['uninstall', RELEASE, '-n', NS]);
  helm(['uninstall', SUCCESSOR, '-n', NS]);
  kubectl(['delete', 'crd', CRD, '--ignore-not-found', '--wait=false']);
  kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  rmSync(work, { recursive: true, force: true });
});

test('helm install creates the operator, its RBAC and the CRD, which serves DorisSinks', () => {
  must(
    helm(['install', RELEASE, v1, '-n', NS, '--create-namespace', '--set', 'metrics.serviceMonitor.enabled=true']),
    'helm install',
  );
  const status = JSON.parse(must(helm(['status', RELEASE, '-n', NS, '-o', 'json']), 'helm status')) as {
    info: { status: string };
    version: number;
  };
  assert.equal(status.info.status, 'deployed');
  assert.equal(status.version, 1);
  must(kubectl(['-n', NS, 'get', 'deployment', `${RELEASE}-doris-sinker-operator`]), 'the operator Deployment');
  must(kubectl(['get', 'clusterrole', `${RELEASE}-doris-sinker-operator`]), 'the ClusterRole');
  const crd = JSON.parse(must(kubectl(['get', 'crd', CRD, '-o', 'json']), 'the CRD')) as CrdDoc & {
    metadata: { labels?: Record<string, string> };
  };
  assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
  assert.equal(crd.metadata.annotations?.['meta.helm.sh/release-name'], RELEASE, 'the CRD is owned by the release');
  // No monitoring API on the test bed: the enabled ServiceMonitor is left out, not failed on.
  const manifest = must(helm(['get', 'manifest', RELEASE, '-n', NS]), 'helm get manifest');
  assert.doesNotMatch(manifest, /kind: ServiceMonitor/);
  // The CRD is established and refuses a field it does not define (kubectl validates strictly).
  must(kubectl(['wait', '--for=condition=Established', `crd/${CRD}`, '--timeout=30s']), 'CRD established');
  must(kubectl(['apply', '--dry-run=server', '-f', '-'], sink()), 'a valid DorisSink');
  // The chart's example (skaffold's dev profile applies it) is valid against the CRD.
  const example = readFileSync(join(CHART_DIR, 'examples', 'dorissink.yaml'), 'utf8').replace(
    /^apiVersion: dorissinker\.io\//m,
    `apiVersion: ${GROUP}/`,
  );
  assert.match(example, new RegExp(`apiVersion: ${GROUP.replace(/\./g, '\\.')}/v1alpha1`));
  const applied = must(kubectl(['apply', '-n', NS, '--dry-run=server', '-f', '-'], example), 'examples/dorissink.yaml');
  assert.match(applied, /dorissink\.\S+\/tb-event created \(server dry run\)/);
  const refused = kubectl(['apply', '--dry-run=server', '-f', '-'], sink({ upgradeProbe: 'x' }));
  assert.notEqual(refused.status, 0, 'spec.upgradeProbe accepted before the upgrade added it');
  assert.match(refused.stderr, /unknown field "spec\.upgradeProbe"/);
  assert.ok(!('upgradeProbe' in servedSpecProperties()));
});

test('helm upgrade carries a CRD schema change to the served CRD', () => {
  must(helm(['upgrade', RELEASE, v2, '-n', NS, '--set', 'replicaCount=2']), 'helm upgrade');
  const status = JSON.parse(must(helm(['status', RELEASE, '-n', NS, '-o', 'json']), 'helm status')) as {
    info: { status: string };
    version: number;
  };
  assert.equal(status.version, 2);
  assert.equal(status.info.status, 'deployed');
  assert.deepEqual(servedSpecProperties().upgradeProbe, {
    type: 'string',
    description: 'Added by the chart upgrade test.',
  });
  must(kubectl(['wait', '--for=condition=Established', `crd/${CRD}`, '--timeout=30s']), 'CRD established');
  must(kubectl(['apply', '-f', '-'], sink({ upgradeProbe: 'after-upgrade' })), 'a DorisSink using the new field');
  const replicas = must(
    kubectl(['-n', NS, 'get', 'deployment', `${RELEASE}-doris-sinker-operator`, '-o', 'jsonpath={.spec.replicas}']),
    'replicas',
  );
  assert.equal(replicas, '2');
});

test('helm uninstall keeps the CRD and the DorisSinks (helm.sh/resource-policy: keep)', () => {
  must(helm(['uninstall', RELEASE, '-n', NS]), 'helm uninstall');
  const gone = kubectl(['-n', NS, 'get', 'deployment', `${RELEASE}-doris-sinker-operator`]);
  assert.notEqual(gone.status, 0, 'the operator Deployment survived helm uninstall');
  must(kubectl(['get', 'crd', CRD]), 'the CRD after uninstall');
  const probe = must(
    kubectl(['-n', NS, 'get', `dorissinks.${GROUP}`, 'probe', '-o', 'jsonpath={.spec.upgradeProbe}']),
    'the sink',
  );
  assert.equal(probe, 'after-upgrade');
});

test("after helm uninstall, another release adopts the kept CRD with the README's commands; crds.install=false then leaves it", () => {
  // The adoption step as the chart README writes it, for this test's CRD, release and namespace.
  const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8').replace(/\s*\n\s*/g, ' ');
  const steps = [...readme.matchAll(/`(kubectl (?:label|annotate) crd [^`]+)`/g)].map((m) => m[1] as string);
  assert.equal(steps.length, 2, `the README's adoption step: ${steps.join(' | ')}`);
  for (const step of steps) {
    const args = step
      .replace('dorissinks.dorissinker.io', CRD)
      .replace('=RELEASE', `=${SUCCESSOR}`)
      .replace('=NAMESPACE', `=${NS}`)
      .split(' ')
      .slice(1);
    must(kubectl(args), step);
  }
  must(helm(['install', SUCCESSOR, v2, '-n', NS, '--set', 'replicaCount=0']), 'helm install of the successor');
  const owner = must(
    kubectl(['get', 'crd', CRD, '-o', 'jsonpath={.metadata.annotations.meta\\.helm\\.sh/release-name}']),
    'the CRD owner',
  );
  assert.equal(owner, SUCCESSOR);
  // Dropping the CRD from the release would make Helm delete it (and every DorisSink): the keep
  // policy leaves both.
  must(helm(['upgrade', SUCCESSOR, v2, '-n', NS, '--reuse-values', '--set', 'crds.install=false']), 'helm upgrade');
  assert.doesNotMatch(must(helm(['get', 'manifest', SUCCESSOR, '-n', NS]), 'manifest'), /CustomResourceDefinition/);
  must(kubectl(['get', 'crd', CRD]), 'the CRD after crds.install=false');
  const probe = must(
    kubectl(['-n', NS, 'get', `dorissinks.${GROUP}`, 'probe', '-o', 'jsonpath={.spec.upgradeProbe}']),
    'the sink',
  );
  assert.equal(probe, 'after-upgrade');
});
