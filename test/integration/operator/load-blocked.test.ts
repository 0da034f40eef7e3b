// Doris refusing a sink's setup, seen by the operator on the test bed's real node (kubelet, pod
// network): with no pod ready, it asks the running sinker pod for its /readyz, finds the sinker's
// held line, holds the scale-up that the growing lag asks for, and says why (Ready=False
// LoadBlocked, Doris's reason with the password masked). Once the pod answers ready, it scales.
// The sinker pod here is a stand-in serving the sinker's held line (operator/scaling/held.test.ts
// ties that line to the sinker's code; test/integration/sinker/config-refusal.test.ts shows the real
// sinker answering it): on this bed, pods on the bridge network cannot reach Kafka, so a real sinker
// runs only on the host network, where it declares no port to ask. The sink's own Deployment gets an
// image the node lacks (its pod waits, ErrImageNeverPull); the stand-in carries the sink's labels
// without a ReplicaSet's pod-template-hash, so no ReplicaSet adopts it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Admin, Kafka } from 'kafkajs';
import { minimalSink } from '../../../operator/api/example.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import type { Controller } from '../../../operator/controller/controller.ts';
import { selectorLabels } from '../../../operator/desired/names.ts';
import { HELD_LINE_PREFIX } from '../../../operator/scaling/held.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { idempotentProducer } from '../../support/produce.ts';
import { testbed } from '../../support/testbed.ts';
import { BASE_IMAGE, httpText, loadBaseImage, requireNodeReady } from '../node/support.ts';
import {
  applyCrd,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  kubectl,
  startController,
  testKafka,
  waitFor,
} from './support.ts';

const PARTITIONS = 4;
const PORT = 9090;
const PASSWORD = `held-${randomBytes(4).toString('hex')}`;
const topic = `held-${randomBytes(3).toString('hex')}`;
let kc: KubeConfig;
let ns: string;
let kafka: Kafka;
let admin: Admin;
let controller: Controller;

// Answers /readyz 503 with the sinker's held line (Doris's reason quoting the password and a URL
// with it, as a careless proxy might) until /accept, then 200.
const STAND_IN = [
  "const http = require('node:http');",
  'let held = true;',
  'http.createServer((q, s) => {',
  "  if (q.url === '/accept') { held = false; s.end('accepted'); return; }",
  "  if (q.url !== '/readyz') { s.statusCode = 404; s.end(); return; }",
  "  if (!held) { s.end('ok\\n'); return; }",
  '  s.statusCode = 503;',
  "  s.end('kafka: not joined to the consumer group yet\\n' + process.env.HELD_LINE + '\\n');",
  `}).listen(${PORT});`,
].join('\n');

before(async () => {
  kc = kubeConfig();
  await requireNodeReady(kc.makeApiClient(CoreV1Api));
  await loadBaseImage();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'held');
  kafka = testKafka('operator-load-blocked-test');
  admin = kafka.admin();
  await admin.connect();
  await createTopicAndWait(admin, topic, PARTITIONS);
  await createTopicAndWait(admin, `${topic}-dlq`, 1);
  await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
  await createSecret(kc, ns, 'doris', { password: PASSWORD });
  controller = await startController(kc, ns, 'load-blocked-test');
});

after(async () => {
  await controller?.stop();
  await admin?.deleteTopics({ topics: [topic, `${topic}-dlq`] }).catch(() => {});
  await admin?.disconnect();
  if (ns) await deleteNamespace(kc, ns);
});

