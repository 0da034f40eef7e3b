// The controller against the real kube-apiserver, with MariaDB standing in for Doris's query port
// (DESCRIBE) and no Kafka (unreachable broker: lag is unknown, never zero).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  PolicyV1Api,
  type V1Deployment,
} from '@kubernetes/client-node';
import mysql from 'mysql2/promise';
import { fullSpec, minimalSink } from '../../../operator/api/example.ts';
import { GROUP, PLURAL, VERSION } from '../../../operator/api/schema.ts';
import type { DorisSink, DorisSinkSpec } from '../../../operator/api/types.ts';
import { Controller } from '../../../operator/controller/controller.ts';
import { OperatorMetrics } from '../../../operator/controller/metrics.ts';
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_SCHEMA_HASH,
  ANNOTATION_SECRET_VERSIONS,
} from '../../../operator/desired/names.ts';
import { desiredObjects } from '../../../operator/desired/objects.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { testbed } from '../../support/testbed.ts';
import {
  applyCrd,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  kubectl,
  patchSinkSpec,
  quietLog,
  waitFor,
} from './support.ts';

let kc: KubeConfig;
let ns: string;
let controller: Controller;
let db: mysql.Connection;
const table = `sink_${Date.now().toString(36)}`;

before(async () => {
  kc = kubeConfig();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'reconcile');
  db = await mysql.createConnection({
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    database: testbed('MARIADB_DATABASE'),
  });
  await db.query(`CREATE TABLE ${table} (id BIGINT NOT NULL, name VARCHAR(64), PRIMARY KEY (id))`);
  await createSecret(kc, ns, 'doris', { password: testbed('MARIADB_PASSWORD') });
  await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
  controller = new Controller({
    kc,
    namespace: ns,
    defaultImage: 'doris-sinker:test',
    identity: 'reconcile-test',
    metrics: new OperatorMetrics(),
    log: quietLog(),
    // Secrets are read by name, not watched: short periods so a rotation shows within a test's wait.
    secretCacheTtlMs: 1000,
    secretResyncMs: 3000,
  });
  await controller.start();
});

after(async () => {
  await controller?.stop();
  await db?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
  await db?.end();
  if (ns) await deleteNamespace(kc, ns);
});

function spec(over: Partial<DorisSinkSpec> = {}): DorisSinkSpec {
  return {
    ...minimalSink().spec,
    kafka: { brokers: ['127.0.0.1:1'], topic: 'events' },
    doris: {
      feHosts: [`${testbed('MARIADB_HOST')}:18030`],
      queryPort: Number(testbed('MARIADB_PORT')),
      database: testbed('MARIADB_DATABASE'),
      table,
      user: testbed('MARIADB_USER'),
      passwordSecretRef: { name: 'doris', key: 'password' },
    },
    schema: { refreshInterval: '1s' },
    scaling: { pollInterval: '1s' },
    ...over,
  };
}

async function create(name: string, s: DorisSinkSpec): Promise<DorisSink> {
  const sink = minimalSink(name, ns);
  delete sink.metadata.uid;
  delete sink.metadata.generation;
  sink.spec = s;
  return createSink(kc, sink);
}

/** Waits until the operator has reconciled the sink's current generation (and `ok` holds). */
async function reconciled(name: string, ok: (s: DorisSink) => boolean = () => true, timeoutMs = 30_000) {
  return waitFor(
    `${name} reconciled`,
    async () => {
      const s = await getSink(kc, ns, name);
      return s.status?.observedGeneration === s.metadata.generation && ok(s) ? s : undefined;
    },
    timeoutMs,
  );
}

const deployment = (name: string) => kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name });
const annotations = (d: V1Deployment) => d.spec?.template.metadata?.annotations ?? {};

