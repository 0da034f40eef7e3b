// The reconciler's orchestration with in-memory caches and recorded writes: which objects it applies,
// which Events it emits (only on change), and how it behaves when Kafka or DESCRIBE fail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Deployment, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { TableSchema } from '../../sinker/schema/types.ts';
import { minimalSink } from '../api/example.ts';
import type { DorisSink, DorisSinkStatus } from '../api/types.ts';
import type { KubeWriter } from '../controller/kube.ts';
import type { SinkObservation } from '../controller/metrics.ts';
import { ANNOTATION_SCHEMA_HASH, ANNOTATION_SECRET_VERSIONS } from '../desired/names.ts';
import type { PartitionOffsets } from '../scaling/lag.ts';
import { getCondition } from '../status/conditions.ts';
import { Reconciler, type ReconcilerDeps } from './reconciler.ts';
import type { SecretSource } from './secret-cache.ts';

function map<T>(entries: [string, T][] = []) {
  const m = new Map(entries);
  return { m, get: (ns: string, name: string) => m.get(`${ns}/${name}`) };
}

/** Secrets read by name (what the SecretCache serves), recording the reads and invalidations. */
function secretSource(entries: [string, V1Secret][] = []) {
  const m = new Map(entries);
  const reads: string[] = [];
  const invalidated: string[] = [];
  const source: SecretSource & { m: typeof m; reads: string[]; invalidated: string[] } = {
    m,
    reads,
    invalidated,
    async get(ns, name) {
      reads.push(`${ns}/${name}`);
      return m.get(`${ns}/${name}`);
    },
    invalidate(ns, names) {
      for (const n of names) invalidated.push(`${ns}/${n}`);
    },
  };
  return source;
}

function harness(sink: DorisSink) {
  const sinks = map<DorisSink>([['default/events', sink]]);
  const deployments = map<V1Deployment>();
  const secrets = secretSource([
    [
      'default/redis',
      { metadata: { name: 'redis', resourceVersion: '1' }, data: { url: Buffer.from('redis://r').toString('base64') } },
    ],
  ]);
  const applied: KubernetesObject[] = [];
  const statuses: DorisSinkStatus[] = [];
  const events: { type: string; reason: string; message: string }[] = [];
  const kube: KubeWriter = {
    async apply(o) {
      applied.push(o);
      if (o.kind === 'Deployment') deployments.m.set(`default/${o.metadata?.name}`, o as V1Deployment);
    },
    async applyStatus(s, status) {
      statuses.push(status);
      // what the apiserver would hand the next reconcile
      sinks.m.set('default/events', { ...s, status });
    },
    async event(_s, type, reason, message) {
      events.push({ type, reason, message });
    },
  };
  let clock = 1_000_000;
  let offsets: () => Promise<PartitionOffsets[]> = async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 1000n }));
  let describe: () => Promise<TableSchema> = async () => ({ columns: [], hash: 'h1' });
  const topics = new Set(['events', 'events-dlq']);
  const topicLookups: string[] = [];
  const observed: [string, SinkObservation | undefined][] = [];
  const pods: V1Pod[] = [];
  const podLists: string[] = [];
  /** What each pod URL's /readyz answers (absent: nothing answers), and the URLs asked. */
  const readyz = new Map<string, { status: number; body: string }>();
  const readyzAsked: string[] = [];
  const deps: ReconcilerDeps = {
    sinks,
    deployments,
    secrets,
    kube,
    readOffsets: () => offsets(),
    topicExists: async (_c, topic) => {
      topicLookups.push(topic);
      return topics.has(topic);
    },
    describe: () => describe(),
    listPods: async (ns, selector) => {
      podLists.push(`${ns} ${selector}`);
      return pods;
    },
    readyz: async (url) => {
      readyzAsked.push(url);
      return readyz.get(url);
    },
    defaultImage: 'img',
    lagTimeoutMs: 200,
    now: () => clock,
    observe: (key, o) => observed.push([key, o]),
  };
  const h = {
    r: new Reconciler(deps),
    /** A new operator process (leader change, restart): same caches and cluster, no memory. */
    restart: () => {
      h.r = new Reconciler(deps);
    },
    sinks,
    secrets,
    observed,
    kube,
    applied,
    statuses,
    events,
    deployments,
    topics,
    topicLookups,
    pods,
    podLists,
    readyz,
    readyzAsked,
    /** What the controller-manager reports on the Deployment the last reconcile applied. */
    deploymentStatus: (status: V1Deployment['status']) => {
      const d = deployments.m.get('default/events');
      if (d) deployments.m.set('default/events', { ...d, status });
    },
    advance: (ms: number) => {
      clock += ms;
    },
    setOffsets: (f: typeof offsets) => {
      offsets = f;
    },
    setDescribe: (f: typeof describe) => {
      describe = f;
    },
    last: () => statuses[statuses.length - 1] as DorisSinkStatus,
  };
  return h;
}

