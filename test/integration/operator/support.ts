// Shared helpers of the operator's integration tests: the test bed's apiserver, kubectl, the CRD,
// throwaway namespaces and polling.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy } from '@kubernetes/client-node';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { CRD_FILE } from '../../../operator/api/crd.ts';
import { CRD_NAME, GROUP, PLURAL, VERSION } from '../../../operator/api/schema.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import { Controller, type ControllerOptions } from '../../../operator/controller/controller.ts';
import { OperatorMetrics } from '../../../operator/controller/metrics.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { testbed } from '../../support/testbed.ts';
import { waitFor as waitUntil } from '../../support/wait-for.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testbed('KUBECONFIG'));
  return kc;
}

export interface Cmd {
  status: number;
  stdout: string;
  stderr: string;
}

export function kubectl(args: string[], input?: string): Cmd {
  const r = spawnSync(testbed('KUBECTL'), ['--kubeconfig', testbed('KUBECONFIG'), ...args], {
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  return waitUntil(what, fn, timeoutMs, intervalMs);
}

/** Applies crds/ with `kubectl apply --server-side`, as a user would, and waits until Established. */
export async function applyCrd(kc: KubeConfig): Promise<void> {
  const r = kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(ROOT, CRD_FILE)]);
  if (r.status !== 0) throw new Error(`kubectl apply ${CRD_FILE}: ${r.stderr}`);
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await waitFor('CRD Established', async () => {
    const c = await ext.readCustomResourceDefinition({ name: CRD_NAME });
    return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') || undefined;
  });
}

export async function freshNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name })
    .catch(() => {});
}

export async function createSecret(kc: KubeConfig, namespace: string, name: string, data: Record<string, string>) {
  return kc
    .makeApiClient(CoreV1Api)
    .createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: data } });
}

export async function getSink(kc: KubeConfig, namespace: string, name: string): Promise<DorisSink> {
  return (await kc
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name })) as DorisSink;
}

export async function createSink(kc: KubeConfig, sink: DorisSink): Promise<DorisSink> {
  return (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: sink.metadata.namespace as string,
    plural: PLURAL,
    body: sink,
  })) as DorisSink;
}

/** JSON merge patch of a sink's spec (what `kubectl patch --type merge` does). */
export async function patchSinkSpec(kc: KubeConfig, namespace: string, name: string, spec: Record<string, unknown>) {
  const { setHeaderOptions } = await import('@kubernetes/client-node');
  return (await kc
    .makeApiClient(CustomObjectsApi)
    .patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as DorisSink;
}

export function quietLog(): (level: string, msg: string, fields?: Record<string, unknown>) => void {
  return (level, msg, fields) => {
    if (process.env.OPERATOR_TEST_LOG) console.error(level, msg, fields ? JSON.stringify(fields) : '');
  };
}

/** A Kafka client of the test bed's broker, silent. */
export function testKafka(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [testbed('KAFKA_BOOTSTRAP')], logLevel: logLevel.NOTHING });
}

/** A connected admin client of the test bed's broker. */
export async function connectedAdmin(clientId: string): Promise<Admin> {
  const admin = testKafka(clientId).admin();
  await admin.connect();
  return admin;
}

/**
 * A controller watching one test namespace as the tests run it (the test image, its own metrics,
 * logs only with OPERATOR_TEST_LOG), started. `options` adds to or overrides those.
 */
export async function startController(
  kc: KubeConfig,
  namespace: string,
  identity: string,
  options: Partial<ControllerOptions> = {},
): Promise<Controller> {
  const controller = new Controller({
    kc,
    namespace,
    defaultImage: 'doris-sinker:test',
    identity,
    metrics: new OperatorMetrics(),
    log: quietLog(),
    ...options,
  });
  await controller.start();
  return controller;
}

/**
 * Waits until a sink's reconciles have nothing left to react to: its generation reconciled (and
 * `ok`), the Deployment's status done changing (the controller-manager created the pods, which never
 * become ready: give the sink an image the node lacks with imagePullPolicy Never, so they keep one
 * waiting reason, ErrImageNeverPull), the status reporting that, and the informer holding the sink's
 * latest version. After it, only a poll or a resync would reconcile the sink again.
 */
export async function waitSettled(
  kc: KubeConfig,
  controller: Controller,
  namespace: string,
  name: string,
  ok: (s: DorisSink) => boolean = () => true,
): Promise<DorisSink> {
  const key = `${namespace}/${name}`;
  await waitFor(
    `${name} settled`,
    async () => {
      const s = await getSink(kc, namespace, name);
      const d = controller.deployments.get(namespace, name);
      const settled =
        s.status?.observedGeneration === s.metadata.generation &&
        ok(s) &&
        d !== undefined &&
        d.status?.observedGeneration === d.metadata?.generation &&
        (d.status?.replicas ?? 0) === d.spec?.replicas &&
        s.status?.replicas === (d.status?.replicas ?? 0) &&
        s.status?.readyReplicas === (d.status?.readyReplicas ?? 0) &&
        (d.spec?.replicas === 0 ||
          /ErrImageNeverPull/.test(getCondition(s.status?.conditions, 'Ready')?.message ?? ''));
      if (!settled) {
        controller.queue.add(key);
        return undefined;
      }
      return s;
    },
    60_000,
    500,
  );
  // One more reconcile, so the informer's copy is the one the last status write made.
  await controller.reconciler.reconcile(key);
  return waitFor('the cache holds the latest sink', async () => {
    const live = await getSink(kc, namespace, name);
    return controller.sinks.get(namespace, name)?.metadata.resourceVersion === live.metadata.resourceVersion
      ? live
      : undefined;
  });
}
