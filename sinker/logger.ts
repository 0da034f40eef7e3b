// pino logger built from the `log` config: stdout, a rotated file, or both; credentials redacted;
// a sampler that keeps per-message lines from flooding the log when enable_sampling is on.
import { accessSync, constants, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { LogConfig } from './config/types.ts';

export type { Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'doris.password',
  'kafka.sasl.password',
  'dedupe.redis_url',
  'redis_url',
  'redisUrl',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.Authorization',
];

export function loggerOptions(
  config: Pick<LogConfig, 'level'>,
  base: Record<string, unknown> = {},
): pino.LoggerOptions {
  return {
    level: config.level,
    base: { pid: process.pid, ...base },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
}

export function createLogger(config: LogConfig, base: Record<string, unknown> = {}): Logger {
  const options = loggerOptions(config, base);
  if (config.output === 'stdout') return pino(options, pino.destination({ fd: 1, sync: false }));
  checkLogDirectory(config.file_path);

  const file = pino.transport({
    target: 'pino-roll',
    options: {
      file: config.file_path,
      size: `${config.max_size}m`,
      frequency: 'daily',
      mkdir: true,
      limit: { count: config.max_backups },
    },
  });
  scheduleSweep(config);
  // With output file, lines go to stderr once the file fails; with both, stdout has them anyway.
  const toFile = failSoft(file, config.output === 'file' ? (line) => process.stderr.write(line) : () => {});
  const logger =
    config.output === 'file'
      ? pino(options, toFile.stream)
      : pino(
          options,
          pino.multistream([{ stream: pino.destination({ fd: 1, sync: false }) }, { stream: toFile.stream }]),
        );
  toFile.failed.then((err) =>
    logger.error(
      { file_path: config.file_path, err: err.message },
      config.output === 'file'
        ? 'writing the log file failed: logging to stderr from now on'
        : 'writing the log file failed: logging to stdout only from now on',
    ),
  );
  return logger;
}

/**
 * The log file's stream, left alone once it fails (a full disk, the file's directory removed...)
 * instead of ending the process: the log worker's write error was an unhandled 'error' event, exit 1
 * with a bare stack trace, and the restarted sinker met it again at its first line. A sinker keeps
 * loading with its log file broken; `instead` takes the lines from then on.
 */
function failSoft(
  file: ReturnType<typeof pino.transport>,
  instead: (line: string) => void,
): { stream: pino.DestinationStream & { flush: (cb?: (err?: Error) => void) => void }; failed: Promise<Error> } {
  let failed = false;
  const failure = new Promise<Error>((resolve) =>
    file.on('error', (err: Error) => {
      if (failed) return;
      failed = true;
      resolve(err);
    }),
  );
  // The worker is marked destroyed at once, its 'error' comes on a later turn: lines between go to `instead` too.
  const broken = () => failed || (file as unknown as { destroyed: boolean }).destroyed;
  return {
    stream: {
      write: (line: string) => {
        if (broken()) instead(line);
        else file.write(line);
      },
      flush: (cb) => (broken() ? cb?.() : file.flush(cb)),
    },
    failed: failure,
  };
}

export class LogFileError extends Error {
  override name = 'LogFileError';
}

/**
 * The log file's directory exists (made if need be) and is writable. pino-roll finds out in its
 * worker thread, where the failure is an unhandled 'error' event that kills the process with a bare
 * stack trace (exit 1) some time after start.
 */
function checkLogDirectory(filePath: string): void {
  const dir = dirname(filePath);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new LogFileError(`log.file_path ${filePath}: directory ${dir} is not writable: ${(err as Error).message}`);
  }
}

/**
 * max_age (days) and max_backups over every rotated file of this log, once at start and then hourly.
 * pino-roll has no age limit, and its count covers only the files it rotated itself in this run:
 * those of earlier runs (a restart, a pod's volume) were kept for good, 7 files after three runs
 * with max_backups 2.
 */
function scheduleSweep(config: LogConfig): void {
  const sweep = () => {
    removeBeyondBackups(config.file_path, config.max_backups);
    if (config.max_age > 0) removeOlderThan(config.file_path, config.max_age * 86_400_000, Date.now());
  };
  sweep();
  setInterval(sweep, 3_600_000).unref();
}

/**
 * The rotated files pino-roll writes for `filePath`: `<stem>.<n><.ext>` (pino-roll takes the last
 * extension off the name, `.log` when there is none, and puts the number before it).
 */
function rotatedFilePattern(filePath: string): RegExp {
  const name = basename(filePath);
  const dot = name.lastIndexOf('.');
  const ext = dot < 0 ? 'log' : name.slice(dot + 1);
  const stem = dot < 0 ? name : name.slice(0, dot);
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const suffix = ext.length > 1 ? `\\.${esc(ext)}` : '';
  return new RegExp(`^${esc(stem)}\\.(\\d+)${suffix}$`);
}

/**
 * This log's rotated files, highest number (the file being written) first. Only files named as
 * pino-roll names them (never another file that shares the stem, such as a config or a DLQ file).
 */
function rotatedFiles(filePath: string): { path: string; n: number }[] {
  const dir = dirname(filePath);
  const pattern = rotatedFilePattern(filePath);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ path: join(dir, name), n: Number(pattern.exec(name)?.[1] ?? Number.NaN) }))
    .filter((f) => Number.isSafeInteger(f.n))
    .sort((a, b) => b.n - a.n);
}

