// A deliberately small Doris for the writer's unit tests: real node:http FE and BE servers on
// loopback speaking the wire shapes of doris-stream-load.md (307 with userinfo, BE load JSON,
// label registry, get_load_state, 2PC by label, ErrorURL). A row containing "BAD" is refused for
// data quality. `faults` is a queue of one-shot misbehaviours for the next load requests.
// The project's real emulator (test/emulator) is what the integration tests use.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type Fault = 'drop-after-commit' | 'html-503' | 'e235' | 'no-error-url' | 'hang-before-reply' | 'body-exceed';

interface Txn {
  id: number;
  state: 'PREPARE' | 'PRECOMMITTED' | 'VISIBLE' | 'ABORTED';
  rows: string[];
}

export class FakeDoris {
  readonly user = 'root';
  /** Mutable: a test rotates it under a running writer. */
  password = 'pw:1@';
  readonly table: string[] = [];
  readonly labels = new Map<string, Txn>();
  readonly faults: Fault[] = [];
  readonly loadRequests: { label: string; route: 'be' | 'fe'; rows: number; twoPc: boolean }[] = [];
  readonly errorLogs = new Map<string, string>();
  fe!: http.Server;
  be!: http.Server;
  feAddr = '';
  beAddr = '';
  #txn = 1000;

