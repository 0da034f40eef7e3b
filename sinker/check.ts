// `doris-sinker check`: the config is valid (it was loaded to get here); now reach every service the
// sinker needs and say, in plain words, what works and what does not. Changes nothing anywhere.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Admin, Kafka } from 'kafkajs';
import type { SinkerConfig } from './config/types.ts';
import { redactUrl } from './config/validate.ts';
import { kafkaClientConfig } from './consumer.ts';
import {
  findStaleInTopic,
  STALE_STATE_MESSAGE,
  type StaleFinding,
  type StaleRecord,
  StaleStateError,
} from './dedupe/stale.ts';
import type { PartitionState } from './dedupe/state.ts';
import { DedupeStore } from './dedupe/store.ts';
import { createLogger } from './logger.ts';
import { loadSchema } from './run.ts';
import { formatDorisType } from './schema/parse-type.ts';
import type { Column, TableSchema } from './schema/types.ts';
import { FeClient } from './writer/fe-client.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

async function attempt(name: string, fn: () => Promise<string>, timeoutMs = 15_000): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
      }),
    ]);
    return { name, ok: true, detail };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What `check` says about the directory of a file the sinker writes (its log, its DLQ file), changing
 * nothing: it is writable, or it is missing and the nearest existing parent is writable, so the sinker
 * will create it (both create theirs); and the file, when it exists, is one the sinker may append to.
 * Throws, in plain words, where the sinker could not write.
 */
export function probeFileDirectory(filePath: string): string {
  const file = resolve(filePath);
  const existing = probeExistingFile(file);
  const dir = dirname(file);
  for (let at = dir; ; ) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (err) {
      const up = dirname(at);
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && up !== at) {
        at = up;
        continue;
      }
      throw new Error(`cannot look at ${at}: ${(err as Error).message}`);
    }
    if (!isDir) {
      throw new Error(
        at === dir
          ? `${dir} is a file, not a directory`
          : `directory ${dir} cannot be created: ${at} is a file, not a directory`,
      );
    }
    try {
      accessSync(at, constants.W_OK | constants.X_OK);
    } catch {
      throw new Error(
        at === dir
          ? `directory ${dir} is not writable`
          : `directory ${dir} does not exist and cannot be created: ${at} is not writable`,
      );
    }
    if (at !== dir) return `directory ${dir} does not exist yet; the sinker creates it (${at} is writable)`;
    return existing ? `directory ${dir} is writable; ${file} exists and is writable` : `directory ${dir} is writable`;
  }
}

/**
 * Whether `file` exists; throws when it does and the sinker could not append to it (a directory, or
 * no write permission). The sinker opens its DLQ file only at the first dead letter: that one would
 * fail, retried for ever with its partition stopped.
 */
function probeExistingFile(file: string): boolean {
  let isDir: boolean;
  try {
    isDir = statSync(file).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new Error(`cannot look at ${file}: ${(err as Error).message}`);
  }
  if (isDir) throw new Error(`${file} is a directory, not a file`);
  try {
    accessSync(file, constants.W_OK);
  } catch {
    throw new Error(`${file} exists and is not writable`);
  }
  return true;
}

/**
 * A manual column list against the table's DESCRIBE. Problems: a column the table lacks, also when
 * only its case differs (Doris finds a column by its exact name, so the values would not reach it).
 * Notes: types spelled differently (Doris converts, so loads work, but the mapper checks values
 * against the manual type).
 */
export function compareManualSchema(
  manual: readonly Column[],
  table: readonly Column[],
): { problems: string[]; notes: string[] } {
  const exact = new Map(table.map((c) => [c.name, c]));
  const folded = new Map(table.map((c) => [c.name.toLowerCase(), c]));
  const problems: string[] = [];
  const notes: string[] = [];
  for (const m of manual) {
    const t = exact.get(m.name);
    if (!t) {
      const other = folded.get(m.name.toLowerCase());
      problems.push(
        other
          ? `column "${m.name}" is "${other.name}" in the table (names match exactly: its values would not reach it)`
          : `column "${m.name}" is not in the table`,
      );
      continue;
    }
    const mine = formatDorisType(m.type);
    const theirs = formatDorisType(t.type);
    if (mine !== theirs) notes.push(`"${m.name}" is ${mine} here, ${theirs} in the table`);
  }
  return { problems, notes };
}

