// The Stream Load writer: loads one LoadBatch under its deterministic label and does not return
// until the rows are in Doris, dead-lettered, or it has to give up (StreamLoadError). Retries keep
// the label, so a retry can never load the rows twice (DESIGN §3, doris-stream-load.md §7).
import http from 'node:http';
import type { LoadBatch } from '../batch.ts';
import type { DorisConfig } from '../config/types.ts';
import { derivedLabel, loadLabel } from '../labels.ts';
import { BackendRoute, NoBackendError } from './backend-route.ts';
import { type BackoffPolicy, backoffDelay, sleep } from './backoff.ts';
import { BodyPool, buildBody, type EncodingSpec, gzipBody, loadHeaders, mergedBody } from './body.ts';
import { classifyMessage, classifyReply, type LoadOutcome } from './classify.ts';
import { deadline } from './deadline.ts';
import { type ErrorLog, parseErrorLog } from './error-log.ts';
import { expectPut } from './expect-put.ts';
import { FeClient } from './fe-client.ts';
import type { LabelState } from './fe-replies.ts';
import { matchRefusal } from './refusal-match.ts';
import { type BeLoadReply, decodeReplyBody, parseReply } from './reply.ts';
import { type RowShape, rowShape } from './row-sources.ts';
import { type HttpReply, TransportError } from './transport.ts';

export interface RejectedRow {
  /** Index of the row in the batch. */
  index: number;
  /** Kafka offset the row came from. */
  offset: string;
  /** The encoded row as sent to Doris. */
  row: string;
  /** Doris's reason (from the ErrorURL or the load's message). */
  reason: string;
}

export interface AttemptInfo {
  label: string;
  route: 'backend' | 'frontend';
  target: string;
  /** Outcome kind, or `transport` / `no-route`. */
  outcome: string;
  ms: number;
  /** The same label was sent before in this load (doris_stream_load_retries_total). */
  retry: boolean;
}

export interface WriterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface WriterOptions {
  /** Sink name: part of every label. */
  sink: string;
  doris: DorisConfig;
  /** The encoder's format headers and line delimiter. */
  encoding: EncodingSpec;
  /**
   * Dead-letter rows Doris refused; awaited before the rest is loaded, so a crash can't lose them.
   * Without it, a batch with refused rows fails with a non-retryable StreamLoadError.
   */
  deadLetter?: (batch: LoadBatch, rows: RejectedRow[]) => Promise<void>;
  /** Called after every HTTP load attempt (metrics). */
  onAttempt?: (info: AttemptInfo) => void;
  logger?: WriterLogger;
  /** Connections per BE pool (BE route). */
  connectionsPerBackend?: number;
  /** Backoff cap, ms (base is `doris.retry_backoff_ms`). */
  maxBackoffMs?: number;
  /** Poll interval for a label still running, ms. */
  labelPollMs?: number;
  /** How long one wait on a running label may last before the load is sent again, ms. */
  maxLabelWaitMs?: number;
  /** When the BE route fails in `auto` mode, use the FE route this long, ms. */
  beFallbackMs?: number;
  /**
   * A refusal of the sink's setup (classify.ts 'config': credentials, privileges, the database or
   * table, a header) is retried with the same label and backoff until Doris takes the load or the
   * signal aborts, instead of failing the batch for good (which dead-letters it): every batch would
   * meet the same refusal, and a rotated password would drain the topic into the DLQ. `blocked`
   * says why while any load is held. Off (replay): such a refusal ends the load with a
   * SetupRefusedError, nothing dead-lettered.
   */
  holdConfigRefusals?: boolean;
  random?: () => number;
}

export interface LoadResult {
  label: string;
  /** loaded: this call committed it; already-loaded: an earlier attempt had; dead-lettered: every row went to the DLQ. */
  status: 'loaded' | 'already-loaded' | 'dead-lettered';
  /** Rows Doris reports loaded; for already-loaded the rows sent (the earlier reply is gone). */
  loadedRows: number;
  filteredRows: number;
  unselectedRows: number;
  deadLetteredRows: number;
  rejected: RejectedRow[];
  txnId?: string;
  errorUrl?: string;
  publishTimeout: boolean;
  /** HTTP load requests made (retries, reloads after dead-lettering, probes). */
  attempts: number;
  route?: 'backend' | 'frontend';
  elapsedMs: number;
  /** Doris's own timings of the committing load. */
  doris?: Pick<
    BeLoadReply,
    | 'loadTimeMs'
    | 'beginTxnTimeMs'
    | 'streamLoadPutTimeMs'
    | 'readDataTimeMs'
    | 'writeDataTimeMs'
    | 'commitAndPublishTimeMs'
  >;
}

