// Decides the Deployment's replica count for one reconcile. Pure; the scale state lives per sink in
// the reconciler's memory (a new leader re-observes a full stabilization window before scaling down).
import type { DefaultedSpec } from '../api/types.ts';
import { parseDuration } from '../api/units.ts';
import { decideReplicas, HPA_SCALE_UP, type ScaleState } from '../scaling/decide.ts';
import { clampReplicas, recommendReplicas, replicaCap } from '../scaling/recommend.ts';

export interface ReplicaPlanInput {
  spec: DefaultedSpec;
  /** The sinkers can't run yet (schema unreadable in auto mode): hold them at 0. */
  schemaUnavailable: boolean;
  /** The Deployment's spec.replicas, if it exists. */
  current: number | undefined;
  /** Total lag; undefined = unknown. */
  lag: bigint | undefined;
  /** Partitions with data the group never committed (LagSummary.uncommitted). */
  uncommitted?: number;
  partitions: number;
  /**
   * Every sinker pod is crash-looping (scaling/crashloop.ts): a scale-up is held at the current count
   * (more pods would crash the same way); scaling down still follows lag.
   */
  crashLooping?: boolean;
  /**
   * Doris refuses the sink's setup and the sinkers hold their loads (scaling/held.ts): the lag grows
   * because nothing commits, and more pods would only send Doris more refused loads. A scale-up is
   * held at the current count, as for crash-looping pods; scaling down still follows lag.
   */
  loadHeld?: boolean;
  state: ScaleState;
  now: number;
}

export interface ReplicaPlan {
  replicas: number;
  reason: string;
  message: string;
  state: ScaleState;
}

export function planReplicas(i: ReplicaPlanInput): ReplicaPlan {
  const s = i.spec.scaling;
  if (i.spec.paused) return { replicas: 0, reason: 'Paused', message: 'spec.paused', state: i.state };
  if (i.schemaUnavailable) {
    return {
      replicas: 0,
      reason: 'SchemaUnavailable',
      message: 'held at 0 until the schema can be read',
      state: i.state,
    };
  }
  if (s.mode === 'external') {
    const replicas = i.spec.replicas ?? i.current ?? s.minReplicas;
    return {
      replicas,
      reason: 'ExternalScaler',
      message: `spec.replicas=${replicas} set through the scale subresource`,
      state: i.state,
    };
  }
  const params = {
    minReplicas: s.minReplicas,
    maxReplicas: s.maxReplicas,
    lagPerReplica: BigInt(s.lagPerReplica),
    activationLag: BigInt(s.activationLag),
    partitions: i.partitions,
    tolerance: s.tolerance / 100,
  };
  const current = i.current ?? clampReplicas(s.minReplicas, params);
  const wanted = recommendReplicas(i.lag, current, params, i.uncommitted ?? 0);
  // min/max stay hard limits while held (e.g. minReplicas raised), as with unknown lag.
  const holdAt = clampReplicas(current, params);
  const held = (i.crashLooping === true || i.loadHeld === true) && wanted !== undefined && wanted > holdAt;
  // Held as a recommendation of the current count, so the stabilization window and the scale-up
  // limit see what was done, not a scale-up that never happened.
  const rec = held ? holdAt : wanted;
  const d = decideReplicas(i.state, i.now, current, rec, {
    stabilizationMs: parseDuration(s.scaleDownStabilization, 'spec.scaling.scaleDownStabilization') * 1000,
    ...HPA_SCALE_UP,
  });
  // min/max and the partition cap are hard limits, not recommendations (the HPA's order): a
  // maxReplicas lowered below the running count applies at once, not after a stabilization window
  // that still remembers the old recommendations, and a raised minReplicas is not change-limited.
  // Unknown lag holds the current count within them too (e.g. right after unpausing).
  const bounded = clampReplicas(d.replicas, params);
  const boundReason = bounded < d.replicas ? 'CappedAtMax' : bounded > d.replicas ? 'RaisedToMin' : undefined;
  d.replicas = bounded;
  if (held) {
    const why = i.crashLooping
      ? 'every sinker pod is crash-looping'
      : "Doris refuses the sink's setup (loads held, nothing commits)";
    return {
      replicas: d.replicas,
      reason: 'ScaleUpHeld',
      message: `lag ${i.lag} → recommended ${wanted} (cap ${replicaCap(params)}), but ${why}: holding ${d.replicas} replicas until one is ready`,
      state: d.state,
    };
  }
  if (i.lag === undefined) {
    return {
      replicas: d.replicas,
      reason: d.reason,
      message: `lag unknown: holding ${d.replicas} replicas`,
      state: d.state,
    };
  }
  const why =
    boundReason === 'CappedAtMax'
      ? `above the cap min(maxReplicas ${s.maxReplicas}, partitions ${i.partitions || 'unknown'})`
      : boundReason === 'RaisedToMin'
        ? `below minReplicas ${s.minReplicas}`
        : undefined;
  const reason = boundReason ?? d.reason;
  const message = `lag ${i.lag} → recommended ${rec} (cap ${replicaCap(params)}), ${why ? `${current} replicas ${why}` : reason}: ${d.replicas} replicas`;
  return { replicas: d.replicas, reason, message, state: d.state };
}
