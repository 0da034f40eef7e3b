// values.schema.json: bad values fail `helm template` / `helm install` with a message naming the
// value, before anything reaches the cluster; good ones pass.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHART_DIR, find, helm, kubectl, kubeVersion, parseManifests } from './tools.ts';

function template(args: string[]) {
  return helm(['template', 'rel', CHART_DIR, '--kube-version', kubeVersion(), ...args]);
}

const BAD: { args: string[]; message: RegExp }[] = [
  { args: ['--set', 'replicaCount=-1'], message: /replicaCount.*minimum/ },
  { args: ['--set', 'replicaCount=2', '--set', 'leaderElection.enabled=false'], message: /leaderElection\/enabled/ },
  { args: ['--set', 'image.pullPolicy=Sometimes'], message: /image\/pullPolicy/ },
  { args: ['--set', 'imagePullPolicy=Always'], message: /additional properties 'imagePullPolicy'/ },
  { args: ['--set', 'watchNamespaces={Not_A_Namespace}'], message: /watchNamespaces\/0/ },
  { args: ['--set-string', 'crds.install=yes'], message: /crds\/install.*boolean/ },
  { args: ['--set', 'resources.limits.memory=lots'], message: /resources\/limits\/memory/ },
  { args: ['--set', 'metrics.serviceMonitor.interval=30'], message: /serviceMonitor\/interval/ },
  { args: ['--set', 'logLevel=verbose'], message: /logLevel/ },
  { args: ['--set', 'httpPort=70000'], message: /httpPort.*maximum/ },
  { args: ['--set', 'podSecurityContext.runAsNonRoot=false'], message: /runAsNonRoot/ },
  { args: ['--set', 'dashboards.labels.grafana_dashboard=1'], message: /grafana_dashboard.*string/ },
  // Without a name, the operator would run as (and its ClusterRole be bound to) the namespace's
  // `default` ServiceAccount, lending every other pod there the operator's rights, Secrets included.
  { args: ['--set', 'serviceAccount.create=false'], message: /serviceAccount\/name/ },
  // The ServiceMonitor scrapes the operator through the metrics Service: without it there would be no
  // ServiceMonitor, yet the PrometheusRule would carry DorisSinkerOperatorNoLeader, firing for ever.
  {
    args: ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.service.enabled=false'],
    message: /metrics\/service\/enabled/,
  },
  // The chart's own pod labels: the Deployment's selector and the Service select on them; a podLabels
  // key of the same name would be a duplicate key in the pod template, replacing them.
  ...['name', 'instance', 'component'].map((k) => ({
    args: ['--set-string', `podLabels.app\\.kubernetes\\.io/${k}=other`],
    message: new RegExp(`podLabels/app\\.kubernetes\\.io~1${k}`),
  })),
];

for (const { args, message } of BAD) {
  test(`values.schema.json refuses ${args.filter((a) => !a.startsWith('--')).join(' ')}`, () => {
    const r = template(args);
    assert.notEqual(r.status, 0, `helm template accepted ${args.join(' ')}`);
    assert.match(r.stderr, /values don't meet the specifications of the schema/);
    assert.match(r.stderr, message);
  });
}

test('values.schema.json accepts the documented variations', () => {
  for (const args of [
    [],
    ['--set', 'replicaCount=3', '--set', 'watchNamespaces={team-a,team-b}'],
    ['--set', 'replicaCount=0', '--set', 'leaderElection.enabled=false', '--set', 'crds.install=false'],
    ['--set', 'resources.limits.cpu=500m', '--set', 'resources.limits.memory=1Gi', '--set-string', 'image.tag=0.2.0'],
    ['--set', 'metrics.podMonitor.enabled=true', '--set', 'metrics.podMonitor.interval=15s'],
    ['--set', 'extraEnv[0].name=NODE_OPTIONS', '--set', 'extraEnv[0].value=--max-old-space-size=200'],
    ['--set-string', 'podLabels.team=a', '--set-string', 'podLabels.app\\.kubernetes\\.io/part-of=x'],
    ['--set', 'serviceAccount.create=false', '--set', 'serviceAccount.name=dso-operator'],
  ]) {
    const r = template(args);
    assert.equal(r.status, 0, `helm template ${args.join(' ')}: ${r.stderr}`);
  }
});

test('helm install with a bad value fails before creating anything', () => {
  const ns = `chart-bad-${randomBytes(3).toString('hex')}`;
  const r = helm(['install', 'bad', CHART_DIR, '-n', ns, '--set', 'replicaCount=-1']);
  assert.notEqual(r.status, 0, 'helm install accepted replicaCount=-1');
  assert.match(r.stderr, /replicaCount/);
  // The namespace was never created (no --create-namespace needed to tell: nothing was sent).
  const get = kubectl(['get', 'namespace', ns]);
  assert.notEqual(get.status, 0);
  assert.match(get.stderr, /not found/);
});

test('an image tag YAML reads as a number in a values file is refused, not rendered as another tag', () => {
  // YAML reads 1.10 as the number 1.1 and Helm renders 20241125 as 2.0241125e+07: either would run
  // another image than the one named. --set keeps what was typed (a string, or an integer).
  const dir = mkdtempSync(join(tmpdir(), 'dso-tag-'));
  try {
    for (const [key, value] of [
      ['image', '1.10'],
      ['sinkerImage', '20241125'],
    ] as const) {
      const file = join(dir, `${key}.yaml`);
      writeFileSync(file, `${key}:\n  tag: ${value}\n`);
      const r = template(['-f', file]);
      assert.notEqual(
        r.status,
        0,
        `a values file with ${key}.tag: ${value} was rendered:\n${r.stdout.match(/.*image.*/g)}`,
      );
      assert.match(r.stderr, new RegExp(`${key}\\.tag`));
      assert.match(r.stderr, /quote/);
    }
    const file = join(dir, 'quoted.yaml');
    writeFileSync(file, 'image:\n  tag: "1.10"\nsinkerImage:\n  tag: "20241125"\n');
    const quoted = template(['-f', file]);
    assert.equal(quoted.status, 0, quoted.stderr);
    const container = find(parseManifests(quoted.stdout), 'Deployment').spec.template.spec.containers[0];
    assert.equal(container.image, 'doris-sinker-operator:1.10');
    assert.ok(container.env.some((e: { name: string; value?: string }) => e.value === 'doris-sinker:20241125'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // From --set, digits stay as typed.
  const set = template(['--set', 'image.tag=20241125', '--set', 'sinkerImage.tag=1.10']);
  assert.equal(set.status, 0, set.stderr);
  const container = find(parseManifests(set.stdout), 'Deployment').spec.template.spec.containers[0];
  assert.equal(container.image, 'doris-sinker-operator:20241125');
  assert.ok(container.env.some((e: { name: string; value?: string }) => e.value === 'doris-sinker:1.10'));
});
