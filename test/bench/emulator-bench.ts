// Accept rate of the Doris emulator for canonical tb_event rows (WORKLOAD.md), CSV and JSON lines,
// in its three modes: full (validate + store in MariaDB), validate, count (framing + column count).
// Two figures per case:
//   core  — processRows on the body in this process, rows per CPU-second: the emulator's work on one
//           core, no HTTP;
//   http  — real stream loads to an emulator child process (BE direct, keep-alive), rows per second
//           of wall time and rows per CPU-second of the emulator process (from /proc/<pid>/stat).
// `npm run bench:emulator -- --help` lists the options.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { defaultDdlPath } from '../emulator/cli-args.ts';
import { parseDdlFile } from '../emulator/ddl.ts';
import { headerChecks, planOptions } from '../emulator/load-options.ts';
import { getProfile } from '../emulator/profile.ts';
import { type Mode, processRows } from '../emulator/rows.ts';
import { testbedEnv } from '../support/testbed.ts';
import { defineCli, oneOfEach } from './support/cli.ts';

export const CLI = defineCli(import.meta, {
  npm: 'bench:emulator',
  options: {
    'rows-per-load': {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 10_000,
      value: 'N',
      description: 'rows in each stream load body',
    },
    loads: {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 20,
      value: 'N',
      description: 'stream loads per HTTP case (full mode: a quarter, at least 2)',
    },
    modes: {
      type: 'string',
      default: 'count,validate,full',
      value: 'M,...',
      check: oneOfEach(['count', 'validate', 'full']),
      description: 'emulator modes to measure, in order',
    },
    formats: {
      type: 'string',
      default: 'csv,json',
      value: 'F,...',
      check: oneOfEach(['csv', 'json']),
      description: 'load formats to measure, in order',
    },
    out: { type: 'string', defaultText: 'none', value: 'FILE', description: 'also write the results as JSON here' },
  },
});
const opts = CLI.parse();

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');

const ROWS_PER_LOAD = opts['rows-per-load'];
const LOADS = opts.loads;
const MODES = opts.modes.split(',') as Mode[];
const FORMATS = opts.formats.split(',');
const OUT = opts.out ?? '';
const PASSWORD = 'bench';

/** Deterministic canonical event of about 1 KiB: ~30 of 50 extend fields filled. */
function makeEvent(i: number): Record<string, unknown> {
  const e: Record<string, unknown> = {
    id: i,
    integration_id: i % 100,
    arrive_time: 1_700_000_000_000 + i,
    event_time: 1_700_000_000_000 + i - 250,
    event_type: ['alert', 'recovery', 'info'][i % 3],
    source: `source-${i % 17}`,
    title: `Disk usage above threshold on host-${i % 1000}, "quoted" part`,
    description: `Event ${i}: a longer description, with commas, tabs\tand 中文 text`,
    priority: i % 5,
    severity: i % 4,
    is_recovered: i % 2 === 0,
    score: (i % 1000) / 7,
    amount: `${i % 100000}.${String(i % 10000).padStart(4, '0')}`,
    event_date: '2026-11-24',
    created_at: '2026-11-24 06:00:00.123',
    labels: { env: 'prod', team: `t${i % 9}`, n: i % 13 },
  };
  for (let k = 1; k <= 50; k++) if ((k * 7 + i) % 5 < 3) e[`extend${k}`] = `value-${k}-${i % 97}`;
  return e;
}

const COLUMNS = parseDdlFile(readFileSync(defaultDdlPath(), 'utf8'))[0]!.columns.map((c) => c.name);

