// .dockerignore matching as Docker/buildah apply it: the image cache hashes exactly the files a
// build sees, so a wrong answer here means a stale image (file missed) or needless rebuilds.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { globRegex, isIgnored, mayReinclude, parseIgnore } from '../support/dockerignore.ts';

test('globs: * and ? stay within a segment, ** spans directories', () => {
  assert.ok(globRegex('*.ts').test('a.ts'));
  assert.ok(!globRegex('*.ts').test('dir/a.ts'));
  assert.ok(globRegex('?.ts').test('a.ts'));
  assert.ok(!globRegex('?.ts').test('ab.ts'));
  assert.ok(globRegex('**/*.ts').test('a.ts'));
  assert.ok(globRegex('**/*.ts').test('x/y/a.ts'));
  assert.ok(globRegex('docs/**').test('docs/a/b'));
  assert.ok(globRegex('a/**/b').test('a/b'));
  assert.ok(globRegex('a/**/b').test('a/x/y/b'));
  assert.ok(globRegex('[ab].md').test('b.md'));
  assert.ok(!globRegex('[!ab].md').test('b.md'));
  assert.ok(globRegex('a.b').test('a.b'));
  assert.ok(!globRegex('a.b').test('axb'), 'a dot is literal');
});

test('the project .dockerignore: an allow-list without tests, test kits or node_modules', () => {
  const rules = parseIgnore(readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8'));
  for (const kept of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'sinker/main.ts',
    'operator/api/types.ts',
  ]) {
    assert.equal(isIgnored(rules, kept), false, kept);
  }
  for (const gone of [
    'README.md',
    'Dockerfile.sinker',
    'test/support/images.ts',
    'sinker/writer/writer.test.ts',
    'sinker/x.testkit.ts',
    'sinker/node_modules/a.js',
    'node_modules/kafkajs/index.js',
    '.git/HEAD',
  ]) {
    assert.equal(isIgnored(rules, gone), true, gone);
  }
  // The walk may skip these directories whole, but must enter the allowed ones.
  assert.equal(mayReinclude(rules, 'node_modules'), false);
  assert.equal(mayReinclude(rules, '.git'), false);
  assert.equal(mayReinclude(rules, 'test'), false);
});

test('later lines win; a ! line re-includes; a directory pattern covers what is below it', () => {
  const rules = parseIgnore('# comment\n\n/docs/\n!docs/keep.md\n*.log\n!important.log\n');
  assert.equal(isIgnored(rules, 'docs/a.md'), true);
  assert.equal(isIgnored(rules, 'docs/sub/a.md'), true);
  assert.equal(isIgnored(rules, 'docs/keep.md'), false);
  assert.equal(isIgnored(rules, 'x.log'), true);
  assert.equal(isIgnored(rules, 'dir/x.log'), false, '*.log matches the top level only');
  assert.equal(isIgnored(rules, 'important.log'), false);
  assert.equal(mayReinclude(rules, 'docs'), true, 'docs/keep.md lies below');
  assert.equal(mayReinclude(rules, 'other'), false);
  const deep = parseIgnore('*\n!**/keep\n');
  assert.equal(mayReinclude(deep, 'anything'), true);
  assert.equal(isIgnored(deep, 'a/b/keep'), false);
  assert.equal(isIgnored(deep, 'a/b/other'), true);
});
