// `doris-sinker`: the sinker process and its tools (check, replay), loaded by main.ts once the Node
// version is known to be good. Exit codes: 0 clean stop with everything flushed, 1 failure or
// unflushed stop, 2 bad command line or config (or a metrics/pprof port it cannot listen on, a log
// file it cannot write, a table that DESCRIBE cannot read with schema.auto.validate_on_start), 3 stopped to reload a changed schema (CSV), everything flushed:
// restart it; 128 + N stopped by signal N before it ran, or in check / replay (SIGTERM 143, SIGINT 130).
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { parseCli, USAGE, UsageError } from './cli-args.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { CONFIG_SCHEMA } from './config/schema.ts';
import { createLogger, LogFileError, logProcessWarnings } from './logger.ts';
import { EXIT_RELOAD, StartupError, startSinker } from './run.ts';

/**
 * The first SIGTERM or SIGINT from now on, and `off` to stop listening. A signal must be handled to
 * stop anything: node is PID 1 in the images (exec-form ENTRYPOINT, no init), where the kernel
 * ignores a signal that has no handler, so a pod's SIGTERM waited its whole grace period for SIGKILL
 * and Ctrl-C did nothing under `docker run -it`.
 */
function nextSignal(): { signal: Promise<NodeJS.Signals>; off: () => void } {
  let on!: (signal: NodeJS.Signals) => void;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    on = resolve;
  });
  process.once('SIGTERM', on);
  process.once('SIGINT', on);
  return {
    signal,
    off: () => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
    },
  };
}

/**
 * Runs `work` unless a signal comes first, which ends the command at once with 128 + its number (143
 * for SIGTERM), as the signal's default action would outside a container. `work` goes on until the
 * process exits (main's 200 ms): nothing it still does is awaited or reported.
 */
async function untilSignal<T>(work: Promise<T>, stopped: (signal: NodeJS.Signals) => void): Promise<T | number> {
  const stop = nextSignal();
  try {
    const first = await Promise.race([work.then((value) => ({ value })), stop.signal]);
    if (typeof first === 'object') return first.value;
    work.catch(() => {});
    stopped(first);
    return 128 + osConstants.signals[first];
  } finally {
    stop.off();
  }
}

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
  const quietStop = () => {};
  if (args.command === 'check') {
    const { runCheck } = await import('./check.ts');
    return untilSignal(runCheck(config, process.stdout), quietStop);
  }
  if (args.command === 'replay') {
    const { runReplay } = await import('./replay.ts');
    return untilSignal(runReplay(config, args, process.stdout), quietStop);
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
  // Until it runs, a signal stops the sinker at once: nothing consumed yet, nothing to flush.
  let sinker: Awaited<ReturnType<typeof startSinker>>;
  try {
    const started = await untilSignal(startSinker(config, logger), (signal) =>
      logger.warn({ signal }, 'stopped while starting (nothing consumed yet)'),
    );
    if (typeof started === 'number') return started;
    sinker = started;
  } catch (err) {
    if (err instanceof StartupError) {
      logger.fatal({ err: err.message }, 'start-up refused');
      process.stderr.write(`doris-sinker: ${err.message}\n`);
      return 2;
    }
    throw err;
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
