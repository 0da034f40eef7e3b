// The bench scripts' command line (cli.ts): typed values and their checks, the --help text, and each
// script under test/bench answering --help at once (exit 0, every declared option listed, nothing
// started) and refusing an unknown option (exit 2). No server: the scripts are only asked for help.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Cli, CliError, defineCli, headerComment, oneOfEach } from './cli.ts';

const BENCH = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(BENCH, '../..');
const NODE = join(REPO, 'node_modules/.bin/node');
const SCRIPTS = [
  'bench.ts',
  'soak.ts',
  'merge-bench.ts',
  'consumer-only.ts',
  'mapper-bench.ts',
  'emulator-bench.ts',
  'prefill.ts',
];
// Were a script to reach for the test bed while asked for help, it would find none and fail.
const NO_BED = join(tmpdir(), 'doris-sinker-cli-test-no-such-dir', 'env');
process.env.DORIS_SINKER_ENV = NO_BED;

const cli = defineCli(import.meta, {
  purpose: 'A test script: what it is for.',
  positionals: {
    count: { number: 'positive', integer: true, default: 100, description: 'how many' },
  },
  options: {
    messages: {
      type: 'string',
      number: 'positive',
      integer: true,
      default: 2_000_000,
      value: 'N',
      description: 'messages',
    },
    profile: { type: 'string', number: 'non-negative', default: 0, value: 'S', description: 'seconds' },
    rate: { type: 'string', number: 'positive', defaultText: 'half the measured rate', description: 'msg/s' },
    topic: { type: 'string', default: 'bench-topic', description: 'the topic' },
    tag: { type: 'string', description: 'a name' },
    'node-flags': { type: 'string', description: 'node flags' },
    clients: { type: 'string', default: 'a,b', check: oneOfEach(['a', 'b', 'c']), description: 'clients' },
    'skip-peer': { type: 'boolean', description: 'skip it' },
    'no-write': { type: 'boolean', description: 'write nothing' },
  },
});

function values(argv: string[]) {
  const r = cli.read(argv);
  assert.equal(r.help, false);
  if (r.help) throw new Error('unreachable');
  return r.values;
}

const rejects = (argv: string[], message: RegExp, c: Cli<unknown> = cli) =>
  assert.throws(
    () => c.read(argv),
    (e: unknown) => e instanceof CliError && message.test(e.message),
    `${JSON.stringify(argv)} should fail with ${message}`,
  );

test('defaults when nothing is given', () => {
  assert.deepEqual(
    { ...values([]) },
    {
      count: 100,
      messages: 2_000_000,
      profile: 0,
      rate: undefined,
      topic: 'bench-topic',
      tag: undefined,
      'node-flags': undefined,
      clients: 'a,b',
      'skip-peer': false,
      'no-write': false,
    },
  );
});

test('strings, numbers and booleans, separate or inline, positionals anywhere', () => {
  const v = values([
    '--messages',
    '400000',
    '--profile=2.5',
    '--rate',
    '1e3',
    '--topic',
    't1',
    '--tag=x',
    '--clients',
    'c,a',
    '--skip-peer',
    '7',
    '--no-write',
  ]);
  assert.equal(v.messages, 400_000);
  assert.equal(v.profile, 2.5);
  assert.equal(v.rate, 1000);
  assert.equal(v.topic, 't1');
  assert.equal(v.tag, 'x');
  assert.equal(v.clients, 'c,a');
  assert.equal(v['skip-peer'], true);
  assert.equal(v['no-write'], true);
  assert.equal(v.count, 7);
  assert.equal(values(['--profile', '0']).profile, 0);
});

test('a value that starts with a dash is taken unless it is one of the options', () => {
  assert.equal(
    values(['--node-flags', '--max-old-space-size=192 --jitless'])['node-flags'],
    '--max-old-space-size=192 --jitless',
  );
  assert.equal(values(['--node-flags', ''])['node-flags'], '');
  rejects(['--tag', '--skip-peer'], /^--tag: needs a value, found the option "--skip-peer"$/);
});

test('a bad number is refused, naming the option and the value', () => {
  rejects(['--messages', 'lots'], /^--messages: expected a whole number > 0, found "lots"$/);
  rejects(['--messages', '0'], /^--messages: expected a whole number > 0, found "0"$/);
  rejects(['--messages', '1.5'], /^--messages: expected a whole number > 0, found "1\.5"$/);
  rejects(['--messages='], /^--messages: expected a whole number > 0, found ""$/);
  rejects(['--profile', '-1'], /^--profile: expected a number ≥ 0, found "-1"$/);
  rejects(['--rate', 'Infinity'], /^--rate: expected a number > 0, found "Infinity"$/);
  rejects(['--rate'], /^--rate: needs a value, found none$/);
  rejects(['0'], /^count: expected a whole number > 0, found "0"$/);
  rejects(['--clients', 'a,d'], /^--clients: unknown "d" \(known: a, b, c\), found "a,d"$/);
});

