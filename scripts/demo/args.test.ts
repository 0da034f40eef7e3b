import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_EVENTS, parseArgs, USAGE } from './args.ts';
import { allowance } from './producer.ts';

test('defaults: follow, the default event count, unbounded rate', () => {
  assert.deepEqual(parseArgs([]), { help: false, down: false, follow: true, events: DEFAULT_EVENTS, rate: 0 });
});

test('options, with separate or inline values and digit separators', () => {
  const a = parseArgs(['--no-follow', '--events', '20000', '--rate=5_000', '--no-color']);
  assert.equal(a.follow, false);
  assert.equal(a.events, 20000);
  assert.equal(a.rate, 5000);
  assert.equal(a.color, false);
  assert.equal(parseArgs(['--events=1,000']).events, 1000);
  assert.equal(parseArgs(['--down']).down, true);
  assert.equal(parseArgs(['-h']).help, true);
  assert.equal(parseArgs(['--color']).color, true);
});

test('bad options fail naming the option', () => {
  assert.throws(() => parseArgs(['--events']), /--events needs a number/);
  assert.throws(() => parseArgs(['--events', '--no-follow']), /--events needs a number/);
  assert.throws(() => parseArgs(['--events', '0']), /--events "0": expected a whole number ≥ 1/);
  assert.throws(() => parseArgs(['--rate', '1.5']), /--rate/);
  assert.throws(() => parseArgs(['--frob']), /unknown option "--frob"/);
});

test('usage lists every option', () => {
  for (const o of ['--events', '--rate', '--no-follow', '--down', '--help']) assert.ok(USAGE.includes(o), o);
});

test('rate allowance: unbounded sends all, a rate spreads events over time', () => {
  assert.equal(allowance(0, 0, 500), 500);
  assert.equal(allowance(1000, 0, 500), 0);
  assert.equal(allowance(1000, 250, 500), 250);
  assert.equal(allowance(1000, 10_000, 500), 500);
});