function sink(): DorisSink {
  const s = minimalSink();
  s.spec.scaling = { pollInterval: '10s', scaleDownStabilization: '1m', lagPerReplica: 100, maxReplicas: 4 };
  s.spec.schema = { refreshInterval: '1m' };
  return s;
}

test('applies ConfigMap, Service, PDB and Deployment; requeues for the next poll', async () => {
  const h = harness(sink());
  const after = await h.r.reconcile('default/events');
  assert.deepEqual(
    h.applied.map((o) => o.kind),
    ['ConfigMap', 'Service', 'PodDisruptionBudget', 'Deployment'],
  );
  assert.equal(after, 10_000, 'lag poll interval');
  assert.equal(h.last().lag?.total, 0);
  assert.equal(h.last().desiredReplicas, 1);
  assert.equal(h.events.length, 0, 'nothing changed: no Event');
});

test('a lag rise scales up with a Scaled Event; a second reconcile before the poll changes nothing', async () => {
  const h = harness(sink());
  await h.r.reconcile('default/events');
  h.setOffsets(async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 900n })),
  );
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.last().lag?.total, 400);
  assert.equal(h.last().desiredReplicas, 4);
  assert.equal(h.events.at(-1)?.reason, 'Scaled');
  assert.match(h.events.at(-1)?.message ?? '', /replicas 1 → 4/);
  const n = h.events.length;
  h.advance(1000);
  await h.r.reconcile('default/events');
  assert.equal(h.events.length, n);
});

test('offsets that hang are unknown lag after the deadline: replicas held, Degraded', async () => {
  const h = harness(sink());
  h.setOffsets(() => new Promise(() => {}));
  const t0 = Date.now();
  await h.r.reconcile('default/events');
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(h.last().lag?.total, undefined);
  assert.match(h.last().lag?.error ?? '', /no answer within 200 ms/);
  assert.equal(getCondition(h.last().conditions, 'Degraded')?.reason, 'LagUnknown');
  assert.equal(h.last().desiredReplicas, 1);
});

test('Kafka unreachable after a restart holds the running count (not minReplicas); the window starts again', async () => {
  const h = harness(sink());
  const behind = async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 900n }));
  h.setOffsets(behind);
  await h.r.reconcile('default/events');
  assert.equal(h.last().desiredReplicas, 4);
  const scaled = h.events.length;
  h.restart();
  h.setOffsets(async () => {
    throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
  });
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.last().desiredReplicas, 4, 'held, from status.desiredReplicas');
  assert.equal(h.deployments.get('default', 'events')?.spec?.replicas, 4);
  const scaling = getCondition(h.last().conditions, 'Scaling');
  assert.deepEqual([scaling?.status, scaling?.reason], ['False', 'LagUnknown']);
  assert.match(getCondition(h.last().conditions, 'Degraded')?.message ?? '', /ECONNREFUSED/);
  assert.equal(h.events.length, scaled, 'no Event: nothing changed');
  // Back, and caught up: the new process has not watched a window (1m) yet, so it holds 4 ...
  h.setOffsets(async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 1000n })),
  );
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.deepEqual(
    [h.last().desiredReplicas, getCondition(h.last().conditions, 'Scaling')?.reason],
    [4, 'Stabilizing'],
  );
  // ... and scales down once it has, with one Event
  h.advance(50_000);
  await h.r.reconcile('default/events');
  assert.equal(h.last().desiredReplicas, 1);
  assert.deepEqual(
    h.events.slice(scaled).map((e) => e.reason),
    ['Scaled'],
  );
});

test('schema: a change emits SchemaChanged and rolls; a failed refresh keeps the last hash and degrades', async () => {
  const h = harness(sink());
  await h.r.reconcile('default/events');
  assert.equal(h.last().schema?.hash, 'h1');
  h.setDescribe(async () => ({ columns: [], hash: 'h2' }));
  h.advance(60_000);
  await h.r.reconcile('default/events');
  assert.equal(h.last().schema?.hash, 'h2');
  assert.ok(h.events.some((e) => e.reason === 'SchemaChanged' && /h1 → h2/.test(e.message)));
  const d = h.deployments.get('default', 'events');
  assert.equal(d?.spec?.template.metadata?.annotations?.[ANNOTATION_SCHEMA_HASH], 'h2');
  h.setDescribe(async () => {
    throw new Error('DESCRIBE failed: connect ECONNREFUSED');
  });
  h.advance(60_000);
  await h.r.reconcile('default/events');
  assert.equal(h.last().schema?.hash, 'h2', 'last good hash kept');
  assert.equal(getCondition(h.last().conditions, 'SchemaSynced')?.status, 'False');
  assert.equal(getCondition(h.last().conditions, 'Ready')?.status, 'False', 'no ready pods in this harness');
  assert.match(getCondition(h.last().conditions, 'Degraded')?.message ?? '', /schema refresh failed/);
  assert.equal(h.events.filter((e) => e.reason === 'DescribeFailed').length, 1);
  h.advance(60_000);
  await h.r.reconcile('default/events');
  assert.equal(h.events.filter((e) => e.reason === 'DescribeFailed').length, 1, 'warned once, not every refresh');
});

