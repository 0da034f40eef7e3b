// The whole local stack as a user drives it, for the e2e test and the demo: the chart installed with
// helm (the operator as a pod of its own image on the test bed's real node), a DorisSink and its
// Secrets applied with kubectl, and the Kafka topic, Doris table and MariaDB rows around it.
// Everything runs against the test bed (`test/infra/up`, including the `node` part); the operator and
// the sinkers use host networking there (no kube-proxy; Kafka and the emulator listen on 127.0.0.1).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import mysql from 'mysql2/promise';
import type { DorisSink } from '../../operator/api/types.ts';
import { createTopicAndWait } from '../support/kafka-topic.ts';
import { produceValues as produceTo } from '../support/produce.ts';
import { freePort } from '../support/sinker-process.ts';
import { testbed, testbedEnv } from '../support/testbed.ts';
import { waitFor as waitUntil } from '../support/wait-for.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART_DIR = join(ROOT, 'charts', 'doris-sinker-operator');
export const CRD_NAME = 'dorissinks.dorissinker.io';
/** Images the test bed builds from Dockerfile.operator / Dockerfile.sinker (test/integration/images). */
export const DEFAULT_OPERATOR_IMAGE = 'localhost/doris-sinker-operator:it';
export const DEFAULT_SINKER_IMAGE = 'localhost/doris-sinker:it';

// ---- commands -------------------------------------------------------------------------------------

