// The bench runs the sinker as its image does: the same node flags and malloc settings as
// Dockerfile.sinker's ENV, or the figures would describe a process nobody deploys.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { IMAGE_MALLOC_ENV, IMAGE_NODE_FLAGS } from '../bench/support/sinker.ts';

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
  const flags = (env.get('NODE_OPTIONS') ?? '').split(/\s+/).filter((f) => f !== '--enable-source-maps');
  assert.deepEqual(flags, IMAGE_NODE_FLAGS, 'NODE_OPTIONS in Dockerfile.sinker vs IMAGE_NODE_FLAGS');
  const malloc = Object.fromEntries([...env].filter(([k]) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES'));
  assert.deepEqual(malloc, IMAGE_MALLOC_ENV, 'MALLOC_* and GLIBC_TUNABLES in Dockerfile.sinker vs IMAGE_MALLOC_ENV');
});
