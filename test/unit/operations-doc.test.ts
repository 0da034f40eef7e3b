// docs/operations.md quotes the code an operator relies on: config keys and their defaults, metric
// names, alert names, texts the sinker logs, and the bench figures the sizing advice rests on. Each is
// read back here from its source, so a rename or a new result fails this test instead of leaving the
// guide to mislead someone at 3 a.m. No servers: the metric names come from the registries themselves.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { Schema } from '../../operator/api/openapi.ts';
import { specSchema } from '../../operator/api/schema.ts';
import { OperatorMetrics } from '../../operator/controller/metrics.ts';
import { CONFIG_SCHEMA, type SchemaNode } from '../../sinker/config/schema.ts';
import { DLQ_HEADER } from '../../sinker/dlq/record.ts';
import { createMetrics } from '../../sinker/metrics.ts';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
const DOC_PATH = 'docs/operations.md';
const DOC = read(DOC_PATH);

/** Every code span of a Markdown text, outside fenced blocks; a span may wrap (its line break reads as a space). */
function codeSpans(md: string): string[] {
  const prose = md.replace(/^```[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\s*\n\s*/g, ' '));
}

const SPANS = codeSpans(DOC);

interface Table {
  header: string[];
  rows: string[][];
  /** Where the table starts in the text, to find what precedes it. */
  at: number;
}

/** Markdown tables: runs of lines starting with `|`, the second being the separator. */
function tables(md: string): Table[] {
  const out: Table[] = [];
  const lines = md.split('\n');
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('|') && lines[i + 1]?.startsWith('|') && /^\|[\s:|-]+\|$/.test(lines[i + 1]!.trim())) {
      const table: Table = { header: cells(line), rows: [], at: offset };
      let j = i + 2;
      for (; j < lines.length && lines[j]!.startsWith('|'); j++) table.rows.push(cells(lines[j]!));
      out.push(table);
      for (let k = i; k < j; k++) offset += lines[k]!.length + 1;
      i = j - 1;
      continue;
    }
    offset += line.length + 1;
  }
  return out;
}

const TABLES = tables(DOC);
const tablesWithHeader = (...header: string[]) =>
  TABLES.filter((t) => JSON.stringify(t.header) === JSON.stringify(header));
const unquote = (cell: string) => cell.replace(/`/g, '');

/** The schema node at a dotted path (`batch.max_buffer_bytes`), or undefined. */
function configNode(path: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = CONFIG_SCHEMA;
  for (const part of path.split('.')) node = node?.properties?.[part];
  return node;
}

// A code span that looks like a dotted config path: lowercase snake_case segments joined by dots,
// optionally followed by `: value` (`dedupe.required: false`). File names are not keys, and
// camelCase (`spec.batch.maxBufferBytes`, a DorisSink field) never matches.
const CONFIG_PATH = /^([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)(?::\s.*)?$/;
const FILE_EXTENSIONS = new Set(['md', 'ts', 'js', 'json', 'jsonl', 'yaml', 'yml', 'svg']);
/** Dotted names in the doc that are not config keys, and what they are. */
const NOT_CONFIG_KEYS = new Map([
  ...Object.values(DLQ_HEADER).map((h): [string, string] => [h, 'a Kafka header of a dead letter in a DLQ topic']),
  ['max.message.bytes', 'the Kafka topic setting bounding a record batch'],
  ['message.max.bytes', "the Kafka broker's default of max.message.bytes"],
  ['offsets.retention.minutes', "the Kafka broker setting that keeps an empty group's offsets"],
  ['check.crcs', "the Java consumer's setting the sinker's CRC check mirrors"],
]);

function configPathsInDoc(): string[] {
  const paths = new Set<string>();
  for (const span of SPANS) {
    const path = CONFIG_PATH.exec(span)?.[1];
    if (!path || path.startsWith('spec.')) continue;
    if (FILE_EXTENSIONS.has(path.split('.').at(-1)!) || NOT_CONFIG_KEYS.has(path)) continue;
    paths.add(path);
  }
  return [...paths];
}

/** The DorisSink schema node at `spec.a.b`, or undefined. */
function specNode(path: string): Schema | undefined {
  let node: Schema | undefined = specSchema;
  for (const part of path.split('.').slice(1)) node = node?.properties?.[part];
  return node;
}

test('every config key the guide names exists in the config schema', () => {
  const paths = configPathsInDoc();
  assert.ok(paths.length >= 30, `only ${paths.length} config keys found: is the pattern still right?`);
  const unknown = paths.filter((p) => configNode(p) === undefined);
  assert.deepEqual(unknown, [], `${DOC_PATH} names config keys that sinker/config/schema.ts does not have`);
  // The grace key is top-level, so the dotted pattern does not see it.
  assert.ok(DOC.includes('`shutdown_timeout`') && CONFIG_SCHEMA.properties?.shutdown_timeout);
});

test('every DorisSink field the guide names (`spec.…`) exists in the CRD schema', () => {
  const fields = SPANS.flatMap((s) => /^(spec\.[A-Za-z.]+?)(?::\s.*)?$/.exec(s)?.[1] ?? []);
  assert.ok(fields.length >= 15, `only ${fields.length} DorisSink fields found`);
  assert.deepEqual(
    fields.filter((f) => specNode(f) === undefined),
    [],
    `${DOC_PATH} names DorisSink fields that operator/api/schema.ts does not have`,
  );
});

test("the tuning table's defaults are the sinker's and the operator's", () => {
  const [table] = tablesWithHeader('key', 'sinker default', 'DorisSink field', 'operator default');
  assert.ok(table, 'the tuning table (key | sinker default | DorisSink field | operator default) is missing');
  const first = (cell: string) => unquote(cell).split(/\s/)[0]!;
  let operatorRows = 0;
  for (const [key, sinkerDefault, field, operatorDefault] of table.rows) {
    const node = configNode(unquote(key!));
    assert.ok(node, `${key} is not a config key`);
    assert.equal(first(sinkerDefault!), String(node.default), `sinker default of ${key}`);
    if (!field!.startsWith('`spec.')) continue;
    const spec = specNode(unquote(field!));
    assert.ok(spec, `${field} is not a DorisSink field`);
    assert.equal(first(operatorDefault!), String(spec.default), `operator default of ${field}`);
    operatorRows++;
  }
  assert.ok(operatorRows >= 10);
});

test('every environment override is listed, with the key it sets', () => {
  const overrides = new Map<string, string>();
  const walk = (node: SchemaNode, path: string[]) => {
    if (node['x-env']) overrides.set(node['x-env'], path.join('.'));
    for (const [k, child] of Object.entries(node.properties ?? {})) walk(child, [...path, k]);
  };
  walk(CONFIG_SCHEMA, []);
  const [table] = tablesWithHeader('Variable', 'Overrides');
  assert.ok(table, 'the environment table (Variable | Overrides) is missing');
  const listed = new Map(
    table.rows.map(([v, keys]) => [unquote(v!), unquote(keys!).split(/\s/)[0]!.replace(/,$/, '')]),
  );
  assert.deepEqual(new Map([...listed].sort()), new Map([...overrides].sort()));
});

/** Metric name → its label names, from a registry. */
function metricLabels(registry: { getMetricsAsArray(): unknown[] }): Map<string, string[]> {
  return new Map(
    registry.getMetricsAsArray().map((m) => {
      const metric = m as { name: string; labelNames?: readonly string[] };
      return [metric.name, [...(metric.labelNames ?? [])]];
    }),
  );
}

test('every metric the guide presents exists in the sinker or operator registry, with those labels', () => {
  const sinker = metricLabels(createMetrics({ sink: 'doc' }).registry);
  const operator = metricLabels(new OperatorMetrics().registry);
  // A span is presented as a metric when it is a snake_case name (with optional {labels}) of one of
  // the registries' families: kafka_, batch_, doris_, dlq_, process_, nodejs_, ... Label values are
  // written inside the braces (`dlq_messages_total{reason="doris_rejected"}`) or as `reason="..."`.
  const families = new Set([...sinker.keys()].map((n) => n.split('_')[0]!));
  const found: string[] = [];
  const problems: string[] = [];
  for (const span of SPANS) {
    const m = /^([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?:\{([^}]*)\})?$/.exec(span);
    if (!m) continue;
    const name = m[1]!;
    if (!families.has(name.split('_')[0]!)) continue;
    const registry = name.startsWith('doris_sinker_operator_') ? operator : sinker;
    const base = registry.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const labels = registry.get(base);
    if (!labels) {
      problems.push(`${span}: no such metric`);
      continue;
    }
    found.push(base);
    for (const label of (m[2] ?? '').split(',').filter(Boolean)) {
      const labelName = label.split('=')[0]!.trim();
      // sink is every sinker series' default label; namespace and pod come from the scrape.
      if (!labels.includes(labelName) && !['sink', 'namespace', 'pod', 'le'].includes(labelName)) {
        problems.push(`${span}: ${base} has no label ${labelName} (it has ${labels.join(', ') || 'none'})`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(new Set(found).size >= 25, `only ${new Set(found).size} metrics found: is the pattern still right?`);
});

test('every alert of the chart is in the guide, and every alert the guide names exists', () => {
  const rules = parse(read('charts/doris-sinker-operator/files/alerts.yaml')) as {
    groups: { rules: { alert?: string }[] }[];
  };
  const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
  assert.ok(alerts.length >= 10);
  const missing = alerts.filter((a) => !DOC.includes(`\`${a}\``));
  assert.deepEqual(missing, [], `${DOC_PATH} does not explain these alerts`);
  const named = SPANS.filter((s) => /^DorisSinker[A-Z]\w*$/.test(s));
  assert.deepEqual(
    named.filter((n) => !alerts.includes(n)),
    [],
    'alerts named in the guide but not in alerts.yaml',
  );
});

test('every text the guide quotes (`"..."`) is one the sinker writes', () => {
  const sources = readdirSync(new URL('sinker/', ROOT), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.testkit.ts'))
    .map((f) => read(`sinker/${f}`))
    .join('\n');
  const quoted = SPANS.flatMap((s) => /^"(.+)"$/.exec(s)?.[1] ?? []);
  assert.ok(quoted.length >= 15, `only ${quoted.length} quoted texts found`);
  assert.deepEqual(
    quoted.filter((q) => !sources.includes(q)),
    [],
    'texts quoted in the guide that no sinker source contains',
  );
});

test('the bench figures are those of the result files the guide cites', () => {
  const figureTables = tablesWithHeader('field', 'value');
  assert.ok(figureTables.length >= 2, 'the bench and soak figure tables (field | value) are missing');
  for (const table of figureTables) {
    // The figures come from the last result file named before the table.
    const before = DOC.slice(0, table.at);
    const file = [...before.matchAll(/`(test\/bench\/results\/[^`]+\.json)`/g)].at(-1)?.[1];
    assert.ok(file, 'a figure table without a result file before it');
    const result = JSON.parse(read(file)) as Record<string, unknown>;
    for (const [field, value] of table.rows) {
      const key = unquote(field!);
      assert.equal(Number(value!.replace(/,/g, '')), result[key], `${key} in ${file}`);
    }
  }
});
