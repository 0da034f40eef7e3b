// The command line of the bench scripts, on node:util parseArgs (strict). A script declares its options
// once — type, default, a one-line description, for numbers the range — and gets typed values, a
// `--help`/`-h` text built from the declarations and the script's header comment (printed before the
// script does anything, exit 0), and, for an unknown option or a bad value, one line naming the option
// and the value found plus a pointer to --help (exit 2).
//
//   export const CLI = defineCli(import.meta, { npm: 'bench', options: { messages: { type: 'string',
//     number: 'positive', integer: true, default: 2_000_000, value: 'N', description: '...' } } });
//   const opts = CLI.parse(); // opts.messages: number
//
// When the script is imported rather than run (import.meta.main false), parse() reads no command line
// and gives the defaults, so a test can import a script for its CLI without starting it.
import { readFileSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** A numeric value: a finite number > 0 (positive) or ≥ 0 (non-negative). */
export type NumberCheck = 'positive' | 'non-negative';

export interface ValueSpec {
  description: string;
  /** The value when not given (a number for a numeric option). */
  default?: string | number;
  /** What --help shows as the default when there is no fixed one ("half the measured msgs/s"). */
  defaultText?: string;
  /** Placeholder for the value in --help: N, DIR, "F ...". */
  value?: string;
  /** The value is a number in this range (the parsed value is then a number). */
  number?: NumberCheck;
  /** With `number`: a whole number. */
  integer?: boolean;
  /** Any further check of a given value: what is wrong with it, or undefined. */
  check?: (value: string) => string | undefined;
}

export interface OptionSpec extends ValueSpec {
  type: 'string' | 'boolean';
}

export interface CliSpec<O extends Record<string, OptionSpec>, P extends Record<string, ValueSpec>> {
  /** `npm run <npm> --` runs the script too. */
  npm?: string;
  /** The script's purpose for --help; by default its leading comment block. */
  purpose?: string;
  options?: O;
  /** Positional arguments, in order, each optional. Only for scripts that take them. */
  positionals?: P;
}

type ValueOf<S> = S extends { type: 'boolean' }
  ? boolean
  :
      | (S extends { number: NumberCheck } ? number : string)
      | (S extends { default: string | number } ? never : undefined);

export type CliValues<O, P> = { -readonly [K in keyof O]: ValueOf<O[K]> } & {
  -readonly [K in keyof P]: ValueOf<P[K]>;
};

export type CliRead<V> = { help: true } | { help: false; values: V };

/** A mistake on the command line; the message names the option and the value found. */
export class CliError extends Error {}

export interface Cli<V> {
  /** The script's file name, the prefix of its error messages ("bench.ts"). */
  readonly name: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly positionals: Readonly<Record<string, ValueSpec>>;
  /** The --help text. */
  usage(): string;
  /** Reads argv (without node and the script): help wanted, or the values. Throws CliError. */
  read(argv: readonly string[]): CliRead<V>;
  /**
   * For the script's top level: reads process.argv when the script is the main module (the defaults
   * when it is imported); prints the usage and exits 0 on --help, prints the mistake and exits 2.
   */
  parse(argv?: readonly string[]): V;
}

const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');

/** The leading `//` comment block of a source file, without the slashes. */
export function headerComment(source: string): string {
  const lines: string[] = [];
  for (const line of source.split('\n')) {
    if (!line.startsWith('//')) break;
    lines.push(line.replace(/^\/\/ ?/, ''));
  }
  return lines.join('\n').trimEnd();
}

const q = (v: string) => JSON.stringify(v);

function checkValue(label: string, spec: ValueSpec, raw: string): string | number {
  if (spec.number) {
    const n = raw.trim() === '' ? Number.NaN : Number(raw);
    const range = spec.number === 'positive' ? '> 0' : '≥ 0';
    const what = `${spec.integer ? 'a whole number' : 'a number'} ${range}`;
    const ok =
      Number.isFinite(n) && (spec.number === 'positive' ? n > 0 : n >= 0) && (!spec.integer || Number.isInteger(n));
    if (!ok) throw new CliError(`${label}: expected ${what}, found ${q(raw)}`);
  }
  const wrong = spec.check?.(raw);
  if (wrong) throw new CliError(`${label}: ${wrong}, found ${q(raw)}`);
  return spec.number ? Number(raw) : raw;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** A check for a comma-separated list: every item one of `allowed` (--clients, --modes and the like). */
export function oneOfEach(allowed: readonly string[]): (value: string) => string | undefined {
  return (value) => {
    const bad = value.split(',').filter((v) => !allowed.includes(v));
    return bad.length > 0 ? `unknown ${bad.map(q).join(', ')} (known: ${allowed.join(', ')})` : undefined;
  };
}

export function defineCli<
  const O extends Record<string, OptionSpec> = Record<never, OptionSpec>,
  const P extends Record<string, ValueSpec> = Record<never, ValueSpec>,
>(meta: ImportMeta, spec: CliSpec<O, P>): Cli<CliValues<O, P>> {
  const file = fileURLToPath(meta.url);
  const name = basename(file);
  const options: Record<string, OptionSpec> = spec.options ?? {};
  const positionals: Record<string, ValueSpec> = spec.positionals ?? {};
  const posNames = Object.keys(positionals);
  for (const n of Object.keys(options)) {
    if (n === 'help') throw new Error(`${name}: --help is the helper's own option`);
    if (Object.hasOwn(positionals, n)) throw new Error(`${name}: ${n} is both an option and a positional`);
  }
  const hint = `run \`node ${relative(REPO, file)} --help\` for the options`;

  const defaultOf = (s: ValueSpec) =>
    s.defaultText ?? (s.default === undefined || s.default === '' ? undefined : String(s.default));

  function usage(): string {
    const purpose = spec.purpose ?? headerComment(readFileSync(file, 'utf8'));
    const synopsis = `[options]${posNames.map((p) => ` [${p}]`).join('')}`;
    const lines = [purpose, '', `Usage: node ${relative(REPO, file)} ${synopsis}`];
    if (spec.npm) lines.push(`       npm run ${spec.npm} -- ${synopsis}`);
    const rows: Array<[string, string]> = [];
    const describe = (s: ValueSpec) => {
      const d = defaultOf(s);
      return d === undefined ? s.description : `${s.description} (default: ${d})`;
    };
    if (posNames.length > 0) {
      lines.push('', 'Arguments:');
      for (const p of posNames) rows.push([p, describe(positionals[p]!)]);
    }
    const argRows = rows.length;
    for (const [n, s] of Object.entries(options)) {
      const left = s.type === 'boolean' ? `--${n}` : `--${n} ${s.value ?? (s.number ? 'N' : 'VALUE')}`;
      rows.push([left, s.type === 'boolean' ? s.description : describe(s)]);
    }
    rows.push(['-h, --help', 'print this text and exit']);
    const width = Math.min(30, Math.max(...rows.map(([l]) => l.length)));
    const fmt = ([l, d]: [string, string]) => `  ${l.padEnd(width)}  ${d}`;
    lines.push(...rows.slice(0, argRows).map(fmt), '', 'Options:', ...rows.slice(argRows).map(fmt));
    return `${lines.join('\n')}\n`;
  }

  function read(argv: readonly string[]): CliRead<CliValues<O, P>> {
    const end = argv.indexOf('--');
    const flags = end < 0 ? argv : argv.slice(0, end);
    if (flags.includes('--help') || flags.includes('-h')) return { help: true };
    // `--node-flags --max-old-space-size=192`: a string option's value may start with a dash, which
    // strict parseArgs calls ambiguous unless written `--node-flags=...`. It is taken as the value
    // unless it is one of the script's own options (then the value is missing).
    const own = (a: string) => {
      const m = /^--([^=]+)/.exec(a);
      return m ? Object.hasOwn(options, m[1]!) : a === '-h';
    };
    const args: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      const next = argv[i + 1];
      const opt = /^--([^=]+)$/.exec(a)?.[1];
      if (
        (end < 0 || i < end) &&
        opt !== undefined &&
        Object.hasOwn(options, opt) &&
        options[opt]!.type === 'string' &&
        next?.startsWith('-') &&
        next !== '--' &&
        !own(next)
      ) {
        args.push(`${a}=${next}`);
        i++;
      } else args.push(a);
    }
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args,
        options: Object.fromEntries(Object.entries(options).map(([n, s]) => [n, { type: s.type }])),
        strict: true,
        allowPositionals: posNames.length > 0,
      });
    } catch (e) {
      throw new CliError(explain(e as Error & { code?: string }, args));
    }
    const values: Record<string, unknown> = {};
    for (const [n, s] of Object.entries(options)) {
      const given = parsed.values[n];
      if (s.type === 'boolean') values[n] = given === true;
      else if (typeof given === 'string') values[n] = checkValue(`--${n}`, s, given);
      else values[n] = s.default;
    }
    if (parsed.positionals.length > posNames.length)
      throw new CliError(
        `unexpected argument ${q(parsed.positionals[posNames.length]!)}` +
          (posNames.length > 0 ? ` (takes at most ${posNames.map((p) => `[${p}]`).join(' ')})` : ''),
      );
    posNames.forEach((p, i) => {
      const given = parsed.positionals[i];
      values[p] = given === undefined ? positionals[p]!.default : checkValue(p, positionals[p]!, given);
    });
    return { help: false, values: values as CliValues<O, P> };
  }

  /** parseArgs' error as one line naming the option (and the value found). */
  function explain(e: Error & { code?: string }, args: readonly string[]): string {
    const quoted = /'([^']*)'/.exec(e.message)?.[1] ?? '';
    const opt = quoted.split(' ')[0]!;
    const at = args.indexOf(opt);
    switch (e.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
        const bare = opt.replace(/^-+/, '').split('=')[0]!;
        const near = Object.keys(options)
          .map((n) => ({ n, d: distance(bare, n) }))
          .filter((x) => x.d <= Math.max(1, Math.floor(x.n.length / 4)))
          .sort((a, b) => a.d - b.d)[0];
        return `unknown option ${opt}${near ? ` (did you mean --${near.n}?)` : ''}`;
      }
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        if (/argument missing/.test(e.message)) return `${opt}: needs a value, found none`;
        if (/ambiguous/.test(e.message)) return `${opt}: needs a value, found the option ${q(args[at + 1] ?? '')}`;
        if (/does not take an argument/.test(e.message)) {
          const given = args.find((a) => a.startsWith(`${opt}=`))?.slice(opt.length + 1) ?? '';
          return `${opt}: takes no value, found ${q(given)}`;
        }
        return e.message.split('\n')[0]!;
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        return `unexpected argument ${q(quoted)} (this script takes options only)`;
      default:
        return e.message.split('\n')[0]!;
    }
  }

  function parse(argv?: readonly string[]): CliValues<O, P> {
    const args = argv ?? (meta.main ? process.argv.slice(2) : []);
    let r: CliRead<CliValues<O, P>>;
    try {
      r = read(args);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      process.stderr.write(`${name}: ${e.message}\n${name}: ${hint}\n`);
      process.exit(2);
    }
    if (r.help) {
      process.stdout.write(usage());
      process.exit(0);
    }
    return r.values;
  }

  return { name, options, positionals, usage, read, parse };
}
