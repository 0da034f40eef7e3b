// Shared helpers of the node tests: API clients for the test bed, the base image handed to the
// node's containerd, free host ports for hostNetwork pods, polling and plain HTTP probes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { testbed } from '../../support/testbed.ts';
import { waitFor as waitUntil } from '../../support/wait-for.ts';

/** The image every test pod runs: the Dockerfiles' base image, built by test/infra/build-base-image.sh. */
export const BASE_IMAGE = 'docker.io/library/node:24-bookworm-slim';

const run = promisify(execFile);

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testbed('KUBECONFIG'));
  return kc;
}

/** Fails with how to start it unless the test bed's node is registered and Ready. */
export async function requireNodeReady(core: CoreV1Api): Promise<string> {
  const name = testbed('TESTBED_NODE_NAME');
  const node = await core.readNode({ name }).catch((err: unknown) => {
    throw new Error(`test bed node ${name} not found (${(err as Error).message}): run \`test/infra/up node\``);
  });
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') {
    throw new Error(
      `test bed node ${name} is not Ready (${ready?.reason ?? 'no Ready condition'}): run \`test/infra/up node\``,
    );
  }
  return name;
}

/** Hands the base image from buildah's storage to the node's containerd (a no-op when it is there). */
export async function loadBaseImage(): Promise<void> {
  try {
    await run(testbed('NODE_LOAD_IMAGE'), [BASE_IMAGE], { timeout: 300_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `loading ${BASE_IMAGE} into the node's containerd failed (build it with test/infra/build-base-image.sh): ${e.stderr || e.message}`,
    );
  }
}

/** A TCP port nothing listens on right now, for a hostNetwork pod to take. */
export { freePort } from '../../support/sinker-process.ts';

/** The body of GET url, or undefined when nothing answers (refused, reset, timeout). */
export async function httpText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000), headers: { connection: 'close' } });
    return await res.text();
  } catch {
    return undefined;
  }
}

export function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  return waitUntil(what, fn, timeoutMs, intervalMs);
}

/**
 * A node one-liner for the container: serves `<state>:<POD_NAME>` on $PORT; on SIGTERM it keeps
 * serving "terminating" for $GRACE_MS before exiting 0, so a test can see the signal arrive.
 */
export const SERVER_SCRIPT = [
  "const http = require('node:http');",
  'let state = "serving";',
  'http.createServer((q, s) => s.end(state + ":" + process.env.POD_NAME)).listen(Number(process.env.PORT));',
  'process.on("SIGTERM", () => { state = "terminating"; setTimeout(() => process.exit(0), Number(process.env.GRACE_MS ?? 0)); });',
].join('\n');
