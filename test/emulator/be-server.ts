// The BE's HTTP server (doris-stream-load.md §1.3): header checks before any body byte is read (the
// `checkContinue` event lets a header error be answered without `100 Continue`), begin-txn checks,
// the load, commit / precommit / group commit, faults, and the 2PC and error-log endpoints.
import { randomBytes, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { TableSchema } from './ddl.ts';
import { type Engine, snapshot } from './engine.ts';
import { errorLogForm, type Fault } from './faults.ts';
import { clientIp, readBody, sendBe, sleep } from './http-util.ts';
import {
  basicAuth,
  type HeaderInfo,
  header,
  headerChecks,
  LoadError,
  type LoadOptions,
  planOptions,
} from './load-options.ts';
import { beMessage, feMessage } from './profile.ts';
import { emptyReply, type LoadReply, type LoadStatus, loadReplyBody, twoPcBody } from './reply.ts';
import { processRows, type RowsResult, tooManyFiltered } from './rows.ts';
import type { Txn } from './txns.ts';
import { check2pc, find2pc } from './txns.ts';

const LOAD_RE = /^\/api\/([^/]*)\/([^/]*)\/_stream_load$/;
const TWO_PC_RE = /^\/api\/([^/]*)(?:\/([^/]*))?\/_stream_load_2pc$/;

const LOAD_FAULTS = [
  'commit_then_drop',
  'publish_timeout',
  'http_error',
  'slow_reply',
  'load_timeout',
  'too_many_versions',
  'txn_quota',
  'commit_fail',
] as const;

export function createBeServer(engine: Engine): http.Server {
  // insecureHTTPParser: a request with both Content-Length and chunked must reach the handler, which
  // answers with Doris's message instead of Node's 400.
  const server = http.createServer({ insecureHTTPParser: true, requestTimeout: 0, keepAliveTimeout: 30_000 });
  const onRequest = (expect: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    route(engine, req, res, expect, (server.address() as { port: number }).port).catch((e: unknown) => {
      sendBe(req, res, JSON.stringify({ status: 'FAILED', msg: `emulator error: ${(e as Error).message}` }), true, 500);
    });
  };
  server.on('checkContinue', onRequest(true));
  server.on('request', onRequest(false));
  return server;
}

async function route(
  engine: Engine,
  req: IncomingMessage,
  res: ServerResponse,
  expect: boolean,
  port: number,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://be');
  const path = url.pathname;
  let m = LOAD_RE.exec(path);
  if (m && req.method === 'PUT') {
    return streamLoad(engine, req, res, expect, port, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!));
  }
  m = TWO_PC_RE.exec(path);
  if (m && req.method === 'PUT') {
    if (expect) res.writeContinue();
    return twoPc(engine, req, res, decodeURIComponent(m[1]!));
  }
  if (path === '/api/_load_error_log' && (req.method === 'GET' || req.method === 'HEAD')) {
    const text = engine.errorLogs.get(url.searchParams.get('file') ?? '');
    if (text === undefined) return sendBe(req, res, 'Not Found', true, 404);
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
    return;
  }
  if (path === '/api/health' && req.method === 'GET') {
    return sendBe(req, res, JSON.stringify({ status: 'OK', msg: 'To Be Added' }, null, 4));
  }
  sendBe(req, res, 'Not Found', true, 404);
}

interface LoadCtx {
  engine: Engine;
  req: IncomingMessage;
  res: ServerResponse;
  port: number;
  db: string;
  table: string;
  t0: number;
  /** The client asked for 100 Continue; until we send it, it holds the body back. */
  expect: boolean;
  reply: LoadReply;
}

function finish(ctx: LoadCtx, close = false): void {
  const { engine, reply } = ctx;
  reply.loadTimeMs = Date.now() - ctx.t0;
  engine.countStatus(reply.status);
  const c = engine.counters;
  c.rows += reply.totalRows;
  c.loadedRows += reply.loadedRows;
  c.filteredRows += reply.filteredRows;
  c.unselectedRows += reply.unselectedRows;
  c.bytes += reply.loadBytes;
  const body = loadReplyBody(reply, engine.profile);
  // Like the FE's edit log: the txn state is durable before the client hears about it.
  void engine.persisted().then(() => sendBe(ctx.req, ctx.res, body, close));
}

