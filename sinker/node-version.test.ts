// The entry point under a Node older than the project's: one line that says what is needed, what was
// found and how to get it, not the link error of an import Node 20 lacks (node:zlib's zstd).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nodeTooOld, REQUIRED_NODE_MAJOR } from './node-version.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Debian 12's packaged Node (20): the old Node a user of this machine meets first.
const OLD_NODE = '/usr/bin/node';
const out = mkdtempSync(join(tmpdir(), 'node-version-'));

after(() => rmSync(out, { recursive: true, force: true }));

test('the required major is package.json engines.node', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  assert.equal(pkg.engines.node, `>=${REQUIRED_NODE_MAJOR}`);
});

test('nodeTooOld: a line for an older major, nothing for this one or a newer one', () => {
  const line = nodeTooOld('v20.20.2');
  assert.ok(line);
  assert.match(line, /needs Node\.js 24 or newer, found v20\.20\.2/);
  assert.match(line, /node_modules\/\.bin/);
  assert.ok(!line.includes('\n'));
  assert.equal(nodeTooOld('v24.0.0'), undefined);
  assert.equal(nodeTooOld('v25.1.0'), undefined);
  assert.equal(nodeTooOld(process.version), undefined);
  assert.match(nodeTooOld('v20.20.2', 'npm run operator -- …') ?? '', /or run npm run operator -- …\), or install/);
});

/** The old Node's version, after checking it is older than required. */
function oldNodeVersion(): string {
  const v = spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0, `${OLD_NODE} must exist for this test: ${v.error?.message ?? v.stderr}`);
  assert.ok(
    Number(/^v(\d+)/.exec(v.stdout)?.[1]) < REQUIRED_NODE_MAJOR,
    `${OLD_NODE} is ${v.stdout.trim()}: this test needs an older Node`,
  );
  return v.stdout.trim();
}

let compiled = false;
/** The tree as the Dockerfiles build it (tsc --noCheck), with package.json and node_modules beside the output; once. */
function compile(): void {
  if (compiled) return;
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json'), '--noCheck', '--outDir', out],
    { encoding: 'utf8' },
  );
  assert.equal(tsc.status, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
  copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  compiled = true;
}

test('the compiled entry (the image and README command) under Node 20 stops with that one line', () => {
  const version = oldNodeVersion();
  compile();
  for (const args of [['--version'], ['check', '-config', 'x.yaml']]) {
    const r = spawnSync(OLD_NODE, [join(out, 'sinker/main.js'), ...args], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 1, `exit code; stderr: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `doris-sinker: ${nodeTooOld(version)}\n`,
      'one line naming the required and the found version',
    );
  }
});

test("the operator's compiled entry (Dockerfile.operator's) under Node 20 stops with the same line, its own name and npm script", () => {
  const version = oldNodeVersion();
  compile();
  for (const args of [['--version'], ['--help']]) {
    const r = spawnSync(OLD_NODE, [join(out, 'operator/main.js'), ...args], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 1, `exit code; stderr: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `doris-sinker-operator: ${nodeTooOld(version, 'npm run operator -- …')}\n`);
    assert.match(r.stderr, /run npm run operator -- …\)/);
  }
});

test('the operator entry under this Node runs the operator', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'operator/main.ts'), '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^doris-sinker-operator \d+\.\d+\.\d+/);
});
