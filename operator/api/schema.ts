// The DorisSink API's OpenAPI schema: the single source the CRD (crds/, the chart), the defaults the
// operator applies and `kubectl explain` all come from. types.ts mirrors it for the compiler; a unit
// test checks the two agree field by field. CEL rules guard fields with has(): the apiserver checks
// them against a section's `default: {}` before nested defaults fill it in.
import { RESERVED_STREAM_LOAD_HEADERS, ROW_DROPPING_STREAM_LOAD_HEADERS } from '../../sinker/config/schema.ts';
import { arr, bool, duration, int, int64, obj, quantity, type Schema, str, stringMap } from './openapi.ts';

export const GROUP = 'dorissinker.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'DorisSink';
export const PLURAL = 'dorissinks';
export const SINGULAR = 'dorissink';
export const SHORT_NAMES = ['dsink'];
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Children are named after the sink with suffixes; 55 keeps "<name>-metrics" within a 63-character DNS label. */
export const MAX_NAME_LENGTH = 55;

/** Kafka's longest topic name. */
export const MAX_TOPIC_LENGTH = 249;
/** The dead-letter topic of a sink that names none: `<kafka.topic>-dlq`. */
export const DLQ_TOPIC_SUFFIX = '-dlq';
/**
 * The only writable directory of a sinker pod: an emptyDir. The image's own filesystem (its working
 * directory /app included) is read-only (readOnlyRootFilesystem), so a DLQ file must live here.
 */
export const POD_WRITABLE_DIR = '/tmp';

function secretKeyRef(what: string): Schema {
  return obj(
    `Secret (in the DorisSink's namespace) and key holding ${what}.`,
    {
      name: str('Name of the Secret.', { minLength: 1, maxLength: 253 }),
      key: str('Key within the Secret.', { minLength: 1, maxLength: 253 }),
    },
    { required: ['name', 'key'] },
  );
}

const kafka = obj(
  'Where and how the sinkers consume: the Kafka cluster, topic and consumer group.',
  {
    brokers: arr('Bootstrap brokers as host:port.', str('A broker as host:port.', { minLength: 1, maxLength: 255 }), {
      minItems: 1,
      maxItems: 64,
    }),
    topic: str('Topic to consume.', { minLength: 1, maxLength: MAX_TOPIC_LENGTH, pattern: '^[a-zA-Z0-9._-]+$' }),
    groupId: str(
      'Consumer group shared by the sinker replicas; the operator reads its committed offsets for lag. Defaults to "doris-sinker.<namespace>.<name>". Immutable once set: a new group starts over.',
      {
        minLength: 1,
        maxLength: 255,
        'x-kubernetes-validations': [
          {
            rule: 'self == oldSelf',
            message: 'groupId is immutable: a new group loses the committed offsets; create a new DorisSink instead',
          },
        ],
      },
    ),
    clientId: str('Kafka client id prefix. Defaults to the sink name.', { maxLength: 255 }),
    fromEarliest: bool(
      'Where a group with no committed offset starts: true = the oldest retained message, false = only new messages. Also decides how lag counts for partitions without a commit.',
      { default: false },
    ),
    maxFetchRecords: int('Upper bound on records taken from one fetch before the batcher is offered them.', {
      minimum: 1,
      default: 5000,
    }),
    maxFetchBytes: quantity(
      "Most bytes fetched per partition per request (Kafka max.partition.fetch.bytes; a request takes up to 4 partitions' worth). 1Mi measured best: 10Mi cost the sinker more CPU per message and about 110 MB more memory.",
      { default: '1Mi' },
    ),
    sessionTimeout: duration('Consumer group session timeout.', '30s'),
    heartbeatInterval: duration('Consumer group heartbeat interval (less than a third of sessionTimeout).', '3s'),
    metadataMaxAge: duration(
      "How often the sinkers refresh the topic's metadata, whole seconds up to 1h: partitions added to the topic are consumed within this long, after one rebalance of the group.",
      '60s',
    ),
    sasl: obj(
      'SASL authentication. The password comes from a Secret and reaches the sinker as KAFKA_SASL_PASSWORD.',
      {
        mechanism: str('SASL mechanism.', { enum: ['plain', 'scram-sha-256', 'scram-sha-512'], default: 'plain' }),
        username: str('SASL user name.', { minLength: 1, maxLength: 255 }),
        passwordSecretRef: secretKeyRef('the SASL password'),
      },
      { required: ['username', 'passwordSecretRef'] },
    ),
    tls: obj('TLS to the brokers. Certificates come from Secrets mounted read-only into the sinker pods.', {
      enabled: bool('Use TLS.', { default: true }),
      caSecretRef: secretKeyRef('the PEM CA bundle that signs the brokers (omit to use the system roots)'),
      clientCertSecretRef: obj(
        'Secret with a client certificate and key for mutual TLS (e.g. a kubernetes.io/tls Secret).',
        {
          name: str('Name of the Secret.', { minLength: 1, maxLength: 253 }),
          certKey: str('Key of the PEM certificate.', { default: 'tls.crt', maxLength: 253 }),
          keyKey: str('Key of the PEM private key.', { default: 'tls.key', maxLength: 253 }),
        },
        { required: ['name'] },
      ),
      insecureSkipVerify: bool("Skip verifying the brokers' certificates. For testing only.", { default: false }),
    }),
  },
  { required: ['brokers', 'topic'] },
);

