import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  BED_GLOBS,
  declaredLane,
  declaredLocks,
  laneOf,
  readsTestbed,
  stopsSharedPart,
  UNIT_GLOBS,
  unscopedFaults,
} from './lanes.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const glob = (patterns: string[]) => patterns.flatMap((p) => globSync(p, { cwd: ROOT })).sort();
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

test('every test file that stops or restarts a test-bed part is in the exclusive lane', () => {
  const unit = new Set(glob(UNIT_GLOBS));
  const wrong: string[] = [];
  let exclusive = 0;
  for (const f of glob(BED_GLOBS)) {
    const src = read(f);
    const lane = laneOf(f, src, unit);
    if (lane === 'exclusive') exclusive++;
    const why = stopsSharedPart(src);
    if (why && lane !== 'exclusive') wrong.push(`${f} ${why}: add \`// test-lane: exclusive\` to its leading comment`);
  }
  assert.deepEqual(wrong, []);
  assert.ok(exclusive >= 3, `only ${exclusive} exclusive files: the marker is not being read`);
});

test('independent-lane files use no test-bed part', () => {
  const unit = new Set(glob(UNIT_GLOBS));
  const wrong: string[] = [];
  for (const f of glob(BED_GLOBS)) {
    const src = read(f);
    if (laneOf(f, src, unit) !== 'independent') continue;
    if (readsTestbed(src) || stopsSharedPart(src)) wrong.push(`${f} uses the test bed: it belongs in the shared lane`);
  }
  assert.deepEqual(wrong, []);
});

test('shared-lane files arm emulator faults only for their own labels or tables', () => {
  const unit = new Set(glob(UNIT_GLOBS));
  const wrong: string[] = [];
  for (const f of glob(BED_GLOBS)) {
    const src = read(f);
    if (laneOf(f, src, unit) !== 'shared') continue;
    for (const call of unscopedFaults(src)) wrong.push(`${f}: ${call} (give it a label or table regex)`);
  }
  assert.deepEqual(wrong, []);
});

test('unit test files need no server: none reads the test bed', () => {
  const self = 'test/runner/lanes.test.ts'; // quotes such an import as test data
  const wrong = glob(UNIT_GLOBS).filter((f) => f !== self && readsTestbed(read(f)));
  assert.deepEqual(wrong, []);
});

test('declaredLane reads the marker in the leading comment block only', () => {
  assert.equal(declaredLane('a', '// what it tests\n// test-lane: exclusive\nimport x from "y";'), 'exclusive');
  assert.equal(declaredLane('a', '\n// test-lane:   shared — why\n'), 'shared');
  assert.equal(declaredLane('a', '// test-lane: independent (buildah only)\n'), 'independent');
  assert.equal(declaredLane('a', 'import x from "y";\n// test-lane: exclusive\n'), undefined);
  assert.throws(
    () => declaredLane('a.test.ts', '// test-lane: exlusive\n'),
    /a\.test\.ts: unknown test-lane "exlusive"/,
  );
  assert.throws(() => laneOf('u.test.ts', '// test-lane: exclusive\n', new Set(['u.test.ts'])), /unit test file/);
  assert.equal(laneOf('i.test.ts', '// nothing\n', new Set()), 'shared');
  assert.ok(readsTestbed("import { testbed } from '../../support/testbed.ts';"));
  assert.ok(!readsTestbed("import { ensureImages } from '../../support/images.ts';"));
});

test('declaredLocks reads every test-lock line of the leading comment block', () => {
  assert.deepEqual(declaredLocks('// e2e\n// test-lock: operator-chart\n// test-lock: node\nimport x from "y";'), [
    'operator-chart',
    'node',
  ]);
  assert.deepEqual(declaredLocks('import x from "y";\n// test-lock: operator-chart\n'), []);
});

test('stopsSharedPart sees the ways a test stops a part, not messages that mention them', () => {
  assert.match(stopsSharedPart("  testbedPart('down', 'kafka');")!, /testbedPart/);
  assert.match(stopsSharedPart("spawnSync('bash', [join(ROOT, 'test/infra', cmd), 'k8s'])")!, /test\/infra/);
  assert.match(stopsSharedPart("execFileSync('test/infra/down', ['--kill', 'redis'])")!, /test\/infra/);
  assert.match(stopsSharedPart("execFileSync(join(INFRA, 'down'), ['--kill', 'redis'])")!, /--kill/);
  assert.equal(stopsSharedPart('throw new Error(`run \\`test/infra/up kafka\\``);'), undefined);
  assert.equal(stopsSharedPart("// testbedPart('down', 'kafka') in another file"), undefined);
});

test('unscopedFaults flags a fault that any load would take', () => {
  assert.deepEqual(unscopedFaults("await armFault({ type: 'slow_reply', label: `^run-1:` });"), []);
  assert.deepEqual(unscopedFaults('await armFault({ ...spec, table: t, count: f(2) });'), []);
  assert.deepEqual(unscopedFaults("await armFault({ type: 'dead_be', count: f(2) });"), [
    "armFault({ type: 'dead_be', count: f(2) })",
  ]);
});