test('an unknown option, a value for a flag and a surplus argument are refused, naming them', () => {
  rejects(['--frob'], /^unknown option --frob$/);
  rejects(['--mesages', '5'], /^unknown option --mesages \(did you mean --messages\?\)$/);
  rejects(['-x'], /^unknown option -x$/);
  rejects(['--skip-peer=yes'], /^--skip-peer: takes no value, found "yes"$/);
  rejects(['1', '2'], /^unexpected argument "2" \(takes at most \[count\]\)$/);
  const none = defineCli(import.meta, { purpose: 'p', options: { tag: { type: 'string', description: 't' } } });
  rejects(['extra'], /^unexpected argument "extra" \(this script takes options only\)$/, none);
});

test('--help and -h win over everything else', () => {
  assert.deepEqual(cli.read(['--help']), { help: true });
  assert.deepEqual(cli.read(['--frob', '-h']), { help: true });
  rejects(['--', '--help'], /^count: expected a whole number > 0, found "--help"$/); // after --: a positional
});

test('the help text: purpose, usage, every option with its default', () => {
  const text = cli.usage();
  assert.ok(text.startsWith('A test script: what it is for.\n'), text);
  assert.match(text, /Usage: node test\/bench\/support\/cli\.test\.ts \[options\] \[count\]/);
  const line = (name: string) => text.split('\n').find((l) => l.trimStart().startsWith(name)) ?? '';
  assert.match(line('count'), /how many \(default: 100\)$/);
  assert.match(line('--messages N'), /messages \(default: 2000000\)$/);
  assert.match(line('--profile S'), /seconds \(default: 0\)$/);
  assert.match(line('--rate N'), /msg\/s \(default: half the measured rate\)$/);
  assert.match(line('--topic VALUE'), /the topic \(default: bench-topic\)$/);
  assert.match(line('--clients VALUE'), /clients \(default: a,b\)$/);
  assert.match(line('--tag VALUE'), /a name$/);
  assert.match(line('--skip-peer'), /skip it$/);
  assert.match(line('--no-write'), /write nothing$/);
  assert.match(line('-h, --help'), /print this text and exit$/);
});

test('headerComment: the leading comment block without the slashes', () => {
  assert.equal(headerComment('// one\n//   two\n//\n// three\nimport x;\n// not this'), 'one\n  two\n\nthree');
  assert.equal(headerComment('import x;\n'), '');
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function run(script: string, args: string[], tmp: string): Promise<Run> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(
      NODE,
      [join(BENCH, script), ...args],
      { cwd: REPO, timeout: 60_000, env: { ...process.env, DORIS_SINKER_ENV: NO_BED, TMPDIR: tmp } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        done({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
      },
    );
  });
}

test('every bench script answers --help at once and refuses an unknown option', { concurrency: 3 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'bench-cli-test-'));
  try {
    await Promise.all(
      SCRIPTS.map((script) =>
        t.test(script, async () => {
          // Imported, a script parses no command line and starts nothing: its CLI is declared on export.
          const { CLI } = (await import(pathToFileURL(join(BENCH, script)).href)) as { CLI: Cli<unknown> };
          assert.equal(CLI.name, script);
          const help = await run(script, ['--help'], tmp);
          assert.equal(help.code, 0, `${script} --help: exit ${help.code}\n${help.stderr}`);
          assert.equal(help.stderr, '');
          assert.ok(help.seconds < 20, `${script} --help took ${help.seconds.toFixed(1)} s`);
          assert.match(help.stdout, new RegExp(`Usage: node test/bench/${script.replace('.', '\\.')} `));
          for (const o of Object.keys(CLI.options)) assert.match(help.stdout, new RegExp(`^  --${o}\\b`, 'm'), o);
          for (const p of Object.keys(CLI.positionals)) assert.match(help.stdout, new RegExp(`^  ${p}\\b`, 'm'), p);
          assert.match(help.stdout, /^ {2}-h, --help/m);

          const bad = await run(script, ['--no-such-option'], tmp);
          assert.equal(bad.code, 2, `${script} --no-such-option: exit ${bad.code}\n${bad.stderr}`);
          assert.equal(bad.stdout, '');
          assert.equal(
            bad.stderr,
            `${script}: unknown option --no-such-option\n${script}: run \`node test/bench/${script} --help\` for the options\n`,
          );
        }),
      ),
    );
    assert.deepEqual(readdirSync(tmp), [], 'a script wrote to its temporary directory');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
