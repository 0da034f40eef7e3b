// Builds a sink's status from what one reconcile learned. Pure: the reconciler gathers the inputs.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Condition, DorisSink, DorisSinkStatus, ScalingMode } from '../api/types.ts';
import { labelSelectorString } from '../desired/names.ts';
import { type ConditionUpdate, getCondition, setConditions } from '../status/conditions.ts';

export interface SchemaObservation {
  /** ok: hash known and fresh; error: the last read failed (hash may hold the last good one). */
  state: 'ok' | 'error' | 'pending';
  manual: boolean;
  hash?: string;
  columns?: number;
  observedAt?: Date;
  reason?: string;
  message?: string;
}

export interface LagObservation {
  known: boolean;
  total?: number;
  partitionsWithLag?: number;
  maxPartitionLag?: number;
  partitions?: number;
  observedAt?: Date;
  error?: string;
  /** The read failed because the sink's topic does not exist (confirmed by listing the topics). */
  missingTopic?: string;
}

/** The dead-letter topic the sinkers are configured with; `exists` absent = not known yet. */
export interface DlqObservation {
  topic: string;
  exists?: boolean;
}

export const DLQ_TOPIC_MISSING = 'DeadLetterTopicMissing';
/** Ready=False reason (and Warning Event) while every sinker pod is crash-looping. */
export const CRASH_LOOP = 'CrashLoopBackOff';

export function dlqTopicMissingMessage(topic: string): string {
  return `dead-letter topic ${topic} does not exist (or the sink's Kafka user cannot see it): create it, or set spec.dlq.kafkaTopic. The sinkers run, but unless the brokers create topics on first use, the first message that cannot be loaded holds its partition until the topic exists`;
}

/** Ready=False reason (and Warning Event) while Doris refuses the sink's setup and the sinkers hold their loads. */
export const LOAD_BLOCKED = 'LoadBlocked';

export const TOPIC_NOT_FOUND = 'TopicNotFound';

export function topicNotFoundMessage(topic: string): string {
  return `topic ${topic} does not exist (or the sink's Kafka user cannot see it): create it, or fix spec.kafka.topic. The sinkers wait for it, not ready, and start consuming once it exists`;
}

export interface StatusInput {
  sink: DorisSink;
  now: Date;
  /** A problem that stops the sink from running (bad spec, missing Secret). */
  problem?: { reason: string; message: string };
  schema: SchemaObservation;
  lag: LagObservation;
  mode: ScalingMode;
  paused: boolean;
  desiredReplicas: number;
  scaleReason: string;
  scaleMessage: string;
  deployment?: V1Deployment;
  configHash?: string;
  lastScaleTime?: Date;
  dlq?: DlqObservation;
  /** Every sinker pod is crash-looping (scaling/crashloop.ts). */
  crashLoop?: { message: string };
  /** Why pods that are not ready wait (image pull, scheduling, ...), while some are not ready. */
  podsWaiting?: string;
  /** Doris refuses the sink's setup: the sinkers' loads are held (scaling/held.ts loadHeldMessage). */
  loadBlocked?: { message: string };
}

