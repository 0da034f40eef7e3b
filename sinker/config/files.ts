// Files the config names for the sinker to read (the Kafka TLS PEMs): read with an error that names
// the key, the path and the reason, and checked when the config is loaded so that a missing one is a
// config error (exit 2) rather than a bare ENOENT once Kafka is set up.
import { readFileSync } from 'node:fs';
import type { SinkerConfig } from './types.ts';

export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
  readonly key: string;
  readonly path: string;
  constructor(key: string, path: string, reason: string) {
    super(`${key}: cannot read ${path}: ${reason}`);
    this.key = key;
    this.path = path;
  }
}

/** Why a file could not be read, in words (the code's, for the usual ones). */
export function readFailure(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory, not a file';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return err.message;
  }
}

/** The file's text; throws ConfigFileError naming `key` when it cannot be read. */
export function readConfigFile(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(key, path, readFailure(err as NodeJS.ErrnoException));
  }
}

/** The files this config makes the sinker read, by config key (TLS files only when TLS is on). */
export function filesToRead(config: Pick<SinkerConfig, 'kafka'>): { key: string; path: string }[] {
  const tls = config.kafka.tls;
  if (!tls?.enabled) return [];
  const out: { key: string; path: string }[] = [];
  for (const name of ['ca_file', 'cert_file', 'key_file'] as const) {
    const path = tls[name];
    if (path !== undefined) out.push({ key: `kafka.tls.${name}`, path });
  }
  return out;
}

/** One problem line per file of the config that cannot be read; empty when all can. */
export function unreadableFiles(config: Pick<SinkerConfig, 'kafka'>): string[] {
  const problems: string[] = [];
  for (const { key, path } of filesToRead(config)) {
    try {
      readConfigFile(key, path);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems;
}
