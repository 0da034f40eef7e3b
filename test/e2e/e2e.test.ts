// The user's whole journey on the test bed's control plane and real node (issue 6, "The e2e test"):
// helm install the chart → kubectl apply a DorisSink → the dirty mix lands exactly once, the DLQ holds
// the invalid messages → a backlog scales the sinkers 1 → 4 and back, exactly once across the
// rebalances → ALTER TABLE ADD COLUMN rolls the pods and fills the new column → kubectl delete garbage
// collects the children and helm uninstall leaves only the CRD (resource-policy keep).
// Needs `test/infra/up` (all parts, `node` included). The steps share one stack and run in order.
// Its own namespace, release, topic, DLQ topic, table, group and Redis prefix: other tests may run.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type GeneratedEvent, serialize, takeEvents } from '../support/events.ts';
import { ensureImages } from '../support/images.ts';
import { produceEvents } from '../support/produce.ts';
import { testbed } from '../support/testbed.ts';
import {
  applySink,
  CRD_NAME,
  closeStorage,
  createTable,
  createTopic,
  deleteKafka,
  deleteNamespace,
  deleteRedisPrefix,
  deleteSink,
  dorisQuery,
  dropTable,
  getSink,
  groupAssignment,
  idCounts,
  installOperator,
  kubectl,
  listPods,
  mustKubectl,
  type Operator,
  printedColumns,
  produceValues,
  readTopic,
  releaseObjects,
  type SinkOptions,
  sinkSelector,
  storage,
  uninstallOperator,
  uniqueId,
  waitFor,
  waitReadyPods,
  waitRows,
  waitSinkReady,
  waitSinkStatus,
} from './stack.ts';

const ID = uniqueId();
const NS = `e2e-${ID}`;
const RELEASE = `e2e-${ID}`;
const PARTITIONS = 8;
const SINK: SinkOptions = {
  name: 'tb-event',
  namespace: NS,
  topic: `e2e-events-${ID}`,
  table: `e2e_tb_event_${ID}`,
  groupId: `e2e-${ID}`,
  keyPrefix: `e2e:${ID}:`,
  dlqTopic: `e2e-dlq-${ID}`,
  minReplicas: 1,
  maxReplicas: 4,
  // Above the dirty mix of step 3 (one sinker), far below step 4's backlog (more than maxReplicas).
  lagPerReplica: 2000,
  // Short, to keep the test short (the default is 5m), yet long enough that the 4th sinker joins
  // the group before a drained backlog lets the count fall.
  scaleDownStabilization: '20s',
  pollInterval: '1s',
  schemaRefreshInterval: '2s',
  maxBatchRows: 2000,
  maxBatchInterval: '1s',
  // A CPU limit makes one sinker slower than the backlog arrives, as in production.
  resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
};
const NEW_COLUMN = 'e2e_note';

let op: Operator | undefined;
/** Every id that must be in the table exactly once, across all steps. */
const expected: bigint[] = [];
let podsBeforeAlter: string[] = [];
let schemaBeforeAlter = '';

