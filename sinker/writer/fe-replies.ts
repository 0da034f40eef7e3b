// Parse the FE's REST answers the writer relies on besides the load itself (doris-stream-load.md
// §11b, §5): the label state, the live backends, and the 2PC commit/abort reply. Pure.

export type LabelState = 'UNKNOWN' | 'PREPARE' | 'PRECOMMITTED' | 'COMMITTED' | 'VISIBLE' | 'ABORTED';
const STATES = new Set<string>(['UNKNOWN', 'PREPARE', 'PRECOMMITTED', 'COMMITTED', 'VISIBLE', 'ABORTED']);

function objectOf(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${what}: reply is not JSON: ${text.slice(0, 200)}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what}: reply is not a JSON object`);
  return v as Record<string, unknown>;
}

/** `GET /api/{db}/get_load_state?label=` → `{"msg":"success","code":0,"data":"VISIBLE","count":0}`. */
export function parseLoadState(text: string): LabelState {
  const o = objectOf(text, 'get_load_state');
  const detail = `${String(o.msg ?? '')} ${typeof o.data === 'string' ? o.data : ''}`;
  // The not-found answer's shape is unverified (§11b); a "no such label" error means UNKNOWN.
  if (
    o.code !== 0 &&
    o.code !== '0' &&
    /label.*(not (be )?found|not exist|does not exist)|no such label/i.test(detail)
  ) {
    return 'UNKNOWN';
  }
  if (o.code !== 0 && o.code !== '0') {
    throw new Error(
      `get_load_state: FE code ${String(o.code)}: ${String(o.msg)} ${typeof o.data === 'string' ? o.data : ''}`.trim(),
    );
  }
  const data = typeof o.data === 'string' ? o.data.toUpperCase() : '';
  // Some versions prefix the txn status enum (TXN_STATUS_VISIBLE); accept both spellings.
  const state = data.replace(/^TXN_STATUS_/, '');
  if (!STATES.has(state)) throw new Error(`get_load_state: unexpected state ${JSON.stringify(o.data)}`);
  return state as LabelState;
}

export interface Backend {
  host: string;
  httpPort: number;
}

/** `GET /api/backends?is_alive=true` → the live BEs' HTTP endpoints. */
export function parseBackends(text: string): Backend[] {
  const o = objectOf(text, 'backends');
  if (o.code !== undefined && o.code !== 0 && o.code !== '0') {
    throw new Error(
      `backends: FE code ${String(o.code)}: ${String(o.msg)} ${typeof o.data === 'string' ? o.data : ''}`.trim(),
    );
  }
  const data = o.data as Record<string, unknown> | undefined;
  const list = data && Array.isArray(data.backends) ? data.backends : undefined;
  if (!list) throw new Error('backends: reply has no data.backends list');
  const out: Backend[] = [];
  for (const b of list as Record<string, unknown>[]) {
    if (!b || typeof b !== 'object') continue;
    const alive = b.is_alive === undefined || b.is_alive === true || b.is_alive === 'true';
    const host = typeof b.ip === 'string' ? b.ip : typeof b.host === 'string' ? b.host : '';
    const port = Number(b.http_port);
    if (alive && host !== '' && Number.isInteger(port) && port > 0) out.push({ host, httpPort: port });
  }
  return out;
}

export type TwoPcResult = 'done' | 'already' | 'not-found' | 'failed';

/**
 * 2PC commit/abort reply (§5): `{"status": "Success", "msg": "..."}` on success; on failure the
 * status-code name and a message. `already` = the txn is already in the requested end state.
 */
export function parseTwoPcReply(text: string, op: 'commit' | 'abort'): { result: TwoPcResult; msg: string } {
  let o: Record<string, unknown>;
  try {
    o = objectOf(text, '2pc');
  } catch (e) {
    return { result: 'failed', msg: (e as Error).message };
  }
  const status = String(o.status ?? o.Status ?? '');
  const msg = String(o.msg ?? o.Message ?? '');
  if (status.toLowerCase() === 'success') return { result: 'done', msg };
  if (op === 'commit' && /is already \b(COMMITTED|committed|VISIBLE|visible)\b/.test(msg))
    return { result: 'already', msg };
  if (op === 'abort' && /is already aborted/i.test(msg)) return { result: 'already', msg };
  if (/not found/i.test(msg)) return { result: 'not-found', msg };
  return { result: 'failed', msg };
}
