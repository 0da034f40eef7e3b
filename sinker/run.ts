// Assembles and runs one sinker process from a validated config: schema, mapper, encoder, Kafka,
// Redis, writer, DLQ, pipeline, metrics and the HTTP endpoints; handles SIGTERM/SIGINT with a
// bounded graceful shutdown; refreshes the schema when asked to.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { Kafka, type KafkaConfig as KafkaJsConfig, logLevel } from 'kafkajs';
import { ConfigFileError } from './config/files.ts';
import type { SinkerConfig } from './config/types.ts';
import { kafkaClientConfig, SinkConsumer } from './consumer.ts';
import { ContentDedupe } from './dedupe/content.ts';
import { DedupeStore } from './dedupe/store.ts';
import { DeadLetterQueue, rejectedRecordsWithOriginals } from './dlq/dlq.ts';
import { kafkaOriginalsReader } from './dlq/originals.ts';
import { createEncoder, LINE_DELIMITER, type RowEncoder } from './encode/encoders.ts';
import { startProfilingServer, startStatusServer } from './http-server.ts';
import { LagSeries, partitionLags } from './lag.ts';
import type { Logger } from './logger.ts';
import { Mapper } from './mapper/mapper.ts';
import { createMetrics, recordMapStats, type SinkerMetrics } from './metrics.ts';
import { CLOSE_MS, type PipelineObserver, SinkPipeline, settledWithin } from './pipeline.ts';
import { describeTable, feHostName } from './schema/describe.ts';
import { SchemaRefresh } from './schema/refresh.ts';
import { columnsFromManual, SchemaError, schemaDiff, tableSchema } from './schema/schema.ts';
import type { TableSchema } from './schema/types.ts';
import { backoffDelay, sleep } from './writer/backoff.ts';
import { StreamLoadWriter } from './writer/writer.ts';

/** Start-up refused for a reason the user has to fix (exit code 2, like a bad config). */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

class TopicMissingError extends Error {}

/**
 * What start-up waits for (the table's schema, the topic, Redis): `step` until it succeeds, backing
 * off between tries. `failed` logs each failure, or throws to stop waiting.
 */
async function waitAtStart<T>(
  backoff: { baseMs: number; capMs: number },
  step: () => Promise<T>,
  failed: (err: Error, retryInMs: number) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const delay = backoffDelay(attempt, backoff);
      failed(err as Error, delay);
      await sleep(delay);
    }
  }
}

/**
 * One try at reaching Kafka at start, with kafkajs's own retries and log lines off: a broker that is
 * down, or a name that does not resolve yet (a headless Service with no ready pod), then gives one
 * line per try from waitAtStart, where kafkajs would retry ten times over about two minutes, logging
 * each, and end the process with a stack trace.
 */