export class StreamLoadError extends Error {
  readonly label: string;
  /** true: transient (Doris or network still failing after max_retries); the batch may be retried later with the same label. */
  readonly retryable: boolean;
  readonly attempts: number;
  constructor(message: string, opts: { label: string; retryable: boolean; attempts: number; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.name = 'StreamLoadError';
    this.label = opts.label;
    this.retryable = opts.retryable;
    this.attempts = opts.attempts;
  }
}

/**
 * Doris refuses the sink's setup (classify.ts 'config': credentials, privileges, the database or
 * table, a header) and the writer does not hold such loads (holdConfigRefusals off, replay): the
 * load stops, nothing of it loaded or dead-lettered. Every other batch would meet the same refusal,
 * so the caller stops too rather than count each row refused.
 */
export class SetupRefusedError extends StreamLoadError {
  /** Doris's words. */
  readonly reason: string;
  constructor(label: string, reason: string, attempts: number) {
    super(`load ${label}: Doris refuses the sink's setup: ${reason}`, { label, retryable: false, attempts });
    this.name = 'SetupRefusedError';
    this.reason = reason;
  }
}

/** What the two-phase load of a merged batch came to. */
export type PrecommitResult =
  /** Pre-committed: in Doris once committed by label, invisible until then. */
  | { kind: 'precommitted'; txnId: string }
  /** Already committed under this label (the caller's own earlier commit). */
  | { kind: 'in-doris' }
  /** Refused for data quality or for good: nothing loaded; load the batches one by one instead. */
  | { kind: 'refused'; reason: string };

/** What one labelled load came to after retries. */
type Terminal =
  | { kind: 'committed'; reply: BeLoadReply; publishTimeout: boolean }
  | { kind: 'already-committed' }
  | { kind: 'precommitted'; reply: BeLoadReply }
  | { kind: 'data-quality'; reason: string; errorUrl?: string; reply: BeLoadReply }
  | { kind: 'fatal'; reason: string };

type AttemptResult =
  | { kind: 'outcome'; outcome: LoadOutcome; route: 'backend' | 'frontend' }
  | { kind: 'transport'; error: TransportError; route: 'backend' | 'frontend' }
  | { kind: 'no-route'; error: Error; route: 'backend' | 'frontend' };

const MAX_DATA_QUALITY_ROUNDS = 5;

interface Ctx {
  attempts: number;
  route?: 'backend' | 'frontend';
  signal?: AbortSignal;
}

export class StreamLoadWriter {
  readonly fe: FeClient;
  readonly #opts: WriterOptions;
  readonly #doris: DorisConfig;
  readonly #backends: BackendRoute;
  readonly #agent: http.Agent;
  readonly #path: string;
  readonly #backoff: BackoffPolicy;
  readonly #bodies: BodyPool;
  /** How Doris reads our rows, to match its error-log lines to them. */
  readonly #shape: RowShape | undefined;
  #beFallbackUntil = 0;
  /** Loads held on a setup refusal right now, and the latest refusal. */
  #holding = 0;
  #holdReason = '';

