import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadBatch } from '../batch.ts';
import { Batcher, type BatcherOptions, CHUNK_BYTES } from './batcher.ts';

function setup(over: Partial<BatcherOptions> = {}) {
  const batches: LoadBatch[] = [];
  const pressure: boolean[] = [];
  const b = new Batcher({
    maxBatchRows: 3,
    maxBatchBytes: 1000,
    maxBatchIntervalMs: 100,
    maxBufferBytes: 1_000_000,
    onBatch: (x) => batches.push(x),
    onBackpressure: (p) => pressure.push(p),
    ...over,
  });
  return { b, batches, pressure };
}

test('cuts a batch when max_batch_rows is reached', () => {
  const { b, batches } = setup();
  b.add('t', 0, '10', 'a', 0);
  b.add('t', 0, '11', 'b', 0);
  assert.equal(batches.length, 0);
  b.add('t', 0, '12', 'c', 0);
  assert.equal(batches.length, 1);
  const { body, rowEnds, rows, ...rest } = batches[0]!;
  assert.deepEqual(rest, {
    topic: 't',
    partition: 0,
    firstOffset: '10',
    lastOffset: '12',
    rowOffsets: ['10', '11', '12'],
    bytes: 3,
  });
  assert.deepEqual(rows, ['a', 'b', 'c']);
  // the load body: rows joined by "\n", no trailing delimiter
  assert.equal(body?.toString(), 'a\nb\nc');
  assert.deepEqual(rowEnds, [1, 3, 5]);
  assert.equal(b.currentRows, 0);
});

test('cuts before a row that would push the body past max_batch_size', () => {
  const { b, batches } = setup({ maxBatchRows: 100, maxBatchBytes: 10 });
  b.add('t', 0, '1', 'aaaa', 0); // body 5
  b.add('t', 0, '2', 'bbbb', 0); // body 10 → reaches the limit: cut
  assert.equal(batches.length, 1);
  b.add('t', 0, '3', 'cccc', 0);
  b.add('t', 0, '4', 'dddddd', 0); // 5 + 7 > 10: cut before it
  assert.equal(batches.length, 2);
  assert.deepEqual(batches[1]!.rows, ['cccc']);
  b.add('t', 0, '5', 'x'.repeat(50), 0); // a single oversized row still goes, alone
  assert.equal(batches.length, 4);
  assert.deepEqual(batches[2]!.rows, ['dddddd']);
  assert.deepEqual(batches[3]!.rows, ['x'.repeat(50)]);
  assert.equal(batches[3]!.bytes, 50);
});

test('rows given as bytes land in the body as they are, the body growing past its first size', () => {
  const { b, batches } = setup({ maxBatchRows: 1000, maxBatchBytes: 1 << 20 });
  const big = Buffer.from(`{"x":"${'é'.repeat(40_000)}"}`);
  b.addBytes('t', 0, '1', Buffer.from('xxAByy'), 2, 4, 0);
  b.addBytes('t', 0, '2', big, 0, big.length, 0);
  b.add('t', 0, '3', '日本', 0);
  b.flushAll();
  const batch = batches[0]!;
  assert.equal(batch.body?.toString(), `AB\n${big.toString()}\n日本`);
  assert.deepEqual(batch.rows, ['AB', big.toString(), '日本']);
  assert.equal(batch.bytes, 2 + big.length + 6);
});

test('byte sizes are UTF-8 bytes', () => {
  const { b, batches } = setup({ maxBatchRows: 100, maxBatchBytes: 1000 });
  b.add('t', 0, '1', '日本😀', 0);
  b.flushAll();
  assert.equal(batches[0]!.bytes, 10);
});

test('cuts on max_batch_interval from the first message, driven by the clock passed in', () => {
  const { b, batches } = setup({ maxBatchRows: 100 });
  assert.equal(b.nextDeadline(), undefined);
  b.add('t', 0, '1', 'a', 1000);
  b.add('t', 1, '7', 'z', 1050);
  b.add('t', 0, '2', 'b', 1090);
  assert.equal(b.nextDeadline(), 1100);
  b.tick(1099);
  assert.equal(batches.length, 0);
  b.tick(1100);
  assert.equal(batches.length, 1);
  assert.deepEqual([batches[0]!.partition, batches[0]!.rows], [0, ['a', 'b']]);
  assert.equal(b.nextDeadline(), 1150);
  b.tick(1200);
  assert.equal(batches.length, 2);
  assert.equal(batches[1]!.partition, 1);
  assert.equal(b.nextDeadline(), undefined);
});

test('aligned interval cuts (merge_partitions): one partition due cuts every filling batch, held ones excepted', () => {
  const { b, batches } = setup({ maxBatchRows: 100, alignIntervalCuts: true });
  b.add('t', 0, '1', 'a', 1000);
  b.add('t', 1, '7', 'z', 1050);
  b.add('t', 2, '3', 'h', 1060);
  b.setHold('t', 2, true);
  b.tick(1099);
  assert.equal(batches.length, 0);
  b.tick(1100);
  assert.deepEqual(
    batches.map((x) => [x.partition, x.rows]),
    [
      [0, ['a']],
      [1, ['z']],
    ],
  );
  assert.equal(b.nextDeadline(), undefined, 'the held batch has no deadline');
  b.setHold('t', 2, false);
  b.tick(1200);
  assert.equal(batches.length, 3);
});

