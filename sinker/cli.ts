// `doris-sinker`: the sinker process and its tools (check, replay), loaded by main.ts once the Node
// version is known to be good. Exit codes: 0 clean stop with everything flushed, 1 failure or
// unflushed stop, 2 bad command line or config (or a table that DESCRIBE cannot read, with
// schema.auto.validate_on_start), 3 stopped to reload a changed schema (CSV), everything flushed:
// restart it; 128 + N stopped by signal N before it ran (SIGTERM 143, SIGINT 130: nothing consumed).
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { parseCli, USAGE, UsageError } from './cli-args.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { CONFIG_SCHEMA } from './config/schema.ts';
import { createLogger, LogFileError, logProcessWarnings } from './logger.ts';
import { EXIT_RELOAD, StartupError, startSinker } from './run.ts';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseCli>;
  try {
    args = parseCli(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`doris-sinker: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (args.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.command === 'version') {
    process.stdout.write(`doris-sinker ${version()} (node ${process.version})\n`);
    return 0;
  }
  if (args.command === 'config-schema') {
    process.stdout.write(`${JSON.stringify(CONFIG_SCHEMA, null, 2)}\n`);
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(args.config!, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`doris-sinker: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // kafkajs's harmless Node 24 timer warning stays out of every command's output (run logs the others).
  logProcessWarnings({
    warn: (o: { warning?: string; detail?: string }, msg?: string) =>
      process.stderr.write(`doris-sinker: ${msg}: ${o.warning}: ${o.detail}\n`),
  });
  if (args.command === 'check') {
    const { runCheck } = await import('./check.ts');
    return runCheck(config, process.stdout);
  }
  if (args.command === 'replay') {
    const { runReplay } = await import('./replay.ts');
    return runReplay(config, args, process.stdout);
  }
  let logger: ReturnType<typeof createLogger>;
  try {
    logger = createLogger(config.log, { sink: config.name });
  } catch (err) {
    if (err instanceof LogFileError) {
      process.stderr.write(`doris-sinker: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  logProcessWarnings(logger);
  // Until it runs, a signal stops the sinker at once (nothing consumed yet, nothing to flush), as the
  // default action would, but handled: node is PID 1 in the images (exec-form ENTRYPOINT, no init),
  // where the kernel ignores a signal with no handler, and a pod still waiting for Kafka, Redis or its
  // table sat out its whole grace period until SIGKILL.
  let onEarlySignal!: (signal: NodeJS.Signals) => void;
  const stoppedWhileStarting = new Promise<NodeJS.Signals>((resolve) => {
    onEarlySignal = resolve;
  });
  process.once('SIGTERM', onEarlySignal);
  process.once('SIGINT', onEarlySignal);
  const starting = startSinker(config, logger);
  let sinker: Awaited<ReturnType<typeof startSinker>>;
  try {
    const first = await Promise.race([starting, stoppedWhileStarting]);
    if (typeof first === 'string') {
      // The start goes on until the process exits (cli's 200 ms): its failure is no news then.
      starting.catch(() => {});
      logger.warn({ signal: first }, 'stopped while starting (nothing consumed yet)');
      return 128 + osConstants.signals[first];
    }
    sinker = first;
  } catch (err) {
    if (err instanceof StartupError) {
      logger.fatal({ err: err.message }, 'start-up refused');
      process.stderr.write(`doris-sinker: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    process.off('SIGTERM', onEarlySignal);
    process.off('SIGINT', onEarlySignal);
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    /** Stops once, for a signal or a reload; `clean` is the exit code when everything was flushed. */
    const shutdown = (reason: string, clean: number) => {
      if (stopping) return;
      stopping = true;
      // A second signal while stopping exits at once, whichever it is (SIGTERM, then ^C).
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.once('SIGTERM', () => resolve(1));
      process.once('SIGINT', () => resolve(1));
      sinker.stop(reason).then(
        (flushed) => resolve(flushed ? clean : 1),
        (err) => {
          logger.error({ err: (err as Error).message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals) => shutdown(signal, 0);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    void sinker.reloadNeeded.then(() => shutdown('table schema changed: reloading', EXIT_RELOAD));
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Let stdout/stderr and the logger drain, then leave even if a handle lingers.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: Error) => {
    process.stderr.write(`doris-sinker: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