export async function checkAll(config: SinkerConfig): Promise<CheckResult[]> {
  const quiet = createLogger({ ...config.log, output: 'stdout', level: 'fatal' });
  const results: CheckResult[] = [];
  /** The topic's partition count, once the Kafka check has read it: the Redis check reads each one's state. */
  let topicPartitions: number | undefined;

  results.push(
    await attempt('Kafka', async () => {
      const admin = new Kafka({ ...kafkaClientConfig(config.kafka, quiet), retry: { retries: 1 } }).admin();
      await admin.connect();
      try {
        // kafkajs's own words for a missing topic are "This server does not host this topic-partition".
        if (!(await admin.listTopics()).includes(config.kafka.topic)) {
          throw new Error(
            `connected to ${config.kafka.brokers.join(',')}, but topic "${config.kafka.topic}" does not exist (or this Kafka user cannot see it): create it, or fix kafka.topic; the sinker never creates it`,
          );
        }
        const meta = await admin.fetchTopicMetadata({ topics: [config.kafka.topic] }).catch((err: Error) => {
          throw new Error(
            `connected to ${config.kafka.brokers.join(',')}, but topic "${config.kafka.topic}": ${err.message}`,
          );
        });
        const partitions = meta.topics[0]?.partitions.length ?? 0;
        topicPartitions = partitions;
        const groups = await admin.describeGroups([config.kafka.group_id]);
        const members = groups.groups[0]?.members.length ?? 0;
        return `${config.kafka.brokers.join(',')} reachable; topic "${config.kafka.topic}" has ${partitions} partitions; group "${config.kafka.group_id}" has ${members} members`;
      } finally {
        await admin.disconnect();
      }
    }),
  );

  results.push(
    await attempt('Doris schema (query port)', async () => {
      const schema = await loadSchema(config);
      if (config.schema.mode !== 'manual') {
        return `DESCRIBE ${config.doris.database}.${config.doris.table}: ${schema.columns.length} columns (hash ${schema.hash.slice(0, 12)})`;
      }
      // A manual list is the user's word for the table; where the table can be read, hold it to that.
      let table: TableSchema;
      try {
        table = await loadSchema({ ...config, schema: { ...config.schema, mode: 'auto' } });
      } catch (err) {
        return `manual schema: ${schema.columns.length} columns (not compared with the table: ${(err as Error).message})`;
      }
      const { problems, notes } = compareManualSchema(schema.columns, table.columns);
      if (problems.length > 0) throw new Error(`schema.manual.columns against the table: ${problems.join('; ')}`);
      return `manual schema: ${schema.columns.length} columns, all in ${config.doris.database}.${config.doris.table}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
    }),
  );

  results.push(
    await attempt('Doris Stream Load (FE HTTP)', async () => {
      const fe = new FeClient({
        hosts: config.doris.fe_hosts,
        user: config.doris.user,
        password: config.doris.password,
        timeoutMs: 10_000,
      });
      try {
        // Asking for a label's state proves the FE answers and the credentials are accepted.
        const state = await fe.loadState(config.doris.database, `doris_sinker_check_${Date.now()}`);
        const backends = await fe.backends();
        const route =
          config.doris.load_route === 'frontend'
            ? 'loads go through the FE redirect'
            : `${backends.length} live backends for direct loads`;
        return `${config.doris.fe_hosts.join(',')} answers (label lookup: ${state}); ${route}`;
      } finally {
        await fe.close();
      }
    }),
  );

  /** What the Redis check learnt about stale exactly-once state (unset when Redis is not used or failed). */
  let stale: CheckResult | undefined;
  const staleResult = (report: string | null, unjudged?: string): CheckResult => ({
    name: 'Exactly-once state',
    ok: report === null,
    detail:
      report ??
      (unjudged === undefined
        ? "no stale state: every watermark and intent lies below its partition's log end"
        : `no stale state recorded (not compared with the topic's log: ${unjudged})`),
  });
  results.push(
    await attempt('Redis', async () => {
      if (config.dedupe.redis_url === '') return 'dedupe.redis_url is empty: no Redis, loads are at-least-once';
      const store = new DedupeStore({
        config: { ...config.dedupe, required: true },
        sink: config.name,
        topic: config.kafka.topic,
        commandTimeoutMs: 5000,
      });
      try {
        await store.connect();
        const recorded = await store.staleState();
        if (topicPartitions === undefined) {
          const state = await store.partitionState(0);
          stale = staleResult(
            staleReport(config.kafka.topic, store.keys, recorded, null, Date.now()),
            'the Kafka check failed',
          );
          return `reachable; partition 0 ${dedupeSummary([state], Date.now())} (the topic's partition count is unknown: the Kafka check failed)`;
        }
        const partitions = Array.from({ length: topicPartitions }, (_, p) => p);
        const states = await Promise.all(partitions.map((p) => store.partitionState(p)));
        // The state is read first, the log ends after it, as a settle does (stale.ts, findStale).
        let found: StaleFinding | null = null;
        let unjudged: string | undefined;
        if (!states.some((st) => st.watermark !== null || st.intents.length > 0)) {
          unjudged = 'the sink has no state for the topic yet';
        } else if (recorded === null) {
          try {
            found = await readLogAndFindStale(config, quiet, states);
          } catch (err) {
            unjudged = `reading it: ${(err as Error).message}`;
          }
        }
        stale = staleResult(staleReport(config.kafka.topic, store.keys, recorded, found, Date.now()), unjudged);
        return `reachable; ${dedupeSummary(states, Date.now())}`;
      } finally {
        await store.close();
      }
    }),
  );
  // ioredis says only "Connection is closed." when nothing listens: name the address (it may come
  // from REDIS_URL, not the file), credentials redacted, so the line says what to fix.
  const redis = results.at(-1)!;
  if (!redis.ok) redis.detail = `${redactUrl(config.dedupe.redis_url)}: ${redis.detail}`;
  if (stale !== undefined) results.push(stale);

  if (config.log.output !== 'stdout') {
    results.push(
      await attempt('Log file', async () => {
        const where = `log.file_path ${config.log.file_path}`;
        try {
          return `${where}: ${probeFileDirectory(config.log.file_path)}`;
        } catch (err) {
          throw new Error(`${where}: ${(err as Error).message}`);
        }
      }),
    );
  }

  if (config.dlq.file_path) {
    const path = config.dlq.file_path;
    results.push(await attempt('DLQ file', async () => `${path}: ${probeFileDirectory(path)}`));
  }
  if (config.dlq.kafka_topic) {
    const topic = config.dlq.kafka_topic;
    results.push(
      await attempt('DLQ topic', async () => {
        const admin = new Kafka({ ...kafkaClientConfig(config.kafka, quiet), retry: { retries: 1 } }).admin();
        await admin.connect();
        try {
          const topics = await admin.listTopics();
          if (!topics.includes(topic)) throw new Error(`topic "${topic}" does not exist; create it before starting`);
          // Both topics in one request; a source topic that does not exist (the Kafka line says so) is left out.
          const source = config.kafka.topic;
          const named = topics.includes(source) && source !== topic ? [topic, source] : [topic];
          let sizes: Map<string, number>;
          try {
            sizes = await maxMessageBytes(admin, named);
          } catch (err) {
            return `topic "${topic}" exists (its max.message.bytes could not be read: ${(err as Error).message})`;
          }
          const verdict = dlqSizeVerdict({
            topic,
            max: sizes.get(topic),
            source,
            sourceMax: sizes.get(source),
            brokers: config.kafka.brokers.join(','),
          });
          if (!verdict.ok) throw new Error(verdict.detail);
          return verdict.detail;
        } finally {
          await admin.disconnect();
        }
      }),
    );
  }
  return results;
}

/** Kafka's DescribeConfigs resource type of a topic (kafkajs's ConfigResourceTypes.TOPIC). */
const TOPIC_RESOURCE = 2;

/**
 * The largest record batch each topic takes: its max.message.bytes, which Kafka reports as the
 * broker's message.max.bytes when the topic does not set it.
 */
async function maxMessageBytes(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['max.message.bytes'] })),
  });
  const sizes = new Map<string, number>();
  for (const r of resources) {
    const v = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
    if (Number.isSafeInteger(v) && v > 0) sizes.set(r.resourceName, v);
  }
  return sizes;
}

