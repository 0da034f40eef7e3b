import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import {
  createLogger,
  DEAD_LETTER_SAMPLING,
  deadLetterSampler,
  LogSampler,
  logDeadLetters,
  loggerOptions,
  logProcessWarnings,
  removeBeyondBackups,
  removeOlderThan,
} from './logger.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
  };
}

test('passwords, Redis URLs and Authorization headers never reach the log', () => {
  const { stream, lines } = capture();
  const log = pino(loggerOptions({ level: 'info' }, { sink: 's1' }), stream);
  log.info(
    {
      doris: { password: 'hunter2', user: 'root' },
      kafka: { sasl: { password: 'k-secret' } },
      dedupe: { redis_url: 'redis://:r-secret@host:6379' },
      headers: { authorization: 'Basic cm9vdDpodW50ZXIy' },
    },
    'config loaded',
  );
  const text = JSON.stringify(lines());
  for (const secret of ['hunter2', 'k-secret', 'r-secret', 'cm9vdDpodW50ZXIy']) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  assert.equal(lines()[0]?.level, 'info');
  assert.equal(lines()[0]?.sink, 's1');
  assert.equal((lines()[0]!.doris as Record<string, string>).user, 'root');
});

test('sampler keeps a burst, then one in N, and reports what it dropped', () => {
  const s = new LogSampler(true, 3, 5, 1000);
  const kept: number[] = [];
  let droppedReported = 0;
  for (let i = 1; i <= 20; i++) {
    const r = s.admit('bad-json', 100);
    if (r !== undefined) {
      kept.push(i);
      droppedReported += r;
    }
  }
  assert.deepEqual(kept, [1, 2, 3, 8, 13, 18]);
  assert.equal(droppedReported, 12);
  // A new window starts fresh and carries the count dropped at the end of the last one.
  assert.equal(s.admit('bad-json', 1200), 2);
  assert.equal(new LogSampler(false).admit('x'), 0);
});

function deadLetters(n: number, from = 0) {
  return Array.from({ length: n }, (_, i) => ({ partition: 2, offset: String(from + i), reason: 'invalid JSON' }));
}

function warnings(): {
  log: { warn: (obj: unknown, msg: string) => void };
  lines: [Record<string, unknown>, string][];
} {
  const lines: [Record<string, unknown>, string][] = [];
  return { log: { warn: (obj, msg) => lines.push([obj as Record<string, unknown>, msg]) }, lines };
}

test('sampling on: dead letters log a burst, then one in N, the next line saying how many were suppressed', () => {
  const { burst, every } = DEAD_LETTER_SAMPLING;
  const sampler = deadLetterSampler(true);
  const { log, lines } = warnings();
  // One dead-letter write of 1000 records, then a second one within the same second.
  const first = logDeadLetters(log, sampler, deadLetters(1000), 5000);
  const second = logDeadLetters(log, sampler, deadLetters(every, 1000), 5500);
  const expectedFirst = burst + Math.floor((1000 - burst) / every);
  assert.equal(first, expectedFirst);
  assert.equal(second, 1);
  assert.ok(lines.every(([, msg]) => msg === 'message dead-lettered'));
  assert.deepEqual(
    lines[0],
    [{ partition: 2, offset: '0', reason: 'invalid JSON' }, 'message dead-lettered'],
    'the burst carries no suppressed',
  );
  assert.ok(lines.slice(0, burst).every(([o]) => !('suppressed' in o)));
  const afterBurst = lines[burst]![0];
  assert.equal(afterBurst.offset, String(burst + every - 1));
  assert.equal(afterBurst.suppressed, every - 1);
  // Every record is accounted for: logged, or counted in a later line's suppressed.
  const suppressed = lines.reduce((n, [o]) => n + ((o.suppressed as number | undefined) ?? 0), 0);
  const stillDropped = 1000 + every - lines.length - suppressed;
  assert.ok(stillDropped >= 0 && stillDropped < every, `${stillDropped} dropped and never reported`);
  // The next second starts a new burst, and its first line reports what the last one dropped.
  const { log: log2, lines: next } = warnings();
  assert.equal(logDeadLetters(log2, sampler, deadLetters(3, 5000), 6001), 3);
  assert.equal(next[0]![0].suppressed, stillDropped);
  assert.ok(!('suppressed' in next[1]![0]));
});

