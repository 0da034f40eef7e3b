// One reconcile of one DorisSink: read the caches, poll lag and schema when due, compute the desired
// children (pure), apply them with server-side apply, emit Events, write status. Returns when to
// come back (lag poll / schema refresh), so polling is requeueAfter, not a tight resync.
import { isDeepStrictEqual } from 'node:util';
import type { V1Deployment, V1Pod, V1Secret } from '@kubernetes/client-node';
import { feHostName } from '../../sinker/schema/describe.ts';
import { columnsFromManual, tableSchema } from '../../sinker/schema/schema.ts';
import type { TableSchema } from '../../sinker/schema/types.ts';
import { defaultSpec } from '../api/defaults.ts';
import type { DefaultedSpec, DorisSink, DorisSinkStatus } from '../api/types.ts';
import { parseDuration } from '../api/units.ts';
import type { KubeWriter } from '../controller/kube.ts';
import { type SinkObservation, sinkObservation } from '../controller/metrics.ts';
import { renderSinkerConfig, sinkerConfigProblem } from '../desired/config.ts';
import { groupId, labelSelectorString, referencedSecrets } from '../desired/names.ts';
import { desiredObjects } from '../desired/objects.ts';
import { type CrashLoop, crashLoop, podsWaiting } from '../scaling/crashloop.ts';
import { newScaleState, type ScaleState } from '../scaling/decide.ts';
import {
  type LoadHeld,
  loadHeld,
  loadHeldMessage,
  notReadyReason,
  type ReadyzAnswer,
  readyzTargets,
} from '../scaling/held.ts';
import type { KafkaConnection } from '../scaling/kafka-offsets.ts';
import { lagToNumber, type PartitionOffsets, summarizeLag } from '../scaling/lag.ts';
import { planReplicas } from './replicas.ts';
import type { SecretSource } from './secret-cache.ts';
import { type ResolvedSecrets, resolveSecrets } from './secrets.ts';
import {
  buildStatus,
  CRASH_LOOP,
  DLQ_TOPIC_MISSING,
  type DlqObservation,
  dlqTopicMissingMessage,
  heldStatus,
  type LagObservation,
  LOAD_BLOCKED,
  type SchemaObservation,
  TOPIC_NOT_FOUND,
} from './status.ts';

export interface Lookup<T> {
  get(namespace: string, name: string): T | undefined;
}

export interface DescribeRequest {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  table: string;
  timeoutMs: number;
}

export interface ReconcilerDeps {
  sinks: Lookup<DorisSink>;
  deployments: Lookup<V1Deployment>;
  /** Reads the Secrets a sink references (by name; no watch of all Secrets). */
  secrets: SecretSource;
  /**
   * The longest a sink goes without a reconcile (default 60 s), whatever its poll intervals: each
   * one re-reads the referenced Secrets once their cache entry expired, which is how a rotated
   * Secret reaches the pod template without watching Secrets.
   */
  secretResyncMs?: number;
  kube: KubeWriter;
  readOffsets: (c: KafkaConnection, topic: string, group: string) => Promise<PartitionOffsets[]>;
  /** Whether a topic exists on the cluster (the dead-letter topic, which the sinker needs but never creates). */
  topicExists: (c: KafkaConnection, topic: string) => Promise<boolean>;
  describe: (r: DescribeRequest) => Promise<TableSchema>;
  /**
   * The sink's pods (by label selector), read only while its Deployment has pods not ready, to tell
   * crash-looping sinkers and held loads (scale-up held) from ones still starting. Absent: never held.
   */
  listPods?: (namespace: string, labelSelector: string) => Promise<V1Pod[]>;
  /**
   * GET of a pod's /readyz (scaling/held.ts): the status and body, or undefined when nothing answered
   * in time. Asked of running pods that are not ready: a sinker whose loads Doris refuses says so
   * there. Absent: never asked.
   */
  readyz?: (url: string) => Promise<{ status: number; body: string } | undefined>;
  defaultImage: string;
  /** Bound on one offsets read (default 15 s). */
  lagTimeoutMs?: number;
  now?: () => number;
  log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** Called on each reconcile with what the metrics show per sink (held ones too); undefined: gone. */
  observe?: (key: string, o: SinkObservation | undefined) => void;
}

