import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FieldExtractor, isValidJson, JsonSyntaxError, T_NUMBER, T_OBJECT, T_STRING, T_STRING_ESC } from './extract.ts';

// Deterministic pseudo-random generator so failures reproduce.
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const ALPHABET = ['a', 'Z', ' ', ',', '"', '\\', '\n', '\t', '\u0001', '😀', '中', '{', '}', '[', ':', '\u2028'];

function randomValue(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 2 ? 5 : 7));
  switch (pick) {
    case 0:
      return Math.floor(r() * 1e6) - 5e5;
    case 1:
      return r() * 1000;
    case 2:
      return Array.from({ length: Math.floor(r() * 8) }, () => ALPHABET[Math.floor(r() * ALPHABET.length)]).join('');
    case 3:
      return r() < 0.5;
    case 4:
      return null;
    case 5:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < Math.floor(r() * 4); i++) o[`k${i}`] = randomValue(r, depth + 1);
      return o;
    }
  }
}

test('agrees with JSON.parse on validity and values for random objects and their corruptions', () => {
  const r = rng(42);
  const names = ['k0', 'k1', 'k2', 'k3'];
  const ex = new FieldExtractor(names);
  for (let n = 0; n < 3000; n++) {
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < 4; i++) if (r() < 0.7) obj[`k${i}`] = randomValue(r, 0);
    const text = JSON.stringify(obj, null, r() < 0.2 ? 2 : undefined);
    ex.scanText(text);
    for (const [i, name] of names.entries()) {
      assert.equal(ex.present(i), name in obj, text);
      if (!ex.present(i)) continue;
      const token = text.slice(ex.starts[i], ex.ends[i]);
      assert.deepEqual(JSON.parse(token), obj[name], text);
    }
    // corrupt it: cut it short or replace one character; validity must match JSON.parse's verdict
    const cut = r() < 0.5 ? text.slice(0, Math.floor(r() * text.length)) : text;
    const at = Math.floor(r() * cut.length);
    const bad = r() < 0.5 ? cut : cut.slice(0, at) + ALPHABET[Math.floor(r() * ALPHABET.length)] + cut.slice(at + 1);
    let parsed: unknown;
    let jsonOk = true;
    try {
      parsed = JSON.parse(bad);
    } catch {
      jsonOk = false;
    }
    let oursOk = true;
    try {
      ex.scanText(bad);
    } catch {
      oursOk = false;
    }
    const isObject = jsonOk && typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
    assert.equal(oursOk, isObject, JSON.stringify(bad));
    assert.equal(isValidJson(bad), jsonOk, JSON.stringify(bad));
  }
});

test('records token kinds and keeps numbers as raw text', () => {
  const ex = new FieldExtractor(['n', 's', 'e', 'o']);
  const text = '{"n": -12.500e+3 , "s":"x", "e":"a\\"b", "o":{"n":1}}';
  ex.scanText(text);
  assert.deepEqual([...ex.kinds], [T_NUMBER, T_STRING, T_STRING_ESC, T_OBJECT]);
  assert.equal(text.slice(ex.starts[0], ex.ends[0]), '-12.500e+3');
});

test('reports unterminated strings and excessive nesting with a position', () => {
  const ex = new FieldExtractor(['a']);
  assert.throws(
    () => ex.scanText('{"a":"abc'),
    (e: Error) => e instanceof JsonSyntaxError && /byte 9: unterminated string/.test(e.message),
  );
  const deep = `{"a":${'['.repeat(600)}${']'.repeat(600)}}`;
  assert.throws(() => ex.scanText(deep), /nesting deeper than 512/);
});

test('finds keys in and out of column order, escaped, prefixed, unknown, duplicated and non-ASCII, as JSON.parse does', () => {
  const names = Array.from({ length: 20 }, (_, i) => `extend${i + 1}`);
  names.push('naïve', 'a"b', 'x');
  const ex = new FieldExtractor(names);
  const r = rng(7);
  const spell = (name: string): string => {
    const plain = JSON.stringify(name);
    if (r() < 0.15) {
      // the same key with one character written as a \u escape
      const c = name.charCodeAt(0);
      return `"\\u${c.toString(16).padStart(4, '0')}${JSON.stringify(name).slice(2)}`;
    }
    return plain;
  };
  for (let n = 0; n < 2000; n++) {
    const keys: string[] = [];
    for (const name of names) if (r() < 0.6) keys.push(name);
    // out of order now and then, unknown keys that share prefixes, a duplicate
    if (r() < 0.3) keys.reverse();
    if (r() < 0.3) keys.splice(Math.floor(r() * keys.length), 0, 'extend1x', 'extend', 'extend100');
    if (r() < 0.2 && keys.length > 0) keys.push(keys[0]!);
    const text = `{${keys.map((k, i) => `${spell(k)}:${i}`).join(',')}}`;
    const obj = JSON.parse(text) as Record<string, number>;
    ex.scanText(text);
    for (const [i, name] of names.entries()) {
      assert.equal(ex.present(i), name in obj, `${name} in ${text}`);
      if (ex.present(i)) assert.equal(Number(text.slice(ex.starts[i], ex.ends[i])), obj[name], `${name} in ${text}`);
    }
  }
});
