import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimalAtScale, sinkRefusal } from './sink-reasons.ts';

test('varchar too long: the column, the first 32 bytes and the byte length pick the value', () => {
  const r = sinkRefusal(
    'column_name[Country], the length of input is too long than schema. first 32 bytes of input str: [Canada] schema length: 1; actual length: 6;',
  );
  assert.equal(r?.column, 'country');
  assert.ok(r?.fits('Canada'));
  assert.ok(!r?.fits('Canad'));
  assert.ok(!r?.fits('Canadaa'));
  assert.ok(!r?.fits(null));
  // The value is cut at 32 bytes, here inside "é" (2 bytes): the log reads U+FFFD there.
  const long = `${'x'.repeat(31)}é and more`;
  const shown = Buffer.from(long).subarray(0, 32).toString('utf8');
  assert.ok(shown.endsWith('\uFFFD'));
  const cut = sinkRefusal(
    `column_name[c], the length of input is too long than schema. first 32 bytes of input str: [${shown}] schema length: 8; actual length: ${Buffer.byteLength(long)};`,
  );
  assert.ok(cut?.fits(long));
  assert.ok(!cut?.fits(`${'x'.repeat(31)}é and mor`));
  // What the cut hides cannot tell these apart: both fit, and refusal-match sees two candidates.
  assert.ok(cut?.fits(`${'x'.repeat(31)}ü and more`));
});

test('STRING over the 1 MiB limit (vec schema form, "]" inside the value)', () => {
  const v = `{"$type":"a]b", ${'y'.repeat(2_000_000)}`;
  const r = sinkRefusal(
    `column_name[MessageBody], the length of input string is too long than vec schema. first 32 bytes of input str: [${Buffer.from(v).subarray(0, 32)}] schema length: 2147483643; limit length: 1048576; actual length: ${Buffer.byteLength(v)};`,
  );
  assert.equal(r?.column, 'messagebody');
  assert.ok(r?.fits(v));
  assert.ok(!r?.fits(`${v}z`));
});

test('decimal out of range: the value as the cast rounds it, whatever the spelling', () => {
  const r = sinkRefusal(
    'column_name[amount], decimal value is not valid for definition, value=12345.68, precision=5, scale=2, min=-999.99, max=999.99;',
  );
  assert.equal(r?.column, 'amount');
  for (const v of ['12345.68', '12345.678', '12345.675', '+012345.68', '1.234568e4', '12345.680000'])
    assert.ok(r?.fits(v), v);
  for (const v of ['12345.67', '12345.674', '-12345.68', 'abc', '', null]) assert.ok(!r?.fits(v), String(v));
  // Older releases name the column inside the message.
  const old = sinkRefusal('decimal value is not valid for definition, column=Price, value=100.0, precision=3, scale=1');
  assert.equal(old?.column, 'price');
  assert.ok(old?.fits('100'));
});

test('reasons of other stages are not sink refusals', () => {
  for (const reason of [
    'column(ts) value is incorrect while strict mode is true, src value is nonsense',
    'column(note) values is null while columns is not nullable',
    'injected by the emulator (filter_rows fault)',
    'no partition for this tuple',
  ]) {
    assert.equal(sinkRefusal(reason), undefined, reason);
  }
  const anyColumn = sinkRefusal(
    'the length of input is too long than schema. first 32 bytes of input str: [abc] schema length: 2; actual length: 3;',
  );
  assert.equal(anyColumn?.column, undefined);
  assert.ok(anyColumn?.fits('abc'));
});

test('decimalAtScale rounds half up and prints exactly scale digits', () => {
  assert.equal(decimalAtScale('1.005', 2), '1.01');
  assert.equal(decimalAtScale('9.995', 2), '10.00');
  assert.equal(decimalAtScale('-9.995', 2), '-10.00');
  assert.equal(decimalAtScale('-0.001', 2), '0.00');
  assert.equal(decimalAtScale('.5', 0), '1');
  assert.equal(decimalAtScale('5.', 1), '5.0');
  assert.equal(decimalAtScale('1.5e-3', 3), '0.002');
  assert.equal(decimalAtScale('12E+2', 1), '1200.0');
  assert.equal(decimalAtScale('000123', 0), '123');
  assert.equal(decimalAtScale('1e', 0), undefined);
  assert.equal(decimalAtScale('.', 0), undefined);
  assert.equal(decimalAtScale('1,5', 1), undefined);
});
