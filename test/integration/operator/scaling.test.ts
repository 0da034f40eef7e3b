// Lag scaling against real Kafka: the admin reader's offsets, then the controller scaling a sink's
// Deployment up (change-limited, capped at the partition count) and down only after the window.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { minimalSink } from '../../../operator/api/example.ts';
import { Controller } from '../../../operator/controller/controller.ts';
import { OperatorMetrics } from '../../../operator/controller/metrics.ts';
import { KafkaOffsetsReader } from '../../../operator/scaling/kafka-offsets.ts';
import { summarizeLag } from '../../../operator/scaling/lag.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { idempotentProducer } from '../../support/produce.ts';
import { testbed } from '../../support/testbed.ts';
import {
  applyCrd,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  quietLog,
  waitFor,
} from './support.ts';

const PARTITIONS = 8;
const PER_PARTITION = 1000;
let kafka: Kafka;
let admin: Admin;
let brokers: string[];
const topic = `scale-${randomBytes(3).toString('hex')}`;
const group = `${topic}-group`;

before(async () => {
  brokers = [testbed('KAFKA_BOOTSTRAP')];
  kafka = new Kafka({ clientId: 'operator-scaling-test', brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await createTopicAndWait(admin, topic, PARTITIONS);
  const producer = idempotentProducer(kafka);
  await producer.connect();
  for (let p = 0; p < PARTITIONS; p++) {
    const messages = Array.from({ length: PER_PARTITION }, (_, i) => ({
      partition: p,
      value: JSON.stringify({ id: i }),
    }));
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
});

after(async () => {
  await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin?.disconnect();
});

async function commit(offsets: (p: number) => number): Promise<void> {
  await admin.setOffsets({
    groupId: group,
    topic,
    partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, offset: String(offsets(p)) })),
  });
}

test('the admin reader returns end offsets and the group commits; lag follows the rules', async () => {
  const reader = new KafkaOffsetsReader();
  try {
    let offsets = await reader.read({ brokers }, topic, group);
    assert.equal(offsets.length, PARTITIONS);
    assert.ok(offsets.every((o) => o.high === BigInt(PER_PARTITION) && o.low === 0n));
    assert.ok(
      offsets.every((o) => o.committed === undefined || o.committed < 0n),
      'no commits yet',
    );
    assert.equal(summarizeLag(offsets, true).total, BigInt(PARTITIONS * PER_PARTITION), 'earliest: whole range');
    assert.equal(summarizeLag(offsets, false).total, BigInt(PARTITIONS), 'latest: 1 per partition with data');
    await commit((p) => (p < 4 ? 600 : PER_PARTITION));
    offsets = await reader.read({ brokers }, topic, group);
    assert.equal(offsets[0]?.committed, 600n);
    const s = summarizeLag(offsets, true);
    assert.equal(s.total, 4n * 400n);
    assert.equal(s.partitionsWithLag, 4);
    await assert.rejects(reader.read({ brokers: ['127.0.0.1:1'] }, topic, group), /reading offsets of topic/);
  } finally {
    await reader.close();
  }
});

test('the admin reader keeps working when a topic it read is deleted and another created (the demo does this)', async () => {
  const reader = new KafkaOffsetsReader();
  const gone = `${topic}-gone`;
  const late = `${topic}-late`;
  // Its own admin: the file's shared one would otherwise carry the deleted topic into later tests.
  const topics = kafka.admin();
  await topics.connect();
  try {
    await createTopicAndWait(topics, gone, 1);
    assert.equal((await reader.read({ brokers }, gone, group)).length, 1);
    await topics.deleteTopics({ topics: [gone] });
    await createTopicAndWait(topics, late, 2);
    const offsets = await reader.read({ brokers }, late, group);
    assert.deepEqual(
      offsets.map((o) => [o.partition, o.high]),
      [
        [0, 0n],
        [1, 0n],
      ],
    );
  } finally {
    await reader.close();
    await topics.deleteTopics({ topics: [late] }).catch(() => {});
    await topics.disconnect();
  }
});

