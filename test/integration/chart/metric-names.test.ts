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

/** Each registered metric's type and the label names its series can carry (the sinker's default `sink` too). */
function families(): Map<string, { type: string; labels: Set<string> }> {
  const sinker = createMetrics({ sink: 'names-test' });
  const operator = new OperatorMetrics();
  const out = new Map<string, { type: string; labels: Set<string> }>();
  const add = (registry: typeof operator.registry, extra: string[]) => {
    for (const m of registry.getMetricsAsArray() as unknown as { name: string; type: string; labelNames: string[] }[]) {
      const f = out.get(m.name) ?? { type: String(m.type), labels: new Set<string>() };
      for (const l of [...m.labelNames, ...extra]) f.labels.add(l);
      out.set(m.name, f);
    }
  };
  add(sinker.registry, ['sink']);
  add(operator.registry, []);
  return out;
}

/** Labels Prometheus attaches to every scraped series (PodMonitor / ServiceMonitor target labels). */
const TARGET_LABELS = ['namespace', 'pod', 'instance', 'job', 'container', 'endpoint', 'service'];
const RANGE_FUNCTIONS = new Set(['rate', 'irate', 'increase']);

/** Each metric an expression selects, with the functions it sits in (innermost last). */
export function metricUses(expr: string): { name: string; within: string[] }[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const stack: string[] = [];
  const uses: { name: string; within: string[] }[] = [];
  for (const m of stripped.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?|([()])/g)) {
    const [, name, call, paren] = m;
    if (paren === '(') stack.push('');
    else if (paren === ')') stack.pop();
    else if (name && call) stack.push(name);
    else if (name && !KEYWORDS.has(name.toLowerCase())) uses.push({ name, within: stack.filter(Boolean) });
  }
  return uses;
}

/** The label names an expression matches on or groups by. */
function labelsUsed(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const out: string[] = [];
  for (const [, body] of noStrings.matchAll(/\{([^}]*)\}/g)) {
    for (const part of body!.split(',')) {
      const l = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/.exec(part)?.[1];
      if (l) out.push(l);
    }
  }
  for (const [, , list] of noStrings.matchAll(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    out.push(
      ...list!
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    );
  }
  return out;
}

/** The argument text of each call of `fn` in `expr` (balanced parentheses). */
function callArguments(expr: string, fn: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(new RegExp(`\\b${fn}\\s*\\(`, 'g'))) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < expr.length && depth > 0; i++) {
      if (expr[i] === '(') depth++;
      else if (expr[i] === ')') depth--;
    }
    out.push(expr.slice(start, i - 1));
  }
  return out;
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

test('the type checks read PromQL as intended', () => {
  assert.deepEqual(metricUses('sum by (sink) (rate(a_total{x="(y)"}[5m])) / sum(g) and on (sink) vector(0)'), [
    { name: 'a_total', within: ['sum', 'rate'] },
    { name: 'g', within: ['sum'] },
  ]);
  assert.deepEqual(labelsUsed('max by (namespace, pod) (m{sink!="",status=~"a|b"}) and on (instance) n'), [
    'sink',
    'status',
    'namespace',
    'pod',
    'instance',
  ]);
  assert.deepEqual(
    callArguments('1 - histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m]))) > 2', 'histogram_quantile'),
    ['0.9, sum by (le) (rate(h_bucket[5m]))'],
  );
});