function log(msg: string): void {
  process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Every id expected exactly once, nothing else: the exactly-once verdict of a step. */
async function assertExactlyOnce(context: string): Promise<void> {
  const counts = await idCounts(SINK.table);
  const want = new Set(expected.map(String));
  const missing = [...want].filter((id) => !counts.has(id));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
  const unexpected = [...counts.keys()].filter((id) => !want.has(id));
  const show = (xs: string[]) => `${xs.length}${xs.length ? ` (e.g. ${xs.slice(0, 8).join(', ')})` : ''}`;
  assert.ok(
    missing.length === 0 && duplicated.length === 0 && unexpected.length === 0,
    `${context}: ${expected.length} ids expected once each: missing ${show(missing)}, duplicated ${show(duplicated)}, unexpected ${show(unexpected)}`,
  );
}

/** Waits for every expected row, then a quiet second (late duplicates), then asserts exactly once. */
async function drain(context: string, timeoutMs = 90_000): Promise<void> {
  await waitRows(SINK.table, expected.length, timeoutMs);
  let last = -1;
  await waitFor(
    `${SINK.table} quiet`,
    async () => {
      const [rows] = await storage().query(`SELECT COUNT(*) AS n FROM \`${SINK.table}\``);
      const n = Number((rows as { n: string }[])[0]!.n);
      const quiet = n === last;
      last = n;
      return quiet;
    },
    20_000,
    1000,
  );
  await assertExactlyOnce(context);
}

async function sinkerLogs(): Promise<string> {
  const r = await kubectl(['-n', NS, 'logs', '-l', sinkSelector(SINK.name), '--tail', '20', '--prefix']);
  return r.stdout.slice(-4000);
}

/** Awaits `p`; on failure adds the namespace's recent events and the sinkers' last log lines. */
async function explained<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- events\n${await podEvents()}\n--- sinker logs\n${await sinkerLogs()}`,
    );
  }
}

async function podEvents(): Promise<string> {
  const r = await kubectl(['-n', NS, 'get', 'events', '--sort-by', '.lastTimestamp']);
  return r.stdout.split('\n').slice(-25).join('\n');
}

before(async () => {
  log(`namespace ${NS}; building/loading images if their inputs changed`);
  const images = await ensureImages({ load: true, log: (l) => log(l) });
  await createTopic(SINK.topic, PARTITIONS);
  await createTopic(SINK.dlqTopic!, 1);
  await createTable(SINK.table);
  op = await installOperator({
    release: RELEASE,
    namespace: NS,
    operatorImage: images.operator.tag,
    sinkerImage: images.sinker.tag,
  });
  log(`operator pod ${op.pod} Ready on host port ${op.httpPort}`);
});

after(async () => {
  // E2E_KEEP=1 leaves everything in place to look around after a failure.
  if (process.env.E2E_KEEP) {
    log(`kept namespace ${NS}, release ${RELEASE}, topic ${SINK.topic}, table ${SINK.table}`);
    return closeStorage();
  }
  if (op) await kubectl(['-n', NS, 'delete', CRD_NAME, '--all', '--wait=true', '--timeout=60s']);
  if (op) await uninstallOperator(op).catch(() => {});
  await deleteNamespace(NS);
  await deleteKafka([SINK.topic, SINK.dlqTopic!], [SINK.groupId!]);
  await dropTable(SINK.table);
  await deleteRedisPrefix(SINK.keyPrefix!);
  await closeStorage();
});

test('1. helm install: the operator runs as a pod of its own image under the chart ServiceAccount and RBAC', async () => {
  assert.ok(op, 'the chart was not installed');
  const pod = JSON.parse(await mustKubectl(['-n', NS, 'get', 'pod', op.pod, '-o', 'json'])) as {
    spec: {
      serviceAccountName: string;
      hostNetwork?: boolean;
      containers: { image: string }[];
      volumes: { name: string; projected?: unknown }[];
    };
    status: { containerStatuses: { ready: boolean; imageID: string }[] };
  };
  assert.equal(pod.spec.serviceAccountName, `${RELEASE}-doris-sinker-operator`);
  assert.equal(pod.spec.containers[0]?.image, op.operatorImage);
  assert.equal(pod.spec.hostNetwork, true);
  // The ServiceAccount admission plugin mounted the account's projected token.
  assert.ok(
    pod.spec.volumes.some((v) => v.name.startsWith('kube-api-access-') && v.projected),
    'no projected ServiceAccount token volume',
  );
  assert.ok(pod.status.containerStatuses[0]?.ready);
  // The chart's RBAC is what it runs under: it holds the leader Lease (written with its own token)...
  const lease = JSON.parse(
    await waitFor('leader Lease', () =>
      mustKubectl(['-n', NS, 'get', 'lease', `${RELEASE}-doris-sinker-operator`, '-o', 'json']),
    ),
  ) as { spec: { holderIdentity: string } };
  assert.equal(lease.spec.holderIdentity, op.pod);
  // ...and the ServiceAccount may do what the operator needs, and no more.
  const sa = `system:serviceaccount:${NS}:${RELEASE}-doris-sinker-operator`;
  const can = async (verb: string, resource: string, ...more: string[]) =>
    (await kubectl(['auth', 'can-i', verb, resource, '-n', NS, '--as', sa, ...more])).stdout.trim();
  assert.equal(await can('patch', 'deployments.apps'), 'yes');
  assert.equal(await can('patch', CRD_NAME, '--subresource', 'status'), 'yes');
  assert.equal(await can('patch', CRD_NAME), 'no', "the spec is the user's");
  assert.equal(await can('create', 'secrets'), 'no');
  assert.equal(await can('delete', 'namespaces'), 'no');
  // Its HTTP endpoints on the host port: healthy, leading.
  const health = await fetch(`http://127.0.0.1:${op.httpPort}/healthz`);
  assert.equal(health.status, 200, await health.text());
  const metrics = await (await fetch(`http://127.0.0.1:${op.httpPort}/metrics`)).text();
  assert.match(metrics, /^doris_sinker_operator_leader 1$/m);
});