export interface Cmd {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; resolves with its exit status and output (never rejects on exit ≠ 0). */
export function run(bin: string, args: string[], input?: string, timeoutMs = 120_000): Promise<Cmd> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        if (err && typeof code !== 'number') reject(new Error(`${bin} ${args.join(' ')}: ${err.message}`));
        else resolve({ status: typeof code === 'number' ? code : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function must(p: Promise<Cmd>, what: string): Promise<string> {
  const r = await p;
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stderr}${r.stdout.slice(0, 4000)}`);
  return r.stdout;
}

/** kubectl against the test bed's apiserver (admin kubeconfig). */
export function kubectl(args: string[], input?: string): Promise<Cmd> {
  return run(testbed('KUBECTL'), ['--kubeconfig', testbed('KUBECONFIG'), ...args], input);
}

/** kubectl that throws with its output unless it exits 0; resolves with stdout. */
export function mustKubectl(args: string[], input?: string): Promise<string> {
  return must(kubectl(args, input), `kubectl ${args.join(' ')}`);
}

/** helm against the test bed's apiserver. */
export function helm(args: string[], timeoutMs = 300_000): Promise<Cmd> {
  return run(testbed('HELM'), ['--kubeconfig', testbed('KUBECONFIG'), ...args], undefined, timeoutMs);
}

/** Polls `fn` until it returns something other than undefined/false; throws naming `what` on timeout. */
export function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  return waitUntil(what, fn, timeoutMs, intervalMs);
}

/** A short random suffix for names that must not collide with other runs on the shared test bed. */
export function uniqueId(): string {
  return randomBytes(3).toString('hex');
}

// ---- the operator, installed with the chart ----------------------------------------------------------

export interface OperatorOptions {
  /**
   * Helm release name. The chart names the operator's Deployment `<release>-doris-sinker-operator`, or
   * the release name alone when it holds the chart's name (`doris-sinker-operator`, as the demo installs).
   */
  release: string;
  /** Namespace of the release; created if missing. */
  namespace: string;
  /** Namespaces the operator watches. Default: [namespace]. Never all: other runs share the apiserver. */
  watchNamespaces?: string[];
  operatorImage?: string;
  sinkerImage?: string;
  /** The operator's /metrics, /healthz, /readyz port on the host (hostNetwork). Default: a free port. */
  httpPort?: number;
  logLevel?: string;
  /** Extra `--set` values, e.g. { 'replicaCount': '1' }. */
  set?: Record<string, string>;
  /** How long to wait for the operator pod to be Ready. Default 120 s. */
  timeoutMs?: number;
}

export interface Operator {
  release: string;
  namespace: string;
  deployment: string;
  httpPort: number;
  operatorImage: string;
  sinkerImage: string;
  /** The operator's pod once Ready. */
  pod: string;
}

function splitImage(image: string): { repository: string; tag: string } {
  const at = image.lastIndexOf(':');
  if (at <= image.lastIndexOf('/')) return { repository: image, tag: 'latest' };
  return { repository: image.slice(0, at), tag: image.slice(at + 1) };
}

/**
 * Marks the shared DorisSink CRD as owned by this release when it exists without (or with other)
 * Helm ownership — e.g. applied with kubectl by the operator tests — so `crds.install=true` can adopt
 * it (charts/doris-sinker-operator/README.md, "adopting a CRD").
 */
export async function adoptCrd(release: string, namespace: string): Promise<void> {
  const r = await kubectl(['get', 'crd', CRD_NAME, '-o', 'name']);
  if (r.status !== 0) return;
  await mustKubectl(['label', 'crd', CRD_NAME, 'app.kubernetes.io/managed-by=Helm', '--overwrite']);
  await mustKubectl([
    'annotate',
    'crd',
    CRD_NAME,
    `meta.helm.sh/release-name=${release}`,
    `meta.helm.sh/release-namespace=${namespace}`,
    '--overwrite',
  ]);
}

/** Runs `fn` holding a per-test-bed lock file (stale when its holder's pid is gone). */
async function withHelmLock<T>(fn: () => Promise<T>): Promise<T> {
  const port = new URL(testbed('KUBE_APISERVER')).port;
  const path = join(tmpdir(), `doris-sinker-helm-${port}.lock`);
  const end = Date.now() + 300_000;
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let alive = false;
      try {
        const text = readFileSync(path, 'utf8').trim();
        const holder = Number(text);
        // Empty: its holder is between creating and writing it.
        if (text === '' || holder > 0) {
          if (text !== '') process.kill(holder, 0);
          alive = true;
        }
      } catch {}
      if (!alive) rmSync(path, { force: true });
      else if (Date.now() > end) throw new Error(`${path}: held by another helm install for 5 min`);
      else await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

/**
 * `helm upgrade --install` of charts/doris-sinker-operator: the operator as a hostNetwork pod from its
 * own image (imagePullPolicy Never: images come from test/infra/load-image), under the chart's
 * ServiceAccount and RBAC, talking to the apiserver at 127.0.0.1. Resolves once the Deployment is rolled
 * out (every replica updated and available) with the name of a Ready pod.
 */
export async function installOperator(opts: OperatorOptions): Promise<Operator> {
  const operatorImage = opts.operatorImage ?? DEFAULT_OPERATOR_IMAGE;
  const sinkerImage = opts.sinkerImage ?? DEFAULT_SINKER_IMAGE;
  const httpPort = opts.httpPort ?? (await freePort());
  const apiserver = new URL(testbed('KUBE_APISERVER'));
  const op = splitImage(operatorImage);
  const sk = splitImage(sinkerImage);
  const watch = opts.watchNamespaces ?? [opts.namespace];
  await ensureNamespace(opts.namespace);
  for (const ns of watch) await ensureNamespace(ns);
  const values = {
    image: { repository: op.repository, tag: op.tag, pullPolicy: 'Never' },
    sinkerImage: { repository: sk.repository, tag: sk.tag },
    hostNetwork: true,
    httpPort,
    metrics: { service: { port: httpPort } },
    logLevel: opts.logLevel ?? 'info',
    watchNamespaces: watch,
    extraEnv: [
      { name: 'KUBERNETES_SERVICE_HOST', value: apiserver.hostname },
      { name: 'KUBERNETES_SERVICE_PORT', value: apiserver.port || '443' },
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'dso-e2e-'));
  const valuesFile = join(dir, 'values.json');
  writeFileSync(valuesFile, JSON.stringify(values));
  const args = ['upgrade', '--install', opts.release, CHART_DIR, '-n', opts.namespace, '-f', valuesFile];
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push('--set', `${k}=${v}`);
  try {
    // Adopting the shared CRD and installing must not interleave with another release doing the
    // same (the demo beside the e2e test): one at a time per test bed, and once more if a process
    // that doesn't take the lock re-annotated the CRD in between.
    await withHelmLock(async () => {
      for (let attempt = 1; ; attempt++) {
        await adoptCrd(opts.release, opts.namespace);
        const r = await helm(args);
        if (r.status === 0) return;
        const raced = /CustomResourceDefinition .* cannot be imported into the current release/.test(r.stderr);
        if (!raced || attempt >= 3)
          throw new Error(`helm ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The release's own manifest names the Deployment: the chart decides whether the release name gets
  // the chart's name appended (`e2e-1a2b3c-doris-sinker-operator`) or not (`doris-sinker-operator`).
  const deployment = (await releaseObjects(opts)).find((o) => o.kind === 'Deployment')?.name;
  if (!deployment) throw new Error(`helm release ${opts.namespace}/${opts.release} holds no Deployment`);
  const pod = await waitFor(
    `operator pod of ${opts.namespace}/${deployment} Ready`,
    async () => {
      // After an upgrade that changed the pod template, an old pod may still be the ready one.
      const d = JSON.parse(
        await mustKubectl(['-n', opts.namespace, 'get', 'deployment', deployment, '-o', 'json']),
      ) as {
        metadata: { generation: number };
        spec: { replicas: number };
        status: {
          observedGeneration?: number;
          updatedReplicas?: number;
          availableReplicas?: number;
          replicas?: number;
        };
      };
      const st = d.status;
      const rolledOut =
        st.observedGeneration === d.metadata.generation &&
        st.updatedReplicas === d.spec.replicas &&
        st.availableReplicas === d.spec.replicas &&
        st.replicas === d.spec.replicas;
      if (!rolledOut) throw new Error(`rollout: ${JSON.stringify(st)}`);
      const pods = await listPods(opts.namespace, `app.kubernetes.io/instance=${opts.release}`);
      return pods.find((p) => p.ready && !p.deleting)?.name;
    },
    opts.timeoutMs ?? 120_000,
  ).catch(async (err: Error) => {
    const describe = await kubectl([
      '-n',
      opts.namespace,
      'describe',
      'pods',
      '-l',
      `app.kubernetes.io/instance=${opts.release}`,
    ]);
    throw new Error(`${err.message}\n${describe.stdout.slice(-3000)}`);
  });
  return { release: opts.release, namespace: opts.namespace, deployment, httpPort, operatorImage, sinkerImage, pod };
}

/** The manifest of the release (what `helm get manifest` prints), as kind/namespace/name triples. */
export async function releaseObjects(
  op: Pick<Operator, 'release' | 'namespace'>,
): Promise<{ kind: string; namespace?: string; name: string }[]> {
  const text = await must(helm(['get', 'manifest', op.release, '-n', op.namespace]), 'helm get manifest');
  const out: { kind: string; namespace?: string; name: string }[] = [];
  for (const doc of text.split(/^---$/m)) {
    const kind = /^kind: (\S+)/m.exec(doc)?.[1];
    const name = /^ {2}name: (\S+)/m.exec(doc)?.[1];
    const ns = /^ {2}namespace: (\S+)/m.exec(doc)?.[1];
    if (kind && name) out.push({ kind, name: name.replace(/^"|"$/g, ''), ...(ns ? { namespace: ns } : {}) });
  }
  return out;
}

/** `helm uninstall`, waiting until the release's resources are deleted. */
export async function uninstallOperator(op: Pick<Operator, 'release' | 'namespace'>): Promise<void> {
  await must(helm(['uninstall', op.release, '-n', op.namespace, '--wait', '--timeout', '120s']), 'helm uninstall');
}

// ---- namespaces, pods ---------------------------------------------------------------------------------

/** Creates the namespace unless it exists. */
export async function ensureNamespace(name: string): Promise<void> {
  if ((await kubectl(['get', 'namespace', name, '-o', 'name'])).status === 0) return;
  await mustKubectl(['create', 'namespace', name]);
}

/** Deletes the namespace (and everything in it) without waiting. */
export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--ignore-not-found', '--wait=false']);
}

export interface PodInfo {
  name: string;
  phase: string;
  ready: boolean;
  deleting: boolean;
  restarts: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Pods matching a label selector, with readiness and restart counts. */
export async function listPods(namespace: string, selector: string): Promise<PodInfo[]> {
  const out = await mustKubectl(['-n', namespace, 'get', 'pods', '-l', selector, '-o', 'json']);
  const list = JSON.parse(out) as {
    items: {
      metadata: {
        name: string;
        deletionTimestamp?: string;
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
      };
      status?: {
        phase?: string;
        conditions?: { type: string; status: string }[];
        containerStatuses?: { restartCount: number }[];
      };
    }[];
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    phase: p.status?.phase ?? 'Unknown',
    ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    deleting: Boolean(p.metadata.deletionTimestamp),
    restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
    labels: p.metadata.labels ?? {},
    annotations: p.metadata.annotations ?? {},
  }));
}