test('a deleted sink is forgotten and nothing is written', async () => {
  const h = harness(sink());
  assert.equal(await h.r.reconcile('default/other'), undefined);
  assert.equal(h.applied.length, 0);
  assert.equal(h.statuses.length, 0);
});

test('a child the apiserver refuses (422) becomes Ready=False InvalidSpec, not an endless retry', async () => {
  const h = harness(sink());
  const apply = h.kube.apply;
  h.kube.apply = async (o) => {
    if (o.kind === 'Deployment')
      throw Object.assign(new Error('apply Deployment default/events: 422: invalid'), { code: 422 });
    return apply(o);
  };
  assert.equal(await h.r.reconcile('default/events'), undefined, 'no requeue');
  const ready = getCondition(h.last().conditions, 'Ready');
  assert.equal(ready?.reason, 'InvalidSpec');
  assert.match(ready?.message ?? '', /422: invalid/);
  assert.equal(h.events.at(-1)?.reason, 'InvalidSpec');
  h.kube.apply = async () => {
    throw Object.assign(new Error('503'), { code: 503 });
  };
  await assert.rejects(h.r.reconcile('default/events'), /503/, 'other failures are retried with backoff');
});

test('a missing dead-letter topic: Degraded=True DeadLetterTopicMissing and one Warning; created, it clears', async () => {
  const h = harness(sink());
  h.topics.delete('events-dlq');
  await h.r.reconcile('default/events');
  assert.deepEqual(h.topicLookups, ['events-dlq'], 'the default topic <kafka.topic>-dlq is looked up');
  const degraded = getCondition(h.last().conditions, 'Degraded');
  assert.equal(degraded?.status, 'True');
  assert.equal(degraded?.reason, 'DeadLetterTopicMissing');
  assert.match(degraded?.message ?? '', /dead-letter topic events-dlq does not exist/);
  assert.equal(h.last().desiredReplicas, 1, 'the sinkers still run: clean messages keep loading');
  assert.deepEqual(
    h.events.map((e) => [e.type, e.reason]),
    [['Warning', 'DeadLetterTopicMissing']],
  );
  // before the next poll nothing is asked; at the next poll it is, without a second Warning
  h.advance(1000);
  await h.r.reconcile('default/events');
  assert.equal(h.topicLookups.length, 1);
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.topicLookups.length, 2);
  assert.equal(h.events.length, 1, 'warned once');
  assert.equal(getCondition(h.last().conditions, 'Degraded')?.reason, 'DeadLetterTopicMissing');

  h.topics.add('events-dlq');
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(getCondition(h.last().conditions, 'Degraded')?.status, 'False');
});

test('the dead-letter topic: a changed one is looked up at once; a file-only DLQ and an unreachable cluster ask nothing', async () => {
  const s = sink();
  const h = harness(s);
  await h.r.reconcile('default/events');
  assert.deepEqual(h.topicLookups, ['events-dlq']);
  // a spec edit names another topic: checked on this reconcile, not at the next poll
  s.spec.dlq = { kafkaTopic: 'elsewhere' };
  h.advance(1000);
  await h.r.reconcile('default/events');
  assert.deepEqual(h.topicLookups, ['events-dlq', 'elsewhere']);
  assert.equal(getCondition(h.last().conditions, 'Degraded')?.reason, 'DeadLetterTopicMissing');
  // a file DLQ only: no topic to check, and nothing degraded
  s.spec.dlq = { filePath: '/tmp/dlq.jsonl' };
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.topicLookups.length, 2);
  assert.equal(getCondition(h.last().conditions, 'Degraded')?.status, 'False');
  // offsets unreadable: the topic is not asked about (the same cluster), and no DLQ problem is claimed
  s.spec.dlq = { kafkaTopic: 'elsewhere' };
  h.setOffsets(async () => {
    throw new Error('connect ECONNREFUSED');
  });
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.topicLookups.length, 2);
  const degraded = getCondition(h.last().conditions, 'Degraded');
  assert.equal(degraded?.reason, 'LagUnknown');
  assert.doesNotMatch(degraded?.message ?? '', /dead-letter/);
});

