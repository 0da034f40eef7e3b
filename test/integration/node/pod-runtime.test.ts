// What a container sees on the test bed's real node, as on a cluster: a pod IP on the CNI bridge
// that this machine reaches, a ServiceAccount token the kubelet projected (bound to the pod), its
// memory and CPU limits as cgroup settings, a read-only root filesystem and its non-root user.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AuthenticationV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { testbed } from '../../support/testbed.ts';
import { BASE_IMAGE, httpText, kubeConfig, loadBaseImage, requireNodeReady, waitFor } from './support.ts';

const namespace = `node-rt-${randomUUID().slice(0, 8)}`;
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);

before(async () => {
  await requireNodeReady(core);
  await loadBaseImage();
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});

after(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => {});
});

// Serves, as JSON, what the container can observe about itself.
const REPORT_SCRIPT = [
  "const fs = require('node:fs');",
  "const read = (p) => { try { return fs.readFileSync(p, 'utf8').trim(); } catch (e) { return 'error:' + e.code; } };",
  "let rootfs = 'writable';",
  "try { fs.writeFileSync('/probe', 'x'); } catch (e) { rootfs = e.code; }",
  "require('node:http').createServer((q, s) => s.end(JSON.stringify({",
  "  token: read('/var/run/secrets/tokens/token'),",
  "  memoryLimit: read('/sys/fs/cgroup/memory/memory.limit_in_bytes'),",
  "  cpuQuota: read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'),",
  '  rootfs, uid: process.getuid(),',
  '}))).listen(8080);',
].join('\n');

interface Report {
  token: string;
  memoryLimit: string;
  cpuQuota: string;
  rootfs: string;
  uid: number;
}

test('a pod on the CNI bridge: reachable at its IP, projected token, limits, read-only root', {
  timeout: 150_000,
}, async () => {
  const name = 'reporter';
  // No ServiceAccount admission plugin in the test apiserver (k8s.sh): name the account and the
  // token volume explicitly; the kubelet still requests and mounts the token itself.
  await waitFor('ServiceAccount default', () => core.readNamespacedServiceAccount({ name: 'default', namespace }));
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        serviceAccountName: 'default',
        securityContext: { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true },
        containers: [
          {
            name: 'report',
            image: BASE_IMAGE,
            imagePullPolicy: 'Never',
            command: ['node', '-e', REPORT_SCRIPT],
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
            resources: { limits: { memory: '96Mi', cpu: '250m' }, requests: { memory: '64Mi', cpu: '100m' } },
            readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
            volumeMounts: [{ name: 'token', mountPath: '/var/run/secrets/tokens', readOnly: true }],
          },
        ],
        volumes: [
          {
            name: 'token',
            projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 600 } }] },
          },
        ],
      },
    },
  });

  const pod = await waitFor(
    'pod reporter Ready',
    async () => {
      const p = await core.readNamespacedPod({ name, namespace });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    },
    120_000,
    500,
  );
  const podIP = pod.status?.podIP ?? '';
  assert.notEqual(podIP, pod.status?.hostIP, 'the pod should have its own IP on the bridge, not the host network');

  const body = await httpText(`http://${podIP}:8080/`);
  assert.ok(body, `nothing answered at the pod IP ${podIP}:8080 from this machine`);
  const report = JSON.parse(body) as Report;

  assert.equal(report.uid, 1000);
  assert.equal(report.rootfs, 'EROFS');
  assert.equal(report.memoryLimit, String(96 * 1024 * 1024));
  assert.equal(report.cpuQuota, '25000'); // 250m of a 100 ms CFS period

  // The token is one the apiserver accepts, for this ServiceAccount, bound to this pod.
  const review = await kc
    .makeApiClient(AuthenticationV1Api)
    .createTokenReview({ body: { spec: { token: report.token } } });
  assert.equal(review.status?.authenticated, true, review.status?.error);
  assert.equal(review.status?.user?.username, `system:serviceaccount:${namespace}:default`);
  assert.deepEqual(review.status?.user?.extra?.['authentication.kubernetes.io/pod-name'], [name]);
});

