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
});

test('the compiled entry (the image and README command) under Node 20 stops with that one line', () => {
  const v = spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0, `${OLD_NODE} must exist for this test: ${v.error?.message ?? v.stderr}`);
  assert.ok(
    Number(/^v(\d+)/.exec(v.stdout)?.[1]) < REQUIRED_NODE_MAJOR,
    `${OLD_NODE} is ${v.stdout.trim()}: this test needs an older Node`,
  );
  // As Dockerfile.sinker builds it (tsc --noCheck), with package.json and node_modules beside the output.
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json'), '--noCheck', '--outDir', out],
    { encoding: 'utf8' },
  );
  assert.equal(tsc.status, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
  copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  for (const args of [['--version'], ['check', '-config', 'x.yaml']]) {
    const r = spawnSync(OLD_NODE, [join(out, 'sinker/main.js'), ...args], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 1, `exit code; stderr: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `doris-sinker: ${nodeTooOld(v.stdout.trim())}\n`,
      'one line naming the required and the found version',
    );
  }
});
