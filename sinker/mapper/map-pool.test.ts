import assert from 'node:assert/strict';
import { test } from 'node:test';
import { takeEvents } from '../../test/support/events.ts';
import { createEncoder } from '../encode/encoders.ts';
import { columnsFromManual, tableSchema } from '../schema/schema.ts';
import { MapPool, reusableSize } from './map-pool.ts';
import { Mapper } from './mapper.ts';
import { RowBuffer } from './row-buffer.ts';

const COLUMNS = [
  { name: 'id', type: 'BIGINT', nullable: false },
  { name: 'event_type', type: 'VARCHAR(64)', nullable: true },
  { name: 'title', type: 'VARCHAR(512)', nullable: true },
  { name: 'priority', type: 'INT', nullable: true },
  { name: 'amount', type: 'DECIMAL(18, 4)', nullable: true },
  { name: 'created_at', type: 'DATETIME(3)', nullable: true },
  { name: 'labels', type: 'JSON', nullable: true },
];

test('the worker pool gives the rows, DLQ verdicts and statistics of mapping inline, in order', async () => {
  const schema = tableSchema(columnsFromManual(COLUMNS));
  const inline = new Mapper(schema, { zeroDate: '1970-01-01' });
  const main = new Mapper(schema, { zeroDate: '1970-01-01' });
  const pool = new MapPool(2, main, 'json');
  try {
    const plan = inline.planFor(createEncoder('json', inline.columns));
    const values: (Buffer | null)[] = takeEvents({ seed: 3, mix: 'dirty' }, 2000).map((e) => Buffer.from(e.value));
    values.splice(5, 0, null);
    // two tasks at once, on both workers
    const [a, b] = await Promise.all([pool.map(values.slice(0, 1000)), pool.map(values.slice(1000))]);
    const out = new RowBuffer();
    let dlq = 0;
    for (const [k, r] of [a!, b!].entries()) {
      for (let i = 0; i < r.rowOf.length; i++) {
        const v = values[k * 1000 + i]!;
        const want = inline.mapInto(v, plan, out);
        const row = r.rowOf[i]!;
        if (want) {
          dlq++;
          assert.equal(row, -1);
          assert.deepEqual(
            r.failures.find((f) => f.index === i),
            { index: i, code: want.code, reason: want.reason },
          );
        } else {
          const got = r.body.toString('utf8', row === 0 ? 0 : r.ends[row - 1], r.ends[row]);
          assert.equal(got, out.row(out.rowCount - 1));
        }
      }
    }
    assert.ok(dlq > 0, 'the dirty mix has messages for the DLQ');
    assert.deepEqual(main.drainStats(), inline.drainStats());
  } finally {
    await pool.close();
  }
});

test('released result bodies and returned values buffers are reused, and later results stay exact', async () => {
  const schema = tableSchema(columnsFromManual(COLUMNS));
  const inline = new Mapper(schema, { zeroDate: '1970-01-01' });
  const pool = new MapPool(1, new Mapper(schema, { zeroDate: '1970-01-01' }), 'json');
  try {
    const plan = inline.planFor(createEncoder('json', inline.columns));
    const events = takeEvents({ seed: 9, mix: 'clean' }, 900).map((e) => Buffer.from(e.value));
    const first = await pool.map(events.slice(0, 300));
    const firstBody = first.body.buffer;
    first.release();
    // the released body goes to the worker with the next task: it is no longer ours (detached)
    const second = await pool.map(events.slice(300, 600));
    assert.equal(firstBody.byteLength, 0, 'the released body was handed over for reuse');
    second.release();
    const third = await pool.map(events.slice(600, 900));
    const out = new RowBuffer();
    for (let i = 0; i < 300; i++) {
      assert.equal(inline.mapInto(events[600 + i]!, plan, out), undefined);
      const row = third.rowOf[i]!;
      assert.equal(third.body.toString('utf8', row === 0 ? 0 : third.ends[row - 1], third.ends[row]), out.row(i));
    }
  } finally {
    await pool.close();
  }
});

test('a task a little larger than the last reuses a kept buffer: sizes are rounded up', async () => {
  const schema = tableSchema(columnsFromManual(COLUMNS));
  const pool = new MapPool(1, new Mapper(schema, { zeroDate: '1970-01-01' }), 'json');
  try {
    const events = takeEvents({ seed: 5, mix: 'clean' }, 200).map((e) => Buffer.from(e.value));
    // each task 10 messages more than the one before, the previous buffers back before the next
    for (let n = 100; n <= 150; n += 10) {
      const r = await pool.map(events.slice(0, n));
      assert.equal(r.rowOf.length, n);
      r.release();
    }
    assert.equal(pool.freshInputs, 1, 'only the first task allocated');
    assert.equal(reusableSize(1), 256 * 1024);
    assert.equal(reusableSize(256 * 1024), 256 * 1024);
    assert.equal(reusableSize(256 * 1024 + 1), 512 * 1024);
  } finally {
    await pool.close();
  }
});

test('workers that die at once are not respawned forever: the pool reports itself broken', async () => {
  const schema = tableSchema(columnsFromManual(COLUMNS));
  // a zero date the worker's Mapper refuses: each worker throws on start
  const bad = { schema, options: { zeroDate: 'never' }, absorbStats: () => {} } as unknown as Mapper;
  const pool = new MapPool(1, bad, 'json');
  try {
    await assert.rejects(pool.map([Buffer.from('{}')]), /mapping worker/);
    const deadline = Date.now() + 20_000;
    while (!pool.broken && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(pool.broken, true);
    assert.match(String(pool.lastError?.message), /mapping worker/);
    await assert.rejects(pool.map([Buffer.from('{}')]), /closed/);
  } finally {
    await pool.close(0);
  }
});