test('the kubelet restarts a container whose liveness probe fails and one the kernel OOM-kills', {
  timeout: 150_000,
}, async () => {
  const port = 8080;
  const container = (name: string, script: string, extra: object) => ({
    name,
    image: BASE_IMAGE,
    imagePullPolicy: 'Never' as const,
    command: ['node', '-e', script],
    ...extra,
  });
  await Promise.all([
    core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'unhealthy' },
        spec: {
          containers: [
            container(
              'c',
              `require('node:http').createServer((q, s) => { s.statusCode = 500; s.end(); }).listen(${port});`,
              {
                livenessProbe: { httpGet: { path: '/', port }, periodSeconds: 1, failureThreshold: 2 },
              },
            ),
          ],
          terminationGracePeriodSeconds: 2,
        },
      },
    }),
    core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'hungry' },
        spec: {
          containers: [
            // Touches 512 MiB in 16 MiB steps under a 96 MiB limit.
            container(
              'c',
              'const k = []; for (let i = 0; i < 32; i++) k.push(Buffer.alloc(16 << 20, 1)); setInterval(() => {}, 1000);',
              {
                resources: { limits: { memory: '96Mi' } },
              },
            ),
          ],
        },
      },
    }),
  ]);
  const restarted = (name: string) =>
    waitFor(
      `a restart of ${name}`,
      async () => {
        const p = await core.readNamespacedPod({ name, namespace });
        const c = p.status?.containerStatuses?.[0];
        return (c?.restartCount ?? 0) >= 1 ? c : undefined;
      },
      120_000,
      500,
    );
  const [unhealthy, hungry] = await Promise.all([restarted('unhealthy'), restarted('hungry')]);
  // Killed by the kubelet: node runs as PID 1 with no SIGTERM handler, so the kernel drops the
  // SIGTERM and the kubelet's SIGKILL after the 2 s grace period ends it (128 + 9).
  assert.equal(unhealthy.lastState?.terminated?.exitCode, 137);
  assert.equal(hungry.lastState?.terminated?.reason, 'OOMKilled');
});

test('a hostNetwork pod reaches the apiserver with its ServiceAccount token; its log comes back through the kubelet', {
  timeout: 150_000,
}, async () => {
  // What an in-cluster client (the operator) does: token + CA from the pod's files, the apiserver
  // from KUBERNETES_SERVICE_HOST/PORT. No kube-proxy runs here, so the pod names the apiserver's
  // loopback address itself (its own env wins over the kubelet's service variables).
  const apiserver = new URL(testbed('KUBE_APISERVER'));
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'default-view' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace }],
    },
  });
  const script = [
    "const fs = require('node:fs');",
    "const dir = '/var/run/secrets/kubernetes.io/serviceaccount';",
    "const ns = fs.readFileSync(dir + '/namespace', 'utf8');",
    "const req = require('node:https').get({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT,",
    "  path: '/api/v1/namespaces/' + ns + '/pods', ca: fs.readFileSync(dir + '/ca.crt'),",
    "  headers: { authorization: 'Bearer ' + fs.readFileSync(dir + '/token', 'utf8') } }, (res) => {",
    "  let body = ''; res.on('data', (d) => { body += d; });",
    "  res.on('end', () => console.log('status=' + res.statusCode + ' pods=' + (JSON.parse(body).items ?? []).map((p) => p.metadata.name).join(',')));",
    '});',
    "req.on('error', (e) => { console.log('error=' + e.message); process.exitCode = 1; });",
  ].join('\n');
  const name = 'client';
  await waitFor('ServiceAccount default', () => core.readNamespacedServiceAccount({ name: 'default', namespace }));
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        hostNetwork: true,
        restartPolicy: 'Never',
        serviceAccountName: 'default',
        containers: [
          {
            name: 'c',
            image: BASE_IMAGE,
            imagePullPolicy: 'Never',
            command: ['node', '-e', script],
            env: [
              { name: 'KUBERNETES_SERVICE_HOST', value: apiserver.hostname },
              { name: 'KUBERNETES_SERVICE_PORT', value: apiserver.port },
            ],
            volumeMounts: [{ name: 'api', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
          },
        ],
        // The volume the ServiceAccount admission plugin would add (it is off in the test apiserver).
        volumes: [
          {
            name: 'api',
            projected: {
              sources: [
                { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
                { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
              ],
            },
          },
        ],
      },
    },
  });
  const phase = await waitFor(
    'pod client to finish',
    async () => {
      const p = await core.readNamespacedPod({ name, namespace });
      return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p.status.phase : undefined;
    },
    120_000,
    500,
  );
  const log = await core.readNamespacedPodLog({ name, namespace });
  assert.equal(phase, 'Succeeded', log);
  assert.match(log, new RegExp(`^status=200 pods=.*\\b${name}\\b`, 'm'));
});
