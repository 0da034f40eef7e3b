// Wires informers, the work queue and the reconciler: sink events enqueue the sink, child events
// enqueue their owner. Secrets are not watched: a reconcile reads the ones its sink references by name
// (reconcile/secret-cache.ts), and every sink is reconciled at least once per secretResyncMs, so a
// rotated Secret reaches the pod template within about secretResyncMs + secretCacheTtlMs.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  PolicyV1Api,
  type V1Deployment,
  Watch,
} from '@kubernetes/client-node';
import { describeTable } from '../../sinker/schema/describe.ts';
import { GROUP, KIND, PLURAL, VERSION } from '../api/schema.ts';
import type { DorisSink } from '../api/types.ts';
import { Reconciler } from '../reconcile/reconciler.ts';
import { SecretCache } from '../reconcile/secret-cache.ts';
import { KafkaOffsetsReader } from '../scaling/kafka-offsets.ts';
import { type InformerHealth, ResilientInformer } from './informer.ts';
import { describeError, KubeClient, KubeError } from './kube.ts';
import type { OperatorMetrics } from './metrics.ts';
import { WorkQueue } from './workqueue.ts';

export interface ControllerOptions {
  kc: KubeConfig;
  /** Watch one namespace; all when empty. */
  namespace?: string;
  defaultImage: string;
  workers?: number;
  identity: string;
  metrics: OperatorMetrics;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  idleTimeoutMs?: number;
  relistIntervalMs?: number;
  backoffMaxMs?: number;
  /** How long a Secret read by name is reused (default 30 s). */
  secretCacheTtlMs?: number;
  /** The longest a sink goes without a reconcile, hence without re-reading its Secrets (default 60 s). */
  secretResyncMs?: number;
}

const MANAGED_SELECTOR = 'app.kubernetes.io/managed-by=doris-sinker-operator';
/** A pod's /readyz answers at once or not at all (a network policy drops it): do not hold the reconcile. */
const READYZ_TIMEOUT_MS = 2000;

export class Controller {
  readonly queue = new WorkQueue();
  readonly sinks: ResilientInformer<DorisSink>;
  readonly deployments: ResilientInformer<V1Deployment>;
  readonly secrets: SecretCache;
  readonly children: ResilientInformer<KubernetesObject>[];
  readonly reconciler: Reconciler;
  readonly #o: ControllerOptions;
  readonly #offsets = new KafkaOffsetsReader();
  #running = false;
  #workers: Promise<void>[] = [];

