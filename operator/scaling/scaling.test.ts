import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReplicas, HPA_SCALE_UP, newScaleState } from './decide.ts';
import { lagToNumber, parseOffset, partitionLag, summarizeLag } from './lag.ts';
import { clampReplicas, type RecommendParams, recommendReplicas, replicaCap } from './recommend.ts';

test('partition lag: committed, no commit (earliest/latest), below log start, past end', () => {
  assert.equal(partitionLag({ partition: 0, low: 0n, high: 100n, committed: 40n }, false), 60n);
  assert.equal(partitionLag({ partition: 0, low: 0n, high: 100n, committed: 100n }, true), 0n);
  // no commit, earliest: the retained range, not the end offset
  assert.equal(partitionLag({ partition: 0, low: 30n, high: 100n, committed: -1n }, true), 70n);
  assert.equal(partitionLag({ partition: 0, low: 30n, high: 100n }, true), 70n);
  // no commit, latest: 1 when there is data, 0 for an empty partition
  assert.equal(partitionLag({ partition: 0, low: 30n, high: 100n, committed: -1n }, false), 1n);
  assert.equal(partitionLag({ partition: 0, low: 100n, high: 100n, committed: -1n }, false), 0n);
  assert.equal(partitionLag({ partition: 0, low: 0n, high: 0n }, true), 0n);
  // commit deleted by retention: reset by the policy
  assert.equal(partitionLag({ partition: 0, low: 50n, high: 100n, committed: 10n }, true), 50n);
  assert.equal(partitionLag({ partition: 0, low: 50n, high: 100n, committed: 10n }, false), 0n);
  // commit past the end (topic recreated): 0, never negative
  assert.equal(partitionLag({ partition: 0, low: 0n, high: 5n, committed: 99n }, true), 0n);
  // int64 beyond 2^53 stays exact
  const big = 2n ** 62n;
  assert.equal(partitionLag({ partition: 0, low: 0n, high: big + 10n, committed: big }, false), 10n);
});

test('summary: total, partitions with lag, max', () => {
  const s = summarizeLag(
    [
      { partition: 0, low: 0n, high: 100n, committed: 90n },
      { partition: 1, low: 0n, high: 50n, committed: 50n },
      { partition: 2, low: 0n, high: 500n, committed: 0n },
    ],
    false,
  );
  assert.equal(s.total, 510n);
  assert.equal(s.partitionsWithLag, 2);
  assert.equal(s.maxPartitionLag, 500n);
  assert.equal(s.perPartition.get(1), 0n);
  assert.equal(summarizeLag([], true).total, 0n);
  assert.equal(s.uncommitted, 0);
});

test('summary: partitions with data the group never committed, read from their end', () => {
  const parts = [
    { partition: 0, low: 0n, high: 100n, committed: -1n },
    { partition: 1, low: 0n, high: 50n },
    { partition: 2, low: 0n, high: 0n },
    { partition: 3, low: 0n, high: 500n, committed: 400n },
  ];
  assert.equal(summarizeLag(parts, false).uncommitted, 2, 'p0 and p1; p2 is empty, p3 committed');
  assert.equal(summarizeLag(parts, false).total, 102n);
  assert.equal(summarizeLag(parts, true).uncommitted, 0, 'from earliest their whole range is the lag');
});

test('offset parsing and saturation', () => {
  assert.equal(parseOffset('-1', 'p0'), -1n);
  assert.equal(parseOffset('9223372036854775807', 'p0'), 9223372036854775807n);
  assert.equal(parseOffset(undefined, 'p0'), undefined);
  assert.throws(() => parseOffset('1.5', 'topic t partition 3'), /partition 3/);
  assert.equal(lagToNumber(2n ** 70n), Number.MAX_SAFE_INTEGER);
  assert.equal(lagToNumber(42n), 42);
});

const params: RecommendParams = {
  minReplicas: 0,
  maxReplicas: 10,
  lagPerReplica: 1000n,
  activationLag: 50n,
  partitions: 8,
  tolerance: 0.1,
};

test('recommendation: ceil(lag/lagPerReplica), clamped to min and min(max, partitions)', () => {
  assert.equal(recommendReplicas(2500n, 0, params), 3);
  assert.equal(recommendReplicas(1_000_000n, 0, params), 8, 'partition cap');
  assert.equal(recommendReplicas(1_000_000n, 0, { ...params, partitions: 20 }), 10, 'maxReplicas cap');
  assert.equal(recommendReplicas(1_000_000n, 0, { ...params, partitions: 0 }), 10, 'unknown partitions: max only');
  assert.equal(recommendReplicas(100n, 0, { ...params, minReplicas: 2 }), 2, 'minReplicas floor');
  assert.equal(recommendReplicas(10n ** 30n, 1, params), 8, 'huge lag does not overflow');
  assert.equal(replicaCap({ maxReplicas: 10, partitions: 3 }), 3);
  assert.equal(clampReplicas(0, { minReplicas: 5, maxReplicas: 10, partitions: 3 }), 3, 'cap wins over min');
});

