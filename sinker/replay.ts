// `doris-sinker replay`: puts dead-lettered records back through the mapper and the writer. Each
// replayed batch loads under a label derived from the records' original partition and first offset,
// so replaying the same DLQ twice does not load a row twice (within Doris's label retention).
import { Kafka } from 'kafkajs';
import type { LoadBatch } from './batch.ts';
import type { CliArgs } from './cli-args.ts';
import type { SinkerConfig } from './config/types.ts';
import { kafkaClientConfig } from './consumer.ts';
import { readDlqFile, readDlqTopic } from './dlq/reader.ts';
import type { DlqRecord } from './dlq/record.ts';
import { createEncoder, LINE_DELIMITER } from './encode/encoders.ts';
import { derivedLabel, loadLabel } from './labels.ts';
import { createLogger } from './logger.ts';
import { Mapper } from './mapper/mapper.ts';
import { loadSchema } from './run.ts';
import { StreamLoadWriter } from './writer/writer.ts';

export interface ReplaySummary {
  read: number;
  stillInvalid: number;
  loaded: number;
  rejected: number;
  batches: number;
}

export async function runReplay(config: SinkerConfig, args: CliArgs, out: NodeJS.WritableStream): Promise<number> {
  const logger = createLogger(
    { ...config.log, output: 'stdout', level: 'warn' },
    { sink: config.name, command: 'replay' },
  );
  const schema = await loadSchema(config);
  const mapper = new Mapper(schema, { zeroDate: config.schema.zero_date });
  const encoder = createEncoder(config.doris.format, mapper.columns);
  const fromTopic = args.fromTopic ?? (args.fromFile ? undefined : config.dlq.kafka_topic);
  const fromFile = fromTopic ? undefined : (args.fromFile ?? config.dlq.file_path ?? `${config.name}-dlq.jsonl`);
  const source: AsyncIterable<DlqRecord> = fromTopic
    ? readDlqTopic({ kafka: new Kafka(kafkaClientConfig(config.kafka, logger)), topic: fromTopic })
    : readDlqFile(fromFile!);
  out.write(
    `replaying from ${fromTopic ? `topic ${fromTopic}` : `file ${fromFile}`}${args.dryRun ? ' (dry run)' : ''}\n`,
  );

  // Group rows by their original partition, in offset order, as the pipeline would have batched them.
  // Keyed by offset: the DLQ is at-least-once (a crash between the dead-letter write and the offset
  // commit writes the message again on restart), and one offset must load at most once.
  const groups = new Map<string, { topic: string; partition: number; rows: Map<string, string> }>();
  const summary: ReplaySummary = { read: 0, stillInvalid: 0, loaded: 0, rejected: 0, batches: 0 };
  for await (const record of source) {
    if (args.limit !== undefined && summary.read >= args.limit) break;
    summary.read++;
    const r = mapper.map(record.value);
    if (!r.ok) {
      summary.stillInvalid++;
      out.write(`  still invalid: ${record.topic}/${record.partition}@${record.offset}: ${r.reason}\n`);
      continue;
    }
    const key = `${record.topic}\u0000${record.partition}`;
    let g = groups.get(key);
    if (!g) {
      g = { topic: record.topic, partition: record.partition, rows: new Map() };
      groups.set(key, g);
    }
    if (g.rows.has(record.offset))
      out.write(`  duplicate record ${record.topic}/${record.partition}@${record.offset}: loaded once\n`);
    g.rows.set(record.offset, encoder.encode(r.values));
  }
  if (args.dryRun) {
    const loadable = summary.read - summary.stillInvalid;
    out.write(`dry run: ${summary.read} records read, ${loadable} would load, ${summary.stillInvalid} still invalid\n`);
    return 0;
  }

  const writer = new StreamLoadWriter({
    sink: config.name,
    doris: config.doris,
    encoding: { headers: { ...encoder.headers }, lineDelimiter: LINE_DELIMITER },
    logger,
  });
  try {
    for (const g of groups.values()) {
      const rows = [...g.rows]
        .map(([offset, row]) => ({ offset, row }))
        .sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
      for (let i = 0; i < rows.length; i += config.batch.max_batch_rows) {
        const chunk = rows.slice(i, i + config.batch.max_batch_rows);
        const batch: LoadBatch = {
          topic: g.topic,
          partition: g.partition,
          firstOffset: chunk[0]!.offset,
          lastOffset: chunk[chunk.length - 1]!.offset,
          rows: chunk.map((c) => c.row),
          rowOffsets: chunk.map((c) => c.offset),
          bytes: chunk.reduce((n, c) => n + Buffer.byteLength(c.row), 0),
        };
        const label = derivedLabel(loadLabel(config.name, g.topic, g.partition, batch.firstOffset), 'replay');
        try {
          const result = await writer.load(batch, { label });
          summary.batches++;
          summary.loaded += result.status === 'already-loaded' ? 0 : result.loadedRows;
          summary.rejected += result.rejected.length;
          for (const rej of result.rejected) {
            out.write(`  refused by Doris: ${g.topic}/${g.partition}@${rej.offset}: ${rej.reason}\n`);
          }
          if (result.status === 'already-loaded') out.write(`  batch ${label} was already replayed; skipped\n`);
        } catch (err) {
          out.write(`  load of ${label} failed: ${(err as Error).message}\n`);
          summary.rejected += batch.rows.length;
        }
      }
    }
  } finally {
    await writer.close();
  }
  out.write(
    `replay: ${summary.read} read, ${summary.loaded} loaded in ${summary.batches} batches, ${summary.stillInvalid} still invalid, ${summary.rejected} refused\n`,
  );
  return summary.rejected > 0 ? 1 : 0;
}
