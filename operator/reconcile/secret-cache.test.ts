// The cache of Secrets read by name: reuse within the TTL, a fresh read after it or after an
// invalidation, nothing kept about missing Secrets or failed reads, one read for concurrent asks,
// and only the fields a reference needs held in memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import { SecretCache, slimSecret } from './secret-cache.ts';

function bed() {
  let clock = 0;
  const store = new Map<string, V1Secret>();
  const reads: string[] = [];
  let fail: Error | undefined;
  let gate: Promise<void> | undefined;
  const cache = new SecretCache({
    ttlMs: 30_000,
    now: () => clock,
    fetch: async (ns, name) => {
      reads.push(`${ns}/${name}`);
      // the answer is what the store held when the read started
      const s = store.get(`${ns}/${name}`);
      if (gate) await gate;
      if (fail) throw fail;
      return s ? structuredClone(s) : undefined;
    },
  });
  const put = (ns: string, name: string, rv: string) =>
    store.set(`${ns}/${name}`, { metadata: { name, namespace: ns, resourceVersion: rv }, data: { k: 'dg==' } });
  return {
    cache,
    reads,
    put,
    store,
    advance: (ms: number) => {
      clock += ms;
    },
    failWith: (e: Error | undefined) => {
      fail = e;
    },
    hold: () => {
      let release = () => {};
      gate = new Promise<void>((r) => {
        release = r;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

test('a Secret is read once within the TTL and again after it: a rotation is seen', async () => {
  const b = bed();
  b.put('ns', 'redis', '1');
  assert.equal((await b.cache.get('ns', 'redis'))?.metadata?.resourceVersion, '1');
  b.put('ns', 'redis', '2');
  b.advance(29_999);
  assert.equal((await b.cache.get('ns', 'redis'))?.metadata?.resourceVersion, '1', 'cached');
  assert.equal(b.reads.length, 1);
  b.advance(1);
  assert.equal((await b.cache.get('ns', 'redis'))?.metadata?.resourceVersion, '2', 'expired: read again');
  assert.equal(b.reads.length, 2);
});

test('invalidate forces a fresh read, also over a read still in flight', async () => {
  const b = bed();
  b.put('ns', 'redis', '1');
  await b.cache.get('ns', 'redis');
  b.put('ns', 'redis', '2');
  b.cache.invalidate('ns', ['redis', 'other']);
  assert.equal((await b.cache.get('ns', 'redis'))?.metadata?.resourceVersion, '2');
  // a read started before the invalidation may predate the change: its answer is not kept
  const release = b.hold();
  const stale = b.cache.get('ns', 'redis');
  b.advance(30_000);
  const inflight = b.cache.get('ns', 'redis');
  b.cache.invalidate('ns', ['redis']);
  b.put('ns', 'redis', '3');
  release();
  assert.equal((await stale)?.metadata?.resourceVersion, '2', 'the old read answers its callers');
  await inflight;
  assert.equal((await b.cache.get('ns', 'redis'))?.metadata?.resourceVersion, '3');
});

test('concurrent gets of one Secret share one read', async () => {
  const b = bed();
  b.put('ns', 'redis', '1');
  const release = b.hold();
  const all = Promise.all([b.cache.get('ns', 'redis'), b.cache.get('ns', 'redis'), b.cache.get('ns', 'redis')]);
  release();
  const got = await all;
  assert.deepEqual(
    got.map((s) => s?.metadata?.resourceVersion),
    ['1', '1', '1'],
  );
  assert.equal(b.reads.length, 1);
});

test('a missing Secret and a failed read are not cached: the next get asks again', async () => {
  const b = bed();
  assert.equal(await b.cache.get('ns', 'late'), undefined);
  b.put('ns', 'late', '7');
  assert.equal((await b.cache.get('ns', 'late'))?.metadata?.resourceVersion, '7', 'created: seen at once');
  b.advance(30_000);
  b.failWith(new Error('503: unavailable'));
  await assert.rejects(b.cache.get('ns', 'late'), /503/);
  b.failWith(undefined);
  assert.equal((await b.cache.get('ns', 'late'))?.metadata?.resourceVersion, '7');
  // deleted: gone from the cache once the entry expires
  b.store.delete('ns/late');
  b.advance(30_000);
  assert.equal(await b.cache.get('ns', 'late'), undefined);
  assert.equal(b.cache.size, 0);
});

test('memory holds only the Secrets read within the TTL, and only what a reference needs', async () => {
  const b = bed();
  for (let i = 0; i < 5; i++) b.put('ns', `s${i}`, String(i));
  for (let i = 0; i < 5; i++) await b.cache.get('ns', `s${i}`);
  assert.equal(b.cache.size, 5);
  b.advance(30_000);
  await b.cache.get('ns', 's0');
  assert.equal(b.cache.size, 1, 'the others expired and were dropped');

  const full: V1Secret = {
    metadata: {
      name: 'doris',
      namespace: 'ns',
      resourceVersion: '9',
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"password":"c2VjcmV0"}}' },
      managedFields: [{ manager: 'kubectl' }],
      labels: { a: 'b' },
    },
    type: 'Opaque',
    data: { password: 'c2VjcmV0' },
  };
  assert.deepEqual(slimSecret(full), {
    metadata: { name: 'doris', namespace: 'ns', resourceVersion: '9' },
    data: { password: 'c2VjcmV0' },
  });
});
