import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderElector, type LeaseRecord, type LeaseStore } from './leader.ts';

function memoryStore(): LeaseStore & { record: LeaseRecord | undefined } {
  let rv = 0;
  const store = {
    record: undefined as LeaseRecord | undefined,
    async get() {
      return store.record ? { ...store.record } : undefined;
    },
    async create(r: LeaseRecord) {
      if (store.record) throw Object.assign(new Error('exists'), { code: 409 });
      store.record = { ...r, resourceVersion: String(++rv) };
      return { ...store.record };
    },
    async replace(r: LeaseRecord) {
      if (r.resourceVersion !== store.record?.resourceVersion)
        throw Object.assign(new Error('conflict'), { code: 409 });
      store.record = { ...r, resourceVersion: String(++rv) };
      return { ...store.record };
    },
  };
  return store;
}

function elector(id: string, store: LeaseStore, clock: { t: number }) {
  return new LeaderElector({
    identity: id,
    store,
    leaseDurationMs: 15_000,
    onStartedLeading: () => {},
    onStoppedLeading: () => {},
    now: () => clock.t,
  });
}

test('first candidate takes the lease; the second waits a lease duration of local time without renewals', async () => {
  const store = memoryStore();
  const clock = { t: 1_000_000 };
  const a = elector('a', store, clock);
  const b = elector('b', store, clock);
  assert.equal(await a.tryAcquireOrRenew(), true);
  assert.equal(store.record?.holderIdentity, 'a');
  assert.equal(await b.tryAcquireOrRenew(), false);
  clock.t += 10_000;
  assert.equal(await a.tryAcquireOrRenew(), true, 'a renews');
  clock.t += 10_000;
  assert.equal(await b.tryAcquireOrRenew(), false, 'renewal seen 10 s ago: still held');
  // a dies; b must observe no change for a full lease duration
  clock.t += 14_000;
  assert.equal(await b.tryAcquireOrRenew(), false);
  clock.t += 2_000;
  assert.equal(await b.tryAcquireOrRenew(), true);
  assert.equal(store.record?.holderIdentity, 'b');
  assert.equal(store.record?.leaseTransitions, 1);
});

test('expiry is judged by local observation, not the remote renewTime', async () => {
  const store = memoryStore();
  const clock = { t: 0 };
  const a = elector('a', store, clock);
  await a.tryAcquireOrRenew();
  // b's clock is far ahead: the lease's renewTime looks ancient, but b has only just seen it
  const bClock = { t: 10_000_000 };
  const b = elector('b', store, bClock);
  assert.equal(await b.tryAcquireOrRenew(), false);
});

test('a stale resourceVersion loses the race (409)', async () => {
  const store = memoryStore();
  const clock = { t: 0 };
  await elector('a', store, clock).tryAcquireOrRenew();
  const snapshot = await store.get();
  // c reads through a view frozen at `snapshot`, as if b's write had not reached it yet
  const c = elector('c', { get: async () => snapshot, create: store.create, replace: store.replace }, clock);
  const b = elector('b', store, clock);
  assert.equal(await c.tryAcquireOrRenew(), false);
  assert.equal(await b.tryAcquireOrRenew(), false);
  clock.t += 16_000;
  assert.equal(await b.tryAcquireOrRenew(), true, 'b takes the expired lease');
  await assert.rejects(c.tryAcquireOrRenew(), /conflict/);
  assert.equal(store.record?.holderIdentity, 'b');
});

test('stop releases the lease for an immediate takeover', async () => {
  const store = memoryStore();
  const clock = { t: 0 };
  let started = 0;
  const a = new LeaderElector({
    identity: 'a',
    store,
    retryPeriodMs: 10,
    onStartedLeading: () => started++,
    onStoppedLeading: () => {},
    now: () => clock.t,
  });
  const run = a.run();
  while (!a.isLeader()) await new Promise((r) => setTimeout(r, 5));
  assert.equal(started, 1);
  await a.stop();
  await run;
  assert.equal(store.record?.holderIdentity, '');
  const b = elector('b', store, clock);
  assert.equal(await b.tryAcquireOrRenew(), true, 'a lease without holder is free at once');
});
