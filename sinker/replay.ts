// `doris-sinker replay`: puts dead-lettered records back through the mapper and the writer, each
// record (original topic, partition, offset) into Doris once across any number of replays, however
// the DLQ grows, with --limit, and across a crash of the replay itself. Redis (dedupe.redis_url,
// dlq/replay-state.ts) holds per partition the offsets already replayed and, per load about to run,
// an intent: its label and exact offsets. A load's label is derived from a digest of its exact
// offsets (labels.ts: replayLabel), so another set of records never meets an earlier label. A run
//   1. settles the intents an interrupted replay left: loads exactly those records again under the
//      intent's label (Doris answers "Label Already Exists" if they had loaded, else loads them
//      once), or, when not all of them were read this time, asks Doris for the label's state;
//   2. loads only records not yet marked, in chunks of batch.max_batch_rows per partition: intent
//      first, then the load, then marks them replayed and drops the intent in one Redis step.
// Records still invalid or refused by Doris are not marked: a later replay loads them after a fix
// (under another label: a refusal is counted in Redis and the count is part of the next label).
// Without Redis nothing loads; --dry-run only reads Redis (and works without it).
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { Kafka } from 'kafkajs';
import type { LoadBatch } from './batch.ts';
import type { CliArgs } from './cli-args.ts';
import type { SinkerConfig } from './config/types.ts';
import { kafkaClientConfig } from './consumer.ts';
import { LABEL_RETENTION_MS } from './dedupe/state.ts';
import { DlqReadError, readDlqFile, readDlqTopic } from './dlq/reader.ts';
import { type DlqRecord, DlqRecordError } from './dlq/record.ts';
import {
  cmpOffsets,
  decideByLabelState,
  decideLeftover,
  olderThanLabelRetention,
  pendingOffsets,
  planLoads,
  type ReplayIntent,
  sortOffsets,
} from './dlq/replay-plan.ts';
import { ReplayState, ReplayStateError } from './dlq/replay-state.ts';
import { createEncoder, LINE_DELIMITER } from './encode/encoders.ts';
import { createLogger } from './logger.ts';
import { Mapper } from './mapper/mapper.ts';
import { loadSchema } from './run.ts';
import { SchemaError } from './schema/schema.ts';
import type { TableSchema } from './schema/types.ts';
import type { LabelState } from './writer/fe-replies.ts';
import { type RejectedRow, SetupRefusedError, StreamLoadWriter } from './writer/writer.ts';

export interface ReplaySummary {
  /** Records read from the DLQ. */
  read: number;
  /** Records the DLQ held more than once (same topic, partition, offset): counted once. */
  repeated: number;
  stillInvalid: number;
  /** Distinct records an earlier replay had loaded: not loaded again. */
  alreadyReplayed: number;
  /** Rows Doris loaded in this run. */
  loaded: number;
  /** Rows Doris refused (not marked: replay them again after a fix). */
  rejected: number;
  /** Records in loads that failed or could not be settled; their intents stay for the next run. */
  failed: number;
  /** Stream Loads that returned. */
  batches: number;
}

/** Test seams: a throw here is a crash of the replay at that point. */
export interface ReplayHooks {
  /** After a load's intent is in Redis, before the load. */
  afterIntent?: (intent: ReplayIntent) => Promise<void> | void;
  /** After the load returned, before its records are marked replayed. */
  afterLoad?: (intent: ReplayIntent) => Promise<void> | void;
}

export interface ReplayOptions {
  source: AsyncIterable<DlqRecord>;
  /** For the first line: `file PATH` or `topic NAME`. */
  sourceName: string;
  dryRun?: boolean;
  /** Read at most this many records. */
  limit?: number;
  hooks?: ReplayHooks;
  /**
   * Rows held in memory at once, bytes of their text (default batch.max_buffer_bytes / 8, at least
   * batch.max_batch_size): the DLQ is read and loaded a window of this size at a time, so a DLQ of
   * any length replays in bounded memory.
   */
  windowBytes?: number;
}

/** What a row costs in a window beyond its text: its offset and map entry. */
const ROW_OVERHEAD_BYTES = 64;

