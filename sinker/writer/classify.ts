// What a Stream Load reply means for the writer, per doris-stream-load.md §7. Messages are matched
// by substring (case-insensitive), never as whole strings, because their prefixes and wording
// change between Doris versions (§1.5). Pure; no I/O.
import type { BeLoadReply, ParsedReply } from './reply.ts';

export type LoadOutcome =
  /** In Doris (Success, or Publish Timeout: committed, visible later). */
  | { kind: 'committed'; reply: BeLoadReply; publishTimeout: boolean }
  /** `Label Already Exists` + FINISHED: an earlier attempt with this label committed. */
  | { kind: 'already-committed'; reply: BeLoadReply }
  /** `Label Already Exists` + RUNNING: an earlier attempt is still running; poll the label. */
  | { kind: 'running'; reply: BeLoadReply }
  /** Pre-committed (2PC): a Success under `two_phase_commit`, or `Label Already Exists` + PRECOMMITTED. */
  | { kind: 'precommitted'; reply: BeLoadReply }
  /** Try again with the same label. `reroute`: ask the FE again / use another BE. */
  | { kind: 'retryable'; reason: string; reroute: boolean; reply?: BeLoadReply }
  /** Rows Doris refuses (deterministic): find them, dead-letter them, load the rest. */
  | { kind: 'data-quality'; reason: string; errorUrl?: string; reply: BeLoadReply }
  /**
   * Doris refuses the sink's setup, not this batch: credentials, privileges, the database or table,
   * the request's headers. No batch gets past it until someone fixes it, so loading this batch again
   * later is the only useful move (the sinker holds it rather than dead-letter the whole topic).
   */
  | { kind: 'config'; reason: string; reply?: BeLoadReply }
  /** This batch cannot load (its body is over Doris's size limit); retrying it cannot help. */
  | { kind: 'fatal'; reason: string; reply?: BeLoadReply };

type Verdict = 'retry' | 'reroute' | 'data' | 'config' | 'fatal';

// 'config' is every refusal of the request itself, which each batch's request shares (auth,
// privileges, database, table, label format, headers, a proxy dropping Expect); 'fatal' only the
// size limits, which depend on the batch.
// Order matters: the first matching row wins. Specific retryable texts come before the fatal
// families they would otherwise fall into (a write-lock timeout is an ANALYSIS_ERROR, WAL space is
// EXCEEDED_LIMIT), and the generic timeout/cancel rows come after the fatal `Invalid timeout`.
const RULES: readonly [string, Verdict][] = [
  ['[e-235]', 'retry'],
  ['too_many_version', 'retry'],
  ['version count', 'retry'],
  ['larger than limit', 'retry'],
  ['write lock timeout', 'retry'],
  ['fe master heartbeat', 'retry'],
  ['service_unavailable', 'retry'],
  ['no backend available', 'reroute'],
  ['blocked on schema change', 'retry'],
  ['no space for group commit', 'retry'],
  ["receive body don't equal", 'retry'],
  ['sender is gone', 'retry'],
  ['too many filtered rows', 'data'],
  ['encountered unqualified data', 'data'],
  ['data_quality_error', 'data'],
  ['access denied', 'config'],
  ['need auth information', 'config'],
  ['not_authorized', 'config'],
  ['no valid basic authorization', 'config'],
  ['unauthorized', 'config'],
  ['label format error', 'config'],
  ['unknown database', 'config'],
  ['table not found', 'config'],
  ['not found.', 'config'],
  ['[not_found]', 'config'],
  ['table type is not olap', 'config'],
  ['no database selected', 'config'],
  ['no table selected', 'config'],
  ['there is no 100-continue header', 'config'],
  ['header `group_commit`', 'config'],
  ['label and group_commit', 'config'],
  ['invalid_argument', 'config'],
  ['unknown data format', 'config'],
  ['compress data of json format is not supported', 'config'],
  ['invalid timeout', 'config'],
  ['invalid format of', 'config'],
  ['invalid strict mode', 'config'],
  ['[e-217]', 'fatal'],
  ['exceeded_limit', 'fatal'],
  ['body exceed', 'fatal'],
  ['[timeout]', 'retry'],
  ['[cancelled]', 'retry'],
  ['timeout', 'retry'],
  ['cancel', 'retry'],
  ['network_error', 'retry'],
];

