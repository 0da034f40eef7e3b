import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMetrics, DLQ_REASONS, recordMapStats } from './metrics.ts';

const SEED_NAMES = [
  'kafka_messages_consumed_total',
  'kafka_bytes_consumed_total',
  'kafka_consume_errors_total',
  'kafka_consumer_lag',
  'batch_flush_total',
  'batch_size_rows',
  'batch_size_bytes',
  'batch_flush_duration_seconds',
  'batch_current_rows',
  'batch_current_bytes',
  'doris_stream_load_total',
  'doris_rows_loaded_total',
  'doris_rows_filtered_total',
  'doris_stream_load_duration_seconds',
  'doris_stream_load_retries_total',
  'doris_stream_load_errors_total',
  'json_parse_errors_total',
  'field_missing_total',
  'field_type_conversion_errors_total',
  'dlq_messages_total',
];

test("every seed metric exists and every series carries the sink's name", async () => {
  const m = createMetrics({ sink: 'orders' });
  m.kafkaMessagesConsumed.inc({ topic: 't' }, 3);
  m.batchFlush.inc({ status: 'success' });
  m.dorisStreamLoadDuration.observe(0.2);
  m.dlqMessages.inc({ reason: 'mapper' });
  const text = await m.registry.metrics();
  for (const name of SEED_NAMES) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  assert.match(text, /^kafka_messages_consumed_total\{topic="t",sink="orders"\} 3$/m);
  assert.match(text, /^batch_flush_total\{status="success",sink="orders"\} 1$/m);
  assert.match(text, /^process_cpu_user_seconds_total\{sink="orders"\} /m, 'Node default metrics, labelled too');
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /sink="orders"/, line);
  }
});

test('label name is configurable and registries are independent', async () => {
  const a = createMetrics({ sink: 'a', labelName: 'doris_sink', defaultMetrics: false });
  const b = createMetrics({ sink: 'b', defaultMetrics: false });
  a.dorisRowsLoaded.inc(5);
  assert.match(await a.registry.metrics(), /^doris_rows_loaded_total\{doris_sink="a"\} 5$/m);
  assert.match(await b.registry.metrics(), /^doris_rows_loaded_total\{sink="b"\} 0$/m);
  assert.doesNotMatch(await a.registry.metrics(), /process_cpu/);
});

test('mapper stats land in the parse, missing-field and conversion counters', async () => {
  const m = createMetrics({ sink: 's', defaultMetrics: false });
  recordMapStats(m, {
    parseErrors: 2,
    missing: [{ field: 'title', count: 4 }],
    conversions: [{ field: 'priority', fromType: 'string', toType: 'int', count: 1 }],
  });
  const text = await m.registry.metrics();
  assert.match(text, /^json_parse_errors_total\{sink="s"\} 2$/m);
  assert.match(text, /^field_missing_total\{field="title",sink="s"\} 4$/m);
  assert.match(
    text,
    /^field_type_conversion_errors_total\{field="priority",from_type="string",to_type="int",sink="s"\} 1$/m,
  );
});

test('every metric is updated somewhere in the sinker (a registered but never-set metric misleads dashboards)', () => {
  const m = createMetrics({ sink: 's', defaultMetrics: false });
  const names = Object.keys(m).filter((k) => k !== 'registry');
  const root = fileURLToPath(new URL('.', import.meta.url));
  const sources = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('testkit'))
    .map((f) => readFileSync(join(root, f), 'utf8'))
    .join('\n');
  // updated in place (`m.x.inc(`), or handed to a helper that updates it (`new LagSeries(metrics.x, ...)`)
  const unused = names.filter(
    (n) => !new RegExp(`\\.${n}\\.(inc|set|observe|remove|reset)\\(|\\.${n}[,)]`).test(sources),
  );
  assert.ok(names.length > 20, `only ${names.length} metrics found`);
  assert.deepEqual(unused, [], `registered but never updated: ${unused.join(', ')}`);
});

test('dlq_messages_total shows every reason the sinker reports at 0 from the start', async () => {
  // A counter series that first appears at N has no earlier sample: increase() and rate() see no
  // rise, so the first dead letters of a process (often its only ones) would set off no alert.
  const root = fileURLToPath(new URL('.', import.meta.url));
  const src = (f: string) => readFileSync(join(root, f), 'utf8');
  const reported = new Set([
    ...[...src('pipeline.ts').matchAll(/#writeDlq\([^;]*?,\s*'([a-z_]+)',?\s*\)/g)].map((x) => x[1]!),
    ...[...src('run.ts').matchAll(/dlqMessages\.inc\(\{ reason: '([a-z_]+)' \}/g)].map((x) => x[1]!),
  ]);
  assert.ok(
    reported.has('mapper') && reported.has('load_failed') && reported.has('doris_rejected'),
    [...reported].join(),
  );
  assert.deepEqual([...reported].sort(), [...DLQ_REASONS].sort());
  const text = await createMetrics({ sink: 's', defaultMetrics: false }).registry.metrics();
  for (const reason of DLQ_REASONS)
    assert.match(text, new RegExp(`^dlq_messages_total\\{reason="${reason}",sink="s"\\} 0$`, 'm'));
});
