// The one JSON Schema of the sinker's YAML config: ajv validates with it and fills defaults, and
// docs/config.md is generated from it (descriptions, defaults, examples). Keep it in step with types.ts.
// Extra annotations: `x-expected` says in words what a value must look like (used in error messages),
// `x-secret` hides a value in errors and in the redacted view, `x-env` names the environment variable
// that overrides it, `x-unit` what a number counts (for the error on "30s" or "10MiB").

export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | Array<'string' | 'number' | 'boolean'>;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  uniqueItems?: boolean;
  pattern?: string;
  'x-expected'?: string;
  'x-secret'?: boolean;
  'x-env'?: string;
  /** What a number counts (seconds, bytes, ...), named when a value is written with a unit ("5s"). */
  'x-unit'?: string;
}

/** 1 to 65535, without leading zeros: a port past 65535 passed the old [0-9]{1,5} and was retried for good. */
const PORT_PATTERN = '([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';

const HOST_PORT: SchemaNode = {
  type: 'string',
  pattern: `^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._-]+):${PORT_PATTERN}$`,
  'x-expected': 'a host:port string',
};

const port = (description: string, dflt: number): SchemaNode => ({
  type: 'integer',
  minimum: 1,
  maximum: 65535,
  default: dflt,
  description,
});

export const CONFIG_SCHEMA: SchemaNode = {
  type: 'object',
  description: 'doris-sinker configuration (YAML). Every key is optional; defaults are shown.',
  additionalProperties: false,
  properties: {
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$',
      'x-expected': 'a name of letters, digits, "-" and "_" (at most 63, no dots)',
      default: 'doris-sinker',
      description:
        "The sink's name. Labels every metric series (`sink`), and prefixes Stream Load labels and Redis keys, so two sinks on one table or one Redis must have different names.",
      examples: ['orders-to-doris'],
    },
    shutdown_timeout: {
      'x-unit': 'seconds',
      type: 'integer',
      minimum: 1,
      maximum: 3600,
      default: 25,
      description:
        "Seconds a SIGTERM/SIGINT waits for batched rows to load and offsets to commit before exiting (keep it below the pod's terminationGracePeriodSeconds, 30 by default).",
    },
    kafka: {
      type: 'object',
      description:
        "Where messages come from. Topics compressed with gzip, snappy, lz4 or zstd (by the producers or by the topic's compression.type on the broker) are read as they are.",
      additionalProperties: false,
      default: {},
      properties: {
        brokers: {
          type: 'array',
          items: HOST_PORT,
          minItems: 1,
          default: ['localhost:9092'],
          description: 'Bootstrap brokers.',
          examples: [['kafka-0.kafka:9092', 'kafka-1.kafka:9092']],
          'x-env': 'KAFKA_BROKERS',
        },
        topic: { type: 'string', minLength: 1, default: 'event_topic', description: 'Topic to consume.' },
        group_id: {
          type: 'string',
          minLength: 1,
          default: 'doris-sinker-group',
          description: 'Consumer group. Sinkers sharing it split the partitions.',
        },
        client_id: {
          type: 'string',
          minLength: 1,
          default: 'doris-sinker',
          description: 'Kafka client id (shows in broker logs and quotas).',
        },
        from_earliest: {
          type: 'boolean',
          default: true,
          description: 'With no committed offset, start from the earliest message (true) or only new ones (false).',
        },
        max_fetch_records: {
          type: 'integer',
          minimum: 1,
          default: 1000,
          description: 'Most messages handed to the pipeline per fetched batch of a partition.',
        },
        max_fetch_bytes: {
          'x-unit': 'bytes',
          type: 'integer',
          minimum: 1024,
          maximum: 52428800,
          default: 1048576,
          description:
            "Most bytes fetched per partition per request (Kafka `max.partition.fetch.bytes`); a request takes up to 4 partitions' worth, at most 50 MiB (`fetch.max.bytes`).",
        },
        session_timeout: {
          'x-unit': 'seconds',
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: 30,
          description:
            'Consumer group session timeout, seconds: a member silent this long is removed and its partitions reassigned.',
        },
        heartbeat_interval: {
          'x-unit': 'seconds',
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: 3,
          description: 'Heartbeat interval, seconds; must be below session_timeout (a third of it is usual).',
        },
        metadata_max_age: {
          'x-unit': 'seconds',
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: 60,
          description:
            "Seconds between refreshes of the topic's metadata (Kafka `metadata.max.age.ms`): partitions added to the topic are consumed within this long, after one rebalance of the group. Each refresh is one small metadata request per sinker.",
        },
        sasl: {
          type: 'object',
          additionalProperties: false,
          required: ['mechanism', 'username'],
          description: 'SASL authentication; leave out for none.',
          properties: {
            mechanism: {
              type: 'string',
              enum: ['plain', 'scram-sha-256', 'scram-sha-512'],
              description: 'SASL mechanism.',
            },
            username: { type: 'string', minLength: 1, description: 'SASL user.' },
            password: {
              type: 'string',
              default: '',
              description: 'SASL password. Prefer the environment variable.',
              'x-expected': 'a string (quote digits: "123456")',
              'x-secret': true,
              'x-env': 'KAFKA_SASL_PASSWORD',
            },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          description: 'TLS to the brokers; leave out for plaintext.',
          properties: {
            enabled: { type: 'boolean', default: true, description: 'Use TLS.' },
            ca_file: {
              type: 'string',
              minLength: 1,
              description: 'PEM file of the CA that signed the brokers (default: system CAs).',
            },
            cert_file: { type: 'string', minLength: 1, description: 'PEM client certificate, for mutual TLS.' },
            key_file: { type: 'string', minLength: 1, description: 'PEM client key, for mutual TLS.' },
            insecure_skip_verify: {
              type: 'boolean',
              default: false,
              description: "Accept any broker certificate. Only for tests: it gives up TLS's protection.",
            },
          },
        },
      },
    },
    doris: {
      type: 'object',
      description: 'Where rows go.',
      additionalProperties: false,
      default: {},
      properties: {
        fe_hosts: {
          type: 'array',
          items: HOST_PORT,
          minItems: 1,
          default: ['127.0.0.1:8030'],
          description: 'FE HTTP addresses (host:http_port). Tried in turn when one fails.',
          examples: [['doris-fe-0:8030', 'doris-fe-1:8030']],
          'x-env': 'DORIS_FE_HOSTS',
        },
        query_port: port('FE MySQL-protocol port, for DESCRIBE and load-state queries.', 9030),
        database: { type: 'string', minLength: 1, default: 'test_db', description: 'Database of the target table.' },
        table: { type: 'string', minLength: 1, default: 'tb_event', description: 'Target table.' },
        user: {
          type: 'string',
          minLength: 1,
          default: 'root',
          description: 'Doris user with LOAD (and SELECT for DESCRIBE) on the table.',
        },
        password: {
          type: 'string',
          default: '',
          description: 'Password of `user`. Prefer the environment variable.',
          'x-expected': 'a string (quote digits: "123456")',
          'x-secret': true,
          'x-env': 'DORIS_PASSWORD',
        },
        timeout: {
          'x-unit': 'seconds',
          type: 'integer',
          minimum: 1,
          maximum: 259200,
          default: 600,
          description: 'Stream Load `timeout` header and the request deadline, seconds.',
        },
        max_retries: {
          type: 'integer',
          minimum: 0,
          maximum: 100,
          default: 3,
          description: 'Retries of a retryable load failure (same label), with exponential backoff and jitter.',
        },
        retry_backoff_ms: {
          'x-unit': 'milliseconds',
          type: 'integer',
          minimum: 1,
          default: 1000,
          description:
            'Bound of the first retry delay, milliseconds; it doubles each retry, up to 30 s, and each wait is random between 0 and the bound (full jitter).',
        },
        load_route: {
          type: 'string',
          enum: ['auto', 'backend', 'frontend'],
          default: 'auto',
          description:
            "`backend`: load straight to live BEs (from the FE's backend list); `frontend`: through the FE's 307 redirect; `auto`: BEs first, FE when the list cannot be had.",
        },
        format: {
          type: 'string',
          enum: ['json', 'csv'],
          default: 'json',
          description:
            'Stream Load body format: JSON lines (any column type) or CSV (enclosed and escaped; smaller, for scalar columns).',
        },
        compress: {
          type: 'boolean',
          default: false,
          description: 'Gzip the body (`compress_type: gz`; JSON needs a recent Doris).',
        },
        stream_load_properties: {
          type: 'object',
          additionalProperties: { type: ['string', 'number', 'boolean'], 'x-expected': 'a string, number or boolean' },
          default: {},
          description:
            'Extra Stream Load headers, e.g. `strict_mode` or `max_filter_ratio`. Headers the sinker sets itself (label, format, columns, timeout, ...) are refused, and so is `skip_lines`, which would drop the first rows of every batch.',
          examples: [{ strict_mode: 'true', max_filter_ratio: '0' }],
        },
      },
    },
    batch: {
      type: 'object',
      description: 'When a batch is loaded: whichever limit is reached first.',
      additionalProperties: false,
      default: {},
      properties: {
        max_batch_rows: { type: 'integer', minimum: 1, default: 10000, description: 'Rows per load.' },
        max_batch_size: {
          type: 'integer',
          'x-unit': 'bytes',
          minimum: 1,
          default: 10485760,
          description: 'Body bytes per load.',
        },
        max_batch_interval: {
          'x-unit': 'seconds',
          type: 'number',
          exclusiveMinimum: 0,
          default: 30,
          description: 'Seconds from the first message of a batch to its load, however few rows it has.',
        },
        flush_worker_count: {
          type: 'integer',
          minimum: 1,
          maximum: 64,
          default: 4,
          description: 'Loads in flight at once (each carries one partition).',
        },
        map_workers: {
          type: 'integer',
          minimum: 0,
          maximum: 16,
          default: 1,
          description:
            'Worker threads that map and encode messages (0: on the main thread). Each takes one fetched partition batch at a time; order, offsets and exactly-once state stay with the main thread. A worker costs memory: in the bench, 0 gave 54k msg/s at 330 MB peak RSS, 1 gave 77–95k msg/s at about 400 MB.',
        },
        max_buffer_bytes: {
          'x-unit': 'bytes',
          type: 'integer',
          minimum: 1048576,
          default: 134217728,
          description: 'Bytes held in memory (filling plus loading); fetching pauses above it and resumes at half.',
        },
        merge_partitions: {
          type: 'boolean',
          default: false,
          description:
            "Load batches of several partitions that are ready together as one two-phase load, and cut every partition's batch when one reaches max_batch_interval: fewer Doris transactions and tablet versions for sinks owning many partitions, at the cost of a 2PC commit round trip per load. Exactly once is kept by owner tokens in Redis instead of label collisions; see docs/exactly-once.md.",
        },
      },
    },
    schema: {
      type: 'object',
      description: 'How messages map onto the table.',
      additionalProperties: false,
      default: {},
      properties: {
        mode: {
          type: 'string',
          enum: ['auto', 'manual'],
          default: 'auto',
          description: '`auto`: read the columns with DESCRIBE; `manual`: use `manual.columns`.',
        },
        auto: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Options of auto mode.',
          properties: {
            refresh_interval: {
              'x-unit': 'seconds',
              type: 'integer',
              minimum: 0,
              // Node's timers take at most 2^31-1 ms (24.8 days) and run a longer one after 1 ms, so
              // 30 days re-read the table every millisecond.
              maximum: 604800,
              default: 0,
              description:
                'Seconds between DESCRIBE re-reads (0: only at start; at most a week). A change applies between batches.',
            },
            validate_on_start: {
              type: 'boolean',
              default: true,
              description:
                'Refuse to start (exit 2) when DESCRIBE answers that the table cannot be read (no such database or table, access denied) or returns a type the sinker cannot load. false: wait and retry until it can be read. An unreachable FE is retried either way.',
            },
          },
        },
        manual: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Options of manual mode.',
          properties: {
            columns: {
              type: 'array',
              default: [],
              description: "The table's columns in table order.",
              examples: [
                [
                  { name: 'id', type: 'bigint', nullable: false },
                  { name: 'title', type: 'varchar(512)' },
                ],
              ],
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['name', 'type'],
                'x-expected': 'a column {name, type, nullable}',
                properties: {
                  name: { type: 'string', minLength: 1, description: 'Column name (the JSON key too).' },
                  type: {
                    type: 'string',
                    minLength: 1,
                    description:
                      'Doris type in any DESCRIBE spelling: bigint, varchar(64), decimal(18,4), datetime(3), json, array<int>, ...',
                  },
                  nullable: { type: 'boolean', default: true, description: 'Whether the column accepts NULL.' },
                },
              },
            },
          },
        },
        zero_date: {
          type: 'string',
          pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
          'x-expected': 'a date YYYY-MM-DD',
          default: '1970-01-01',
          description: 'Value a missing DATE field gets; DATETIME fields get it at 00:00:00.',
        },
      },
    },
    dedupe: {
      type: 'object',
      description: 'Redis: load intents and watermarks (exactly-once), and optional content dedupe.',
      additionalProperties: false,
      default: {},
      properties: {
        redis_url: {
          type: 'string',
          pattern: '^(rediss?://.+)?$',
          'x-expected': 'a redis:// or rediss:// URL (or "" for no Redis)',
          default: 'redis://127.0.0.1:6379',
          description:
            'Redis URL. Credentials in it are redacted in logs. Empty: no Redis, which needs `required: false` (at-least-once).',
          examples: ['redis://:secret@redis:6379/0'],
          'x-env': 'REDIS_URL',
        },
        required: {
          type: 'boolean',
          default: true,
          description:
            'true: when Redis is unreachable, stop consuming and retry (exactly-once kept). false: go on at-least-once, with a warning and a metric.',
        },
        key_prefix: {
          type: 'string',
          default: '',
          description: "Prefix of every Redis key; empty means the sink's `name`.",
        },
        key_fields: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          uniqueItems: true,
          default: [],
          description:
            'Content dedupe: fields whose values identify a row (e.g. [id]); a row seen within `ttl` is dropped. Empty: off.',
          examples: [['id']],
        },
        ttl: {
          'x-unit': 'seconds',
          type: 'integer',
          minimum: 1,
          // Redis refuses an EX past about 9.2e15 s, and a ttl of 1e21 or more is written "1e+21",
          // which it refuses too: every load's completion would fail, after the load.
          maximum: 31536000,
          default: 86400,
          description: 'Seconds a dedupe key is remembered (at most a year).',
        },
      },
    },
    dlq: {
      type: 'object',
      description:
        'Dead-letter queue for messages that cannot be loaded. With neither key set, records go to the file `<name>-dlq.jsonl` in the working directory.',
      additionalProperties: false,
      default: {},
      properties: {
        kafka_topic: {
          type: 'string',
          minLength: 1,
          description:
            "Kafka topic for dead letters: each the original message's key, value, timestamp and headers, with where it was read, why and when in `dlq.*` headers (docs/operations.md, Dead letters and replay).",
          examples: ['event_topic.dlq'],
        },
        file_path: {
          type: 'string',
          minLength: 1,
          description:
            "File for dead letters, one JSON record per line: the original message's value, key, timestamp and headers, with where it was read, why and when (docs/operations.md, Dead letters and replay).",
        },
      },
    },
    log: {
      type: 'object',
      description: 'Logging (pino, JSON lines).',
      additionalProperties: false,
      default: {},
      properties: {
        level: {
          type: 'string',
          enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
          default: 'info',
          description: 'Lowest level logged.',
        },
        output: { type: 'string', enum: ['stdout', 'file', 'both'], default: 'stdout', description: 'Where logs go.' },
        file_path: {
          type: 'string',
          minLength: 1,
          default: '/var/log/doris-sinker.log',
          description:
            'Log file, when output is file or both. The files are numbered before the extension: `/var/log/doris-sinker.log` is written as `/var/log/doris-sinker.1.log`, then `.2.log`, ...',
        },
        format: { type: 'string', enum: ['json'], default: 'json', description: 'Log format (JSON only).' },
        enable_sampling: {
          type: 'boolean',
          default: true,
          description:
            'Sample the per-message line "message dead-lettered": each second the first 10 are logged, then one in 100, and a logged line carries `suppressed`, how many were left out since the previous one. false: every dead-lettered message gets its line. `dlq_messages_total` counts them all either way.',
        },
        max_size: {
          'x-unit': 'MiB',
          type: 'integer',
          minimum: 1,
          // pino-roll reads the size from text: 1e21 and more is "1e+21m", which it refuses, and the
          // log file is given up at start.
          maximum: 1048576,
          default: 100,
          description: 'Rotate the file at this many megabytes (MiB, at most 1 TiB); it is also rotated daily.',
        },
        max_age: {
          'x-unit': 'days',
          type: 'integer',
          minimum: 1,
          default: 7,
          description: 'Delete rotated files older than this many days.',
        },
        max_backups: {
          type: 'integer',
          minimum: 1,
          default: 10,
          description: 'Rotated files kept besides the one being written (at least 1: the rotation cannot keep none).',
        },
      },
    },
    metrics: {
      type: 'object',
      description: 'Prometheus metrics and health endpoints (/healthz, /readyz).',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: {
          type: 'boolean',
          default: true,
          description:
            'Serve the Prometheus metrics. false: `path` answers 404; /healthz and /readyz are served on `port` either way.',
        },
        port: {
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          default: 9090,
          description:
            'Port of the metrics and health endpoints; 0 = any free port (pods on the host network, where replicas share the ports: see port_file).',
        },
        path: {
          type: 'string',
          pattern: '^/',
          'x-expected': 'a path starting with /',
          default: '/metrics',
          description: 'Path of the Prometheus metrics.',
        },
        port_file: {
          type: 'string',
          'x-expected': 'an absolute path',
          pattern: '^/',
          description:
            'Write the bound port (a line with the number) to this file once listening, and delete a stale one at start, so exec probes can find the port. Unset: no file.',
        },
      },
    },
    pprof: {
      type: 'object',
      description:
        'Profiling endpoints (CPU profile, heap snapshot). They expose memory contents: keep them on localhost.',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Serve the profiling endpoints.' },
        port: port('Port of the profiling endpoints.', 6060),
        host: {
          type: 'string',
          minLength: 1,
          default: '127.0.0.1',
          description: 'Address the profiling endpoints bind to.',
        },
      },
    },
  },
};

/**
 * Stream Load headers that would drop rows of every batch without a trace (no DLQ record, nothing
 * filtered): stream_load_properties may not set them either. Each with why, for the config error.
 */
export const ROW_DROPPING_STREAM_LOAD_HEADERS: Readonly<Record<string, string>> = {
  skip_lines: 'Doris would skip the first lines of every batch, and those rows would be lost',
};

/** Stream Load headers the sinker sets itself; stream_load_properties may not override them. */
export const RESERVED_STREAM_LOAD_HEADERS = [
  'label',
  'format',
  'columns',
  'read_json_by_line',
  'strip_outer_array',
  'jsonpaths',
  'json_root',
  'column_separator',
  'line_delimiter',
  'enclose',
  'escape',
  'timeout',
  'compress_type',
  'two_phase_commit',
  // the 2PC commit/abort calls' own headers: the sinker sends them there, and they mean nothing on a load
  'txn_operation',
  'txn_id',
  'group_commit',
  'expect',
  'authorization',
  'content-length',
  'transfer-encoding',
];
