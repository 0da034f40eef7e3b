// `npm test`: runs every test file with node's test runner, one process per file, in lanes (lanes.ts):
// the unit files all in parallel, then the exclusive ones (they stop test-bed parts) alone, one after
// another, then the shared-lane files a few at a time; the independent ones (no test bed: image
// builds) beside all of them from the start, at a lower CPU priority. A file's output is printed whole when it fails; a
// line per file otherwise (--verbose: every file's output). Ends with the 10 slowest files and the
// line `N passed, N failed`; exits non-zero when any test failed or any file did not finish.
//
//   node test/runner/run.ts [--lane unit,independent,shared,exclusive] [--jobs N] [--serial] [--verbose] [files...]
//
// --serial runs every file alone, one at a time (as `node --test --test-concurrency=1` did): the
// baseline to compare against. Durations are kept in ~/.cache/doris-sinker/test-durations.json so the
// longest shared-lane files start first.
import { spawn } from 'node:child_process';
import { existsSync, globSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, setPriority } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BED_GLOBS, declaredLocks, LANES, type Lane, laneOf, UNIT_GLOBS } from './lanes.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 20 * 60_000);

interface Options {
  lanes: Lane[];
  jobs: number;
  serial: boolean;
  verbose: boolean;
  files: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    lanes: [...LANES],
    jobs: Number(process.env.TEST_JOBS ?? 3),
    serial: false,
    verbose: false,
    files: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--lane') {
      o.lanes = value().split(',') as Lane[];
      for (const l of o.lanes)
        if (!LANES.includes(l)) throw new Error(`--lane: unknown lane ${l} (${LANES.join(', ')})`);
    } else if (a === '--jobs') o.jobs = Number(value());
    else if (a === '--serial') o.serial = true;
    else if (a === '--verbose') o.verbose = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else o.files.push(relative(ROOT, resolve(a)));
  }
  if (!(o.jobs >= 1)) throw new Error(`--jobs must be >= 1, got ${o.jobs}`);
  return o;
}

interface FileResult {
  file: string;
  lane: Lane;
  seconds: number;
  pass: number;
  fail: number;
  cancelled: number;
  skipped: number;
  exit: number | null;
  signal: string | null;
  timedOut: boolean;
  output: string;
}

function failedCount(r: FileResult): number {
  const n = r.fail + r.cancelled;
  // A file that ended badly without a failed test (crashed, killed, timed out) still counts as one.
  return n === 0 && (r.exit !== 0 || r.timedOut) ? 1 : n;
}

/** Runs one file with `node --test` (spec reporter), capturing its output. */
function runFile(file: string, lane: Lane, children: Set<number>, nice: boolean): Promise<FileResult> {
  const start = performance.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', file], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a timeout can end the sinkers it started too
    });
    const pid = child.pid!;
    children.add(pid);
    if (nice) {
      try {
        setPriority(pid, 10); // inherited by what it starts (buildah)
      } catch {
        // not allowed here: same priority then
      }
    }
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid);
    }, FILE_TIMEOUT_MS);
    child.on('close', (exit, signal) => {
      clearTimeout(timer);
      children.delete(pid);
      const output = Buffer.concat(chunks).toString('utf8');
      const count = (key: string) => {
        const all = [...output.matchAll(new RegExp(`^ℹ ${key} (\\d+)$`, 'gm'))];
        return Number(all.at(-1)?.[1] ?? 0);
      };
      done({
        file,
        lane,
        seconds: (performance.now() - start) / 1000,
        pass: count('pass'),
        fail: count('fail'),
        cancelled: count('cancelled'),
        skipped: count('skipped') + count('todo'),
        exit,
        signal,
        timedOut,
        output: timedOut ? `${output}\n[runner] killed after ${FILE_TIMEOUT_MS / 1000} s` : output,
      });
    });
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// Locks held by running files, over every lane's pool; wake: workers waiting for a lock to free.
const held = new Set<string>();
let wake: (() => void)[] = [];

/**
 * Runs `files` at most `jobs` at a time, in the order given, except that a file waits while another
 * holding one of its locks runs (it is skipped for the next free one); reports each as it ends.
 */
