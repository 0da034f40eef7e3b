// Benchmark topics: create, count what they hold, pre-fill with the canonical workload (kept between
// runs: producing two million 1 KiB messages takes minutes), and read produce timestamps back.
import { Kafka, logLevel } from 'kafkajs';
import { produceEvents } from '../../support/produce.ts';

export function kafka(brokers: string): Kafka {
  return new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING, clientId: 'doris-sinker-bench' });
}

/** Messages held per partition (high watermark − low watermark), or undefined when the topic is missing. */
export async function topicCounts(brokers: string, topic: string): Promise<number[] | undefined> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) return undefined;
    const offs = await admin.fetchTopicOffsets(topic);
    return offs.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high) - Number(o.low));
  } finally {
    await admin.disconnect();
  }
}

/** Creates `topic`; `configs` are topic-level settings (e.g. retention.bytes). */
export async function createTopic(
  brokers: string,
  topic: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
        },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopic(brokers: string, topic: string): Promise<void> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [topic] });
  } catch {
    // already gone
  } finally {
    await admin.disconnect();
  }
}

/**
 * Makes sure `topic` has `partitions` partitions and at least `count` messages of the clean canonical
 * mix (seed 1). A topic already holding them is reused as is.
 */
export async function ensurePrefilled(
  brokers: string,
  topic: string,
  partitions: number,
  count: number,
): Promise<number> {
  let counts = await topicCounts(brokers, topic);
  if (counts && counts.length !== partitions) {
    throw new Error(`topic ${topic} has ${counts.length} partitions, the bench needs ${partitions}: delete it first`);
  }
  if (!counts) {
    await createTopic(brokers, topic, partitions);
    counts = new Array(partitions).fill(0);
  }
  const have = counts.reduce((a, b) => a + b, 0);
  if (have >= count) {
    console.log(`topic ${topic}: ${have.toLocaleString('en')} messages already there (reused)`);
    return have;
  }
  const missing = count - have;
  console.log(`topic ${topic}: producing ${missing.toLocaleString('en')} clean canonical messages (have ${have})`);
  const started = Date.now();
  let last = 0;
  await produceEvents({
    brokers: brokers.split(','),
    topic,
    count: missing,
    seed: have + 1,
    mix: 'clean',
    partitions,
    firstId: BigInt(have + 1),
    onProgress: (n) => {
      if (Date.now() - last > 5000) {
        last = Date.now();
        const rate = n / ((Date.now() - started) / 1000);
        console.log(`  produced ${n.toLocaleString('en')}/${missing.toLocaleString('en')} (${Math.round(rate)} msg/s)`);
      }
    },
  });
  console.log(`  done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return count;
}

/** Consumer group lag: Σ (high watermark − committed) over the topic's partitions (uncommitted counts from low). */
export interface GroupLag {
  /** Messages not yet committed by the group, all partitions together. */
  lag: number;
  /** Partitions whose oldest kept message is past the group's commit: retention deleted unread messages. */
  overtaken: string[];
}

export async function groupLag(admin: ReturnType<Kafka['admin']>, topic: string, group: string): Promise<GroupLag> {
  const ends = await admin.fetchTopicOffsets(topic);
  const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const byP = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  let lag = 0;
  const overtaken: string[] = [];
  for (const e of ends) {
    const c = byP.get(e.partition);
    const low = Number(e.low);
    if (c !== undefined && c >= 0 && c < low)
      overtaken.push(`partition ${e.partition}: committed ${c}, oldest kept ${low}`);
    lag += Number(e.high) - (c === undefined || c < 0 ? low : c);
  }
  return { lag, overtaken };
}