async function kafkaAnswers(client: KafkaJsConfig): Promise<void> {
  const probe = new Kafka({ ...client, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  try {
    await probe.connect();
  } finally {
    await probe.disconnect().catch(() => {});
  }
}

/** A TLS file gone since the config was loaded stops start-up the way a bad config does (exit 2). */
function kafkaClientOrStop(config: SinkerConfig, logger: Logger): ReturnType<typeof kafkaClientConfig> {
  try {
    return kafkaClientConfig(config.kafka, logger);
  } catch (err) {
    if (err instanceof ConfigFileError) throw new StartupError(err.message);
    throw err;
  }
}

/** Reads the table's schema the way the config says: DESCRIBE on an FE's query port, or the manual list. */
export async function loadSchema(config: SinkerConfig): Promise<TableSchema> {
  if (config.schema.mode === 'manual') return tableSchema(columnsFromManual(config.schema.manual.columns));
  let lastError: Error | undefined;
  for (const fe of config.doris.fe_hosts) {
    try {
      return await describeTable({
        host: feHostName(fe),
        port: config.doris.query_port,
        user: config.doris.user,
        password: config.doris.password,
        database: config.doris.database,
        table: config.doris.table,
      });
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('doris.fe_hosts is empty');
}

function observerFor(m: SinkerMetrics, topic: string, mapper: () => Mapper): PipelineObserver {
  return {
    consumed: (_p, messages, bytes) => {
      m.kafkaMessagesConsumed.inc({ topic }, messages);
      m.kafkaBytesConsumed.inc({ topic }, bytes);
      recordMapStats(m, mapper().drainStats());
    },
    deadLettered: (records, code) => m.dlqMessages.inc({ reason: code }, records.length),
    duplicate: (n) => {
      if (n > 0) m.dedupeDuplicates.inc(n);
    },
    flushed: (batch, result, seconds, status) => {
      m.batchFlush.inc({ status: status === 'ok' ? 'success' : 'dlq' });
      m.batchSizeRows.observe(batch.rowOffsets.length);
      m.batchSizeBytes.observe(batch.bytes);
      m.batchFlushDuration.observe(seconds);
      if (result) {
        m.dorisRowsLoaded.inc(result.loadedRows);
        m.dorisRowsFiltered.inc(result.filteredRows);
        if (result.deadLetteredRows > 0) m.dlqMessages.inc({ reason: 'doris_rejected' }, result.deadLetteredRows);
      }
    },
    loadFailed: (_b, err, willRetry) => {
      m.batchFlush.inc({ status: 'failed' });
      m.dorisStreamLoadErrors.inc({ error_type: willRetry ? 'retryable' : 'fatal' });
      void err;
    },
    merged: (batches, outcome) => {
      m.batchMergedLoads.inc({ outcome });
      if (outcome === 'committed') m.batchMergedPartitions.observe(batches);
    },
    committed: () => m.kafkaCommits.inc({ status: 'ok' }),
    degraded: (op) => m.dedupeRedisErrors.inc({ op }),
    staleState: (refused) => m.dedupeStateStale.set(refused ? 1 : 0),
    loadBlocked: (blocked) => m.dorisLoadBlocked.set(blocked ? 1 : 0),
    buffer: (b) => {
      m.batchCurrentRows.set(b.fillingRows);
      m.batchCurrentBytes.set(b.fillingBytes);
      m.bufferBytes.set(b.bufferedBytes);
      m.kafkaFetchPaused.set(b.fetchPaused ? 1 : 0);
    },
  };
}

export interface RunningSinker {
  stop: (reason: string) => Promise<boolean>;
  /**
   * Settles when the table's schema changed in a way the running writer cannot follow (CSV names the
   * columns in a header): the process stops and exits with EXIT_RELOAD for its supervisor to restart it.
   */
  reloadNeeded: Promise<void>;
  metrics: SinkerMetrics;
  statusPort: number;
}

/** Writes the bound port for exec probes (operator/desired/probe.ts); write + rename, so a probe never reads half a file. */
function writePortFile(path: string, port: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${port}\n`);
    renameSync(tmp, path);
  } catch (err) {
    throw new Error(`metrics.port_file ${path}: cannot write the bound port: ${(err as Error).message}`);
  }
}

/**
 * A server of the sinker listening, or a StartupError naming its config key: a port another process
 * holds (EADDRINUSE) or an address the host lacks was a stack trace that named neither.
 */
async function listening<T>(key: string, start: Promise<T>): Promise<T> {
  try {
    return await start;
  } catch (err) {
    throw new StartupError(`${key}: ${(err as Error).message}`);
  }
}

/**
 * Exit code of a stop to reload the schema, everything flushed. Not 0: a supervisor that restarts
 * only a failed process (systemd Restart=on-failure, a shell loop) would leave the sink stopped.
 */
export const EXIT_RELOAD = 3;

/** Starts everything; resolves once consuming has begun. */
export async function startSinker(config: SinkerConfig, logger: Logger): Promise<RunningSinker> {
  const metrics = createMetrics({ sink: config.name });
  let schemaLoaded = false;
  let consumer: SinkConsumer | undefined;
  // Set once built; /readyz answers before (a pipeline refusing stale exactly-once state is not ready).
  let pipelineRef: SinkPipeline | undefined;
  // A port file left by an earlier container of the same pod (the emptyDir outlives it) must not
  // point the probes at a port this process doesn't hold.
  if (config.metrics.port_file) rmSync(config.metrics.port_file, { force: true });
  const status = await listening(
    'metrics.port',
    startStatusServer({
      port: config.metrics.port,
      metricsPath: config.metrics.path,
      ...(config.metrics.enabled ? { registry: metrics.registry } : {}),
      liveness: [],
      readiness: [
        { name: 'schema', check: () => (schemaLoaded ? undefined : 'table schema not loaded yet') },
        { name: 'kafka', check: () => (consumer?.joined ? undefined : 'not joined to the consumer group yet') },
        { name: 'dedupe', check: () => pipelineRef?.staleRefusal },
        { name: 'doris', check: () => pipelineRef?.loadBlocked },
      ],
    }),
  );
  logger.info({ port: status.port, path: config.metrics.path }, 'status server listening');
  if (config.metrics.port_file) writePortFile(config.metrics.port_file, status.port);
  const profiling = config.pprof.enabled
    ? await listening('pprof.host, pprof.port', startProfilingServer(config.pprof.host, config.pprof.port))
    : undefined;
  if (profiling) logger.warn({ host: config.pprof.host, port: profiling.port }, 'profiling endpoints enabled');

  const schema = await waitAtStart(
    { baseMs: 1000, capMs: 30_000 },
    () => loadSchema(config),
    (err, retryInMs) => {
      if (config.schema.mode === 'manual') throw err;
      if (config.schema.auto.validate_on_start && err instanceof SchemaError && err.permanent) {
        throw new StartupError(
          `${err.message}\n(schema.auto.validate_on_start is true: fix the table or the doris settings, or set it to false to wait until the table can be read)`,
        );
      }
      logger.error({ err: err.message, retryInMs }, 'reading the table schema failed');
    },
  );
  const makeMapper = (s: TableSchema) => new Mapper(s, { zeroDate: config.schema.zero_date });
  let mapper = makeMapper(schema);
  let encoder: RowEncoder = createEncoder(config.doris.format, mapper.columns);
  for (const s of mapper.skipped) logger.warn({ column: s.name, reason: s.reason }, 'column left to Doris');
  metrics.schemaColumns.set(mapper.columns.length);
  schemaLoaded = true;
  logger.info({ columns: mapper.columns.length, hash: schema.hash }, 'table schema loaded');

  const client = kafkaClientOrStop(config, logger);
  const kafka = new Kafka(client);
  const admin = kafka.admin();
  // Like Redis below: wait for the brokers, not ready, rather than fail. An address that does not
  // resolve is waited for too (DNS of a Kafka being created); a malformed one is refused by the config.
  await waitAtStart(
    { baseMs: 1000, capMs: 30_000 },
    async () => {
      await kafkaAnswers(client);
      await admin.connect();
    },
    (err, retryInMs) =>
      logger.error({ brokers: config.kafka.brokers, err: err.message, retryInMs }, 'Kafka unreachable at start'),
  );
  // The sinker never creates its topic: wait for it (not ready) with a line that names it, rather
  // than letting kafkajs's metadata error end the process with a stack trace.
  await waitAtStart(
    { baseMs: 1000, capMs: 30_000 },
    async () => {
      if (!(await admin.listTopics()).includes(config.kafka.topic)) throw new TopicMissingError();
    },
    (err, retryInMs) => {
      if (err instanceof TopicMissingError) {
        logger.error(
          { topic: config.kafka.topic, brokers: config.kafka.brokers, retryInMs },
          'kafka.topic does not exist; waiting for it (the sinker never creates topics)',
        );
      } else logger.error({ err: err.message, retryInMs }, 'listing Kafka topics failed at start');
    },
  );
  consumer = new SinkConsumer(kafka, config.kafka, logger);
  // kafkajs's own trouble: a crashed consumer (restarted by SinkConsumer) and requests that timed out.
  const kc = consumer.consumer;
  kc.on(kc.events.CRASH, () => metrics.kafkaConsumeErrors.inc({ error_type: 'crash' }));
  kc.on(kc.events.REQUEST_TIMEOUT, () => metrics.kafkaConsumeErrors.inc({ error_type: 'request_timeout' }));
  const dlq = DeadLetterQueue.fromConfig(config.dlq, kafka);
  const originals = kafkaOriginalsReader({
    kafka,
    admin,
    topic: config.kafka.topic,
    groupPrefix: config.kafka.group_id,
    logger,
  });
  const store = new DedupeStore({
    config: config.dedupe,
    sink: config.name,
    topic: config.kafka.topic,
    logger,
    onDegraded: (op) => {
      metrics.dedupeRedisErrors.inc({ op });
      metrics.dedupeAtLeastOnce.set(1);
    },
    onRecovered: (op) => {
      metrics.dedupeAtLeastOnce.set(0);
      logger.info({ operation: op }, 'Redis reachable again: loading exactly once again');
    },
  });
  await waitAtStart(
    { baseMs: 500, capMs: 10_000 },
    () => store.connect(),
    (err, retryInMs) => logger.error({ err: err.message, retryInMs }, 'Redis unreachable at start'),
  );

  const writer = new StreamLoadWriter({
    sink: config.name,
    doris: config.doris,
    encoding: { headers: { ...encoder.headers }, lineDelimiter: LINE_DELIMITER },
    deadLetter: async (batch, rows) => {
      await dlq.write(await rejectedRecordsWithOriginals(config.name, batch, rows, originals, logger));
    },
    // A wrong password or a dropped table would refuse every batch: hold them, don't drain the topic into the DLQ.
    holdConfigRefusals: true,
    onAttempt: (a) => {
      metrics.dorisStreamLoad.inc({ status: a.outcome });
      if (a.retry) metrics.dorisStreamLoadRetries.inc();
      metrics.dorisStreamLoadDuration.observe(a.ms / 1000);
    },
    logger,
  });
  const pipeline = new SinkPipeline({
    config,
    logger,
    consumer,
    admin,
    writer,
    store,
    ...(config.dedupe.key_fields.length > 0 ? { content: new ContentDedupe(store) } : {}),
    dlq,
    originals,
    mapper,
    encoder,
    observer: observerFor(metrics, config.kafka.topic, () => pipeline.mapper),
  });
  pipelineRef = pipeline;
  await pipeline.start();

  const timers: NodeJS.Timeout[] = [];
  let needReload!: () => void;
  const reloadNeeded = new Promise<void>((resolve) => {
    needReload = resolve;
  });
  const refresh =
    config.schema.mode === 'auto' && config.schema.auto.refresh_interval > 0
      ? new SchemaRefresh({
          intervalMs: config.schema.auto.refresh_interval * 1000,
          load: () => loadSchema(config),
          currentHash: () => mapper.schemaHash,
          logger,
          changed: (next) => {
            const nextMapper = makeMapper(next);
            const nextEncoder = createEncoder(config.doris.format, nextMapper.columns);
            // What changed, in the columns the sinker loads (one generated by Doris is not one of them).
            const diff = schemaDiff(mapper.columns, nextMapper.columns);
            if (JSON.stringify(nextEncoder.headers) !== JSON.stringify(encoder.headers)) {
              // CSV names the columns in a header: a schema change there needs a restart to reload safely.
              logger.warn(
                { hash: next.hash, ...diff },
                'schema changed in a way the running writer cannot follow; exiting to reload',
              );
              needReload();
              return;
            }
            pipeline.swapSchema(nextMapper, nextEncoder);
            mapper = nextMapper;
            encoder = nextEncoder;
            metrics.schemaChanges.inc();
            metrics.schemaColumns.set(mapper.columns.length);
            logger.info(
              { columns: mapper.columns.length, hash: next.hash, ...diff },
              'table schema changed; now loading the new columns',
            );
          },
        })
      : undefined;
  refresh?.start();
  // Consumer lag per owned partition, for the kafka_consumer_lag gauge.
  const lagSeries = new LagSeries(metrics.kafkaConsumerLag, config.kafka.topic);
  timers.push(
    setInterval(async () => {
      lagSeries.forget(new Set(consumer?.assignment ?? []));
      try {
        const ends = await admin.fetchTopicOffsets(config.kafka.topic);
        const committed = await admin.fetchOffsets({ groupId: config.kafka.group_id, topics: [config.kafka.topic] });
        // owned as of now: the assignment may have changed while the offsets were read
        const owned = new Set(consumer?.assignment ?? []);
        lagSeries.show(partitionLags(owned, ends, committed[0]?.partitions ?? []), owned);
      } catch {
        // Lag is informative only; the next tick tries again.
      }
    }, 10_000),
  );
  for (const t of timers) t.unref();

  let stopping: Promise<boolean> | undefined;
  const stop = (reason: string): Promise<boolean> => {
    stopping ??= (async () => {
      logger.info({ reason, graceSeconds: config.shutdown_timeout }, 'shutting down: flushing what is batched');
      refresh?.stop();
      for (const t of timers) clearInterval(t);
      const flushed = await pipeline.stop(config.shutdown_timeout * 1000);
      // Bounded: a Redis or broker that does not answer holds QUIT or a disconnect for its request timeout.
      if (!(await settledWithin(CLOSE_MS, [admin.disconnect(), writer.close(), store.close(), dlq.close()]))) {
        logger.warn({ waitedMs: CLOSE_MS }, 'connections did not close in time; leaving without them');
      }
      await status.close();
      await profiling?.close();
      logger.info({ flushed }, flushed ? 'stopped; everything consumed is in Doris' : 'stopped with data not flushed');
      return flushed;
    })();
    return stopping;
  };
  return { stop, reloadNeeded, metrics, statusPort: status.port };
}