test('reconcile creates ConfigMap, Deployment, Service and PDB owned by the sink', async () => {
  const created = await create('events', spec());
  const s = await reconciled('events', (x) => x.status?.schema?.hash !== undefined);
  const core = kc.makeApiClient(CoreV1Api);
  const children = [
    await core.readNamespacedConfigMap({ namespace: ns, name: 'events-config' }),
    await deployment('events'),
    await core.readNamespacedService({ namespace: ns, name: 'events-metrics' }),
    await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ namespace: ns, name: 'events' }),
  ];
  for (const c of children) {
    const ref = c.metadata?.ownerReferences?.[0];
    assert.equal(ref?.uid, created.metadata.uid);
    assert.equal(ref?.kind, 'DorisSink');
    assert.equal(ref?.controller, true);
    assert.equal(ref?.blockOwnerDeletion, true);
    assert.ok(c.metadata?.managedFields?.some((m) => m.manager === 'doris-sinker-operator' && m.operation === 'Apply'));
  }
  const pdb = children[3] as Awaited<ReturnType<PolicyV1Api['readNamespacedPodDisruptionBudget']>>;
  assert.equal(pdb.spec?.unhealthyPodEvictionPolicy, 'AlwaysAllow', 'the apiserver kept the eviction policy');
  const cm = children[0] as Awaited<ReturnType<CoreV1Api['readNamespacedConfigMap']>>;
  assert.match(cm.data?.['config.yaml'] ?? '', new RegExp(`table: ${table}`));
  assert.match(cm.data?.['config.yaml'] ?? '', /password: ""/);
  assert.doesNotMatch(cm.data?.['config.yaml'] ?? '', /redis:\/\//, 'the Redis URL stays in its Secret');
  const d = children[1] as V1Deployment;
  assert.equal(d.spec?.replicas, 1, 'lag unknown: a new sink starts at minReplicas');
  assert.equal(annotations(d)[ANNOTATION_SCHEMA_HASH], s.status?.schema?.hash);
  assert.match(annotations(d)[ANNOTATION_SECRET_VERSIONS] ?? '', /^doris=\d+,redis=\d+$/);
  assert.equal(s.status?.schema?.columns, 2);
  assert.equal(s.status?.labelSelector, 'app.kubernetes.io/name=doris-sinker,dorissinker.io/sink=events');
  assert.equal(getCondition(s.status?.conditions, 'SchemaSynced')?.status, 'True');
  assert.equal(getCondition(s.status?.conditions, 'Degraded')?.reason, 'LagUnknown');
  assert.equal(getCondition(s.status?.conditions, 'Scaling')?.reason, 'LagUnknown');
  // no controller-manager in the test bed: no pods become ready
  assert.equal(getCondition(s.status?.conditions, 'Ready')?.reason, 'Progressing');
  assert.equal(s.status?.lag?.total, undefined, 'unknown lag is not reported as zero');
  assert.match(s.status?.lag?.error ?? '', /127\.0\.0\.1:1|connect|ECONNREFUSED|broker/i);
});

test('a spec change rolls the pod template and observedGeneration follows', async () => {
  const before = await deployment('events');
  await patchSinkSpec(kc, ns, 'events', { batch: { maxBatchRows: 1234 } });
  const s = await reconciled('events');
  assert.equal(s.status?.observedGeneration, 2);
  const d = await deployment('events');
  assert.notEqual(annotations(d)[ANNOTATION_CONFIG_HASH], annotations(before)[ANNOTATION_CONFIG_HASH]);
  assert.equal(annotations(d)[ANNOTATION_CONFIG_HASH], s.status?.configHash);
  const ready = getCondition(s.status?.conditions, 'Ready');
  assert.equal(ready?.observedGeneration, 2);
});

test('a Secret change rolls the pods (its resourceVersion is in the template)', async () => {
  const before = annotations(await deployment('events'))[ANNOTATION_SECRET_VERSIONS];
  await kc.makeApiClient(CoreV1Api).replaceNamespacedSecret({
    namespace: ns,
    name: 'redis',
    body: { metadata: { name: 'redis' }, stringData: { url: 'redis://other:6379' } },
  });
  const after = await waitFor('secret version in template', async () => {
    const v = annotations(await deployment('events'))[ANNOTATION_SECRET_VERSIONS];
    return v !== before ? v : undefined;
  });
  assert.match(after, /redis=\d+/);
});

test("a Secret's label or a key the sink does not use rolls nothing; the value it uses does", async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const before = annotations(await deployment('events'))[ANNOTATION_SECRET_VERSIONS];
  const secret = await core.readNamespacedSecret({ namespace: ns, name: 'redis' });
  const reconcileNow = async () => {
    // read afresh now rather than after the cache's TTL
    controller.secrets.invalidate(ns, ['redis']);
    await controller.reconciler.reconcile(`${ns}/events`);
    return annotations(await deployment('events'))[ANNOTATION_SECRET_VERSIONS];
  };
  const relabelled = await core.replaceNamespacedSecret({
    namespace: ns,
    name: 'redis',
    body: {
      metadata: { name: 'redis', labels: { team: 'loaders' } },
      data: { ...secret.data, unused: Buffer.from('x').toString('base64') },
    },
  });
  assert.notEqual(relabelled.metadata?.resourceVersion, secret.metadata?.resourceVersion);
  assert.equal(await reconcileNow(), before, 'same URL under a new resourceVersion: no roll');
  const rotated = await core.replaceNamespacedSecret({
    namespace: ns,
    name: 'redis',
    body: { metadata: { name: 'redis' }, stringData: { url: 'redis://rotated-again:6379' } },
  });
  assert.equal(
    await reconcileNow(),
    `doris=${(await core.readNamespacedSecret({ namespace: ns, name: 'doris' })).metadata?.resourceVersion},redis=${rotated.metadata?.resourceVersion}`,
  );
});