test('a DLQ file outside /tmp (stored before the CRD refused it) is Ready=False InvalidSpec', async () => {
  const s = sink();
  s.spec.dlq = { filePath: '/app/dlq.jsonl' };
  const h = harness(s);
  assert.equal(await h.r.reconcile('default/events'), undefined);
  assert.equal(h.applied.length, 0, 'no child rendered with a path the sinker cannot write');
  const ready = getCondition(h.last().conditions, 'Ready');
  assert.equal(ready?.reason, 'InvalidSpec');
  assert.match(ready?.message ?? '', /spec\.dlq\.filePath: \/app\/dlq\.jsonl is not a file under \/tmp/);
});

test('a spec the sinker would refuse at start is Ready=False InvalidSpec; nothing is rolled out', async () => {
  const cases: [string, (s: DorisSink) => void, RegExp][] = [
    [
      'heartbeat not below the session timeout',
      (s) => {
        s.spec.kafka.sessionTimeout = '10s';
        s.spec.kafka.heartbeatInterval = '10s';
      },
      /kafka\.heartbeat_interval: expected less than kafka\.session_timeout \(10\), found 10/,
    ],
    [
      'a batch larger than the buffer',
      (s) => {
        s.spec.batch = { maxBatchSize: '512Mi' };
      },
      /batch\.max_buffer_bytes: expected at least batch\.max_batch_size/,
    ],
    [
      'a Stream Load header the sinker sets itself',
      (s) => {
        s.spec.doris.streamLoad = { properties: { two_phase_commit: 'true', Timeout: '600' } };
      },
      /doris\.stream_load_properties\.Timeout: expected no "Timeout" header.*two_phase_commit/,
    ],
  ];
  for (const [what, mutate, message] of cases) {
    const s = sink();
    mutate(s);
    const h = harness(s);
    assert.equal(await h.r.reconcile('default/events'), undefined, what);
    assert.equal(h.applied.length, 0, `${what}: no child rendered with a config the sinker refuses`);
    const ready = getCondition(h.last().conditions, 'Ready');
    assert.equal(ready?.status, 'False', what);
    assert.equal(ready?.reason, 'InvalidSpec', what);
    assert.match(ready?.message ?? '', /the sinker would refuse its config/, what);
    assert.match(ready?.message ?? '', message, what);
    assert.doesNotMatch(ready?.message ?? '', /placeholder/, `${what}: no stand-in secret in the message`);
    assert.equal(h.events.at(-1)?.reason, 'InvalidSpec', what);
  }
});

test('held by a later problem, the status reports the replicas of the Deployment that keeps running', async () => {
  const s = sink();
  const h = harness(s);
  await h.r.reconcile('default/events');
  const d = h.deployments.m.get('default/events');
  assert.ok(d);
  d.status = { replicas: 1, readyReplicas: 1 };
  // an edit the sinker would refuse: the children (and so the running pods) are left alone
  s.spec.kafka.sessionTimeout = '10s';
  s.spec.kafka.heartbeatInterval = '10s';
  h.advance(1000);
  assert.equal(await h.r.reconcile('default/events'), undefined);
  assert.equal(getCondition(h.last().conditions, 'Ready')?.reason, 'InvalidSpec');
  assert.equal(h.last().replicas, 1, 'not 0: the scale subresource would tell an HPA the target has no pods');
  assert.equal(h.last().readyReplicas, 1);
  assert.equal(h.last().desiredReplicas, 1);
});

test('metrics: every reconcile reports readiness; a held sink is not ready and keeps no stale lag; a gone one is dropped', async () => {
  const h = harness(sink());
  h.deployments.m.set('default/events', { status: { readyReplicas: 1 } } as V1Deployment);
  await h.r.reconcile('default/events');
  assert.deepEqual(h.observed.at(-1), [
    'default/events',
    { desiredReplicas: 1, lag: 0, partitions: 4, ready: true, reason: 'Running' },
  ]);
  // The Redis Secret goes: held (status only), Ready=False SecretMissing, lag and partitions not polled.
  h.secrets.m.delete('default/redis');
  h.advance(60_000);
  await h.r.reconcile('default/events');
  assert.equal(getCondition(h.last().conditions, 'Ready')?.reason, 'SecretMissing');
  assert.deepEqual(h.observed.at(-1), [
    'default/events',
    { desiredReplicas: 1, ready: false, reason: 'SecretMissing' },
  ]);
  // An invalid spec is held too.
  const bad = sink();
  bad.spec.dlq = { filePath: '/app/dlq.jsonl' };
  h.sinks.m.set('default/events', bad);
  await h.r.reconcile('default/events');
  assert.deepEqual(h.observed.at(-1)?.[1], { desiredReplicas: 1, ready: false, reason: 'InvalidSpec' });
  h.sinks.m.delete('default/events');
  await h.r.reconcile('default/events');
  assert.deepEqual(h.observed.at(-1), ['default/events', undefined]);
});