/** Label selector of a sink's pods (operator/desired/names.ts). */
export function sinkSelector(sink: string): string {
  return `app.kubernetes.io/name=doris-sinker,dorissinker.io/sink=${sink}`;
}

// ---- the sink: Secrets + DorisSink --------------------------------------------------------------------

export interface SinkOptions {
  name: string;
  namespace: string;
  topic: string;
  /** Table in the emulator's test_db (create it with createTable). */
  table: string;
  database?: string;
  /** Consumer group (default: the operator's doris-sinker.<namespace>.<name>). */
  groupId?: string;
  /** Redis key prefix (default: the operator's doris-sinker:<namespace>:<name>). */
  keyPrefix?: string;
  /** Kafka topic of the dead-letter queue (none if unset). */
  dlqTopic?: string;
  minReplicas?: number;
  maxReplicas?: number;
  lagPerReplica?: number;
  activationLag?: number;
  /** e.g. "10s" (the operator's default is 5m). */
  scaleDownStabilization?: string;
  /** How often the operator reads lag, e.g. "2s". */
  pollInterval?: string;
  /** How often the operator runs DESCRIBE, e.g. "3s". */
  schemaRefreshInterval?: string;
  maxBatchRows?: number;
  maxBatchInterval?: string;
  /** Sinker image; default: the operator's --sinker-image. */
  image?: string;
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

/** Names of the two Secrets a sink references. */
export function secretNames(sink: string): { doris: string; redis: string } {
  return { doris: `${sink}-doris`, redis: `${sink}-redis` };
}

/** The DorisSink for the test bed: host networking, images never pulled, addresses from the env file. */
export function sinkManifest(o: SinkOptions): DorisSink {
  const secrets = secretNames(o.name);
  const queryPort = testbed('DORIS_QUERY').split(':')[1];
  return {
    apiVersion: 'dorissinker.io/v1alpha1',
    kind: 'DorisSink',
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      kafka: {
        brokers: testbed('KAFKA_BOOTSTRAP').split(','),
        topic: o.topic,
        fromEarliest: true,
        ...(o.groupId ? { groupId: o.groupId } : {}),
        sessionTimeout: '10s',
        heartbeatInterval: '1s',
      },
      doris: {
        feHosts: [testbed('DORIS_FE_HTTP')],
        queryPort: Number(queryPort),
        database: o.database ?? `${testbedEnv().DORIS_EMULATOR_DB_PREFIX ?? ''}test_db`,
        table: o.table,
        user: testbed('DORIS_USER'),
        passwordSecretRef: { name: secrets.doris, key: 'password' },
      },
      batch: { maxBatchRows: o.maxBatchRows ?? 5000, maxBatchInterval: o.maxBatchInterval ?? '1s' },
      schema: { mode: 'auto', refreshInterval: o.schemaRefreshInterval ?? '5s' },
      dedupe: {
        redisUrlSecretRef: { name: secrets.redis, key: 'url' },
        ...(o.keyPrefix ? { keyPrefix: o.keyPrefix } : {}),
      },
      ...(o.dlqTopic ? { dlq: { kafkaTopic: o.dlqTopic } } : {}),
      scaling: {
        mode: 'builtin',
        minReplicas: o.minReplicas ?? 1,
        maxReplicas: o.maxReplicas ?? 4,
        lagPerReplica: o.lagPerReplica ?? 50_000,
        ...(o.activationLag !== undefined ? { activationLag: o.activationLag } : {}),
        scaleDownStabilization: o.scaleDownStabilization ?? '30s',
        pollInterval: o.pollInterval ?? '2s',
      },
      ...(o.image ? { image: o.image } : {}),
      imagePullPolicy: 'Never',
      logging: { level: o.logLevel ?? 'info' },
      ...(o.resources ? { resources: o.resources } : {}),
      podTemplate: { hostNetwork: true },
    },
  } as DorisSink;
}