function failEarly(ctx: LoadCtx, message: string, status: LoadStatus = 'Fail'): void {
  ctx.reply.status = status;
  ctx.reply.message = message;
  // A client waiting for 100 Continue never sends the body: close the connection. A client that sends
  // the body anyway (no Expect, e.g. undici straight to the BE) gets the reply first; Node then
  // discards the rest of the body and keeps the connection, so the client reads the reply, not a reset.
  finish(ctx, ctx.expect && !ctx.req.complete);
}

async function streamLoad(
  engine: Engine,
  req: IncomingMessage,
  res: ServerResponse,
  expect: boolean,
  port: number,
  db: string,
  table: string,
): Promise<void> {
  const p = engine.profile;
  const h = req.headers;
  const t0 = Date.now();
  engine.counters.loads++;
  const comment = header(h, 'comment') ?? '';
  const ctx: LoadCtx = {
    engine,
    req,
    res,
    port,
    db,
    table,
    t0,
    expect,
    // Comment stays empty until _on_header reads it, after the format, size and timeout checks
    reply: emptyReply(header(h, 'label') || randomUUID(), '', 'Fail', ''),
  };
  ctx.reply.twoPhaseCommit = header(h, 'two_phase_commit') === 'true';

  let info: HeaderInfo;
  try {
    info = headerChecks(h, p);
  } catch (e) {
    if (e instanceof LoadError) return failEarly(ctx, e.message);
    throw e;
  }
  ctx.reply.comment = comment;
  if (!info.label && info.useGroupCommit) ctx.reply.label = '';

  // loadTxnBegin on the FE: password, db, table, timeout range, label, quota.
  if (!engine.checkPassword(info.user, info.password)) {
    return failEarly(ctx, feMessage(p, 'ANALYSIS_ERROR', engine.accessDenied(info.user, clientIp(req), info.password)));
  }
  if (!engine.hasDb(db)) return failEarly(ctx, feMessage(p, 'NOT_FOUND', `unknown database, database=${db}`, 7));
  const schema = engine.table(db, table);
  if (!schema) return failEarly(ctx, feMessage(p, 'NOT_FOUND', `table not found, tableName=${table}`, 7));
  if (info.timeoutS < 1 || info.timeoutS > 259200) {
    return failEarly(
      ctx,
      feMessage(
        p,
        'ANALYSIS_ERROR',
        `Invalid timeout: ${info.timeoutS}. Timeout should be lower than Config.max_stream_load_timeout_second: 259200`,
      ),
    );
  }
  const label = ctx.reply.label;
  const fault = engine.faults.take(LOAD_FAULTS, label, schema.name);
  if (fault?.type === 'txn_quota') {
    const n = engine.txns.config.maxRunningPerDb;
    return failEarly(
      ctx,
      feMessage(
        p,
        'ANALYSIS_ERROR',
        `current running txns on db ${engine.txns.dbId(db)} is ${n}, larger than limit ${n}`,
      ),
    );
  }

  if (info.useGroupCommit) return groupCommitLoad(ctx, info, schema, expect);

  const tb = Date.now();
  const begun = engine.txns.begin(db, schema.name, label, tb, info.timeoutS * 1000);
  ctx.reply.beginTxnTimeMs = Date.now() - tb;
  if (begun.kind === 'bad_label' || begun.kind === 'quota')
    return failEarly(ctx, feMessage(p, 'ANALYSIS_ERROR', begun.message));
  if (begun.kind === 'exists') {
    ctx.reply.existingJobStatus = begun.existing;
    const t = begun.txn;
    const suffix = p.labelStatusSuffix ? `, status [${t.state}].` : '';
    return failEarly(
      ctx,
      feMessage(p, 'LABEL_ALREADY_EXISTS', `Label [${label}] has already been used, relate to txn [${t.id}]${suffix}`),
      'Label Already Exists',
    );
  }
  const txn = begun.txn;
  ctx.reply.txnId = txn.id;
  if (!engine.seenLabels.has(`${db}\u0000${label}`)) {
    // Bounded memory on long runs: past 100k labels the set restarts (a reused old label may count twice).
    if (engine.seenLabels.size >= 100_000) engine.seenLabels.clear();
    engine.seenLabels.add(`${db}\u0000${label}`);
    engine.counters.labels++;
  }

  // _process_put: option values; a failure rolls the txn back.
  const tp = Date.now();
  let opts: LoadOptions;
  try {
    opts = planOptions(h, p, info);
    processRows(schema, opts, Buffer.alloc(0), p, engine.config.mode === 'count' ? 'validate' : engine.config.mode);
  } catch (e) {
    const msg = e instanceof LoadError ? e.message : feMessage(p, 'ANALYSIS_ERROR', (e as Error).message);
    engine.txns.abort(txn, Date.now(), msg);
    return failEarly(ctx, msg);
  }
  ctx.reply.streamLoadPutTimeMs = Date.now() - tp;

  // Headers are fine: now (and only now) ask for the body.
  if (expect) res.writeContinue();
  const tr = Date.now();
  // Counting mode keeps nothing of a body once its rows are counted, so its buffer is reused.
  const pool = engine.config.mode === 'count' ? engine.bodyPool : undefined;
  const got = await readBody(req, info.timeoutS * 1000, pool);
  try {
    ctx.reply.receiveDataTimeMs = Date.now() - tr;
    ctx.reply.loadBytes = got.body.length;
    if (got.timedOut) {
      engine.txns.abort(txn, Date.now(), 'timeout');
      return failEarly(
        ctx,
        beMessage(
          p,
          'TIMEOUT',
          `FragmentMgr cancel worker going to cancel timeout instance, timeout ${info.timeoutS}s`,
        ),
      );
    }
    if (!got.complete) {
      // The client went away mid-body: Doris cancels the pipe ("sender is gone") and rolls back.
      engine.txns.abort(txn, Date.now(), 'sender is gone');
      return failEarly(ctx, beMessage(p, 'NETWORK_ERROR', "receive body don't equal with body bytes"));
    }
    if (info.contentLength !== undefined && got.body.length !== info.contentLength) {
      engine.txns.abort(txn, Date.now(), 'body size mismatch');
      return failEarly(ctx, beMessage(p, 'NETWORK_ERROR', "receive body don't equal with body bytes"));
    }
    await runLoad(ctx, info, opts, schema, txn, got.body, fault);
  } finally {
    if (got.backing) pool?.give(got.backing);
  }
}

