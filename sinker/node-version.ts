// The Node version check the entry points (sinker/main.ts, operator/main.ts) make before they load
// anything else. Node 20, for one, cannot link their modules (node:zlib has no zstd), and that link
// error is all it would say. This file is loaded by that old Node too: it imports nothing and uses no
// newer syntax or API.

/** package.json's engines.node (a test ties them). */
export const REQUIRED_NODE_MAJOR = 24;

/**
 * The line to stop with when `version` (process.version) is older than required, else undefined.
 * `npmRun`: the npm command that runs this program from the checkout with the right Node.
 */
export function nodeTooOld(version: string, npmRun = 'npm start -- …'): string | undefined {
  const major = Number(/^v(\d+)\./.exec(version)?.[1]);
  if (major >= REQUIRED_NODE_MAJOR) return undefined;
  return (
    `needs Node.js ${REQUIRED_NODE_MAJOR} or newer, found ${version}: ` +
    `use the Node ${REQUIRED_NODE_MAJOR} that npm ci installs in the checkout ` +
    `(export PATH=$PWD/node_modules/.bin:$PATH, or run ${npmRun}), or install Node ${REQUIRED_NODE_MAJOR} LTS`
  );
}