interface SinkRuntime {
  scale: ScaleState;
  /** Replicas this process last decided. */
  decided?: number;
  lagAt: number;
  lag: LagObservation;
  lagTotal?: bigint;
  /** Partitions with data the group never committed, as of the last read (LagSummary.uncommitted). */
  lagUncommitted?: number;
  /** The dead-letter topic as last checked (with the lag, on the poll interval). */
  dlq?: DlqObservation;
  schemaAt: number;
  schemaTarget: string;
  schema?: SchemaObservation;
  /** When this process last changed the replica count: kept here because the status read from the
   *  cache can be older than our last status write, and an apply without the field would drop it. */
  lastScaleTime?: Date;
}

const MIN_REQUEUE_MS = 1000;
/** Ready=False reasons of a running sink that get a Warning Event when they begin. */
const WARN_READY_REASONS = new Set([CRASH_LOOP, TOPIC_NOT_FOUND, LOAD_BLOCKED]);
/** A blackholed broker must not hold a worker for kafkajs's full retry schedule. */
const LAG_TIMEOUT_MS = 15_000;

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
/** A missing Secret is looked for again this often (or every resync, if shorter). */
const SECRET_RETRY_MS = 10_000;
const SECRET_RESYNC_MS = 60_000;

/**
 * An apiserver answer that retrying will not change until someone acts (403 forbidden, 404 of an
 * API, 400); not 409 (conflict), 429 (throttled) or 5xx, which pass.
 */
function isClientError(err: unknown): boolean {
  const code = (err as { code?: number })?.code;
  return code !== undefined && code >= 400 && code < 500 && code !== 409 && code !== 429;
}

export function classifySchemaError(message: string): string {
  return /ER_NO_SUCH_TABLE|ER_BAD_DB_ERROR|doesn't exist|Unknown table|Unknown database|does not exist/i.test(message)
    ? 'TableNotFound'
    : 'DescribeFailed';
}

export class Reconciler {
  readonly #d: ReconcilerDeps;
  readonly #runtime = new Map<string, SinkRuntime>();
  /**
   * Per sink, the Secret versions its pod template was last rendered with and the digest of the
   * values it used from each: a Secret whose resourceVersion moved without changing those values
   * (a label, an annotation, a key the sink does not use) keeps the old version, so it rolls nothing.
   */
  readonly #renderedSecrets = new Map<string, Record<string, { version: string; digest: string }>>();
  /** The generation each sink's Secrets were last read for: a spec change reads them afresh. */
  readonly #secretsGeneration = new Map<string, number | undefined>();
  readonly #now: () => number;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Forget a sink's in-memory state (deleted). */
  forget(key: string): void {
    this.#runtime.delete(key);
    this.#secretsGeneration.delete(key);
    this.#renderedSecrets.delete(key);
  }

