import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OperatorMetrics, sinkObservation } from './metrics.ts';

test('operator metrics: names, per-sink series, scrape-time gauges', async () => {
  const m = new OperatorMetrics();
  m.setSources(
    () => [{ name: 'dorissinks', running: true, synced: true, sinceHeardMs: 2500, restarts: 3 }],
    () => 7,
  );
  m.observeSink('ns1/events', { lag: 1234, desiredReplicas: 3, partitions: 8, ready: true, reason: 'Running' });
  m.reconciles.inc({ result: 'success' });
  const text = await m.registry.metrics();
  for (const name of [
    'doris_sinker_operator_reconcile_total',
    'doris_sinker_operator_reconcile_errors_total',
    'doris_sinker_operator_reconcile_duration_seconds',
    'doris_sinker_operator_leader',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.match(text, /^doris_sinker_operator_sink_lag\{namespace="ns1",sink="events"\} 1234$/m);
  assert.match(text, /^doris_sinker_operator_sink_desired_replicas\{namespace="ns1",sink="events"\} 3$/m);
  assert.match(text, /^doris_sinker_operator_sink_partitions\{namespace="ns1",sink="events"\} 8$/m);
  assert.match(text, /^doris_sinker_operator_workqueue_depth 7$/m);
  assert.match(text, /^doris_sinker_operator_watch_seconds_since_event\{informer="dorissinks"\} 2\.5$/m);
  assert.match(text, /^doris_sinker_operator_watch_restarts\{informer="dorissinks"\} 3$/m);
  // unknown lag removes the series instead of reporting 0
  m.observeSink('ns1/events', { desiredReplicas: 3, ready: true, reason: 'Running' });
  assert.doesNotMatch(await m.registry.metrics(), /^doris_sinker_operator_sink_lag\{/m);
  m.forgetSink('ns1/events');
  assert.doesNotMatch(await m.registry.metrics(), /sink="events"/);
});

test('a standby operator (informers not started) reports no watch age, so WatchStale cannot fire on it', async () => {
  const m = new OperatorMetrics();
  let running = false;
  const since = 3_600_000; // an hour since the process started, waiting for the Lease
  m.setSources(
    () => [{ name: 'dorissinks', running, synced: false, sinceHeardMs: since, restarts: 0 }],
    () => 0,
  );
  const standby = await m.registry.metrics();
  assert.doesNotMatch(standby, /^doris_sinker_operator_watch_seconds_since_event\{/m);
  assert.doesNotMatch(standby, /^doris_sinker_operator_watch_restarts\{/m);
  // once leading, the informers run and their age is reported
  running = true;
  assert.match(
    await m.registry.metrics(),
    /^doris_sinker_operator_watch_seconds_since_event\{informer="dorissinks"\} 3600$/m,
  );
});

test('sink readiness: one series per sink, its reason moving with the condition; removed when the sink goes', async () => {
  const m = new OperatorMetrics();
  const ready = async () =>
    (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('doris_sinker_operator_sink_ready{'));
  m.observeSink('ns1/events', { lag: 10, desiredReplicas: 2, partitions: 4, ready: true, reason: 'Running' });
  assert.deepEqual(await ready(), [
    'doris_sinker_operator_sink_ready{namespace="ns1",sink="events",reason="Running"} 1',
  ]);
  // Held (status only): not ready, and the lag and partitions it no longer polls are gone, not frozen.
  m.observeSink('ns1/events', { desiredReplicas: 0, ready: false, reason: 'SecretMissing' });
  assert.deepEqual(await ready(), [
    'doris_sinker_operator_sink_ready{namespace="ns1",sink="events",reason="SecretMissing"} 0',
  ]);
  const text = await m.registry.metrics();
  assert.doesNotMatch(text, /^doris_sinker_operator_sink_(lag|partitions)\{/m);
  assert.match(text, /^doris_sinker_operator_sink_desired_replicas\{namespace="ns1",sink="events"\} 0$/m);
  m.forgetSink('ns1/events');
  assert.doesNotMatch(await m.registry.metrics(), /sink="events"/);
  m.observeSink('ns1/events', { desiredReplicas: 1, ready: false, reason: 'Progressing' });
  m.observeSink('ns1/events', undefined);
  assert.doesNotMatch(await m.registry.metrics(), /sink="events"/);
});

test('sinkObservation reads the Ready condition the reconcile wrote', () => {
  const cond = (status: 'True' | 'False', reason: string) => ({
    type: 'Ready',
    status,
    reason,
    message: '',
    lastTransitionTime: '2026-01-01T00:00:00Z',
  });
  assert.deepEqual(
    sinkObservation(
      { desiredReplicas: 3, conditions: [cond('True', 'Running')] },
      {
        known: true,
        total: 5,
        partitions: 8,
      },
    ),
    { desiredReplicas: 3, lag: 5, partitions: 8, ready: true, reason: 'Running' },
  );
  assert.deepEqual(sinkObservation({ conditions: [cond('False', 'TableNotFound')] }, { known: false, partitions: 8 }), {
    desiredReplicas: 0,
    partitions: 8,
    ready: false,
    reason: 'TableNotFound',
  });
});
