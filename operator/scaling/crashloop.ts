// Whether every sinker pod of a sink is crash-looping, judged from the pods' status. Pure.
//
// While every pod crash-loops, adding pods adds no throughput: a sinker pulls from Kafka as fast as it
// can whatever the backlog, and its memory is bounded by its buffers (batch.maxBufferBytes), not by
// lag or by its share of partitions, so more replicas do not make a crashing one survive; the causes
// are a config or dependency the new pods share (bad credentials, a table they can't load into,
// stale exactly-once state) and the new pods would crash the same way, each restart joining and
// leaving the consumer group (a rebalance of every member). The HPA (external metrics) and KEDA
// keep scaling up in this state; the operator holds the scale-up instead and says why.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { CONTAINER_NAME } from '../desired/names.ts';

/** Restarts after which a container that is not ready counts as crash-looping. */
export const CRASH_LOOP_RESTARTS = 2;
/** How much of a container's termination message (the sinker's last log lines) a condition quotes. */
const QUOTE_CHARS = 300;

export interface CrashLoop {
  /** Pods of the sink, every one crash-looping. */
  pods: number;
  /** The pods and the most recent failure, for a condition message. */
  message: string;
}

function sinkerStatus(pod: V1Pod): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME);
}

/** A pod whose sinker is not ready and has been restarted at least CRASH_LOOP_RESTARTS times. */
export function isCrashLooping(pod: V1Pod): boolean {
  const c = sinkerStatus(pod);
  return c !== undefined && !c.ready && c.restartCount >= CRASH_LOOP_RESTARTS;
}

/** The last non-empty line of a termination message (FallbackToLogsOnError: the log's tail). */
function lastLine(message: string | undefined): string | undefined {
  const line = message
    ?.split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
  if (!line) return undefined;
  return line.length > QUOTE_CHARS ? `${line.slice(0, QUOTE_CHARS)}…` : line;
}

/**
 * Every pod of the sink (not being deleted) crash-looping, or undefined: no pods, or one that is
 * ready, starting, pending or restarted fewer times. One healthy pod is enough to keep scaling on lag.
 */
export function crashLoop(pods: readonly V1Pod[]): CrashLoop | undefined {
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  if (live.length === 0 || !live.every(isCrashLooping)) return undefined;
  // The pod restarted most (then by name): its last termination is the example a user acts on.
  const worst = [...live].sort(
    (a, b) =>
      (sinkerStatus(b)?.restartCount ?? 0) - (sinkerStatus(a)?.restartCount ?? 0) ||
      (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  )[0] as V1Pod;
  const c = sinkerStatus(worst) as V1ContainerStatus;
  const t = c.lastState?.terminated ?? c.state?.terminated;
  let detail = `pod ${worst.metadata?.name} restarted ${c.restartCount} times`;
  if (t) {
    detail += `, last exit code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}`;
    const line = lastLine(t.message);
    if (line) detail += `: ${line}`;
  }
  const n = live.length;
  return {
    pods: n,
    message: `${n === 1 ? 'the sinker pod is' : `all ${n} sinker pods are`} crash-looping (${detail}); see kubectl logs ${worst.metadata?.name} --previous`,
  };
}

/** Waiting reasons that only mean "starting": not worth a user's attention. */
const STARTING = new Set(['ContainerCreating', 'PodInitializing']);

/**
 * Why pods that are not ready are not running, for the Ready=False Progressing message: the first
 * pod (by name) that cannot be scheduled or whose sinker waits for a reason other than starting
 * (ImagePullBackOff, ErrImagePull, CreateContainerConfigError, ...). Undefined when none says.
 */
export function podsWaiting(pods: readonly V1Pod[]): string | undefined {
  const live = pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const pod of live) {
    const name = pod.metadata?.name;
    const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    if (unscheduled) return `pod ${name} not scheduled: ${unscheduled.message ?? unscheduled.reason ?? ''}`.trim();
    const w = sinkerStatus(pod)?.state?.waiting;
    if (w?.reason && !STARTING.has(w.reason)) {
      const msg = lastLine(w.message);
      return `pod ${name}: ${w.reason}${msg ? `: ${msg}` : ''}`;
    }
  }
  return undefined;
}