test('Secrets are read by name on each reconcile; a rotated one rolls the pods; a spec change reads them afresh', async () => {
  const s = sink();
  const h = harness(s);
  await h.r.reconcile('default/events');
  assert.deepEqual(h.secrets.reads, ['default/redis'], 'only the referenced Secret');
  assert.deepEqual(h.secrets.invalidated, ['default/redis'], 'first reconcile of this generation: fresh read');
  const versions = () =>
    (h.applied.findLast((o) => o.kind === 'Deployment') as V1Deployment).spec?.template.metadata?.annotations?.[
      ANNOTATION_SECRET_VERSIONS
    ];
  assert.equal(versions(), 'redis=1');
  // rotated: the next reconcile (at the latest one resync later) sees the new resourceVersion
  h.secrets.m.set('default/redis', {
    metadata: { name: 'redis', resourceVersion: '2' },
    data: { url: Buffer.from('redis://other').toString('base64') },
  });
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(versions(), 'redis=2');
  assert.equal(h.secrets.invalidated.length, 1, 'same generation: the cache decides');
  // a spec change (new generation) drops the cached Secrets it references
  s.metadata.generation = 2;
  s.spec.dedupe = { redisUrlSecretRef: { name: 'redis', key: 'url' } };
  h.advance(1000);
  await h.r.reconcile('default/events');
  assert.deepEqual(h.secrets.invalidated, ['default/redis', 'default/redis']);
});

test('a Secret change that leaves the values a sink uses as they were rolls nothing; a used value does', async () => {
  const h = harness(sink());
  const versions = () =>
    (h.applied.findLast((o) => o.kind === 'Deployment') as V1Deployment).spec?.template.metadata?.annotations?.[
      ANNOTATION_SECRET_VERSIONS
    ];
  const url = (u: string) => Buffer.from(u).toString('base64');
  const next = async (secret: V1Secret) => {
    h.secrets.m.set('default/redis', secret);
    h.advance(10_000);
    await h.r.reconcile('default/events');
    return versions();
  };
  await h.r.reconcile('default/events');
  assert.equal(versions(), 'redis=1');
  // a label (kubectl label, a tool's annotation): new resourceVersion, same data
  assert.equal(
    await next({
      metadata: { name: 'redis', resourceVersion: '2', labels: { team: 'a' } },
      data: { url: url('redis://r') },
    }),
    'redis=1',
  );
  // a key the sink does not use
  assert.equal(
    await next({ metadata: { name: 'redis', resourceVersion: '3' }, data: { url: url('redis://r'), other: url('x') } }),
    'redis=1',
  );
  // the URL the sinkers read: rolled, at the Secret's version
  assert.equal(
    await next({ metadata: { name: 'redis', resourceVersion: '4' }, data: { url: url('redis://new') } }),
    'redis=4',
  );
  // and back to the same value under yet another version: a change again (the pods run redis://new)
  assert.equal(
    await next({ metadata: { name: 'redis', resourceVersion: '5' }, data: { url: url('redis://r') } }),
    'redis=5',
  );
});

test('every sink comes back within the Secret resync period, whatever its poll intervals; a missing Secret sooner', async () => {
  const s = sink();
  s.spec.scaling = { ...s.spec.scaling, pollInterval: '10m' };
  s.spec.schema = { refreshInterval: '1h' };
  const h = harness(s);
  assert.equal(await h.r.reconcile('default/events'), 60_000, 'default resync: 1 minute');
  h.secrets.m.delete('default/redis');
  h.advance(60_000);
  assert.equal(await h.r.reconcile('default/events'), 10_000, 'SecretMissing: looked for every 10 s');
  assert.equal(getCondition(h.last().conditions, 'Ready')?.reason, 'SecretMissing');
});

test('partitions added to the topic: status.partitions and the replica cap follow at the next poll', async () => {
  const s = sink();
  s.spec.scaling = { ...s.spec.scaling, maxReplicas: 8 };
  const h = harness(s);
  // Far behind on 2 partitions: the lag asks for 8 replicas, the partition count caps them at 2.
  const grown = (n: number) => async () =>
    Array.from({ length: n }, (_, p) => ({
      partition: p,
      low: 0n,
      high: 1000n,
      ...(p < 2 ? { committed: 0n } : {}),
    }));
  h.setOffsets(grown(2));
  await h.r.reconcile('default/events');
  assert.equal(h.last().partitions, 2);
  assert.equal(h.last().desiredReplicas, 2);
  // The topic grows to 6; the new partitions have no commit yet (their lag counts by fromEarliest).
  h.setOffsets(grown(6));
  // past the scale-up period of the first step (1 → 2), so the change limit does not hold it at 5
  h.advance(20_000);
  await h.r.reconcile('default/events');
  assert.equal(h.last().partitions, 6, 'read afresh, not the count first seen');
  assert.equal(h.last().desiredReplicas, 6, 'capped by the new count');
  assert.match(h.events.at(-1)?.message ?? '', /replicas 2 → 6/);
});

