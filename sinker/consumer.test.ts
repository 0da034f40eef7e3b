import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { parseConfig } from './config/load.ts';
import { consumerOptions, fetchMaxBytes, SinkConsumer } from './consumer.ts';
import { createLogger } from './logger.ts';

test('consumer options: metadata refreshed every kafka.metadata_max_age seconds (default 60, not kafkajs 300)', () => {
  const defaults = consumerOptions(parseConfig('', { env: {} }).kafka);
  assert.equal(defaults.metadataMaxAge, 60_000);
  const set = consumerOptions(parseConfig('kafka: {metadata_max_age: 5}', { env: {} }).kafka);
  assert.equal(set.metadataMaxAge, 5000);
});

test('consumer options: timeouts in ms, fetch sizes from max_fetch_bytes, no topic auto-creation', () => {
  const o = consumerOptions(
    parseConfig('kafka: {group_id: g, session_timeout: 10, heartbeat_interval: 2, max_fetch_bytes: 2048}', { env: {} })
      .kafka,
  );
  assert.equal(o.groupId, 'g');
  assert.equal(o.sessionTimeout, 10_000);
  assert.equal(o.heartbeatInterval, 2000);
  assert.equal(o.maxBytesPerPartition, 2048);
  assert.equal(o.maxBytes, fetchMaxBytes(2048));
  assert.equal(o.allowAutoTopicCreation, false);
});

test('kafka.metadata_max_age outside 1..3600 is refused naming the key', () => {
  assert.throws(() => parseConfig('kafka: {metadata_max_age: 0}', { env: {} }), /kafka\.metadata_max_age/);
  assert.throws(() => parseConfig('kafka: {metadata_max_age: 3601}', { env: {} }), /kafka\.metadata_max_age/);
});

/**
 * kafkajs's consumer as far as SinkConsumer uses it. Like kafkajs, it has no consumer group between
 * a crash and its restart (onCrash disconnects first, which drops the group; the restart builds a
 * new one with nothing paused), and pause/resume throw then.
 */
class FakeKafkaConsumer {
  readonly events = { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', CRASH: 'crash', STOP: 'stop' };
  readonly #listeners = new Map<string, ((e: unknown) => void)[]>();
  /** The consumer group's paused partitions; undefined while there is no group. */
  group: Set<number> | undefined;
  on(event: string, fn: (e: unknown) => void): void {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), fn]);
  }
  emit(event: string, payload: unknown): void {
    for (const fn of this.#listeners.get(event) ?? []) fn({ payload });
  }
  #group(): Set<number> {
    if (!this.group) throw new Error('Consumer group was not initialized, consumer#run must be called first');
    return this.group;
  }
  pause(tps: { partitions: number[] }[]): void {
    for (const p of tps.flatMap((t) => t.partitions)) this.#group().add(p);
  }
  resume(tps: { partitions: number[] }[]): void {
    for (const p of tps.flatMap((t) => t.partitions)) this.#group().delete(p);
  }
  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async run(): Promise<void> {
    this.group = new Set();
  }
  async disconnect(): Promise<void> {
    this.group = undefined;
  }
}

