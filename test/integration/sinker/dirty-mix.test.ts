// The dirty mix of WORKLOAD.md end to end through the real sinker process: Kafka → sinker → emulator
// → MariaDB. Every valid message is in the table exactly once with the right values (a sample checked
// column by column), every invalid one is in the DLQ with its reason and original bytes, the metrics
// agree, and SIGTERM stops it cleanly (exit 0, everything flushed).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEAD_LETTER_SAMPLING } from '../../../sinker/logger.ts';
import type { GeneratedEvent } from '../../support/events.ts';
import { metricValue, type SinkerProcess } from '../../support/sinker-process.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  produce,
  readDlq,
  type Scenario,
  scenario,
  startSinker,
  storage,
  validIds,
  waitForRows,
  waitQuiet,
} from './helpers.ts';

const COUNT = 5000;
const s: Scenario = scenario('dirty');
let sinker: SinkerProcess | undefined;

before(async () => {
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  await sinker?.kill();
  await cleanup(s);
  await closeStorage();
});

type Row = Record<string, string | null>;

/** What the table must hold for a generated event, column by column, as MariaDB returns it. */
function expectedRow(e: GeneratedEvent): Row {
  const f = e.fields!;
  const int = (v: unknown) => (v === undefined ? '0' : String(v));
  const str = (v: unknown) => (v === undefined ? '' : String(v));
  const out: Row = {
    id: String(e.id),
    integration_id: int(f.integration_id),
    arrive_time: int(f.arrive_time),
    event_time: int(f.event_time),
    event_type: str(f.event_type),
    source: str(f.source),
    title: str(f.title),
    description: str(f.description),
    // The wrong_type kind sets priority to an object: no lossless conversion, so the zero value.
    priority: typeof f.priority === 'object' ? '0' : int(f.priority),
    severity: int(f.severity),
    is_recovered: f.is_recovered ? '1' : '0',
    score: String(f.score),
    amount: String(f.amount),
    event_date: String(f.event_date),
    created_at: String(f.created_at),
    labels: JSON.stringify(f.labels),
  };
  for (let i = 1; i <= 50; i++) out[`extend${i}`] = str(f[`extend${i}`]);
  return out;
}