const doris = obj(
  'The Doris cluster and table the sinkers load into.',
  {
    feHosts: arr(
      'Frontends as host:httpPort (Stream Load and the backend list go through them; failover in order).',
      str('A frontend as host:httpPort.', { minLength: 1, maxLength: 255, pattern: '^[^:/\\s]+:[0-9]{1,5}$' }),
      { minItems: 1, maxItems: 16 },
    ),
    queryPort: int('MySQL-protocol query port of the frontends (DESCRIBE for the schema).', {
      minimum: 1,
      maximum: 65535,
      default: 9030,
    }),
    database: str('Database of the target table.', { minLength: 1, maxLength: 64 }),
    table: str('Target table.', { minLength: 1, maxLength: 64 }),
    user: str('Doris user.', { minLength: 1, maxLength: 64, default: 'root' }),
    passwordSecretRef: secretKeyRef(
      "the Doris user's password (omit for an empty password); reaches the sinker as DORIS_PASSWORD",
    ),
    timeout: duration('Stream Load timeout (the `timeout` header and the client deadline).', '10m'),
    maxRetries: int('Retries of a retryable load failure before the sinker gives up and restarts the batch.', {
      minimum: 0,
      maximum: 100,
      default: 3,
    }),
    retryBackoff: duration('First retry delay; doubles with jitter.', '1s'),
    loadRoute: str(
      "How loads reach the backends: auto = straight to the live backends with fallback to the frontend redirect, backend = backends only, frontend = through the frontend's 307 redirect.",
      { enum: ['auto', 'backend', 'frontend'], default: 'auto' },
    ),
    streamLoad: obj(
      'Stream Load request options.',
      {
        format: str('Body format sent to Doris.', { enum: ['json', 'csv'], default: 'json' }),
        compress: bool('gzip the body.', { default: false }),
        properties: stringMap(
          `Extra Stream Load headers, e.g. strict_mode: "true", max_filter_ratio: "0.1". The sinker sets these itself, and refuses them here in any case: ${RESERVED_STREAM_LOAD_HEADERS.join(', ')}.`,
          {
            maxProperties: 64,
            'x-kubernetes-validations': [
              {
                // The sinker's own list (it exits 2 on any of them, compared case-insensitively).
                rule: `self.all(k, !(k.lowerAscii() in [${RESERVED_STREAM_LOAD_HEADERS.map((h) => `'${h}'`).join(', ')}]))`,
                message: `Stream Load headers the sinker sets itself cannot be given as properties: ${RESERVED_STREAM_LOAD_HEADERS.join(', ')}`,
              },
              ...Object.entries(ROW_DROPPING_STREAM_LOAD_HEADERS).map(([h, why]) => ({
                rule: `self.all(k, k.lowerAscii() != '${h}')`,
                message: `${h} cannot be given as a property: ${why}`,
              })),
            ],
          },
        ),
      },
      { default: {} },
    ),
  },
  { required: ['feHosts', 'database', 'table'] },
);

