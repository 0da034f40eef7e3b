// The chart's alert rules (files/alerts.yaml) through promtool: they parse, and the cases of
// alerts.test.yaml pass — every alert has a case where it fires and one where it stays silent.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CHART_DIR, promtool, run } from './tools.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const RULES = join(CHART_DIR, 'files', 'alerts.yaml');
const CASES = join(HERE, 'alerts.test.yaml');

interface RuleFile {
  groups: { name: string; rules: { alert?: string; expr: string; for?: string }[] }[];
}
interface Cases {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

test('promtool check rules accepts files/alerts.yaml', () => {
  const r = run(promtool(), ['check', 'rules', RULES]);
  assert.equal(r.status, 0, `promtool check rules:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});

test('promtool test rules: every alert fires on its synthetic series and only then', () => {
  // promtool resolves rule_files relative to the test file.
  const cases = parse(readFileSync(CASES, 'utf8')) as Cases;
  assert.deepEqual(
    cases.rule_files.map((f) => join(HERE, f)),
    [RULES],
  );
  const r = run(promtool(), ['test', 'rules', CASES]);
  assert.equal(r.status, 0, `promtool test rules:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /SUCCESS/);
});

test('each alert has a firing case and a silent case', () => {
  const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  const cases = parse(readFileSync(CASES, 'utf8')) as Cases;
  const checks = cases.tests.flatMap((t) => t.alert_rule_test ?? []);
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert).filter((a): a is string => Boolean(a)));
  assert.ok(alerts.length >= 10, `only ${alerts.length} alerts`);
  for (const alert of alerts) {
    const mine = checks.filter((c) => c.alertname === alert);
    assert.ok(
      mine.some((c) => c.exp_alerts.length > 0),
      `${alert} has no case where it fires`,
    );
    assert.ok(
      mine.some((c) => c.exp_alerts.length === 0),
      `${alert} has no case where it stays silent`,
    );
  }
  // The seed's four: lag, Stream Load failure rate, flush latency, memory.
  for (const seed of [
    'DorisSinkerConsumerLagHigh',
    'DorisSinkerStreamLoadFailureRateHigh',
    'DorisSinkerFlushLatencyHigh',
    'DorisSinkerMemoryHigh',
  ]) {
    assert.ok(alerts.includes(seed), `missing ${seed}`);
  }
});
