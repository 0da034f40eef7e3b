// Writes docs/config.md from the config schema. `--check` only compares and exits 1 when it is stale.
//   node scripts/gen-config-docs.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../sinker/config/docs.ts';

const target = new URL('../docs/config.md', import.meta.url);
const text = renderConfigDocs();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== text) {
    console.error('docs/config.md is stale: run `node scripts/gen-config-docs.ts`');
    process.exit(1);
  }
  console.log('docs/config.md is up to date');
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target.pathname}`);
}
