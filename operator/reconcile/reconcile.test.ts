import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment, V1Secret } from '@kubernetes/client-node';
import { defaultSpec } from '../api/defaults.ts';
import { fullSpec, minimalSink } from '../api/example.ts';
import { newScaleState } from '../scaling/decide.ts';
import { getCondition } from '../status/conditions.ts';
import { planReplicas } from './replicas.ts';
import { resolveSecrets } from './secrets.ts';
import { buildStatus, heldStatus, type StatusInput } from './status.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
function secret(name: string, rv: string, data: Record<string, string>): V1Secret {
  return {
    metadata: { name, resourceVersion: rv },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
}

test('resolveSecrets: versions, values, and missing secrets/keys by name', () => {
  const secrets = new Map([
    ['doris-auth', secret('doris-auth', '11', { password: 'pw' })],
    ['redis', secret('redis', '12', { url: 'redis://r' })],
    ['kafka-auth', secret('kafka-auth', '13', { other: 'x' })],
    ['kafka-ca', secret('kafka-ca', '14', { 'ca.crt': 'CA' })],
  ]);
  const r = resolveSecrets(fullSpec(), (n) => secrets.get(n));
  assert.deepEqual(r.versions, { 'doris-auth': '11', 'kafka-auth': '13', 'kafka-ca': '14', redis: '12' });
  assert.equal(r.dorisPassword, 'pw');
  assert.equal(r.tlsCa, 'CA');
  assert.deepEqual(r.missing, ['kafka-auth/password', 'kafka-client/tls.crt', 'kafka-client/tls.key']);
});

test('planReplicas: paused, schema unavailable, external, builtin', () => {
  const spec = defaultSpec({ ...minimalSink().spec, scaling: { minReplicas: 1, maxReplicas: 10, lagPerReplica: 100 } });
  const base = {
    spec,
    schemaUnavailable: false,
    current: 2,
    lag: 1000n,
    partitions: 8,
    state: newScaleState(0),
    now: 1000,
  };
  assert.equal(planReplicas({ ...base, spec: { ...spec, paused: true } }).replicas, 0);
  assert.equal(planReplicas({ ...base, schemaUnavailable: true }).replicas, 0);
  const ext = { ...spec, replicas: 7, scaling: { ...spec.scaling, mode: 'external' as const } };
  assert.equal(planReplicas({ ...base, spec: ext }).replicas, 7);
  const p = planReplicas(base);
  assert.equal(p.replicas, 6, 'lag 1000/100 = 10, capped at 8, limited to 2+4 per period');
  assert.equal(p.reason, 'ScaleUpLimited');
  assert.equal(planReplicas({ ...base, lag: undefined }).replicas, 2, 'unknown lag holds');
  assert.equal(planReplicas({ ...base, current: undefined, lag: undefined }).replicas, 1, 'new sink starts at min');
  assert.equal(planReplicas({ ...base, current: 0, lag: undefined }).replicas, 1, 'unknown lag still respects min');
  assert.equal(planReplicas({ ...base, current: 12, lag: undefined }).replicas, 8, 'and the cap');
});

test('planReplicas: every pod crash-looping holds a scale-up, not a scale-down or minReplicas', () => {
  const spec = defaultSpec({
    ...minimalSink().spec,
    scaling: { minReplicas: 1, maxReplicas: 10, lagPerReplica: 100, scaleDownStabilization: '0s' },
  });
  const base = {
    spec,
    schemaUnavailable: false,
    current: 2,
    lag: 1000n,
    partitions: 8,
    crashLooping: true,
    state: newScaleState(0),
    now: 1000,
  };
  const held = planReplicas(base);
  assert.equal(held.replicas, 2);
  assert.equal(held.reason, 'ScaleUpHeld');
  assert.match(held.message, /recommended 8 .*crash-looping: holding 2 replicas/);
  assert.deepEqual(held.state.events, [], 'no scale-up recorded against the change limit');
  assert.equal(planReplicas({ ...base, crashLooping: false }).replicas, 6, 'not held: scales up');
  const down = planReplicas({ ...base, current: 5, lag: 100n });
  assert.equal(down.replicas, 1, 'scale-down follows lag');
  assert.equal(down.reason, 'ScaledDown');
  const min = defaultSpec({ ...spec, scaling: { ...spec.scaling, minReplicas: 3 } });
  assert.equal(planReplicas({ ...base, spec: min }).replicas, 3, 'minReplicas stays a hard limit');
  // once a pod is ready again the next reconcile scales up (change-limited as usual)
  assert.equal(planReplicas({ ...base, crashLooping: false, state: held.state, now: 2000 }).replicas, 6);
});

test('planReplicas: loads held (Doris refuses the setup) hold a scale-up and say why; scaling down still follows lag', () => {
  const spec = defaultSpec({
    ...minimalSink().spec,
    scaling: { minReplicas: 1, maxReplicas: 10, lagPerReplica: 100, scaleDownStabilization: '0s' },
  });
  const base = {
    spec,
    schemaUnavailable: false,
    current: 2,
    lag: 1000n,
    partitions: 8,
    loadHeld: true,
    state: newScaleState(0),
    now: 1000,
  };
  const held = planReplicas(base);
  assert.equal(held.replicas, 2);
  assert.equal(held.reason, 'ScaleUpHeld');
  assert.match(
    held.message,
    /recommended 8 .*but Doris refuses the sink's setup \(loads held, nothing commits\): holding 2 replicas/,
  );
  assert.deepEqual(held.state.events, [], 'no scale-up recorded against the change limit');
  assert.equal(planReplicas({ ...base, loadHeld: false }).replicas, 6, 'not held: scales up');
  assert.equal(planReplicas({ ...base, current: 5, lag: 100n }).replicas, 1, 'scale-down follows lag');
});

test('planReplicas: min/max are hard limits at once, not after the stabilization window or the change limit', () => {
  const spec = defaultSpec({
    ...minimalSink().spec,
    scaling: { minReplicas: 1, maxReplicas: 3, lagPerReplica: 100, scaleDownStabilization: '5m' },
  });
  const base = { spec, schemaUnavailable: false, current: 6, lag: 100_000n, partitions: 8, now: 1000 };
  // maxReplicas lowered from 8 to 3 while 6 run, within the first window (a fresh operator, too)
  const lowered = planReplicas({ ...base, state: newScaleState(0) });
  assert.equal(lowered.replicas, 3, 'maxReplicas 3 applies at once');
  assert.equal(lowered.reason, 'CappedAtMax');
  assert.match(lowered.message, /6 replicas above the cap min\(maxReplicas 3, partitions 8\): 3 replicas/);
  // later in a window whose recommendations were 6: still the cap
  const warm = { since: -1_000_000, recommendations: [{ at: 0, replicas: 6 }], events: [] };
  assert.equal(planReplicas({ ...base, state: warm }).replicas, 3);
  // fewer partitions than running replicas (topic re-created smaller): the cap follows
  const wide = defaultSpec({ ...spec, scaling: { ...spec.scaling, maxReplicas: 10 } });
  assert.equal(planReplicas({ ...base, spec: wide, partitions: 2, state: newScaleState(0) }).replicas, 2);
  // minReplicas raised from 1 to 10 with 1 running and no lag: 10, not 1+4
  const raised = defaultSpec({ ...spec, scaling: { ...spec.scaling, minReplicas: 10, maxReplicas: 20 } });
  const up = planReplicas({ ...base, spec: raised, current: 1, lag: 0n, partitions: 20, state: newScaleState(0) });
  assert.deepEqual([up.replicas, up.reason], [10, 'RaisedToMin']);
  // within the limits nothing changes: a scale-down still waits for the window
  assert.equal(planReplicas({ ...base, spec: wide, lag: 100n, state: newScaleState(0) }).reason, 'Stabilizing');
});

test('planReplicas: minReplicas 0 and a group that never committed partitions holding data: one replica, not Idle', () => {
  const spec = defaultSpec({
    ...minimalSink().spec,
    scaling: { minReplicas: 0, maxReplicas: 10, lagPerReplica: 100, activationLag: 1000 },
  });
  const base = { spec, schemaUnavailable: false, current: 0, lag: 8n, partitions: 8, state: newScaleState(0), now: 1 };
  assert.deepEqual([planReplicas({ ...base, uncommitted: 8 }).replicas, planReplicas(base).replicas], [1, 0]);
});

function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    sink: minimalSink(),
    now: new Date('2026-01-01T00:00:00Z'),
    schema: { state: 'ok', manual: false, hash: 'h1', columns: 5, observedAt: new Date('2026-01-01T00:00:00Z') },
    lag: { known: true, total: 42, partitionsWithLag: 1, maxPartitionLag: 42, partitions: 8 },
    mode: 'builtin',
    paused: false,
    desiredReplicas: 2,
    scaleReason: 'Steady',
    scaleMessage: 'm',
    deployment: { status: { replicas: 2, readyReplicas: 2 } },
    configHash: 'c',
    ...over,
  };
}

