// Reads the running demo once a second: rows in the table (MariaDB, where the emulator stores them),
// the consumer group's lag and the dead-letter count (Kafka), the DorisSink's status and its pods
// (the apiserver). Long-lived clients: a sample costs a few small queries, not new processes.
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import mysql from 'mysql2/promise';
import type { DorisSink } from '../../operator/api/types.ts';
import type { ReplicaView } from './render.ts';

export interface SamplerOptions {
  brokers: string[];
  topic: string;
  dlqTopic: string;
  group: string;
  mariadb: { host: string; port: number; user: string; password: string };
  /** `db`.`table` in MariaDB. */
  storageTable: string;
  kubeconfig: string;
  namespace: string;
  sink: string;
  podSelector: string;
  minReplicas: number;
  maxReplicas: number;
}

export interface Reading {
  rows: number;
  dlq: number;
  lag?: number;
  lagPartitions?: number;
  operatorLag?: number;
  replicas: ReplicaView;
}

/** Sum of end − start offsets over a topic's partitions (what it holds). */
function held(offsets: { high: string; low: string }[]): number {
  return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
}

export class Sampler {
  readonly #o: SamplerOptions;
  readonly #admin: Admin;
  readonly #db: mysql.Pool;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  #connected = false;

  constructor(o: SamplerOptions) {
    this.#o = o;
    const kafka = new Kafka({ brokers: o.brokers, logLevel: logLevel.NOTHING, clientId: 'doris-sinker-demo' });
    this.#admin = kafka.admin();
    this.#db = mysql.createPool({ ...o.mariadb, connectionLimit: 1 });
    const kc = new KubeConfig();
    kc.loadFromFile(o.kubeconfig);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
  }

  async rows(): Promise<number> {
    const [r] = await this.#db.query(`SELECT COUNT(*) AS n FROM ${this.#o.storageTable}`);
    return Number((r as { n: number | string }[])[0]?.n ?? 0);
  }

  async #kafka(): Promise<Pick<Reading, 'lag' | 'lagPartitions' | 'dlq'>> {
    if (!this.#connected) {
      await this.#admin.connect();
      this.#connected = true;
    }
    const [ends, committed, dlq] = await Promise.all([
      this.#admin.fetchTopicOffsets(this.#o.topic),
      this.#admin.fetchOffsets({ groupId: this.#o.group, topics: [this.#o.topic] }),
      this.#admin.fetchTopicOffsets(this.#o.dlqTopic),
    ]);
    const at = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    let lag = 0;
    let lagPartitions = 0;
    let any = false;
    for (const p of ends) {
      const c = at.get(p.partition) ?? -1;
      // No commit yet on a partition: all it holds is lag (the sink reads from the earliest offset).
      const l = c < 0 ? Number(p.high) - Number(p.low) : Number(p.high) - c;
      if (c >= 0) any = true;
      lag += Math.max(0, l);
      if (l > 0) lagPartitions++;
    }
    return { ...(any || lag > 0 ? { lag, lagPartitions } : {}), dlq: held(dlq) };
  }

  async #kube(): Promise<Pick<Reading, 'replicas' | 'operatorLag'>> {
    const [sink, pods] = await Promise.all([
      this.#custom
        .getNamespacedCustomObject({
          group: 'dorissinker.io',
          version: 'v1alpha1',
          namespace: this.#o.namespace,
          plural: 'dorissinks',
          name: this.#o.sink,
        })
        .then((s) => s as DorisSink)
        .catch(() => undefined),
      this.#core.listNamespacedPod({ namespace: this.#o.namespace, labelSelector: this.#o.podSelector }),
    ]);
    const st = sink?.status;
    const ready = st?.conditions?.find((c) => c.type === 'Ready');
    const view: ReplicaView = {
      min: this.#o.minReplicas,
      max: this.#o.maxReplicas,
      pods: pods.items
        .map((p) => {
          const cs = p.status?.containerStatuses?.[0];
          const waiting = cs?.state?.waiting?.reason;
          const state = p.metadata?.deletionTimestamp
            ? 'Terminating'
            : waiting
              ? waiting
              : cs?.ready
                ? 'Ready'
                : (p.status?.phase ?? 'Unknown');
          return { name: p.metadata?.name ?? '?', state };
        })
        .sort((a, b) => a.name.localeCompare(b.name)),
      ...(st?.desiredReplicas !== undefined ? { desired: st.desiredReplicas } : {}),
      ...(st?.readyReplicas !== undefined || st?.replicas !== undefined ? { ready: st?.readyReplicas ?? 0 } : {}),
      ...(ready ? { sinkReady: ready.status === 'True' ? 'True' : `${ready.status} (${ready.reason ?? ''})` } : {}),
    };
    // Pods are fresher than the status the operator writes every poll: count the ready ones.
    view.ready = pods.items.filter(
      (p) =>
        !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    return { replicas: view, ...(st?.lag?.total !== undefined ? { operatorLag: st.lag.total } : {}) };
  }

  /** One reading; a part that fails (a restarting broker, say) throws with what it was reading. */
  async read(): Promise<Reading> {
    const [rows, kafka, kube] = await Promise.all([
      this.rows().catch((e: Error) => {
        throw new Error(`row count of ${this.#o.storageTable}: ${e.message}`);
      }),
      this.#kafka().catch((e: Error) => {
        throw new Error(`Kafka offsets of ${this.#o.topic}: ${e.message}`);
      }),
      this.#kube().catch((e: Error) => {
        throw new Error(`DorisSink ${this.#o.namespace}/${this.#o.sink}: ${e.message}`);
      }),
    ]);
    return { rows, ...kafka, ...kube };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#connected ? this.#admin.disconnect() : undefined, this.#db.end()]);
  }
}