function decompress(ctx: LoadCtx, opts: LoadOptions, body: Buffer): Buffer | undefined {
  if (!opts.compressGz || body.length === 0) return body;
  try {
    return gunzipSync(body);
  } catch (e) {
    ctx.reply.status = 'Fail';
    ctx.reply.message = beMessage(
      ctx.engine.profile,
      'INTERNAL_ERROR',
      `Failed to decompress gzip data: ${(e as Error).message}`,
    );
    return undefined;
  }
}

function applyRowCounts(ctx: LoadCtx, r: RowsResult): void {
  ctx.reply.totalRows = r.total;
  ctx.reply.filteredRows = r.filtered;
  ctx.reply.unselectedRows = r.unselected;
  ctx.reply.loadedRows = r.total - r.filtered - r.unselected;
}

/** Rows after parsing; the `filter_rows` fault moves the first N of them to filtered. */
function parseRows(ctx: LoadCtx, opts: LoadOptions, schema: TableSchema, data: Buffer): RowsResult {
  const { engine } = ctx;
  const t = Date.now();
  const r = processRows(schema, opts, data, engine.profile, engine.config.mode);
  const f = engine.faults.take(['filter_rows'], ctx.reply.label, schema.name);
  if (f) {
    const loaded = r.total - r.filtered - r.unselected;
    const n = Math.min(f.rows ?? 1, loaded);
    r.rows.splice(0, n);
    r.filtered += n;
    for (let i = 0; i < n; i++) r.errors.unshift('Reason: injected by the emulator (filter_rows fault). src line []; ');
    if (r.errors.length > 51) r.errors.length = 51; // the BE logs the first 51 bad rows only
    if (n > 0) r.firstError = 'injected by the emulator (filter_rows fault). Src line: ';
  }
  if (r.errors.length > 0) {
    const lf = engine.faults.take(['error_log_form'], ctx.reply.label, schema.name);
    if (lf) r.errors = errorLogForm(r.errors, lf);
  }
  ctx.reply.readDataTimeMs = Date.now() - t;
  applyRowCounts(ctx, r);
  if (r.errors.length > 0) {
    ctx.reply.errorUrl = engine.errorUrl(ctx.port, r.errors);
    ctx.reply.firstErrorMsg = r.firstError;
  }
  return r;
}

