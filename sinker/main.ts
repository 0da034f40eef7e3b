#!/usr/bin/env node
// `doris-sinker`'s entry point: the Node version first, then the command line (cli.ts). cli.ts comes
// by a dynamic import because an ESM module's static imports are all linked before any of its code
// runs: an old Node would stop at the first import it cannot link (Node 20: node:zlib's zstd) with
// that error alone. This file and node-version.ts stay loadable by such a Node.
import { nodeTooOld } from './node-version.ts';

const tooOld = nodeTooOld(process.version);
if (tooOld !== undefined) {
  process.stderr.write(`doris-sinker: ${tooOld}\n`);
  process.exitCode = 1;
} else {
  await import('./cli.ts');
}
