import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decimalParts,
  formatDecimal,
  integerFits,
  isCanonicalDateTime,
  isCanonicalDateTimeBytes,
  isCanonicalDecimalBytes,
  isIpv4,
  isIpv6,
  isJsonNumber,
  parseDateTime,
} from './convert.ts';

test('decimal parts are exact, with exponents applied and zeros trimmed', () => {
  const cases: Array<[string, string]> = [
    ['0', '0'],
    ['-0', '0'],
    ['007', '7'],
    ['12.3400', '12.34'],
    ['1e3', '1000'],
    ['1.5e-3', '0.0015'],
    ['-12.5E+2', '-1250'],
    ['123456789012345678901234567890.123456789', '123456789012345678901234567890.123456789'],
    ['0.000', '0'],
    ['1e-2000', '0.' + '0'.repeat(1000) + '1'],
  ];
  for (const [text, expected] of cases) assert.equal(formatDecimal(decimalParts(text)), expected, text);
});

test('integer bounds for every width, int64 and int128 included', () => {
  assert.equal(integerFits('tinyint', '127', false), true);
  assert.equal(integerFits('tinyint', '128', false), false);
  assert.equal(integerFits('tinyint', '128', true), true);
  assert.equal(integerFits('bigint', '9223372036854775807', false), true);
  assert.equal(integerFits('bigint', '9223372036854775808', false), false);
  assert.equal(integerFits('bigint', '9223372036854775808', true), true);
  assert.equal(integerFits('largeint', '170141183460469231731687303715884105728', false), false);
  assert.equal(integerFits('largeint', '99999999999999999999999999999999999999', false), true);
});

test('JSON number grammar', () => {
  for (const ok of ['0', '-1', '1.5', '1e5', '-0.0E-1']) assert.equal(isJsonNumber(ok), true, ok);
  for (const bad of ['', '+1', '01', '.5', '1.', 'NaN', '1e', '0x10']) assert.equal(isJsonNumber(bad), false, bad);
});

test('dates: canonical fast path agrees with the general parser', () => {
  const samples = [
    ['2024-02-29', true, 0],
    ['2023-02-29', true, 0],
    ['2024-13-01', true, 0],
    ['2024-01-01 10:11:12', false, 0],
    ['2024-01-01 10:11:12.123', false, 3],
    ['2024-01-01 10:11:12.1234', false, 3],
    ['2024-01-01T10:11:12', false, 0],
    ['2024-01-01 24:00:00', false, 0],
    ['2024-04-31', true, 0],
    ['1900-02-29', true, 0],
    ['2000-02-29', true, 0],
  ] as const;
  for (const [text, isDate, scale] of samples) {
    const fast = isCanonicalDateTime(text, isDate, scale);
    const d = parseDateTime(text);
    if (fast) {
      assert.ok(d, text);
      assert.equal(
        isDate ? d.date : `${d.date} ${d.time}${d.frac ? `.${d.frac}` : ''}`,
        text.replace(/0+$/, (m) => (text.includes('.') ? '' : m)),
        text,
      );
      assert.ok(d.frac.length <= scale, text);
    }
  }
  assert.equal(isCanonicalDateTime('2024-02-29', true, 0), true);
  assert.equal(isCanonicalDateTime('2023-02-29', true, 0), false);
  assert.equal(parseDateTime('2023-02-29'), null);
  assert.equal(isCanonicalDateTime('2024-01-01 10:11:12.123', false, 3), true);
  assert.equal(isCanonicalDateTime('2024-01-01 10:11:12.1234', false, 3), false);
  assert.equal(isCanonicalDateTime('2024-01-01T10:11:12', false, 0), false);
  assert.equal(parseDateTime('2024-01-01T10:11:12')?.time, '10:11:12');
  assert.deepEqual(parseDateTime('2024-01-01T10:11:12.500+08:00'), {
    date: '2024-01-01',
    time: '10:11:12',
    frac: '5',
    zone: '+08:00',
  });
});

test('ip addresses', () => {
  for (const ok of ['0.0.0.0', '192.168.1.255']) assert.equal(isIpv4(ok), true, ok);
  for (const bad of ['256.1.1.1', '1.2.3', '01.2.3.4', 'a.b.c.d']) assert.equal(isIpv4(bad), false, bad);
  const goodV6 = ['::', '::1', '1::', '2001:db8::8a2e:370:7334', '::ffff:192.0.2.128', '1:2:3:4:5:6:7:8'];
  for (const ok of [...goodV6, '1:2:3:4:5:6:7::', '1:2:3:4:5:6:1.2.3.4', 'ABCD:ef01::']) {
    assert.equal(isIpv6(ok), true, ok);
  }
  const badV6 = ['1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'g::1', '1.2.3.4', '1:2:3:4:5:6:7:8::'];
  // found by test/unit/mapper-fuzz.ts (seed 7): a stray colon passed as an address
  const strayColons = [':2001:db8::1', ':::', '1:::2', '2001:db8::1:', '1:2:3:4:5:6:7:', ':1:2:3:4:5:6:7:8'];
  const misplacedV4 = ['1.2.3.4::', '::1.2.3.4:1', '::ffff:01.2.3.4', '::1.2.3.4.5'];
  for (const bad of [...badV6, ...strayColons, ...misplacedV4]) assert.equal(isIpv6(bad), false, bad);
});

test('the byte form of the canonical date check agrees with the text form, inside a larger buffer and beyond ASCII', () => {
  const texts = ['2024-02-29', '2023-02-29', '2024-01-01 10:11:12', '2024-01-01 10:11:12.123', '2024-01-01 10:11:1x'];
  for (const text of texts) {
    for (const [isDate, scale] of [
      [true, 0],
      [false, 3],
    ] as const) {
      const buf = Buffer.from(`{"k":"${text}"}`, 'latin1');
      assert.equal(
        isCanonicalDateTimeBytes(buf, 6, 6 + text.length, isDate, scale),
        isCanonicalDateTime(text, isDate, scale),
        text,
      );
    }
  }
  // "\u0132" would read as the digit "2" in latin1: never canonical
  assert.equal(isCanonicalDateTime('2024-01-0\u0132', true, 0), false);
});

test('a number token counts as a canonical decimal exactly when the converter would give it back unchanged', () => {
  const tokens = [
    '0',
    '-0',
    '0.0',
    '0.5',
    '-0.5',
    '1.50',
    '00.5',
    '01',
    '1e3',
    '1E-2',
    '-',
    '1.',
    '.5',
    '7',
    '664694.7858',
    '-664694.7858',
    '12345678901234.1234',
    '123456789012345.1234',
    '1.23456',
    '1.2345',
    '99999999999999',
    '999999999999999',
    '-99999999999999.9999',
    '10',
    '100.001',
  ];
  for (const t of tokens) {
    const ok = isJsonNumber(t) && !/[eE]/.test(t) && formatDecimal(decimalParts(t)) === t;
    const p = ok ? decimalParts(t) : undefined;
    const fits = p !== undefined && p.int.length <= 18 - 4 && p.frac.length <= 4;
    const buf = Buffer.from(`[${t}]`);
    assert.equal(isCanonicalDecimalBytes(buf, 1, 1 + t.length, 18, 4), ok && fits, t);
  }
});
