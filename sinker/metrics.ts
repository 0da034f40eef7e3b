// The sinker's Prometheus metrics: the seed's names (DESIGN §5), plus DLQ, dedupe, backpressure and
// schema series, and Node's runtime metrics. Every series carries the sink's name as a default label
// (`sink` unless told otherwise), so one Prometheus can scrape many sinks. A registry per sinker (not
// prom-client's global one) keeps tests and several sinks in one process apart.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { MapStatsSnapshot } from './mapper/mapper.ts';

export interface MetricsOptions {
  /** The sink's name (config `name`). */
  sink: string;
  /** Label carrying the sink's name; default `sink`. */
  labelName?: string;
  /** Node runtime metrics (event loop lag, heap, GC, ...); default true. */
  defaultMetrics?: boolean;
}

/**
 * The `reason` values of dlq_messages_total: the pipeline's dead letters of the mapper and of loads
 * refused for good, and the rows Doris refused (writer). Each series is exposed at 0 from the start:
 * a counter series first seen at N has no earlier sample, so Prometheus's increase() and rate() see
 * no rise, and a process's first dead letters of a reason (most often the only ones) would never
 * set off DorisSinkerDeadLetters.
 */
export const DLQ_REASONS = ['mapper', 'doris_rejected', 'load_failed'] as const;

const ROWS_BUCKETS = [1, 10, 100, 500, 1000, 5000, 10_000, 50_000, 100_000];
const BYTES_BUCKETS = [1024, 16_384, 131_072, 1_048_576, 4_194_304, 10_485_760, 52_428_800, 104_857_600];
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface SinkerMetrics {
  registry: Registry;
  // Kafka
  kafkaMessagesConsumed: Counter<'topic'>;
  kafkaBytesConsumed: Counter<'topic'>;
  kafkaConsumeErrors: Counter<'error_type'>;
  kafkaConsumerLag: Gauge<'topic' | 'partition'>;
  kafkaCommits: Counter<'status'>;
  kafkaFetchPaused: Gauge;
  // batches
  batchFlush: Counter<'status'>;
  batchSizeRows: Histogram;
  batchSizeBytes: Histogram;
  batchFlushDuration: Histogram;
  batchMergedLoads: Counter<'outcome'>;
  batchMergedPartitions: Histogram;
  batchCurrentRows: Gauge;
  batchCurrentBytes: Gauge;
  bufferBytes: Gauge;
  // Doris
  dorisStreamLoad: Counter<'status'>;
  dorisRowsLoaded: Counter;
  dorisRowsFiltered: Counter;
  dorisStreamLoadDuration: Histogram;
  dorisStreamLoadRetries: Counter;
  dorisStreamLoadErrors: Counter<'error_type'>;
  dorisLoadBlocked: Gauge;
  // mapping
  jsonParseErrors: Counter;
  fieldMissing: Counter<'field'>;
  fieldTypeConversionErrors: Counter<'field' | 'from_type' | 'to_type'>;
  dlqMessages: Counter<'reason'>;
  // exactly-once and dedupe (Redis)
  dedupeDuplicates: Counter;
  dedupeRedisErrors: Counter<'op'>;
  dedupeAtLeastOnce: Gauge;
  dedupeStateStale: Gauge;
  // schema
  schemaColumns: Gauge;
  schemaChanges: Counter;
}