test('sampling on: what the end of a flood dropped gets its line once that second is over', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { burst } = DEAD_LETTER_SAMPLING;
  const sampler = deadLetterSampler(true);
  const { log, lines } = warnings();
  // 50 bad messages in one go, then none: the burst is logged, 40 are dropped.
  assert.equal(logDeadLetters(log, sampler, deadLetters(50), 5000), burst);
  t.mock.timers.tick(999);
  assert.equal(lines.length, burst, 'nothing more within that second');
  t.mock.timers.tick(1);
  assert.equal(lines.length, burst + 1);
  assert.deepEqual(lines.at(-1), [{ suppressed: 50 - burst }, 'message dead-lettered']);
  // Reported once: the next second's first line does not count them again, and says nothing more later.
  assert.equal(logDeadLetters(log, sampler, deadLetters(1, 50), 6500), 1);
  assert.deepEqual(lines.at(-1), [{ partition: 2, offset: '50', reason: 'invalid JSON' }, 'message dead-lettered']);
  t.mock.timers.tick(5000);
  assert.equal(lines.length, burst + 2);
});

test('sampling on: a later window reports its own end, also while the earlier one waited to report', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sampler = new LogSampler(true, 1, 1000, 1000);
  const reported: number[] = [];
  assert.equal(sampler.admit('k', 0), 0);
  assert.equal(sampler.admit('k', 10), undefined);
  sampler.reportDroppedLater('k', (n) => reported.push(n), 10);
  // The next window starts before the first's timer fires: its first line carries the 1 dropped.
  assert.equal(sampler.admit('k', 1000), 1);
  assert.equal(sampler.admit('k', 1001), undefined);
  assert.equal(sampler.admit('k', 1002), undefined);
  sampler.reportDroppedLater('k', (n) => reported.push(n), 1002);
  t.mock.timers.tick(990);
  assert.deepEqual(reported, [], "the first window was reported by the second window's first line");
  t.mock.timers.tick(1000);
  assert.deepEqual(reported, [2]);
});

test('sampling off: every dead-lettered record gets its line, none says suppressed', () => {
  const { log, lines } = warnings();
  assert.equal(logDeadLetters(log, deadLetterSampler(false), deadLetters(500), 5000), 500);
  assert.deepEqual(
    lines.map(([o]) => o.offset),
    deadLetters(500).map((r) => r.offset),
  );
  assert.ok(lines.every(([o]) => !('suppressed' in o)));
});

test('max_age sweep removes only old rotated files of this log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsweep-'));
  for (const name of ['sinker.1.log', 'sinker.2.log', 'other.1.log']) writeFileSync(join(dir, name), 'x');
  const old = (Date.now() - 10 * 86_400_000) / 1000;
  utimesSync(join(dir, 'sinker.1.log'), old, old);
  utimesSync(join(dir, 'other.1.log'), old, old);
  const removed = removeOlderThan(join(dir, 'sinker.log'), 7 * 86_400_000, Date.now());
  assert.deepEqual(removed, [join(dir, 'sinker.1.log')]);
  assert.deepEqual(readdirSync(dir).sort(), ['other.1.log', 'sinker.2.log']);
});

test('max_age sweep spares files that only share the stem, and the file being written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsweep-'));
  const names = ['sinker.yaml', 'sinker.dlq.jsonl', 'sinker.1.log', 'sinker.2.log', 'sinker.3.log'];
  const old = (Date.now() - 10 * 86_400_000) / 1000;
  for (const name of names) {
    writeFileSync(join(dir, name), 'x');
    utimesSync(join(dir, name), old, old);
  }
  const removed = removeOlderThan(join(dir, 'sinker.log'), 7 * 86_400_000, Date.now());
  assert.deepEqual(removed.sort(), [join(dir, 'sinker.1.log'), join(dir, 'sinker.2.log')]);
  assert.deepEqual(readdirSync(dir).sort(), ['sinker.3.log', 'sinker.dlq.jsonl', 'sinker.yaml']);
});

