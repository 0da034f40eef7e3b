// The DLQ integration tests' Kafka: a client of the test bed's broker, and topics of a test file's
// own, created before its tests (a broker that cannot be reached fails them, saying how to start
// it) and deleted after them.
import { Kafka, logLevel } from 'kafkajs';
import { createTopicAndWait } from '../../support/kafka-topic.ts';
import { testbed } from '../../support/testbed.ts';

export interface OwnTopic {
  name: string;
  partitions: number;
  /** Topic configs set after creation, e.g. `{ 'max.message.bytes': '20000' }`. */
  configs?: Record<string, string>;
}

export async function createOwnTopics(clientId: string, topics: readonly OwnTopic[]): Promise<Kafka> {
  const kafka = new Kafka({ clientId, brokers: [testbed('KAFKA_BOOTSTRAP')], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    for (const t of topics) {
      await createTopicAndWait(admin, t.name, t.partitions);
      if (!t.configs) continue;
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: 2, // TOPIC
            name: t.name,
            configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
          },
        ],
      });
    }
  } catch (e) {
    throw new Error(`Kafka of the test bed is not reachable: run \`test/infra/up kafka\` (${(e as Error).message})`);
  } finally {
    await admin.disconnect();
  }
  return kafka;
}

export async function deleteOwnTopics(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [...topics] }).catch(() => {});
  await admin.disconnect();
}
