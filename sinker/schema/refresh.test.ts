import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { SchemaRefresh } from './refresh.ts';
import type { TableSchema } from './types.ts';

function capture(): { logger: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const schema = (hash: string): TableSchema => ({ columns: [], hash });

test('a DESCRIBE outage is logged when it begins and when it ends, not at every tick', async () => {
  const { logger, lines } = capture();
  let fail = 0;
  const changed: string[] = [];
  const r = new SchemaRefresh({
    intervalMs: 1000,
    load: async () => {
      if (fail > 0) {
        fail--;
        throw new Error('connect ECONNREFUSED 127.0.0.1:9030');
      }
      return schema('h2');
    },
    currentHash: () => 'h1',
    changed: (s) => changed.push(s.hash),
    logger,
  });
  fail = 5;
  for (let i = 0; i < 5; i++) await r.tick();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['schema refresh failed; keeping the current schema'],
  );
  assert.deepEqual(changed, []);
  await r.tick();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['schema refresh failed; keeping the current schema', 'schema refresh reads the table again'],
  );
  assert.deepEqual(changed, ['h2']);
  // A second outage is a new one: logged again.
  fail = 2;
  await r.tick();
  await r.tick();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.filter((l) => l.msg === 'schema refresh failed; keeping the current schema').length, 2);
});

test('a read that ends after stop() switches nothing', async () => {
  const { logger } = capture();
  let release!: (s: TableSchema) => void;
  const changed: string[] = [];
  const r = new SchemaRefresh({
    intervalMs: 1000,
    load: () =>
      new Promise<TableSchema>((resolve) => {
        release = resolve;
      }),
    currentHash: () => 'h1',
    changed: (s) => changed.push(s.hash),
    logger,
  });
  const read = r.tick();
  r.stop();
  release(schema('h2'));
  await read;
  assert.deepEqual(changed, []);
});

test('a switch that throws is a failed refresh, not an unhandled rejection', async () => {
  const { logger, lines } = capture();
  const r = new SchemaRefresh({
    intervalMs: 1000,
    load: async () => schema('h2'),
    currentHash: () => 'h1',
    changed: () => {
      throw new Error('column x: no encoder');
    },
    logger,
  });
  await r.tick();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['schema refresh failed; keeping the current schema'],
  );
});

test('within one outage a different error is logged (the table dropped behind a connection refusal)', async () => {
  const { logger, lines } = capture();
  const errors = ['connect ECONNREFUSED', 'connect ECONNREFUSED', "Unknown table 't'", "Unknown table 't'"];
  const r = new SchemaRefresh({
    intervalMs: 1000,
    load: async () => {
      throw new Error(errors.shift());
    },
    currentHash: () => 'h1',
    changed: () => {},
    logger,
  });
  for (let i = 0; i < 4; i++) await r.tick();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    lines.map((l) => (l as unknown as { err: string }).err),
    ['connect ECONNREFUSED', "Unknown table 't'"],
  );
});
