#!/usr/bin/env node
// `doris-sinker-operator`'s entry point: the Node version first, then the operator (cli.ts), by a
// dynamic import for the reason sinker/main.ts gives: static imports are all linked before any code
// runs, and an old Node (20) would stop at the first it cannot link with a bare stack trace. This
// file and sinker/node-version.ts stay loadable by such a Node.
import { nodeTooOld } from '../sinker/node-version.ts';

const tooOld = nodeTooOld(process.version, 'npm run operator -- …');
if (tooOld !== undefined) {
  process.stderr.write(`doris-sinker-operator: ${tooOld}\n`);
  process.exitCode = 1;
} else {
  await import('./cli.ts');
}
