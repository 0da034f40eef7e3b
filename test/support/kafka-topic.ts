// Creates a Kafka topic and waits until every partition has a leader. kafkajs's own
// `waitForLeaders` retries only LEADER_NOT_AVAILABLE, but a busy KRaft broker may first answer
// UNKNOWN_TOPIC_OR_PARTITION for a topic it has just created (seen with tests running side by side),
// which made createTopics throw; here any error retries until the deadline.
import type { Admin } from 'kafkajs';

export async function createTopicAndWait(
  admin: Admin,
  topic: string,
  partitions: number,
  timeoutMs = 30_000,
): Promise<void> {
  // waitForLeaders defaults to true in kafkajs: off, the loop below waits instead.
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: false,
  });
  await waitForTopicLeaders(admin, topic, partitions, timeoutMs);
}

/** Waits until `topic` has `partitions` partitions, each with a leader; retries on any error. */
export async function waitForTopicLeaders(
  admin: Admin,
  topic: string,
  partitions: number,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no metadata yet';
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      const ps = md.topics[0]?.partitions ?? [];
      if (ps.length === partitions && ps.every((p) => p.leader >= 0)) return;
      last = `${ps.length} of ${partitions} partitions, leaders ${ps.map((p) => p.leader).join(',')}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`topic ${topic}: partitions without a leader after ${timeoutMs} ms (${last})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