test('status: ready sink with lag, schema, selector and observedGeneration', () => {
  const s = buildStatus(input());
  assert.equal(s.observedGeneration, 1);
  assert.equal(getCondition(s.conditions, 'Ready')?.status, 'True');
  assert.equal(getCondition(s.conditions, 'SchemaSynced')?.reason, 'Described');
  assert.equal(getCondition(s.conditions, 'Scaling')?.status, 'True');
  assert.equal(getCondition(s.conditions, 'Degraded')?.status, 'False');
  assert.equal(s.lag?.total, 42);
  assert.equal(s.partitions, 8);
  assert.equal(s.schema?.hash, 'h1');
  assert.equal(s.labelSelector, 'app.kubernetes.io/name=doris-sinker,dorissinker.io/sink=events');
  assert.equal(s.replicas, 2);
});

test('status: at 0 replicas, the Idle message says why (lag low, lag unknown, external scaler)', () => {
  const idle = (over: Partial<StatusInput>) =>
    getCondition(buildStatus(input({ desiredReplicas: 0, ...over })).conditions, 'Ready');
  assert.equal(idle({})?.reason, 'Idle');
  assert.equal(idle({})?.message, 'scaled to zero: lag at or below activationLag');
  assert.equal(
    idle({ lag: { known: false, error: 'x' } })?.message,
    'at 0 replicas, held there while the lag is unknown',
  );
  assert.equal(idle({ mode: 'external' })?.message, 'spec.replicas: 0');
});

