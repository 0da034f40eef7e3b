// Reads a consumer group's committed offsets and the topic's log-start/end offsets with the kafkajs
// admin client. One admin connection per distinct cluster connection, reused across polls.
import { createHash } from 'node:crypto';
import { type Admin, Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { type PartitionOffsets, parseOffset } from './lag.ts';

export interface KafkaConnection {
  brokers: string[];
  clientId?: string;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  tls?: { ca?: string; cert?: string; key?: string; insecureSkipVerify?: boolean };
  /** Per-request timeout, ms. */
  requestTimeoutMs?: number;
}

function connectionKey(c: KafkaConnection): string {
  // Hashed so credentials never sit in a map key that could end up in a log line.
  return createHash('sha256').update(JSON.stringify(c)).digest('hex');
}

/** Admin connections unused this long are closed (their sink was deleted or re-pointed). */
const IDLE_CLOSE_MS = 10 * 60_000;

export class KafkaOffsetsReader {
  #admins = new Map<string, { admin: Admin; connected: Promise<void>; usedAt: number }>();

  #closeIdle(now: number): void {
    for (const [key, e] of this.#admins) {
      if (now - e.usedAt > IDLE_CLOSE_MS) {
        this.#admins.delete(key);
        e.admin.disconnect().catch(() => {});
      }
    }
  }

  async #admin(c: KafkaConnection): Promise<Admin> {
    const key = connectionKey(c);
    this.#closeIdle(Date.now());
    let entry = this.#admins.get(key);
    if (!entry) {
      const kafka = new Kafka({
        clientId: c.clientId ?? 'doris-sinker-operator',
        brokers: c.brokers,
        logLevel: logLevel.NOTHING,
        connectionTimeout: 5000,
        requestTimeout: c.requestTimeoutMs ?? 10_000,
        retry: { retries: 2, initialRetryTime: 200 },
        ...(c.sasl ? { sasl: c.sasl as SASLOptions } : {}),
        ...(c.tls
          ? {
              ssl: {
                rejectUnauthorized: !c.tls.insecureSkipVerify,
                ...(c.tls.ca ? { ca: [c.tls.ca] } : {}),
                ...(c.tls.cert ? { cert: c.tls.cert } : {}),
                ...(c.tls.key ? { key: c.tls.key } : {}),
              },
            }
          : {}),
      });
      const admin = kafka.admin();
      entry = { admin, connected: admin.connect(), usedAt: Date.now() };
      this.#admins.set(key, entry);
    }
    entry.usedAt = Date.now();
    try {
      await entry.connected;
    } catch (err) {
      // Forget a failed connection so the next poll starts afresh.
      this.#admins.delete(key);
      await entry.admin.disconnect().catch(() => {});
      throw err;
    }
    return entry.admin;
  }

  /** Closes and forgets the admin client of `c`, so the next call starts with fresh metadata. */
  async #forget(c: KafkaConnection): Promise<void> {
    const key = connectionKey(c);
    const entry = this.#admins.get(key);
    if (!entry) return;
    this.#admins.delete(key);
    await entry.admin.disconnect().catch(() => {});
  }

  /**
   * Offsets of every partition of `topic` with `groupId`'s commits. Throws naming topic and group.
   * A kafkajs client refreshes metadata for every topic it ever read; once one of them is deleted,
   * each refresh fails with UNKNOWN_TOPIC_OR_PARTITION and so does every read, of any topic, for
   * good. On a failure the client is replaced and the read tried once more.
   */
  async read(c: KafkaConnection, topic: string, groupId: string): Promise<PartitionOffsets[]> {
    try {
      return await this.#read(c, topic, groupId);
    } catch {
      await this.#forget(c);
    }
    try {
      return await this.#read(c, topic, groupId);
    } catch (err) {
      await this.#forget(c);
      throw new Error(`reading offsets of topic ${topic} for group ${groupId}: ${(err as Error).message}`);
    }
  }

  async #read(c: KafkaConnection, topic: string, groupId: string): Promise<PartitionOffsets[]> {
    const admin = await this.#admin(c);
    // allSettled, not all: a request still retrying when its sibling failed would otherwise run on
    // inside a client being replaced, reconnecting it and keeping the process alive.
    const [endsResult, groupsResult] = await Promise.allSettled([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    if (endsResult.status === 'rejected') throw endsResult.reason;
    if (groupsResult.status === 'rejected') throw groupsResult.reason;
    const ends = endsResult.value;
    const groups = groupsResult.value;
    const committed = new Map<number, string>();
    for (const t of groups) {
      if (t.topic !== topic) continue;
      for (const p of t.partitions) committed.set(p.partition, p.offset);
    }
    return ends
      .map((e) => {
        const at = `topic ${topic} partition ${e.partition}`;
        const p: PartitionOffsets = {
          partition: e.partition,
          low: parseOffset(e.low, at) ?? 0n,
          high: parseOffset(e.high, at) ?? 0n,
        };
        const c = parseOffset(committed.get(e.partition), at);
        if (c !== undefined) p.committed = c;
        return p;
      })
      .sort((a, b) => a.partition - b.partition);
  }

  /**
   * Whether `topic` exists (and the connection's user may see it). Lists the cluster's topics: a
   * metadata request naming the topic fails when it is missing, and replaces the metadata the admin
   * client keeps for the offset reads.
   */
  async topicExists(c: KafkaConnection, topic: string): Promise<boolean> {
    try {
      const admin = await this.#admin(c);
      return (await admin.listTopics()).includes(topic);
    } catch (err) {
      throw new Error(`listing the topics to find ${topic}: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    const entries = [...this.#admins.values()];
    this.#admins.clear();
    await Promise.all(entries.map((e) => e.admin.disconnect().catch(() => {})));
  }
}
