// The mapper fuzz (mapper-fuzz.ts) on a fixed seed, a few seconds' worth: mapInto against
// encode(map()), map() against the JSON.parse oracle, and every encoded line read back. Longer runs:
//   node test/unit/mapper-fuzz.ts --cases 2000000 --seed N
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from './mapper-fuzz.ts';

test('mapper fuzz: 10000 cases of seed 1 agree on every property', () => {
  const r = runFuzz(1, 10_000);
  assert.equal(r.cases, 10_000);
  // the mix reaches rows and every DLQ reason, so the properties were exercised on each
  assert.ok(r.rows > 2_500, `rows ${r.rows}`);
  for (const code of ['invalid_json', 'invalid_utf8', 'not_object', 'out_of_range']) {
    assert.ok((r.dlq[code] ?? 0) > 25, `${code}: ${r.dlq[code]}`);
  }
});
