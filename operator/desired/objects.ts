// Pure builders of a sink's children: ConfigMap (rendered config), Deployment, Service (metrics) and
// PodDisruptionBudget. Each carries an owner reference to the sink, so deleting the sink deletes them.
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1OwnerReference,
  V1PodDisruptionBudget,
  V1Probe,
  V1Service,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { defaultSpec } from '../api/defaults.ts';
import { POD_WRITABLE_DIR } from '../api/schema.ts';
import type { DorisSink } from '../api/types.ts';
import {
  configYaml,
  renderSinkerConfig,
  SECRET_ENV,
  SHUTDOWN_TIMEOUT_SECONDS,
  shortHash,
  TLS_MOUNT,
} from './config.ts';
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_SCHEMA_HASH,
  ANNOTATION_SECRET_VERSIONS,
  CONFIG_DIR,
  CONFIG_FILE,
  CONTAINER_NAME,
  childNames,
  commonLabels,
  referencedSecrets,
  selectorLabels,
} from './names.ts';
import { probeCommand } from './probe.ts';

/** The UID the sinker image runs as (Dockerfile.sinker: the official Node image's `node` user). */
export const SINKER_UID = 1000;

export interface DesiredInput {
  sink: DorisSink;
  /** Image used when spec.image is empty (the operator's --sinker-image). */
  defaultImage: string;
  /** Replica count decided by the scaler, spec.replicas (external mode) or 0 when paused. */
  replicas: number;
  /** resourceVersion of each referenced Secret, by name; a change rolls the pods. */
  secretVersions: Record<string, string>;
  /** Hash of the table's columns (auto mode: from DESCRIBE); a change rolls the pods. */
  schemaHash?: string;
}

export interface Desired {
  configMap: V1ConfigMap;
  deployment: V1Deployment;
  service: V1Service;
  pdb: V1PodDisruptionBudget;
  configHash: string;
}

export function ownerReference(sink: DorisSink): V1OwnerReference {
  if (!sink.metadata.uid)
    throw new Error(`DorisSink ${sink.metadata.name} has no uid: read it from the apiserver first`);
  return {
    apiVersion: sink.apiVersion,
    kind: sink.kind,
    name: sink.metadata.name,
    uid: sink.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** "name=version,..." sorted, so the annotation only changes when a version does. */
export function secretVersionsAnnotation(names: string[], versions: Record<string, string>): string {
  return names.map((n) => `${n}=${versions[n] ?? 'missing'}`).join(',');
}

function secretEnv(name: string, ref: { name: string; key: string }): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } };
}

