// Command-line parsing for `doris-sinker`. The seed spells flags with one dash (`-config FILE`);
// both that and the GNU `--config FILE` / `--config=FILE` forms are accepted.
import { parseArgs } from 'node:util';
import { didYouMean } from './config/validate.ts';

export const USAGE = `doris-sinker — stream JSON events from Kafka into Apache Doris with Stream Load, exactly once

Usage:
  doris-sinker [run] -config FILE          consume, map, batch and load until stopped (SIGTERM/SIGINT)
  doris-sinker check -config FILE          validate FILE and reach Kafka, Doris (query port and
                                           Stream Load) and Redis; report each in plain words
  doris-sinker replay -config FILE [--from-file PATH | --from-topic TOPIC] [--dry-run] [--limit N]
                                           put dead-lettered records back through the pipeline;
                                           each record loads once across replays (Redis keeps
                                           which were loaded), so replay again after a fix or
                                           when the DLQ grew
  doris-sinker config-schema               print the config file's JSON Schema
  doris-sinker --help | --version

Options:
  -config, --config FILE   the YAML config (see docs/config.md and config.example.yaml)
  --from-file PATH         replay: a DLQ file written by dlq.file_path (default: that path)
  --from-topic TOPIC       replay: a DLQ Kafka topic (default: dlq.kafka_topic)
  --dry-run                replay: map and report, load nothing (Redis is only read)
  --limit N                replay: read only the first N records; a later replay loads the rest
  -h, --help               this text
  -v, --version            the version

Environment: DORIS_PASSWORD, REDIS_URL, KAFKA_SASL_PASSWORD, KAFKA_BROKERS and DORIS_FE_HOSTS
override the file, so secrets can stay out of it; one set to "" overrides nothing. Relative paths
in the file are taken from the working directory.
Exit codes: 0 stopped cleanly with everything flushed; 1 failed or stopped with data not flushed;
2 bad command line or config, a metrics.port or pprof.port it cannot listen on (in use, or an
address the host lacks), a log file it cannot write, a table DESCRIBE cannot read
(schema.auto.validate_on_start), or a replay whose setup Doris refuses (password, privileges, table);
3 stopped with everything flushed to reload a changed table schema (CSV): restart it;
128 + N stopped by signal N while starting, or in check / replay (143 SIGTERM, 130 SIGINT).`;

export type Command = 'run' | 'check' | 'replay' | 'config-schema' | 'help' | 'version';

export interface CliArgs {
  command: Command;
  config?: string;
  fromFile?: string;
  fromTopic?: string;
  dryRun: boolean;
  limit?: number;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

const COMMANDS = new Set<Command>(['run', 'check', 'replay', 'config-schema']);
const LONG_FLAGS = ['config', 'from-file', 'from-topic', 'dry-run', 'limit', 'help', 'version'];

const TAKES_VALUE = new Set(['--config', '-c', '--from-file', '--from-topic', '--limit']);

/**
 * Refuses an option that is none of ours, naming it as typed and the closest one. parseArgs would
 * read `-confg FILE` as `-c onfg` and then complain of FILE as an unknown command, and says of
 * `--confg` only how to pass a positional argument that starts with a dash.
 */
function refuseUnknownOptions(argv: string[], normalized: string[]): void {
  for (let i = 0; i < normalized.length; i++) {
    const arg = normalized[i]!;
    if (arg === '--') return;
    if (!arg.startsWith('-') || arg === '-') continue;
    const long = /^--([a-z-]+)(=.*)?$/.exec(arg);
    if ((long && LONG_FLAGS.includes(long[1]!)) || ['-c', '-h', '-v'].includes(arg)) {
      if (TAKES_VALUE.has(arg)) i++; // its value may start with a dash
      continue;
    }
    const name = arg.replace(/^-+/, '').split('=')[0]!;
    const guess = didYouMean(name, LONG_FLAGS);
    const hint = guess === undefined ? '' : ` (did you mean ${guess === 'config' ? '-config' : `--${guess}`}?)`;
    throw new UsageError(`unknown option ${argv[i]}${hint}`);
  }
}

export function parseCli(argv: string[]): CliArgs {
  // Map the seed's single-dash long flags (-config) onto the GNU form parseArgs understands.
  const normalized = argv.map((a) => {
    if (a.startsWith('-c=')) return `--config${a.slice(2)}`; // parseArgs reads -c=FILE as the file "=FILE"
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    return m && LONG_FLAGS.includes(m[1] as string) ? `--${m[1]}${m[2] ?? ''}` : a;
  });
  refuseUnknownOptions(argv, normalized);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: normalized,
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: {
        config: { type: 'string', short: 'c' },
        'from-file': { type: 'string' },
        'from-topic': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', dryRun: false };
  if (values.version) return { command: 'version', dryRun: false };
  // parseArgs keeps the last of a repeated option, as Go's flag package does; a second -config
  // (a wrapper script adding its own) would then silently win over the one the user sees.
  const given = new Map<string, string[]>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option' || t.value === undefined) continue;
    given.set(t.name, [...(given.get(t.name) ?? []), t.value]);
  }
  for (const [name, seen] of given) {
    if (seen.length > 1) {
      const flag = name === 'config' ? '-config' : `--${name}`;
      throw new UsageError(
        `${flag} given ${seen.length} times (${seen.map((v) => JSON.stringify(v)).join(', ')}): give it once`,
      );
    }
  }
  if (values.config === '') throw new UsageError('-config: expected a file path, found an empty string');
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  const word = positionals[0] ?? 'run';
  if (!COMMANDS.has(word as Command)) {
    throw new UsageError(`unknown command ${JSON.stringify(word)} (commands: run, check, replay, config-schema)`);
  }
  const command = word as Command;
  const args: CliArgs = { command, dryRun: values['dry-run'] === true };
  if (typeof values.config === 'string') args.config = values.config;
  if (typeof values['from-file'] === 'string') args.fromFile = values['from-file'];
  if (typeof values['from-topic'] === 'string') args.fromTopic = values['from-topic'];
  if (typeof values.limit === 'string') {
    const n = Number(values.limit);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--limit must be a positive integer, got ${values.limit}`);
    args.limit = n;
  }
  if (command !== 'config-schema' && !args.config) {
    throw new UsageError(`${command}: -config FILE is required`);
  }
  if (command !== 'replay' && (args.fromFile || args.fromTopic || args.dryRun || args.limit)) {
    throw new UsageError('--from-file, --from-topic, --dry-run and --limit only apply to replay');
  }
  if (args.fromFile && args.fromTopic) throw new UsageError('replay: give --from-file or --from-topic, not both');
  return args;
}
