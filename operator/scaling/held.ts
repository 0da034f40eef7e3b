// Whether a sink's loads are held: Doris refuses the sink's setup (a wrong or rotated password, a
// missing privilege, no such database or table), and every sinker retries its batch under the same
// label, commits nothing and answers /readyz 503 saying why (sinker/pipeline.ts loadBlocked). Pure:
// the reconciler fetches the answers.
//
// While loads are held the lag only grows (nothing commits), but more replicas cannot help: each new
// one meets the same refusal, sends Doris its own refused loads, and its joining rebalances the group.
// The pod's status says only "not ready"; why is in the sinker's /readyz, which the kubelet does not
// pass on (an HTTP probe's event carries the status code, not the body). So the operator asks the
// pods that are running but not ready for their /readyz, as Prometheus scrapes their /metrics, on the
// port they declare. Pods on the host network declare none (each binds a free port): not asked.
import type { V1Pod } from '@kubernetes/client-node';
import { CONTAINER_NAME } from '../desired/names.ts';

/**
 * The sinker's /readyz line while its loads are held: its check named "doris" (sinker/run.ts) and
 * the words of SinkPipeline.loadBlocked, then Doris's reason.
 */
export const HELD_LINE_PREFIX = "doris: Doris refuses the sink's setup; loads held, nothing committed: ";
/** Pods asked per reconcile (in parallel): one held pod is enough to know. */
export const MAX_PODS_ASKED = 5;
/** How much of Doris's reason a condition quotes. */
const QUOTE_CHARS = 400;

export interface ReadyzTarget {
  pod: string;
  url: string;
}

export interface ReadyzAnswer {
  pod: string;
  /** HTTP status; undefined when nothing answered (refused, timed out, a network policy). */
  status?: number;
  body?: string;
}

export interface LoadHeld {
  /** Pods whose /readyz says their loads are held, of `asked`. */
  pods: number;
  asked: number;
  /** The first of them (by name), whose reason is quoted. */
  pod: string;
  /** Doris's reason, secrets masked, bounded. */
  reason: string;
}

/**
 * The /readyz of the sink's pods that are running but not ready (not being deleted, sinker container
 * running), each on its pod IP and declared `metrics` port: at most MAX_PODS_ASKED, those running
 * longest first (then by name). A held sinker has run a while; pods a scale-up or a rollout just
 * started are not ready yet for their own reasons, and asking only them would miss the hold.
 */
export function readyzTargets(pods: readonly V1Pod[]): ReadyzTarget[] {
  const out: ReadyzTarget[] = [];
  const running = pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((pod) => ({ pod, status: pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME) }))
    .filter(({ status }) => status !== undefined && !status.ready && status.state?.running !== undefined)
    // Unknown start: last (NaN between two unknowns falls through to the name).
    .map(({ pod, status }) => {
      const started = status?.state?.running?.startedAt;
      return { pod, since: started ? new Date(started).getTime() : Number.POSITIVE_INFINITY };
    })
    .sort((a, b) => a.since - b.since || (a.pod.metadata?.name ?? '').localeCompare(b.pod.metadata?.name ?? ''));
  for (const { pod } of running) {
    const ip = pod.status?.podIP;
    if (!ip || pod.spec?.hostNetwork) continue;
    const container = pod.spec?.containers.find((c) => c.name === CONTAINER_NAME);
    const port = container?.ports?.find((p) => p.name === 'metrics')?.containerPort;
    if (!port) continue;
    const host = ip.includes(':') ? `[${ip}]` : ip;
    out.push({ pod: pod.metadata?.name ?? '', url: `http://${host}:${port}/readyz` });
    if (out.length >= MAX_PODS_ASKED) break;
  }
  return out;
}

/** Doris's reason in a /readyz body that says the loads are held, else undefined. */
export function heldReason(body: string): string | undefined {
  for (const line of body.split('\n')) {
    if (line.startsWith(HELD_LINE_PREFIX)) return line.slice(HELD_LINE_PREFIX.length).trim() || 'no reason given';
  }
  return undefined;
}

/**
 * `text` with the sink's secret values and any URL's password replaced by ***. The sinker keeps its
 * password out of what it reports; this is the operator's own guard before a status or an Event,
 * which anyone who may read the DorisSink sees.
 */
export function maskSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  // Longest first: a secret that contains another is masked whole.
  const values = [...new Set(secrets.filter((s): s is string => !!s))].sort((a, b) => b.length - a.length);
  for (const s of values) out = out.split(s).join('***');
  // scheme://user:password@host: the password up to the last @ before the next space; and a
  // password query parameter (ioredis reads redis://host?password=...).
  return out
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s]*@/gi, '$1:***@')
    .replace(/([?&]password=)[^&#\s]*/gi, '$1***');
}

/** Whether the answers say the sink's loads are held, and Doris's reason (masked) if so. */
export function loadHeld(
  answers: readonly ReadyzAnswer[],
  secrets: readonly (string | undefined)[],
): LoadHeld | undefined {
  const held = answers
    .filter((a) => a.status === 503 && a.body !== undefined)
    .map((a) => ({ pod: a.pod, reason: heldReason(a.body as string) }))
    .filter((a): a is { pod: string; reason: string } => a.reason !== undefined)
    .sort((a, b) => a.pod.localeCompare(b.pod));
  const first = held[0];
  if (!first) return undefined;
  const masked = maskSecrets(first.reason, secrets);
  return {
    pods: held.length,
    asked: answers.length,
    pod: first.pod,
    reason: masked.length > QUOTE_CHARS ? `${masked.slice(0, QUOTE_CHARS)}…` : masked,
  };
}

/**
 * Why running pods are not ready, when their loads are not held: the first line of the first asked
 * pod's /readyz 503 (by name; masked, bounded), else, for a running pod not asked or not answering
 * (host network: its exec probe's output is in its events), where to look. Undefined when no pod
 * runs unready.
 */
export function notReadyReason(
  pods: readonly V1Pod[],
  answers: readonly ReadyzAnswer[],
  secrets: readonly (string | undefined)[],
): string | undefined {
  const answered = answers
    .filter((a) => a.status === 503 && a.body?.trim())
    .sort((a, b) => a.pod.localeCompare(b.pod))[0];
  if (answered) {
    const line = maskSecrets((answered.body as string).trim().split('\n')[0] as string, secrets);
    return `pod ${answered.pod} not ready: ${line.length > QUOTE_CHARS ? `${line.slice(0, QUOTE_CHARS)}…` : line}`;
  }
  const running = pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .filter((p) => {
      const c = p.status?.containerStatuses?.find((s) => s.name === CONTAINER_NAME);
      return c !== undefined && !c.ready && c.state?.running !== undefined;
    })
    .map((p) => p.metadata?.name ?? '')
    .sort()[0];
  return running === undefined
    ? undefined
    : `pod ${running} running, not ready: its readiness probe says why (kubectl describe pod ${running})`;
}

/** The Ready=False message while loads are held. */
export function loadHeldMessage(h: LoadHeld): string {
  const who = h.asked === 1 ? `pod ${h.pod}` : `${h.pods} of ${h.asked} sinker pods asked, e.g. ${h.pod}`;
  return `Doris refuses the sink's setup, so the sinkers hold their loads and commit nothing (${who}): ${h.reason}. Fix spec.doris (user, password Secret, database, table) or the user's privileges in Doris; the sinkers load on by themselves once Doris accepts`;
}
