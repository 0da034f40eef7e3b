// Where the demo puts things on the test bed: its own namespace, release, topics, database and Redis
// keys, so it never touches what tests use (and tests can find what the demo made).

export const DEMO = {
  namespace: 'doris-sinker-demo',
  /**
   * Named like the chart (as its README and skaffold.yaml install it): the chart then names its objects
   * `doris-sinker-operator`, not `doris-sinker-doris-sinker-operator`.
   */
  release: 'doris-sinker-operator',
  /** The release's name before: an operator still installed under it is removed (two would reconcile one sink). */
  previousRelease: 'doris-sinker',
  sink: 'tb-event',
  /** Each run's topic is `demo-events-<run>` and its DLQ `demo-events-<run>-dlq` (scripts/demo.ts says why). */
  topicPrefix: 'demo-events',
  partitions: 8,
  /** Doris database and table (the emulator keeps the rows in MariaDB `<prefix>demo`.`tb_event`). */
  database: 'demo',
  table: 'tb_event',
  minReplicas: 1,
  maxReplicas: 4,
  /**
   * Small enough that the default 100,000 events scale the sinkers out: produced at ~4k/s, one
   * sinker on a quiet 2-core machine runs ~10k messages behind at most.
   */
  lagPerReplica: 2_500,
  scaleDownStabilization: '30s',
  pollInterval: '2s',
  seed: 42,
} as const;

/** The operator's defaults for the sink's consumer group and Redis key prefix (operator/desired/names.ts). */
export const DEMO_GROUP = `doris-sinker.${DEMO.namespace}.${DEMO.sink}`;
export const DEMO_REDIS_PREFIX = `doris-sinker:${DEMO.namespace}:${DEMO.sink}`;
