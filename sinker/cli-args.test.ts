import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseCli, USAGE, UsageError } from './cli-args.ts';

test("the seed's -config spelling and the GNU forms all work", () => {
  for (const argv of [
    ['-config', 'a.yaml'],
    ['--config', 'a.yaml'],
    ['--config=a.yaml'],
    ['-c', 'a.yaml'],
    ['-c=a.yaml'],
    ['-config=a.yaml'],
    ['run', '-config', 'a.yaml'],
  ]) {
    assert.deepEqual(parseCli(argv), { command: 'run', config: 'a.yaml', dryRun: false }, argv.join(' '));
  }
});

test('check, replay with its options, help and version', () => {
  assert.deepEqual(parseCli(['check', '-config', 'x.yaml']), { command: 'check', config: 'x.yaml', dryRun: false });
  assert.deepEqual(parseCli(['replay', '-config', 'x.yaml', '--from-file', 'dlq.jsonl', '--dry-run', '--limit', '5']), {
    command: 'replay',
    config: 'x.yaml',
    fromFile: 'dlq.jsonl',
    dryRun: true,
    limit: 5,
  });
  assert.equal(parseCli(['--help']).command, 'help');
  assert.equal(parseCli(['-h']).command, 'help');
  assert.equal(parseCli(['--version']).command, 'version');
  // --help answers whatever else the line holds (as before the repeated-option check).
  assert.equal(parseCli(['-config', 'a', '-config', 'b', '--help']).command, 'help');
  assert.equal(parseCli(['-config', '', '-v']).command, 'version');
  assert.equal(parseCli(['config-schema']).command, 'config-schema');
});

test('bad command lines say what is wrong', () => {
  const cases: [string[], RegExp][] = [
    [[], /run: -config FILE is required/],
    [['check'], /check: -config FILE is required/],
    [['frobnicate', '-config', 'a'], /unknown command "frobnicate"/],
    [['-config', 'a', '--bogus'], /bogus/],
    [['-config', 'a', '--dry-run'], /only apply to replay/],
    [['replay', '-config', 'a', '--limit', 'x'], /--limit must be a positive integer, got x/],
    [['replay', '-config', 'a', '--from-file', 'f', '--from-topic', 't'], /not both/],
    [['run', 'extra', '-config', 'a'], /unexpected argument "extra"/],
    // Typos of an option name the option as typed and the one meant. Before, -confg was read as
    // -c onfg ('unknown command "a.yaml"') and --confg got parseArgs's advice on positionals.
    [['-confg', 'a.yaml'], /^unknown option -confg \(did you mean -config\?\)$/],
    [['--confg', 'a.yaml'], /^unknown option --confg \(did you mean -config\?\)$/],
    [['check', '-Config', 'a.yaml'], /^unknown option -Config \(did you mean -config\?\)$/],
    [['replay', '-config', 'a', '-dryrun'], /^unknown option -dryrun \(did you mean --dry-run\?\)$/],
    [['replay', '-config', 'a', '--from_topic=t'], /^unknown option --from_topic=t \(did you mean --from-topic\?\)$/],
    [['-config', 'a', '--bogus-thing'], /^unknown option --bogus-thing$/],
    // A repeated option: parseArgs kept the last one silently, so a wrapper's second -config won.
    [['-config', 'a.yaml', '--config=b.yaml'], /^-config given 2 times \("a\.yaml", "b\.yaml"\): give it once$/],
    [['-c', 'a.yaml', 'check', '-config', 'a.yaml'], /^-config given 2 times/],
    [['replay', '-config', 'a', '--limit', '5', '--limit', '9'], /^--limit given 2 times \("5", "9"\)/],
    [['replay', '-config', 'a', '--from-topic', 't', '--from-topic', 'u'], /^--from-topic given 2 times/],
    // An empty path (an unset shell variable: -config "$CONF") was 'run: -config FILE is required'.
    [['-config', ''], /^-config: expected a file path, found an empty string$/],
    [['--config='], /^-config: expected a file path, found an empty string$/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseCli(argv),
      (err: Error) => err instanceof UsageError && message.test(err.message),
      argv.join(' '),
    );
  }
});

test('--help gives every exit code of docs/operations.md, with what exits 2', () => {
  const ops = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
  const codes = [...ops.matchAll(/^\| (\d+(?: \+ N)?) +\| /gm)].map((m) => m[1]!);
  assert.deepEqual(codes, ['0', '1', '2', '3', '128 + N'], 'the exit-code table of docs/operations.md');
  const exits = USAGE.slice(USAGE.indexOf('Exit codes:'));
  for (const code of codes) assert.match(exits, new RegExp(`(: |; |\\n)${code.replace('+', '\\+')} `), code);
  // Start-up refusals with exit 2 (run.ts StartupError, cli.ts LogFileError); --help left out the ports.
  assert.match(exits, /2 bad command line or config, a metrics\.port or pprof\.port it cannot listen on/);
  assert.match(exits, /a log file it cannot write/);
});
