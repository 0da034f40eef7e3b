// A DorisSink that sets every field: the parity test walks it against the schema, and tests use it.
import { API_VERSION, KIND } from './schema.ts';
import type { DorisSink, DorisSinkSpec, DorisSinkStatus } from './types.ts';

export function fullSpec(): DorisSinkSpec {
  return {
    kafka: {
      brokers: ['kafka-0.kafka:9092', 'kafka-1.kafka:9092'],
      topic: 'events',
      groupId: 'events-to-doris',
      clientId: 'events-sinker',
      fromEarliest: true,
      maxFetchRecords: 2000,
      maxFetchBytes: '8Mi',
      sessionTimeout: '45s',
      heartbeatInterval: '5s',
      metadataMaxAge: '30s',
      sasl: {
        mechanism: 'scram-sha-512',
        username: 'sinker',
        passwordSecretRef: { name: 'kafka-auth', key: 'password' },
      },
      tls: {
        enabled: true,
        caSecretRef: { name: 'kafka-ca', key: 'ca.crt' },
        clientCertSecretRef: { name: 'kafka-client', certKey: 'tls.crt', keyKey: 'tls.key' },
        insecureSkipVerify: false,
      },
    },
    doris: {
      feHosts: ['doris-fe-0:8030', 'doris-fe-1:8030'],
      queryPort: 9030,
      database: 'analytics',
      table: 'tb_event',
      user: 'loader',
      passwordSecretRef: { name: 'doris-auth', key: 'password' },
      timeout: '5m',
      maxRetries: 5,
      retryBackoff: '2s',
      loadRoute: 'backend',
      streamLoad: { format: 'json', compress: true, properties: { strict_mode: 'true', max_filter_ratio: '0.1' } },
    },
    batch: {
      maxBatchRows: 50000,
      mergePartitions: true,
      maxBatchSize: '32Mi',
      maxBatchInterval: '2s',
      flushWorkerCount: 8,
      maxBufferBytes: '512Mi',
      mapWorkers: 2,
    },
    schema: {
      mode: 'manual',
      refreshInterval: '10m',
      validateOnStart: false,
      columns: [
        { name: 'id', type: 'BIGINT', nullable: false },
        { name: 'name', type: 'VARCHAR(64)', nullable: true },
      ],
      zeroDate: '1970-01-01',
    },
    dedupe: {
      redisUrlSecretRef: { name: 'redis', key: 'url' },
      required: false,
      keyPrefix: 'sinks:events',
      keyFields: ['id'],
      ttl: '12h',
    },
    dlq: { kafkaTopic: 'events-dlq', filePath: '/tmp/dlq.jsonl' },
    scaling: {
      mode: 'builtin',
      minReplicas: 0,
      maxReplicas: 8,
      lagPerReplica: 10000,
      activationLag: 100,
      scaleDownStabilization: '2m',
      pollInterval: '15s',
      tolerance: 5,
    },
    paused: false,
    replicas: 2,
    image: 'registry.example.com/doris-sinker:0.1.0',
    imagePullPolicy: 'IfNotPresent',
    metricsPort: 9464,
    resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } },
    logging: { level: 'debug', sampling: true },
    podTemplate: {
      labels: { team: 'data' },
      annotations: { 'example.com/owner': 'data' },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [
        { key: 'dedicated', operator: 'Equal', value: 'ingest', effect: 'NoExecute', tolerationSeconds: 60 },
      ],
      affinity: { nodeAffinity: {} },
      hostNetwork: false,
      serviceAccountName: 'sinker',
      priorityClassName: 'high',
      imagePullSecrets: [{ name: 'regcred' }],
    },
  };
}

export function fullStatus(): DorisSinkStatus {
  return {
    observedGeneration: 3,
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Running',
        message: 'all replicas ready',
        lastTransitionTime: '2026-01-01T00:00:00Z',
        observedGeneration: 3,
      },
    ],
    replicas: 2,
    readyReplicas: 2,
    desiredReplicas: 2,
    labelSelector: 'app.kubernetes.io/name=doris-sinker,dorissinker.io/sink=events',
    partitions: 8,
    lag: { total: 10, partitionsWithLag: 1, maxPartitionLag: 10, observedAt: '2026-01-01T00:00:00Z', error: 'x' },
    schema: { hash: 'abc', columns: 2, observedAt: '2026-01-01T00:00:00Z' },
    configHash: 'def',
    lastScaleTime: '2026-01-01T00:00:00Z',
  };
}

/** A minimal valid sink (only required fields). */
export function minimalSink(name = 'events', namespace = 'default'): DorisSink {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace, uid: '11111111-2222-3333-4444-555555555555', generation: 1 },
    spec: {
      kafka: { brokers: ['kafka:9092'], topic: 'events' },
      doris: { feHosts: ['doris-fe:8030'], database: 'analytics', table: 'tb_event' },
      dedupe: { redisUrlSecretRef: { name: 'redis', key: 'url' } },
    },
  };
}