/** Room a dead letter needs beside its original message: the dlq.* headers (the reason is the long one). */
export const DLQ_HEADROOM = 16 * 1024;

/**
 * The DLQ topic's max.message.bytes against the source topic's. A dead letter is the original message
 * with dlq.* headers, sent on its own when a larger send is refused: one that the DLQ topic refuses
 * can never land, and the sinker retries it for ever with its partition stopped. Less than the source
 * takes fails; as much passes (only a message within the headers' size of the limit would not fit).
 */
export function dlqSizeVerdict(o: {
  topic: string;
  max: number | undefined;
  source: string;
  sourceMax: number | undefined;
  brokers: string;
}): { ok: boolean; detail: string } {
  if (o.max === undefined)
    return { ok: true, detail: `topic "${o.topic}" exists (its max.message.bytes was not reported)` };
  const takes = `takes records up to ${o.max} bytes (max.message.bytes)`;
  if (o.sourceMax === undefined) return { ok: true, detail: `topic "${o.topic}" exists; it ${takes}` };
  if (o.max >= o.sourceMax) {
    return { ok: true, detail: `topic "${o.topic}" exists; it ${takes}, "${o.source}" up to ${o.sourceMax}` };
  }
  return {
    ok: false,
    detail:
      `topic "${o.topic}" ${takes}, "${o.source}" up to ${o.sourceMax}: a dead letter over ${o.max} bytes even gzipped could never be written to it, ` +
      `and the sinker would retry it for ever, that partition stopped. Raise it to the source's and room for the dlq.* headers: ` +
      `kafka-configs.sh --bootstrap-server ${o.brokers} --alter --entity-type topics --entity-name ${o.topic} --add-config max.message.bytes=${o.sourceMax + DLQ_HEADROOM}`,
  };
}