test('one batch per partition: partitions never mix', () => {
  const { b, batches } = setup({ maxBatchRows: 2 });
  b.add('t', 0, '1', 'p0a', 0);
  b.add('t', 1, '1', 'p1a', 0);
  b.add('u', 0, '1', 'u0a', 0);
  b.add('t', 0, '2', 'p0b', 0);
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]!.rows, ['p0a', 'p0b']);
  b.flushAll();
  assert.deepEqual(batches.map((x) => `${x.topic}/${x.partition}:${x.rows.join('+')}`).sort(), [
    't/0:p0a+p0b',
    't/1:p1a',
    'u/0:u0a',
  ]);
});

test('messages without a row keep the offset range contiguous and commits pass over them', () => {
  const { b, batches } = setup({ maxBatchRows: 3 });
  b.assign('t', 0, '0');
  b.skip('t', 0, '0', 0); // invalid JSON, dead-lettered
  b.add('t', 0, '1', 'a', 0);
  b.skip('t', 0, '2', 0);
  b.add('t', 0, '3', 'b', 0);
  b.add('t', 0, '4', 'c', 0);
  assert.equal(batches.length, 1);
  assert.deepEqual(
    [batches[0]!.firstOffset, batches[0]!.lastOffset, batches[0]!.rowOffsets],
    ['0', '4', ['1', '3', '4']],
  );
  // a batch made only of dead-lettered messages still settles and commits
  b.skip('t', 0, '5', 0);
  b.skip('t', 0, '6', 0);
  b.flush('t', 0);
  assert.deepEqual([batches[1]!.firstOffset, batches[1]!.lastOffset, batches[1]!.rows], ['5', '6', []]);
  assert.equal(b.settle(batches[1]!), null, 'waits for the earlier batch');
  assert.equal(b.settle(batches[0]!), '7');
  assert.equal(b.committable('t', 0), '7');
});

test('a flood of rowless messages still cuts batches so commits keep moving', () => {
  const { b, batches } = setup({ maxBatchRows: 2 });
  b.skip('t', 0, '0', 0);
  b.skip('t', 0, '1', 0);
  assert.equal(batches.length, 1);
});

test('memory bound: pause at max_buffer_bytes, resume at the low mark, counting cut batches until settled', () => {
  const { b, batches, pressure } = setup({ maxBatchRows: 2, maxBufferBytes: 20, resumeBufferBytes: 5 });
  b.add('t', 0, '1', 'x'.repeat(9), 0); // 10 body bytes
  assert.equal(b.paused, false);
  b.add('t', 0, '2', 'x'.repeat(9), 0); // 20: cut, but still held until settled
  assert.equal(batches.length, 1);
  assert.equal(b.bufferedBytes, 20);
  assert.equal(b.paused, true);
  assert.deepEqual(pressure, [true]);
  b.add('t', 1, '1', 'y', 0);
  assert.equal(b.bufferedBytes, 22);
  b.settle(batches[0]!);
  assert.equal(b.bufferedBytes, 2);
  assert.equal(b.paused, false);
  assert.deepEqual(pressure, [true, false]);
  b.settle(batches[0]!); // settling twice is harmless
  assert.equal(b.bufferedBytes, 2);
});

test('memory bound below partitions × batch size: paused with nothing loading cuts the largest filling batch', () => {
  const { b, batches, pressure } = setup({ maxBatchRows: 100, maxBufferBytes: 30, resumeBufferBytes: 10 });
  b.add('t', 0, '1', 'x'.repeat(9), 0); // p0: 10 body bytes
  b.add('t', 1, '1', 'y'.repeat(4), 0); // p1: 5
  assert.equal(batches.length, 0);
  b.add('t', 0, '2', 'x'.repeat(14), 0); // p0: 25, total 30: paused, no limit reached, nothing loading
  assert.deepEqual(pressure, [true]);
  assert.equal(batches.length, 1, 'the largest filling batch is cut instead of waiting for the interval');
  assert.equal(batches[0]!.partition, 0);
  assert.equal(batches[0]!.rows.length, 2);
  b.add('t', 1, '2', 'y', 0); // a load is in flight: no further cut
  assert.equal(batches.length, 1);
  b.settle(batches[0]!);
  assert.equal(b.paused, false);
  assert.deepEqual(pressure, [true, false]);
});

test('revocation drops filling rows; batches cut before it no longer move a commit point', () => {
  const { b, batches } = setup({ maxBatchRows: 2 });
  b.assign('t', 0, '0');
  b.add('t', 0, '0', 'a', 0);
  b.add('t', 0, '1', 'b', 0);
  b.add('t', 0, '2', 'c', 0);
  assert.equal(b.revoke('t', 0), 1);
  assert.equal(b.currentRows, 0);
  assert.equal(b.settle(batches[0]!), null);
  assert.equal(b.bufferedBytes, 0);
  // re-assigned later from another offset: the new generation starts clean
  b.assign('t', 0, '50');
  b.add('t', 0, '50', 'd', 0);
  b.add('t', 0, '51', 'e', 0);
  assert.equal(b.settle(batches[1]!), '52');
});