  constructor(opts: WriterOptions) {
    this.#opts = opts;
    this.#doris = opts.doris;
    this.fe = new FeClient({
      hosts: opts.doris.fe_hosts,
      user: opts.doris.user,
      password: opts.doris.password,
      timeoutMs: Math.min(opts.doris.timeout * 1000, 30_000),
    });
    this.#backends = new BackendRoute({
      listBackends: () => this.fe.backends(),
      connections: opts.connectionsPerBackend ?? 8,
    });
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: opts.connectionsPerBackend ?? 8 });
    this.#path = `/api/${encodeURIComponent(opts.doris.database)}/${encodeURIComponent(opts.doris.table)}/_stream_load`;
    this.#backoff = { baseMs: Math.max(1, opts.doris.retry_backoff_ms), capMs: opts.maxBackoffMs ?? 30_000 };
    this.#bodies = new BodyPool(2 * (opts.connectionsPerBackend ?? 8));
    this.#shape = rowShape(loadHeaders(opts.doris, opts.encoding, '', '', false), opts.encoding.lineDelimiter);
  }

  /** Why loads are held (Doris refuses the sink's setup), while any is; else undefined. */
  get blocked(): string | undefined {
    return this.#holding > 0 ? this.#holdReason : undefined;
  }

  async close(): Promise<void> {
    this.#agent.destroy();
    await Promise.all([this.#backends.close(), this.fe.close()]);
  }

  /** The label a batch loads under. */
  labelOf(batch: Pick<LoadBatch, 'topic' | 'partition' | 'firstOffset'>): string {
    return loadLabel(this.#opts.sink, batch.topic, batch.partition, batch.firstOffset);
  }

  /**
   * A label's transaction state (FE `get_load_state`), for settling intents. With holdConfigRefusals
   * and a signal, the FE refusing the setup (the credentials) holds the question as a load is held
   * (counted in `blocked`, same backoff) until it is answered or the signal aborts: a sinker
   * restarted with the wrong password over open intents says why it loads nothing.
   */
  async labelState(label: string, signal?: AbortSignal): Promise<LabelState> {
    if (!this.#opts.holdConfigRefusals || !signal) return this.fe.loadState(this.#doris.database, label);
    let holding = false;
    try {
      for (let held = 0; ; held++) {
        try {
          return await this.fe.loadState(this.#doris.database, label);
        } catch (err) {
          const reason = (err as Error).message;
          if (signal.aborted || classifyMessage(reason) !== 'config') throw err;
          if (!holding) this.#holding++;
          holding = true;
          this.#holdReason = reason;
          await sleep(backoffDelay(held, this.#backoff, this.#opts.random), signal);
        }
      }
    } finally {
      if (holding) this.#holding--;
    }
  }

  /**
   * Commit a pre-committed (2PC) transaction by label; "already committed" counts as done. A commit
   * that fails (e.g. a write-lock timeout: the txn stays PRECOMMITTED) is retried with backoff up to
   * `max_retries`; then a retryable StreamLoadError.
   */
  async commitPrecommitted(label: string, signal?: AbortSignal): Promise<void> {
    let last = '';
    for (let attempt = 0; attempt <= this.#doris.max_retries; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(attempt - 1, this.#backoff, this.#opts.random), signal);
      if (signal?.aborted) break;
      try {
        const r = await this.fe.twoPhase(this.#doris.database, this.#doris.table, label, 'commit');
        if (r.result === 'done' || r.result === 'already') return;
        last = r.msg;
        // Not pre-committed any more and not committed: aborted or gone; the caller loads again.
        if (r.result === 'not-found' || /aborted/i.test(r.msg)) break;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    throw new StreamLoadError(`2PC commit of ${label} failed: ${last}`, { label, retryable: true, attempts: 0 });
  }

  /**
   * Load several partitions' batches as one two-phase load under `label` (batch.merge_partitions):
   * on success the rows are pre-committed, and become visible only once the caller commits the
   * label after its fence (DESIGN §3). Retries keep the label; gives up with a retryable
   * StreamLoadError like `load`. A refusal is returned, not split: the caller falls back to
   * per-partition loads, which dead-letter the refused rows.
   */
  async precommit(batches: readonly LoadBatch[], label: string, signal?: AbortSignal): Promise<PrecommitResult> {
    const ctx: Ctx = { attempts: 0, ...(signal ? { signal } : {}) };
    const whole = mergedBody(batches, this.#opts.encoding.lineDelimiter, (n) => this.#bodies.acquire(n));
    try {
      const body = this.#doris.compress && whole.length > 0 ? await gzipBody(whole) : whole;
      const t = await this.#loadLabelled(label, body, ctx, true);
      switch (t.kind) {
        case 'precommitted':
          return { kind: 'precommitted', txnId: t.reply.txnId };
        case 'committed':
        case 'already-committed':
          return { kind: 'in-doris' };
        default:
          return { kind: 'refused', reason: t.reason };
      }
    } finally {
      this.#bodies.release(whole);
    }
  }

  /** Abort a pre-committed (2PC) transaction by label; "already aborted" or "not found" counts as done. */
  async abortPrecommitted(label: string): Promise<void> {
    const r = await this.fe.twoPhase(this.#doris.database, this.#doris.table, label, 'abort');
    if (r.result === 'failed') throw new Error(`2PC abort of ${label} failed: ${r.msg}`);
  }

  /**
   * Load a batch. Resolves when its rows are in Doris (possibly minus rows dead-lettered for data
   * quality), or all dead-lettered. Rejects with StreamLoadError when it must give up.
   * `onDeadLettered` is given every row dead-lettered so far for data quality, once they are in the
   * dead-letter queue and before the rest loads (its rejection fails the load): whoever settles the
   * label after a crash must know which rows it does not hold.
   */
  async load(
    batch: LoadBatch,
    opts: {
      label?: string;
      signal?: AbortSignal;
      onDeadLettered?: (rows: readonly RejectedRow[]) => Promise<void>;
    } = {},
  ): Promise<LoadResult> {
    const started = performance.now();
    const label = opts.label ?? this.labelOf(batch);
    const ctx: Ctx = { attempts: 0, ...(opts.signal ? { signal: opts.signal } : {}) };
    // Indexes of the rows still to load; null = all of them (the usual case: no copy).
    let current: number[] | null = null;
    const remaining = () => current ?? batch.rowOffsets.map((_, i) => i);
    const count = () => (current ? current.length : batch.rowOffsets.length);
    const rejected: RejectedRow[] = [];
    const finish = (
      status: LoadResult['status'],
      reply?: BeLoadReply,
      publishTimeout = false,
      loadedOverride?: number,
    ): LoadResult => {
      const r: LoadResult = {
        label,
        status,
        loadedRows: loadedOverride ?? reply?.numberLoadedRows ?? 0,
        filteredRows: reply?.numberFilteredRows ?? 0,
        unselectedRows: reply?.numberUnselectedRows ?? 0,
        deadLetteredRows: rejected.length,
        rejected,
        publishTimeout,
        attempts: ctx.attempts,
        elapsedMs: performance.now() - started,
      };
      if (ctx.route) r.route = ctx.route;
      if (reply) {
        r.txnId = reply.txnId;
        if (reply.errorUrl) r.errorUrl = reply.errorUrl;
        r.doris = {
          loadTimeMs: reply.loadTimeMs,
          ...(reply.beginTxnTimeMs !== undefined ? { beginTxnTimeMs: reply.beginTxnTimeMs } : {}),
          ...(reply.streamLoadPutTimeMs !== undefined ? { streamLoadPutTimeMs: reply.streamLoadPutTimeMs } : {}),
          ...(reply.readDataTimeMs !== undefined ? { readDataTimeMs: reply.readDataTimeMs } : {}),
          ...(reply.writeDataTimeMs !== undefined ? { writeDataTimeMs: reply.writeDataTimeMs } : {}),
          ...(reply.commitAndPublishTimeMs !== undefined
            ? { commitAndPublishTimeMs: reply.commitAndPublishTimeMs }
            : {}),
        };
      }
      return r;
    };

    let dqRounds = 0;
    // The full batch's body comes from the pool and goes back when this load is over.
    let pooled: Buffer | undefined;
    try {
      for (;;) {
        let body: Buffer;
        if (current) {
          body = await this.#body(
            current.map((i) => batch.rows[i] as string),
            undefined,
          );
        } else {
          // A batch built as bytes brings its body (rows joined by "\n"); else join the rows.
          let whole: Buffer;
          if (batch.body !== undefined && this.#opts.encoding.lineDelimiter === '\n') whole = batch.body;
          else {
            pooled ??= buildBody(batch.rows, this.#opts.encoding.lineDelimiter, batch.bytes, (n) =>
              this.#bodies.acquire(n),
            );
            whole = pooled;
          }
          body = this.#doris.compress && whole.length > 0 ? await gzipBody(whole) : whole;
        }
        const t = await this.#loadLabelled(label, body, ctx, false);
        if (t.kind === 'committed') {
          if (t.reply.errorUrl) {
            this.#opts.logger?.warn(
              { label, errorUrl: t.reply.errorUrl, filtered: t.reply.numberFilteredRows },
              'Doris filtered rows within max_filter_ratio',
            );
          }
          return finish(count() === 0 && rejected.length > 0 ? 'dead-lettered' : 'loaded', t.reply, t.publishTimeout);
        }
        if (t.kind === 'already-committed') {
          return finish(
            count() === 0 && rejected.length > 0 ? 'dead-lettered' : 'already-loaded',
            undefined,
            false,
            count(),
          );
        }
        if (t.kind === 'precommitted') {
          // Not asked for 2PC, yet pre-committed under our label (a 2PC mode of an earlier run): ours to commit.
          await this.commitPrecommitted(label, ctx.signal);
          // Our own request pre-committed it (two_phase_commit among the user's properties): loaded now.
          if (t.reply.status.toLowerCase() === 'success') return finish('loaded', t.reply);
          return finish('already-loaded', undefined, false, count());
        }
        if (t.kind === 'fatal') {
          await this.#reject(batch, remaining(), t.reason, rejected, label, ctx);
          return finish('dead-lettered');
        }
        // Data quality: find the refused rows, dead-letter them, load the rest under the same label
        // (the refused load was rolled back, so the label is free, §3/§4).
        dqRounds++;
        if (dqRounds > 2 * MAX_DATA_QUALITY_ROUNDS) {
          throw new StreamLoadError(
            `load ${label}: still refused for data quality after ${dqRounds - 1} rounds: ${t.reason}`,
            {
              label,
              retryable: false,
              attempts: ctx.attempts,
            },
          );
        }
        const idx = remaining();
        const { bad, suspects } =
          dqRounds <= MAX_DATA_QUALITY_ROUNDS
            ? await this.#refusedFromErrorLog(batch, idx, t)
            : { bad: new Map<number, string>(), suspects: idx };
        if (suspects.length > 0) {
          const whole = bad.size === 0 && suspects.length === idx.length;
          for (const [i, reason] of await this.#bisect(batch, suspects, label, ctx, whole)) bad.set(i, reason);
        }
        if (bad.size === 0) {
          // Every part loads on its own: the refusal did not come from a row. Load it again.
          this.#opts.logger?.warn(
            { label, reason: t.reason },
            'refused for data quality, but no row is at fault; loading again',
          );
          continue;
        }
        const refused = idx.filter((i) => bad.has(i));
        await this.#deadLetter(
          batch,
          refused.map((i) => ({
            index: i,
            offset: batch.rowOffsets[i] as string,
            row: batch.rows[i] as string,
            reason: bad.get(i) as string,
          })),
          rejected,
          label,
          ctx,
        );
        current = idx.filter((i) => !bad.has(i));
        await opts.onDeadLettered?.(rejected);
        // With no row left, an empty load still commits the label, so the range reads as settled
        // by its label if we crash before the caller records it.
      }
    } finally {
      if (pooled) this.#bodies.release(pooled);
    }
  }

  async #body(rows: string[], bytes: number | undefined): Promise<Buffer> {
    const body = buildBody(rows, this.#opts.encoding.lineDelimiter, bytes);
    return this.#doris.compress && body.length > 0 ? gzipBody(body) : body;
  }

  async #reject(
    batch: LoadBatch,
    idx: number[],
    reason: string,
    out: RejectedRow[],
    label: string,
    ctx: Ctx,
  ): Promise<void> {
    if (!this.#opts.deadLetter) {
      throw new StreamLoadError(`load ${label}: ${reason}`, { label, retryable: false, attempts: ctx.attempts });
    }
    await this.#deadLetter(
      batch,
      idx.map((i) => ({ index: i, offset: batch.rowOffsets[i] as string, row: batch.rows[i] as string, reason })),
      out,
      label,
      ctx,
    );
  }

  async #deadLetter(batch: LoadBatch, rows: RejectedRow[], out: RejectedRow[], label: string, ctx: Ctx): Promise<void> {
    if (rows.length === 0) return;
    if (!this.#opts.deadLetter) {
      throw new StreamLoadError(
        `load ${label}: ${rows.length} rows refused (${rows[0]?.reason}) and no dead-letter queue is set`,
        {
          label,
          retryable: false,
          attempts: ctx.attempts,
        },
      );
    }
    await this.#opts.deadLetter(batch, rows);
    out.push(...rows);
    this.#opts.logger?.warn({ label, rows: rows.length, reason: rows[0]?.reason }, 'rows dead-lettered');
  }

  /**
   * The rows the refused load's error log names (batch index → reason), and the rows still to bisect:
   * none when the log names every refused row, or when it was cut (the next load's log names the next
   * rows); otherwise those the log could not settle (refusal-match.ts).
   */
  async #refusedFromErrorLog(
    batch: LoadBatch,
    current: number[],
    t: { errorUrl?: string; reason: string; reply: BeLoadReply },
  ): Promise<{ bad: Map<number, string>; suspects: number[] }> {
    const bad = new Map<number, string>();
    const log = await this.#errorLog(t.errorUrl);
    if (!log) return { bad, suspects: current };
    const v = matchRefusal({
      rows: current.map((i) => batch.rows[i] as string),
      entries: log.entries,
      cut: log.cut,
      filtered: t.reply.numberFilteredRows,
      message: t.reason,
      shape: this.#shape,
    });
    for (const [k, reason] of v.bad) bad.set(current[k] as number, reason);
    if (v.note) {
      this.#opts.logger?.debug(
        { errorUrl: t.errorUrl, named: bad.size, next: v.rest.kind, note: v.note, summaries: log.summaries },
        'error log did not settle every row',
      );
    }
    if (v.rest.kind === 'bisect') return { bad, suspects: v.rest.suspects.map((k) => current[k] as number) };
    // Nothing named (a cut log whose rows all fit several texts): only bisecting makes progress.
    return { bad, suspects: bad.size === 0 ? current : [] };
  }

  /** The entries of a load's error log; undefined (logged) when there is none or it cannot be read. */
  async #errorLog(errorUrl: string | undefined): Promise<ErrorLog | undefined> {
    if (!errorUrl) return undefined;
    try {
      return parseErrorLog(await this.fe.fetchText(errorUrl));
    } catch (err) {
      this.#opts.logger?.warn({ errorUrl, err: (err as Error).message }, 'cannot read the ErrorURL; bisecting');
      return undefined;
    }
  }

  /**
   * Why Doris refused a one-row probe: its error log's entry (a one-row log needs no matching), else
   * FirstErrorMsg (Doris 4.0 on), else the load's message.
   */
  async #oneRowReason(t: { errorUrl?: string; reason: string; reply: BeLoadReply }): Promise<string> {
    const log = await this.#errorLog(t.errorUrl);
    return log?.entries[0]?.reason || t.reply.firstErrorMsg || t.reason;
  }

  /**
   * Without a usable error log, find the refused rows by loading halves as 2PC probes that are
   * aborted afterwards (nothing becomes visible), so the final load can still carry every good row
   * under the batch's own label.
   */
  async #bisect(
    batch: LoadBatch,
    current: number[],
    label: string,
    ctx: Ctx,
    refusedWhole = false,
  ): Promise<Map<number, string>> {
    const bad = new Map<number, string>();
    // `current` exactly as the load just refused: probing it whole again would tell nothing new.
    const mid0 = current.length >> 1;
    const stack: number[][] =
      refusedWhole && current.length > 1 ? [current.slice(mid0), current.slice(0, mid0)] : [current];
    let probe = 0;
    const budget = 64 + 4 * current.length;
    while (stack.length > 0) {
      const part = stack.pop() as number[];
      if (part.length === 0) continue;
      if (probe >= budget) {
        for (const i of part) bad.set(i, 'refused by Doris (row not singled out: probe budget exhausted)');
        continue;
      }
      const probeLabel = derivedLabel(label, `p${probe++}`);
      const rows = part.map((i) => batch.rows[i] as string);
      const t = await this.#loadLabelled(probeLabel, await this.#body(rows, undefined), ctx, true);
      if (t.kind === 'precommitted') {
        const r = await this.fe
          .twoPhase(this.#doris.database, this.#doris.table, probeLabel, 'abort')
          .catch((e: Error) => ({
            result: 'failed',
            msg: e.message,
          }));
        if (r.result === 'failed')
          this.#opts.logger?.warn({ probeLabel, reason: r.msg }, 'abort of a probe failed; Doris times it out');
        continue;
      }
      if (t.kind === 'committed' || t.kind === 'already-committed') {
        throw new StreamLoadError(
          `probe ${probeLabel} committed although two_phase_commit was asked: refusing to go on`,
          {
            label,
            retryable: false,
            attempts: ctx.attempts,
          },
        );
      }
      if (t.kind === 'fatal') {
        for (const i of part) bad.set(i, t.reason);
        continue;
      }
      if (part.length === 1) {
        bad.set(part[0] as number, await this.#oneRowReason(t));
        continue;
      }
      const mid = part.length >> 1;
      stack.push(part.slice(mid), part.slice(0, mid));
    }
    return bad;
  }

  /** Send one labelled body until a terminal answer; retries keep the label. */
  async #loadLabelled(label: string, body: Buffer, ctx: Ctx, probe: boolean): Promise<Terminal> {
    const headers = loadHeaders(
      this.#doris,
      this.#opts.encoding,
      label,
      this.fe.authorization,
      this.#doris.compress && body.length > 0,
      probe ? { two_phase_commit: 'true' } : {},
    );
    // This load's share of #holding: 1 from a setup refusal until Doris answers anything else.
    let holding = false;
    const hold = (on: boolean) => {
      if (on !== holding) this.#holding += on ? 1 : -1;
      holding = on;
    };
    try {
      return await this.#send(label, headers, body, ctx, probe, hold);
    } finally {
      hold(false);
    }
  }

  async #send(
    label: string,
    headers: Record<string, string>,
    body: Buffer,
    ctx: Ctx,
    probe: boolean,
    hold: (on: boolean) => void,
  ): Promise<Terminal> {
    let failures = 0;
    let held = 0;
    let sent = 0;
    let lastReason = '';
    for (;;) {
      if (ctx.signal?.aborted) {
        throw new StreamLoadError(`load ${label}: aborted (${lastReason || 'before a reply'})`, {
          label,
          retryable: true,
          attempts: ctx.attempts,
        });
      }
      const r = await this.#attempt(label, headers, body, ctx, sent++ > 0);
      let settleByLabel = false;
      let reroute = false;
      let refusedSetup = false;
      if (r.kind === 'outcome') {
        const o = r.outcome;
        // Any other answer from Doris: the setup is not what stops this load (a transport error
        // tells nothing either way, so a held load stays held through one).
        if (o.kind !== 'config') hold(false);
        switch (o.kind) {
          case 'committed':
            return { kind: 'committed', reply: o.reply, publishTimeout: o.publishTimeout };
          case 'already-committed':
            return { kind: 'already-committed' };
          case 'precommitted':
            return { kind: 'precommitted', reply: o.reply };
          case 'data-quality':
            return o.errorUrl
              ? { kind: 'data-quality', reason: o.reason, errorUrl: o.errorUrl, reply: o.reply }
              : { kind: 'data-quality', reason: o.reason, reply: o.reply };
          case 'fatal':
            return { kind: 'fatal', reason: o.reason };
          case 'config':
            if (!this.#opts.holdConfigRefusals) throw new SetupRefusedError(label, o.reason, ctx.attempts);
            refusedSetup = true;
            lastReason = o.reason;
            break;
          case 'running':
            settleByLabel = true;
            lastReason = 'label still running';
            break;
          case 'retryable':
            lastReason = o.reason;
            reroute = o.reroute;
            break;
        }
      } else if (r.kind === 'transport') {
        lastReason = r.error.message;
        settleByLabel = r.error.ambiguous;
        reroute = !r.error.ambiguous;
      } else {
        lastReason = r.error.message;
        reroute = true;
        // The FE refused the backends listing for the credentials: a setup refusal too.
        if (r.error instanceof NoBackendError && r.error.fatal) {
          if (!this.#opts.holdConfigRefusals) throw new SetupRefusedError(label, r.error.message, ctx.attempts);
          refusedSetup = true;
        }
      }
      if (refusedSetup) {
        // Not a failure of this load that max_retries bounds: held, with the same label, until
        // Doris takes it or the signal aborts (shutdown, revocation). The pipeline reports the
        // hold (writer.blocked), not each retry.
        hold(true);
        this.#holdReason = lastReason;
        failures = 0;
        const delay = backoffDelay(held++, this.#backoff, this.#opts.random);
        this.#opts.logger?.debug(
          { label, attempt: ctx.attempts, delayMs: delay, reason: lastReason },
          'stream load held: Doris refuses the setup',
        );
        await sleep(delay, ctx.signal);
        continue;
      }
      if (settleByLabel) {
        const s = await this.#awaitLabel(label, ctx);
        if (s === 'in-doris') return { kind: 'already-committed' };
        if (s === 'precommitted') {
          if (probe) return { kind: 'precommitted', reply: precommittedReply(label) };
          await this.commitPrecommitted(label, ctx.signal);
          return { kind: 'already-committed' };
        }
        // 'free' (aborted/unknown) or 'unknown' (FE unreachable): send again with the same label,
        // which is safe either way — Doris refuses a label that did commit.
      }
      failures++;
      if (failures > this.#doris.max_retries) {
        throw new StreamLoadError(`load ${label}: gave up after ${failures} failed attempts: ${lastReason}`, {
          label,
          retryable: true,
          attempts: ctx.attempts,
        });
      }
      if (reroute && r.route === 'backend' && this.#doris.load_route === 'auto' && r.kind === 'no-route') {
        this.#beFallbackUntil = Date.now() + (this.#opts.beFallbackMs ?? 30_000);
      }
      const delay = backoffDelay(failures - 1, this.#backoff, this.#opts.random);
      this.#opts.logger?.info(
        { label, attempt: ctx.attempts, delayMs: delay, reason: lastReason },
        'stream load retry',
      );
      await sleep(delay, ctx.signal);
    }
  }

  /** Settle an unknown outcome by the label's state (§11b) instead of sending the body again. */
  async #awaitLabel(label: string, ctx: Ctx): Promise<'in-doris' | 'free' | 'precommitted' | 'unknown'> {
    const pollMs = this.#opts.labelPollMs ?? 1000;
    const until = Date.now() + (this.#opts.maxLabelWaitMs ?? this.#doris.timeout * 1000 + 30_000);
    let errors = 0;
    while (Date.now() < until && !ctx.signal?.aborted) {
      let state: LabelState;
      try {
        state = await this.labelState(label);
      } catch (err) {
        if (++errors >= 3) {
          this.#opts.logger?.warn(
            { label, err: (err as Error).message },
            'label state unavailable; resending with the same label',
          );
          return 'unknown';
        }
        await sleep(backoffDelay(errors, this.#backoff, this.#opts.random), ctx.signal);
        continue;
      }
      if (state === 'VISIBLE' || state === 'COMMITTED') return 'in-doris';
      if (state === 'ABORTED' || state === 'UNKNOWN') return 'free';
      if (state === 'PRECOMMITTED') return 'precommitted';
      await sleep(pollMs, ctx.signal);
    }
    return 'unknown';
  }

  #route(): 'backend' | 'frontend' {
    const mode = this.#doris.load_route;
    if (mode === 'frontend') return 'frontend';
    if (mode === 'backend') return 'backend';
    return Date.now() < this.#beFallbackUntil ? 'frontend' : 'backend';
  }

  async #attempt(
    label: string,
    headers: Record<string, string>,
    body: Buffer,
    ctx: Ctx,
    retry: boolean,
  ): Promise<AttemptResult> {
    const route = this.#route();
    ctx.route = route;
    const t0 = performance.now();
    let target = '';
    const report = (outcome: string) =>
      this.#opts.onAttempt?.({ label, route, target, outcome, ms: performance.now() - t0, retry });
    ctx.attempts++;
    let reply: HttpReply;
    try {
      if (route === 'backend') {
        try {
          target = await this.#backends.pick();
        } catch (err) {
          if (!(err instanceof NoBackendError)) throw err;
          // The FE refusing the credentials for the backends list is the setup's refusal, as a load's would be.
          if (err.fatal) report('config');
          else report('no-route');
          return { kind: 'no-route', error: err, route };
        }
        const due = deadline(this.#doris.timeout * 1000, ctx.signal);
        try {
          reply = await this.#backends.put(target, this.#path, headers, body, due.signal);
        } finally {
          due.release();
        }
      } else {
        target = this.fe.current;
        try {
          reply = await expectPut(new URL(this.#path, target), headers, body, {
            agent: this.#agent,
            timeoutMs: this.#doris.timeout * 1000,
            // as long as any other FE call may take (FeClient's timeout)
            firstReplyTimeoutMs: Math.min(this.#doris.timeout * 1000, 30_000),
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          });
        } catch (err) {
          // The FE itself unreachable or silent (not the BE behind its redirect): next FE. A load
          // whose body the FE may have been sent is still settled by its label first.
          if (err instanceof TransportError && err.url.startsWith(`${target}/`)) this.fe.rotate(target);
          throw err;
        }
      }
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      report('transport');
      if (route === 'backend' && this.#doris.load_route === 'auto' && err.phase === 'connect') {
        // Every BE refusing? Let the FE route carry the loads for a while.
        try {
          await this.#backends.pick();
        } catch {
          this.#beFallbackUntil = Date.now() + (this.#opts.beFallbackMs ?? 30_000);
        }
      }
      return { kind: 'transport', error: err, route };
    }
    const outcome = classifyReply(
      parseReply(reply.status, decodeReplyBody(reply.body, reply.headers['content-encoding'])),
    );
    report(outcome.kind);
    if (outcome.kind === 'retryable' && outcome.reroute && route === 'backend' && this.#doris.load_route === 'auto') {
      if (reply.status >= 500) this.#backends.markDown(target);
    }
    // A 5xx from the FE itself (not from the BE its 307 sent us to; a proxy in front of a dead FE,
    // a 503 serviceUnavailable): the next attempt goes to the next of fe_hosts, as a refused
    // connection does. A BE's 5xx leaves the FE be: asking it again picks another BE.
    if (route === 'frontend' && reply.status >= 500 && reply.url.startsWith(`${target}/`)) this.fe.rotate(target);
    return { kind: 'outcome', outcome, route };
  }
}

function precommittedReply(label: string): BeLoadReply {
  return {
    txnId: '-1',
    label,
    status: 'Label Already Exists',
    existingJobStatus: 'PRECOMMITTED',
    message: '',
    twoPhaseCommit: true,
    groupCommit: false,
    numberTotalRows: 0,
    numberLoadedRows: 0,
    numberFilteredRows: 0,
    numberUnselectedRows: 0,
    loadBytes: 0,
    loadTimeMs: 0,
  };
}
