// Where the test bed's components listen. `test/infra/up` writes the env file; tests read it here.
// A test that needs a component and can't find it fails with a message saying how to start it.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function envFilePath(): string {
  if (process.env.DORIS_SINKER_ENV) return process.env.DORIS_SINKER_ENV;
  const cache = process.env.DORIS_SINKER_CACHE ?? join(homedir(), '.cache', 'doris-sinker');
  const run = process.env.DORIS_SINKER_RUN ?? join(cache, 'run');
  return join(run, 'env');
}

let cached: Record<string, string> | undefined;

/** All KEY=value pairs of the test bed's env file. Throws if the test bed was never started. */
export function testbedEnv(): Record<string, string> {
  if (cached) return cached;
  const path = envFilePath();
  if (!existsSync(path)) {
    throw new Error(`test bed env file ${path} not found: start the test bed with \`test/infra/up\``);
  }
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !line.startsWith('#')) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  cached = env;
  return env;
}

/** One value of the env file; throws naming the component when it is missing. */
export function testbed(key: string): string {
  const value = testbedEnv()[key];
  if (value === undefined || value === '') {
    throw new Error(`test bed has no ${key} in ${envFilePath()}: run \`test/infra/up\` (or \`test/infra/status\`)`);
  }
  return value;
}
