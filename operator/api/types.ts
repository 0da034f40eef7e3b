// TypeScript view of the DorisSink API. schema.ts is the source of truth (CRD, defaults, docs);
// these types mirror it for the compiler and types.test.ts checks that they list the same fields.
// Optional here = may be absent on an object before defaults are applied.
import type { V1ObjectMeta } from '@kubernetes/client-node';

export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface KafkaSpec {
  brokers: string[];
  topic: string;
  groupId?: string;
  clientId?: string;
  fromEarliest?: boolean;
  maxFetchRecords?: number;
  maxFetchBytes?: number | string;
  sessionTimeout?: string;
  heartbeatInterval?: string;
  metadataMaxAge?: string;
  sasl?: {
    mechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    username: string;
    passwordSecretRef: SecretKeyRef;
  };
  tls?: {
    enabled?: boolean;
    caSecretRef?: SecretKeyRef;
    clientCertSecretRef?: { name: string; certKey?: string; keyKey?: string };
    insecureSkipVerify?: boolean;
  };
}

export interface DorisSpec {
  feHosts: string[];
  queryPort?: number;
  database: string;
  table: string;
  user?: string;
  passwordSecretRef?: SecretKeyRef;
  timeout?: string;
  maxRetries?: number;
  retryBackoff?: string;
  loadRoute?: 'auto' | 'backend' | 'frontend';
  streamLoad?: {
    format?: 'json' | 'csv';
    compress?: boolean;
    properties?: Record<string, string>;
  };
}

export interface BatchSpec {
  maxBatchRows?: number;
  maxBatchSize?: number | string;
  maxBatchInterval?: string;
  flushWorkerCount?: number;
  maxBufferBytes?: number | string;
  mapWorkers?: number;
  mergePartitions?: boolean;
}

export interface ColumnSpec {
  name: string;
  type: string;
  nullable?: boolean;
}

export interface SchemaSpec {
  mode?: 'auto' | 'manual';
  refreshInterval?: string;
  validateOnStart?: boolean;
  columns?: ColumnSpec[];
  zeroDate?: string;
}

export interface DedupeSpec {
  redisUrlSecretRef: SecretKeyRef;
  required?: boolean;
  keyPrefix?: string;
  keyFields?: string[];
  ttl?: string;
}

export interface DlqSpec {
  kafkaTopic?: string;
  filePath?: string;
}

export type ScalingMode = 'builtin' | 'external';

export interface ScalingSpec {
  mode?: ScalingMode;
  minReplicas?: number;
  maxReplicas?: number;
  lagPerReplica?: number;
  activationLag?: number;
  scaleDownStabilization?: string;
  pollInterval?: string;
  tolerance?: number;
}

export interface LoggingSpec {
  level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  sampling?: boolean;
}

export interface ResourcesSpec {
  requests?: Record<string, number | string>;
  limits?: Record<string, number | string>;
}

export interface TolerationSpec {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | '';
  tolerationSeconds?: number;
}

export interface PodTemplateSpec {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  tolerations?: TolerationSpec[];
  affinity?: Record<string, unknown>;
  hostNetwork?: boolean;
  serviceAccountName?: string;
  priorityClassName?: string;
  imagePullSecrets?: { name: string }[];
}

export interface DorisSinkSpec {
  kafka: KafkaSpec;
  doris: DorisSpec;
  batch?: BatchSpec;
  schema?: SchemaSpec;
  dedupe: DedupeSpec;
  dlq?: DlqSpec;
  scaling?: ScalingSpec;
  paused?: boolean;
  replicas?: number;
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  metricsPort?: number;
  resources?: ResourcesSpec;
  logging?: LoggingSpec;
  podTemplate?: PodTemplateSpec;
}

export type ConditionType = 'Ready' | 'SchemaSynced' | 'Scaling' | 'Degraded';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: ConditionType | string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface LagStatus {
  total?: number;
  partitionsWithLag?: number;
  maxPartitionLag?: number;
  observedAt?: string;
  error?: string;
}

export interface SchemaStatus {
  hash?: string;
  columns?: number;
  observedAt?: string;
}

export interface DorisSinkStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  replicas?: number;
  readyReplicas?: number;
  desiredReplicas?: number;
  labelSelector?: string;
  partitions?: number;
  lag?: LagStatus;
  schema?: SchemaStatus;
  configHash?: string;
  lastScaleTime?: string;
}

/** Object metadata; `name` is always set on a stored object. */
export type ObjectMeta = V1ObjectMeta & { name: string };

export interface DorisSink {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: DorisSinkSpec;
  status?: DorisSinkStatus;
}

// After defaults (defaults.ts) every field with a schema default is present.
type Req<T, K extends keyof T> = T & Required<Pick<T, K>>;
export interface DefaultedSpec extends DorisSinkSpec {
  kafka: Req<
    KafkaSpec,
    'fromEarliest' | 'maxFetchRecords' | 'maxFetchBytes' | 'sessionTimeout' | 'heartbeatInterval' | 'metadataMaxAge'
  >;
  doris: Req<DorisSpec, 'queryPort' | 'user' | 'timeout' | 'maxRetries' | 'retryBackoff' | 'loadRoute'>;
  batch: Required<Omit<BatchSpec, never>>;
  schema: Req<SchemaSpec, 'mode' | 'refreshInterval' | 'validateOnStart' | 'zeroDate'>;
  dedupe: Req<DedupeSpec, 'required' | 'ttl'>;
  scaling: Required<ScalingSpec>;
  paused: boolean;
  metricsPort: number;
  logging: Required<LoggingSpec>;
}