/** Creates (or updates) the sink's Secrets: the Doris password and the Redis URL of the test bed. */
export async function applySinkSecrets(namespace: string, sink: string): Promise<void> {
  const s = secretNames(sink);
  const secret = (name: string, key: string, value: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'Opaque',
    stringData: { [key]: value },
  });
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      secret(s.doris, 'password', testbedEnv().DORIS_PASSWORD ?? ''),
      secret(s.redis, 'url', testbed('REDIS_URL')),
    ],
  };
  await mustKubectl(['apply', '-f', '-'], JSON.stringify(list));
}

/** `kubectl apply` of the sink's Secrets and the DorisSink; resolves with the manifest applied. */
export async function applySink(o: SinkOptions): Promise<DorisSink> {
  await ensureNamespace(o.namespace);
  await applySinkSecrets(o.namespace, o.name);
  const manifest = sinkManifest(o);
  await mustKubectl(['apply', '-f', '-'], JSON.stringify(manifest));
  return manifest;
}

/** The DorisSink as the apiserver has it (spec + status). */
export async function getSink(namespace: string, name: string): Promise<DorisSink> {
  return JSON.parse(await mustKubectl(['-n', namespace, 'get', CRD_NAME, name, '-o', 'json'])) as DorisSink;
}

/** `kubectl get dorissinks NAME` (default or `-o wide` columns) parsed into header → value. */
export async function printedColumns(namespace: string, name: string, wide = false): Promise<Record<string, string>> {
  const out = await mustKubectl(['-n', namespace, 'get', CRD_NAME, name, ...(wide ? ['-o', 'wide'] : [])]);
  const [head, row] = out.trimEnd().split('\n');
  if (!head || !row) throw new Error(`kubectl get dorissinks printed:\n${out}`);
  // Columns are separated by 2+ spaces; values here never contain two spaces in a row.
  const starts = [...head.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ key: m[0], at: m.index ?? 0 }));
  const cols: Record<string, string> = {};
  starts.forEach((c, i) => {
    cols[c.key] = row.slice(c.at, starts[i + 1]?.at ?? row.length).trim();
  });
  return cols;
}