test('activation: 0↔1 only across activationLag (strictly greater to activate)', () => {
  assert.equal(recommendReplicas(50n, 0, params), 0, 'lag == activationLag stays at 0');
  assert.equal(recommendReplicas(51n, 0, params), 1, 'lag > activationLag activates');
  assert.equal(recommendReplicas(30n, 3, params), 0, 'idle again: back to 0');
  assert.equal(recommendReplicas(30n, 3, { ...params, minReplicas: 1 }), 1, 'min 1 never reaches 0');
  assert.equal(recommendReplicas(0n, 0, params), 0);
});

test('activation: a group that never committed partitions holding data starts one sinker, whatever activationLag', () => {
  // 8 partitions with data, no commit, latest: lag 8 (1 each) ≤ activationLag 50. Held at 0 the group
  // would never commit and the lag stay 8 however much producers wrote.
  assert.equal(recommendReplicas(8n, 0, params, 8), 1);
  assert.equal(recommendReplicas(8n, 1, params, 8), 1, 'and keeps it until they are committed');
  assert.equal(recommendReplicas(8n, 0, params, 0), 0, 'committed partitions: activationLag as before');
  assert.equal(recommendReplicas(5000n, 0, params, 3), 5, 'a real backlog beside them sizes as usual');
});

test('tolerance band keeps the current count for small deviations', () => {
  // 4 replicas sized for 4000; 4300 is within 10% → stay at 4 (plain formula would say 5)
  assert.equal(recommendReplicas(4300n, 4, params), 4);
  assert.equal(recommendReplicas(3700n, 4, params), 4);
  assert.equal(recommendReplicas(4500n, 4, params), 5);
  assert.equal(recommendReplicas(3000n, 4, params), 3);
  assert.equal(recommendReplicas(4300n, 4, { ...params, tolerance: 0 }), 5);
});

test('unknown lag is not zero: no recommendation, decision holds', () => {
  assert.equal(recommendReplicas(undefined, 3, params), undefined);
  const d = decideReplicas(newScaleState(0), 1_000_000, 3, undefined, { stabilizationMs: 60_000, ...HPA_SCALE_UP });
  assert.equal(d.replicas, 3);
  assert.equal(d.reason, 'LagUnknown');
});

const dp = { stabilizationMs: 60_000, ...HPA_SCALE_UP };

test('scale up at once, limited to max(+4, +100%) per period', () => {
  let s = newScaleState(0);
  let d = decideReplicas(s, 1000, 0, 3, dp);
  assert.deepEqual([d.replicas, d.reason], [3, 'ScaledUp']);
  d = decideReplicas(newScaleState(0), 1000, 0, 20, dp);
  assert.deepEqual([d.replicas, d.reason], [4, 'ScaleUpLimited'], 'from 0: +4');
  d = decideReplicas(newScaleState(0), 1000, 10, 40, dp);
  assert.equal(d.replicas, 20, 'from 10: +100%');
  // a second step within the same period counts from the period's start
  s = newScaleState(0);
  d = decideReplicas(s, 1000, 2, 6, dp);
  assert.equal(d.replicas, 6);
  d = decideReplicas(d.state, 5000, 6, 12, dp);
  assert.deepEqual([d.replicas, d.reason], [6, 'ScaleUpLimited'], 'limit from base 2 is 6');
  d = decideReplicas(d.state, 1000 + 15_000, 6, 12, dp);
  assert.equal(d.replicas, 12, 'next period allows the step');
});

test('scale down only after the stabilization window, to the highest recommendation within it', () => {
  let s = newScaleState(0);
  // warm-up: observed for less than a window → no scale down even if asked
  let d = decideReplicas(s, 10_000, 8, 2, dp);
  assert.deepEqual([d.replicas, d.reason], [8, 'Stabilizing']);
  s = d.state;
  d = decideReplicas(s, 40_000, 8, 5, dp);
  assert.equal(d.replicas, 8);
  s = d.state;
  // window observed; recommendations within the last 60 s: 2 (t=10s), 5 (t=40s), 3 now → highest 5
  d = decideReplicas(s, 65_000, 8, 3, dp);
  assert.deepEqual([d.replicas, d.reason], [5, 'ScaledDown']);
  s = d.state;
  // t=10s and t=40s fall out by t=101s; only 3 (t=65s) and 3 (now) remain
  d = decideReplicas(s, 101_000, 5, 3, dp);
  assert.deepEqual([d.replicas, d.reason], [3, 'ScaledDown']);
});

test('a spike inside the window prevents scale down (no flapping)', () => {
  let s = newScaleState(-1_000_000);
  let d = decideReplicas(s, 0, 4, 4, dp);
  s = d.state;
  d = decideReplicas(s, 10_000, 4, 8, dp); // spike: up at once
  assert.equal(d.replicas, 8);
  s = d.state;
  d = decideReplicas(s, 20_000, 8, 1, dp);
  assert.deepEqual([d.replicas, d.reason], [8, 'Stabilizing']);
  s = d.state;
  d = decideReplicas(s, 69_000, 8, 1, dp);
  assert.equal(d.replicas, 8, 'spike at t=10s still within the window');
  s = d.state;
  d = decideReplicas(s, 71_000, 8, 1, dp);
  assert.equal(d.replicas, 1, 'window passed');
});