export function buildStatus(i: StatusInput): DorisSinkStatus {
  const prev = i.sink.status ?? {};
  const generation = i.sink.metadata.generation;
  const ready = i.deployment?.status?.readyReplicas ?? 0;
  const schemaKnown = i.schema.hash !== undefined;
  const updates: ConditionUpdate[] = [];

  let readyCond: ConditionUpdate;
  if (i.problem) readyCond = { type: 'Ready', status: 'False', ...i.problem };
  else if (!schemaKnown && i.schema.state === 'error') {
    readyCond = {
      type: 'Ready',
      status: 'False',
      reason: i.schema.reason ?? 'SchemaUnavailable',
      message: `sinkers held at 0 replicas until the table's schema can be read: ${i.schema.message ?? ''}`,
    };
  } else if (i.paused)
    readyCond = { type: 'Ready', status: 'True', reason: 'Paused', message: 'spec.paused: 0 replicas' };
  else if (i.lag.missingTopic !== undefined) {
    readyCond = {
      type: 'Ready',
      status: 'False',
      reason: TOPIC_NOT_FOUND,
      message: topicNotFoundMessage(i.lag.missingTopic),
    };
  } else if (i.desiredReplicas === 0) {
    readyCond = {
      type: 'Ready',
      status: 'True',
      reason: 'Idle',
      message:
        i.mode === 'external'
          ? 'spec.replicas: 0'
          : i.lag.known
            ? 'scaled to zero: lag at or below activationLag'
            : 'at 0 replicas, held there while the lag is unknown',
    };
  } else if (i.crashLoop) {
    readyCond = { type: 'Ready', status: 'False', reason: CRASH_LOOP, message: i.crashLoop.message };
  } else if (i.loadBlocked) {
    readyCond = { type: 'Ready', status: 'False', reason: LOAD_BLOCKED, message: i.loadBlocked.message };
  } else if (ready >= i.desiredReplicas) {
    readyCond = {
      type: 'Ready',
      status: 'True',
      reason: 'Running',
      message: `${ready}/${i.desiredReplicas} replicas ready`,
    };
  } else {
    readyCond = {
      type: 'Ready',
      status: 'False',
      reason: 'Progressing',
      message: `${ready}/${i.desiredReplicas} replicas ready${i.podsWaiting ? `; ${i.podsWaiting}` : ''}`,
    };
  }
  updates.push(readyCond);

  if (i.schema.manual && schemaKnown) {
    updates.push({
      type: 'SchemaSynced',
      status: 'True',
      reason: 'Manual',
      message: `${i.schema.columns} columns from spec.schema.columns`,
    });
  } else if (i.schema.state === 'ok') {
    updates.push({
      type: 'SchemaSynced',
      status: 'True',
      reason: 'Described',
      message: `${i.schema.columns} columns, hash ${i.schema.hash}`,
    });
  } else if (i.schema.state === 'error') {
    updates.push({
      type: 'SchemaSynced',
      status: 'False',
      reason: i.schema.reason ?? 'DescribeFailed',
      message: i.schema.message ?? '',
    });
  } else {
    updates.push({ type: 'SchemaSynced', status: 'Unknown', reason: 'Pending', message: 'schema not read yet' });
  }

  if (i.paused) updates.push({ type: 'Scaling', status: 'False', reason: 'Paused', message: 'spec.paused' });
  else if (i.mode === 'external') {
    updates.push({ type: 'Scaling', status: 'False', reason: 'ExternalScaler', message: i.scaleMessage });
  } else if (!i.lag.known) {
    updates.push({ type: 'Scaling', status: 'False', reason: 'LagUnknown', message: i.scaleMessage });
  } else if (i.scaleReason === 'ScaleUpHeld') {
    updates.push({ type: 'Scaling', status: 'False', reason: 'ScaleUpHeld', message: i.scaleMessage });
  } else updates.push({ type: 'Scaling', status: 'True', reason: i.scaleReason, message: i.scaleMessage });

  // Running, but something is wrong: the reason is the first problem's, the message lists them all.
  const degraded: { reason: string; message: string }[] = [];
  if (!i.lag.known && i.lag.error) degraded.push({ reason: 'LagUnknown', message: `lag unknown: ${i.lag.error}` });
  if (i.schema.state === 'error' && schemaKnown) {
    degraded.push({ reason: 'SchemaRefreshFailed', message: `schema refresh failed: ${i.schema.message ?? ''}` });
  }
  if (i.dlq?.exists === false)
    degraded.push({ reason: DLQ_TOPIC_MISSING, message: dlqTopicMissingMessage(i.dlq.topic) });
  updates.push(
    degraded.length > 0
      ? {
          type: 'Degraded',
          status: 'True',
          reason: degraded[0]!.reason,
          message: degraded.map((d) => d.message).join('; '),
        }
      : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' },
  );

  const conditions: Condition[] = setConditions(prev.conditions, updates, generation, i.now);
  const status: DorisSinkStatus = {
    conditions,
    replicas: i.deployment?.status?.replicas ?? 0,
    readyReplicas: ready,
    desiredReplicas: i.desiredReplicas,
    labelSelector: labelSelectorString(i.sink.metadata.name),
  };
  if (generation !== undefined) status.observedGeneration = generation;
  if (i.lag.partitions !== undefined) status.partitions = i.lag.partitions;
  const lag: NonNullable<DorisSinkStatus['lag']> = {};
  if (i.lag.known) {
    if (i.lag.total !== undefined) lag.total = i.lag.total;
    if (i.lag.partitionsWithLag !== undefined) lag.partitionsWithLag = i.lag.partitionsWithLag;
    if (i.lag.maxPartitionLag !== undefined) lag.maxPartitionLag = i.lag.maxPartitionLag;
  } else if (i.lag.error) lag.error = i.lag.error;
  if (i.lag.observedAt) lag.observedAt = i.lag.observedAt.toISOString();
  if (Object.keys(lag).length > 0) status.lag = lag;
  if (i.schema.hash !== undefined) {
    status.schema = { hash: i.schema.hash };
    if (i.schema.columns !== undefined) status.schema.columns = i.schema.columns;
    if (i.schema.observedAt) status.schema.observedAt = i.schema.observedAt.toISOString();
  }
  if (i.configHash) status.configHash = i.configHash;
  const lastScale = i.lastScaleTime?.toISOString() ?? prev.lastScaleTime;
  if (lastScale) status.lastScaleTime = lastScale;
  return status;
}

/**
 * The status of a sink held by a problem (InvalidSpec, SecretMissing): the children are left as they
 * are, so the Deployment from the last good spec keeps running, and replicas / readyReplicas report it
 * (none → 0). Reporting 0 while it runs would tell an HPA reading the scale subresource that the
 * target has no pods (scaling disabled).
 */
export function heldStatus(
  sink: DorisSink,
  deployment: V1Deployment | undefined,
  problem: { reason: string; message: string },
  now: Date,
): DorisSinkStatus {
  const prev = sink.status;
  const schema: SchemaObservation = { state: 'pending', manual: false };
  if (prev?.schema?.hash) schema.hash = prev.schema.hash;
  const input: StatusInput = {
    sink,
    now,
    problem,
    schema,
    lag: { known: false },
    mode: sink.spec.scaling?.mode ?? 'builtin',
    paused: sink.spec.paused ?? false,
    desiredReplicas: prev?.desiredReplicas ?? deployment?.spec?.replicas ?? 0,
    scaleReason: problem.reason,
    scaleMessage: problem.message,
  };
  if (deployment) input.deployment = deployment;
  const status = buildStatus(input);
  // Neither the schema nor Kafka was read for this generation: SchemaSynced and Degraded stay as last
  // evaluated, with that evaluation's generation and transition time, rather than turn 'schema not
  // read yet' and 'AsExpected' (observedGeneration then tells which generation they speak of).
  status.conditions = status.conditions?.map((c) =>
    c.type === 'SchemaSynced' || c.type === 'Degraded' ? (getCondition(prev?.conditions, c.type) ?? c) : c,
  );
  return status;
}