test('a rotated Secret reaches a sink that polls rarely: the resync period bounds it, no Secret watch', async () => {
  await createSecret(kc, ns, 'redis-rotate', { url: 'redis://127.0.0.1:16379' });
  await create(
    'rotate',
    spec({
      dedupe: { redisUrlSecretRef: { name: 'redis-rotate', key: 'url' } },
      schema: { refreshInterval: '10m' },
      scaling: { pollInterval: '10m' },
    }),
  );
  const before = await waitFor('rotate deployed', async () =>
    deployment('rotate')
      .then((d) => annotations(d)[ANNOTATION_SECRET_VERSIONS])
      .catch(() => undefined),
  );
  assert.match(before, /redis-rotate=\d+/);
  await kc.makeApiClient(CoreV1Api).replaceNamespacedSecret({
    namespace: ns,
    name: 'redis-rotate',
    body: { metadata: { name: 'redis-rotate' }, stringData: { url: 'redis://rotated:6379' } },
  });
  const started = Date.now();
  const after = await waitFor('rotated version in the template', async () => {
    const v = annotations(await deployment('rotate'))[ANNOTATION_SECRET_VERSIONS];
    return v !== before ? v : undefined;
  });
  assert.match(after, /redis-rotate=\d+/);
  // within resync (3 s) + cache TTL (1 s) + a reconcile, far below the sink's 10 min poll interval
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
});

test('ALTER TABLE ADD COLUMN changes the status hash, the pod template and emits an Event', async () => {
  const before = (await getSink(kc, ns, 'events')).status?.schema?.hash;
  assert.ok(before);
  await db.query(`ALTER TABLE ${table} ADD COLUMN score DOUBLE`);
  const s = await waitFor('schema hash change', async () => {
    const x = await getSink(kc, ns, 'events');
    return x.status?.schema?.hash && x.status.schema.hash !== before ? x : undefined;
  });
  assert.equal(s.status?.schema?.columns, 3);
  const d = await waitFor('template follows', async () => {
    const x = await deployment('events');
    return annotations(x)[ANNOTATION_SCHEMA_HASH] === s.status?.schema?.hash ? x : undefined;
  });
  assert.ok(d);
  const events = await waitFor('SchemaChanged event', async () => {
    const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
    const e = list.items.filter((x) => x.reason === 'SchemaChanged' && x.involvedObject.name === 'events');
    return e.length > 0 ? e : undefined;
  });
  assert.match(events[0]?.message ?? '', /3 columns/);
});

test('a table that does not exist: Ready=False TableNotFound and the sinkers held at 0', async () => {
  await create('ghost', spec({ doris: { ...spec().doris, table: 'no_such_table' } }));
  const s = await reconciled('ghost', (x) => getCondition(x.status?.conditions, 'Ready')?.reason === 'TableNotFound');
  assert.equal(getCondition(s.status?.conditions, 'Ready')?.status, 'False');
  assert.match(getCondition(s.status?.conditions, 'SchemaSynced')?.message ?? '', /no_such_table/);
  assert.equal((await deployment('ghost')).spec?.replicas, 0);
});

test('spec.paused scales to 0 without deleting anything', async () => {
  await patchSinkSpec(kc, ns, 'events', { paused: true });
  await reconciled('events', (x) => getCondition(x.status?.conditions, 'Ready')?.reason === 'Paused');
  assert.equal((await deployment('events')).spec?.replicas, 0);
  await patchSinkSpec(kc, ns, 'events', { paused: false });
  await reconciled('events', (x) => getCondition(x.status?.conditions, 'Ready')?.reason !== 'Paused');
  assert.equal((await deployment('events')).spec?.replicas, 1);
});

test('external scaling: kubectl scale on the sink sets the Deployment replicas', async () => {
  await create('ext', spec({ scaling: { mode: 'external', pollInterval: '1s' } }));
  await reconciled('ext');
  const r = kubectl(['scale', 'dorissink/ext', '-n', ns, '--replicas=3']);
  assert.equal(r.status, 0, r.stderr);
  await waitFor('deployment replicas 3', async () =>
    (await deployment('ext')).spec?.replicas === 3 ? true : undefined,
  );
  const s = await reconciled('ext', (x) => x.status?.desiredReplicas === 3);
  assert.equal(getCondition(s.status?.conditions, 'Scaling')?.reason, 'ExternalScaler');
  // what an HPA or KEDA reads through the scale subresource
  const scale = kubectl(['get', '--raw', `/apis/dorissinker.io/v1alpha1/namespaces/${ns}/dorissinks/ext/scale`]);
  assert.equal(scale.status, 0, scale.stderr);
  const body = JSON.parse(scale.stdout);
  assert.equal(body.kind, 'Scale');
  assert.equal(body.spec.replicas, 3);
  assert.equal(body.status.selector, 'app.kubernetes.io/name=doris-sinker,dorissinker.io/sink=ext');
});