async function pool(
  files: string[],
  locksOf: (file: string) => string[],
  lane: Lane,
  jobs: number,
  children: Set<number>,
  report: (r: FileResult) => void | Promise<void>,
  nice = false,
): Promise<FileResult[]> {
  const results: FileResult[] = [];
  const remaining = [...files];
  const worker = async () => {
    while (remaining.length > 0) {
      const i = remaining.findIndex((f) => locksOf(f).every((l) => !held.has(l)));
      if (i < 0) {
        await new Promise<void>((r) => wake.push(r)); // every runnable file is locked out: wait for one to end
        continue;
      }
      const file = remaining.splice(i, 1)[0]!;
      const locks = locksOf(file);
      for (const l of locks) held.add(l);
      const r = await runFile(file, lane, children, nice);
      for (const l of locks) held.delete(l);
      const waiting = wake;
      wake = [];
      for (const w of waiting) w();
      results.push(r);
      await report(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));
  return results;
}

function durationsPath(): string {
  const cache = process.env.DORIS_SINKER_CACHE ?? join(homedir(), '.cache', 'doris-sinker');
  return join(cache, 'test-durations.json');
}

function loadDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(durationsPath(), 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

function saveDurations(known: Record<string, number>, results: FileResult[]): void {
  for (const r of results) if (failedCount(r) === 0) known[r.file] = Math.round(r.seconds * 10) / 10;
  try {
    mkdirSync(dirname(durationsPath()), { recursive: true });
    writeFileSync(durationsPath(), `${JSON.stringify(known, null, 1)}\n`);
  } catch {
    // only an ordering hint
  }
}

/** Re-starts whatever part of the test bed a failed exclusive file may have left stopped. */
function healTestbed(): Promise<void> {
  return new Promise((done) => {
    const child = spawn('bash', [join(ROOT, 'test/infra/up')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    child.on('close', (code) => {
      console.log(`  [runner] test/infra/up after a failed exclusive file: exit ${code}`);
      if (code !== 0) console.log(Buffer.concat(out).toString('utf8'));
      done();
    });
  });
}

/** User + system CPU of the ended children and what they waited for (Linux /proc; 100 ticks a second). */
function childrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

const fmt = (s: number) => `${s.toFixed(1).padStart(6)} s`;

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const glob = (patterns: string[]) => patterns.flatMap((p) => globSync(p, { cwd: ROOT })).sort();
  const unitFiles = new Set(glob(UNIT_GLOBS));
  const all = o.files.length > 0 ? o.files : [...unitFiles, ...glob(BED_GLOBS)];
  const byLane = new Map<Lane, string[]>(LANES.map((l) => [l, []]));
  const locks = new Map<string, string[]>();
  for (const f of all) {
    if (!existsSync(join(ROOT, f))) throw new Error(`no such test file: ${f}`);
    const source = readFileSync(join(ROOT, f), 'utf8');
    const lane = laneOf(f, source, unitFiles);
    locks.set(f, declaredLocks(source));
    if (o.lanes.includes(lane)) byLane.get(lane)!.push(f);
  }
  const known = loadDurations();
  // Longest first, so a lane does not end waiting on one long file; unknown (new) files count as long.
  const longestFirst = (files: string[]) => [...files].sort((a, b) => (known[b] ?? 120) - (known[a] ?? 120));

  const children = new Set<number>();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      for (const pid of children) killGroup(pid);
      process.exit(130);
    });
  }

  const results: FileResult[] = [];
  const laneSeconds: string[] = [];
  const wall = performance.now();
  const report = (r: FileResult) => {
    const failed = failedCount(r);
    const tag = failed ? '✖' : '✔';
    const how = r.timedOut ? ' (timed out)' : r.exit !== 0 && failed ? ` (exit ${r.exit ?? r.signal})` : '';
    const beside = r.lane === 'independent' && !o.serial ? '  [independent lane]' : '';
    const at = Math.round((performance.now() - wall) / 1000);
    const clock = `${Math.floor(at / 60)}:${String(at % 60).padStart(2, '0')}`;
    console.log(
      `  ${tag} ${fmt(r.seconds)}  ${r.file}  ${r.pass} passed, ${failed} failed${how}${beside}  (at ${clock})`,
    );
    if (failed || o.verbose) {
      const bar = `---- ${r.file} (${r.lane} lane)`;
      console.log(`${bar} ${'-'.repeat(Math.max(4, 100 - bar.length))}\n${r.output.trimEnd()}\n${'-'.repeat(100)}`);
    }
  };
  const runLane = async (lane: Lane): Promise<void> => {
    const files = byLane.get(lane)!;
    if (files.length === 0) return;
    const jobs =
      o.serial || lane === 'exclusive'
        ? 1
        : lane === 'unit'
          ? Math.max(2, availableParallelism())
          : lane === 'independent'
            ? files.length
            : o.jobs;
    console.log(
      `\n==> ${lane} lane: ${files.length} files, ${jobs} at a time${lane === 'independent' && !o.serial ? ', beside the other lanes' : ''}`,
    );
    const start = performance.now();
    const rs = await pool(
      longestFirst(files),
      (f) => locks.get(f) ?? [],
      lane,
      jobs,
      children,
      async (r) => {
        report(r);
        if (lane === 'exclusive' && failedCount(r) > 0) await healTestbed();
      },
      lane === 'independent' && !o.serial,
    );
    results.push(...rs);
    laneSeconds.push(`${lane} ${((performance.now() - start) / 1000).toFixed(0)} s`);
  };
  // The independent lane needs no test bed: it runs from the start beside the others (--serial: first, alone).
  const beside = o.serial ? undefined : runLane('independent');
  if (o.serial) await runLane('independent');
  for (const lane of LANES) if (lane !== 'independent') await runLane(lane);
  if (beside && children.size > 0) console.log('\n==> waiting for the independent lane');
  await beside;
  saveDurations(known, results);

  const failedFiles = results.filter((r) => failedCount(r) > 0);
  const pass = results.reduce((n, r) => n + r.pass, 0);
  const failed = results.reduce((n, r) => n + failedCount(r), 0);
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  console.log('\n==> 10 slowest files');
  for (const r of [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 10)) {
    console.log(`  ${fmt(r.seconds)}  ${r.file} (${r.lane})`);
  }
  console.log(
    `\n==> ${results.length} files; lanes: ${laneSeconds.join(', ')}; wall ${((performance.now() - wall) / 1000).toFixed(0)} s` +
      `; CPU of the test processes ${childrenCpuSeconds().toFixed(0)} s` +
      (skipped ? `; ${skipped} skipped/todo` : ''),
  );
  if (failedFiles.length > 0) {
    console.log(`\n==> failed files (output above):`);
    for (const r of failedFiles) console.log(`  ✖ ${r.file} (${r.lane} lane): ${failedCount(r)} failed`);
  }
  console.log(`${pass} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`test runner: ${(err as Error).stack ?? String(err)}`);
    process.exit(2);
  },
);
