// Replicas recommended for a lag, before stabilization: desired = clamp(ceil(lag / lagPerReplica),
// minReplicas, min(maxReplicas, partitions)), with activation and a tolerance band.

export interface RecommendParams {
  minReplicas: number;
  maxReplicas: number;
  lagPerReplica: bigint;
  activationLag: bigint;
  /** Partitions of the topic; more replicas than partitions would sit idle. 0 = unknown (no cap). */
  partitions: number;
  /** Fraction (0.1 = 10%) of the current capacity within which the recommendation keeps `current`. */
  tolerance: number;
}

/** Highest replica count the sink may run: maxReplicas capped by the partition count. */
export function replicaCap(p: Pick<RecommendParams, 'maxReplicas' | 'partitions'>): number {
  return p.partitions > 0 ? Math.min(p.maxReplicas, p.partitions) : p.maxReplicas;
}

export function clampReplicas(
  n: number,
  p: Pick<RecommendParams, 'minReplicas' | 'maxReplicas' | 'partitions'>,
): number {
  const upper = replicaCap(p);
  const lower = Math.min(p.minReplicas, upper);
  return Math.max(lower, Math.min(upper, n));
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/**
 * Recommended replicas for `lag`, or undefined when the lag is unknown (offsets unreadable): the
 * caller then holds the current count; unknown never reads as zero. `uncommitted`: partitions with
 * data the group never committed, read from their end (LagSummary.uncommitted).
 */
export function recommendReplicas(
  lag: bigint | undefined,
  current: number,
  p: RecommendParams,
  uncommitted = 0,
): number | undefined {
  if (lag === undefined) return undefined;
  if (p.lagPerReplica <= 0n) throw new Error(`lagPerReplica must be positive, got ${p.lagPerReplica}`);
  // Activation: at or below activationLag the sink is idle (0, or minReplicas); above, at least 1.
  // Not while a partition holding data was never committed: its 1 is a placeholder, and only a
  // running sinker sets the group's position there. Held at 0 below activationLag, the group would
  // never commit, the lag would stay at that placeholder, and the sink never start, whatever the
  // producers wrote (and start, once it did, from the end: skipping all of it).
  if (lag <= p.activationLag && uncommitted === 0) return clampReplicas(0, p);
  const raw = ceilDiv(lag, p.lagPerReplica);
  let wanted = raw > BigInt(p.maxReplicas) ? p.maxReplicas : Math.max(1, Number(raw));
  if (current > 0) {
    // Tolerance: within ±tolerance of what the current replicas are sized for, keep them.
    const ratio = Number(lag) / (current * Number(p.lagPerReplica));
    if (Math.abs(ratio - 1) <= p.tolerance) wanted = current;
  }
  return clampReplicas(wanted, p);
}
