// Writer throughput against the emulator in counting mode (a measurement, not a test):
//   DORIS_SINKER_ENV=... node test/integration/writer/throughput.bench.ts [route] [batches] [rowsPerBatch] [concurrency] [gzip]
// Loads `batches` CSV batches of ~1 KiB rows into test_db.tb_event, `concurrency` partitions at a
// time, and prints rows/s, MB/s and the writer process's CPU time per million rows.
import { randomUUID } from 'node:crypto';
import type { LoadBatch } from '../../../sinker/batch.ts';
import { StreamLoadWriter } from '../../../sinker/writer/writer.ts';
import { dorisConfig, emulator } from './emulator.ts';

const [route = 'backend', batchesArg = '100', rowsArg = '10000', concArg = '4', gzArg = 'no'] = process.argv.slice(2);
const batches = Number(batchesArg);
const rowsPerBatch = Number(rowsArg);
const concurrency = Number(concArg);
const e = await emulator();
await fetch(`http://${e.control}/config`, { method: 'POST', body: JSON.stringify({ mode: 'count' }) });

// One ~1 KiB tb_event-shaped CSV row (66 columns), reused: the writer's cost does not depend on content.
const extend = Array.from({ length: 50 }, (_, i) => (i % 5 === 4 ? '' : `value-${i}-abcdef`)).join(',');
const row = (id: number) =>
  `${id},${id % 100},1732400000000,1732400000000,alert,source-${id % 7},a title,desc,3,2,1,0.5,12.3400,2026-11-24,2026-11-24 06:00:00.000,{"k":1},${extend}`;
const template = Array.from({ length: rowsPerBatch }, (_, i) => row(i));
const bytes = template.reduce((s, r) => s + Buffer.byteLength(r), 0);
const sink = `bench-${randomUUID().slice(0, 8)}`;
const w = new StreamLoadWriter({
  sink,
  doris: await dorisConfig('tb_event', { load_route: route as 'backend', compress: gzArg === 'gz', timeout: 60 }),
  encoding: { headers: { format: 'csv', column_separator: ',' }, lineDelimiter: '\n' },
});
const batch = (n: number): LoadBatch => {
  const first = Math.floor(n / concurrency) * rowsPerBatch;
  return {
    topic: 'bench',
    partition: n % concurrency,
    firstOffset: String(first),
    lastOffset: String(first + rowsPerBatch - 1),
    rows: template,
    rowOffsets: [],
    bytes,
  };
};
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let next = 0;
let loaded = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < batches) {
      const r = await w.load(batch(next++));
      loaded += r.loadedRows;
    }
  }),
);
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await w.close();
await fetch(`http://${e.control}/config`, { method: 'POST', body: JSON.stringify({ mode: 'full' }) });
console.log(
  JSON.stringify({
    route,
    gzip: gzArg === 'gz',
    batches,
    rowsPerBatch,
    concurrency,
    rowBytes: Math.round(bytes / rowsPerBatch),
    loaded,
    rowsPerSec: Math.round(loaded / secs),
    mbPerSec: Math.round(((bytes * batches) / secs / 1e6) * 10) / 10,
    writerCpuSecPerMillionRows: Math.round(((cpu.user + cpu.system) / 1e6 / (loaded / 1e6)) * 100) / 100,
  }),
);
