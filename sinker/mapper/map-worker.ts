// A mapping worker thread (see map-pool.ts): builds the mapper and the row plan of its schema once,
// then turns each task's message values into encoded rows. Pure: no state beyond the statistics,
// which go back with every result.
import { Buffer } from 'node:buffer';
import { parentPort, workerData } from 'node:worker_threads';
import { createEncoder } from '../encode/encoders.ts';
import { KEEP_BUFFERS, type MapTask, type MapTaskResult, type MapWorkerInit, reusableSize } from './map-pool.ts';
import { Mapper } from './mapper.ts';
import { RowBuffer } from './row-buffer.ts';

const init = workerData as MapWorkerInit;
const mapper = new Mapper(init.schema, init.options);
const plan = mapper.planFor(createEncoder(init.format, mapper.columns));

/** Result bodies handed back by the main thread: the next task's rows are written into one of them. */
const spares: ArrayBuffer[] = [];

parentPort!.on('message', (task: MapTask) => {
  const values = Buffer.from(task.values.buffer, task.values.byteOffset, task.values.byteLength);
  const n = task.ends.length;
  spares.push(...task.spares);
  if (spares.length > KEEP_BUFFERS) spares.splice(0, spares.length - KEEP_BUFFERS);
  const want = values.length + (values.length >> 2) + 1024;
  const k = spares.findIndex((b) => b.byteLength >= want);
  const rows = k >= 0 ? new RowBuffer(Buffer.from(spares.splice(k, 1)[0]!)) : new RowBuffer(reusableSize(want));
  const rowOf = new Int32Array(n);
  const failures: MapTaskResult['failures'] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = task.ends[i]!;
    const f = mapper.mapInto(task.absent[i] === 1 ? null : values.subarray(start, end), plan, rows);
    start = end;
    if (f) {
      rowOf[i] = -1;
      failures.push({ index: i, code: f.code, reason: f.reason });
    } else rowOf[i] = rows.rowCount - 1;
  }
  const result: MapTaskResult = {
    id: task.id,
    body: rows.buf.buffer as ArrayBuffer,
    used: rows.pos,
    ends: Int32Array.from(rows.ends),
    rowOf,
    failures,
    stats: mapper.drainStats(),
    values: task.values.buffer as ArrayBuffer,
  };
  parentPort!.postMessage(result, [
    result.body,
    result.ends.buffer as ArrayBuffer,
    rowOf.buffer as ArrayBuffer,
    result.values,
  ]);
});
