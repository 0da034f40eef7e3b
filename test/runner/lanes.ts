// Which test files exist and which lane each runs in. Pure: the runner (run.ts) does the I/O.
//
//   unit       need no server (sinker/, operator/, test/unit/, test/emulator/, test/runner/, test/bench/,
//              scripts/): all in parallel.
//   independent  under test/integration/ but use no test-bed part (the image builds): start at once and
//              run beside every other lane, the exclusive one included, at a lower CPU priority.
//   shared     use the test bed but never stop, restart or kill any part of it (they keep to their own
//              topics, tables, namespaces and label-scoped emulator faults): several at a time.
//   exclusive  stop, restart or kill a shared part (Kafka, Redis, MariaDB, the emulator, the apiserver,
//              etcd, the node), or must not share the machine: alone, one at a time, after the others.
//
// A test file under test/integration/ or test/e2e/ is in the shared lane unless its leading comment
// block has the line `// test-lane: exclusive` (or `independent`): the one place a lane is declared.
// lanes.test.ts fails when a file that stops a part is not exclusive, or an independent one reads
// the test bed. `// test-lock: NAME` keeps files that share NAME from running at the same time.

export type Lane = 'unit' | 'independent' | 'shared' | 'exclusive';
// In the order they run; independent runs beside the others. Exclusive before shared: its files then
// overlap the image builds (independent lane) that the e2e tests of the shared lane wait for.
export const LANES: readonly Lane[] = ['unit', 'independent', 'exclusive', 'shared'];
const DECLARABLE: readonly Lane[] = ['independent', 'shared', 'exclusive'];

/** Where unit tests live (no server) and where tests against the test bed live. */
export const UNIT_GLOBS = [
  'sinker/**/*.test.ts',
  'operator/**/*.test.ts',
  'test/unit/**/*.test.ts',
  'test/emulator/**/*.test.ts',
  'test/runner/**/*.test.ts',
  'test/bench/**/*.test.ts',
  'scripts/**/*.test.ts',
];
export const BED_GLOBS = ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'];

const MARKER = /^\/\/\s*test-lane:\s*(\S+)/;

/**
 * The lane a file declares in its leading comment block (`// test-lane: exclusive`), or undefined.
 * Throws on an unknown lane name so a typo can't silently put a fault test among the others.
 */
export function declaredLane(path: string, source: string): Lane | undefined {
  for (const line of source.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    if (!t.startsWith('//')) break;
    const m = MARKER.exec(t);
    if (!m) continue;
    const lane = m[1] as Lane;
    if (!DECLARABLE.includes(lane)) {
      throw new Error(`${path}: unknown test-lane ${JSON.stringify(m[1])} (use ${DECLARABLE.join(', ')})`);
    }
    return lane;
  }
  return undefined;
}

const LOCK = /^\/\/\s*test-lock:\s*([\w-]+)/;

/**
 * The locks a file declares in its leading comment block (`// test-lock: operator-chart`): files that
 * share a lock never run at the same time, though each may run beside the rest of its lane (two tests
 * that install the operator chart, which owns the one cluster-wide CRD, must not interleave).
 */
export function declaredLocks(source: string): string[] {
  const locks: string[] = [];
  for (const line of source.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    if (!t.startsWith('//')) break;
    const m = LOCK.exec(t);
    if (m) locks.push(m[1]!);
  }
  return locks;
}

/** The lane of a test file: unit by its place, else what it declares, else shared. */
export function laneOf(path: string, source: string, unitFiles: ReadonlySet<string>): Lane {
  if (unitFiles.has(path)) {
    const d = declaredLane(path, source);
    if (d) throw new Error(`${path}: a unit test file (needs no server) can't declare test-lane ${d}`);
    return 'unit';
  }
  return declaredLane(path, source) ?? 'shared';
}

/**
 * Why a test file must run in the exclusive lane, read from its source, or undefined. It stops or
 * starts a test-bed part (`testbedPart(...)`, a script run from test/infra, `down --kill`).
 */
export function stopsSharedPart(source: string): string | undefined {
  const code = source
    .split('\n')
    .filter((l) => !l.trim().startsWith('//'))
    .join('\n');
  const checks: [RegExp, string][] = [
    [/\btestbedPart\s*\(/, 'calls testbedPart()'],
    // quoted paths and arguments only: messages say `test/infra/up kafka` in backticks
    [/['"]test\/infra['"/]/, 'runs a script from test/infra'],
    [/\binfra\/(down|up)['"]/, 'runs test/infra/down or up'],
    [/['"]--kill['"]/, 'runs down --kill'],
  ];
  for (const [re, why] of checks) if (re.test(code)) return why;
  return undefined;
}

/**
 * Emulator faults a file arms without a `label` or `table` filter: on the shared emulator such a fault
 * fires on whichever load comes next, another file's as likely as its own. Returns the offending calls.
 */
export function unscopedFaults(source: string): string[] {
  const bad: string[] = [];
  const re = /\barmFault\s*\(/g;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    // The call's argument: up to the parenthesis that closes it.
    let depth = 0;
    let end = m.index + m[0].length - 1;
    for (; end < source.length; end++) {
      const c = source[end];
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) break;
    }
    const call = source.slice(m.index, end + 1);
    if (/^armFault\s*\(\s*spec\s*:/.test(call)) continue; // the helper's own definition
    if (!/\b(label|table)\b/.test(call)) bad.push(call.replace(/\s+/g, ' '));
  }
  return bad;
}

/** Whether a file reads where the test bed listens (so it is no independent-lane file). */
export function readsTestbed(source: string): boolean {
  return /support\/testbed\.ts['"]|\btestbed(Env)?\s*\(/.test(source);
}