type Condition = { type: string; status: string; reason?: string; message?: string };

/** Waits until the sink's Ready condition is True; resolves with the sink. */
export async function waitSinkReady(namespace: string, name: string, timeoutMs = 120_000): Promise<DorisSink> {
  return waitFor(
    `DorisSink ${namespace}/${name} Ready=True`,
    async () => {
      const s = await getSink(namespace, name);
      const conds = ((s.status as { conditions?: Condition[] } | undefined)?.conditions ?? []) as Condition[];
      const ready = conds.find((c) => c.type === 'Ready');
      if (ready?.status === 'True') return s;
      throw new Error(`Ready=${ready?.status ?? 'absent'} ${ready?.reason ?? ''} ${ready?.message ?? ''}`);
    },
    timeoutMs,
  );
}

/** Waits until `pred` holds for the sink's status; resolves with the sink. */
export async function waitSinkStatus(
  namespace: string,
  name: string,
  what: string,
  pred: (status: NonNullable<DorisSink['status']>) => boolean,
  timeoutMs = 120_000,
): Promise<DorisSink> {
  return waitFor(
    `DorisSink ${namespace}/${name}: ${what}`,
    async () => {
      const s = await getSink(namespace, name);
      if (s.status && pred(s.status)) return s;
      throw new Error(`status ${JSON.stringify({ ...s.status, conditions: undefined })}`);
    },
    timeoutMs,
  );
}