test("a sinker pod holding its loads (Doris refuses the setup): the lag does not scale the sink up; Ready=False LoadBlocked with Doris's reason, password masked; accepted, it scales", {
  timeout: 240_000,
}, async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const sink: DorisSink = minimalSink('held', ns);
  delete sink.metadata.uid;
  delete sink.metadata.generation;
  sink.spec = {
    ...sink.spec,
    image: 'doris-sinker:absent',
    imagePullPolicy: 'Never',
    kafka: { brokers: [testbed('KAFKA_BOOTSTRAP')], topic, fromEarliest: true },
    doris: { ...sink.spec.doris, passwordSecretRef: { name: 'doris', key: 'password' } },
    schema: { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] },
    scaling: { minReplicas: 1, maxReplicas: PARTITIONS, lagPerReplica: 10, pollInterval: '2s' },
    metricsPort: PORT,
  };
  await createSink(kc, sink);
  await waitFor('the Deployment at 1 replica', async () => {
    const d = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ namespace: ns, name: 'held' })
      .catch(() => undefined);
    return d?.spec?.replicas === 1 ? d : undefined;
  });

  const reason = `[ANALYSIS_ERROR]Access denied for user 'root' (password ${PASSWORD}) via http://root:${PASSWORD}@fe:8030/api`;
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'held-stand-in', labels: selectorLabels('held') },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'sinker',
            image: BASE_IMAGE,
            imagePullPolicy: 'Never',
            command: ['node', '-e', STAND_IN],
            env: [{ name: 'HELD_LINE', value: `${HELD_LINE_PREFIX}${reason}` }],
            ports: [{ name: 'metrics', containerPort: PORT, protocol: 'TCP' }],
            readinessProbe: { httpGet: { path: '/readyz', port: PORT }, periodSeconds: 1 },
          },
        ],
      },
    },
  });
  const podIP = await waitFor(
    'the stand-in running, not ready',
    async () => {
      const p = await core.readNamespacedPod({ namespace: ns, name: 'held-stand-in' });
      const c = p.status?.containerStatuses?.[0];
      return c?.state?.running && !c.ready && p.status?.podIP ? p.status.podIP : undefined;
    },
    120_000,
    500,
  );
  await waitFor(
    'its /readyz reachable from here, as from the operator',
    async () => ((await httpText(`http://${podIP}:${PORT}/readyz`))?.includes('loads held') ? true : undefined),
    30_000,
    500,
  );

  // A backlog of 100 messages wants 100 / 10 → 4 replicas; while loads are held, 1 is kept.
  const producer = idempotentProducer(kafka);
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `{"id":${i}}` })) });
  await producer.disconnect();
  const held = await waitFor(
    'Ready=False LoadBlocked with the lag read',
    async () => {
      const s = await getSink(kc, ns, 'held');
      return getCondition(s.status?.conditions, 'Ready')?.reason === 'LoadBlocked' && s.status?.lag?.total === 100
        ? s
        : undefined;
    },
    60_000,
    500,
  );
  const ready = getCondition(held.status?.conditions, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.match(
    ready?.message ?? '',
    /^Doris refuses the sink's setup, so the sinkers hold their loads and commit nothing \(pod held-stand-in\): \[ANALYSIS_ERROR\]Access denied for user 'root' \(password \*\*\*\) via http:\/\/root:\*\*\*@fe:8030\/api\. Fix spec\.doris/,
  );
  // `kubectl get` says it at a glance (the Reason column), `kubectl describe` the message above.
  const get = kubectl(['get', 'dorissinks', '-n', ns, 'held']);
  assert.match(get.stdout, /^held\s+False\s+LoadBlocked\s+/m, get.stdout + get.stderr);
  const scaling = getCondition(held.status?.conditions, 'Scaling');
  assert.equal(scaling?.reason, 'ScaleUpHeld');
  assert.match(
    scaling?.message ?? '',
    /lag 100 → recommended 4 .*Doris refuses the sink's setup.*: holding 1 replicas/,
  );
  assert.equal(held.status?.desiredReplicas, 1);
  const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name: 'held' });
  assert.equal(d.spec?.replicas, 1);
  const events = (await core.listNamespacedEvent({ namespace: ns })).items.filter(
    (e) => e.involvedObject.name === 'held' && e.involvedObject.kind === 'DorisSink',
  );
  assert.equal(events.filter((e) => e.reason === 'LoadBlocked').length, 1, 'one Warning Event');
  assert.ok(!JSON.stringify(held.status).includes(PASSWORD), 'the password reached the status');
  assert.ok(!JSON.stringify(events).includes(PASSWORD), 'the password reached an Event');

  // Doris accepts: the pod turns ready, the hold lifts, the lag scales the sink up.
  assert.equal(await httpText(`http://${podIP}:${PORT}/accept`), 'accepted');
  const scaled = await waitFor(
    'scaled up once the pod is ready',
    async () => {
      const s = await getSink(kc, ns, 'held');
      return s.status?.desiredReplicas === 4 ? s : undefined;
    },
    60_000,
    500,
  );
  assert.notEqual(getCondition(scaled.status?.conditions, 'Ready')?.reason, 'LoadBlocked');
});