/** Exit code of a replay Doris refuses the setup of (password, privileges, table): the config's, 2. */
const EXIT_SETUP_REFUSED = 2;

/** Refused rows printed per load; the rest are counted. */
const MAX_REFUSED_LINES = 20;

export async function runReplay(config: SinkerConfig, args: CliArgs, out: NodeJS.WritableStream): Promise<number> {
  const fromTopic = args.fromTopic ?? (args.fromFile ? undefined : config.dlq.kafka_topic);
  const fromFile = fromTopic ? undefined : (args.fromFile ?? config.dlq.file_path ?? `${config.name}-dlq.jsonl`);
  if (fromFile !== undefined && !existsSync(fromFile)) {
    // Asked for by name, a missing file is a mistake; the configured file not written yet means no dead letters.
    if (args.fromFile !== undefined) {
      out.write(`replay: --from-file ${fromFile} does not exist\n`);
      return 2;
    }
    out.write(`replay: no dead letters: the DLQ file ${fromFile} does not exist (none written yet)\n`);
    return 0;
  }
  const logger = replayLogger(config);
  const kafka = fromTopic ? new Kafka(kafkaClientConfig(config.kafka, logger)) : undefined;
  if (kafka && fromTopic && !(await topicExists(kafka, fromTopic))) {
    // As for the file. (Asked for its offsets, the brokers answer a missing topic with a retriable
    // error: kafkajs tried for about 110 s, logging each try, then the replay died with its stack.)
    if (args.fromTopic !== undefined) {
      out.write(`replay: --from-topic ${fromTopic} does not exist\n`);
      return 2;
    }
    out.write(`replay: no dead letters: the DLQ topic ${fromTopic} does not exist (none written yet)\n`);
    return 0;
  }
  const source: AsyncIterable<DlqRecord> = kafka
    ? readDlqTopic({
        kafka,
        topic: fromTopic!,
        onNotDeadLetter: (err) => out.write(`  skipped ${err.message}: not a dead letter\n`),
      })
    : readDlqFile(fromFile!, (where) =>
        out.write(
          `  skipped ${where}: cut short, the start of a record whose write a crash or a full disk interrupted (the sinker wrote the record again after it)\n`,
        ),
      );
  return replayDlq(
    config,
    {
      source,
      sourceName: fromTopic ? `topic ${fromTopic}` : `file ${fromFile}`,
      dryRun: args.dryRun,
      ...(args.limit !== undefined ? { limit: args.limit } : {}),
    },
    out,
  );
}

async function topicExists(kafka: Kafka, topic: string): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

function replayLogger(config: SinkerConfig) {
  return createLogger({ ...config.log, output: 'stdout', level: 'warn' }, { sink: config.name, command: 'replay' });
}

/** Rows to load: original topic → partition → offset → encoded row. */
type Groups = Map<string, Map<number, Map<string, string>>>;

