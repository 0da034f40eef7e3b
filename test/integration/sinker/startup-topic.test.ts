// A sinker whose topic does not exist yet waits for it, not ready, with a log line naming the topic
// (it never creates topics), and consumes once the topic is there; before, kafkajs's metadata error
// ended the process with a stack trace.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SinkerProcess } from '../../support/sinker-process.ts';
import {
  cleanup,
  closeStorage,
  createTable,
  createTopic,
  produce,
  scenario,
  sinkerConfig,
  sleep,
  validIds,
  waitForRows,
} from './helpers.ts';

const s = scenario('startup-topic', 2);

after(async () => {
  await cleanup(s);
  await closeStorage();
});

test('a missing topic: the sinker waits, not ready, says which topic, and consumes once it exists', async () => {
  await createTable(s);
  const p = new SinkerProcess({ dir: s.dir, tag: 'waiting', config: await sinkerConfig(s) });
  try {
    await sleep(4000);
    assert.ok(p.running, `exited while waiting for the topic:\n${p.tail()}`);
    const ready = await fetch(`http://127.0.0.1:${p.metricsPort}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    assert.notEqual(ready, 200, 'ready without its topic');
    const waiting = p.logLines.find((l) => String(l.msg).startsWith('kafka.topic does not exist'));
    assert.ok(waiting, p.tail());
    assert.equal(waiting.topic, s.topic);

    await createTopic(s);
    await p.waitReady(60_000);
    const ids = validIds((await produce(s, 50, 11)).events);
    assert.equal(await waitForRows(s, ids.length, 30_000), ids.length);
  } finally {
    await p.kill();
  }
});
