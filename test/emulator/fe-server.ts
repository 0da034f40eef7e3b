// The FE's HTTP server (doris-stream-load.md §1.2, §5, §11b): the stream-load check order with its
// three error shapes (all HTTP 200), the 307 to a BE with credentials in the URL and a trailing `?`,
// the 2PC redirect, get_load_state and the backend list. It never reads a load body.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { primitiveTypeName } from './doris-types.ts';
import type { Engine } from './engine.ts';
import { clientIp, sendFe, waitingForContinue } from './http-util.ts';
import { basicAuth, header, parseGroupCommit } from './load-options.ts';
import { responseBody, restBaseResult } from './reply.ts';

const LOAD_RE = /^\/api\/([^/]*)\/([^/]*)\/_stream_load$/;
const TWO_PC_RE = /^\/api\/([^/]*)(?:\/([^/]*))?\/_stream_load_2pc$/;
const LOAD_STATE_RE = /^\/api\/([^/]*)\/get_load_state$/;
const SCHEMA_RE = /^\/api\/(?:[^/]+\/)?([^/]+)\/([^/]+)\/_schema$/;

export interface FeServer {
  server: http.Server;
  /** Closes the helper sockets used by the dead-BE fault. */
  closeExtras(): Promise<void>;
}

export function createFeServer(engine: Engine): FeServer {
  const extras = new DeadBes();
  const server = http.createServer({ insecureHTTPParser: true, requestTimeout: 0 });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    route(engine, extras, req, res).catch((e: unknown) => {
      sendFe(req, res, responseBody('Internal Error', 500, (e as Error).message));
    });
  };
  // Handle `Expect: 100-continue` requests without sending 100: the FE answers (307 or error) first.
  server.on('checkContinue', onRequest);
  server.on('request', onRequest);
  return { server, closeExtras: () => extras.close() };
}

/** Ports for the dead-BE fault: one that refuses connections, one that accepts and never answers. */
class DeadBes {
  private hangServer: net.Server | undefined;
  private hangPort = 0;
  private refusedPort = 0;
  private readonly sockets = new Set<net.Socket>();

  async refused(): Promise<number> {
    if (!this.refusedPort) {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      this.refusedPort = (s.address() as net.AddressInfo).port;
      await new Promise<void>((r) => s.close(() => r()));
    }
    return this.refusedPort;
  }

  async hang(): Promise<number> {
    if (!this.hangServer) {
      this.hangServer = net.createServer((sock) => {
        this.sockets.add(sock);
        sock.on('close', () => this.sockets.delete(sock));
        sock.on('error', () => {});
        sock.resume();
      });
      await new Promise<void>((r) => this.hangServer!.listen(0, '127.0.0.1', r));
      this.hangPort = (this.hangServer.address() as net.AddressInfo).port;
    }
    return this.hangPort;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.hangServer) await new Promise<void>((r) => this.hangServer!.close(() => r()));
  }
}

/** Checks Basic auth; on failure sends the ResponseBody 401 shape and returns undefined. */
function authenticate(
  engine: Engine,
  req: IncomingMessage,
  res: ServerResponse,
): { user: string; password: string } | undefined {
  const auth = basicAuth(header(req.headers, 'authorization'));
  if (!auth) {
    sendFe(req, res, responseBody('Unauthorized', 401, 'Need auth information.'));
    return undefined;
  }
  if (!engine.checkPassword(auth.user, auth.password)) {
    sendFe(req, res, responseBody('Unauthorized', 401, engine.accessDenied(auth.user, clientIp(req), auth.password)));
    return undefined;
  }
  return auth;
}

