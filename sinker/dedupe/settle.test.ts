import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SettleOptions, settlePartition } from './settle.ts';
import { type LogBounds, type StaleRecord, StaleStateError } from './stale.ts';
import type { Intent, PartitionState } from './state.ts';

const NOW = Date.parse('2026-11-25T08:00:00.000Z');

/** A store in memory that writes down what was asked of it, in order. */
function fakeStore(state: PartitionState, stale: StaleRecord | null = null, others: [number, PartitionState][] = []) {
  const calls: string[] = [];
  let kept = stale;
  const store: SettleOptions['store'] = {
    staleState: async () => {
      calls.push('staleState');
      return kept;
    },
    markStale: async (r) => {
      calls.push('markStale');
      kept ??= r;
      return kept;
    },
    topicState: async () => {
      calls.push('topicState');
      const all = new Map(others);
      if (state.watermark !== null || state.intents.length > 0) all.set(2, state);
      return all;
    },
    complete: async (_p, i) => {
      calls.push(`complete ${i.first}`);
      return i.last;
    },
    dropIntent: async () => {
      calls.push('dropIntent');
    },
    mergedDecision: async () => null,
    forgetDecision: async (label) => {
      calls.push(`forgetDecision ${label}`);
    },
  };
  return { store, calls, kept: () => kept };
}

function opts(store: SettleOptions['store'], calls: string[], high: string | null, committed: string | null = null) {
  return {
    store,
    topic: 'orders',
    partition: 2,
    committed,
    now: () => NOW,
    labelState: async (label: string) => {
      calls.push(`labelState ${label}`);
      return 'VISIBLE' as const;
    },
    ...(high === null
      ? {}
      : {
          logBounds: async (): Promise<Map<number, LogBounds>> => {
            calls.push('logBounds');
            return new Map([0, 1, 2].map((p) => [p, { low: '0', high }]));
          },
        }),
  };
}

const intent = (first: string, last: string): Intent => ({ label: `s:orders:2:${first}`, first, last, created: NOW });

test('state past the log end is recorded as stale and refused before any intent is settled', async () => {
  const { store, calls, kept } = fakeStore({ watermark: '49', intents: [intent('50', '59')] });
  await assert.rejects(settlePartition(opts(store, calls, '20')), (err: unknown) => {
    assert.ok(err instanceof StaleStateError);
    assert.deepEqual(err.record, {
      partition: 2,
      reason: 'watermark',
      offset: '49',
      watermark: '49',
      logStart: '0',
      logEnd: '20',
      at: '2026-11-25T08:00:00.000Z',
    });
    return true;
  });
  // The log end is read after the state (see findStale); no label is asked about, nothing completed.
  assert.deepEqual(calls, ['staleState', 'topicState', 'logBounds', 'markStale']);
  assert.equal(kept()?.logEnd, '20');
});

test('once recorded, stale state refuses every partition, also after the log grew past the old watermark', async () => {
  const recorded: StaleRecord = {
    partition: 0,
    reason: 'watermark',
    offset: '49',
    watermark: '49',
    logStart: '0',
    logEnd: '20',
    at: '2026-11-25T07:00:00.000Z',
  };
  const { store, calls } = fakeStore({ watermark: '49', intents: [] }, recorded);
  await assert.rejects(settlePartition(opts(store, calls, '500')), (err: unknown) => {
    assert.ok(err instanceof StaleStateError);
    assert.deepEqual(err.record, recorded, 'the first finding is what the refusal names');
    assert.match(err.message, /^topic orders partition 0: watermark 49 is at or past the log end 20/);
    return true;
  });
  assert.deepEqual(calls, ['staleState']);
});

test('a second finding keeps the first record', async () => {
  const first: StaleRecord = {
    partition: 1,
    reason: 'intent',
    offset: '70',
    watermark: null,
    logStart: '0',
    logEnd: '3',
    at: '2026-11-25T07:00:00.000Z',
  };
  const { store, calls } = fakeStore({ watermark: '49', intents: [] });
  // another process recorded its finding between this one's check and its own record
  store.markStale = async () => first;
  await assert.rejects(settlePartition(opts(store, calls, '20')), (err: unknown) => {
    assert.ok(err instanceof StaleStateError);
    assert.deepEqual(err.record, first);
    return true;
  });
});

test('normal state settles as before; the log end is not read without state', async () => {
  const a = fakeStore({ watermark: '19', intents: [intent('20', '29')] });
  const plan = await settlePartition(opts(a.store, a.calls, '30', '20'));
  assert.equal(plan.seekOffset, '30');
  assert.equal(plan.watermark, '29');
  assert.deepEqual(a.calls, ['staleState', 'topicState', 'logBounds', 'labelState s:orders:2:20', 'complete 20']);

  const b = fakeStore({ watermark: null, intents: [] });
  const fresh = await settlePartition(opts(b.store, b.calls, '0', '31'));
  assert.equal(fresh.seekOffset, '31', 'a committed offset past the end with no state of ours: Kafka resets it');
  assert.deepEqual(b.calls, ['staleState', 'topicState']);
});

test("another partition's stale state refuses this one, whose own state looks fine", async () => {
  // Partition 2's new log (0..299) already passed its old watermark 199; partition 0 (watermark 199) did not.
  const { store, calls } = fakeStore({ watermark: '199', intents: [] }, null, [[0, { watermark: '199', intents: [] }]]);
  const o = opts(store, calls, null);
  o.logBounds = async () => {
    calls.push('logBounds');
    return new Map([
      [0, { low: '0', high: '10' }],
      [1, { low: '0', high: '0' }],
      [2, { low: '0', high: '300' }],
    ]);
  };
  await assert.rejects(settlePartition(o), (err: unknown) => {
    assert.ok(err instanceof StaleStateError);
    assert.equal(err.record.partition, 0);
    assert.equal(err.record.logEnd, '10');
    return true;
  });
  assert.deepEqual(calls, ['staleState', 'topicState', 'logBounds', 'markStale']);
});

test('without log bounds (no Kafka at hand) only a recorded refusal applies', async () => {
  const { store, calls } = fakeStore({ watermark: '49', intents: [] });
  const plan = await settlePartition(opts(store, calls, null));
  assert.equal(plan.seekOffset, '50');
});
