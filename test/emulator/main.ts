// `npm run doris-emulator`: runs the Doris emulator until SIGTERM/SIGINT and prints one ready line.
import { readFileSync } from 'node:fs';
import { parseArgs, USAGE } from './cli-args.ts';
import { startEmulator } from './emulator.ts';

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const args = parseArgs(process.argv.slice(2), process.env);
  const ddl = args.ddl.map((f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new Error(`cannot read --ddl ${f}: ${(e as Error).message}`);
    }
  });
  const emu = await startEmulator({
    host: args.host,
    fePort: args.fePort,
    bePorts: args.bePorts,
    queryPort: args.queryPort,
    controlPort: args.controlPort,
    mysql: args.mysql ? { ...args.mysql, dbPrefix: args.dbPrefix } : undefined,
    ddl,
    profile: args.profile,
    mode: args.mode,
    user: args.user,
    password: args.password,
    defaultDb: args.defaultDb,
    labelTtlMs: args.labelTtlMs,
    labelMax: args.labelMax,
    precommitTimeoutMs: args.precommitTimeoutMs,
    groupCommitIntervalMs: args.groupCommitIntervalMs,
  });
  const h = args.host;
  const tables = [...emu.engine.tables.entries()].flatMap(([db, m]) => [...m.values()].map((t) => `${db}.${t.name}`));
  // Tests leave a table per run in a kept MariaDB: name the first few, count the rest.
  const shown = tables.length > 5 ? [...tables.slice(0, 5), `… ${tables.length - 5} more`] : tables;
  console.log(
    `doris-emulator ready fe=${h}:${emu.fePort} be=${emu.bePorts.map((p) => `${h}:${p}`).join(',')} query=${h}:${emu.queryPort}` +
      ` control=${emu.controlPort === undefined ? 'off' : `${h}:${emu.controlPort}`} profile=${args.profile} mode=${args.mode}` +
      ` storage=${args.mysql ? `${args.mysql.host}:${args.mysql.port}` : 'none'} tables=${shown.join(',') || 'none'}`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    emu.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(`doris-emulator: ${(e as Error).message}`);
  process.exit(1);
});
