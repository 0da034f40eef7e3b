import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LagSeries, partitionLags } from './lag.ts';
import { createMetrics } from './metrics.ts';

test('lag per owned partition: end minus committed, never negative, unknown without a commit', () => {
  const lags = partitionLags(
    [0, 1, 2, 3],
    [
      { partition: 0, high: '100' },
      { partition: 1, high: '50' },
      { partition: 2, high: '9007199254740993' },
      { partition: 3, high: '10' },
      { partition: 4, high: '999' },
    ],
    [
      { partition: 0, offset: '40' },
      { partition: 1, offset: '60' },
      { partition: 2, offset: '9007199254740990' },
      { partition: 3, offset: '-1' },
      { partition: 4, offset: '0' },
    ],
  );
  assert.deepEqual(
    [...lags],
    [
      [0, 60],
      [1, 0],
      [2, 3],
    ],
  );
});

test('a partition that moved away loses its series; owned ones keep theirs', async () => {
  const m = createMetrics({ sink: 's', defaultMetrics: false });
  const series = new LagSeries(m.kafkaConsumerLag, 't');
  const text = async () => (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('kafka_consumer_lag{'));
  series.show(
    new Map([
      [0, 5],
      [1, 7],
    ]),
    new Set([0, 1]),
  );
  assert.deepEqual(await text(), [
    'kafka_consumer_lag{topic="t",partition="0",sink="s"} 5',
    'kafka_consumer_lag{topic="t",partition="1",sink="s"} 7',
  ]);
  // a rebalance took partition 1 (reading lag may fail on that tick: forget alone still drops it)
  series.forget(new Set([0]));
  assert.deepEqual(await text(), ['kafka_consumer_lag{topic="t",partition="0",sink="s"} 5']);
  // a lag read for a partition no longer owned is not shown
  series.show(
    new Map([
      [0, 2],
      [1, 9],
    ]),
    new Set([0]),
  );
  assert.deepEqual(await text(), ['kafka_consumer_lag{topic="t",partition="0",sink="s"} 2']);
});