function csvField(v: unknown): string {
  if (v === undefined || v === null) return '\\N';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function body(format: string, start: number, n: number): Buffer {
  const lines: string[] = [];
  for (let i = start; i < start + n; i++) {
    const e = makeEvent(i);
    lines.push(format === 'json' ? JSON.stringify(e) : COLUMNS.map((c) => csvField(e[c])).join(','));
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

function loadHeaders(format: string): Record<string, string> {
  return format === 'json'
    ? { format: 'json', read_json_by_line: 'true' }
    : { format: 'csv', column_separator: ',', enclose: '"', escape: '\\' };
}

function coreRate(format: string, mode: Mode, data: Buffer, rows: number): number {
  const schema = parseDdlFile(readFileSync(defaultDdlPath(), 'utf8'))[0]!;
  const p = getProfile('3.0');
  const h: Record<string, string> = {
    authorization: 'Basic cm9vdDo=',
    'content-length': String(data.length),
    ...loadHeaders(format),
  };
  const opts = planOptions(h, p, headerChecks(h, p));
  const m = mode === 'full' ? 'validate' : mode;
  processRows(schema, opts, data, p, m); // warm-up
  // CPU time of this process, not wall time: the machine is shared, and the figure is "per core".
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const t0 = cpu();
  let done = 0;
  let runs = 0;
  while (cpu() - t0 < 2 || runs < 2) {
    const r = processRows(schema, opts, data, p, m);
    if (r.total !== rows || r.filtered !== 0)
      throw new Error(`core ${format}/${mode}: ${r.total} rows, ${r.filtered} filtered: ${r.errors[0]}`);
    done += rows;
    runs++;
  }
  return done / (cpu() - t0);
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface Child {
  pid: number;
  bePort: number;
  stop(): Promise<void>;
}

function startChild(mode: Mode, mariadb: Record<string, string> | undefined): Promise<Child> {
  const args = [
    resolve(repo, 'test/emulator/main.ts'),
    '--fe-port',
    '0',
    '--be-ports',
    '0',
    '--query-port',
    '0',
    '--mode',
    mode,
    '--password',
    PASSWORD,
  ];
  if (mariadb)
    args.push(
      '--mysql',
      `${mariadb.MARIADB_HOST}:${mariadb.MARIADB_PORT}`,
      mariadb.MARIADB_USER!,
      mariadb.MARIADB_PASSWORD!,
      '--db-prefix',
      'emubench_',
    );
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolveChild, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = / be=[^:]+:(\d+)/.exec(out);
      if (m) {
        resolveChild({
          pid: child.pid!,
          bePort: Number(m[1]),
          stop: () =>
            new Promise((r) => {
              child.on('exit', () => r());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.on('exit', (code) => reject(new Error(`emulator exited with ${code}: ${out}`)));
  });
}

function put(
  port: number,
  headers: Record<string, string>,
  data: Buffer,
  agent: http.Agent,
): Promise<Record<string, unknown>> {
  return new Promise((resolvePut, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/test_db/tb_event/_stream_load',
        method: 'PUT',
        agent,
        headers: {
          ...headers,
          Authorization: `Basic ${Buffer.from(`root:${PASSWORD}`).toString('base64')}`,
          'Content-Length': data.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePut(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function httpRate(
  format: string,
  mode: Mode,
  mariadb: Record<string, string> | undefined,
): Promise<{ wall: number; cpu: number }> {
  const child = await startChild(mode, mode === 'full' ? mariadb : undefined);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  try {
    const loads = mode === 'full' ? Math.max(2, Math.ceil(LOADS / 4)) : LOADS;
    const bodies = Array.from({ length: loads }, (_, i) => body(format, 1 + i * ROWS_PER_LOAD, ROWS_PER_LOAD));
    await put(child.bePort, loadHeaders(format), body(format, 0, 100), agent); // warm-up
    const cpu0 = cpuSeconds(child.pid);
    const t0 = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < loads) {
        const i = next++;
        const r = await put(
          child.bePort,
          { ...loadHeaders(format), label: `bench-${format}-${mode}-${Date.now()}-${i}` },
          bodies[i]!,
          agent,
        );
        if (r.Status !== 'Success' || r.NumberLoadedRows !== ROWS_PER_LOAD)
          throw new Error(`http ${format}/${mode}: ${JSON.stringify(r)}`);
      }
    };
    await Promise.all([worker(), worker()]);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(child.pid) - cpu0;
    return { wall: (loads * ROWS_PER_LOAD) / secs, cpu: (loads * ROWS_PER_LOAD) / cpu };
  } finally {
    agent.destroy();
    await child.stop();
  }
}

async function main(): Promise<void> {
  let mariadb: Record<string, string> | undefined;
  try {
    const env = testbedEnv();
    if (env.MARIADB_HOST) mariadb = env;
  } catch {
    mariadb = undefined;
  }
  const sample = body('json', 0, 1000);
  const csvSample = body('csv', 0, 1000);
  console.log(
    `tb_event rows: JSON ${(sample.length / 1000).toFixed(0)} B/row, CSV ${(csvSample.length / 1000).toFixed(0)} B/row; ${ROWS_PER_LOAD} rows per load; node ${process.version}`,
  );
  const results: Record<string, unknown>[] = [];
  for (const format of FORMATS) {
    const data = body(format, 0, ROWS_PER_LOAD);
    for (const mode of MODES) {
      const core = coreRate(format, mode, data, ROWS_PER_LOAD);
      let h: { wall: number; cpu: number } | undefined;
      if (mode === 'full' && !mariadb) {
        console.log('full mode over HTTP needs the test bed MariaDB (test/infra/up mariadb): skipped');
      } else {
        h = await httpRate(format, mode, mariadb);
      }
      const row = {
        format,
        mode,
        core_rows_per_s: Math.round(core),
        http_rows_per_s: h && Math.round(h.wall),
        http_rows_per_cpu_s: h && Math.round(h.cpu),
      };
      results.push(row);
      console.log(
        `${format.padEnd(4)} ${mode.padEnd(8)} core ${Math.round(core).toLocaleString('en').padStart(10)} rows/CPU-s   http ${h ? Math.round(h.wall).toLocaleString('en').padStart(10) : '-'.padStart(10)} rows/s wall, ${h ? Math.round(h.cpu).toLocaleString('en').padStart(10) : '-'} rows per emulator CPU-s`,
      );
    }
  }
  if (mariadb) {
    const c = await mysql.createConnection({
      host: mariadb.MARIADB_HOST,
      port: Number(mariadb.MARIADB_PORT),
      user: mariadb.MARIADB_USER,
      password: mariadb.MARIADB_PASSWORD,
    });
    await c.query('DROP DATABASE IF EXISTS emubench_test_db');
    await c.end();
  }
  if (OUT)
    writeFileSync(OUT, `${JSON.stringify({ node: process.version, rowsPerLoad: ROWS_PER_LOAD, results }, null, 2)}\n`);
}

if (import.meta.main)
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