async function runLoad(
  ctx: LoadCtx,
  info: HeaderInfo,
  opts: LoadOptions,
  schema: TableSchema,
  txn: Txn,
  body: Buffer,
  fault: Fault | undefined,
): Promise<void> {
  const { engine, db } = ctx;
  const p = engine.profile;
  const now = () => Date.now();
  const rollback = (msg: string, loaded = false) => {
    engine.txns.abort(txn, now(), msg);
    if (!loaded) ctx.reply.loadedRows = 0;
    ctx.reply.status = 'Fail';
    ctx.reply.message = msg;
    finish(ctx);
  };
  const data = decompress(ctx, opts, body);
  if (!data) return rollback(ctx.reply.message);

  if (fault?.type === 'load_timeout') {
    return rollback(
      beMessage(p, 'TIMEOUT', `FragmentMgr cancel worker going to cancel timeout instance, timeout ${info.timeoutS}s`),
    );
  }
  if (fault?.type === 'too_many_versions') {
    return rollback(
      '[E-235]failed to init rowset builder. version count: 2001, exceed limit: 2000, tablet: 12345. Please reduce the frequency of loading data or adjust the max_tablet_version_num or time_series_max_tablet_version_num in be.conf to a larger value.',
    );
  }

  // The names the rows are parsed against: an ALTER before the commit changes the table, not these.
  const set = { columns: schema.columns.map((c) => c.name), rows: [] as (string | null)[][] };
  const r = parseRows(ctx, opts, schema, data);
  set.rows = r.rows;
  if (r.fatal) return rollback(r.fatal);
  if (tooManyFiltered(r, opts.maxFilterRatio)) return rollback(beMessage(p, p.filterCode, 'too many filtered rows'));
  txn.rows = r.rows.length;

  const tw = now();
  if (info.twoPhase) {
    if (txn.state === 'ABORTED') {
      return rollback(
        feMessage(p, 'ANALYSIS_ERROR', `transaction [${txn.id}] is already aborted. abort reason: ${txn.reason}`),
      );
    }
    txn.pending = set;
    engine.txns.precommit(txn, now());
    try {
      await engine.savePending(txn, set);
    } catch (e) {
      return rollback(beMessage(p, 'INTERNAL_ERROR', `emulator storage failed: ${(e as Error).message}`));
    }
    ctx.reply.writeDataTimeMs = now() - tw;
    ctx.reply.status = 'Success';
    ctx.reply.message = 'OK';
    ctx.reply.commitAndPublishTimeMs = 0;
    return finishWithFault(ctx, fault, txn, async () => {});
  }

  // The commit: MariaDB insert in one transaction, then VISIBLE.
  const commit = async (): Promise<boolean> => {
    const tc = now();
    // The txn manager may have aborted it meanwhile (load timeout passed during a slow reply): as in
    // Doris, an aborted txn never commits, so a retry that reused the freed label is the only copy.
    if (txn.state === 'ABORTED') {
      ctx.reply.loadedRows = 0;
      ctx.reply.status = 'Fail';
      ctx.reply.message = feMessage(
        p,
        'ANALYSIS_ERROR',
        `transaction [${txn.id}] is already aborted. abort reason: ${txn.reason}`,
      );
      finish(ctx);
      return false;
    }
    if (fault?.type === 'publish_timeout') {
      txn.pending = set;
      engine.txns.commit(txn, now());
      await engine.savePending(txn, set).catch(() => {});
      engine.publishEventually(txn, fault.delayMs ?? 1000);
      ctx.reply.status = 'Publish Timeout';
      const text = 'transaction commit successfully, BUT data will be visible later';
      ctx.reply.message = p.codePrefix ? `[PUBLISH_TIMEOUT]TStatus: ${text}` : text;
      ctx.reply.commitAndPublishTimeMs = now() - tc;
      return true;
    }
    txn.committing = true;
    try {
      if (engine.storage && engine.config.mode === 'full') {
        const storage = engine.storage;
        await storage.insert(db, schema, set, async (conn) => {
          if (fault?.type === 'commit_fail') throw new CommitFault();
          const at = now();
          await storage.upsertTxn(conn, { ...snapshot(txn), state: 'VISIBLE', commitTime: at, finishTime: at });
        });
      } else if (fault?.type === 'commit_fail') {
        throw new CommitFault();
      }
    } catch (e) {
      const msg =
        e instanceof CommitFault
          ? feMessage(p, 'ANALYSIS_ERROR', `get tableList write lock timeout, tableList=(${engine.txns.dbId(db) + 1})`)
          : beMessage(p, 'INTERNAL_ERROR', `emulator storage failed: ${(e as Error).message}`);
      txn.committing = false;
      rollback(msg, true);
      return false;
    }
    txn.committing = false;
    engine.txns.commit(txn, now());
    engine.txns.visible(txn, now());
    ctx.reply.status = 'Success';
    ctx.reply.message = 'OK';
    ctx.reply.commitAndPublishTimeMs = now() - tc;
    return true;
  };
  ctx.reply.writeDataTimeMs = now() - tw;
  await finishWithFault(ctx, fault, txn, commit);
}