test('abandoning a batch frees its memory without committing', () => {
  const { b, batches } = setup({ maxBatchRows: 1 });
  b.assign('t', 0, '0');
  b.add('t', 0, '0', 'abc', 0);
  assert.equal(b.bufferedBytes, 4);
  b.abandon(batches[0]!);
  assert.equal(b.bufferedBytes, 0);
  assert.equal(b.committable('t', 0), '0');
});

test('a held partition ignores row, size and interval limits until flushed, so a range stays exact', () => {
  // (its batch is marked exact: it re-loads an intent under its own label and is never merged)
  const { b, batches } = setup({ maxBatchBytes: 4 });
  b.setHold('t', 0, true);
  for (let o = 20; o <= 25; o++) b.add('t', 0, String(o), 'row', 0);
  b.skip('t', 0, '26', 0);
  b.tick(10_000);
  assert.equal(b.nextDeadline(), undefined);
  assert.equal(batches.length, 0);
  b.flush('t', 0);
  b.setHold('t', 0, false);
  assert.equal(batches.length, 1);
  assert.equal(batches[0]!.firstOffset, '20');
  assert.equal(batches[0]!.lastOffset, '26');
  assert.equal(batches[0]!.rows.length, 6);
  assert.equal(batches[0]!.exact, true);
  // Released: limits apply again.
  for (let o = 27; o <= 29; o++) b.add('t', 0, String(o), 'r', 0);
  assert.equal(batches.length, 2);
  assert.equal(batches[1]!.exact, undefined);
});

test('flushAll (shutdown, a schema switch) leaves a held batch short of its range uncut; only flush cuts it', () => {
  const { b, batches } = setup({ maxBatchRows: 100 });
  b.add('t', 1, '5', 'free', 0);
  b.setHold('t', 0, true);
  b.add('t', 0, '20', 'held', 0);
  assert.equal(b.flushAll(), 1);
  assert.deepEqual(
    batches.map((x) => x.partition),
    [1],
  );
  b.flush('t', 0);
  assert.deepEqual(
    batches.map((x) => [x.partition, x.exact]),
    [
      [1, undefined],
      [0, true],
    ],
  );
});

test('rows crossing chunk boundaries join into one exact body; chunks and bodies are reused, later bodies exact too', () => {
  const { b, batches } = setup({
    maxBatchRows: 1000,
    maxBatchBytes: 8 * CHUNK_BYTES,
    maxBufferBytes: 64 * CHUNK_BYTES,
  });
  const rows: Buffer[] = [];
  for (let i = 0; i < 7; i++) rows.push(Buffer.alloc(Math.floor(CHUNK_BYTES * 0.6) + i, 97 + i));
  rows.push(Buffer.from('tail 日本'));
  for (let round = 0; round < 3; round++) {
    rows.forEach((r, i) => {
      b.addBytes('t', 0, String(round * 100 + i), r, 0, r.length, 0);
    });
    b.flush('t', 0);
    const batch = batches[round]!;
    const want = Buffer.concat(rows.flatMap((r, i) => (i === 0 ? [r] : [Buffer.from('\n'), r])));
    assert.equal(batch.body!.length, want.length);
    assert.ok(batch.body!.equals(want), `round ${round}: body is the rows joined by \\n`);
    assert.equal(batch.rowEnds![rows.length - 1], want.length);
    assert.equal(batch.rows[7], 'tail 日本');
    b.settle(batch);
  }
  // the third round's body is the first round's buffer again (settled, then reused)
  assert.equal(batches[2]!.body!.buffer, batches[0]!.body!.buffer);
});

test('memory bound: a held batch (an intent re-loaded to its exact end) holding more than the low mark does not keep fetching paused', () => {
  const { b, batches, pressure } = setup({ maxBatchRows: 100, maxBufferBytes: 30, resumeBufferBytes: 10 });
  b.setHold('t', 0, true);
  b.add('t', 0, '1', 'x'.repeat(19), 0); // p0 held: 20 body bytes, its range goes on past offset 1
  b.add('t', 1, '1', 'y'.repeat(9), 0); // p1: 10, total 30: paused; p1 is cut (p0 may not be)
  assert.deepEqual(pressure, [true]);
  assert.equal(batches.length, 1);
  assert.equal(batches[0]!.partition, 1);
  b.settle(batches[0]!);
  // Only the held batch is left, and it ends only with messages still to fetch: paused, they never come.
  assert.equal(b.bufferedBytes, 20);
  assert.equal(b.paused, false, 'fetching stays paused for good');
  assert.deepEqual(pressure, [true, false]);
  b.add('t', 0, '2', 'x', 0);
  b.flush('t', 0);
  assert.equal(batches.length, 2);
  assert.equal(batches[1]!.lastOffset, '2');
});