test('a missing Secret is reported, and creating it resumes the sink', async () => {
  await create('nosecret', spec({ dedupe: { redisUrlSecretRef: { name: 'redis-late', key: 'url' } } }));
  const s = await reconciled(
    'nosecret',
    (x) => getCondition(x.status?.conditions, 'Ready')?.reason === 'SecretMissing',
  );
  assert.match(getCondition(s.status?.conditions, 'Ready')?.message ?? '', /redis-late\/url/);
  await createSecret(kc, ns, 'redis-late', { url: 'redis://127.0.0.1:16379' });
  await waitFor(
    'deployment after the Secret appears',
    async () => (await deployment('nosecret')).metadata?.name,
    10_000,
  );
});

test('status is written through the status subresource only', async () => {
  // a user's spec update does not wipe status, and status writes do not bump generation
  const s1 = await getSink(kc, ns, 'events');
  await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObjectStatus({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
    name: 'events',
  });
  await new Promise((r) => setTimeout(r, 2500));
  const s2 = await getSink(kc, ns, 'events');
  assert.equal(s2.metadata.generation, s1.metadata.generation, 'status polls do not change generation');
  assert.ok(s2.status?.conditions?.length === 4);
});

test("schema tracking through the Doris emulator's query port (Doris DESCRIBE of tb_event)", async () => {
  const [host, port] = testbed('DORIS_QUERY').split(':');
  await createSecret(kc, ns, 'doris-root', { password: testbed('DORIS_PASSWORD') });
  await create(
    'emulated',
    spec({
      doris: {
        feHosts: [testbed('DORIS_FE_HTTP')],
        queryPort: Number(port),
        database: 'test_db',
        table: 'tb_event',
        user: testbed('DORIS_USER'),
        passwordSecretRef: { name: 'doris-root', key: 'password' },
      },
    }),
  );
  assert.equal(host, '127.0.0.1');
  const s = await reconciled('emulated', (x) => x.status?.schema?.hash !== undefined);
  assert.equal(getCondition(s.status?.conditions, 'SchemaSynced')?.reason, 'Described');
  assert.ok((s.status?.schema?.columns ?? 0) > 10, `tb_event has many columns, got ${s.status?.schema?.columns}`);
  assert.equal(annotations(await deployment('emulated'))[ANNOTATION_SCHEMA_HASH], s.status?.schema?.hash);
});

test('a deleted or edited child is restored at once through its watch (not the next poll)', async () => {
  await create(
    'steady',
    spec({
      schema: { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] },
      scaling: { pollInterval: '10m', minReplicas: 2 },
    }),
  );
  await reconciled('steady');
  const core = kc.makeApiClient(CoreV1Api);
  const before = await core.readNamespacedConfigMap({ namespace: ns, name: 'steady-config' });
  await core.deleteNamespacedConfigMap({ namespace: ns, name: 'steady-config' });
  const again = await waitFor(
    'ConfigMap re-created',
    () => core.readNamespacedConfigMap({ namespace: ns, name: 'steady-config' }).catch(() => undefined),
    10_000,
  );
  assert.notEqual(again.metadata?.uid, before.metadata?.uid);
  const r = kubectl(['scale', 'deployment/steady', '-n', ns, '--replicas=5']);
  assert.equal(r.status, 0, r.stderr);
  await waitFor(
    'replicas restored',
    async () => ((await deployment('steady')).spec?.replicas === 2 ? true : undefined),
    10_000,
  );
});

test('the children of a sink that sets every field are valid objects for the apiserver (server-side dry run)', async () => {
  const sink = minimalSink('full', ns);
  sink.spec = fullSpec();
  const d = desiredObjects({
    sink,
    defaultImage: 'x',
    replicas: 3,
    secretVersions: { redis: '1', 'doris-auth': '2' },
    schemaHash: 'abc',
  });
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const o of [d.configMap, d.service, d.pdb, d.deployment]) {
    // owner references to a sink that does not exist are fine for a dry run
    await api.patch(o, undefined, 'All', 'doris-sinker-operator', true, PatchStrategy.ServerSideApply);
  }
  const stored = await api.patch(
    d.deployment,
    undefined,
    'All',
    'doris-sinker-operator',
    true,
    PatchStrategy.ServerSideApply,
  );
  const pod = (stored as V1Deployment).spec?.template.spec;
  assert.equal(pod?.tolerations?.[0]?.key, 'dedicated');
  assert.deepEqual(pod?.containers[0]?.resources?.limits, { memory: '1Gi' });
  assert.equal(pod?.volumes?.find((v) => v.name === 'kafka-tls-client')?.secret?.secretName, 'kafka-client');
});
