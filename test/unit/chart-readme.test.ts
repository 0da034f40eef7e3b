// charts/doris-sinker-operator/README.md is what someone installing the chart reads first: its alert
// table and the metric names it quotes are read back here from alerts.yaml and the registries, so an
// alert added to the chart (DorisSinkerLoadBlocked and DorisSinkerStateStale were missing from the
// table) or a metric quoted by a shortened name (`sink_lag` for doris_sinker_operator_sink_lag: a
// PromQL query by it finds nothing) fails here. No servers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { OperatorMetrics } from '../../operator/controller/metrics.ts';
import { DEMO } from '../../scripts/demo/names.ts';
import { createMetrics } from '../../sinker/metrics.ts';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
const README_PATH = 'charts/doris-sinker-operator/README.md';
const README = read(README_PATH);

/** The first cell of each row of the table whose header starts with `first`. */
function firstColumn(md: string, first: string): string[] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^\\|\\s*${first}\\s*\\|`).test(l));
  assert.ok(start >= 0, `${README_PATH} has no table headed "${first}"`);
  const rows: string[] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(lines[i]!.split('|')[1]!.trim());
  }
  return rows;
}

/** "DorisSinkerConsumerLagHigh / Critical" names DorisSinkerConsumerLagHigh and DorisSinkerConsumerLagCritical. */
function alertNames(cell: string): string[] {
  const [first, ...others] = cell.split('/').map((p) => p.trim());
  return [first!, ...others.map((o) => first!.replace(/[A-Z][a-z]+$/, o))];
}

test("the chart README's alert table lists every alert of alerts.yaml, and only those", () => {
  const rules = parse(read('charts/doris-sinker-operator/files/alerts.yaml')) as {
    groups: { rules: { alert?: string }[] }[];
  };
  const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
  assert.ok(alerts.length >= 10);
  const listed = firstColumn(README, 'alert').flatMap(alertNames);
  assert.deepEqual(
    alerts.filter((a) => !listed.includes(a)),
    [],
    `${README_PATH}: alerts the table leaves out`,
  );
  assert.deepEqual(
    listed.filter((a) => !alerts.includes(a)),
    [],
    `${README_PATH}: alerts in the table that alerts.yaml lacks`,
  );
});

test('every metric the chart README quotes is one the sinker or the operator exports, by its full name', () => {
  const names = new Set(
    [createMetrics({ sink: 'doc' }).registry, new OperatorMetrics().registry].flatMap((r) =>
      r.getMetricsAsArray().map((m) => (m as { name: string }).name),
    ),
  );
  const prose = README.replace(/^```[\s\S]*?^```/gm, '');
  const spans = [...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\s*\n\s*/g, ' '));
  const problems: string[] = [];
  let found = 0;
  for (const span of spans) {
    const name = /^([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?:\{[^}]*\})?$/.exec(span)?.[1];
    if (!name) continue;
    if (names.has(name)) found++;
    else if (names.has(`doris_sinker_operator_${name}`)) problems.push(`${span}: doris_sinker_operator_${name}`);
  }
  assert.deepEqual(problems, [], `${README_PATH} quotes metrics by a shortened name`);
  assert.ok(found >= 3, `only ${found} metrics found: is the pattern still right?`);
});

test('the documented installs and the demo name the release so that object names hold "doris-sinker" once', () => {
  // The chart appends its name to a release name that lacks it (dso.fullname; names.test.ts renders
  // it): a release `doris-sinker` gave `doris-sinker-doris-sinker-operator` Deployments, Services, Roles.
  const chart = 'doris-sinker-operator';
  const fullname = (release: string) => (release.includes(chart) ? release : `${release}-${chart}`);
  const docs = ['README.md', README_PATH, 'operator/README.md', 'docs/operations.md', 'docs/e2e.md'];
  const releases: string[] = [`${DEMO.release} (scripts/demo/names.ts)`];
  for (const doc of docs) {
    const text = read(doc).replace(/\s*\n\s*/g, ' ');
    for (const m of text.matchAll(/helm (?:install|upgrade --install) (\S+) \S*charts\/doris-sinker-operator\b/g))
      releases.push(`${m[1]} (${doc})`);
  }
  const skaffold = parse(read('skaffold.yaml')) as { deploy: { helm: { releases: { name: string }[] } } };
  for (const r of skaffold.deploy.helm.releases) releases.push(`${r.name} (skaffold.yaml)`);
  assert.ok(releases.length >= 5, `only ${releases.length} installs found: is the pattern still right?`);
  const doubled = releases.filter((r) => fullname(r.split(' ')[0] as string).split('doris-sinker').length > 2);
  assert.deepEqual(doubled, [], 'releases whose objects repeat "doris-sinker"');
});