test('2. kubectl apply a DorisSink (1..4 replicas, 8 partitions) with its Secrets: one sinker pod runs', async () => {
  await applySink(SINK);
  const sink = await waitSinkReady(NS, SINK.name, 120_000).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await sinkerLogs()}`);
  });
  assert.equal(sink.status?.partitions, PARTITIONS);
  const pods = await explained(waitReadyPods(NS, SINK.name, 1, 60_000));
  const spec = JSON.parse(await mustKubectl(['-n', NS, 'get', 'pod', pods[0]!.name, '-o', 'json'])) as {
    spec: {
      hostNetwork?: boolean;
      containers: { image: string; ports?: unknown[]; readinessProbe?: { exec?: unknown } }[];
    };
  };
  assert.equal(spec.spec.containers[0]?.image, op?.sinkerImage);
  // hostNetwork mode: no host port (replicas share the node), exec probes through the port file.
  assert.equal(spec.spec.hostNetwork, true);
  assert.equal(spec.spec.containers[0]?.ports, undefined);
  assert.ok(spec.spec.containers[0]?.readinessProbe?.exec);
});

test('3. the dirty mix lands exactly once, the DLQ holds the invalid messages, kubectl get shows it', async () => {
  const started = Date.now();
  // Fewer messages than lagPerReplica: this step stays on one sinker.
  const { kinds, events } = await produceEvents({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    topic: SINK.topic,
    count: 1500,
    seed: 6006,
    mix: 'dirty',
    keep: true,
    partitions: PARTITIONS,
    firstId: 1n,
  });
  assert.ok(kinds.invalid_json > 0 && kinds.wrong_type > 0 && kinds.missing_required > 0, JSON.stringify(kinds));
  const invalid = events.filter((e) => e.kind === 'invalid_json');
  expected.push(...events.filter((e) => e.kind !== 'invalid_json').map((e) => e.id));
  await drain('dirty mix').catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await sinkerLogs()}`);
  });
  // A sample of values: a clean row as produced.
  const clean = events.find((e) => e.kind === 'clean')!;
  const [rows] = await storage().query(`SELECT title, source FROM \`${SINK.table}\` WHERE id = ?`, [
    clean.id.toString(),
  ]);
  assert.deepEqual((rows as unknown[])[0], { title: clean.fields!.title, source: clean.fields!.source });

  const dlq = await waitFor('the DLQ holds every invalid message', async () => {
    const msgs = await readTopic(SINK.dlqTopic!);
    return msgs.length >= invalid.length ? msgs : undefined;
  });
  assert.deepEqual(dlq.map((m) => m.value).sort(), invalid.map((e) => e.value).sort());
  for (const m of dlq) {
    assert.equal(m.headers['dlq.topic'], SINK.topic);
    assert.match(m.headers['dlq.reason'] ?? '', /json/i);
  }

  const sink = await waitSinkStatus(NS, SINK.name, 'lag 0', (s) => s.lag?.total === 0, 30_000);
  const cols = await printedColumns(NS, SINK.name);
  assert.equal(cols.READY, 'True', `conditions: ${JSON.stringify(sink.status?.conditions)}\n${await podEvents()}`);
  assert.equal(cols.REPLICAS, '1');
  assert.equal(cols.LAG, '0');
  assert.equal(cols.SCHEMA, sink.status?.schema?.hash);
  assert.match(cols.SCHEMA ?? '', /^[0-9a-f]{8,}$/);
  const wide = await printedColumns(NS, SINK.name, true);
  assert.equal(wide.TOPIC, SINK.topic);
  assert.equal(wide.TABLE, SINK.table);
  assert.equal(wide.DESIRED, '1');
  log(`dirty mix: ${expected.length} rows, ${invalid.length} in the DLQ, in ${(Date.now() - started) / 1000} s`);
});