function remove(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    // A file rotated away or removed meanwhile is not an error.
    return false;
  }
}

/** Deletes this log's rotated files older than maxAgeMs, never the file being written however old. */
export function removeOlderThan(filePath: string, maxAgeMs: number, now: number): string[] {
  const removed: string[] = [];
  for (const { path } of rotatedFiles(filePath).slice(1)) {
    let old: boolean;
    try {
      old = now - statSync(path).mtimeMs > maxAgeMs;
    } catch {
      continue;
    }
    if (old && remove(path)) removed.push(path);
  }
  return removed;
}

/** Deletes this log's rotated files beyond the `maxBackups` newest besides the file being written. */
export function removeBeyondBackups(filePath: string, maxBackups: number): string[] {
  return rotatedFiles(filePath)
    .slice(1 + maxBackups)
    .map((f) => f.path)
    .filter(remove);
}

/**
 * Node's process warnings as log lines (JSON like the rest) instead of bare text on stderr. kafkajs
 * 2.2.4 arms a timer from a timestamp difference that Node 24 reports as TimeoutNegativeWarning on
 * every connection (tulios/kafkajs#1751); the timer just fires at once, so that one is left out.
 */
export function logProcessWarnings(logger: Pick<Logger, 'warn'>, proc: NodeJS.EventEmitter = process): void {
  proc.removeAllListeners('warning');
  proc.on('warning', (w: Error) => {
    if (w.name === 'TimeoutNegativeWarning') return;
    logger.warn({ warning: w.name, detail: w.message }, 'node warning');
  });
}

/**
 * Lets through the first `burst` lines per key in each `periodMs`, then one in `every`; counts
 * what it drops so the next line that passes can say how many were suppressed.
 */
export class LogSampler {
  readonly #enabled: boolean;
  readonly #burst: number;
  readonly #every: number;
  readonly #periodMs: number;
  /** Per key, the current window; `reporting` while a timer will report its drops. */
  readonly #state = new Map<string, { windowStart: number; seen: number; dropped: number; reporting: boolean }>();

  constructor(enabled: boolean, burst = 10, every = 100, periodMs = 1000) {
    this.#enabled = enabled;
    this.#burst = burst;
    this.#every = every;
    this.#periodMs = periodMs;
  }

  /** Returns undefined to drop the line, or the number of lines dropped since the last one kept. */
  admit(key: string, now = Date.now()): number | undefined {
    if (!this.#enabled) return 0;
    let s = this.#state.get(key);
    if (!s || now - s.windowStart >= this.#periodMs) {
      const dropped = s?.dropped ?? 0;
      s = { windowStart: now, seen: 0, dropped: 0, reporting: false };
      this.#state.set(key, s);
      s.seen++;
      return dropped;
    }
    s.seen++;
    if (s.seen <= this.#burst || (s.seen - this.#burst) % this.#every === 0) {
      const dropped = s.dropped;
      s.dropped = 0;
      return dropped;
    }
    s.dropped++;
    return undefined;
  }

  /**
   * Once the current window of `key` has ended, calls `report` with how many lines it dropped that
   * no line let through since has reported. A flood's last lines were otherwise left unsaid until
   * the next line of that key, which may never come. One timer per window, unref'd.
   */
  reportDroppedLater(key: string, report: (dropped: number) => void, now = Date.now()): void {
    const s = this.#state.get(key);
    if (!s || s.dropped === 0 || s.reporting) return;
    s.reporting = true;
    setTimeout(
      () => {
        // A window that has given way to the next was reported by the next's first line.
        if (s.dropped === 0 || this.#state.get(key) !== s) return;
        const dropped = s.dropped;
        s.dropped = 0;
        report(dropped);
      },
      Math.max(0, s.windowStart + this.#periodMs - now),
    ).unref();
  }
}

/**
 * log.enable_sampling for the one per-message line, 'message dead-lettered': the first 10 per
 * second, then one in 100 (zap's scheme; a stream of bad messages logs about 100 lines a second
 * rather than one per message). The dlq_messages_total metric counts every record either way.
 */
export const DEAD_LETTER_SAMPLING = { burst: 10, every: 100, periodMs: 1000 } as const;

export function deadLetterSampler(enabled: boolean): LogSampler {
  const { burst, every, periodMs } = DEAD_LETTER_SAMPLING;
  return new LogSampler(enabled, burst, every, periodMs);
}

const DEAD_LETTERED = 'message dead-lettered';

/**
 * One 'message dead-lettered' line per record the sampler admits (all of them when sampling is
 * off), with `suppressed`: how many were dropped since the last line, when any were. Those dropped
 * at the end of a second that no later line reports get a line of their own then, with
 * `suppressed` only. Returns how many lines were written now.
 */
export function logDeadLetters(
  log: { warn: (fields: object, msg: string) => void },
  sampler: LogSampler,
  records: readonly { partition: number; offset: string; reason: string }[],
  now = Date.now(),
): number {
  let logged = 0;
  for (const r of records) {
    const suppressed = sampler.admit(DEAD_LETTERED, now);
    if (suppressed === undefined) continue;
    const fields = { partition: r.partition, offset: r.offset, reason: r.reason };
    log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, DEAD_LETTERED);
    logged++;
  }
  sampler.reportDroppedLater(DEAD_LETTERED, (suppressed) => log.warn({ suppressed }, DEAD_LETTERED), now);
  return logged;
}
