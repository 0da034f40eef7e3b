// Renders a DorisSink into the sinker's YAML config (sinker/config/types.ts, snake_case keys). Secrets
// are never rendered: the config holds empty strings and the Deployment passes DORIS_PASSWORD,
// REDIS_URL and KAFKA_SASL_PASSWORD from the referenced Secrets, which the sinker reads as overrides.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../sinker/config/load.ts';
import type { DlqConfig, SinkerConfig } from '../../sinker/config/types.ts';
import { defaultSpec } from '../api/defaults.ts';
import { DLQ_TOPIC_SUFFIX, MAX_TOPIC_LENGTH, POD_WRITABLE_DIR } from '../api/schema.ts';
import type { DorisSink, DorisSinkSpec } from '../api/types.ts';
import { parseBytes, parseDuration } from '../api/units.ts';
import { groupId, METRICS_PORT_FILE, redisKeyPrefix, sinkerName } from './names.ts';

/** Environment variables the sinker reads as overrides of secret config keys. */
export const SECRET_ENV = {
  dorisPassword: 'DORIS_PASSWORD',
  redisUrl: 'REDIS_URL',
  kafkaSaslPassword: 'KAFKA_SASL_PASSWORD',
} as const;

export const TLS_MOUNT = '/etc/doris-sinker/kafka-tls';

/** The sinker's drain time on SIGTERM; the pod's grace period (objects.ts) leaves room above it. */
export const SHUTDOWN_TIMEOUT_SECONDS = 45;

/** Why `path` cannot hold a sinker pod's DLQ file (the CRD's rule on spec.dlq.filePath), or undefined. */
export function dlqFilePathProblem(path: string): string | undefined {
  const segments = path.split('/').slice(1);
  if (!path.startsWith(`${POD_WRITABLE_DIR}/`) || segments.length < 2 || segments.some((s) => s === '')) {
    return `${path} is not a file under ${POD_WRITABLE_DIR}, the pod's only writable directory (the image's filesystem is read-only)`;
  }
  if (segments.some((s) => s === '.' || s === '..')) return `${path} has "." or ".." segments`;
  return undefined;
}

/**
 * The sinker's `dlq` section. Never empty: given neither key, the sinker would write dead letters to
 * `<name>-dlq.jsonl` in its working directory, read-only in these pods, and the first one would hold
 * its partition for good. So a sink without spec.dlq gets the topic `<kafka.topic>-dlq`, and a file
 * is only ever rendered under the pod's writable /tmp.
 */
export function renderDlq(spec: Pick<DorisSinkSpec, 'kafka' | 'dlq'>): DlqConfig {
  const dlq: DlqConfig = {};
  const { kafkaTopic, filePath } = spec.dlq ?? {};
  if (kafkaTopic) dlq.kafka_topic = kafkaTopic;
  if (filePath) {
    const problem = dlqFilePathProblem(filePath);
    if (problem) throw new Error(`spec.dlq.filePath: ${problem}`);
    dlq.file_path = filePath;
  }
  if (!dlq.kafka_topic && !dlq.file_path) {
    const topic = `${spec.kafka.topic}${DLQ_TOPIC_SUFFIX}`;
    if (topic.length > MAX_TOPIC_LENGTH) {
      throw new Error(
        `spec.dlq: the default dead-letter topic ${topic} is longer than Kafka's ${MAX_TOPIC_LENGTH} characters: set spec.dlq.kafkaTopic`,
      );
    }
    dlq.kafka_topic = topic;
  }
  return dlq;
}

