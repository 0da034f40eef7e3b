// Every metric a dashboard panel or an alert uses exists in the code: names are read from the
// sinker's and the operator's real prom-client registries (with Node's default metrics), not from a
// list kept by hand.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { OperatorMetrics } from '../../../operator/controller/metrics.ts';
import { createMetrics } from '../../../sinker/metrics.ts';
import { CHART_DIR } from './tools.ts';

interface Registered {
  name: string;
  type: string;
}

async function registered(): Promise<Map<string, string>> {
  const sinker = createMetrics({ sink: 'names-test' });
  const operator = new OperatorMetrics();
  const all: Registered[] = [
    ...(await sinker.registry.getMetricsAsJSON()),
    ...(await operator.registry.getMetricsAsJSON()),
  ].map((m) => ({ name: m.name, type: String(m.type) }));
  return new Map(all.map((m) => [m.name, m.type]));
}

// PromQL words that are not metric names.
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** Metric names an expression selects: identifiers outside label matchers, grouping and ranges, not called. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (!name || call || KEYWORDS.has(name.toLowerCase())) continue;
    names.push(name);
  }
  return names;
}

function dashboardExprs(): { where: string; expr: string }[] {
  const dir = join(CHART_DIR, 'files', 'dashboards');
  const out: { where: string; expr: string }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; definition?: string }[] };
    };
    for (const p of dash.panels)
      for (const t of p.targets ?? []) out.push({ where: `${file}: ${p.title}`, expr: t.expr });
    for (const v of dash.templating.list) {
      // label_values(metric, label) selects `metric`.
      const m = /^label_values\(([^,]+),/.exec(v.definition ?? '');
      if (m?.[1]) out.push({ where: `${file}: variable ${v.name}`, expr: m[1] });
    }
  }
  return out;
}

function alertExprs(): { where: string; expr: string }[] {
  const rules = parse(readFileSync(join(CHART_DIR, 'files', 'alerts.yaml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}

/** Whether `name` is a series the registries expose (histograms as _bucket/_sum/_count). */
function exposed(name: string, metrics: Map<string, string>): boolean {
  if (metrics.has(name)) return metrics.get(name) !== 'histogram';
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return Boolean(m?.[1] && ['histogram', 'summary'].includes(metrics.get(m[1]) ?? ''));
}

test('the PromQL name extraction finds metrics and skips functions, labels and keywords', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (sink, le) (rate(a_bucket{x="y{z}"}[5m]))) > 1 and on (sink) b_total or c',
    ),
    ['a_bucket', 'b_total', 'c'],
  );
  assert.deepEqual(metricNames('sum(rate(m{sink=~"$sink"}[$__rate_interval])) / 1024'), ['m']);
});

test('every metric the dashboards and alerts use is registered by the sinker or the operator', async () => {
  const metrics = await registered();
  // Sanity: the registries are the real ones (seed names, Node runtime, operator).
  for (const n of ['kafka_consumer_lag', 'process_resident_memory_bytes', 'doris_sinker_operator_reconcile_total']) {
    assert.ok(metrics.has(n), `${n} not registered: is this the right registry?`);
  }
  const uses = [...dashboardExprs(), ...alertExprs()];
  assert.ok(uses.length > 40, `only ${uses.length} expressions found`);
  const missing: string[] = [];
  const used = new Set<string>();
  for (const { where, expr } of uses) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where}: no metric in ${expr}`);
    for (const n of names) {
      used.add(n);
      if (!exposed(n, metrics)) missing.push(`${where}: ${n}`);
    }
  }
  assert.deepEqual(missing, [], `metrics used but not in the code:\n${missing.join('\n')}`);
  // The seed's alerts and the dashboard's core panels are covered.
  for (const n of [
    'kafka_consumer_lag',
    'doris_stream_load_total',
    'batch_flush_duration_seconds_bucket',
    'process_resident_memory_bytes',
    'dlq_messages_total',
    'doris_stream_load_duration_seconds_bucket',
    'doris_sinker_operator_sink_desired_replicas',
  ]) {
    assert.ok(used.has(n), `${n} is used by no panel or alert`);
  }
});

test('dashboards select series by their metrics, not by a job or release name; an event-loop panel plots the event loop', () => {
  // `job` (and `service`, `container`) come from the scrape config: the Service's name with the
  // Prometheus Operator, so a fullnameOverride or another release name would empty the panel.
  const scrapeLabels = dashboardExprs().filter(({ expr }) => /[{,]\s*(job|service|container)\s*[=!]~?/.test(expr));
  assert.deepEqual(
    scrapeLabels.map((u) => `${u.where}: ${u.expr}`),
    [],
    'panels filtering on scrape-config labels',
  );
  const dir = join(CHART_DIR, 'files', 'dashboards');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    for (const p of dash.panels.filter((p) => /event.loop/i.test(p.title))) {
      assert.ok(
        (p.targets ?? []).some((t) => metricNames(t.expr).some((n) => n.startsWith('nodejs_eventloop_'))),
        `${file}: panel "${p.title}" has no event-loop series`,
      );
    }
  }
});

/** The `status` values of doris_stream_load_total: the writer reports each LoadOutcome kind
 *  (sinker/writer/classify.ts) and its own `report('...')` outcomes (sinker/writer/writer.ts). */
function streamLoadOutcomes(): Set<string> {
  const src = (f: string) => readFileSync(join(CHART_DIR, '..', '..', 'sinker', 'writer', f), 'utf8');
  const union = /export type LoadOutcome =([\s\S]*?);\n/.exec(src('classify.ts'))?.[1] ?? '';
  const kinds = [...union.matchAll(/kind: '([a-z-]+)'/g)].map((m) => m[1]!);
  const reported = [...src('writer.ts').matchAll(/report\('([a-z-]+)'\)/g)].map((m) => m[1]!);
  assert.ok(src('writer.ts').includes('report(outcome.kind)'), 'the writer no longer reports the LoadOutcome kind');
  return new Set([...kinds, ...reported]);
}

test('Stream Load status regexes name only outcomes the sinker reports, and alert and dashboard agree on failure', () => {
  const outcomes = streamLoadOutcomes();
  assert.ok(outcomes.has('committed') && outcomes.has('transport') && outcomes.has('running'), [...outcomes].join());
  const failureSets: string[] = [];
  for (const { where, expr } of [...dashboardExprs(), ...alertExprs()]) {
    for (const m of expr.matchAll(/doris_stream_load_total\{[^}]*status(=~|!~|=|!=)\\?"([^"\\]*)\\?"/g)) {
      const named = m[2]!.split('|');
      const unknown = named.filter((s) => !outcomes.has(s));
      assert.deepEqual(unknown, [], `${where}: status values the sinker never reports`);
      if (m[1] === '=~') failureSets.push([...named].sort().join('|'));
    }
  }
  // Failed = neither a success (committed, precommitted, already-committed) nor "ask again" (running).
  const failed = [...outcomes].filter(
    (o) => !['committed', 'precommitted', 'already-committed', 'running'].includes(o),
  );
  assert.ok(failureSets.length >= 2, 'the alert and the success panel both select failures');
  for (const set of failureSets) assert.equal(set, failed.sort().join('|'));
});