/** The replay itself, from any source of DLQ records. Resolves with the exit code. */
export async function replayDlq(
  config: SinkerConfig,
  opts: ReplayOptions,
  out: NodeJS.WritableStream,
): Promise<number> {
  const logger = replayLogger(config);
  let schema: TableSchema;
  try {
    schema = await loadSchema(config);
  } catch (err) {
    // The same refusals as a load's (password, table), met first: said as such, not as a stack trace.
    if (!(err instanceof SchemaError)) throw err;
    const next = err.permanent ? 'Fix it and run the replay again' : 'Run the replay again once Doris answers';
    out.write(
      `replay stopped: reading the table's schema: ${err.message}. Nothing was loaded or marked replayed. ${next}\n`,
    );
    // Refused (password, table): the config, as for the sinker's validate_on_start; Doris away: 1.
    return err.permanent ? EXIT_SETUP_REFUSED : 1;
  }
  const mapper = new Mapper(schema, { zeroDate: config.schema.zero_date });
  const encoder = createEncoder(config.doris.format, mapper.columns);
  out.write(`replaying from ${opts.sourceName}${opts.dryRun ? ' (dry run)' : ''}\n`);

  const summary: ReplaySummary = {
    read: 0,
    repeated: 0,
    stillInvalid: 0,
    alreadyReplayed: 0,
    loaded: 0,
    rejected: 0,
    failed: 0,
    batches: 0,
  };
  // Sinks reading one topic into different tables share a DLQ topic (the operator's default is
  // `<kafka.topic>-dlq` for each): another sink's dead letter is a message this sink loaded or
  // dead-lettered itself, and loading it here would load it twice.
  const otherSinks = new Map<string, number>();
  // A row held costs several times its text (the record read and parsed, the map entry): an eighth
  // of the sinker's buffer keeps a replay near the sinker's own footprint, one batch at the least.
  const windowBytes =
    opts.windowBytes ?? Math.max(config.batch.max_batch_size, Math.floor(config.batch.max_buffer_bytes / 8));
  const records = opts.source[Symbol.asyncIterator]();
  let readAll = false;
  /**
   * The next window of the DLQ: rows grouped by their original partition, keyed by offset (the DLQ
   * is at-least-once: a crash between the dead-letter write and the offset commit writes the
   * message again on restart), up to windowBytes of rows. Undefined once the DLQ is read.
   */
  const readWindow = async (): Promise<Groups | undefined> => {
    if (readAll) return undefined;
    const groups: Groups = new Map();
    let bytes = 0;
    while (bytes < windowBytes) {
      if (opts.limit !== undefined && summary.read >= opts.limit) {
        readAll = true;
        break;
      }
      const next = await records.next();
      if (next.done) {
        readAll = true;
        break;
      }
      const record = next.value;
      if (record.sink !== config.name) {
        otherSinks.set(record.sink, (otherSinks.get(record.sink) ?? 0) + 1);
        continue;
      }
      summary.read++;
      const r = mapper.map(record.value);
      if (!r.ok) {
        summary.stillInvalid++;
        out.write(`  still invalid: ${record.topic}/${record.partition}@${record.offset}: ${r.reason}\n`);
        continue;
      }
      const byPartition = getOrSet(groups, record.topic, () => new Map());
      const rows = getOrSet(byPartition, record.partition, () => new Map());
      if (rows.has(record.offset)) {
        summary.repeated++;
        out.write(`  duplicate record ${record.topic}/${record.partition}@${record.offset}: counted once\n`);
      }
      const row = encoder.encode(r.values);
      rows.set(record.offset, row);
      bytes += row.length + ROW_OVERHEAD_BYTES;
    }
    return groups.size > 0 || !readAll ? groups : undefined;
  };
  let anyLoaded = false;
  /**
   * readWindow, or 'stopped' after writing why the DLQ could not be read on: the DLQ topic could not
   * be read to its end (a partition delivering nothing), or a line of the file is not a record.
   */
  const nextWindow = async (): Promise<Groups | 'stopped' | undefined> => {
    try {
      return await readWindow();
    } catch (err) {
      if (!(err instanceof DlqReadError || err instanceof DlqRecordError)) throw err;
      const what = anyLoaded ? 'The records read before it were loaded and recorded' : 'Nothing was loaded';
      out.write(
        `replay stopped: reading ${opts.sourceName}: ${err.message}. ${what}; a replay run again loads each record once\n`,
      );
      return 'stopped';
    }
  };
  const reportOtherSinks = () => {
    for (const [sink, n] of otherSinks) {
      out.write(`  skipped ${n} records of sink ${sink} (another sink sharing this DLQ: its own replay loads them)\n`);
    }
  };

  const state = new ReplayState({
    redisUrl: config.dedupe.redis_url,
    keyPrefix: config.dedupe.key_prefix,
    sink: config.name,
  });
  if (opts.dryRun) {
    try {
      return await dryRun(state, nextWindow, summary, out, reportOtherSinks);
    } finally {
      await records.return?.();
      await state.close();
    }
  }

  // Rows Doris refuses are already in the DLQ: the writer hands them here, and the load's intent
  // records them before the rest loads, so a crash after that load never marks them replayed. Their
  // refusal count goes up with it: the label then committed (with the rest, or empty when every
  // row was refused) is never planned again for them, and their next load gets a fresh label.
  let onRefused: ((rows: RejectedRow[]) => Promise<void>) | undefined;
  const writer = new StreamLoadWriter({
    sink: config.name,
    doris: { ...config.doris, stream_load_properties: strictFiltering(config.doris.stream_load_properties) },
    encoding: { headers: { ...encoder.headers }, lineDelimiter: LINE_DELIMITER },
    logger,
    deadLetter: async (_batch, rows) => {
      if (!onRefused) throw new Error('replay: rows refused outside a replay load');
      await onRefused(rows);
    },
  });
  const hooks = opts.hooks ?? {};

  /**
   * Load the records `intent` carries under its label, then mark the ones in Doris replayed and
   * drop the intent. A load that fails leaves the intent for the next run to settle.
   */
  const load = async (topic: string, intent: ReplayIntent, rows: Map<string, string>): Promise<void> => {
    const offsets = pendingOffsets(intent);
    if (offsets.length === 0) {
      await state.complete(topic, intent, []);
      return;
    }
    const batchRows = offsets.map((o) => rows.get(o) as string);
    const batch: LoadBatch = {
      topic,
      partition: intent.partition,
      firstOffset: offsets[0] as string,
      lastOffset: offsets[offsets.length - 1] as string,
      rows: batchRows,
      rowOffsets: offsets,
      bytes: batchRows.reduce((n, row) => n + Buffer.byteLength(row), 0),
    };
    const refused: RejectedRow[] = [];
    onRefused = async (rejected) => {
      refused.push(...rejected);
      const offsets = rejected.map((r) => r.offset);
      intent.refused = [...(intent.refused ?? []), ...offsets];
      await state.recordRefused(topic, intent, offsets);
    };
    let status: string;
    let loadedRows: number;
    try {
      ({ status, loadedRows } = await writer.load(batch, { label: intent.label }));
    } catch (err) {
      // Doris refusing the setup (password, privileges, table) refuses every load alike: stop.
      if (err instanceof ReplayStateError || err instanceof SetupRefusedError) throw err;
      out.write(
        `  load of ${intent.label} failed: ${(err as Error).message}; its intent stays in Redis and the next replay settles it\n`,
      );
      summary.failed += offsets.length;
      hold(topic, intent.partition, offsets);
      return;
    } finally {
      onRefused = undefined;
    }
    await hooks.afterLoad?.(intent);
    anyLoaded = true;
    summary.batches++;
    for (const rej of refused.slice(0, MAX_REFUSED_LINES)) {
      out.write(`  refused by Doris: ${topic}/${intent.partition}@${rej.offset}: ${rej.reason}\n`);
    }
    if (refused.length > MAX_REFUSED_LINES) {
      out.write(`  ... and ${refused.length - MAX_REFUSED_LINES} more rows of ${intent.label} refused\n`);
    }
    summary.rejected += refused.length;
    const bad = new Set(refused.map((r) => r.offset));
    const good = offsets.filter((o) => !bad.has(o));
    await state.complete(topic, intent, good);
    if (status === 'already-loaded') {
      summary.alreadyReplayed += good.length;
      out.write(`  batch ${intent.label} was already in Doris (an earlier replay loaded it); marked replayed\n`);
    } else {
      summary.loaded += loadedRows;
    }
  };

  /**
   * Settle an intent an interrupted replay left. Returns the offsets of the partition this run must
   * not load as new records: those it settled, or those still held by the intent.
   */
  const settle = async (topic: string, intent: ReplayIntent, rows: Map<string, string> | undefined) => {
    const offsets = pendingOffsets(intent);
    const read = offsets.filter((o) => rows?.has(o));
    const name = `${intent.label} (${offsets.length} records, left by an interrupted replay)`;
    const old = olderThanLabelRetention(intent, Date.now(), LABEL_RETENTION_MS);
    if (decideLeftover(intent, (o) => rows?.has(o) === true).action === 'reload') {
      if (old) out.write(`  warning: ${name} is older than Doris keeps labels; if it had loaded, it loads twice\n`);
      out.write(`  settling ${name}: loading exactly its records again under its label\n`);
      await load(topic, intent, rows!);
      return offsets;
    }
    let labelState: LabelState;
    try {
      labelState = await writer.labelState(intent.label);
    } catch (err) {
      out.write(`  cannot settle ${name}: its state in Doris: ${(err as Error).message}; left for the next replay\n`);
      summary.failed += read.length;
      return offsets;
    }
    const decision = decideByLabelState(labelState);
    if (decision.action === 'complete') {
      await state.complete(topic, intent, offsets);
      summary.alreadyReplayed += read.length;
      out.write(`  settled ${name}: in Doris (${labelState}); its records are marked replayed\n`);
      return offsets;
    }
    if (decision.action === 'wait') {
      out.write(`  ${name} is still ${labelState} in Doris; left for the next replay\n`);
      summary.failed += read.length;
      return offsets;
    }
    if (old) out.write(`  warning: ${name} is older than Doris keeps labels; if it had loaded, it loads twice\n`);
    await state.dropIntent(topic, intent.label);
    out.write(`  settled ${name}: never reached Doris (${labelState}); its records load as new ones\n`);
    return [];
  };

  /**
   * Per topic and partition, the offsets this run must not load as new records: those it settled
   * from an interrupted replay's intents, those such an intent still holds, and those of its own
   * loads that failed (their intents stay). Kept across windows: a later window may hold them again.
   */
  const skips = new Map<string, Map<number, Set<string>>>();
  const hold = (topic: string, partition: number, offsets: Iterable<string>) => {
    const s = getOrSet(
      getOrSet(skips, topic, () => new Map()),
      partition,
      () => new Set<string>(),
    );
    for (const o of offsets) s.add(o);
  };
  /** Topics whose interrupted replay's intents were settled (once a run, in the first window holding the topic). */
  const settled = new Set<string>();

  /** One window's records of `topic`: settle its leftover intents (first time only), then load what is new. */
  const replayTopic = async (topic: string, byPartition: Map<number, Map<string, string>>): Promise<void> => {
    if (!settled.has(topic)) {
      settled.add(topic);
      const leftovers = (await state.intents(topic)).sort(
        (a, b) => a.partition - b.partition || cmpOffsets(a.offsets[0] ?? '0', b.offsets[0] ?? '0'),
      );
      for (const intent of leftovers) {
        hold(topic, intent.partition, await settle(topic, intent, byPartition.get(intent.partition)));
      }
    }
    const skip = skips.get(topic) ?? new Map<number, Set<string>>();
    for (const [partition, rows] of [...byPartition].sort((a, b) => a[0] - b[0])) {
      const held = skip.get(partition) ?? new Set<string>();
      const candidates = sortOffsets(rows.keys()).filter((o) => !held.has(o));
      const replayed = await state.replayedAmong(topic, partition, candidates);
      const intents = planLoads({
        sink: config.name,
        topic,
        partition,
        loadable: candidates,
        replayed,
        refusedBefore: await state.refusalsAmong(topic, partition, candidates),
        maxRows: config.batch.max_batch_rows,
        now: Date.now(),
      });
      summary.alreadyReplayed += replayed.size;
      const toLoad = intents.reduce((n, i) => n + i.offsets.length, 0);
      out.write(`  ${topic}/${partition}: ${toLoad} to load, ${replayed.size} already replayed\n`);
      for (const intent of intents) {
        state.assertLocked();
        await state.recordIntent(topic, intent);
        await hooks.afterIntent?.(intent);
        await load(topic, intent, rows);
      }
    }
  };

  let stopped = false;
  let setupRefused = false;
  try {
    await state.connect();
    await state.lock(`${hostname()}:${process.pid}`);
    for (let first = true; ; first = false) {
      const groups = await nextWindow();
      if (groups === 'stopped') {
        stopped = true;
        break;
      }
      if (groups === undefined && !first) break;
      const window = groups ?? new Map<string, Map<number, Map<string, string>>>();
      // The sink's own topic too, first: an interrupted replay's intents there settle even if none of its records were read.
      for (const topic of new Set([...(first ? [config.kafka.topic] : []), ...window.keys()])) {
        await replayTopic(topic, window.get(topic) ?? new Map<number, Map<string, string>>());
      }
      if (groups === undefined) break;
    }
  } catch (err) {
    if (err instanceof SetupRefusedError) {
      // Not a refusal of these records: none is counted refused or marked, and the load it stopped
      // at keeps its intent (a retry within it may have reached Doris), which the next run settles.
      const what = anyLoaded
        ? 'The loads before it are in Doris and recorded; the rest are not marked replayed'
        : 'Nothing was loaded or marked replayed';
      out.write(
        `replay stopped: Doris refuses the sink's setup (doris.user and password, the user's privileges, doris.database / doris.table): ${err.reason}. ${what}. Fix it and run the replay again\n`,
      );
      stopped = true;
      setupRefused = true;
    } else {
      if (!(err instanceof ReplayStateError)) throw err;
      out.write(
        `replay stopped: ${err.message}. Nothing loads without Redis; what was loaded is recorded or stays as an intent the next replay settles\n`,
      );
      stopped = true;
    }
  } finally {
    await records.return?.();
    await writer.close();
    await state.close();
  }
  reportOtherSinks();
  out.write(
    `replay: ${summary.read} read, ${summary.loaded} loaded in ${summary.batches} batches, ${summary.alreadyReplayed} already replayed, ${summary.stillInvalid} still invalid, ${summary.rejected} refused, ${summary.repeated} repeated in the DLQ, ${summary.failed} in failed loads\n`,
  );
  if (setupRefused) return EXIT_SETUP_REFUSED;
  return stopped || summary.rejected > 0 || summary.failed > 0 ? 1 : 0;
}