  async start(): Promise<this> {
    this.be = http.createServer((req, res) => void this.#be(req, res));
    this.fe = http.createServer((req, res) => void this.#fe(req, res));
    // The FE answers the Expect itself (307 without 100 Continue); the BE lets node send 100.
    this.fe.on('checkContinue', (req, res) => void this.#fe(req, res));
    this.beAddr = await listen(this.be);
    this.feAddr = await listen(this.fe);
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.fe, this.be]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  #authOk(req: http.IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    return h === `Basic ${Buffer.from(`${this.user}:${this.password}`).toString('base64')}`;
  }

  async #fe(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.feAddr}`);
    if (!this.#authOk(req)) {
      res.end(JSON.stringify({ msg: 'Unauthorized', code: 401, data: 'Need auth information.', count: 0 }));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/backends') {
      const [ip, port] = this.beAddr.split(':');
      res.end(
        JSON.stringify({
          msg: 'success',
          code: 0,
          data: { backends: [{ ip, http_port: Number(port), is_alive: true }] },
          count: 0,
        }),
      );
      return;
    }
    const state = /^\/api\/[^/]+\/get_load_state$/.exec(url.pathname);
    if (req.method === 'GET' && state) {
      const t = this.labels.get(url.searchParams.get('label') ?? '');
      res.end(JSON.stringify({ msg: 'success', code: 0, data: t ? t.state : 'UNKNOWN', count: 0 }));
      return;
    }
    if (req.method === 'PUT' && /_stream_load(_2pc)?$/.test(url.pathname)) {
      if (!url.pathname.endsWith('_2pc') && !req.headers.expect) {
        res.end(JSON.stringify({ status: 'FAILED', msg: 'There is no 100-continue header' }));
        return;
      }
      this.loadRequests.push({ label: String(req.headers.label), route: 'fe', rows: 0, twoPc: false });
      const userinfo = `${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}`;
      res.writeHead(307, { Location: `http://${userinfo}@${this.beAddr}${url.pathname}?${url.search.slice(1)}` });
      res.end();
      return;
    }
    res.statusCode = 404;
    res.end('Not Found');
  }

  async #be(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.beAddr}`);
    if (req.method === 'GET' && url.pathname === '/api/_load_error_log') {
      res.end(this.errorLogs.get(url.searchParams.get('file') ?? '') ?? '');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    if (!this.#authOk(req)) {
      res.end(reply({ Status: 'Fail', Message: '[NOT_AUTHORIZED]no valid Basic authorization' }));
      return;
    }
    const label = String(req.headers.label ?? '');
    if (url.pathname.endsWith('_stream_load_2pc')) {
      const t = this.labels.get(label);
      const op = req.headers.txn_operation;
      if (!t) {
        res.end(JSON.stringify({ status: 'ANALYSIS_ERROR', msg: `transaction not found, label=${label}` }));
        return;
      }
      if (op === 'commit' && t.state === 'PRECOMMITTED') {
        t.state = 'VISIBLE';
        this.table.push(...t.rows);
      } else if (op === 'abort' && (t.state === 'PRECOMMITTED' || t.state === 'PREPARE')) {
        t.state = 'ABORTED';
      } else {
        res.end(
          JSON.stringify({
            status: 'ANALYSIS_ERROR',
            msg: `transaction [${t.id}] is already ${t.state.toLowerCase()}, not pre-committed.`,
          }),
        );
        return;
      }
      res.end(JSON.stringify({ status: 'Success', msg: `label [${label}] ${op} successfully.` }, null, 4));
      return;
    }
    const fault = this.faults.shift();
    if (req.headers.compress_type === 'gz' && body.length > 0) body = gunzipSync(body);
    const rows = body.length === 0 ? [] : body.toString().split('\n');
    const twoPc = req.headers.two_phase_commit === 'true';
    this.loadRequests.push({ label, route: 'be', rows: rows.length, twoPc });
    if (fault === 'html-503') {
      res.writeHead(503, { 'Content-Type': 'text/html' });
      res.end('<html><body>503 Service Unavailable</body></html>');
      return;
    }
    if (fault === 'hang-before-reply') return; // the client's deadline ends it
    const existing = this.labels.get(label);
    if (existing && existing.state !== 'ABORTED') {
      const job =
        existing.state === 'VISIBLE' ? 'FINISHED' : existing.state === 'PRECOMMITTED' ? 'PRECOMMITTED' : 'RUNNING';
      res.end(
        reply({
          TxnId: -1,
          Label: label,
          Status: 'Label Already Exists',
          ExistingJobStatus: job,
          Message: `[LABEL_ALREADY_EXISTS]TStatus: errCode = 2, detailMessage = Label [${label}] has already been used, relate to txn [${existing.id}], status [${existing.state}].`,
        }),
      );
      return;
    }
    const id = ++this.#txn;
    if (fault === 'body-exceed') {
      // The one refusal of a batch itself that retrying cannot help (classify.ts 'fatal').
      this.labels.set(label, { id, state: 'ABORTED', rows: [] });
      res.end(
        reply({
          TxnId: id,
          Label: label,
          Status: 'Fail',
          Message: '[EXCEEDED_LIMIT]body exceed max size: 10737418240, limit: 104857600',
        }),
      );
      return;
    }
    if (fault === 'e235') {
      this.labels.set(label, { id, state: 'ABORTED', rows: [] });
      res.end(
        reply({
          TxnId: id,
          Label: label,
          Status: 'Fail',
          Message: '[E-235]failed to init rowset builder. version count: 2001, exceed limit: 2000, tablet: 1.',
        }),
      );
      return;
    }
    const bad = rows.filter((r) => r.includes('BAD'));
    if (bad.length > 0) {
      this.labels.set(label, { id, state: 'ABORTED', rows: [] });
      const file = `__shard_1/error_log_db_${label}_${id}`;
      this.errorLogs.set(file, bad.map((r) => `Reason: column(x) value is incorrect. src line [${r}]; `).join('\n'));
      res.end(
        reply({
          TxnId: id,
          Label: label,
          Status: 'Fail',
          Message: '[DATA_QUALITY_ERROR]too many filtered rows',
          NumberTotalRows: rows.length,
          NumberFilteredRows: bad.length,
          ...(fault === 'no-error-url' ? {} : { ErrorURL: `http://${this.beAddr}/api/_load_error_log?file=${file}` }),
        }),
      );
      return;
    }
    const txn: Txn = { id, state: twoPc ? 'PRECOMMITTED' : 'VISIBLE', rows };
    this.labels.set(label, txn);
    if (!twoPc) this.table.push(...rows);
    if (fault === 'drop-after-commit') {
      req.socket.destroy();
      return;
    }
    res.end(
      reply({
        TxnId: id,
        Label: label,
        TwoPhaseCommit: String(twoPc),
        Status: 'Success',
        Message: 'OK',
        NumberTotalRows: rows.length,
        NumberLoadedRows: rows.length,
        LoadBytes: body.length,
      }),
    );
  }
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function reply(fields: Record<string, unknown>): string {
  const base = {
    TxnId: -1,
    Label: '',
    Comment: '',
    TwoPhaseCommit: 'false',
    Status: 'Fail',
    Message: '',
    NumberTotalRows: 0,
    NumberLoadedRows: 0,
    NumberFilteredRows: 0,
    NumberUnselectedRows: 0,
    LoadBytes: 0,
    LoadTimeMs: 1,
  };
  return `${JSON.stringify({ ...base, ...fields }, null, 4)}\n`;
}