function crashingPod(name: string, restarts: number, ready = false): V1Pod {
  return {
    metadata: { name },
    status: {
      containerStatuses: [
        {
          name: 'sinker',
          image: 'img',
          imageID: '',
          ready,
          restartCount: restarts,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 2, reason: 'Error', message: 'config: bad\n' } },
        },
      ],
    },
  };
}

test('every pod crash-looping: scale-up held, Ready=False CrashLoopBackOff with the exit, one Warning; a ready pod resumes', async () => {
  const h = harness(sink());
  await h.r.reconcile('default/events');
  assert.equal(h.last().desiredReplicas, 1);
  assert.equal(h.podLists.length, 0, 'no Deployment status yet: pods not listed');
  h.pods.push(crashingPod('events-abc', 3));
  h.setOffsets(async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 900n })),
  );
  for (let i = 0; i < 2; i++) {
    h.deploymentStatus({ replicas: 1, readyReplicas: 0 });
    h.advance(10_000);
    await h.r.reconcile('default/events');
    assert.equal(h.last().lag?.total, 400);
    assert.equal(h.last().desiredReplicas, 1, 'lag wants 4; held at 1');
    assert.equal((h.applied.at(-1) as V1Deployment).spec?.replicas, 1);
    const ready = getCondition(h.last().conditions, 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'CrashLoopBackOff');
    assert.match(ready?.message ?? '', /pod events-abc restarted 3 times, last exit code 2 \(Error\): config: bad/);
    const scaling = getCondition(h.last().conditions, 'Scaling');
    assert.equal(scaling?.status, 'False');
    assert.equal(scaling?.reason, 'ScaleUpHeld');
  }
  const selector = 'default app.kubernetes.io/name=doris-sinker,dorissinker.io/sink=events';
  assert.deepEqual(h.podLists, [selector, selector], 'listed by the sink selector, once per reconcile');
  const warnings = h.events.filter((e) => e.reason === 'CrashLoopBackOff');
  assert.equal(warnings.length, 1, 'one Warning Event, not one per reconcile');
  assert.equal(warnings[0]?.type, 'Warning');
  assert.equal(h.events.filter((e) => e.reason === 'Scaled').length, 0);

  // the pod becomes ready: no pod list (a ready replica), and the scale-up goes ahead
  h.pods.splice(0, 1, crashingPod('events-abc', 3, true));
  h.deploymentStatus({ replicas: 1, readyReplicas: 1 });
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.podLists.length, 2);
  assert.equal(h.last().desiredReplicas, 4);
  assert.equal(getCondition(h.last().conditions, 'Scaling')?.reason, 'ScaledUp');
  assert.notEqual(getCondition(h.last().conditions, 'Ready')?.reason, 'CrashLoopBackOff');
});

function runningPod(name: string, ip: string, ready = false): V1Pod {
  return {
    metadata: { name },
    spec: { containers: [{ name: 'sinker', ports: [{ name: 'metrics', containerPort: 9090, protocol: 'TCP' }] }] },
    status: {
      podIP: ip,
      containerStatuses: [
        { name: 'sinker', image: 'img', imageID: '', ready, restartCount: 0, state: { running: {} } },
      ],
    },
  };
}

