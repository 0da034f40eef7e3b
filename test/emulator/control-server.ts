// The control API (its own port, off unless enabled): arm faults, read counters and transactions,
// change the profile or label retention at run time, add tables, reset. JSON in, JSON out.
//   GET    /health                     → {"ok":true}
//   GET    /counters                   → loads, rows, loadedRows, filteredRows, unselectedRows, bytes, labels,
//                                         status{Success,Fail,…}, redirects, twoPc{commit,abort,failed}, faultsFired{type:n}
//   GET    /faults                     → armed faults
//   POST   /faults   {type, count?, label?, table?, …params} → the armed fault (with id)
//   DELETE /faults[/ID]                → disarm all / one
//   GET    /txns?db=&label=            → transactions (id, label, state, reason, times)
//   POST   /txns/expire {db, label | txnId} → abort a PREPARE/PRECOMMITTED txn as the txn manager's timeout would
//   GET    /config                     → current config;  POST /config {profile?, mode?, labelTtlMs?, labelMax?, publishDelayMs?,
//                                         precommitTimeoutMs?, groupCommitIntervalMs?}
//   POST   /tables   {ddl, db?}        → register Doris CREATE TABLE statements (creates the MariaDB tables)
//   POST   /reset    {txns?: bool}     → zero counters, disarm faults, drop error logs (and forget txns)
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Engine } from './engine.ts';
import { FAULT_TYPES, type FaultSpec } from './faults.ts';
import { getProfile, type ProfileName } from './profile.ts';

function send(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(`${JSON.stringify(body)}\n`);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  const v = JSON.parse(text) as unknown;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('body must be a JSON object');
  return v as Record<string, unknown>;
}

export function createControlServer(engine: Engine): http.Server {
  return http.createServer((req, res) => {
    handle(engine, req, res).catch((e: unknown) => send(res, 400, { error: (e as Error).message }));
  });
}

async function handle(engine: Engine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  if (path === '/health') return send(res, 200, { ok: true });
  if (path === '/counters' && method === 'GET') {
    return send(res, 200, { ...engine.counters, faultsFired: engine.faults.firedByType });
  }
  if (path === '/faults' && method === 'GET')
    return send(res, 200, { faults: engine.faults.list(), types: FAULT_TYPES });
  if (path === '/faults' && method === 'POST') {
    const f = engine.faults.add((await jsonBody(req)) as unknown as FaultSpec);
    return send(res, 200, f);
  }
  if (path === '/faults' && method === 'DELETE') {
    engine.faults.clear();
    return send(res, 200, { ok: true });
  }
  const fm = /^\/faults\/(\d+)$/.exec(path);
  if (fm && method === 'DELETE') return send(res, 200, { ok: engine.faults.remove(Number(fm[1])) });
  if (path === '/txns' && method === 'GET') {
    const db = url.searchParams.get('db') ?? undefined;
    const label = url.searchParams.get('label');
    const txns = engine.txns
      .all(db)
      .filter((t) => label === null || t.label === label)
      .map(({ pending: _p, ...t }) => t);
    return send(res, 200, { txns });
  }
  if (path === '/txns/expire' && method === 'POST') {
    const b = await jsonBody(req);
    const db = String(b.db ?? engine.config.defaultDb);
    const t =
      b.txnId !== undefined
        ? engine.txns.get(Number(b.txnId))
        : engine.txns.all(db).find((x) => x.label === b.label && (x.state === 'PRECOMMITTED' || x.state === 'PREPARE'));
    if (!t || (t.state !== 'PRECOMMITTED' && t.state !== 'PREPARE')) {
      return send(res, 404, { error: 'no PREPARE or PRECOMMITTED txn matches' });
    }
    engine.txns.abort(t, Date.now(), 'timeout by txn manager');
    return send(res, 200, { id: t.id, label: t.label, state: t.state, reason: t.reason });
  }
  if (path === '/config' && method === 'GET') return send(res, 200, engine.config);
  if (path === '/config' && method === 'POST') {
    const b = await jsonBody(req);
    if (b.profile !== undefined) engine.setProfile(getProfile(String(b.profile)).name as ProfileName);
    if (b.mode !== undefined) {
      if (b.mode !== 'full' && b.mode !== 'validate' && b.mode !== 'count')
        throw new Error(`bad mode ${String(b.mode)}`);
      engine.config.mode = b.mode;
    }
    const tc = engine.txns.config;
    if (b.labelTtlMs !== undefined) tc.labelTtlMs = engine.config.labelTtlMs = Number(b.labelTtlMs);
    if (b.labelMax !== undefined) tc.labelMax = engine.config.labelMax = Number(b.labelMax);
    if (b.precommitTimeoutMs !== undefined)
      tc.precommitTimeoutMs = engine.config.precommitTimeoutMs = Number(b.precommitTimeoutMs);
    if (b.groupCommitIntervalMs !== undefined) engine.config.groupCommitIntervalMs = Number(b.groupCommitIntervalMs);
    if (b.publishDelayMs !== undefined) engine.config.publishDelayMs = Number(b.publishDelayMs);
    if (b.maxRunningTxnPerDb !== undefined) tc.maxRunningPerDb = Number(b.maxRunningTxnPerDb);
    return send(res, 200, engine.config);
  }
  if (path === '/tables' && method === 'POST') {
    const b = await jsonBody(req);
    const tables = await engine.addDdl(String(b.ddl ?? ''), b.db === undefined ? undefined : String(b.db), true);
    return send(res, 200, { tables: tables.map((t) => `${t.db}.${t.name}`) });
  }
  if (path === '/reset' && method === 'POST') {
    const b = await jsonBody(req);
    engine.reset({ txns: b.txns === true });
    return send(res, 200, { ok: true });
  }
  send(res, 404, { error: `no such control endpoint: ${method} ${path}` });
}
