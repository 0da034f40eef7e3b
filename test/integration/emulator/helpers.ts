// Shared by the emulator conformance tests: an in-process emulator on ephemeral ports backed by the
// test bed's MariaDB (a private database prefix per emulator), and clients that talk to it the way
// Doris users do: curl, node:http with Expect: 100-continue and manual 307 handling, raw sockets,
// mysql2 on the query port, and the control API.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { gunzipSync } from 'node:zlib';
import mysql from 'mysql2/promise';
import { defaultDdlPath } from '../../emulator/cli-args.ts';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../emulator/emulator.ts';
import { testbed } from '../../support/testbed.ts';

export const PASSWORD = 'emu-pw';
export const CANONICAL_DDL = readFileSync(defaultDdlPath(), 'utf8');

export interface TestEmulator {
  emu: Emulator;
  fe: string;
  be: string;
  prefix: string;
  /** MariaDB connection for assertions on stored rows. */
  maria: mysql.Connection;
  /** `SELECT … FROM <prefix>db.table`: the MariaDB name of a Doris table. */
  tableName(db: string, table: string): string;
  control(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export function mariaConfig() {
  return {
    host: testbed('MARIADB_HOST'),
    port: Number(testbed('MARIADB_PORT')),
    user: testbed('MARIADB_USER'),
    password: testbed('MARIADB_PASSWORD'),
  };
}

export async function startTestEmulator(opts: EmulatorOptions = {}): Promise<TestEmulator> {
  const prefix = `emu_${randomBytes(4).toString('hex')}_`;
  const emu = await startEmulator({
    password: PASSWORD,
    controlPort: 0,
    mysql: { ...mariaConfig(), dbPrefix: prefix },
    ddl: [CANONICAL_DDL],
    ...opts,
  });
  const maria = await mysql.createConnection({
    ...mariaConfig(),
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  return {
    emu,
    fe: `127.0.0.1:${emu.fePort}`,
    be: `127.0.0.1:${emu.bePorts[0]}`,
    prefix,
    maria,
    tableName: (db, table) => `\`${prefix}${db}\`.\`${table}\``,
    async control(method, path, body) {
      const r = await request(`http://127.0.0.1:${emu.controlPort}${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        expect: false,
      });
      const json = JSON.parse(r.body) as Record<string, unknown>;
      if (r.status !== 200) throw new Error(`control ${method} ${path}: ${r.status} ${r.body}`);
      return json;
    },
    async close() {
      await emu.close();
      const [dbs] = await maria.query<mysql.RowDataPacket[]>(`SHOW DATABASES LIKE '${prefix}%'`);
      for (const row of dbs) await maria.query(`DROP DATABASE \`${Object.values(row)[0] as string}\``);
      await maria.end();
    },
  };
}

export function basic(user = 'root', password = PASSWORD): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Whether the server sent `100 Continue` before its reply. */
  continued: boolean;
  /** The hops taken (URLs), when redirects were followed. */
  hops: string[];
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | undefined;
  /** Send `Expect: 100-continue` and hold the body until `100 Continue` (default true). */
  expect?: boolean;
  /** Follow 307s like curl --location-trusted: credentials from the Location userinfo. */
  follow?: boolean;
  chunked?: boolean;
  timeoutMs?: number;
}

/** One HTTP exchange with node:http (undici refuses `Expect`). Gzip replies are decoded. */
export function request(url: string, o: RequestOptions = {}): Promise<HttpResult> {
  const body = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body);
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { ...o.headers };
    if (u.username && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) {
      headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    }
    const expect = o.expect ?? true;
    if (expect) headers.Expect = '100-continue';
    if (body !== undefined && !o.chunked) headers['Content-Length'] = String(body.length);
    if (o.chunked) headers['Transfer-Encoding'] = 'chunked';
    let continued = false;
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: o.method ?? 'PUT',
        headers,
        timeout: o.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let data = Buffer.concat(chunks);
          if (res.headers['content-encoding'] === 'gzip') data = gunzipSync(data);
          req.destroy();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: data.toString('utf8'),
            continued,
            hops: [url],
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${o.timeoutMs ?? 30_000} ms: ${url}`)));
    req.on('error', reject);
    if (expect && body !== undefined) {
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.flushHeaders();
    } else {
      req.end(body);
    }
  });
}

/** PUT through the FE, following the 307 to the BE with the credentials of the Location. */
export async function load(url: string, o: RequestOptions = {}): Promise<HttpResult> {
  const first = await request(url, o);
  if (first.status !== 307 || o.follow === false) return first;
  const loc = first.headers.location!;
  const second = await request(loc, { ...o, headers: withoutAuth(o.headers) });
  second.hops = [url, loc];
  return second;
}

function withoutAuth(h: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (k.toLowerCase() !== 'authorization') out[k] = v;
  return out;
}

/** Raw HTTP over a socket: write `head` (and optionally a body part), collect what comes back. */
export function raw(
  hostPort: string,
  head: string,
  opts: { body?: Buffer; waitMs?: number; endAfterWrite?: boolean; destroyAfterMs?: number } = {},
): Promise<string> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), host!, () => {
      sock.write(head);
      if (opts.body) sock.write(opts.body);
      if (opts.endAfterWrite) sock.end();
      if (opts.destroyAfterMs !== undefined) setTimeout(() => sock.destroy(), opts.destroyAfterMs);
    });
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    sock.on('close', done);
    sock.on('error', (e) => (chunks.length ? done() : reject(e)));
    setTimeout(() => {
      sock.destroy();
    }, opts.waitMs ?? 3000);
  });
}

/** curl as Doris's docs use it; returns stdout (the reply body) and curl's exit code. */
export function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-sS', ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function curlLoad(
  fe: string,
  db: string,
  table: string,
  file: string,
  headers: Record<string, string>,
  password = PASSWORD,
) {
  const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}:${v}`]);
  return curl([
    '--location-trusted',
    '-u',
    `root:${password}`,
    '-H',
    'Expect:100-continue',
    ...h,
    '-T',
    file,
    `http://${fe}/api/${db}/${table}/_stream_load`,
  ]);
}

/** A minimal canonical event row with the given id (NOT NULL columns filled). */
export function event(id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    integration_id: id % 100,
    arrive_time: 1_700_000_000_000 + id,
    event_time: 1_700_000_000_000 + id,
    ...extra,
  };
}

export function jsonLines(rows: Record<string, unknown>[]): string {
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

export async function queryRows(
  conn: mysql.Connection,
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(sql, params);
  return rows as Record<string, unknown>[];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true (e.g. rows visible after a 2PC commit's asynchronous publish). */
export async function until(check: () => Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await sleep(20);
  }
}
