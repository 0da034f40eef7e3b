// The pages a user reads (README, docs/, the operator's and the chart's READMEs) send them to files:
// Markdown links and repository paths in code spans. Each must be in the repository, the one thing a
// user has: docs/exactly-once.md cited "DESIGN §3", a document that lives outside it. A renamed or
// moved file fails here instead of leaving a dead pointer. No servers.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'operator/README.md',
  'charts/doris-sinker-operator/README.md',
];
// A code span naming a file or folder of the repository by its path from the root.
const REPO_PATH = /^((?:sinker|operator|charts|crds|docs|scripts|test)\/[A-Za-z0-9_./-]*)$/;

test('every file a user page links to or names by its path is in the repository', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const page of PAGES) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
      checked++;
      if (!existsSync(join(ROOT, dirname(page), target!))) problems.push(`${page}: link to ${target}`);
    }
    for (const [, span] of text.matchAll(/`([^`\s]+)`/g)) {
      const path = REPO_PATH.exec(span!)?.[1];
      if (!path || path.includes('*')) continue;
      checked++;
      if (!existsSync(join(ROOT, path))) problems.push(`${page}: ${path}`);
    }
    for (const [cited] of text.matchAll(/\bDESIGN(?:\.md)?\s*§\s*\d+|\.\.\/shared\/[^\s`)]*/g)) {
      problems.push(`${page}: cites ${cited}, which is not in the repository`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 50, `only ${checked} links and paths found: is the pattern still right?`);
});
