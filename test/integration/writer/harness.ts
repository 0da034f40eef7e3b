// A writer wired to the emulator with an in-memory dead-letter list, and batch builders.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LoadBatch } from '../../../sinker/batch.ts';
import type { DorisConfig } from '../../../sinker/config/types.ts';
import type { EncodingSpec } from '../../../sinker/writer/body.ts';
import { type RejectedRow, StreamLoadWriter, type WriterOptions } from '../../../sinker/writer/writer.ts';
import { dorisConfig } from './emulator.ts';

export const CSV: EncodingSpec = { headers: { format: 'csv', column_separator: ',' }, lineDelimiter: '\n' };
export const JSON_LINES: EncodingSpec = { headers: { format: 'json', read_json_by_line: 'true' }, lineDelimiter: '\n' };

/** A sink name unique to this run, so labels never meet those of an earlier run in the emulator. */
export const SINK = `it-${randomUUID().slice(0, 8)}`;

export interface Harness {
  w: StreamLoadWriter;
  dlq: RejectedRow[];
  attempts: string[];
}

const open: StreamLoadWriter[] = [];

export async function writerFor(
  table: string,
  over: Partial<DorisConfig> = {},
  opts: Partial<WriterOptions> = {},
): Promise<Harness> {
  const dlq: RejectedRow[] = [];
  const attempts: string[] = [];
  const w = new StreamLoadWriter({
    sink: SINK,
    doris: await dorisConfig(table, over),
    encoding: CSV,
    deadLetter: async (_b, rows) => {
      dlq.push(...rows);
    },
    onAttempt: (a) => attempts.push(`${a.route}:${a.outcome}`),
    labelPollMs: 50,
    ...opts,
  });
  open.push(w);
  return { w, dlq, attempts };
}

export async function closeWriters(): Promise<void> {
  for (const w of open.splice(0)) await w.close();
}

/** A batch of CSV rows `id,name` with ids = offsets starting at `first`. */
export function csvBatch(names: string[], first: number, partition = 0, topic = 'events'): LoadBatch {
  const rows = names.map((n, i) => `${first + i},${n}`);
  return {
    topic,
    partition,
    firstOffset: String(first),
    lastOffset: String(first + rows.length - 1),
    rows,
    rowOffsets: rows.map((_, i) => String(first + i)),
    bytes: rows.reduce((s, r) => s + Buffer.byteLength(r), 0),
  };
}

/** The `id,name` strings a CSV batch stores. */
export function expected(names: string[], first: number): string[] {
  return names.map((n, i) => `${first + i},${n}`);
}

/**
 * A 2PC commit is answered once the txn is COMMITTED; Doris publishes it afterwards (as the emulator
 * does): the label reads COMMITTED, then VISIBLE, never anything else.
 */
export async function publishedSoon(w: { labelState(label: string): Promise<string> }, label: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const state = await w.labelState(label);
    if (state === 'VISIBLE') return;
    assert.equal(state, 'COMMITTED', `label ${label} after its 2PC commit`);
    assert.ok(Date.now() < deadline, `label ${label} not VISIBLE within 10 s of its commit`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