test('4. a backlog scales the sinkers 1 → 4 (bounded by partitions) and back, exactly once', async () => {
  const started = Date.now();
  const backlog = 40_000;
  const first = 100_001n;
  const producing = produceEvents({
    brokers: testbed('KAFKA_BOOTSTRAP').split(','),
    topic: SINK.topic,
    count: backlog,
    seed: 7007,
    mix: 'clean',
    partitions: PARTITIONS,
    firstId: first,
  });
  for (let i = 0n; i < BigInt(backlog); i++) expected.push(first + i);

  // Watch the lag the operator reports while the backlog is there: lag / lagPerReplica asks for more
  // than 4 sinkers, and maxReplicas (4, below the 8 partitions) bounds the count.
  let maxLag = 0;
  let maxDesired = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const s = (await getSink(NS, SINK.name).catch(() => undefined))?.status;
      maxLag = Math.max(maxLag, s?.lag?.total ?? 0);
      maxDesired = Math.max(maxDesired, s?.desiredReplicas ?? 0);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const scaled = await waitSinkStatus(NS, SINK.name, '4 replicas desired', (s) => s.desiredReplicas === 4, 60_000);
  await producing;
  assert.equal(scaled.status?.desiredReplicas, 4);
  const pods = await explained(waitReadyPods(NS, SINK.name, 4, 90_000));
  watching = false;
  await watcher;
  assert.ok(maxLag > (SINK.lagPerReplica ?? 0) * 4, `the lag seen (max ${maxLag}) asks for more than 4 sinkers`);
  assert.equal(maxDesired, 4, 'never more than maxReplicas');
  log(`4 sinker pods ready after ${(Date.now() - started) / 1000} s (max lag seen ${maxLag})`);
  const cols = await printedColumns(NS, SINK.name);
  assert.equal(cols.REPLICAS, '4');

  // The four pods share the eight partitions: a stable group of 4 members, 2 partitions each.
  const group = await waitFor(
    'group of 4 members sharing the partitions',
    async () => {
      const g = await groupAssignment(SINK.groupId!, SINK.topic);
      return g.state === 'Stable' && g.members.length === 4 ? g : undefined;
    },
    60_000,
  );
  assert.deepEqual(
    group.members.map((m) => m.length),
    [2, 2, 2, 2],
  );
  assert.deepEqual(
    group.members.flat().sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.equal(new Set(pods.map((p) => p.name)).size, 4);

  // The lag drains, then after the stabilization window the sinkers go back to minReplicas.
  await explained(waitSinkStatus(NS, SINK.name, 'lag 0', (s) => s.lag?.total === 0, 120_000));
  log(`backlog drained after ${(Date.now() - started) / 1000} s`);
  await waitSinkStatus(NS, SINK.name, 'back to 1 replica', (s) => s.desiredReplicas === 1 && s.replicas === 1, 90_000);
  await explained(waitReadyPods(NS, SINK.name, 1, 90_000));
  log(`back to 1 sinker after ${(Date.now() - started) / 1000} s`);
  await drain('backlog across scale-up and scale-down rebalances');
  const [rows] = await storage().query(`SELECT COUNT(*) AS n FROM \`${SINK.table}\``);
  assert.equal(Number((rows as { n: string }[])[0]!.n), expected.length);
});

test('5. ALTER TABLE ADD COLUMN: the schema hash changes, the pods roll, new messages fill the column', async () => {
  const before = await getSink(NS, SINK.name);
  schemaBeforeAlter = before.status?.schema?.hash ?? '';
  assert.ok(schemaBeforeAlter, 'no schema hash in status');
  podsBeforeAlter = (await listPods(NS, sinkSelector(SINK.name))).map((p) => p.name);
  const rsBefore = await mustKubectl([
    '-n',
    NS,
    'get',
    'deployment',
    SINK.name,
    '-o',
    'jsonpath={.spec.template.metadata.annotations.dorissinker\\.io/schema-hash}',
  ]);
  assert.equal(rsBefore, schemaBeforeAlter);

  await dorisQuery(`ALTER TABLE test_db.${SINK.table} ADD COLUMN ${NEW_COLUMN} VARCHAR(64)`);
  const changed = await waitSinkStatus(
    NS,
    SINK.name,
    'a new schema hash',
    (s) => Boolean(s.schema?.hash && s.schema.hash !== schemaBeforeAlter),
    60_000,
  );
  const newHash = changed.status?.schema?.hash ?? '';
  assert.equal(changed.status?.schema?.columns, (before.status?.schema?.columns ?? 0) + 1, 'one more column');
  assert.equal((await printedColumns(NS, SINK.name)).SCHEMA, newHash);
  // The pod template carries the new hash, and new pods replace the old ones.
  await waitFor('the Deployment template carries the new hash', async () => {
    const ann = await mustKubectl([
      '-n',
      NS,
      'get',
      'deployment',
      SINK.name,
      '-o',
      'jsonpath={.spec.template.metadata.annotations.dorissinker\\.io/schema-hash}',
    ]);
    return ann === newHash;
  });
  const rolled = await explained(
    waitFor(
      'the pods rolled',
      async () => {
        const pods = await listPods(NS, sinkSelector(SINK.name));
        const live = pods.filter((p) => !p.deleting && p.ready);
        if (pods.length === 1 && live.length === 1 && !podsBeforeAlter.includes(live[0]!.name)) return live;
        return undefined;
      },
      120_000,
      1000,
    ),
  );
  assert.equal(rolled[0]?.annotations['dorissinker.io/schema-hash'], newHash);

  // New messages carry the new field; the new pods put it in the new column.
  const first = 300_001n;
  const events: GeneratedEvent[] = takeEvents({ seed: 8008, mix: 'clean', firstId: first }, 500).map((e) => {
    const fields = { ...e.fields!, [NEW_COLUMN]: `note-${e.id}` };
    return { ...e, fields, value: serialize(fields) };
  });
  await produceValues(
    SINK.topic,
    events.map((e) => e.value),
    PARTITIONS,
  );
  expected.push(...events.map((e) => e.id));
  await drain('after the schema change');
  const [rows] = await storage().query(
    `SELECT CAST(id AS CHAR) AS id, ${NEW_COLUMN} AS note FROM \`${SINK.table}\` WHERE id >= ?`,
    [first.toString()],
  );
  const notes = rows as { id: string; note: string | null }[];
  assert.equal(notes.length, events.length);
  for (const r of notes) assert.equal(r.note, `note-${r.id}`, `row ${r.id}: ${NEW_COLUMN}`);
  // Older messages had no such field: no row before them got a note.
  const [old] = await storage().query(
    `SELECT COUNT(*) AS n FROM \`${SINK.table}\` WHERE id < ? AND ${NEW_COLUMN} LIKE 'note-%'`,
    [first.toString()],
  );
  assert.equal(Number((old as { n: string }[])[0]!.n), 0);
});

test('6. kubectl delete garbage-collects the children; helm uninstall leaves only the kept CRD', async () => {
  assert.ok(op);
  const children = [
    ['configmap', `${SINK.name}-config`],
    ['deployment', SINK.name],
    ['service', `${SINK.name}-metrics`],
    ['poddisruptionbudget', SINK.name],
  ];
  for (const [kind, name] of children) await mustKubectl(['-n', NS, 'get', kind!, name!, '-o', 'name']);
  await deleteSink(NS, SINK.name);
  await waitFor(
    "the sink's children garbage-collected",
    async () => {
      const left: string[] = [];
      for (const [kind, name] of children) {
        if ((await kubectl(['-n', NS, 'get', kind!, name!, '-o', 'name'])).status === 0) left.push(`${kind}/${name}`);
      }
      const rs = await mustKubectl(['-n', NS, 'get', 'replicasets', '-l', sinkSelector(SINK.name), '-o', 'name']);
      const pods = await listPods(NS, sinkSelector(SINK.name));
      left.push(...rs.split('\n').filter(Boolean), ...pods.map((p) => `pod/${p.name}`));
      if (left.length === 0) return true;
      throw new Error(`still there: ${left.join(', ')}`);
    },
    90_000,
    1000,
  );

  const objects = await releaseObjects(op);
  assert.ok(
    objects.some((o) => o.kind === 'CustomResourceDefinition'),
    'the release holds the CRD',
  );
  assert.ok(objects.some((o) => o.kind === 'ClusterRole') && objects.some((o) => o.kind === 'Deployment'));
  await uninstallOperator(op);
  const released = op;
  op = undefined;
  const left: string[] = [];
  for (const o of objects) {
    const args = ['get', o.kind, o.name, '-o', 'name', ...(o.namespace ? ['-n', o.namespace] : [])];
    if ((await kubectl(args)).status === 0) left.push(`${o.kind}/${o.name}`);
  }
  assert.deepEqual(left, [`CustomResourceDefinition/${CRD_NAME}`], 'only the CRD outlives helm uninstall');
  const policy = await mustKubectl([
    'get',
    'crd',
    CRD_NAME,
    '-o',
    'jsonpath={.metadata.annotations.helm\\.sh/resource-policy}',
  ]);
  assert.equal(policy, 'keep');
  // Nothing labelled with the release is left anywhere (the operator's ReplicaSet and pod go by
  // garbage collection after the Deployment, so a terminating pod may linger a moment), and Helm
  // forgot the release.
  await waitFor(
    'nothing labelled with the release left',
    async () => {
      const labelled = await mustKubectl([
        'get',
        'deployments,replicasets,pods,services,configmaps,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings',
        '-A',
        '-l',
        `app.kubernetes.io/instance=${released.release}`,
        '-o',
        'name',
      ]);
      if (labelled.trim() === '') return true;
      throw new Error(`still there: ${labelled.trim().split('\n').join(', ')}`);
    },
    60_000,
    1000,
  );
  const helmSecrets = await mustKubectl([
    '-n',
    NS,
    'get',
    'secrets',
    '-l',
    `owner=helm,name=${released.release}`,
    '-o',
    'name',
  ]);
  assert.equal(helmSecrets.trim(), '');
  await waitFor(
    'the operator pod gone',
    async () => (await listPods(NS, `app.kubernetes.io/instance=${released.release}`)).length === 0,
    60_000,
  );
});
