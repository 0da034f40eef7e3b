// Resolves the Secrets a sink references from the informer cache: their resourceVersions (rolled
// into the pod template) and the few values the operator itself needs to read Kafka and Doris.
import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { DorisSinkSpec, SecretKeyRef } from '../api/types.ts';
import { referencedSecrets } from '../desired/names.ts';

export interface ResolvedSecrets {
  versions: Record<string, string>;
  /**
   * Per Secret, a digest of the values this sink uses from it (in memory only, never written
   * anywhere): a new resourceVersion with the same digest changed nothing the pods read (labels,
   * annotations, other keys), so it need not roll them.
   */
  digests: Record<string, string>;
  /** "secret/key" references that are missing (Secret or key); empty when all resolve. */
  missing: string[];
  dorisPassword: string;
  saslPassword?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

function decode(secret: V1Secret | undefined, key: string): string | undefined {
  const data = secret?.data?.[key];
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
  return secret?.stringData?.[key];
}

export function resolveSecrets(spec: DorisSinkSpec, get: (name: string) => V1Secret | undefined): ResolvedSecrets {
  const versions: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of referencedSecrets(spec)) {
    const s = get(name);
    if (s?.metadata?.resourceVersion) versions[name] = s.metadata.resourceVersion;
  }
  const used: [string, string, string][] = [];
  const value = (ref: SecretKeyRef): string | undefined => {
    const v = decode(get(ref.name), ref.key);
    if (v === undefined) missing.push(`${ref.name}/${ref.key}`);
    else used.push([ref.name, ref.key, v]);
    return v;
  };
  const digests: Record<string, string> = {};
  const out: ResolvedSecrets = { versions, digests, missing, dorisPassword: '' };
  if (spec.doris.passwordSecretRef) out.dorisPassword = value(spec.doris.passwordSecretRef) ?? '';
  value(spec.dedupe.redisUrlSecretRef);
  if (spec.kafka.sasl) {
    const v = value(spec.kafka.sasl.passwordSecretRef);
    if (v !== undefined) out.saslPassword = v;
  }
  const tls = spec.kafka.tls;
  if (tls && tls.enabled !== false) {
    if (tls.caSecretRef) {
      const v = value(tls.caSecretRef);
      if (v !== undefined) out.tlsCa = v;
    }
    if (tls.clientCertSecretRef) {
      const c = tls.clientCertSecretRef;
      const cert = value({ name: c.name, key: c.certKey ?? 'tls.crt' });
      const key = value({ name: c.name, key: c.keyKey ?? 'tls.key' });
      if (cert !== undefined) out.tlsCert = cert;
      if (key !== undefined) out.tlsKey = key;
    }
  }
  for (const name of Object.keys(versions)) {
    const h = createHash('sha256');
    for (const [n, k, v] of used.filter((u) => u[0] === name).sort((a, b) => a[1].localeCompare(b[1]))) {
      h.update(`${n}\0${k}\0${v}\0`);
    }
    digests[name] = h.digest('hex');
  }
  return out;
}