test("Doris refusing the sink's setup (the pods' /readyz): scale-up held, Ready=False LoadBlocked with Doris's reason masked, one Warning; accepted again, it scales", async () => {
  const h = harness(sink());
  await h.r.reconcile('default/events');
  h.pods.push(runningPod('events-b', '10.0.0.2'), runningPod('events-a', '10.0.0.1'));
  const held =
    "kafka: not joined to the consumer group yet\ndoris: Doris refuses the sink's setup; loads held, nothing committed: [ANALYSIS_ERROR]Access denied for user 'root' at http://root:hunter2@fe:8030\n";
  h.readyz.set('http://10.0.0.1:9090/readyz', { status: 503, body: held });
  // lag grows: nothing commits while held
  h.setOffsets(async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 900n })),
  );
  for (let i = 0; i < 2; i++) {
    h.deploymentStatus({ replicas: 2, readyReplicas: 0 });
    h.advance(10_000);
    await h.r.reconcile('default/events');
    assert.equal(h.last().lag?.total, 400);
    assert.equal(h.last().desiredReplicas, 1, 'lag wants 4; held at 1');
    const ready = getCondition(h.last().conditions, 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'LoadBlocked');
    assert.match(
      ready?.message ?? '',
      /^Doris refuses the sink's setup, so the sinkers hold their loads and commit nothing \(1 of 2 sinker pods asked, e\.g\. events-a\): \[ANALYSIS_ERROR\]Access denied for user 'root' at http:\/\/root:\*\*\*@fe:8030\. Fix spec\.doris/,
    );
    const scaling = getCondition(h.last().conditions, 'Scaling');
    assert.equal(scaling?.reason, 'ScaleUpHeld');
    assert.match(scaling?.message ?? '', /Doris refuses the sink's setup/);
  }
  assert.ok(!JSON.stringify(h.statuses).includes('hunter2'), 'the password reached the status');
  assert.deepEqual(h.readyzAsked.slice(0, 2), ['http://10.0.0.1:9090/readyz', 'http://10.0.0.2:9090/readyz']);
  const warnings = h.events.filter((e) => e.reason === 'LoadBlocked');
  assert.equal(warnings.length, 1, 'one Warning Event, not one per reconcile');
  assert.equal(warnings[0]?.type, 'Warning');
  assert.ok(!JSON.stringify(h.events).includes('hunter2'));

  // Doris accepts again: the pods turn ready, no pod is asked, and the scale-up goes ahead.
  h.readyz.clear();
  const asked = h.readyzAsked.length;
  h.deploymentStatus({ replicas: 2, readyReplicas: 2 });
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.readyzAsked.length, asked);
  assert.equal(h.last().desiredReplicas, 4);
  assert.equal(getCondition(h.last().conditions, 'Scaling')?.reason, 'ScaledUp');
});

test('a rollout Doris refuses (the new pod held, the previous one ready): scale-up held, Ready=False LoadBlocked', async () => {
  const h = harness(sink());
  await h.r.reconcile('default/events');
  // spec.doris.table changed to one Doris does not have: the surge pod holds, the old one keeps loading
  h.pods.push(runningPod('events-old', '10.0.0.1', true), runningPod('events-new', '10.0.0.2'));
  h.readyz.set('http://10.0.0.2:9090/readyz', {
    status: 503,
    body: "doris: Doris refuses the sink's setup; loads held, nothing committed: table not found, tableName=tb_evnet\n",
  });
  h.setOffsets(async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 900n })),
  );
  h.deploymentStatus({ replicas: 2, readyReplicas: 1, updatedReplicas: 1 });
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.deepEqual(h.readyzAsked, ['http://10.0.0.2:9090/readyz'], 'the ready pod is not asked');
  assert.equal(h.last().desiredReplicas, 1, 'lag wants 4; more pods of the new template would hold too');
  const ready = getCondition(h.last().conditions, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.equal(ready?.reason, 'LoadBlocked');
  assert.match(ready?.message ?? '', /\(pod events-new\): table not found, tableName=tb_evnet\. Fix spec\.doris/);
  assert.equal(getCondition(h.last().conditions, 'Scaling')?.reason, 'ScaleUpHeld');
});

test('running pods not ready for another reason (or not answering) do not hold the scale-up', async () => {
  const h = harness(sink());
  await h.r.reconcile('default/events');
  h.pods.push(runningPod('events-a', '10.0.0.1'), runningPod('events-b', '10.0.0.2'));
  h.readyz.set('http://10.0.0.1:9090/readyz', { status: 503, body: 'kafka: not joined to the consumer group yet\n' });
  h.setOffsets(async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 900n })),
  );
  h.deploymentStatus({ replicas: 1, readyReplicas: 0 });
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.readyzAsked.length, 2);
  assert.equal(h.last().desiredReplicas, 4);
  const ready = getCondition(h.last().conditions, 'Ready');
  assert.equal(ready?.reason, 'Progressing');
  // why, from the pod's /readyz (the kubelet's HTTP probe event has only the status code)
  assert.equal(
    ready?.message,
    '0/4 replicas ready; pod events-a not ready: kafka: not joined to the consumer group yet',
  );
});

test('pods starting (not yet restarted twice) do not hold the scale-up', async () => {
  const h = harness(sink());
  await h.r.reconcile('default/events');
  h.pods.push(crashingPod('events-abc', 1));
  h.setOffsets(async () =>
    Array.from({ length: 4 }, (_, p) => ({ partition: p, low: 0n, high: 1000n, committed: 900n })),
  );
  h.deploymentStatus({ replicas: 1, readyReplicas: 0 });
  h.advance(10_000);
  await h.r.reconcile('default/events');
  assert.equal(h.podLists.length, 1);
  assert.equal(h.last().desiredReplicas, 4);
  const ready = getCondition(h.last().conditions, 'Ready');
  assert.equal(ready?.reason, 'Progressing');
  assert.match(ready?.message ?? '', /^0\/4 replicas ready; pod events-abc: CrashLoopBackOff$/, 'why the pod waits');
});