test('pause and resume between a kafkajs crash and its restart do not throw; the pause holds after the rejoin', async () => {
  const fake = new FakeKafkaConsumer();
  const kafka = { consumer: () => fake } as unknown as Kafka;
  const config = parseConfig('kafka: {topic: t}', { env: {} });
  const consumer = new SinkConsumer(kafka, config.kafka, createLogger({ ...config.log, level: 'fatal' }));
  // The pipeline's rule: while backpressured every assigned partition is paused (re-applied on each assignment).
  let backpressured = false;
  const apply = () => (backpressured ? consumer.pause(consumer.assignment) : consumer.resume(consumer.assignment));
  await consumer.start({ onAssignment: apply, eachBatch: async () => {} }, 1);
  const join = (memberId: string) => fake.emit('join', { memberId, memberAssignment: { t: [0, 1] } });
  join('m1');
  backpressured = true;
  apply();
  assert.deepEqual([...fake.group!].sort(), [0, 1]);

  // kafkajs crashed (a broker restart) and restarts itself: no group until then.
  fake.group = undefined;
  fake.emit('stop', {});
  fake.emit('crash', { error: new Error('broker gone'), restart: true });
  // Loads finishing meanwhile free memory (resume), chunks mapped meanwhile fill it again (pause).
  backpressured = false;
  assert.doesNotThrow(apply);
  backpressured = true;
  assert.doesNotThrow(apply);

  // The restarted group starts with nothing paused; the rejoin applies the pause again.
  fake.group = new Set();
  join('m2');
  assert.deepEqual([...fake.group].sort(), [0, 1]);
  assert.deepEqual(consumer.pausedPartitions.sort(), [0, 1]);
  backpressured = false;
  apply();
  assert.deepEqual([...fake.group], []);
  assert.deepEqual(consumer.pausedPartitions, []);
});

test('a consumer that crashes again on each restart (non-retriable, e.g. no rights on the group) is restarted with growing back-off', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const fake = new FakeKafkaConsumer();
  let runs = 0;
  fake.run = async () => {
    runs++;
    fake.group = new Set();
    // kafkajs's run: the join fails, onCrash disconnects and reports a crash it will not restart.
    if (runs > 1) crash();
  };
  const crash = () => {
    fake.group = undefined;
    fake.emit('crash', { error: new Error('Not authorized to access group'), restart: false });
  };
  const config = parseConfig('kafka: {topic: t}', { env: {} });
  const consumer = new SinkConsumer(
    { consumer: () => fake } as unknown as Kafka,
    config.kafka,
    createLogger({ ...config.log, level: 'fatal' }),
  );
  await consumer.start({ onAssignment: () => {}, eachBatch: async () => {} }, 1);
  const elapse = async (ms: number) => {
    for (let i = 0; i < ms / 100; i++) {
      t.mock.timers.tick(100);
      for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
    }
  };
  crash();
  const runsAt: number[] = [];
  for (let s = 0; s < 16; s++) {
    await elapse(1000);
    runsAt.push(runs);
  }
  // Restarts after 1, 2, 4, 8 s (at 1, 3, 7, 15 s), not once a second.
  assert.deepEqual(runsAt, [2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5]);
  await consumer.stop();
});

test('a consumer that cannot connect at start (Kafka gone again since start-up reached it) is retried with back-off, not thrown', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const fake = new FakeKafkaConsumer();
  let connects = 0;
  fake.connect = async () => {
    connects++;
    // kafkajs's connect once its own retries are spent.
    if (connects <= 2) throw new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9');
  };
  const config = parseConfig('kafka: {topic: t}', { env: {} });
  const consumer = new SinkConsumer(
    { consumer: () => fake } as unknown as Kafka,
    config.kafka,
    createLogger({ ...config.log, level: 'fatal' }),
  );
  // Before: start rejected with the connection error, which ended the process (exit 1, a stack trace).
  await consumer.start({ onAssignment: () => {}, eachBatch: async () => {} }, 1);
  assert.equal(consumer.joined, false);
  const elapse = async (ms: number) => {
    for (let i = 0; i < ms / 100; i++) {
      t.mock.timers.tick(100);
      for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
    }
  };
  await elapse(1000);
  assert.equal(connects, 2);
  assert.equal(fake.group, undefined, 'running without a connection');
  await elapse(2000);
  assert.equal(connects, 3);
  assert.ok(fake.group, 'not running once Kafka answers');
  fake.emit('join', { memberId: 'm1', memberAssignment: { t: [0, 1] } });
  assert.equal(consumer.joined, true);
  assert.deepEqual(consumer.assignment, [0, 1]);
  await consumer.stop();
});