class CommitFault extends Error {}

/** Commits (or not) and replies, as the armed fault says. */
async function finishWithFault(
  ctx: LoadCtx,
  fault: Fault | undefined,
  txn: Txn,
  commit: () => Promise<boolean | undefined> | Promise<void>,
): Promise<void> {
  const { engine, res } = ctx;
  switch (fault?.type) {
    case 'commit_then_drop': {
      if ((await commit()) === false) return;
      engine.countStatus('dropped');
      if (fault.how === 'rst') res.socket?.resetAndDestroy();
      else res.socket?.destroy();
      return;
    }
    case 'http_error': {
      if (fault.commit === true) {
        if ((await commit()) === false) return;
      } else {
        engine.txns.abort(txn, Date.now(), 'injected http_error');
      }
      const status = fault.status ?? 503;
      engine.countStatus(`http_${status}`);
      const body =
        fault.body === 'empty'
          ? ''
          : fault.body === 'text'
            ? 'upstream connect error or disconnect/reset before headers'
            : `<html>\r\n<head><title>${status} Bad Gateway</title></head>\r\n<body>\r\n<center><h1>${status}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
      if (!res.writableEnded) {
        res.writeHead(status, {
          'Content-Type': 'text/html',
          'Content-Length': Buffer.byteLength(body),
          Connection: 'close',
        });
        res.end(body);
      }
      return;
    }
    case 'slow_reply': {
      const delay = fault.delayMs ?? 5000;
      const when =
        fault.commit === undefined || fault.commit === true
          ? 'before'
          : fault.commit === false
            ? 'never'
            : fault.commit;
      if (when === 'before') {
        if ((await commit()) === false) return;
        await sleep(delay);
      } else if (when === 'after') {
        await sleep(delay);
        if ((await commit()) === false) return;
      } else {
        await sleep(delay);
        const msg = beMessage(
          engine.profile,
          'CANCELLED',
          'cancelled by the emulator (slow_reply fault, commit: never)',
        );
        engine.txns.abort(txn, Date.now(), msg);
        ctx.reply.status = 'Fail';
        ctx.reply.message = msg;
        ctx.reply.loadedRows = 0;
      }
      return finish(ctx);
    }
    default:
      if ((await commit()) === false) return;
      return finish(ctx);
  }
}

/** Group commit (§10): no txn of its own; rows join the table's current group, flushed at the interval. */
async function groupCommitLoad(ctx: LoadCtx, info: HeaderInfo, schema: TableSchema, expect: boolean): Promise<void> {
  const { engine, req, db } = ctx;
  const p = engine.profile;
  if (info.groupCommit === 'async_mode') {
    const f = engine.faults.take(['schema_change_block', 'wal_space'], '', schema.name);
    if (f?.type === 'schema_change_block') {
      return failEarly(ctx, feMessage(p, 'ANALYSIS_ERROR', `insert table ${schema.name} is blocked on schema change`));
    }
    if (f?.type === 'wal_space') {
      return failEarly(
        ctx,
        beMessage(
          p,
          'E-217',
          `There is no space for group commit stream load async WAL. This stream load ID is ${randomBytes(8).toString('hex')}`,
        ),
      );
    }
  }
  let opts: LoadOptions;
  try {
    opts = planOptions(req.headers, p, info);
    processRows(schema, opts, Buffer.alloc(0), p, 'validate');
  } catch (e) {
    return failEarly(ctx, e instanceof LoadError ? e.message : feMessage(p, 'ANALYSIS_ERROR', (e as Error).message));
  }
  if (expect) ctx.res.writeContinue();
  const got = await readBody(req, info.timeoutS * 1000);
  ctx.reply.loadBytes = got.body.length;
  if (!got.complete) return failEarly(ctx, beMessage(p, 'NETWORK_ERROR', "receive body don't equal with body bytes"));
  const data = decompress(ctx, opts, got.body);
  if (!data) return finish(ctx);

  const key = `${db}.${schema.name}`;
  const nowMs = Date.now();
  const columns = schema.columns.map((c) => c.name);
  let g = engine.groups.get(key);
  if (!g || g.closeAt <= nowMs || g.columns.join('\0') !== columns.join('\0')) {
    const interval = Number(schema.properties.group_commit_interval_ms ?? engine.config.groupCommitIntervalMs);
    const gLabel = `group_commit_${randomBytes(8).toString('hex')}_${randomBytes(8).toString('hex')}`;
    const begun = engine.txns.begin(db, schema.name, gLabel, nowMs, 3_600_000);
    const t = begun.kind === 'ok' ? begun.txn : undefined;
    const rows: (string | null)[][] = [];
    const created = {
      label: gLabel,
      txnId: t?.id ?? -1,
      closeAt: nowMs + interval,
      columns,
      rows,
      done: sleep(interval).then(async () => {
        if (!t) return;
        t.pending = { columns, rows };
        engine.txns.commit(t, Date.now());
        await engine.publish(t).catch(() => {});
      }),
    };
    engine.groups.set(key, created);
    g = created;
  }
  ctx.reply.groupCommit = true;
  ctx.reply.label = g.label;
  ctx.reply.txnId = g.txnId;
  const r = parseRows(ctx, opts, schema, data);
  if (r.fatal || tooManyFiltered(r, opts.maxFilterRatio)) {
    ctx.reply.loadedRows = 0;
    ctx.reply.status = 'Fail';
    ctx.reply.message = r.fatal ?? beMessage(p, p.filterCode, 'too many filtered rows');
    return finish(ctx);
  }
  for (const row of r.rows) g.rows.push(row);
  if (info.groupCommit === 'sync_mode') await g.done;
  ctx.reply.status = 'Success';
  ctx.reply.message = 'OK';
  finish(ctx);
}

/**
 * `PUT /api/{db}/_stream_load_2pc` on the BE (StreamLoad2PCAction::handle, then the FE's
 * loadTxn2PCImpl). The BE checks only the txn_id's form and the operation; a missing or unparsable
 * Authorization is not refused there (its status is overwritten by the FE call, which then sees an
 * empty user). The FE looks the txn up first and checks the password after, so an unknown txn is
 * "not found" even with a wrong password.
 */
async function twoPc(engine: Engine, req: IncomingMessage, res: ServerResponse, db: string): Promise<void> {
  const p = engine.profile;
  const h = req.headers;
  await readBody(req, 60_000);
  const reply = (status: string, msg: string) => {
    if (status === 'Success') engine.counters.twoPc[header(h, 'txn_operation') === 'commit' ? 'commit' : 'abort']++;
    else engine.counters.twoPc.failed++;
    void engine.persisted().then(() => sendBe(req, res, twoPcBody(status, msg)));
  };
  const fe = (msg: string) =>
    p.codePrefix ? `TStatus: errCode = 2, detailMessage = ${msg}` : `errCode = 2, detailMessage = ${msg}`;
  const label = header(h, 'label') ?? '';
  const idText = header(h, 'txn_id') ?? '';
  // The success text names what the request named, as it wrote it: "label [L] transaction [T] commit successfully."
  let what = '';
  if (label !== '') what += `label [${label}] `;
  let txnId: number | undefined;
  if (idText !== '') {
    what += `transaction [${idText}] `;
    // std::stoull: leading blanks and a sign, then digits; what follows them is ignored
    const m = /^\s*([+-]?)(\d+)/.exec(idText);
    if (!m || BigInt(m[2]!) > 0xffff_ffff_ffff_ffffn) {
      return reply('INTERNAL_ERROR', `convert txn_id [${idText}] failed, reason=stoull`);
    }
    // a negative id wraps to one no txn has
    txnId = m[1] === '-' && BigInt(m[2]!) !== 0n ? -1 : Number(m[2]);
  }
  const op = header(h, 'txn_operation') ?? '';
  if (op !== 'commit' && op !== 'abort')
    return reply('INTERNAL_ERROR', "transaction operation should be 'commit' or 'abort'");
  const auth = basicAuth(header(h, 'authorization')) ?? { user: '', password: '' };
  if (!engine.hasDb(db)) return reply('ANALYSIS_ERROR', fe(`unknown database, database=${db}`));
  const found = find2pc(engine.txns, db, op, txnId, label);
  if ('error' in found) return reply('ANALYSIS_ERROR', fe(found.error));
  if (!engine.checkPassword(auth.user, auth.password)) {
    return reply('ANALYSIS_ERROR', fe(engine.accessDenied(auth.user, clientIp(req), auth.password)));
  }
  const stateError = check2pc(found.txn, op);
  if (stateError) return reply('ANALYSIS_ERROR', fe(stateError));
  const txn = found.txn;
  if (op === 'abort') {
    engine.txns.abort(txn, Date.now(), 'User Abort');
    return reply('Success', `${what}abort successfully.`);
  }
  const f = engine.faults.take(['commit_2pc_fail'], txn.label, txn.table);
  if (f) {
    if (f.commit === true) {
      // Committed, but the caller hears a failure (its reply lost); `evict` then forgets the label
      // as 2000 newer loads in the database would, so asking for it afterwards finds nothing.
      engine.txns.commit(txn, Date.now());
      try {
        await engine.publish(txn);
        if (f.evict === true) engine.txns.evict(txn);
      } catch {
        engine.publishEventually(txn, 100);
      }
    }
    return reply('ANALYSIS_ERROR', fe(`get tableList write lock timeout, tableList=(${engine.txns.dbId(db) + 1})`));
  }
  engine.txns.commit(txn, Date.now());
  // Doris answers once the txn is committed, without waiting for publish: the publish daemon makes
  // the rows visible afterwards, retrying until it can (the label reads COMMITTED until then).
  reply('Success', `${what}commit successfully.`);
  void engine.persisted().then(() => engine.publishEventually(txn, engine.config.publishDelayMs));
}