  constructor(o: ControllerOptions) {
    this.#o = o;
    const ns = o.namespace;
    const watch = new Watch(o.kc);
    // Bookmarks arrive about once a minute; the watch's own inactivity abort must be longer.
    // (requestTimeoutMs is private in the typings but a plain field of Watch.)
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = Math.max(90_000, o.idleTimeoutMs ?? 0);
    const custom = o.kc.makeApiClient(CustomObjectsApi);
    const apps = o.kc.makeApiClient(AppsV1Api);
    const core = o.kc.makeApiClient(CoreV1Api);
    const common = {
      watch,
      onError: (err: unknown) => o.log('warn', 'watch failed; restarting with backoff', { err: describeError(err) }),
      ...(o.idleTimeoutMs ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
      ...(o.relistIntervalMs ? { relistIntervalMs: o.relistIntervalMs } : {}),
      ...(o.backoffMaxMs ? { backoffMaxMs: o.backoffMaxMs } : {}),
    };
    this.sinks = new ResilientInformer<DorisSink>({
      ...common,
      name: ns ? `dorissinks/${ns}` : 'dorissinks',
      path: ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      list: async () =>
        (ns
          ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL })
          : await custom.listClusterCustomObject({
              group: GROUP,
              version: VERSION,
              plural: PLURAL,
            })) as KubernetesListObject<DorisSink>,
      onEvent: (type, sink) => {
        const key = `${sink.metadata.namespace}/${sink.metadata.name}`;
        if (type === 'delete') {
          this.reconciler.forget(key);
          o.metrics.forgetSink(key);
        }
        this.queue.add(key);
      },
    });
    this.deployments = new ResilientInformer<V1Deployment>({
      ...common,
      name: ns ? `deployments/${ns}` : 'deployments',
      path: ns ? `/apis/apps/v1/namespaces/${ns}/deployments` : '/apis/apps/v1/deployments',
      labelSelector: MANAGED_SELECTOR,
      list: () =>
        ns
          ? apps.listNamespacedDeployment({ namespace: ns, labelSelector: MANAGED_SELECTOR })
          : apps.listDeploymentForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
      onEvent: (_type, d) => this.#enqueueOwner(d),
    });
    // The other children: only their events matter (a deleted or edited one is re-applied at once).
    const policy = o.kc.makeApiClient(PolicyV1Api);
    const childInformer = <T extends KubernetesObject>(
      plural: string,
      apiPath: string,
      list: () => Promise<KubernetesListObject<T>>,
    ) =>
      new ResilientInformer<T>({
        ...common,
        name: ns ? `${plural}/${ns}` : plural,
        path: ns ? `${apiPath}/namespaces/${ns}/${plural}` : `${apiPath}/${plural}`,
        labelSelector: MANAGED_SELECTOR,
        list,
        onEvent: (_type, c) => this.#enqueueOwner(c),
      });
    this.children = [
      childInformer('configmaps', '/api/v1', () =>
        ns
          ? core.listNamespacedConfigMap({ namespace: ns, labelSelector: MANAGED_SELECTOR })
          : core.listConfigMapForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
      ),
      childInformer('services', '/api/v1', () =>
        ns
          ? core.listNamespacedService({ namespace: ns, labelSelector: MANAGED_SELECTOR })
          : core.listServiceForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
      ),
      childInformer('poddisruptionbudgets', '/apis/policy/v1', () =>
        ns
          ? policy.listNamespacedPodDisruptionBudget({ namespace: ns, labelSelector: MANAGED_SELECTOR })
          : policy.listPodDisruptionBudgetForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
      ),
    ];
    // Only the Secrets sinks reference, each read by name (RBAC: get on secrets, no list/watch).
    this.secrets = new SecretCache({
      ttlMs: o.secretCacheTtlMs ?? 30_000,
      fetch: async (namespace, name) => {
        try {
          return await core.readNamespacedSecret({ namespace, name });
        } catch (err) {
          if ((err as { code?: number }).code === 404) return undefined;
          throw new KubeError(`reading Secret ${namespace}/${name}`, err);
        }
      },
    });
    this.reconciler = new Reconciler({
      sinks: this.sinks,
      deployments: this.deployments,
      secrets: this.secrets,
      ...(o.secretResyncMs ? { secretResyncMs: o.secretResyncMs } : {}),
      kube: new KubeClient(o.kc, o.identity),
      readOffsets: (c, topic, group) => this.#offsets.read(c, topic, group),
      topicExists: (c, topic) => this.#offsets.topicExists(c, topic),
      describe: (r) => describeTable(r),
      // RBAC: list pods (no watch): asked only while a sink's Deployment has pods not ready.
      listPods: async (namespace, labelSelector) => (await core.listNamespacedPod({ namespace, labelSelector })).items,
      // A pod's /readyz on the pod network (no RBAC: as Prometheus scrapes /metrics); bounded, as it
      // runs inside a reconcile.
      readyz: async (url) => {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(READYZ_TIMEOUT_MS) });
          return { status: res.status, body: (await res.text()).slice(0, 4096) };
        } catch {
          return undefined;
        }
      },
      defaultImage: o.defaultImage,
      log: (level, msg, fields) => o.log(level, msg, fields),
      observe: (key, obs) => o.metrics.observeSink(key, obs),
    });
  }

  #enqueueOwner(child: KubernetesObject): void {
    const owner = child.metadata?.ownerReferences?.find((r) => r.controller && r.kind === KIND);
    if (owner) this.queue.add(`${child.metadata?.namespace}/${owner.name}`);
  }

  async start(): Promise<void> {
    // Children first, so the first sink reconciles see them.
    await Promise.all([this.deployments.start(), ...this.children.map((c) => c.start())]);
    await this.sinks.start();
    this.#running = true;
    for (let i = 0; i < (this.#o.workers ?? 4); i++) this.#workers.push(this.#work());
    this.#o.log('info', 'controller started', { sinks: this.sinks.list().length });
  }

  async #work(): Promise<void> {
    const m = this.#o.metrics;
    while (this.#running) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const end = m.reconcileDuration.startTimer();
      try {
        const after = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        if (after !== undefined) this.queue.addAfter(key, after);
        m.reconciles.inc({ result: 'success' });
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        m.reconciles.inc({ result: 'error' });
        m.reconcileErrors.inc();
        this.#o.log('warn', 'reconcile failed; requeued', {
          key,
          err: describeError(err),
          retryInMs: Math.round(delay),
        });
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  health(): InformerHealth[] {
    return [this.sinks, this.deployments, ...this.children].map((i) => i.health());
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.queue.shutdown();
    await Promise.all([this.sinks, this.deployments, ...this.children].map((i) => i.stop()));
    await Promise.all(this.#workers);
    await this.#offsets.close();
  }
}
