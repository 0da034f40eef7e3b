// Names and labels of a sink's child objects, and the identities the sinker derives from the sink.
import { POD_WRITABLE_DIR } from '../api/schema.ts';
import type { DorisSink, DorisSinkSpec } from '../api/types.ts';

export const LABEL_SINK = 'dorissinker.io/sink';
export const ANNOTATION_CONFIG_HASH = 'dorissinker.io/config-hash';
export const ANNOTATION_SECRET_VERSIONS = 'dorissinker.io/secret-versions';
export const ANNOTATION_SCHEMA_HASH = 'dorissinker.io/schema-hash';
export const FIELD_MANAGER = 'doris-sinker-operator';
export const CONTAINER_NAME = 'sinker';
export const CONFIG_DIR = '/etc/doris-sinker';
export const CONFIG_FILE = 'config.yaml';
/** hostNetwork pods: where the sinker writes its ephemeral metrics port (the pod's /tmp emptyDir). */
export const METRICS_PORT_FILE = `${POD_WRITABLE_DIR}/metrics-port`;

export function childNames(name: string): { deployment: string; configMap: string; service: string; pdb: string } {
  return { deployment: name, configMap: `${name}-config`, service: `${name}-metrics`, pdb: name };
}

/** Labels that select the sink's pods: stable for the Deployment's lifetime (selectors are immutable). */
export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'doris-sinker', [LABEL_SINK]: name };
}

export function commonLabels(name: string): Record<string, string> {
  return {
    ...selectorLabels(name),
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/component': 'sinker',
    'app.kubernetes.io/managed-by': 'doris-sinker-operator',
  };
}

/** The `k=v,...` string the scale subresource reports (status.labelSelector). */
export function labelSelectorString(name: string): string {
  return Object.entries(selectorLabels(name))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * The sinker's `name`: labels metrics and prefixes Stream Load labels. Namespace and name joined by
 * '_' (which neither may contain), so equal names in two namespaces never share labels in Doris.
 */
export function sinkerName(sink: DorisSink): string {
  return `${sink.metadata.namespace ?? 'default'}_${sink.metadata.name}`;
}

export function groupId(sink: DorisSink): string {
  return sink.spec.kafka.groupId ?? `doris-sinker.${sink.metadata.namespace ?? 'default'}.${sink.metadata.name}`;
}

export function redisKeyPrefix(sink: DorisSink): string {
  return sink.spec.dedupe.keyPrefix ?? `doris-sinker:${sink.metadata.namespace ?? 'default'}:${sink.metadata.name}`;
}

/** Names of every Secret the spec references (their versions go into the pod template). */
export function referencedSecrets(spec: DorisSinkSpec): string[] {
  const names = new Set<string>();
  if (spec.doris.passwordSecretRef) names.add(spec.doris.passwordSecretRef.name);
  names.add(spec.dedupe.redisUrlSecretRef.name);
  if (spec.kafka.sasl) names.add(spec.kafka.sasl.passwordSecretRef.name);
  if (spec.kafka.tls?.caSecretRef) names.add(spec.kafka.tls.caSecretRef.name);
  if (spec.kafka.tls?.clientCertSecretRef) names.add(spec.kafka.tls.clientCertSecretRef.name);
  return [...names].sort();
}
