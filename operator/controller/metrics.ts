// The operator's own Prometheus metrics.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DorisSinkStatus } from '../api/types.ts';
import type { LagObservation } from '../reconcile/status.ts';
import type { InformerHealth } from './informer.ts';

/** What one reconcile tells the metrics about a sink. */
export interface SinkObservation {
  lag?: number;
  desiredReplicas: number;
  partitions?: number;
  /** The Ready condition just written: held sinks (InvalidSpec, SecretMissing, no schema) are false. */
  ready: boolean;
  reason: string;
}

/** The observation of a sink from the status a reconcile writes, plus the lag if it read one. */
export function sinkObservation(status: DorisSinkStatus, lag?: LagObservation): SinkObservation {
  const cond = status.conditions?.find((c) => c.type === 'Ready');
  const o: SinkObservation = {
    desiredReplicas: status.desiredReplicas ?? 0,
    ready: cond?.status === 'True',
    reason: cond?.reason ?? 'Unknown',
  };
  if (lag?.known && lag.total !== undefined) o.lag = lag.total;
  if (lag?.partitions !== undefined) o.partitions = lag.partitions;
  return o;
}

export class OperatorMetrics {
  readonly registry = new Registry();
  /** Read at scrape time: the informers' health and the queues' depth. */
  #health: () => InformerHealth[] = () => [];
  #depth: () => number = () => 0;
  readonly reconciles = new Counter({
    name: 'doris_sinker_operator_reconcile_total',
    help: 'Reconciles of DorisSinks by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'doris_sinker_operator_reconcile_errors_total',
    help: 'Reconciles that failed and were requeued with backoff.',
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'doris_sinker_operator_reconcile_duration_seconds',
    help: 'Duration of one reconcile.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'doris_sinker_operator_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    registers: [this.registry],
    collect: () => {
      this.queueDepth.set(this.#depth());
    },
  });
  readonly sinkLag = new Gauge({
    name: 'doris_sinker_operator_sink_lag',
    help: 'Consumer group lag (messages) of each sink, as the operator last read it.',
    labelNames: ['namespace', 'sink'] as const,
    registers: [this.registry],
  });
  readonly sinkDesiredReplicas = new Gauge({
    name: 'doris_sinker_operator_sink_desired_replicas',
    help: 'Replicas the operator asks for, per sink.',
    labelNames: ['namespace', 'sink'] as const,
    registers: [this.registry],
  });
  readonly sinkPartitions = new Gauge({
    name: 'doris_sinker_operator_sink_partitions',
    help: 'Partitions of each sink topic.',
    labelNames: ['namespace', 'sink'] as const,
    registers: [this.registry],
  });
  readonly sinkReady = new Gauge({
    name: 'doris_sinker_operator_sink_ready',
    help: "1 while a sink's Ready condition is True, 0 while it is False (held: InvalidSpec, SecretMissing, no schema; or pods not ready); reason is the condition's.",
    labelNames: ['namespace', 'sink', 'reason'] as const,
    registers: [this.registry],
  });
  /** The reason label each sink's ready series carries, to drop it when the reason changes. */
  readonly #readyReason = new Map<string, string>();
  readonly watchAge = new Gauge({
    name: 'doris_sinker_operator_watch_seconds_since_event',
    help: 'Seconds since each informer last heard from the apiserver.',
    labelNames: ['informer'] as const,
    registers: [this.registry],
    collect: () => {
      // Only running informers: one that never started (a standby replica waiting for the Lease) has
      // heard nothing since the process started, which is no staleness (DorisSinkerOperatorWatchStale).
      this.watchAge.reset();
      for (const h of this.#health()) {
        if (h.running) this.watchAge.set({ informer: h.name }, h.sinceHeardMs / 1000);
      }
    },
  });
  readonly watchRestarts = new Gauge({
    name: 'doris_sinker_operator_watch_restarts',
    help: 'Times each informer restarted after an error.',
    labelNames: ['informer'] as const,
    registers: [this.registry],
    collect: () => {
      this.watchRestarts.reset();
      for (const h of this.#health()) {
        if (h.running) this.watchRestarts.set({ informer: h.name }, h.restarts);
      }
    },
  });
  readonly leader = new Gauge({
    name: 'doris_sinker_operator_leader',
    help: '1 while this process holds the leader Lease.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Where the scrape-time gauges read from (informer names must be unique across sources). */
  setSources(health: () => InformerHealth[], depth: () => number): void {
    this.#health = health;
    this.#depth = depth;
  }

  /** Records a sink's reconcile; `undefined` (the sink is gone) removes its series. */
  observeSink(key: string, o: SinkObservation | undefined): void {
    if (!o) {
      this.forgetSink(key);
      return;
    }
    const [namespace = '', sink = ''] = key.split('/');
    const labels = { namespace, sink };
    if (o.lag !== undefined) this.sinkLag.set(labels, o.lag);
    else this.sinkLag.remove(labels);
    this.sinkDesiredReplicas.set(labels, o.desiredReplicas);
    // Not read on this reconcile (a held sink polls nothing): no series rather than a stale one.
    if (o.partitions !== undefined) this.sinkPartitions.set(labels, o.partitions);
    else this.sinkPartitions.remove(labels);
    const before = this.#readyReason.get(key);
    if (before !== undefined && before !== o.reason) this.sinkReady.remove({ ...labels, reason: before });
    this.sinkReady.set({ ...labels, reason: o.reason }, o.ready ? 1 : 0);
    this.#readyReason.set(key, o.reason);
  }

  forgetSink(key: string): void {
    const [namespace = '', sink = ''] = key.split('/');
    for (const g of [this.sinkLag, this.sinkDesiredReplicas, this.sinkPartitions]) g.remove({ namespace, sink });
    const reason = this.#readyReason.get(key);
    if (reason !== undefined) this.sinkReady.remove({ namespace, sink, reason });
    this.#readyReason.delete(key);
  }
}