/** Classify a failure message by §7's table; unknown texts are retried (never dead-letter on a guess). */
export function classifyMessage(message: string): Verdict {
  const m = message.toLowerCase();
  for (const [needle, verdict] of RULES) if (m.includes(needle)) return verdict;
  return 'retry';
}

function fromVerdict(verdict: Verdict, reason: string, reply?: BeLoadReply): LoadOutcome {
  switch (verdict) {
    case 'config':
      return reply ? { kind: 'config', reason, reply } : { kind: 'config', reason };
    case 'fatal':
      return reply ? { kind: 'fatal', reason, reply } : { kind: 'fatal', reason };
    case 'data':
      // Only a BE reply carries rows; an FE saying "data quality" without one is not actionable.
      if (!reply) return { kind: 'fatal', reason };
      return reply.errorUrl
        ? { kind: 'data-quality', reason, errorUrl: reply.errorUrl, reply }
        : { kind: 'data-quality', reason, reply };
    case 'reroute':
      return reply ? { kind: 'retryable', reason, reroute: true, reply } : { kind: 'retryable', reason, reroute: true };
    default:
      return reply
        ? { kind: 'retryable', reason, reroute: false, reply }
        : { kind: 'retryable', reason, reroute: false };
  }
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function classifyBe(reply: BeLoadReply): LoadOutcome {
  const status = reply.status.toLowerCase();
  if (status === 'success') {
    return reply.twoPhaseCommit ? { kind: 'precommitted', reply } : { kind: 'committed', reply, publishTimeout: false };
  }
  if (status === 'publish timeout') return { kind: 'committed', reply, publishTimeout: true };
  if (status === 'label already exists') {
    const existing = (reply.existingJobStatus ?? '').toUpperCase();
    if (existing === 'FINISHED') return { kind: 'already-committed', reply };
    if (existing === 'PRECOMMITTED') return { kind: 'precommitted', reply };
    if (existing === 'RUNNING') return { kind: 'running', reply };
    // Cloud mode before #42700 sent ExistingJobStatus "": read the state from the message.
    const msg = reply.message.toUpperCase();
    if (/VISIBLE|COMMITTED\b/.test(msg) && !msg.includes('PRECOMMITTED')) return { kind: 'already-committed', reply };
    if (msg.includes('PRECOMMITTED')) return { kind: 'precommitted', reply };
    return { kind: 'running', reply };
  }
  const reason = reply.message || reply.status;
  return fromVerdict(classifyMessage(reason), reason, reply);
}

/** The outcome of one Stream Load request, from its HTTP status and parsed body. */
export function classifyReply(parsed: ParsedReply): LoadOutcome {
  const http = parsed.httpStatus;
  switch (parsed.shape) {
    case 'be-load':
      return classifyBe(parsed.reply);
    case 'fe-rest': {
      const reason = `FE: ${parsed.msg || parsed.status}`;
      if (parsed.status.toUpperCase() === 'OK' || parsed.status.toLowerCase() === 'success') {
        return { kind: 'retryable', reason: `FE answered ${parsed.status} without a load result`, reroute: true };
      }
      return fromVerdict(classifyMessage(parsed.msg), reason);
    }
    case 'fe-body': {
      const detail = typeof parsed.data === 'string' && parsed.data !== '' ? `: ${parsed.data}` : '';
      const reason = `FE code ${parsed.code}: ${parsed.msg}${detail}`;
      if (parsed.code === 401 || parsed.code === 403 || parsed.code === 404) return { kind: 'config', reason };
      if (parsed.code === 500 || parsed.code === 503 || http >= 500) {
        return { kind: 'retryable', reason, reroute: true };
      }
      return fromVerdict(
        classifyMessage(`${parsed.msg} ${typeof parsed.data === 'string' ? parsed.data : ''}`),
        reason,
      );
    }
    default: {
      const reason = `HTTP ${http}, not a Doris reply: ${snippet(parsed.text) || '(empty body)'}`;
      // Credentials, or a path nothing serves (a wrong fe_hosts port, a proxy): the setup, every batch.
      if (http === 404 || http === 405 || http === 401 || http === 403) return { kind: 'config', reason };
      // 5xx from a proxy, a truncated or HTML body: the load may or may not have happened; a retry
      // with the same label settles it (§11 fault 3).
      return { kind: 'retryable', reason, reroute: true };
    }
  }
}
