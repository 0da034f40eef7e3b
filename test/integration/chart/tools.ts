// Shared helpers of the chart tests: the chart's paths, and helm / kubectl / promtool run against the
// test bed (binaries and kubeconfig from its env file).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { testbed, testbedEnv } from '../../support/testbed.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CHART_DIR = join(ROOT, 'charts', 'doris-sinker-operator');

export interface Cmd {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(bin: string, args: string[], input?: string, timeoutMs = 120_000): Cmd {
  const r = spawnSync(bin, args, { input, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${bin} ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the command and throws (with its output) unless it exits 0. */
export function mustRun(bin: string, args: string[], input?: string, timeoutMs?: number): string {
  const r = run(bin, args, input, timeoutMs);
  if (r.status !== 0) {
    throw new Error(`${bin} ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout.slice(0, 4000)}`);
  }
  return r.stdout;
}

export function helm(args: string[], input?: string): Cmd {
  return run(testbed('HELM'), ['--kubeconfig', testbed('KUBECONFIG'), ...args], input, 180_000);
}

export function kubectl(args: string[], input?: string): Cmd {
  return run(testbed('KUBECTL'), ['--kubeconfig', testbed('KUBECONFIG'), ...args], input);
}

/** The apiserver's version, for `helm template --kube-version` (helm's offline default is ancient). */
export function kubeVersion(): string {
  const fromEnv = testbedEnv().K8S_VERSION;
  if (fromEnv) return fromEnv.replace(/^v/, '');
  const out = kubectl(['version', '-o', 'json']);
  if (out.status !== 0) throw new Error(`kubectl version: ${out.stderr}`);
  return (JSON.parse(out.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion.replace(
    /^v/,
    '',
  );
}

/** promtool from the env file (PROMTOOL) or where test/infra/install-promtool.sh puts it. */
export function promtool(): string {
  let fromEnv: string | undefined;
  try {
    fromEnv = testbedEnv().PROMTOOL;
  } catch {
    // No test bed needed for promtool: fall back to the cache.
  }
  const cache = process.env.DORIS_SINKER_CACHE ?? join(homedir(), '.cache', 'doris-sinker');
  const path = fromEnv ?? process.env.PROMTOOL ?? join(cache, 'bin', 'promtool');
  if (!existsSync(path)) throw new Error(`promtool not found at ${path}: run test/infra/install-promtool.sh`);
  return path;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked field by field in tests
  [key: string]: any;
}

/** `helm template` of the chart (or of `chartDir`), parsed; throws with helm's message on failure. */
export function renderChart(
  opts: { set?: string[]; apiVersions?: string[]; namespace?: string; chartDir?: string; release?: string } = {},
): K8sObject[] {
  const args = ['template', opts.release ?? 'rel', opts.chartDir ?? CHART_DIR, '--namespace', opts.namespace ?? 'dso'];
  args.push('--kube-version', kubeVersion());
  for (const s of opts.set ?? []) args.push('--set', s);
  for (const a of opts.apiVersions ?? []) args.push('--api-versions', a);
  const r = helm(args);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && typeof o === 'object' && 'kind' in o);
}

export function find(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in: ${objs.map((x) => x.kind).join(', ')}`);
  return o;
}