export function desiredObjects(input: DesiredInput): Desired {
  const { sink } = input;
  const spec = defaultSpec(sink.spec);
  const name = sink.metadata.name;
  const namespace = sink.metadata.namespace ?? 'default';
  const names = childNames(name);
  const labels = commonLabels(name);
  const owner = [ownerReference(sink)];
  const meta = (objName: string) => ({ name: objName, namespace, labels, ownerReferences: owner });

  const yaml = configYaml(renderSinkerConfig(sink));
  const configHash = shortHash(yaml);

  const env: V1EnvVar[] = [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }];
  if (spec.doris.passwordSecretRef) env.push(secretEnv(SECRET_ENV.dorisPassword, spec.doris.passwordSecretRef));
  env.push(secretEnv(SECRET_ENV.redisUrl, spec.dedupe.redisUrlSecretRef));
  if (spec.kafka.sasl) env.push(secretEnv(SECRET_ENV.kafkaSaslPassword, spec.kafka.sasl.passwordSecretRef));

  const volumes: V1Volume[] = [
    { name: 'config', configMap: { name: names.configMap } },
    { name: 'tmp', emptyDir: {} },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    // The only writable path (readOnlyRootFilesystem): a DLQ file (config.ts) and the metrics port file live here.
    { name: 'tmp', mountPath: POD_WRITABLE_DIR },
  ];
  const tls = spec.kafka.tls;
  if (tls && tls.enabled !== false && tls.caSecretRef) {
    volumes.push({
      name: 'kafka-tls-ca',
      secret: { secretName: tls.caSecretRef.name, items: [{ key: tls.caSecretRef.key, path: tls.caSecretRef.key }] },
    });
    mounts.push({ name: 'kafka-tls-ca', mountPath: `${TLS_MOUNT}/ca`, readOnly: true });
  }
  if (tls && tls.enabled !== false && tls.clientCertSecretRef) {
    const c = tls.clientCertSecretRef;
    const certKey = c.certKey ?? 'tls.crt';
    const keyKey = c.keyKey ?? 'tls.key';
    volumes.push({
      name: 'kafka-tls-client',
      secret: {
        secretName: c.name,
        items: [
          { key: certKey, path: certKey },
          { key: keyKey, path: keyKey },
        ],
      },
    });
    mounts.push({ name: 'kafka-tls-client', mountPath: `${TLS_MOUNT}/client`, readOnly: true });
  }

  // On the host network a declared containerPort becomes a host port (the scheduler then places one
  // replica per node) and every replica would bind the same metrics port. There the sinker binds any
  // free port and writes it to a file in its /tmp; exec probes (probe.ts) read it and ask their own process.
  const hostNetwork = Boolean(spec.podTemplate?.hostNetwork);
  const probeAction = (path: string): Pick<V1Probe, 'httpGet' | 'exec'> =>
    hostNetwork ? { exec: { command: probeCommand(path) } } : { httpGet: { path, port: 'metrics' } };

  const container: V1Container = {
    name: CONTAINER_NAME,
    image: spec.image || input.defaultImage,
    args: ['-config', `${CONFIG_DIR}/${CONFIG_FILE}`],
    env,
    ...(hostNetwork ? {} : { ports: [{ name: 'metrics', containerPort: spec.metricsPort, protocol: 'TCP' }] }),
    livenessProbe: {
      ...probeAction('/healthz'),
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    readinessProbe: {
      ...probeAction('/readyz'),
      periodSeconds: 5,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    volumeMounts: mounts,
    // A sinker that exits with an error leaves its log's last lines in the pod status, which the
    // operator quotes when every pod crash-loops (Ready=False CrashLoopBackOff).
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  if (spec.imagePullPolicy) container.imagePullPolicy = spec.imagePullPolicy;
  if (spec.resources) container.resources = structuredClone(spec.resources) as V1Container['resources'];

  const pt = spec.podTemplate ?? {};
  const podAnnotations: Record<string, string> = {
    ...(pt.annotations ?? {}),
    [ANNOTATION_CONFIG_HASH]: configHash,
    [ANNOTATION_SECRET_VERSIONS]: secretVersionsAnnotation(referencedSecrets(spec), input.secretVersions),
  };
  if (input.schemaHash) podAnnotations[ANNOTATION_SCHEMA_HASH] = input.schemaHash;

  const podSpec: NonNullable<NonNullable<V1Deployment['spec']>['template']['spec']> = {
    containers: [container],
    volumes,
    terminationGracePeriodSeconds: SHUTDOWN_TIMEOUT_SECONDS + 15,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SINKER_UID,
      runAsGroup: SINKER_UID,
      fsGroup: SINKER_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    enableServiceLinks: false,
    // The sinker talks to Kafka, Doris and Redis only, never to the Kubernetes API: a mounted token
    // would only lend the pod's ServiceAccount (spec.podTemplate.serviceAccountName, or the
    // namespace's default with whatever it was granted) to anyone who gets code running in it.
    automountServiceAccountToken: false,
  };
  if (pt.nodeSelector) podSpec.nodeSelector = pt.nodeSelector;
  if (pt.tolerations) podSpec.tolerations = pt.tolerations as V1Toleration[];
  if (pt.affinity) podSpec.affinity = pt.affinity;
  if (pt.hostNetwork) {
    podSpec.hostNetwork = true;
    podSpec.dnsPolicy = 'ClusterFirstWithHostNet';
  }
  if (pt.serviceAccountName) podSpec.serviceAccountName = pt.serviceAccountName;
  if (pt.priorityClassName) podSpec.priorityClassName = pt.priorityClassName;
  if (pt.imagePullSecrets) podSpec.imagePullSecrets = pt.imagePullSecrets;

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(names.deployment),
    spec: {
      replicas: input.replicas,
      selector: { matchLabels: selectorLabels(name) },
      revisionHistoryLimit: 3,
      // One new consumer at a time: each join rebalances the group.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { ...(pt.labels ?? {}), ...labels }, annotations: podAnnotations },
        spec: podSpec,
      },
    },
  };

  return {
    configHash,
    configMap: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { ...meta(names.configMap), annotations: { [ANNOTATION_CONFIG_HASH]: configHash } },
      data: { [CONFIG_FILE]: yaml },
    },
    deployment,
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(names.service),
      spec: {
        type: 'ClusterIP',
        selector: selectorLabels(name),
        ports: [{ name: 'metrics', port: spec.metricsPort, targetPort: 'metrics', protocol: 'TCP' }],
      },
    },
    pdb: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(names.pdb),
      spec: {
        maxUnavailable: 1,
        selector: { matchLabels: selectorLabels(name) },
        // A sinker that is not ready loads nothing (not joined, no schema, stale state refused), so
        // evicting it costs nothing; with the default policy a sink whose pods are all unready would
        // block every node drain until someone fixed the sink.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    },
  };
}
