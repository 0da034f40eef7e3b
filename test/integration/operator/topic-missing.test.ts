// A sink whose topic does not exist, against real Kafka: Ready=False TopicNotFound naming the topic
// (not only "lag unknown" with the broker's words), one Warning Event; creating the topic clears it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Admin } from 'kafkajs';
import { minimalSink } from '../../../operator/api/example.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import type { Controller } from '../../../operator/controller/controller.ts';
import { getCondition } from '../../../operator/status/conditions.ts';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { testbed } from '../../support/testbed.ts';
import {
  applyCrd,
  connectedAdmin,
  createSecret,
  createSink,
  deleteNamespace,
  freshNamespace,
  getSink,
  kubeConfig,
  startController,
  waitFor,
} from './support.ts';

const topic = `absent-${randomBytes(3).toString('hex')}`;
let kc: KubeConfig;
let ns: string;
let admin: Admin;
let controller: Controller;

before(async () => {
  kc = kubeConfig();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'topic-missing');
  admin = await connectedAdmin('operator-topic-missing-test');
  await createSecret(kc, ns, 'redis', { url: 'redis://127.0.0.1:16379' });
  controller = await startController(kc, ns, 'topic-missing-test');
});

after(async () => {
  await controller?.stop();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin?.disconnect();
  if (ns) await deleteNamespace(kc, ns);
});

test('a topic that does not exist is Ready=False TopicNotFound until it is created', async () => {
  const sink: DorisSink = minimalSink('absent', ns);
  delete sink.metadata.uid;
  delete sink.metadata.generation;
  sink.spec = {
    ...sink.spec,
    kafka: { brokers: [testbed('KAFKA_BOOTSTRAP')], topic },
    schema: { mode: 'manual', columns: [{ name: 'id', type: 'BIGINT' }] },
    scaling: { pollInterval: '1s' },
  };
  await createSink(kc, sink);
  const missing = await waitFor('Ready=False TopicNotFound', async () => {
    const s = await getSink(kc, ns, 'absent');
    return getCondition(s.status?.conditions, 'Ready')?.reason === 'TopicNotFound' ? s : undefined;
  });
  const ready = getCondition(missing.status?.conditions, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.match(ready?.message ?? '', new RegExp(`^topic ${topic} does not exist`));
  assert.equal(missing.status?.lag?.total, undefined, 'lag unknown, not 0');
  assert.equal(missing.status?.desiredReplicas, 1, 'held at minReplicas');

  await createTopicAndWait(admin, topic, 2);
  const found = await waitFor('TopicNotFound cleared', async () => {
    const s = await getSink(kc, ns, 'absent');
    return s.status?.lag?.total !== undefined ? s : undefined;
  });
  assert.notEqual(getCondition(found.status?.conditions, 'Ready')?.reason, 'TopicNotFound');
  assert.equal(found.status?.partitions, 2);
  const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
  assert.equal(events.items.filter((e) => e.reason === 'TopicNotFound').length, 1, 'one Warning Event');
});