const batch = obj(
  'When a batch is flushed into a load, and how much memory batches may hold.',
  {
    maxBatchRows: int('Flush when a batch holds this many rows.', { minimum: 1, default: 100000 }),
    maxBatchSize: quantity('Flush when a batch holds this many bytes.', { default: '64Mi' }),
    maxBatchInterval: duration('Flush at the latest this long after the first row joined the batch.', '5s'),
    flushWorkerCount: int('Loads that run at the same time per sinker.', { minimum: 1, maximum: 64, default: 4 }),
    maxBufferBytes: quantity('Bound on bytes held (filling + loading); fetching pauses above it.', {
      default: '256Mi',
    }),
    mapWorkers: int(
      "Worker threads per sinker that map and encode messages (0: on the main thread); order, offsets and exactly-once state stay on the main thread. A worker buys throughput for memory (its own V8 heap; figures in docs/operations.md). Defaults to 1, the sinker's own default.",
      { minimum: 0, maximum: 16, default: 1 },
    ),
    mergePartitions: bool(
      'Load batches of several partitions that are ready together as one two-phase load: about one Doris transaction per maxBatchInterval instead of one per partition, for sinks owning many quiet partitions (docs/exactly-once.md).',
      { default: false },
    ),
  },
  { default: {} },
);

const column = obj(
  'A table column.',
  {
    name: str('Column name.', { minLength: 1, maxLength: 64 }),
    type: str('Doris column type, e.g. BIGINT, VARCHAR(64), DATETIME, DECIMAL(10,2).', {
      minLength: 1,
      maxLength: 64,
    }),
    nullable: bool('Whether the column accepts NULL (a missing field then loads as NULL, not a zero value).', {
      default: true,
    }),
  },
  { required: ['name', 'type'] },
);