test('the controller scales on lag: up at once (change-limited), capped at partitions, down after the window', async () => {
  const kc: KubeConfig = kubeConfig();
  await applyCrd(kc);
  const ns = await freshNamespace(kc, 'scaling');
  const controller = new Controller({
    kc,
    namespace: ns,
    defaultImage: 'doris-sinker:test',
    identity: 'scaling-test',
    metrics: new OperatorMetrics(),
    log: quietLog(),
  });
  try {
    await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
    await commit(() => 0);
    const sink = minimalSink('scaled', ns);
    delete sink.metadata.uid;
    delete sink.metadata.generation;
    sink.spec = {
      ...sink.spec,
      kafka: { brokers, topic, groupId: group, fromEarliest: true },
      schema: { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] },
      scaling: {
        minReplicas: 1,
        maxReplicas: 20,
        lagPerReplica: 500,
        pollInterval: '1s',
        scaleDownStabilization: '8s',
      },
    };
    await createSink(kc, sink);
    await controller.start();
    const apps = kc.makeApiClient(AppsV1Api);
    const replicas = async () =>
      (await apps.readNamespacedDeployment({ namespace: ns, name: 'scaled' })).spec?.replicas;
    const status = async () => (await getSink(kc, ns, 'scaled')).status;

    // lag 8000 / 500 = 16 wanted; first step from 1 is limited to +4 → 5
    const first = await waitFor('first scale-up', async () => {
      const s = await status();
      return s?.lag?.total === PARTITIONS * PER_PARTITION && s.desiredReplicas && s.desiredReplicas > 1 ? s : undefined;
    });
    assert.equal(first.desiredReplicas, 5);
    assert.equal(first.partitions, PARTITIONS);
    assert.equal(getCondition(first.conditions, 'Scaling')?.reason, 'ScaleUpLimited');
    assert.equal(await replicas(), 5);
    // next period: capped at the partition count, not maxReplicas or the raw 16
    const capped = await waitFor(
      'capped at partitions',
      async () => ((await status())?.desiredReplicas === 8 ? true : undefined),
      30_000,
    );
    assert.ok(capped);
    assert.equal(await replicas(), 8);

    // the group catches up: the recommendation drops to 1, but the window holds 8 for a while
    // (the window runs from the last high recommendation, at the latest one poll after the commit began)
    const commitAt = Date.now();
    await commit(() => PER_PARTITION);
    await waitFor('lag 0 observed', async () => ((await status())?.lag?.total === 0 ? true : undefined), 10_000);
    assert.equal(await replicas(), 8, 'no scale-down right away');
    await waitFor('scale down after the window', async () => ((await replicas()) === 1 ? true : undefined), 30_000);
    const heldMs = Date.now() - commitAt;
    assert.ok(heldMs >= 5_000, `held ${heldMs} ms before scaling down (window 8 s)`);
    // status is written after the Deployment
    const s = await waitFor('status follows', async () => {
      const x = await status();
      return x?.desiredReplicas === 1 ? x : undefined;
    });
    assert.ok(s?.lastScaleTime);
  } finally {
    await controller.stop();
    await deleteNamespace(kc, ns);
  }
});

test('minReplicas 0, activationLag above the partition count, a new group reading from the end: one sinker starts', async () => {
  // The group has never committed: lag is 1 per partition holding data (8), not above activationLag
  // 100. Held at 0 no sinker would ever commit, so the sink would never start however much was written.
  const kc: KubeConfig = kubeConfig();
  await applyCrd(kc);
  const ns = await freshNamespace(kc, 'activate');
  const controller = new Controller({
    kc,
    namespace: ns,
    defaultImage: 'doris-sinker:test',
    identity: 'activate-test',
    metrics: new OperatorMetrics(),
    log: quietLog(),
  });
  try {
    await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
    const sink = minimalSink('fresh', ns);
    delete sink.metadata.uid;
    delete sink.metadata.generation;
    sink.spec = {
      ...sink.spec,
      kafka: { brokers, topic, groupId: `${topic}-never-committed`, fromEarliest: false },
      schema: { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] },
      scaling: { minReplicas: 0, maxReplicas: 4, lagPerReplica: 500, activationLag: 100, pollInterval: '1s' },
    };
    await createSink(kc, sink);
    await controller.start();
    const s = await waitFor('lag read', async () => {
      const x = (await getSink(kc, ns, 'fresh')).status;
      return x?.lag?.total !== undefined ? x : undefined;
    });
    assert.equal(s.lag?.total, PARTITIONS, '1 for each partition holding data');
    assert.equal(s.desiredReplicas, 1);
    assert.notEqual(getCondition(s.conditions, 'Ready')?.reason, 'Idle');
    const apps = kc.makeApiClient(AppsV1Api);
    assert.equal((await apps.readNamespacedDeployment({ namespace: ns, name: 'fresh' })).spec?.replicas, 1);
  } finally {
    await controller.stop();
    await deleteNamespace(kc, ns);
  }
});
