// kafkajs consumer-group adapter: manual commits only, assignment changes reported as
// assigned/revoked partition lists, pause/resume per partition for backpressure, and kafkajs's own
// log lines routed into the sinker's logger.
import {
  type Consumer,
  type ConsumerConfig,
  type EachBatchPayload,
  Kafka,
  type KafkaConfig as KafkaJsConfig,
  logLevel,
  type SASLOptions,
} from 'kafkajs';
import { readConfigFile } from './config/files.ts';
import type { KafkaConfig } from './config/types.ts';
import type { Logger } from './logger.ts';
// Every Kafka client in sinker/ takes its config from here: this registers snappy, lz4 and zstd,
// and decodes record batches (CRC-checked) in kafkajs's place.
import './kafka-codecs.ts';
import './kafka-record-batch.ts';
import { framedSocketFactory } from './kafka-socket.ts';

export interface AssignmentChange {
  assigned: number[];
  revoked: number[];
  current: number[];
  generation: number;
}

export interface ConsumerHooks {
  /** Called synchronously when the group's assignment for this member changes. */
  onAssignment: (change: AssignmentChange) => void;
  eachBatch: (payload: EachBatchPayload) => Promise<void>;
}

export function kafkaClientConfig(config: KafkaConfig, logger: Logger): KafkaJsConfig {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  const out: KafkaJsConfig = {
    clientId: config.client_id,
    brokers: config.brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...extra } = log;
        if (level === logLevel.ERROR) kafkaLogger.error(extra, message);
        else if (level === logLevel.WARN) kafkaLogger.warn(extra, message);
        else kafkaLogger.debug(extra, message);
      },
    retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 30_000 },
    socketFactory: framedSocketFactory,
  };
  if (config.sasl) {
    out.sasl = {
      mechanism: config.sasl.mechanism,
      username: config.sasl.username,
      password: config.sasl.password,
    } as SASLOptions;
  }
  if (config.tls?.enabled) {
    out.ssl = {
      rejectUnauthorized: !config.tls.insecure_skip_verify,
      ...(config.tls.ca_file ? { ca: [readConfigFile('kafka.tls.ca_file', config.tls.ca_file)] } : {}),
      ...(config.tls.cert_file ? { cert: readConfigFile('kafka.tls.cert_file', config.tls.cert_file) } : {}),
      ...(config.tls.key_file ? { key: readConfigFile('kafka.tls.key_file', config.tls.key_file) } : {}),
    };
  }
  return out;
}

/**
 * Bytes one fetch request may return, all partitions together: 4 partitions' worth, within Kafka's
 * own default fetch.max.bytes (50 MiB). Fewer, larger fetches: kafkajs fetches again only once the
 * last fetch's batches are handed over.
 */
export function fetchMaxBytes(perPartition: number): number {
  return Math.max(perPartition, Math.min(4 * perPartition, 52_428_800));
}

/** The kafkajs consumer's settings from the sinker's kafka config. */
export function consumerOptions(config: KafkaConfig): ConsumerConfig {
  return {
    groupId: config.group_id,
    sessionTimeout: config.session_timeout * 1000,
    heartbeatInterval: config.heartbeat_interval * 1000,
    maxBytes: fetchMaxBytes(config.max_fetch_bytes),
    maxBytesPerPartition: config.max_fetch_bytes,
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
    // How long partitions added to the topic go unread: kafkajs sees them (and rejoins the group to
    // take them) only when it refreshes metadata, by default every 5 minutes.
    metadataMaxAge: config.metadata_max_age * 1000,
  };
}

export class SinkConsumer {
  readonly consumer: Consumer;
  readonly #config: KafkaConfig;
  readonly #logger: Logger;
  #assigned = new Set<number>();
  #joined = false;
  #generation = 0;
  readonly #paused = new Set<number>();
  #crashed = false;
  #stopped = false;
  #memberId: string | undefined;
  /**
   * Restarts since the group was last joined. A restart whose join fails ends in a new crash (a new
   * #restart): counted here, not per #restart, or such a crash would be retried every second for good.
   */
  #restarts = 0;

  constructor(kafka: Kafka, config: KafkaConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.consumer = kafka.consumer(consumerOptions(config));
  }

  static create(config: KafkaConfig, logger: Logger): SinkConsumer {
    return new SinkConsumer(new Kafka(kafkaClientConfig(config, logger)), config, logger);
  }

  get joined(): boolean {
    return this.#joined;
  }