const schema = obj(
  "Where the table's columns come from: read with DESCRIBE (auto) or listed here (manual).",
  {
    mode: str('auto = DESCRIBE the table; manual = use columns.', { enum: ['auto', 'manual'], default: 'auto' }),
    refreshInterval: duration(
      'How often the operator runs DESCRIBE (mode auto); a changed schema rolls the sinker pods.',
      '5m',
    ),
    validateOnStart: bool('Sinkers check the table exists and matches before consuming (mode auto).', {
      default: true,
    }),
    columns: arr('Columns in table order (mode manual only).', column, {
      maxItems: 4096,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
    zeroDate: str('Value a missing DATE column gets; DATETIME columns get it with 00:00:00.', {
      pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
      default: '1970-01-01',
    }),
  },
  {
    default: {},
    'x-kubernetes-validations': [
      {
        rule: "!has(self.mode) || self.mode != 'manual' || (has(self.columns) && size(self.columns) > 0)",
        message: 'schema.columns must list at least one column when schema.mode is manual',
        fieldPath: '.columns',
      },
      {
        rule: "!has(self.mode) || self.mode != 'auto' || !has(self.columns) || size(self.columns) == 0",
        message: 'schema.columns is only allowed when schema.mode is manual',
        fieldPath: '.columns',
      },
    ],
  },
);

const dedupe = obj(
  'Redis, which holds the load intents and partition watermarks that make delivery exactly once, and optional content dedupe.',
  {
    redisUrlSecretRef: secretKeyRef(
      'the Redis URL (redis://[user:password@]host:port/db); reaches the sinker as REDIS_URL',
    ),
    required: bool(
      'true: the sinkers stop consuming while Redis is unreachable (exactly once). false: they continue at least once, with a warning and a metric.',
      { default: true },
    ),
    keyPrefix: str('Prefix of every Redis key. Defaults to "doris-sinker:<namespace>:<name>".', { maxLength: 253 }),
    keyFields: arr(
      'Content dedupe: JSON fields whose values identify a row; a row whose key was loaded within ttl is dropped. Empty = off.',
      str('A JSON field name.', { minLength: 1, maxLength: 255 }),
      { maxItems: 16, 'x-kubernetes-list-type': 'set' },
    ),
    ttl: duration('How long a loaded key is remembered for content dedupe.', '24h'),
  },
  { required: ['redisUrlSecretRef'] },
);

const dlq = obj(
  `Dead-letter queue for messages that cannot be loaded (invalid JSON, rows Doris refuses). With neither field set, dead letters go to the Kafka topic "<kafka.topic>${DLQ_TOPIC_SUFFIX}".`,
  {
    kafkaTopic: str(
      `Kafka topic (same cluster) that receives dead letters: the original bytes, the reason in headers. Defaults to "<kafka.topic>${DLQ_TOPIC_SUFFIX}" when filePath is not set either. The topic must exist (the sinker creates none; only brokers with auto.create.topics.enable would): the operator reports a missing one as Degraded=True DeadLetterTopicMissing, and until it exists the first dead letter holds its partition.`,
      { maxLength: MAX_TOPIC_LENGTH, pattern: '^[a-zA-Z0-9._-]+$' },
    ),
    filePath: str(
      `File under ${POD_WRITABLE_DIR} (the pod's writable emptyDir; the rest of the pod's filesystem is read-only) that receives dead letters, one JSON line each. The file goes with the pod (rollout, rescheduling, scale-down): use it for tests or beside kafkaTopic, not as the only DLQ of a production sink. Given alone, no topic is defaulted.`,
      {
        maxLength: 1024,
        'x-kubernetes-validations': [
          {
            rule: `self.matches('^${POD_WRITABLE_DIR}(/[^/]+)+$') && !self.matches('/[.][.]?(/|$)')`,
            message: `dlq.filePath must be a file under ${POD_WRITABLE_DIR}, the pod's only writable directory, without "." or ".." segments`,
          },
        ],
      },
    ),
  },
);

const scaling = obj(
  "How many sinker replicas run. builtin: the operator scales on the consumer group's lag. external: an HPA or KEDA scales this DorisSink through its scale subresource and the operator copies spec.replicas.",
  {
    mode: str('Who decides the replica count.', { enum: ['builtin', 'external'], default: 'builtin' }),
    minReplicas: int('Fewest replicas (0 allows scale to zero while lag ≤ activationLag).', {
      minimum: 0,
      maximum: 1000,
      default: 1,
    }),
    maxReplicas: int('Most replicas; the partition count caps it too.', { minimum: 1, maximum: 1000, default: 10 }),
    lagPerReplica: int64('Lag (messages) one replica is expected to work off: desired = ceil(lag / lagPerReplica).', {
      minimum: 1,
      default: 100000,
    }),
    activationLag: int64('Scale from 0 to 1 only when lag is above this, and back to 0 only when at or below it.', {
      minimum: 0,
      default: 0,
    }),
    scaleDownStabilization: duration(
      'Scale down only to the highest recommendation seen within this window (damps flapping on spiky lag).',
      '5m',
    ),
    pollInterval: duration("How often the operator reads the group's offsets.", '30s'),
    tolerance: int('Ignore changes of the recommendation within this percentage of the current replicas.', {
      minimum: 0,
      maximum: 100,
      default: 10,
    }),
  },
  {
    default: {},
    'x-kubernetes-validations': [
      {
        rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas',
        message: 'scaling.minReplicas must be less than or equal to scaling.maxReplicas',
        fieldPath: '.minReplicas',
      },
    ],
  },
);

const logging = obj(
  'Sinker log options (JSON lines on stdout).',
  {
    level: str('Log level.', { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], default: 'info' }),
    sampling: bool(
      'Sample high-frequency log lines (the per-message "message dead-lettered": each second the first 10, then one in 100), as the sinker does by default.',
      { default: true },
    ),
  },
  { default: {} },
);

// Resource quantities include CPU millis ("500m"), so a wider pattern than byte sizes.
const QUANTITY_ANY =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

const resourceList = (what: string): Schema => ({
  type: 'object',
  description: what,
  additionalProperties: {
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_ANY,
    'x-kubernetes-int-or-string': true,
  },
});
const resources = obj('CPU and memory of each sinker container (a core/v1 ResourceRequirements).', {
  requests: resourceList('Minimum resources, e.g. cpu: 500m, memory: 512Mi.'),
  limits: resourceList('Maximum resources, e.g. memory: 1Gi.'),
});

const toleration = obj(
  'A core/v1 Toleration.',
  {
    key: str('Taint key the toleration applies to; empty with operator Exists matches all.'),
    operator: str('Exists or Equal.', { enum: ['Exists', 'Equal'] }),
    value: str('Taint value to match (operator Equal).'),
    effect: str('Taint effect to match; empty matches all.', {
      enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute', ''],
    }),
    tolerationSeconds: int64('How long a NoExecute taint is tolerated.'),
  },
  {
    'x-kubernetes-validations': [
      {
        rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
        message: 'tolerationSeconds requires effect NoExecute',
      },
      {
        rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
        message: 'value must be empty when operator is Exists',
      },
    ],
  },
);

const podTemplate = obj('Overrides for the sinker pods.', {
  labels: stringMap('Extra pod labels.'),
  annotations: stringMap('Extra pod annotations.'),
  nodeSelector: stringMap('core/v1 nodeSelector.'),
  tolerations: arr('core/v1 tolerations.', toleration, { maxItems: 64 }),
  affinity: {
    type: 'object',
    description: 'core/v1 Affinity, passed through unchanged.',
    'x-kubernetes-preserve-unknown-fields': true,
  },
  hostNetwork: bool(
    "Run the pods in the node's network namespace. Replicas on one node then share its ports: each sinker binds any free metrics port (no containerPort is declared, so no host port limits replicas per node) and the probes are exec probes that read the bound port from a file in the pod's /tmp.",
  ),
  serviceAccountName: str("Service account of the pods (default: the namespace's default).", { maxLength: 253 }),
  priorityClassName: str('Priority class of the pods.', { maxLength: 253 }),
  imagePullSecrets: arr(
    'Secrets for pulling the image.',
    obj(
      'A Secret reference.',
      { name: str('Name of the Secret.', { minLength: 1, maxLength: 253 }) },
      { required: ['name'] },
    ),
    { maxItems: 16 },
  ),
});

export const specSchema: Schema = obj(
  'Desired state of a DorisSink: what to consume, where to load it, and how to run and scale the sinkers.',
  {
    kafka,
    doris,
    batch,
    schema,
    dedupe,
    dlq,
    scaling,
    paused: bool('Stop the sinkers (0 replicas) without deleting anything; lag keeps being reported.', {
      default: false,
    }),
    replicas: int(
      'Replica count when scaling.mode is external (written by kubectl scale, an HPA or KEDA through the scale subresource). Ignored in builtin mode.',
      { minimum: 0, maximum: 1000 },
    ),
    image: str('Sinker container image. Defaults to the image the operator was started with.', { maxLength: 1024 }),
    imagePullPolicy: str('Image pull policy.', { enum: ['Always', 'IfNotPresent', 'Never'] }),
    metricsPort: int("Port of the sinker's /metrics, /healthz and /readyz.", {
      minimum: 1024,
      maximum: 65535,
      default: 9464,
    }),
    resources,
    logging,
    podTemplate,
  },
  {
    required: ['kafka', 'doris', 'dedupe'],
    'x-kubernetes-validations': [
      {
        rule: `(has(self.dlq) && (has(self.dlq.kafkaTopic) || has(self.dlq.filePath))) || size(self.kafka.topic) <= ${MAX_TOPIC_LENGTH - DLQ_TOPIC_SUFFIX.length}`,
        message: `kafka.topic is too long for the default dead-letter topic "<kafka.topic>${DLQ_TOPIC_SUFFIX}" (Kafka allows ${MAX_TOPIC_LENGTH} characters): set dlq.kafkaTopic`,
        fieldPath: '.dlq',
      },
      {
        rule: '!has(self.dlq) || !has(self.dlq.kafkaTopic) || self.dlq.kafkaTopic != self.kafka.topic',
        message: 'dlq.kafkaTopic must differ from kafka.topic: the sinkers would consume their own dead letters again',
        fieldPath: '.dlq.kafkaTopic',
      },
    ],
  },
);

const condition = obj(
  'An observation of one aspect of the sink.',
  {
    type: str('Ready, SchemaSynced, Scaling or Degraded.', { maxLength: 316 }),
    status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
    reason: str('CamelCase reason for the status.', { maxLength: 1024 }),
    message: str('Human-readable detail.', { maxLength: 32768 }),
    lastTransitionTime: str('When status last changed.', { format: 'date-time' }),
    observedGeneration: int64('metadata.generation this condition was computed from.', { minimum: 0 }),
  },
  { required: ['type', 'status', 'lastTransitionTime'] },
);

export const statusSchema: Schema = obj('Observed state of a DorisSink, written by the operator.', {
  observedGeneration: int64('The metadata.generation the operator last reconciled.'),
  conditions: arr('Ready, SchemaSynced, Scaling and Degraded.', condition, {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  }),
  replicas: int("Replicas the sinker Deployment has (the scale subresource's status)."),
  readyReplicas: int('Replicas that pass their readiness probe.'),
  desiredReplicas: int('Replicas the operator last asked for.'),
  labelSelector: str('Label selector of the sinker pods, for the scale subresource (HPA, KEDA).'),
  partitions: int('Partitions of the topic.'),
  lag: obj('Consumer group lag, from committed and end offsets. Absent total = unknown (offsets unreadable).', {
    total: int64('Messages behind across all partitions.'),
    partitionsWithLag: int('Partitions with lag above zero.'),
    maxPartitionLag: int64('Largest single-partition lag.'),
    observedAt: str('When the offsets were read.', { format: 'date-time' }),
    error: str('Why the lag is unknown, when it is.'),
  }),
  schema: obj('The table schema the sinkers load with.', {
    hash: str('Short hash of the column list; part of the pod template, so a change rolls the pods.'),
    columns: int('Number of columns.'),
    observedAt: str('When the schema was last read.', { format: 'date-time' }),
  }),
  configHash: str('Hash of the rendered sinker config.'),
  lastScaleTime: str('When the operator last changed the replica count.', { format: 'date-time' }),
});

/** The whole object's schema as the CRD carries it. */
export const dorisSinkSchema: Schema = {
  type: 'object',
  description:
    'A DorisSink streams JSON events from one Kafka topic into one Doris table with Stream Load, exactly once. The operator runs sinker pods for it, tracks the table schema and scales on consumer lag.',
  properties: {
    apiVersion: str('APIVersion of this object.'),
    kind: str('Kind of this object.'),
    metadata: { type: 'object' },
    spec: specSchema,
    status: statusSchema,
  },
  required: ['spec'],
  'x-kubernetes-validations': [
    {
      rule: `self.metadata.name.size() <= ${MAX_NAME_LENGTH}`,
      message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters (the operator's child objects add suffixes)`,
    },
    {
      // A custom resource name is a DNS subdomain (dots, a leading digit); "<name>-metrics", a Service
      // name, is a DNS-1035 label (no dot; a letter first before Kubernetes 1.36): the apiserver would
      // refuse the sink's Service on every reconcile.
      rule: "self.metadata.name.matches('^[a-z][-a-z0-9]*$')",
      message:
        'metadata.name must start with a letter and contain no "." (the sink\'s metrics Service is named after it, and a Service name is a DNS-1035 label)',
    },
  ],
};