  /** Reconciles `namespace/name`; returns the delay before it should run again, if any. */
  async reconcile(key: string): Promise<number | undefined> {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const sink = this.#d.sinks.get(namespace, name);
    if (!sink || sink.metadata.deletionTimestamp) {
      // Children go with the owner (garbage collection); nothing outside Kubernetes to clean up.
      this.forget(key);
      this.#d.observe?.(key, undefined);
      return undefined;
    }
    const now = this.#now();
    let spec: DefaultedSpec;
    let dlqTopic: string | undefined;
    try {
      spec = defaultSpec(sink.spec);
      const config = renderSinkerConfig(sink);
      dlqTopic = config.dlq.kafka_topic;
      // Refused here, the running sinkers keep their last good config instead of crash-looping on this one.
      const problem = sinkerConfigProblem(config);
      if (problem) throw new Error(problem);
    } catch (err) {
      await this.#statusOnly(sink, { reason: 'InvalidSpec', message: (err as Error).message });
      return undefined;
    }
    const resyncMs = this.#d.secretResyncMs ?? SECRET_RESYNC_MS;
    let secrets: ResolvedSecrets;
    try {
      secrets = await this.#secrets(key, sink, spec);
    } catch (err) {
      // Refused for good (RBAC: 403), the status says so; anything else is retried quietly.
      if (isClientError(err)) await this.#reportFailure(sink, 'SecretUnreadable', err);
      throw err;
    }
    if (secrets.missing.length > 0) {
      await this.#statusOnly(sink, {
        reason: 'SecretMissing',
        message: `referenced Secret keys not found: ${secrets.missing.join(', ')}`,
      });
      return Math.min(SECRET_RETRY_MS, resyncMs);
    }

    let rt = this.#runtime.get(key);
    if (!rt) {
      rt = { scale: newScaleState(now), lagAt: 0, lag: { known: false }, schemaAt: 0, schemaTarget: '' };
      this.#runtime.set(key, rt);
    }
    const pollMs = parseDuration(spec.scaling.pollInterval, 'spec.scaling.pollInterval') * 1000;
    const refreshMs = parseDuration(spec.schema.refreshInterval, 'spec.schema.refreshInterval') * 1000;

    const schema = await this.#schema(sink, spec, secrets, rt, now, refreshMs);
    await this.#kafka(sink, spec, secrets, rt, now, pollMs, dlqTopic);

    const deployment = this.#d.deployments.get(namespace, name);
    const pods = spec.paused ? {} : await this.#podsReport(sink, deployment, secrets);
    const crash = pods.crash;
    // The operator's own last decision is the current count: an edit of the Deployment's replicas is
    // undone, not adopted. (status.desiredReplicas carries it across operator restarts.)
    const current = rt.decided ?? sink.status?.desiredReplicas ?? deployment?.spec?.replicas;
    const plan = planReplicas({
      spec,
      schemaUnavailable: schema.hash === undefined,
      current,
      lag: rt.lagTotal,
      uncommitted: rt.lagUncommitted ?? 0,
      partitions: rt.lag.partitions ?? 0,
      crashLooping: crash !== undefined,
      loadHeld: pods.held !== undefined,
      state: rt.scale,
      now,
    });
    rt.scale = plan.state;
    rt.decided = plan.replicas;

    const desiredInput: Parameters<typeof desiredObjects>[0] = {
      sink,
      defaultImage: this.#d.defaultImage,
      replicas: plan.replicas,
      secretVersions: this.#secretVersions(key, secrets),
    };
    if (schema.hash) desiredInput.schemaHash = schema.hash;
    const desired = desiredObjects(desiredInput);
    // The Kafka and DESCRIBE reads above take up to seconds; a sink deleted meanwhile must not get its
    // children applied again (the garbage collector has begun deleting them: a re-created Deployment
    // would start sinkers for a moment, and a foreground deletion would wait on them). The cache's
    // delete or update event has queued the key again if it changed.
    if (!this.#stillCurrent(namespace, name, sink)) return undefined;
    try {
      // ConfigMap first: a new pod template must find its config.
      await this.#d.kube.apply(desired.configMap);
      await this.#d.kube.apply(desired.service);
      await this.#d.kube.apply(desired.pdb);
      await this.#d.kube.apply(desired.deployment);
    } catch (err) {
      // 422: the spec renders a child the apiserver refuses; retrying can't help until the spec changes.
      if ((err as { code?: number }).code === 422) {
        await this.#statusOnly(sink, { reason: 'InvalidSpec', message: (err as Error).message });
        return undefined;
      }
      // Refused (403 from RBAC or an admission policy, ...): retried with back-off, and the status
      // says what was refused instead of keeping the last good Ready.
      if (isClientError(err)) await this.#reportFailure(sink, 'ApplyFailed', err);
      throw err;
    }

    if (current !== undefined && current !== plan.replicas) {
      rt.lastScaleTime = new Date(now);
      await this.#event(sink, 'Normal', 'Scaled', `replicas ${current} → ${plan.replicas}: ${plan.message}`);
    }
    const prevHash = sink.status?.schema?.hash;
    if (prevHash && schema.hash && prevHash !== schema.hash) {
      await this.#event(
        sink,
        'Normal',
        'SchemaChanged',
        `table schema changed (${prevHash} → ${schema.hash}, ${schema.columns} columns): rolling the sinkers`,
      );
    }
    if (
      schema.state === 'error' &&
      sink.status?.conditions?.find((c) => c.type === 'SchemaSynced')?.status !== 'False'
    ) {
      await this.#event(sink, 'Warning', schema.reason ?? 'DescribeFailed', schema.message ?? '');
    }

    const statusInput: Parameters<typeof buildStatus>[0] = {
      sink,
      now: new Date(now),
      schema,
      lag: rt.lag,
      mode: spec.scaling.mode,
      paused: spec.paused,
      desiredReplicas: plan.replicas,
      scaleReason: plan.reason,
      scaleMessage: plan.message,
      configHash: desired.configHash,
    };
    if (deployment) statusInput.deployment = deployment;
    if (rt.lastScaleTime) statusInput.lastScaleTime = rt.lastScaleTime;
    if (rt.dlq) statusInput.dlq = rt.dlq;
    if (crash) statusInput.crashLoop = crash;
    if (pods.waiting) statusInput.podsWaiting = pods.waiting;
    if (pods.held) statusInput.loadBlocked = { message: loadHeldMessage(pods.held) };
    const status = buildStatus(statusInput);
    // One Warning Event when the sink turns not ready for a reason a user must act on.
    const readyNow = status.conditions?.find((c) => c.type === 'Ready');
    const readyBefore = sink.status?.conditions?.find((c) => c.type === 'Ready');
    if (readyNow?.reason && WARN_READY_REASONS.has(readyNow.reason) && readyBefore?.reason !== readyNow.reason) {
      await this.#event(sink, 'Warning', readyNow.reason, readyNow.message ?? '');
    }
    this.#d.observe?.(key, sinkObservation(status, rt.lag));
    await this.#writeStatus(sink, status);

    const nextLag = rt.lagAt + pollMs - now;
    const nextSchema = spec.schema.mode === 'auto' ? rt.schemaAt + refreshMs - now : Number.POSITIVE_INFINITY;
    return Math.max(MIN_REQUEUE_MS, Math.min(nextLag, nextSchema, resyncMs));
  }

  /** The versions for the pod template: a Secret's new version only where the values used changed. */
  #secretVersions(key: string, secrets: ResolvedSecrets): Record<string, string> {
    const last = this.#renderedSecrets.get(key) ?? {};
    const next: Record<string, { version: string; digest: string }> = {};
    for (const [name, version] of Object.entries(secrets.versions)) {
      const digest = secrets.digests[name] ?? '';
      const prev = last[name];
      next[name] = prev && prev.digest === digest ? prev : { version, digest };
    }
    this.#renderedSecrets.set(key, next);
    return Object.fromEntries(Object.entries(next).map(([n, v]) => [n, v.version]));
  }

  /**
   * Applies the status unless the sink already has exactly it (the HPA's rule): an idle reconcile then
   * sends no request at all. A cache older than our last write only costs a no-op apply, or a skip
   * that its update event corrects at the next reconcile.
   */
  async #writeStatus(sink: DorisSink, status: DorisSinkStatus): Promise<void> {
    if (isDeepStrictEqual(sink.status, status)) return;
    await this.#d.kube.applyStatus(sink, status);
  }

  /** Whether the sink this reconcile began with is still the cache's, and not being deleted. */
  #stillCurrent(namespace: string, name: string, began: DorisSink): boolean {
    const now = this.#d.sinks.get(namespace, name);
    if (now && !now.metadata.deletionTimestamp && now.metadata.uid === began.metadata.uid) return true;
    if (!now || now.metadata.deletionTimestamp) this.forget(`${namespace}/${name}`);
    return false;
  }

  /** Reads the referenced Secrets (through the cache; afresh after a spec change) and resolves the refs. */
  async #secrets(key: string, sink: DorisSink, spec: DefaultedSpec): Promise<ResolvedSecrets> {
    const namespace = sink.metadata.namespace ?? 'default';
    const names = referencedSecrets(spec);
    const generation = sink.metadata.generation;
    if (!this.#secretsGeneration.has(key) || this.#secretsGeneration.get(key) !== generation) {
      this.#d.secrets.invalidate(namespace, names);
      this.#secretsGeneration.set(key, generation);
    }
    const read = new Map<string, V1Secret | undefined>();
    await Promise.all(
      names.map(async (n) => {
        read.set(n, await this.#d.secrets.get(namespace, n));
      }),
    );
    return resolveSecrets(spec, (n) => read.get(n));
  }

  /**
   * Whether every pod of the sink is crash-looping, why pods wait, and whether the running ones hold
   * their loads (their /readyz). Asked only while the Deployment has pods not ready (no pod list
   * otherwise): not only when none is, since a rollout of a spec Doris refuses (another table or
   * user) keeps the previous pods ready and holds the new ones, and lag would scale up more of them.
   * A failed list is logged and holds nothing.
   */
  async #podsReport(
    sink: DorisSink,
    deployment: V1Deployment | undefined,
    secrets: ResolvedSecrets,
  ): Promise<{ crash?: CrashLoop; waiting?: string; held?: LoadHeld }> {
    const total = deployment?.status?.replicas ?? 0;
    if (!this.#d.listPods || total === 0 || (deployment?.status?.readyReplicas ?? 0) >= total) {
      return {};
    }
    const namespace = sink.metadata.namespace ?? 'default';
    try {
      const pods = await this.#d.listPods(namespace, labelSelectorString(sink.metadata.name));
      const report: { crash?: CrashLoop; waiting?: string; held?: LoadHeld } = {};
      const crash = crashLoop(pods);
      if (crash) report.crash = crash;
      const answers = await this.#readyz(pods);
      const masked = [secrets.dorisPassword, secrets.saslPassword, secrets.tlsKey];
      const held = loadHeld(answers, masked);
      if (held) report.held = held;
      // Why pods are not ready: one waiting (image, scheduling), else one running unready (its /readyz).
      const waiting = podsWaiting(pods) ?? notReadyReason(pods, answers, masked);
      if (waiting) report.waiting = waiting;
      return report;
    } catch (err) {
      this.#d.log?.('warn', 'listing the sink pods failed', {
        sink: `${namespace}/${sink.metadata.name}`,
        err: (err as Error).message,
      });
      return {};
    }
  }

  /** Asks the running, not ready pods for their /readyz (in parallel, each bounded by the caller's fetch). */
  async #readyz(pods: readonly V1Pod[]): Promise<ReadyzAnswer[]> {
    const readyz = this.#d.readyz;
    if (!readyz) return [];
    return Promise.all(
      readyzTargets(pods).map(async (t): Promise<ReadyzAnswer> => {
        const r = await readyz(t.url).catch(() => undefined);
        return r ? { pod: t.pod, status: r.status, body: r.body } : { pod: t.pod };
      }),
    );
  }

  /** Ready=False with the error, before the error is rethrown; a failure to write it hides nothing. */
  async #reportFailure(sink: DorisSink, reason: string, err: unknown): Promise<void> {
    try {
      await this.#statusOnly(sink, { reason, message: (err as Error).message });
    } catch (statusErr) {
      this.#d.log?.('warn', 'writing the status failed', { reason, err: (statusErr as Error).message });
    }
  }

  async #statusOnly(sink: DorisSink, problem: { reason: string; message: string }): Promise<void> {
    const prev = sink.status;
    // The children are left alone: the running Deployment's replicas are what status reports.
    const deployment = this.#d.deployments.get(sink.metadata.namespace ?? 'default', sink.metadata.name);
    const status = heldStatus(sink, deployment, problem, new Date(this.#now()));
    const readyBefore = prev?.conditions?.find((c) => c.type === 'Ready');
    if (readyBefore?.reason !== problem.reason) await this.#event(sink, 'Warning', problem.reason, problem.message);
    // Held: Ready=False, and no lag or partitions (not polled) instead of the last healthy values.
    this.#d.observe?.(`${sink.metadata.namespace}/${sink.metadata.name}`, sinkObservation(status));
    await this.#writeStatus(sink, status);
  }

  async #event(sink: DorisSink, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await this.#d.kube.event(sink, type, reason, message);
    } catch (err) {
      // An Event is advisory; failing to write one must not fail the reconcile.
      this.#d.log?.('warn', 'writing an Event failed', { reason, err: (err as Error).message });
    }
  }

  async #schema(
    sink: DorisSink,
    spec: DefaultedSpec,
    secrets: ResolvedSecrets,
    rt: SinkRuntime,
    now: number,
    refreshMs: number,
  ): Promise<SchemaObservation> {
    if (spec.schema.mode === 'manual') {
      try {
        const t = tableSchema(columnsFromManual(renderSinkerConfig(sink).schema.manual.columns));
        return { state: 'ok', manual: true, hash: t.hash, columns: t.columns.length };
      } catch (err) {
        return { state: 'error', manual: true, reason: 'InvalidColumns', message: (err as Error).message };
      }
    }
    const target = `${spec.doris.user}@${spec.doris.feHosts.join(',')}:${spec.doris.queryPort}/${spec.doris.database}.${spec.doris.table}`;
    const due = !rt.schema || rt.schemaTarget !== target || now - rt.schemaAt >= refreshMs;
    if (!due && rt.schema) return rt.schema;
    // Keep the last good hash across a failed refresh, but not across a change of table.
    const last = rt.schemaTarget === target ? rt.schema : undefined;
    const lastHash = last?.hash ?? (rt.schemaTarget === '' ? sink.status?.schema?.hash : undefined);
    rt.schemaAt = now;
    rt.schemaTarget = target;
    const errors: string[] = [];
    for (const fe of spec.doris.feHosts) {
      try {
        const t = await this.#d.describe({
          host: feHostName(fe),
          port: spec.doris.queryPort,
          user: spec.doris.user,
          password: secrets.dorisPassword,
          database: spec.doris.database,
          table: spec.doris.table,
          timeoutMs: 10_000,
        });
        rt.schema = { state: 'ok', manual: false, hash: t.hash, columns: t.columns.length, observedAt: new Date(now) };
        return rt.schema;
      } catch (err) {
        errors.push((err as Error).message);
        // A missing table is the same on every FE.
        if (classifySchemaError((err as Error).message) === 'TableNotFound') break;
      }
    }
    const message = errors.join('; ');
    const obs: SchemaObservation = { state: 'error', manual: false, reason: classifySchemaError(message), message };
    if (lastHash) {
      obs.hash = lastHash;
      if (last?.columns !== undefined) obs.columns = last.columns;
      else if (sink.status?.schema?.columns !== undefined) obs.columns = sink.status.schema.columns;
      if (last?.observedAt) obs.observedAt = last.observedAt;
    }
    rt.schema = obs;
    return obs;
  }

  /** Reads the group's lag and checks the dead-letter topic, at most once per poll interval. */
  async #kafka(
    sink: DorisSink,
    spec: DefaultedSpec,
    secrets: ResolvedSecrets,
    rt: SinkRuntime,
    now: number,
    pollMs: number,
    dlqTopic: string | undefined,
  ): Promise<void> {
    // A changed dead-letter topic is checked at once; the last answer was about another one.
    const dlqDue = dlqTopic !== rt.dlq?.topic;
    if (rt.lagAt > 0 && now - rt.lagAt < pollMs && !dlqDue) return;
    const conn = kafkaConnection(spec, secrets);
    if (!(rt.lagAt > 0 && now - rt.lagAt < pollMs)) {
      rt.lagAt = now;
      await this.#lag(sink, spec, conn, rt, now);
    }
    await this.#dlqTopic(sink, conn, rt, dlqTopic);
  }

  async #lag(sink: DorisSink, spec: DefaultedSpec, conn: KafkaConnection, rt: SinkRuntime, now: number): Promise<void> {
    try {
      const offsets = await withDeadline(
        this.#d.readOffsets(conn, spec.kafka.topic, groupId(sink)),
        this.#d.lagTimeoutMs ?? LAG_TIMEOUT_MS,
        `reading offsets of topic ${spec.kafka.topic}`,
      );
      const summary = summarizeLag(offsets, spec.kafka.fromEarliest);
      rt.lagTotal = summary.total;
      rt.lagUncommitted = summary.uncommitted;
      rt.lag = {
        known: true,
        total: lagToNumber(summary.total),
        partitionsWithLag: summary.partitionsWithLag,
        maxPartitionLag: lagToNumber(summary.maxPartitionLag),
        partitions: offsets.length,
        observedAt: new Date(now),
      };
    } catch (err) {
      // Unknown, not zero: the scaler holds the current replicas.
      delete rt.lagTotal;
      const message = (err as Error).message;
      const lag: LagObservation = { known: false, error: message, observedAt: new Date(now) };
      if (rt.lag.partitions !== undefined) lag.partitions = rt.lag.partitions;
      if (await this.#topicMissing(conn, spec.kafka.topic, message)) lag.missingTopic = spec.kafka.topic;
      rt.lag = lag;
    }
  }

  /**
   * Whether a failed offsets read means the topic does not exist. Kafka answers a missing topic with
   * UNKNOWN_TOPIC_OR_PARTITION (kafkajs: "does not host this topic-partition"), which a topic just
   * created or moving between brokers can answer too; the topic list confirms it. Other failures
   * (brokers away) ask nothing more.
   */
  async #topicMissing(conn: KafkaConnection, topic: string, message: string): Promise<boolean> {
    if (!/does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/i.test(message)) return false;
    try {
      return !(await withDeadline(
        this.#d.topicExists(conn, topic),
        this.#d.lagTimeoutMs ?? LAG_TIMEOUT_MS,
        `looking up topic ${topic}`,
      ));
    } catch {
      return false;
    }
  }

  /**
   * Whether the dead-letter topic exists. The sinker needs it only for its first dead letter, so a
   * missing one does not stop the sink: it is reported (Degraded, a Warning Event) before that
   * letter would hold its partition. Not asked while the cluster is unreachable (the offsets read
   * just failed): the answer would be an error too, and unknown reports nothing.
   */
  async #dlqTopic(sink: DorisSink, conn: KafkaConnection, rt: SinkRuntime, topic: string | undefined): Promise<void> {
    if (topic === undefined) {
      delete rt.dlq;
      return;
    }
    // An unanswered check keeps the last answer about the same topic.
    const last: DlqObservation = rt.dlq?.topic === topic ? rt.dlq : { topic };
    rt.dlq = last;
    if (!rt.lag.known) return;
    try {
      const exists = await withDeadline(
        this.#d.topicExists(conn, topic),
        this.#d.lagTimeoutMs ?? LAG_TIMEOUT_MS,
        `looking up topic ${topic}`,
      );
      rt.dlq = { topic, exists };
    } catch (err) {
      this.#d.log?.('warn', 'checking the dead-letter topic failed', { topic, err: (err as Error).message });
      return;
    }
    if (!rt.dlq.exists && last.exists !== false) {
      await this.#event(sink, 'Warning', DLQ_TOPIC_MISSING, dlqTopicMissingMessage(topic));
    }
  }
}

function kafkaConnection(spec: DefaultedSpec, secrets: ResolvedSecrets): KafkaConnection {
  const conn: KafkaConnection = { brokers: spec.kafka.brokers, clientId: 'doris-sinker-operator' };
  if (spec.kafka.sasl && secrets.saslPassword !== undefined) {
    conn.sasl = {
      mechanism: spec.kafka.sasl.mechanism ?? 'plain',
      username: spec.kafka.sasl.username,
      password: secrets.saslPassword,
    };
  }
  const tls = spec.kafka.tls;
  if (tls && tls.enabled !== false) {
    conn.tls = { insecureSkipVerify: tls.insecureSkipVerify ?? false };
    if (secrets.tlsCa) conn.tls.ca = secrets.tlsCa;
    if (secrets.tlsCert) conn.tls.cert = secrets.tlsCert;
    if (secrets.tlsKey) conn.tls.key = secrets.tlsKey;
  }
  return conn;
}