test('a sink deleted (or being deleted, or re-created) while Kafka was read gets no children applied, no status', async () => {
  for (const change of ['gone', 'deleting', 'recreated'] as const) {
    const h = harness(sink());
    h.setOffsets(async () => {
      const s = h.sinks.m.get('default/events') as DorisSink;
      if (change === 'gone') h.sinks.m.delete('default/events');
      else if (change === 'deleting')
        h.sinks.m.set('default/events', { ...s, metadata: { ...s.metadata, deletionTimestamp: new Date() } });
      else h.sinks.m.set('default/events', { ...s, metadata: { ...s.metadata, uid: 'another-uid' } });
      return [{ partition: 0, low: 0n, high: 10n, committed: 10n }];
    });
    const after = await h.r.reconcile('default/events');
    assert.deepEqual(h.applied, [], `${change}: nothing applied`);
    assert.equal(h.statuses.length, 0, `${change}: no status written`);
    assert.equal(after, undefined, `${change}: not requeued (the cache's event queues it if needed)`);
  }
});

test('a missing topic: Ready=False TopicNotFound naming it, one Warning; a transient answer or brokers away are not', async () => {
  const unknownTopic = () =>
    Promise.reject(
      new Error('reading offsets of topic events for group g: This server does not host this topic-partition'),
    );
  const h = harness(sink());
  h.topics.delete('events');
  h.setOffsets(unknownTopic);
  for (let i = 0; i < 2; i++) {
    await h.r.reconcile('default/events');
    h.advance(10_000);
  }
  const ready = getCondition(h.last().conditions, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.equal(ready?.reason, 'TopicNotFound');
  assert.match(ready?.message ?? '', /^topic events does not exist .*create it, or fix spec\.kafka\.topic/);
  assert.equal(getCondition(h.last().conditions, 'Degraded')?.reason, 'LagUnknown');
  assert.equal(h.last().desiredReplicas, 1, 'unknown lag holds minReplicas');
  assert.equal(h.events.filter((e) => e.reason === 'TopicNotFound' && e.type === 'Warning').length, 1);
  assert.deepEqual(h.topicLookups, ['events', 'events'], 'confirmed by the topic list at each failed poll');

  // the topic is there (just created, or moving): the broker's answer alone is not TopicNotFound
  const t = harness(sink());
  t.setOffsets(unknownTopic);
  await t.r.reconcile('default/events');
  assert.equal(getCondition(t.last().conditions, 'Ready')?.reason, 'Progressing');

  // brokers away: no topic lookup at all
  const b = harness(sink());
  b.setOffsets(() => Promise.reject(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1')));
  await b.r.reconcile('default/events');
  assert.deepEqual(b.topicLookups, []);
  assert.equal(getCondition(b.last().conditions, 'Ready')?.reason, 'Progressing');
});

test('a refused Secret read or apply (403) is Ready=False with the apiserver message, and still an error; a 5xx only the error', async () => {
  const refused = (what: string, code: number) =>
    Object.assign(new Error(`${what}: ${code}: forbidden: User "system:serviceaccount:x:y" cannot do it`), { code });

  const s = harness(sink());
  s.secrets.get = async () => {
    throw refused('reading Secret default/redis', 403);
  };
  await assert.rejects(s.r.reconcile('default/events'), /reading Secret default\/redis: 403/);
  const ready = getCondition(s.last().conditions, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.equal(ready?.reason, 'SecretUnreadable');
  assert.match(ready?.message ?? '', /reading Secret default\/redis: 403: forbidden/);
  assert.equal(s.events.at(-1)?.reason, 'SecretUnreadable');

  const a = harness(sink());
  const apply = a.kube.apply;
  a.kube.apply = async (o) => {
    if (o.kind === 'Deployment') throw refused('apply Deployment default/events', 403);
    return apply(o);
  };
  await assert.rejects(a.r.reconcile('default/events'), /403/);
  assert.equal(getCondition(a.last().conditions, 'Ready')?.reason, 'ApplyFailed');

  const t = harness(sink());
  t.secrets.get = async () => {
    throw refused('reading Secret default/redis', 503);
  };
  await assert.rejects(t.r.reconcile('default/events'), /503/);
  assert.equal(t.statuses.length, 0, 'a passing apiserver error writes no status');
});