  get assignment(): number[] {
    return [...this.#assigned].sort((a, b) => a - b);
  }

  async start(hooks: ConsumerHooks, partitionsConsumedConcurrently: number): Promise<void> {
    const topic = this.#config.topic;
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const next = new Set(event.payload.memberAssignment[topic] ?? []);
      // After a crash, or when the coordinator forgot this member (a new member id), other members may
      // have owned "our" partitions in between, and kafkajs re-fetches from the committed offsets:
      // report every partition as revoked and assigned again so each is settled afresh.
      const memberId = event.payload.memberId;
      const fresh = this.#crashed || (this.#memberId !== undefined && this.#memberId !== memberId);
      this.#crashed = false;
      this.#memberId = memberId;
      const assigned = [...next].filter((p) => fresh || !this.#assigned.has(p));
      const revoked = [...this.#assigned].filter((p) => fresh || !next.has(p));
      this.#assigned = next;
      this.#joined = true;
      this.#restarts = 0;
      this.#generation++;
      // kafkajs keeps a partition paused across rebalances: forgetting only our own record of it would
      // leave the partition paused for good when it comes back to this member, so resume it in kafkajs too.
      const pausedRevoked = revoked.filter((p) => this.#paused.has(p));
      for (const p of pausedRevoked) this.#paused.delete(p);
      if (pausedRevoked.length > 0) this.consumer.resume([{ topic, partitions: pausedRevoked }]);
      this.#logger.info(
        { assigned, revoked, current: this.assignment, generation: this.#generation },
        'consumer group assignment',
      );
      hooks.onAssignment({ assigned, revoked, current: this.assignment, generation: this.#generation });
    });
    this.consumer.on(this.consumer.events.REBALANCING, () => {
      this.#logger.info('consumer group rebalancing');
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      this.#joined = false;
      this.#crashed = true;
      const restart = event.payload.restart;
      this.#logger.error({ err: event.payload.error, restart }, 'kafka consumer crashed');
      // kafkajs gives up on errors it deems non-retriable (e.g. a broker down longer than its retries):
      // a consumer left stopped would hang the sinker, so start it again ourselves.
      if (!restart && !this.#stopped) void this.#restart(hooks, partitionsConsumedConcurrently);
    });
    this.consumer.on(this.consumer.events.STOP, () => {
      this.#joined = false;
    });
    try {
      await this.#run(hooks, partitionsConsumedConcurrently);
    } catch (err) {
      // Kafka answered start-up, but is gone again (start-up may have waited long for Redis since):
      // retried like a crash, not joined (not ready) meanwhile, rather than ending the process.
      this.#logger.error({ err: (err as Error).message }, 'starting the kafka consumer failed; retrying');
      void this.#restart(hooks, partitionsConsumedConcurrently);
    }
  }

  async #run(hooks: ConsumerHooks, partitionsConsumedConcurrently: number): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.#config.topic], fromBeginning: this.#config.from_earliest });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently,
      eachBatch: hooks.eachBatch,
    });
  }

  async #restart(hooks: ConsumerHooks, partitionsConsumedConcurrently: number): Promise<void> {
    while (!this.#stopped) {
      const attempt = this.#restarts++;
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
      await new Promise((r) => setTimeout(r, delay));
      if (this.#stopped) return;
      try {
        await this.consumer.disconnect().catch(() => {});
        await this.#run(hooks, partitionsConsumedConcurrently);
        this.#logger.info({ attempt }, 'kafka consumer running again');
        return;
      } catch (err) {
        this.#logger.error({ err: (err as Error).message, attempt }, 'restarting the kafka consumer failed');
      }
    }
  }

  /** Stops fetching these partitions (messages already fetched are still delivered). */
  pause(partitions: number[]): void {
    const fresh = partitions.filter((p) => this.#assigned.has(p) && !this.#paused.has(p));
    if (fresh.length === 0) return;
    for (const p of fresh) this.#paused.add(p);
    this.#inKafkajs('pause', fresh);
  }

  resume(partitions: number[]): void {
    const paused = partitions.filter((p) => this.#paused.has(p));
    if (paused.length === 0) return;
    for (const p of paused) this.#paused.delete(p);
    this.#inKafkajs('resume', paused);
  }

  /**
   * Between a crash and its restart kafkajs has no consumer group, and its pause/resume throw: into
   * a load settling or a chunk being batched, which then failed for no reason of theirs. Nothing is
   * lost by skipping the call: the restarted group starts with nothing paused, and its GROUP_JOIN
   * (all partitions revoked and assigned again after a crash) has the pipeline apply its pause again.
   */
  #inKafkajs(op: 'pause' | 'resume', partitions: number[]): void {
    try {
      this.consumer[op]([{ topic: this.#config.topic, partitions }]);
    } catch (err) {
      this.#logger.debug(
        { partitions, err: (err as Error).message },
        `kafka consumer not running: ${op} recorded only`,
      );
    }
  }

  get pausedPartitions(): number[] {
    return [...this.#paused];
  }

  /** Commits "next offset to read" per partition; partitions no longer assigned are left out. */
  async commit(offsets: Map<number, string>): Promise<void> {
    const topicPartitions = [...offsets]
      .filter(([p]) => this.#assigned.has(p))
      .map(([partition, offset]) => ({ topic: this.#config.topic, partition, offset }));
    if (topicPartitions.length > 0) await this.consumer.commitOffsets(topicPartitions);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.consumer.disconnect();
    this.#joined = false;
  }
}