// java.net.URI keeps these in user info (unreserved and punct); it quotes every other ASCII character,
// '%' included, and toASCIIString escapes the rest as UTF-8.
const USERINFO_KEEP = /[A-Za-z0-9_\-!.~'()*,;:$&+=]/;

/** The user info of the FE's redirect as Java's URI spells it (`:` `;` `&` `=` `+` `$` `,` stay raw). */
export function javaUserInfo(text: string): string {
  let out = '';
  for (const ch of text) {
    if (USERINFO_KEEP.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

async function redirect(
  engine: Engine,
  extras: DeadBes,
  req: IncomingMessage,
  res: ServerResponse,
  auth: { user: string; password: string },
  label: string,
): Promise<void> {
  const f = engine.faults.take(['dead_be', 'no_backend', 'fe_error'], label);
  if (f?.type === 'no_backend' || engine.bePorts.length === 0) {
    return sendFe(
      req,
      res,
      restBaseResult(
        'No backend available for load, please check the status of your backends. policy: needScheduleAvailable=false, needQueryAvailable=false, needLoadAvailable=true, resourceTags=[{"location" : "default"}], preferComputeNode=false, preferLocalBackend=false, allowOnSameHost=false',
      ),
    );
  }
  if (f?.type === 'fe_error') {
    const msg = f.msg ?? 'injected FE error';
    return sendFe(req, res, f.shape === 'response' ? responseBody(msg, 1, msg) : restBaseResult(msg));
  }
  let port: number;
  if (f?.type === 'dead_be') port = f.mode === 'hang' ? await extras.hang() : await extras.refused();
  else port = engine.nextBePort()!;
  const url = new URL(req.url ?? '/', 'http://fe');
  const userinfo = javaUserInfo(`${auth.user}:${auth.password}`);
  // URI(scheme, userInfo, host, port, path, "", null).toASCIIString() + the request's query string as
  // it came (getQueryString): the trailing `?` is always there.
  const rawUrl = req.url ?? '/';
  const query = rawUrl.includes('?') ? rawUrl.slice(rawUrl.indexOf('?') + 1) : '';
  const location = `http://${userinfo}@${engine.config.host}:${port}${url.pathname}?${query}`;
  engine.counters.redirects++;
  const headers: Record<string, string | number> = {
    Location: location,
    'Content-Type': 'text/html;charset=utf-8',
    'Content-Length': 0,
  };
  if (waitingForContinue(req)) headers.Connection = 'close';
  res.writeHead(307, headers);
  res.end();
}

async function route(engine: Engine, extras: DeadBes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fe');
  const path = url.pathname;
  const h = req.headers;

  let m = LOAD_RE.exec(path);
  if (m && req.method === 'PUT') {
    const db = decodeURIComponent(m[1]!);
    const table = decodeURIComponent(m[2]!);
    const gc = parseGroupCommit(header(h, 'group_commit'));
    if (gc === 'invalid') {
      return sendFe(
        req,
        res,
        restBaseResult('Header `group_commit` can only be `sync_mode`, `async_mode` or `off_mode`.'),
      );
    }
    if (gc === 'async_mode' && engine.faults.take(['schema_change_block'], '', table)) {
      return sendFe(req, res, restBaseResult(`insert table ${table} is blocked on schema change`));
    }
    const auth = authenticate(engine, req, res);
    if (!auth) return;
    if (header(h, 'expect') === undefined) return sendFe(req, res, restBaseResult('There is no 100-continue header'));
    if (db === '') return sendFe(req, res, restBaseResult('No database selected.'));
    if (table === '') return sendFe(req, res, restBaseResult('No table selected.'));
    if (gc !== undefined && gc !== 'off_mode') {
      if (!engine.hasDb(db)) return sendFe(req, res, restBaseResult('Database not found.'));
      if (!engine.table(db, table)) return sendFe(req, res, restBaseResult('OlapTable not found.'));
    }
    return redirect(engine, extras, req, res, auth, header(h, 'label') ?? '');
  }

  m = TWO_PC_RE.exec(path);
  if (m && req.method === 'PUT') {
    const auth = authenticate(engine, req, res);
    if (!auth) return;
    if (decodeURIComponent(m[1]!) === '') return sendFe(req, res, restBaseResult('No database selected.'));
    if (!header(h, 'txn_id') && !header(h, 'label'))
      return sendFe(req, res, restBaseResult('No transaction id or label selected.'));
    if (!header(h, 'txn_operation')) {
      return sendFe(req, res, restBaseResult("No transaction operation('commit' or 'abort') selected."));
    }
    return redirect(engine, extras, req, res, auth, header(h, 'label') ?? '');
  }

  m = LOAD_STATE_RE.exec(path);
  if (m && req.method === 'GET') {
    if (!authenticate(engine, req, res)) return;
    const label = url.searchParams.get('label');
    // GetStreamLoadState: ResponseEntityBuilder.badRequest / okWithCommonError (msg is the kind, data the text)
    if (!label) return sendFe(req, res, responseBody('Bad Request', 403, 'No label selected'));
    const db = decodeURIComponent(m[1]!);
    if (!engine.hasDb(db)) {
      // getDbOrMetaException's MetaNotFoundException (META_NOT_FOUND_ERR = 7)
      return sendFe(req, res, responseBody('Error', 1, `errCode = 7, detailMessage = unknown databases, dbName=${db}`));
    }
    const t = engine.txns.latest(db, label);
    return sendFe(req, res, responseBody('success', 0, t ? t.state : 'UNKNOWN'));
  }

  m = SCHEMA_RE.exec(path);
  if (m && req.method === 'GET') {
    // TableSchemaAction: the official Kafka connector reads keysType from it (UNIQUE tables: no 2PC).
    if (!authenticate(engine, req, res)) return;
    const db = decodeURIComponent(m[1]!);
    const name = decodeURIComponent(m[2]!);
    // getDbOrAnalysisException / getTableOrAnalysisException, answered with okWithCommonError
    const error = (text: string) => responseBody('Error', 1, `errCode = 2, detailMessage = ${text}`);
    if (!engine.hasDb(db)) return sendFe(req, res, error(`Unknown database '${db}'`));
    const s = engine.table(db, name);
    if (!s) return sendFe(req, res, error(`Unknown table '${name}'`));
    const properties = s.columns.map((c) => {
      const p: Record<string, string> = {};
      if (c.type.base === 'decimal') {
        p.precision = String(c.type.precision);
        p.scale = String(c.type.scale);
      }
      p.type = primitiveTypeName(c.type);
      p.comment = c.comment;
      p.name = c.name;
      p.aggregation_type = c.isKey ? '' : (c.aggregation ?? 'NONE');
      return p;
    });
    const keysType = { DUPLICATE: 'DUP_KEYS', UNIQUE: 'UNIQUE_KEYS', AGGREGATE: 'AGG_KEYS' }[s.keysType];
    return sendFe(req, res, responseBody('success', 0, { properties, status: 200, tableType: 'OLAP', keysType }));
  }

  if (path === '/api/backends' && req.method === 'GET') {
    if (!authenticate(engine, req, res)) return;
    const backends = engine.bePorts.map((port) => ({ ip: engine.config.host, http_port: port, is_alive: true }));
    return sendFe(req, res, responseBody('success', 0, { backends }));
  }
  if (path === '/api/health' && req.method === 'GET') {
    return sendFe(
      req,
      res,
      responseBody('success', 0, {
        online_backend_num: engine.bePorts.length,
        total_backend_num: engine.bePorts.length,
      }),
    );
  }
  if (path === '/api/bootstrap' && req.method === 'GET') {
    return sendFe(
      req,
      res,
      responseBody('success', 0, { replayedJournalId: 0, queryPort: 0, rpcPort: 0, version: engine.profile.name }),
    );
  }
  // Spring's answer to an unmapped path or method (UNVERIFIED exact body).
  sendFe(req, res, JSON.stringify({ timestamp: new Date().toISOString(), status: 404, error: 'Not Found', path }), 404);
}