/**
 * The load properties of a replay: max_filter_ratio 0 whatever the sink's. Under a higher ratio
 * Doris loads the rest and drops a row it filters, and the replay marks every offset of the load
 * replayed: the record could never be replayed again, after a fix. At 0 Doris refuses the load,
 * the writer finds the row, and the replay reports it refused and leaves it unmarked.
 */
function strictFiltering(props: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) if (k.toLowerCase() !== 'max_filter_ratio') out[k] = v;
  out.max_filter_ratio = '0';
  return out;
}

function getOrSet<K, V>(m: Map<K, V>, key: K, make: () => V): V {
  let v = m.get(key);
  if (v === undefined) {
    v = make();
    m.set(key, v);
  }
  return v;
}

/** --dry-run: report what would load, reading (never writing) Redis to tell replayed records apart. */
async function dryRun(
  state: ReplayState,
  nextWindow: () => Promise<Groups | 'stopped' | undefined>,
  summary: ReplaySummary,
  out: NodeJS.WritableStream,
  reportOtherSinks: () => void,
): Promise<number> {
  let loadable = 0;
  let already = 0;
  let reason: string | undefined;
  try {
    await state.connect();
  } catch (err) {
    if (!(err instanceof ReplayStateError)) throw err;
    reason = err.message;
  }
  for (let groups = await nextWindow(); groups !== undefined; groups = await nextWindow()) {
    if (groups === 'stopped') return 1;
    for (const [topic, byPartition] of groups) {
      for (const [partition, rows] of byPartition) {
        loadable += rows.size;
        if (reason !== undefined) continue;
        try {
          already += (await state.replayedAmong(topic, partition, [...rows.keys()])).size;
        } catch (err) {
          if (!(err instanceof ReplayStateError)) throw err;
          reason = err.message;
        }
      }
    }
  }
  reportOtherSinks();
  if (reason === undefined) {
    out.write(
      `dry run: ${summary.read} records read, ${loadable - already} would load, ${already} already replayed, ${summary.stillInvalid} still invalid\n`,
    );
  } else {
    out.write(`  cannot tell which records were replayed before: ${reason}\n`);
    out.write(
      `dry run: ${summary.read} records read, ${loadable} would load (some may be replayed already), ${summary.stillInvalid} still invalid\n`,
    );
  }
  return 0;
}