/** Waits until exactly `n` of the sink's pods are Ready (none terminating); resolves with them. */
export async function waitReadyPods(
  namespace: string,
  sink: string,
  n: number,
  timeoutMs = 120_000,
): Promise<PodInfo[]> {
  return waitFor(
    `${n} ready pods of ${namespace}/${sink}`,
    async () => {
      const pods = await listPods(namespace, sinkSelector(sink));
      const live = pods.filter((p) => !p.deleting);
      if (live.length === n && live.every((p) => p.ready) && pods.length === n) return live;
      throw new Error(
        pods.map((p) => `${p.name} ${p.phase}${p.ready ? ' ready' : ''}${p.deleting ? ' deleting' : ''}`).join(', '),
      );
    },
    timeoutMs,
    1000,
  );
}

/** `kubectl delete` the DorisSink (its children go by garbage collection). */
export async function deleteSink(namespace: string, name: string): Promise<void> {
  await mustKubectl(['-n', namespace, 'delete', CRD_NAME, name, '--ignore-not-found', '--wait=true']);
}

// ---- Kafka, the emulator's table, MariaDB, Redis ---------------------------------------------------------

function kafka(): Kafka {
  return new Kafka({ brokers: testbed('KAFKA_BOOTSTRAP').split(','), logLevel: logLevel.NOTHING, clientId: 'e2e' });
}

/** Creates a topic on the test bed's Kafka. */
export async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    await createTopicAndWait(admin, topic, partitions);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes topics and consumer groups, ignoring ones that are gone. */
export async function deleteKafka(topics: string[], groups: string[] = []): Promise<void> {
  const admin = kafka().admin();
  try {
    await admin.connect();
    await admin.deleteGroups(groups).catch(() => {});
    await admin.deleteTopics({ topics }).catch(() => {});
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Sends raw message values round-robin over `partitions` partitions (acks all). */
export async function produceValues(topic: string, values: readonly string[], partitions: number): Promise<void> {
  await produceTo(kafka(), topic, values, partitions);
}

/** The consumer group's members now: member id → assigned partitions of `topic` (empty when not Stable). */
export async function groupAssignment(group: string, topic: string): Promise<{ state: string; members: number[][] }> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    const g = groups[0];
    const members = (g?.members ?? []).map((m) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
      return [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b);
    });
    return { state: g?.state ?? 'Unknown', members };
  } finally {
    await admin.disconnect();
  }
}