test('dirty mix: every valid message once with its values, every invalid one in the DLQ, metrics agree', async () => {
  sinker = await startSinker(s, 'sinker');
  const { kinds, events } = await produce(s, COUNT, 4242);
  const valid = validIds(events);
  assert.ok(kinds.invalid_json > 0 && kinds.wrong_type > 0 && kinds.number_as_string > 0, JSON.stringify(kinds));
  assert.ok(kinds.missing_required > 0 && kinds.extra_fields > 0, JSON.stringify(kinds));

  const seen = await waitForRows(s, valid.length, 60_000);
  assert.equal(seen, valid.length, `rows after 60 s:\n${sinker.tail()}`);
  await waitQuiet(s, 1000, 10_000);
  await assertExactlyOnce(s, valid, 'dirty mix');

  // Values, column by column: every non-clean event plus every 25th clean one, and all tricky strings.
  const sample = events.filter(
    (e, i) =>
      e.kind !== 'invalid_json' &&
      (e.kind !== 'clean' ||
        i % 25 === 0 ||
        /[",\t\n\\\u0001🚀中]/u.test(`${e.fields!.title}${e.fields!.description}`)),
  );
  const [rows] = await storage().query(
    `SELECT CAST(id AS CHAR) AS id, CAST(integration_id AS CHAR) AS integration_id, CAST(arrive_time AS CHAR) AS arrive_time,
       CAST(event_time AS CHAR) AS event_time, event_type, source, title, description, CAST(priority AS CHAR) AS priority,
       CAST(severity AS CHAR) AS severity, CAST(is_recovered AS CHAR) AS is_recovered, score, CAST(amount AS CHAR) AS amount,
       CAST(event_date AS CHAR) AS event_date, CAST(created_at AS CHAR) AS created_at, labels,
       ${Array.from({ length: 50 }, (_, i) => `extend${i + 1}`).join(', ')}
     FROM \`${s.table}\` WHERE id IN (${sample.map((e) => e.id.toString()).join(',')})`,
  );
  const byId = new Map((rows as Row[]).map((r) => [r.id as string, r]));
  let checked = 0;
  let tricky = 0;
  for (const e of sample) {
    const got = byId.get(String(e.id));
    assert.ok(got, `row ${e.id} (${e.kind}) missing`);
    const want = expectedRow(e);
    for (const [col, v] of Object.entries(want)) {
      const g: string | null | undefined = got[col];
      if (col === 'score') assert.equal(Number(g), Number(v), `id ${e.id} (${e.kind}) ${col}`);
      else if (col === 'labels') assert.deepEqual(JSON.parse(String(g)), JSON.parse(String(v)), `id ${e.id} ${col}`);
      else assert.equal(g, v, `id ${e.id} (${e.kind}) column ${col}`);
    }
    if (/[",\t\n\\\u0001]/.test(String(want.title))) tricky++;
    checked++;
  }
  assert.ok(checked > 300 && tricky > 5, `checked ${checked} rows, ${tricky} with tricky titles`);

  // The DLQ: exactly the invalid JSON messages, with the reason and the original bytes.
  const invalid = events.filter((e) => e.kind === 'invalid_json');
  const dlq = readDlq(s);
  assert.equal(dlq.length, invalid.length, `DLQ lines: ${dlq.map((d) => d.reason).join(' | ')}`);
  const dlqValues = new Set(dlq.map((d) => d.value));
  for (const e of invalid) assert.ok(dlqValues.has(e.value), `invalid message ${e.id} not in the DLQ byte for byte`);
  for (const d of dlq) {
    assert.equal(d.topic, s.topic);
    assert.equal(d.sink, s.name);
    assert.match(d.reason, /json/i, `DLQ reason names the JSON problem: ${d.reason}`);
    assert.equal(d.value_encoding, 'utf8');
    // The record's partition/offset point at the message itself: produce.ts sends id i to partition (i-1) % 4.
    const e = invalid.find((x) => x.value === d.value)!;
    assert.equal(d.partition, Number((e.id - 1n) % BigInt(s.partitions)));
    assert.equal(d.offset, String((e.id - 1n) / BigInt(s.partitions)));
  }

  // Each dead letter is logged (sampling keeps the first DEAD_LETTER_SAMPLING.burst a second), pointing at it.
  const logged = sinker.logLines.filter((l) => l.msg === 'message dead-lettered');
  const where = new Set(dlq.map((d) => `${d.partition}/${d.offset}`));
  for (const l of logged) {
    assert.ok(where.has(`${l.partition}/${l.offset}`), `logged dead letter not in the DLQ: ${JSON.stringify(l)}`);
    assert.match(String(l.reason), /json/i);
  }
  const suppressed = logged.reduce((n, l) => n + Number(l.suppressed ?? 0), 0);
  assert.ok(logged.length + suppressed <= dlq.length, `${logged.length} lines + ${suppressed} suppressed`);
  assert.ok(logged.length >= Math.min(dlq.length, DEAD_LETTER_SAMPLING.burst), `${logged.length} dead-letter lines`);

  // Metrics agree with what happened.
  const m = await sinker.scrape();
  assert.equal(metricValue(m, 'kafka_messages_consumed_total'), COUNT);
  assert.equal(metricValue(m, 'doris_rows_loaded_total'), valid.length);
  assert.equal(metricValue(m, 'json_parse_errors_total'), invalid.length);
  assert.equal(metricValue(m, 'dlq_messages_total'), invalid.length);
  assert.equal(metricValue(m, 'field_type_conversion_errors_total', { field: 'priority' }), kinds.wrong_type);
  const missingRequired =
    metricValue(m, 'field_missing_total', { field: 'integration_id' }) +
    metricValue(m, 'field_missing_total', { field: 'arrive_time' }) +
    metricValue(m, 'field_missing_total', { field: 'event_time' });
  assert.equal(missingRequired, kinds.missing_required);
  assert.ok(metricValue(m, 'batch_flush_total', { status: 'success' }) > 0);
  assert.ok(metricValue(m, 'kafka_offset_commits_total') > 0);

  const exit = await sinker.term();
  assert.deepEqual(exit, { code: 0, signal: null }, `graceful stop:\n${sinker.tail()}`);
  assert.match(sinker.output, /everything consumed is in Doris/);
  await assertExactlyOnce(s, valid, 'after SIGTERM');
});
