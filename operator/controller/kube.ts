// The operator's writes to the apiserver: server-side apply of children and of the status
// subresource under one field manager, and Events.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { DorisSink, DorisSinkStatus } from '../api/types.ts';
import { FIELD_MANAGER } from '../desired/names.ts';

export interface KubeWriter {
  apply(obj: KubernetesObject): Promise<void>;
  applyStatus(sink: DorisSink, status: DorisSinkStatus): Promise<void>;
  event(sink: DorisSink, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export class KubeClient implements KubeWriter {
  readonly objects: KubernetesObjectApi;
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly #instance: string;

  constructor(kc: KubeConfig, instance: string) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.#instance = instance;
  }

  async apply(obj: KubernetesObject): Promise<void> {
    try {
      await this.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    } catch (err) {
      throw new KubeError(`apply ${obj.kind} ${obj.metadata?.namespace}/${obj.metadata?.name}`, err);
    }
  }

  async applyStatus(sink: DorisSink, status: DorisSinkStatus): Promise<void> {
    const { name, namespace = 'default' } = sink.metadata;
    try {
      await this.custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name,
          body: { apiVersion: sink.apiVersion, kind: sink.kind, metadata: { name, namespace }, status },
          fieldManager: FIELD_MANAGER,
          force: true,
        },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
    } catch (err) {
      throw new Error(`status of DorisSink ${namespace}/${name}: ${describeError(err)}`);
    }
  }

  async event(sink: DorisSink, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = sink.metadata.namespace ?? 'default';
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${sink.metadata.name}.`, namespace },
        involvedObject: {
          apiVersion: sink.apiVersion,
          kind: sink.kind,
          name: sink.metadata.name,
          namespace,
          uid: sink.metadata.uid as string,
          resourceVersion: sink.metadata.resourceVersion as string,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: { component: FIELD_MANAGER },
        reportingComponent: FIELD_MANAGER,
        reportingInstance: this.#instance,
      },
    });
  }
}

/** A failed API call: what was attempted, the HTTP status (`code`) and the apiserver's message. */
export class KubeError extends Error {
  readonly code: number | undefined;
  constructor(what: string, cause: unknown) {
    super(`${what}: ${describeError(cause)}`);
    this.code = (cause as { code?: number })?.code;
  }
}

/** An ApiException's status and the apiserver's message, without the request dump. */
export function describeError(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (e?.code && e.body) {
    try {
      const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      if (body?.message) return `${e.code}: ${body.message}`;
    } catch {
      // fall through
    }
  }
  return e?.message ?? String(err);
}