/** Every message of a topic, from the start to the current end offsets (e.g. the DLQ). */
export async function readTopic(topic: string): Promise<{ value: string; headers: Record<string, string> }[]> {
  const admin = kafka().admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const out: { value: string; headers: Record<string, string> }[] = [];
  if (want === 0) return out;
  const consumer = kafka().consumer({ groupId: `e2e-read-${uniqueId()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${out.length}/${want} messages of ${topic}`)), 30_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          out.push({ value: message.value?.toString('utf8') ?? '', headers });
          if (out.length >= want) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

async function emulatorControl(path: string, method = 'GET', body?: unknown): Promise<unknown> {
  const r = await fetch(`http://${testbed('DORIS_CONTROL')}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const json = (await r.json()) as unknown;
  if (!r.ok) throw new Error(`emulator control ${method} ${path}: HTTP ${r.status} ${JSON.stringify(json)}`);
  return json;
}

const TB_EVENT_DDL = join(ROOT, '..', 'shared', 'bench', 'tb_event.doris.sql');

/** Creates `test_db.<table>` in the emulator with the canonical tb_event DDL (../shared/bench). */
export async function createTable(table: string): Promise<void> {
  const ddl = readFileSync(TB_EVENT_DDL, 'utf8')
    .replace(/^--.*$/gm, '')
    .replace('IF NOT EXISTS test_db.tb_event', `test_db.${table}`)
    .trim()
    .replace(/;$/, '');
  if (!ddl.includes(table)) throw new Error(`${TB_EVENT_DDL} changed shape: cannot rename the table`);
  await emulatorControl('/tables', 'POST', { ddl });
}

/** Runs SQL on the emulator's MySQL-protocol query port (as a user would: DESCRIBE, ALTER TABLE). */
export async function dorisQuery(sql: string): Promise<unknown> {
  const [host, port] = testbed('DORIS_QUERY').split(':');
  const conn = await mysql.createConnection({
    host,
    port: Number(port),
    user: testbed('DORIS_USER'),
    password: testbedEnv().DORIS_PASSWORD ?? '',
    database: 'test_db',
  });
  try {
    const [rows] = await conn.query(sql);
    return rows;
  } finally {
    await conn.end();
  }
}

let pool: mysql.Pool | undefined;

/** The MariaDB pool on the database behind the emulator (where its rows land). */
export function storage(): mysql.Pool {
  pool ??= mysql.createPool({
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
    database: `${testbedEnv().DORIS_EMULATOR_DB_PREFIX ?? ''}test_db`,
    connectionLimit: 3,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  return pool;
}

/** Closes the MariaDB pool (call once at the end). */
export async function closeStorage(): Promise<void> {
  await pool?.end();
  pool = undefined;
}

/** Rows in the table now. */
export async function rowCount(table: string): Promise<number> {
  const [rows] = await storage().query(`SELECT COUNT(*) AS n FROM \`${table}\``);
  return Number((rows as { n: string | number }[])[0]!.n);
}

/** Waits until the table holds at least `n` rows; resolves with the count. */
export async function waitRows(table: string, n: number, timeoutMs = 120_000): Promise<number> {
  return waitFor(
    `${n} rows in ${table}`,
    async () => {
      const got = await rowCount(table);
      if (got >= n) return got;
      throw new Error(`${got} rows so far`);
    },
    timeoutMs,
    500,
  );
}

/** Each id in the table with how often it occurs. */
export async function idCounts(table: string): Promise<Map<string, number>> {
  const [rows] = await storage().query(`SELECT CAST(id AS CHAR) AS id, COUNT(*) AS n FROM \`${table}\` GROUP BY id`);
  return new Map((rows as { id: string; n: string | number }[]).map((r) => [r.id, Number(r.n)]));
}

/** Drops the table (in MariaDB, where the emulator keeps it). */
export async function dropTable(table: string): Promise<void> {
  await storage()
    .query(`DROP TABLE IF EXISTS \`${table}\``)
    .catch(() => {});
}

/** Deletes Redis keys under a prefix (a sink's dedupe state). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(testbed('REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } catch {
    // Best effort: the keys are per-run and harmless.
  } finally {
    redis.disconnect();
  }
}
