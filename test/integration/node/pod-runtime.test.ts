// What a container sees on the test bed's real node, as on a cluster: a pod IP on the CNI bridge
// that this machine reaches, a ServiceAccount token the kubelet projected (bound to the pod), its
// memory and CPU limits as cgroup settings, a read-only root filesystem and its non-root user.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AuthenticationV1Api, CoreV1Api } from '@kubernetes/client-node';
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
