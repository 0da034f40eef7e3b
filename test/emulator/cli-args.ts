// Command-line arguments of the emulator (pure, so it can be unit-tested).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROFILE_NAMES, type ProfileName } from './profile.ts';
import type { Mode } from './rows.ts';

export interface CliArgs {
  host: string;
  fePort: number;
  bePorts: number[];
  queryPort: number;
  controlPort: number | undefined;
  mysql: { host: string; port: number; user: string; password: string } | undefined;
  dbPrefix: string;
  ddl: string[];
  profile: ProfileName;
  mode: Mode;
  user: string;
  password: string;
  defaultDb: string;
  labelTtlMs: number;
  labelMax: number;
  precommitTimeoutMs: number;
  groupCommitIntervalMs: number;
}

export const USAGE = `usage: doris-emulator [options]
  --fe-port N              FE http port (default 8030)
  --be-ports N[,N...]      BE http ports, one per BE (default 8040)
  --query-port N           MySQL-protocol port (default 9030)
  --control-port N         control API port (0 or absent: off)
  --mysql HOST:PORT USER PASSWORD   MariaDB that stores the rows (absent: rows are validated, not stored)
  --db-prefix P            MariaDB database for Doris db d is P+d (default none)
  --ddl FILE               Doris CREATE TABLE file, repeatable (default ../shared/bench/tb_event.doris.sql)
  --no-ddl                 start without tables
  --profile V              1.2 | 2.0 | 2.1 | 3.0 | 4.0 (default 3.0)
  --mode M                 full | validate | count (default full)
  --user U --password P    the Doris account (password default: $DORIS_EMULATOR_PASSWORD or empty)
  --default-db D           db for DDL without one (default test_db)
  --label-ttl-s N          finished-label retention (default 43200)
  --label-max N            finished labels kept per db (default 2000, -1 = no cap)
  --precommit-timeout-s N  PRECOMMITTED txn timeout (default 3600)
  --group-commit-interval-ms N  group commit interval (default 10000)
  --host H                 address to listen on and to put in redirects (default 127.0.0.1)`;

export function defaultDdlPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '../../../shared/bench/tb_event.doris.sql');
}

function int(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n)) throw new Error(`${flag} needs an integer, got ${JSON.stringify(v)}`);
  return n;
}

export function parseArgs(argv: string[], env: Record<string, string | undefined> = {}): CliArgs {
  const a: CliArgs = {
    host: '127.0.0.1',
    fePort: 8030,
    bePorts: [8040],
    queryPort: 9030,
    controlPort: undefined,
    mysql: undefined,
    dbPrefix: '',
    ddl: [],
    profile: '3.0',
    mode: 'full',
    user: 'root',
    password: env.DORIS_EMULATOR_PASSWORD ?? '',
    defaultDb: 'test_db',
    labelTtlMs: 43_200_000,
    labelMax: 2000,
    precommitTimeoutMs: 3_600_000,
    groupCommitIntervalMs: 10_000,
  };
  let noDdl = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--host':
        a.host = next();
        break;
      case '--fe-port':
        a.fePort = int(flag, next());
        break;
      case '--be-ports':
        a.bePorts = next()
          .split(',')
          .map((p) => int(flag, p.trim()));
        break;
      case '--query-port':
        a.queryPort = int(flag, next());
        break;
      case '--control-port': {
        const n = int(flag, next());
        a.controlPort = n === 0 ? undefined : n;
        break;
      }
      case '--mysql': {
        const hp = next();
        const m = /^(.+):(\d+)$/.exec(hp);
        if (!m) throw new Error(`--mysql needs HOST:PORT USER PASSWORD, got ${hp}`);
        const user = next();
        const password = next();
        a.mysql = { host: m[1]!, port: Number(m[2]), user, password };
        break;
      }
      case '--db-prefix':
        a.dbPrefix = next();
        break;
      case '--ddl':
        a.ddl.push(next());
        break;
      case '--no-ddl':
        noDdl = true;
        break;
      case '--profile': {
        const v = next();
        if (!PROFILE_NAMES.includes(v as ProfileName))
          throw new Error(`--profile must be one of ${PROFILE_NAMES.join(', ')}`);
        a.profile = v as ProfileName;
        break;
      }
      case '--mode': {
        const v = next();
        if (v !== 'full' && v !== 'validate' && v !== 'count')
          throw new Error('--mode must be full, validate or count');
        a.mode = v;
        break;
      }
      case '--user':
        a.user = next();
        break;
      case '--password':
        a.password = next();
        break;
      case '--default-db':
        a.defaultDb = next();
        break;
      case '--label-ttl-s':
        a.labelTtlMs = int(flag, next()) * 1000;
        break;
      case '--label-max':
        a.labelMax = int(flag, next());
        break;
      case '--precommit-timeout-s':
        a.precommitTimeoutMs = int(flag, next()) * 1000;
        break;
      case '--group-commit-interval-ms':
        a.groupCommitIntervalMs = int(flag, next());
        break;
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (a.ddl.length === 0 && !noDdl) a.ddl.push(defaultDdlPath());
  if (noDdl) a.ddl = [];
  return a;
}