test('dashboards and alerts use each metric as its type allows and only labels its series carry', () => {
  const fams = families();
  const problems: string[] = [];
  const base = (name: string) => {
    const m = /^(.*)_(bucket|sum|count)$/.exec(name);
    return m?.[1] && ['histogram', 'summary'].includes(fams.get(m[1])?.type ?? '') ? m[1] : name;
  };
  // A variable's label_values() only lists series; what it must select is taken up below.
  const queries = [...dashboardExprs().filter((e) => !e.where.includes(': variable ')), ...alertExprs()];
  assert.ok(queries.length > 40, `only ${queries.length} expressions found`);
  for (const { where, expr } of queries) {
    const uses = metricUses(expr);
    for (const { name, within } of uses) {
      const fam = fams.get(base(name));
      if (!fam) continue; // unknown names are the test above's business
      const ranged = RANGE_FUNCTIONS.has(within.at(-1) ?? '');
      // A counter (or a histogram's buckets, sum and count) only means something as a rate or an
      // increase: its raw value restarts with the process. A gauge's rate() is meaningless.
      const cumulative = fam.type === 'counter' || base(name) !== name;
      if (cumulative && !ranged) problems.push(`${where}: ${name} (${fam.type}) outside rate()/increase()`);
      if (!cumulative && ranged) problems.push(`${where}: ${within.at(-1)}() of ${name}, a ${fam.type}`);
      if (base(name) === name && fam.type === 'histogram')
        problems.push(`${where}: ${name} is a histogram: select _bucket`);
    }
    for (const arg of callArguments(expr, 'histogram_quantile')) {
      if (!/_bucket\b/.test(arg)) problems.push(`${where}: histogram_quantile over no _bucket series`);
      if (/\b(sum|max|min|avg)\b/.test(arg) && !/\bby\s*\([^)]*\ble\b/.test(arg)) {
        problems.push(`${where}: histogram_quantile over an aggregation that drops le`);
      }
    }
    const known = new Set([...TARGET_LABELS, ...uses.flatMap((u) => [...(fams.get(base(u.name))?.labels ?? [])])]);
    if (uses.some((u) => u.name.endsWith('_bucket'))) known.add('le');
    for (const l of labelsUsed(expr)) if (!known.has(l)) problems.push(`${where}: label ${l} is on none of its series`);
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});

test("a dashboard's sink list is read from a metric every sinker exposes from its start", () => {
  // A labelled metric (kafka_messages_consumed_total{topic}) has no series until first used, so a
  // sinker stuck before its first fetch, the one to look at, would be missing from the list.
  const fams = families();
  const vars = dashboardExprs().filter((e) => e.where.endsWith(': variable sink'));
  assert.ok(vars.length >= 1, 'no dashboard lists sinks');
  for (const { where, expr } of vars) {
    const fam = fams.get(expr.trim());
    assert.ok(fam, `${where}: ${expr} is not registered`);
    const own = [...fam.labels].filter((l) => l !== 'sink');
    assert.deepEqual(own, [], `${where}: ${expr} has labels of its own (${own.join(', ')}): no series until first set`);
  }
});

/** What a dashboard query measures, from its metrics' names: bytes, time, or a plain number. */
function measures(expr: string): 'bytes' | 'seconds' | 'number' {
  // count(...) counts series, whatever they hold.
  if (/^\s*count\b/.test(expr)) return 'number';
  // `a and on (...) b` keeps a's values: b only selects.
  const uses = metricUses(expr.split(/\s(?:and|unless)\s/)[0]!);
  if (uses.length > 0 && uses.every((u) => /(^|_)bytes(_|$)/.test(u.name))) return 'bytes';
  // Seconds held (a gauge, a latency quantile); a rate of a seconds counter (CPU) is seconds per second.
  const time = (u: { name: string; within: string[] }) =>
    /_seconds(_|$)/.test(u.name) &&
    !(u.name.endsWith('_seconds_total') && u.within.some((f) => RANGE_FUNCTIONS.has(f)));
  if (uses.length > 0 && uses.every(time)) return 'seconds';
  return 'number';
}

const UNITS: Record<string, 'bytes' | 'seconds'> = {
  bytes: 'bytes',
  decbytes: 'bytes',
  Bps: 'bytes',
  binBps: 'bytes',
  decBps: 'bytes',
  s: 'seconds',
  ms: 'seconds',
  dtdurations: 'seconds',
};

test('each dashboard series is shown in a unit that fits what it measures (bytes, seconds, or a number)', () => {
  const dir = join(CHART_DIR, 'files', 'dashboards');
  const problems: string[] = [];
  let checked = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      panels: {
        title: string;
        targets?: { expr: string; refId: string }[];
        fieldConfig?: {
          defaults?: { unit?: string };
          overrides?: { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] }[];
        };
      }[];
    };
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        const override = p.fieldConfig?.overrides?.find(
          (o) => o.matcher.id === 'byFrameRefID' && o.matcher.options === t.refId,
        );
        const unit = String(
          override?.properties.find((x) => x.id === 'unit')?.value ?? p.fieldConfig?.defaults?.unit ?? 'short',
        );
        // A rate of bytes is still bytes (per second): Bps.
        const shown = UNITS[unit] ?? 'number';
        const want = measures(t.expr);
        checked++;
        if (shown !== want)
          problems.push(`${file}: "${p.title}" ${t.refId} (${t.expr}) measures ${want}, shown in ${unit}`);
      }
    }
  }
  assert.ok(checked > 40, `only ${checked} series checked`);
  assert.deepEqual(problems, [], problems.join('\n'));
});

test("per-sink panels follow the dashboard's variable (the sinks or the namespaces picked)", () => {
  const dir = join(CHART_DIR, 'files', 'dashboards');
  const problems: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; type: string }[] };
    };
    const vars = dash.templating.list.filter((v) => v.type === 'query').map((v) => v.name);
    assert.ok(vars.length > 0, `${file}: no query variable`);
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        // A series per sink (grouped by sink or by the variable's label) must be filtered by it.
        const grouped =
          /\bby\s*\(([^)]*)\)/
            .exec(t.expr)?.[1]
            ?.split(',')
            .map((l) => l.trim()) ?? [];
        const perSink = grouped.includes('sink') || vars.some((v) => grouped.includes(v));
        if (perSink && !vars.every((v) => t.expr.includes(`$${v}`))) problems.push(`${file}: "${p.title}": ${t.expr}`);
      }
    }
  }
  assert.deepEqual(problems, [], `per-sink series that ignore the dashboard's variable:\n${problems.join('\n')}`);
});