test('max_backups holds across runs: rotated files an earlier run left beyond it are deleted at start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logkeep-'));
  // Six files of earlier runs (pino-roll appends to the highest), and files sharing only the stem.
  const names = ['sinker.1.log', 'sinker.2.log', 'sinker.3.log', 'sinker.4.log', 'sinker.5.log', 'sinker.6.log'];
  for (const name of [...names, 'sinker.yaml', 'sinker.dlq.jsonl']) writeFileSync(join(dir, name), 'x\n');
  const log = createLogger({
    level: 'info',
    output: 'file',
    file_path: join(dir, 'sinker.log'),
    format: 'json',
    enable_sampling: true,
    max_size: 1,
    max_age: 7,
    max_backups: 2,
  });
  assert.deepEqual(readdirSync(dir).sort(), [
    'sinker.4.log',
    'sinker.5.log',
    'sinker.6.log',
    'sinker.dlq.jsonl',
    'sinker.yaml',
  ]);
  log.info('written to the last file');
  await new Promise<void>((resolve) => log.flush(() => resolve()));
});

test('removeBeyondBackups keeps the file being written and the newest max_backups, by number not name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logkeep-'));
  for (const n of [1, 2, 9, 10, 11]) writeFileSync(join(dir, `sinker.${n}.log`), 'x');
  const removed = removeBeyondBackups(join(dir, 'sinker.log'), 2);
  assert.deepEqual(removed.sort(), [join(dir, 'sinker.1.log'), join(dir, 'sinker.2.log')]);
  assert.deepEqual(removeBeyondBackups(join(dir, 'sinker.log'), 2), []);
  assert.deepEqual(readdirSync(dir).sort(), ['sinker.10.log', 'sinker.11.log', 'sinker.9.log']);
});

test('a log file whose directory cannot be made is an error at once, naming log.file_path (not a crash of the log worker)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logdir-'));
  writeFileSync(join(dir, 'plain-file'), 'x');
  const file_path = join(dir, 'plain-file', 'sub', 'sinker.log');
  const config = {
    level: 'info',
    output: 'file',
    file_path,
    format: 'json',
    enable_sampling: true,
    max_size: 1,
    max_age: 1,
    max_backups: 1,
  } as const;
  assert.throws(() => createLogger(config), new RegExp(`log\\.file_path ${file_path}: directory .* is not writable`));
});

test('a log file that fails while running (disk full) sends the lines to stderr, saying so once; the process goes on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logfull-'));
  // The file pino-roll appends to (the highest number) is /dev/full: every write fails with ENOSPC.
  symlinkSync('/dev/full', join(dir, 'sinker.1.log'));
  const child = join(dir, 'child.ts');
  writeFileSync(
    child,
    `import { createLogger } from ${JSON.stringify(new URL('./logger.ts', import.meta.url).href)};
const log = createLogger({ level: 'info', output: 'file', file_path: ${JSON.stringify(join(dir, 'sinker.log'))},
  format: 'json', enable_sampling: true, max_size: 1, max_age: 7, max_backups: 2 });
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (line) => {
  write(line);
  if (String(line).includes('writing the log file failed')) {
    log.info('after the failure');
    process.exit(0);
  }
  return true;
};
const timer = setInterval(() => log.info('filling'), 10);
setTimeout(() => process.exit(3), 20_000).unref();
`,
  );
  const r = spawnSync(process.execPath, [child], { encoding: 'utf8' });
  assert.equal(r.status, 0, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const failed = lines.filter((l) => l.msg === 'writing the log file failed: logging to stderr from now on');
  assert.equal(failed.length, 1, r.stderr);
  assert.equal(failed[0]!.level, 'error');
  assert.equal(failed[0]!.file_path, join(dir, 'sinker.log'));
  assert.match(String(failed[0]!.err), /ENOSPC/);
  assert.equal(lines.at(-1)!.msg, 'after the failure');
});

test('process warnings become log lines; the known kafkajs negative-timeout warning is dropped', () => {
  const proc = new EventEmitter();
  let printed = 0;
  proc.on('warning', () => printed++); // stands for Node's own stderr printer
  const lines: unknown[] = [];
  logProcessWarnings({ warn: ((obj: unknown, msg: string) => lines.push([obj, msg])) as never }, proc);
  const negative = new Error('-1795530378126 is a negative number.');
  negative.name = 'TimeoutNegativeWarning';
  proc.emit('warning', negative);
  const other = new Error('Possible EventEmitter memory leak detected');
  other.name = 'MaxListenersExceededWarning';
  proc.emit('warning', other);
  assert.equal(printed, 0, "Node's default printer is replaced");
  assert.deepEqual(lines, [
    [{ warning: 'MaxListenersExceededWarning', detail: 'Possible EventEmitter memory leak detected' }, 'node warning'],
  ]);
});
