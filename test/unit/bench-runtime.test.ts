// The bench runs the sinker as its image does: the same node flags and malloc settings as
// Dockerfile.sinker's ENV, or the figures would describe a process nobody deploys.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../bench/support/emulator.ts';
import { IMAGE_MALLOC_ENV, IMAGE_NODE_FLAGS, sinkerEntry } from '../bench/support/sinker.ts';

function imageEnv(): Map<string, string> {
  const text = readFileSync(new URL('../../Dockerfile.sinker', import.meta.url), 'utf8').replace(/\\\n/g, ' ');
  const finalStage = text.slice(text.lastIndexOf('\nFROM '));
  const env = new Map<string, string>();
  for (const line of finalStage.split('\n')) {
    if (!line.startsWith('ENV ')) continue;
    for (const m of line.slice(4).matchAll(/(\w+)=("[^"]*"|\S+)/g)) env.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
  }
  return env;
}

test("the bench's sinker node flags and malloc settings are the image's", () => {
  const env = imageEnv();
  const flags = (env.get('NODE_OPTIONS') ?? '').split(/\s+/).filter(Boolean);
  assert.deepEqual(flags, IMAGE_NODE_FLAGS, 'NODE_OPTIONS in Dockerfile.sinker vs IMAGE_NODE_FLAGS');
  const malloc = Object.fromEntries([...env].filter(([k]) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES'));
  assert.deepEqual(malloc, IMAGE_MALLOC_ENV, 'MALLOC_* and GLIBC_TUNABLES in Dockerfile.sinker vs IMAGE_MALLOC_ENV');
});

test('the image runtime builds the tree as Dockerfile.sinker does and its entry point runs', () => {
  const text = readFileSync(new URL('../../Dockerfile.sinker', import.meta.url), 'utf8');
  assert.match(text, /tsc -p tsconfig\.json --noCheck/, "the image's build command, which sinkerEntry repeats");
  assert.match(
    text,
    /ENTRYPOINT \["node", "dist\/sinker\/main\.js"\]/,
    "the image's entry point: <outDir>/sinker/main.js",
  );
  const work = mkdtempSync(join(tmpdir(), 'bench-runtime-'));
  try {
    const entry = sinkerEntry(REPO, 'image', work);
    assert.ok(entry.startsWith(work) && entry.endsWith(join('sinker', 'main.js')), entry);
    assert.equal(sinkerEntry(REPO, 'image', work), entry, 'built once per tree');
    const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
    const out = execFileSync(process.execPath, [...IMAGE_NODE_FLAGS, entry, '--version'], { encoding: 'utf8' });
    assert.match(out, new RegExp(version.replace(/\./g, '\\.')));
    assert.equal(sinkerEntry(REPO, 'source', work), join(REPO, 'sinker', 'main.ts'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
