// Turns recommendations into replica changes the way the HPA does: scale up at once but at most by
// max(+pods, +percent) per period; scale down only to the highest recommendation seen within the
// stabilization window, and not before the window has been observed in full.

export interface ScaleEvent {
  at: number;
  from: number;
  to: number;
}

export interface ScaleState {
  /** When this process started observing the sink (ms); scale-down waits a full window after it. */
  since: number;
  /** Recommendations within the stabilization window, oldest first. */
  recommendations: { at: number; replicas: number }[];
  /** Scale-ups within the scale-up period, for the change limit. */
  events: ScaleEvent[];
}

export interface DecideParams {
  stabilizationMs: number;
  scaleUpPods: number;
  scaleUpPercent: number;
  scaleUpPeriodMs: number;
}

export const HPA_SCALE_UP = { scaleUpPods: 4, scaleUpPercent: 100, scaleUpPeriodMs: 15_000 } as const;

export interface Decision {
  replicas: number;
  state: ScaleState;
  /** Why `replicas` differs from, or stays at, the current count. */
  reason: 'ScaledUp' | 'ScaledDown' | 'Steady' | 'LagUnknown' | 'ScaleUpLimited' | 'Stabilizing';
}

export function newScaleState(now: number): ScaleState {
  return { since: now, recommendations: [], events: [] };
}

export function decideReplicas(
  state: ScaleState,
  now: number,
  current: number,
  recommendation: number | undefined,
  p: DecideParams,
): Decision {
  const recommendations = state.recommendations.filter((r) => now - r.at < p.stabilizationMs);
  const events = state.events.filter((e) => now - e.at < p.scaleUpPeriodMs);
  if (recommendation === undefined) {
    return { replicas: current, state: { since: state.since, recommendations, events }, reason: 'LagUnknown' };
  }
  recommendations.push({ at: now, replicas: recommendation });
  const next = (replicas: number, reason: Decision['reason']): Decision => {
    const ev = replicas > current ? [...events, { at: now, from: current, to: replicas }] : events;
    return { replicas, state: { since: state.since, recommendations, events: ev }, reason };
  };

  if (recommendation > current) {
    // Limit measured from the count at the start of the period, so steps within it add up.
    const base = events.length > 0 ? Math.min(current, ...events.map((e) => e.from)) : current;
    const limit = Math.max(base + p.scaleUpPods, Math.ceil(base * (1 + p.scaleUpPercent / 100)));
    if (recommendation > limit) return next(Math.max(current, limit), 'ScaleUpLimited');
    return next(recommendation, 'ScaledUp');
  }
  if (recommendation < current) {
    if (now - state.since < p.stabilizationMs) return next(current, 'Stabilizing');
    const highest = Math.max(...recommendations.map((r) => r.replicas));
    if (highest >= current) return next(current, 'Stabilizing');
    return next(highest, 'ScaledDown');
  }
  return next(current, 'Steady');
}