export function createMetrics(opts: MetricsOptions): SinkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ [opts.labelName ?? 'sink']: opts.sink });
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name, help, buckets, registers });

  const dlqMessages = counter('dlq_messages_total', 'Messages written to the dead-letter queue, by reason.', [
    'reason',
  ]);
  for (const reason of DLQ_REASONS) dlqMessages.inc({ reason }, 0);
  return {
    registry,
    kafkaMessagesConsumed: counter('kafka_messages_consumed_total', 'Messages fetched from Kafka.', ['topic']),
    kafkaBytesConsumed: counter('kafka_bytes_consumed_total', 'Message value bytes fetched from Kafka.', ['topic']),
    kafkaConsumeErrors: counter('kafka_consume_errors_total', 'Errors while consuming from Kafka.', ['error_type']),
    kafkaConsumerLag: gauge('kafka_consumer_lag', 'Log end offset minus the next offset to read, per partition.', [
      'topic',
      'partition',
    ]),
    kafkaCommits: counter('kafka_offset_commits_total', 'Kafka offset commits by outcome.', ['status']),
    kafkaFetchPaused: gauge('kafka_fetch_paused', '1 while fetching is paused because the in-memory bound is reached.'),
    batchFlush: counter('batch_flush_total', 'Batches flushed, by outcome (success, failed, dlq).', ['status']),
    batchSizeRows: histogram('batch_size_rows', 'Rows per flushed batch.', ROWS_BUCKETS),
    batchSizeBytes: histogram('batch_size_bytes', 'Body bytes per flushed batch.', BYTES_BUCKETS),
    batchFlushDuration: histogram(
      'batch_flush_duration_seconds',
      'Time from cutting a batch to it being settled.',
      SECONDS_BUCKETS,
    ),
    batchMergedLoads: counter(
      'batch_merged_loads_total',
      "Loads merging several partitions' batches (batch.merge_partitions), by outcome (committed, fallback).",
      ['outcome'],
    ),
    batchMergedPartitions: histogram(
      'batch_merged_partitions',
      'Partitions per committed merged load.',
      [2, 4, 8, 16, 32, 64, 128],
    ),
    batchCurrentRows: gauge('batch_current_rows', 'Rows in batches still filling.'),
    batchCurrentBytes: gauge('batch_current_bytes', 'Bytes in batches still filling.'),
    bufferBytes: gauge('batch_buffer_bytes', 'Bytes held in memory: filling batches plus batches not yet settled.'),
    dorisStreamLoad: counter('doris_stream_load_total', 'Stream Load requests, by outcome.', ['status']),
    dorisRowsLoaded: counter('doris_rows_loaded_total', 'Rows Doris reported loaded.'),
    dorisRowsFiltered: counter('doris_rows_filtered_total', 'Rows Doris reported filtered.'),
    dorisStreamLoadDuration: histogram(
      'doris_stream_load_duration_seconds',
      'Duration of one Stream Load request.',
      SECONDS_BUCKETS,
    ),
    dorisStreamLoadRetries: counter('doris_stream_load_retries_total', 'Stream Load attempts that were retries.'),
    dorisStreamLoadErrors: counter('doris_stream_load_errors_total', 'Stream Load failures, by error type.', [
      'error_type',
    ]),
    dorisLoadBlocked: gauge(
      'doris_load_blocked',
      "1 while Doris refuses the sink's setup (credentials, privileges, database, table) and loads are held: nothing dead-lettered or committed, fetching paused.",
    ),
    jsonParseErrors: counter('json_parse_errors_total', 'Messages that were not a valid JSON object.'),
    fieldMissing: counter('field_missing_total', 'Columns absent from a message (given their zero value).', ['field']),
    fieldTypeConversionErrors: counter(
      'field_type_conversion_errors_total',
      'Values that could not be converted losslessly (given the zero value).',
      ['field', 'from_type', 'to_type'],
    ),
    dlqMessages,
    dedupeDuplicates: counter('dedupe_duplicates_total', 'Rows dropped because their dedupe key was already loaded.'),
    dedupeRedisErrors: counter('dedupe_redis_errors_total', 'Redis operations that failed, by operation.', ['op']),
    dedupeAtLeastOnce: gauge(
      'dedupe_at_least_once',
      '1 while running at-least-once because Redis is unreachable (dedupe.required: false).',
    ),
    dedupeStateStale: gauge(
      'dedupe_state_stale',
      "1 while settles are refused: Redis holds exactly-once state the topic's log cannot have (re-created or truncated).",
    ),
    schemaColumns: gauge('schema_columns', 'Columns in the table schema the sinker loads.'),
    schemaChanges: counter('schema_changes_total', 'Schema changes picked up while running.'),
  };
}

/** Adds a mapper's counts (Mapper.drainStats()) to the counters. Call it periodically or per batch. */
export function recordMapStats(m: SinkerMetrics, s: MapStatsSnapshot): void {
  if (s.parseErrors > 0) m.jsonParseErrors.inc(s.parseErrors);
  for (const x of s.missing) m.fieldMissing.inc({ field: x.field }, x.count);
  for (const c of s.conversions) {
    m.fieldTypeConversionErrors.inc({ field: c.field, from_type: c.fromType, to_type: c.toType }, c.count);
  }
}