/**
 * Reads the group's committed offsets, then the topic's log bounds, and judges each partition's
 * state (read before) as a settle does: the lowest partition found stale, else null.
 */
async function readLogAndFindStale(
  config: SinkerConfig,
  quiet: ReturnType<typeof createLogger>,
  states: readonly PartitionState[],
): Promise<StaleFinding | null> {
  const admin = new Kafka({ ...kafkaClientConfig(config.kafka, quiet), retry: { retries: 1 } }).admin();
  await admin.connect();
  try {
    const [group] = await admin.fetchOffsets({ groupId: config.kafka.group_id, topics: [config.kafka.topic] });
    const committed = new Map((group?.partitions ?? []).map((p) => [p.partition, p.offset === '-1' ? null : p.offset]));
    const logs = new Map(
      (await admin.fetchTopicOffsets(config.kafka.topic)).map((o) => [o.partition, { low: o.low, high: o.high }]),
    );
    return findStaleInTopic(new Map(states.entries()), logs, committed);
  } finally {
    await admin.disconnect();
  }
}

/**
 * What `check` says about stale exactly-once state: the record a settle left in Redis, else state
 * this check found past the log ends (not recorded: check changes nothing; the sinker's first settle
 * records it and refuses), with the sinker's own message and the keys; null when there is none.
 */
export function staleReport(
  topic: string,
  keys: { stale: string; pattern: string },
  recorded: StaleRecord | null,
  found: StaleFinding | null,
  now: number,
): string | null {
  if (recorded) {
    return `${STALE_STATE_MESSAGE}. Recorded in ${keys.stale}: ${new StaleStateError(topic, recorded).message}; redisKeys ${keys.pattern}`;
  }
  if (found) {
    const err = new StaleStateError(topic, { ...found, at: new Date(now).toISOString() });
    return `${STALE_STATE_MESSAGE}. Found by this check, not recorded yet (the sinker's first settle records it in ${keys.stale} and refuses): ${err.message}; redisKeys ${keys.pattern}`;
  }
  return null;
}

/** Lists at most `max` items, then how many more. */
function some(items: string[], max: number): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/**
 * The dedupe state of the topic's partitions (index = partition) in one line: which have a
 * watermark (offsets known to be in Doris), which have none yet, and the intents not settled.
 */
export function dedupeSummary(states: readonly PartitionState[], now: number): string {
  if (states.length === 1) {
    const [s] = states;
    const intents = s!.intents.length;
    return `watermark ${s!.watermark ?? 'none'}, ${intents === 0 ? 'no unsettled intents' : `${intents} unsettled ${intents === 1 ? 'intent' : 'intents'}`}`;
  }
  const withWm = states.flatMap((s, p) => (s.watermark === null ? [] : [`p${p} ${s.watermark}`]));
  const without = states.flatMap((s, p) => (s.watermark === null ? [`p${p}`] : []));
  const parts = [
    `${withWm.length} of ${states.length} partitions ${withWm.length === 1 ? 'has a watermark' : 'have a watermark'}${withWm.length > 0 ? ` (${some(withWm, 8)})` : ''}`,
  ];
  if (withWm.length > 0 && without.length > 0) parts.push(`none yet on ${some(without, 8)}`);
  const intents = states.flatMap((s, p) =>
    s.intents.map((i) => `p${p} ${i.first}-${i.last}, ${Math.max(0, Math.round((now - i.created) / 1000))} s old`),
  );
  parts.push(
    intents.length === 0
      ? 'no unsettled intents'
      : `${intents.length} unsettled ${intents.length === 1 ? 'intent' : 'intents'} (${some(intents, 4)}; the partition's next owner settles it by its label: loaded once either way)`,
  );
  return parts.join('; ');
}

export async function runCheck(config: SinkerConfig, out: NodeJS.WritableStream): Promise<number> {
  out.write(
    `config OK (sink "${config.name}", ${config.kafka.topic} → ${config.doris.database}.${config.doris.table})\n`,
  );
  const results = await checkAll(config);
  for (const r of results) out.write(`${r.ok ? 'OK  ' : 'FAIL'} ${r.name}: ${r.detail}\n`);
  const failed = results.filter((r) => !r.ok).length;
  out.write(failed === 0 ? 'all checks passed\n' : `${failed} of ${results.length} checks failed\n`);
  return failed === 0 ? 0 : 1;
}
