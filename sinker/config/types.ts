// The sinker's configuration after defaults are applied. The YAML file uses these snake_case keys
// (the seed's shape plus `dedupe` and `dlq`); the schema in schema.ts validates and documents it and
// must stay in step with these types. Durations are in seconds unless the key says otherwise.

export interface KafkaSaslConfig {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface KafkaTlsConfig {
  enabled: boolean;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  insecure_skip_verify: boolean;
}

export interface KafkaConfig {
  brokers: string[];
  topic: string;
  group_id: string;
  client_id: string;
  from_earliest: boolean;
  max_fetch_records: number;
  max_fetch_bytes: number;
  session_timeout: number;
  heartbeat_interval: number;
  /** Seconds between metadata refreshes: the longest a partition added to the topic waits to be consumed. */
  metadata_max_age: number;
  sasl?: KafkaSaslConfig;
  tls?: KafkaTlsConfig;
}

/** How loads reach the backends: straight to live BEs, through the FE's 307, or BE first with FE fallback. */
export type LoadRoute = 'auto' | 'backend' | 'frontend';

export interface DorisConfig {
  fe_hosts: string[];
  query_port: number;
  database: string;
  table: string;
  user: string;
  password: string;
  /** Stream Load `timeout` header and the client's own request deadline, seconds. */
  timeout: number;
  max_retries: number;
  retry_backoff_ms: number;
  load_route: LoadRoute;
  format: 'json' | 'csv';
  compress: boolean;
  /** Extra Stream Load headers (e.g. strict_mode, max_filter_ratio). */
  stream_load_properties: Record<string, string>;
}

export interface BatchConfig {
  max_batch_rows: number;
  max_batch_size: number;
  max_batch_interval: number;
  flush_worker_count: number;
  /** Mapping worker threads; 0 maps on the main thread. Loading fills the default; optional for configs built in code. */
  map_workers?: number;
  /** Bound on bytes held in memory (filling + loading); fetching pauses above it. */
  max_buffer_bytes: number;
  /** Merge several partitions' rows into one load (fewer Doris versions; fenced by Redis epochs). */
  merge_partitions: boolean;
}

export interface ColumnConfig {
  name: string;
  /** A Doris type in any DESCRIBE spelling, e.g. `bigint`, `varchar(64)`, `decimal(18,4)`, `datetime(3)`. */
  type: string;
  /** Whether the column accepts NULL (DESCRIBE's `Null`); manual columns default to true. */
  nullable: boolean;
}

export interface SchemaConfig {
  mode: 'auto' | 'manual';
  auto: { refresh_interval: number; validate_on_start: boolean };
  manual: { columns: ColumnConfig[] };
  /** Value a missing DATE column gets; DATETIME columns get it with 00:00:00. */
  zero_date: string;
}

export interface DedupeConfig {
  redis_url: string;
  /** false: run at-least-once when Redis is unreachable (warned and counted) instead of pausing. */
  required: boolean;
  key_prefix: string;
  /** Content dedupe: fields whose values identify a row; empty = off. */
  key_fields: string[];
  ttl: number;
}

export interface DlqConfig {
  kafka_topic?: string;
  file_path?: string;
}

export interface LogConfig {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  output: 'stdout' | 'file' | 'both';
  file_path: string;
  format: 'json';
  enable_sampling: boolean;
  max_size: number;
  max_age: number;
  max_backups: number;
}

export interface MetricsConfig {
  enabled: boolean;
  /** 0 = any free port. */
  port: number;
  path: string;
  /** Where the bound port is written once listening (for exec probes). */
  port_file?: string;
}

export interface PprofConfig {
  enabled: boolean;
  port: number;
  host: string;
}

export interface SinkerConfig {
  /** The sink's name: labels every metric series and prefixes labels and Redis keys. */
  name: string;
  kafka: KafkaConfig;
  doris: DorisConfig;
  batch: BatchConfig;
  schema: SchemaConfig;
  dedupe: DedupeConfig;
  dlq: DlqConfig;
  log: LogConfig;
  metrics: MetricsConfig;
  pprof: PprofConfig;
  /** Seconds a SIGTERM/SIGINT waits for batched rows to load and offsets to commit before exiting. */
  shutdown_timeout: number;
}
