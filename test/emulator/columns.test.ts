import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evalBool, evalValue, parseColumns, parseExpr } from './columns.ts';

test('columns header: sources and mappings', () => {
  const m = parseColumns("k1, `tmp`, k2, k3 = tmp, k4 = now(), k5 = 'lit'");
  assert.deepEqual(m.sources, ['k1', 'tmp', 'k2']);
  assert.deepEqual([...m.derived.keys()], ['k3', 'k4', 'k5']);
  assert.equal(
    evalValue(m.derived.get('k3')!, (n) => (n === 'tmp' ? 'X' : undefined)),
    'X',
  );
  assert.match(evalValue(m.derived.get('k4')!, () => undefined)!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  assert.equal(
    evalValue(m.derived.get('k5')!, () => undefined),
    'lit',
  );
  assert.throws(() => parseColumns('k1 = upper(k2)'), /unsupported function/);
});

test('where: comparisons, IS NULL, IN, AND/OR/NOT, numeric vs string compare, NULL is false', () => {
  const row: Record<string, string | null> = { a: '10', b: 'x', c: null };
  const get = (n: string) => row[n];
  const w = (s: string) => evalBool(parseExpr(s), get);
  assert.equal(w('a > 9'), true, '10 > 9 numerically');
  assert.equal(w("b = 'x' AND a <= 10"), true);
  assert.equal(w('c = 1'), false);
  assert.equal(w('c IS NULL'), true);
  assert.equal(w('a IS NOT NULL AND NOT (b != "x")'), true);
  assert.equal(w('a IN (1, 10)'), true);
  assert.equal(w('a NOT IN (1, 10) OR b <> "x"'), false);
  assert.throws(() => parseExpr('a >'), /unexpected end/);
});
