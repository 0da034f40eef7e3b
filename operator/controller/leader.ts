// Leader election on a coordination.k8s.io/v1 Lease (client-go's rules): lease 15 s, renew deadline
// 10 s, retry 2 s; a foreign lease is judged expired by LOCAL time since its record last changed (not
// the remote clock); writes carry the read resourceVersion, so a 409 means another candidate won.
import { setTimeout as sleep } from 'node:timers/promises';
import { type CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions?: number;
  resourceVersion?: string;
}

/** Storage of one Lease; create/replace reject with `code` 409 when the resourceVersion is stale. */
export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  create(r: LeaseRecord): Promise<LeaseRecord>;
  replace(r: LeaseRecord): Promise<LeaseRecord>;
}

export interface ElectorOptions {
  identity: string;
  store: LeaseStore;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  /** Called once when leadership is lost; the operator exits (a fresh process re-joins). */
  onStoppedLeading: () => void;
  log?: (msg: string, err?: unknown) => void;
  now?: () => number;
}

export class LeaderElector {
  readonly #o: Required<Omit<ElectorOptions, 'log'>> & Pick<ElectorOptions, 'log'>;
  #observed: { key: string; at: number } | undefined;
  #leading = false;
  #stopped = false;
  #lastRenew = 0;

  constructor(opts: ElectorOptions) {
    this.#o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, now: Date.now, ...opts };
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /** One acquire-or-renew attempt; true when this candidate holds the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#o.now();
    const mine: LeaseRecord = {
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
      acquireTime: new Date(now),
      renewTime: new Date(now),
      leaseTransitions: 0,
    };
    const current = await this.#o.store.get();
    if (!current) {
      await this.#o.store.create(mine);
      this.#observed = { key: `${this.#o.identity}@${now}`, at: now };
      return true;
    }
    const key = `${current.holderIdentity ?? ''}@${current.renewTime?.getTime() ?? 0}@${current.resourceVersion}`;
    if (!this.#observed || this.#observed.key !== key) this.#observed = { key, at: now };
    const held = current.holderIdentity && current.holderIdentity !== this.#o.identity;
    const durationMs = (current.leaseDurationSeconds ?? this.#o.leaseDurationMs / 1000) * 1000;
    if (held && now - this.#observed.at < durationMs) return false;
    const next: LeaseRecord = { ...mine, resourceVersion: current.resourceVersion as string };
    if (current.holderIdentity === this.#o.identity) {
      next.acquireTime = current.acquireTime ?? mine.acquireTime;
      next.leaseTransitions = current.leaseTransitions ?? 0;
    } else {
      next.leaseTransitions = (current.leaseTransitions ?? 0) + 1;
    }
    const written = await this.#o.store.replace(next);
    this.#observed = {
      key: `${written.holderIdentity}@${written.renewTime?.getTime()}@${written.resourceVersion}`,
      at: now,
    };
    return true;
  }

  /** Runs until stopped or leadership is lost. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.#o.log?.('lease attempt failed', err);
      }
      const now = this.#o.now();
      if (ok) {
        this.#lastRenew = now;
        if (!this.#leading) {
          this.#leading = true;
          this.#o.onStartedLeading();
        }
      } else if (this.#leading && now - this.#lastRenew > this.#o.renewDeadlineMs) {
        this.#leading = false;
        this.#o.onStoppedLeading();
        return;
      }
      await sleep(this.#o.retryPeriodMs);
    }
  }

  /** Stops campaigning; a leader gives the lease up so another candidate takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const current = await this.#o.store.get();
      if (current?.holderIdentity === this.#o.identity) {
        await this.#o.store.replace({ ...current, holderIdentity: '', leaseDurationSeconds: 1 });
      }
    } catch (err) {
      this.#o.log?.('releasing the lease failed', err);
    }
  }
}

/** LeaseStore on the apiserver. */
export function kubeLeaseStore(api: CoordinationV1Api, namespace: string, name: string): LeaseStore {
  const toRecord = (l: V1Lease): LeaseRecord => {
    const r: LeaseRecord = {};
    const s = l.spec ?? {};
    if (s.holderIdentity !== undefined) r.holderIdentity = s.holderIdentity;
    if (s.leaseDurationSeconds !== undefined) r.leaseDurationSeconds = s.leaseDurationSeconds;
    if (s.acquireTime) r.acquireTime = new Date(s.acquireTime);
    if (s.renewTime) r.renewTime = new Date(s.renewTime);
    if (s.leaseTransitions !== undefined) r.leaseTransitions = s.leaseTransitions;
    if (l.metadata?.resourceVersion) r.resourceVersion = l.metadata.resourceVersion;
    return r;
  };
  const toLease = (r: LeaseRecord): V1Lease => {
    const lease: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace },
      spec: {
        holderIdentity: r.holderIdentity as string,
        leaseDurationSeconds: r.leaseDurationSeconds as number,
        leaseTransitions: r.leaseTransitions as number,
      },
    };
    // MicroTime: the apiserver refuses millisecond timestamps in these fields.
    if (r.acquireTime)
      (lease.spec as NonNullable<V1Lease['spec']>).acquireTime = new V1MicroTime(r.acquireTime.getTime());
    if (r.renewTime) (lease.spec as NonNullable<V1Lease['spec']>).renewTime = new V1MicroTime(r.renewTime.getTime());
    if (r.resourceVersion) (lease.metadata as NonNullable<V1Lease['metadata']>).resourceVersion = r.resourceVersion;
    return lease;
  };
  return {
    async get() {
      try {
        return toRecord(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
    async create(r) {
      return toRecord(await api.createNamespacedLease({ namespace, body: toLease(r) }));
    },
    async replace(r) {
      return toRecord(await api.replaceNamespacedLease({ name, namespace, body: toLease(r) }));
    },
  };
}

/** Waits until `elector` leads (tests). */
export async function waitForLeadership(elector: LeaderElector, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (elector.isLeader()) return true;
    await sleep(50);
  }
  return elector.isLeader();
}
