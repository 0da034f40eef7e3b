// The owner fence in Redis (DedupeStore.claim / recordIntent with a token) against the real Redis:
// once a new run claims a partition, an older run's new intents are refused, other partitions and
// token-less callers are unaffected, and the intents recorded before the claim stay for settling.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { DedupeStore, PartitionFencedError } from '../../../sinker/dedupe/store.ts';
import { testbed } from '../../support/testbed.ts';

const PREFIX = `it-fence-${randomUUID().slice(0, 8)}:`;
const stores: DedupeStore[] = [];

async function open(): Promise<DedupeStore> {
  const store = new DedupeStore({
    config: { redis_url: testbed('REDIS_URL'), required: true, key_prefix: PREFIX, key_fields: [], ttl: 60 },
    sink: 'fence',
    topic: 't',
  });
  await store.connect();
  stores.push(store);
  return store;
}

after(async () => {
  const redis = new Redis(testbed('REDIS_URL'));
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  for (const s of stores) await s.close();
});

const intent = (first: string, last: string) => ({ label: `l-${first}`, first, last, created: Date.now() });

test('a claimed partition refuses the previous owner new intents; settle still sees the old ones', async () => {
  const zombie = await open();
  const owner = await open();
  await zombie.claim(3, 'run-a');
  await zombie.recordIntent(3, intent('0', '99'), 'run-a');
  await owner.claim(3, 'run-b');
  await assert.rejects(zombie.recordIntent(3, intent('100', '199'), 'run-a'), PartitionFencedError);
  await owner.recordIntent(3, intent('100', '149'), 'run-b');
  // Another partition, and callers without a token (replay, tools), are not fenced.
  await zombie.claim(4, 'run-a');
  await zombie.recordIntent(4, intent('0', '9'), 'run-a');
  await zombie.recordIntent(3, intent('500', '509'));
  const state = await owner.partitionState(3);
  assert.deepEqual(state.intents.map((i) => i.first).sort(), ['0', '100', '500']);
  // A partition nobody claimed yet (state from before the fence existed) accepts any token.
  await owner.recordIntent(9, intent('0', '1'), 'run-x');
});