test('status: unknown lag is Degraded and has no total', () => {
  const s = buildStatus(input({ lag: { known: false, error: 'broker down' } }));
  assert.equal(s.lag?.total, undefined);
  assert.equal(s.lag?.error, 'broker down');
  assert.equal(getCondition(s.conditions, 'Degraded')?.status, 'True');
  assert.equal(getCondition(s.conditions, 'Scaling')?.reason, 'LagUnknown');
});

test('status: missing table → Ready False with the reason, not running', () => {
  const s = buildStatus(
    input({
      schema: { state: 'error', manual: false, reason: 'TableNotFound', message: "Table 'x' doesn't exist" },
      desiredReplicas: 0,
    }),
  );
  const ready = getCondition(s.conditions, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.equal(ready?.reason, 'TableNotFound');
  assert.equal(getCondition(s.conditions, 'SchemaSynced')?.status, 'False');
});

test('status: problem, paused, progressing; transition time kept across reconciles', () => {
  const p = buildStatus(input({ problem: { reason: 'SecretMissing', message: 'redis/url' } }));
  assert.equal(getCondition(p.conditions, 'Ready')?.reason, 'SecretMissing');
  assert.equal(
    getCondition(buildStatus(input({ paused: true, desiredReplicas: 0 })).conditions, 'Ready')?.reason,
    'Paused',
  );
  const prog = buildStatus(input({ deployment: { status: { replicas: 2, readyReplicas: 1 } } }));
  assert.equal(getCondition(prog.conditions, 'Ready')?.reason, 'Progressing');
  const sink = { ...minimalSink(), status: prog };
  const later = buildStatus(
    input({ sink, now: new Date('2026-01-01T01:00:00Z'), deployment: { status: { readyReplicas: 1 } } }),
  );
  assert.equal(getCondition(later.conditions, 'Ready')?.lastTransitionTime, '2026-01-01T00:00:00.000Z');
});

test('held status (InvalidSpec, SecretMissing): replicas of the Deployment still running, 0 without one', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const problem = { reason: 'SecretMissing', message: 'redis/url' };
  const running: V1Deployment = {
    spec: { replicas: 3, selector: {}, template: {} },
    status: { replicas: 3, readyReplicas: 2 },
  };
  const sink = { ...minimalSink(), status: { desiredReplicas: 3, schema: { hash: 'h1' } } };
  const s = heldStatus(sink, running, problem, now);
  assert.equal(s.replicas, 3, 'what the scale subresource (and an HPA) reads: not 0 while pods run');
  assert.equal(s.readyReplicas, 2);
  assert.equal(s.desiredReplicas, 3);
  assert.equal(s.schema?.hash, 'h1', 'the last known schema is kept');
  const ready = getCondition(s.conditions, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.equal(ready?.reason, 'SecretMissing');
  // no status yet (first reconcile held): desired from the Deployment's spec
  assert.equal(heldStatus(minimalSink(), running, problem, now).desiredReplicas, 3);
  const none = heldStatus(minimalSink(), undefined, problem, now);
  assert.equal(none.replicas, 0);
  assert.equal(none.readyReplicas, 0);
  assert.equal(none.desiredReplicas, 0);
});

test('held status at a new generation: SchemaSynced and Degraded stay as last evaluated (their generation), not "schema not read yet"', () => {
  const gen1 = buildStatus(
    input({ dlq: { topic: 'events-dlq', exists: false }, now: new Date('2026-01-01T00:00:00Z') }),
  );
  const sink = { ...minimalSink(), status: gen1 };
  sink.metadata = { ...sink.metadata, generation: 2 };
  const s = heldStatus(
    sink,
    undefined,
    { reason: 'InvalidSpec', message: 'spec.kafka.topic: bad' },
    new Date('2026-01-01T01:00:00Z'),
  );
  const ready = getCondition(s.conditions, 'Ready');
  assert.equal(ready?.reason, 'InvalidSpec');
  assert.equal(ready?.observedGeneration, 2);
  assert.equal(s.observedGeneration, 2);
  assert.deepEqual(getCondition(s.conditions, 'SchemaSynced'), getCondition(gen1.conditions, 'SchemaSynced'));
  assert.equal(getCondition(s.conditions, 'SchemaSynced')?.reason, 'Described');
  assert.equal(getCondition(s.conditions, 'SchemaSynced')?.observedGeneration, 1);
  assert.equal(getCondition(s.conditions, 'Degraded')?.reason, 'DeadLetterTopicMissing');
  // first reconcile held: nothing to keep, the defaults
  const first = heldStatus(minimalSink(), undefined, { reason: 'SecretMissing', message: 'm' }, new Date());
  assert.equal(getCondition(first.conditions, 'SchemaSynced')?.reason, 'Pending');
  assert.equal(getCondition(first.conditions, 'Degraded')?.reason, 'AsExpected');
});