export function renderSinkerConfig(sink: DorisSink): SinkerConfig {
  const spec = defaultSpec(sink.spec);
  const { kafka, doris, batch, schema, dedupe, logging } = spec;
  const sec = (v: string, field: string) => parseDuration(v, `spec.${field}`);
  const config: SinkerConfig = {
    name: sinkerName(sink),
    kafka: {
      brokers: kafka.brokers,
      topic: kafka.topic,
      group_id: groupId(sink),
      client_id: kafka.clientId ?? sink.metadata.name,
      from_earliest: kafka.fromEarliest,
      max_fetch_records: kafka.maxFetchRecords,
      max_fetch_bytes: parseBytes(kafka.maxFetchBytes, 'spec.kafka.maxFetchBytes'),
      session_timeout: sec(kafka.sessionTimeout, 'kafka.sessionTimeout'),
      heartbeat_interval: sec(kafka.heartbeatInterval, 'kafka.heartbeatInterval'),
      metadata_max_age: sec(kafka.metadataMaxAge, 'kafka.metadataMaxAge'),
    },
    doris: {
      fe_hosts: doris.feHosts,
      query_port: doris.queryPort,
      database: doris.database,
      table: doris.table,
      user: doris.user,
      password: '',
      timeout: sec(doris.timeout, 'doris.timeout'),
      max_retries: doris.maxRetries,
      retry_backoff_ms: Math.round(sec(doris.retryBackoff, 'doris.retryBackoff') * 1000),
      load_route: doris.loadRoute,
      format: doris.streamLoad?.format ?? 'json',
      compress: doris.streamLoad?.compress ?? false,
      stream_load_properties: { ...(doris.streamLoad?.properties ?? {}) },
    },
    batch: {
      max_batch_rows: batch.maxBatchRows,
      max_batch_size: parseBytes(batch.maxBatchSize, 'spec.batch.maxBatchSize'),
      max_batch_interval: sec(batch.maxBatchInterval, 'batch.maxBatchInterval'),
      flush_worker_count: batch.flushWorkerCount,
      max_buffer_bytes: parseBytes(batch.maxBufferBytes, 'spec.batch.maxBufferBytes'),
      map_workers: batch.mapWorkers,
      merge_partitions: batch.mergePartitions,
    },
    schema: {
      mode: schema.mode,
      auto: {
        refresh_interval: sec(schema.refreshInterval, 'schema.refreshInterval'),
        validate_on_start: schema.validateOnStart,
      },
      manual: {
        columns: (schema.columns ?? []).map((c) => ({ name: c.name, type: c.type, nullable: c.nullable ?? true })),
      },
      zero_date: schema.zeroDate,
    },
    dedupe: {
      redis_url: '',
      required: dedupe.required,
      key_prefix: redisKeyPrefix(sink),
      key_fields: dedupe.keyFields ?? [],
      ttl: sec(dedupe.ttl, 'dedupe.ttl'),
    },
    dlq: renderDlq(spec),
    log: {
      level: logging.level,
      output: 'stdout',
      // Unused with output stdout, but the sinker's schema wants a path.
      file_path: '/tmp/doris-sinker.log',
      format: 'json',
      enable_sampling: logging.sampling,
      max_size: 100,
      max_age: 7,
      max_backups: 3,
    },
    // On the host network every replica on a node would bind the same port: each takes any free one
    // and writes it where the exec probes read it (objects.ts).
    metrics: spec.podTemplate?.hostNetwork
      ? { enabled: true, port: 0, path: '/metrics', port_file: METRICS_PORT_FILE }
      : { enabled: true, port: spec.metricsPort, path: '/metrics' },
    pprof: { enabled: false, port: 6060, host: '127.0.0.1' },
    shutdown_timeout: SHUTDOWN_TIMEOUT_SECONDS,
  };
  if (kafka.sasl) {
    config.kafka.sasl = { mechanism: kafka.sasl.mechanism ?? 'plain', username: kafka.sasl.username, password: '' };
  }
  if (kafka.tls && kafka.tls.enabled !== false) {
    const tls: NonNullable<SinkerConfig['kafka']['tls']> = {
      enabled: true,
      insecure_skip_verify: kafka.tls.insecureSkipVerify ?? false,
    };
    if (kafka.tls.caSecretRef) tls.ca_file = `${TLS_MOUNT}/ca/${kafka.tls.caSecretRef.key}`;
    const client = kafka.tls.clientCertSecretRef;
    if (client) {
      tls.cert_file = `${TLS_MOUNT}/client/${client.certKey ?? 'tls.crt'}`;
      tls.key_file = `${TLS_MOUNT}/client/${client.keyKey ?? 'tls.key'}`;
    }
    config.kafka.tls = tls;
  }
  return config;
}

export function configYaml(config: SinkerConfig): string {
  return `# Rendered by doris-sinker-operator from a DorisSink; secrets come from the environment.\n${stringify(config, { lineWidth: 0 })}`;
}

/** Stand-ins for the Secret values the pods get from the environment: valid, and never echoed in a message. */
const PLACEHOLDER_ENV = {
  [SECRET_ENV.dorisPassword]: 'placeholder',
  [SECRET_ENV.redisUrl]: 'redis://placeholder:6379/0',
  [SECRET_ENV.kafkaSaslPassword]: 'placeholder',
};

/**
 * What the sinker's own config check (the one it runs at start, exiting 2) says about `config`, or
 * undefined when it accepts it. The CRD cannot express all of it (heartbeat below the session timeout,
 * a buffer that holds a whole batch, every Stream Load header the sinker sets itself), and a config the
 * sinker refuses would only show as pods that crash-loop.
 */
export function sinkerConfigProblem(config: SinkerConfig): string | undefined {
  try {
    parseConfig(configYaml(config), { source: 'rendered from this DorisSink', env: PLACEHOLDER_ENV });
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return `the sinker would refuse its config (keys of the sinker's config file): ${err.problems.join('; ')}`;
  }
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
