import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  derivedLabel,
  digest,
  isValidLabel,
  loadLabel,
  MAX_LABEL_LENGTH,
  mergedLabel,
  replayLabel,
  sanitizeLabelPart,
} from './labels.ts';

test('clean inputs give a readable label', () => {
  assert.equal(loadLabel('events-sink', 'tb_event', 3, '12345'), 'events-sink:tb_event:3:12345');
});

test('labels are deterministic', () => {
  assert.equal(loadLabel('s', 'my.topic', 0, '9'), loadLabel('s', 'my.topic', 0, '9'));
});

test('dots and other refused characters are sanitized, and a hash keeps the inputs apart', () => {
  const a = loadLabel('s', 'my.topic', 0, '9');
  const b = loadLabel('s', 'my_topic', 0, '9');
  assert.ok(isValidLabel(a), a);
  assert.ok(!a.includes('.'));
  assert.match(a, /^s:my_topic:0:9:h[0-9a-f]{24}$/);
  assert.equal(b, 's:my_topic:0:9');
  assert.notEqual(a, b);
});

test('a colon inside a name cannot make two tuples share a label', () => {
  const a = loadLabel('a:b', 'c', 0, '1');
  const b = loadLabel('a', 'b:c', 0, '1');
  assert.notEqual(a, b);
  assert.ok(isValidLabel(a) && isValidLabel(b));
});

test('long names are cut to 128 with partition, offset and hash kept', () => {
  const sink = 's'.repeat(100);
  const topic = 't'.repeat(200);
  const a = loadLabel(sink, topic, 2147483647, '9223372036854775807');
  assert.equal(a.length, MAX_LABEL_LENGTH);
  assert.ok(isValidLabel(a));
  assert.match(a, /:2147483647:9223372036854775807:h[0-9a-f]{24}$/);
  assert.ok(a.startsWith('sssss'));
  // Two long names that share the kept prefix still differ.
  const b = loadLabel(sink, `${topic}x`, 2147483647, '9223372036854775807');
  assert.notEqual(a, b);
  assert.equal(b.length, MAX_LABEL_LENGTH);
});

test('distinct inputs never collide (mixed sample)', () => {
  const names = ['a', 'a.b', 'a_b', 'a-b', 'a:b', 'ä', 'x'.repeat(130), `${'x'.repeat(130)}y`, 'A', 'a b'];
  const seen = new Map<string, string>();
  for (const sink of names) {
    for (const topic of names) {
      for (const p of [0, 1, 10]) {
        for (const o of ['0', '1', '10', '101']) {
          const label = loadLabel(sink, topic, p, o);
          assert.ok(isValidLabel(label), label);
          const key = JSON.stringify([sink, topic, p, o]);
          const prior = seen.get(label);
          assert.equal(prior, undefined, `${key} collides with ${prior} on ${label}`);
          seen.set(label, key);
        }
      }
    }
  }
});

test('bad partition or offset is refused with the value named', () => {
  assert.throws(() => loadLabel('s', 't', -1, '0'), /partition .* -1/);
  assert.throws(() => loadLabel('s', 't', 1.5, '0'), /partition/);
  assert.throws(() => loadLabel('s', 't', 0, '-3'), /firstOffset .*"-3"/);
  assert.throws(() => loadLabel('s', 't', 0, '007'), /firstOffset/);
  assert.throws(() => loadLabel('', 't', 0, '0'), /empty/);
});

test('sanitizeLabelPart replaces everything outside [-_A-Za-z0-9]', () => {
  assert.equal(sanitizeLabelPart('a.b:c/d é'), 'a_b_c_d__');
});

test('derived labels stay valid, distinct from the base and from load labels', () => {
  const base = loadLabel('s', 't', 0, '5');
  const d = derivedLabel(base, 'p3');
  assert.equal(d, 's:t:0:5_p3');
  assert.notEqual(d, base);
  const longBase = loadLabel('s'.repeat(100), 't'.repeat(100), 1, '2');
  const d1 = derivedLabel(longBase, 'p1');
  const d2 = derivedLabel(longBase, 'p2');
  assert.ok(isValidLabel(d1) && isValidLabel(d2));
  assert.equal(d1.length, MAX_LABEL_LENGTH);
  assert.notEqual(d1, d2);
  assert.throws(() => derivedLabel(base, '12'), /start with a letter/);
  assert.throws(() => derivedLabel(base, 'a.b'), /clean/);
});

test('a merged label is valid, stable for the same parts in any order, and differs per token and range', () => {
  const a = { partition: 0, first: '10', last: '19', token: 't1' };
  const b = { partition: 3, first: '5', last: '7', token: 't2' };
  const l = mergedLabel('events-sink', 'tb.event', [a, b]);
  assert.ok(isValidLabel(l), l);
  assert.match(l, /^events-sink:tb_event:m2:h[0-9a-f]{24}$/);
  assert.equal(mergedLabel('events-sink', 'tb.event', [b, a]), l);
  assert.notEqual(mergedLabel('events-sink', 'tb.event', [a, { ...b, token: 't3' }]), l);
  assert.notEqual(mergedLabel('events-sink', 'tb.event', [a, { ...b, last: '8' }]), l);
  // never the label of a single-partition load or of a probe
  assert.doesNotMatch(l, /:\d+:\d+(:h[0-9a-f]+)?$/);
  const long = mergedLabel('s'.repeat(200), 't', [a, b]);
  assert.equal(long.length, MAX_LABEL_LENGTH);
  assert.ok(isValidLabel(long));
  assert.throws(() => mergedLabel('s', 't', [a]), /at least 2 parts/);
});

test('a replay label names its exact offsets: the same records give the same label, any other set another', () => {
  const a = replayLabel('events-sink', 'tb_event', 0, ['5', '9']);
  assert.ok(isValidLabel(a), a);
  assert.match(a, /^events-sink:tb_event:0:5_replay-[0-9a-f]{24}$/);
  assert.equal(replayLabel('events-sink', 'tb_event', 0, ['5', '9']), a);
  // The bug this prevents: a later replay whose chunk starts at the same offset with more records.
  const grown = replayLabel('events-sink', 'tb_event', 0, ['5', '9', '20', '30']);
  assert.notEqual(grown, a);
  assert.ok(grown.startsWith('events-sink:tb_event:0:5_replay-'));
  // Never the label of the pipeline's load of that offset, nor the old first-offset-only replay label.
  assert.notEqual(a, loadLabel('events-sink', 'tb_event', 0, '5'));
  assert.notEqual(a, derivedLabel(loadLabel('events-sink', 'tb_event', 0, '5'), 'replay'));
  // Its probe labels (bisecting a refused replay load) differ from it and from every replay label.
  assert.notEqual(derivedLabel(a, 'p0'), a);
});

test('a replay label changes with the refusal count of any of its offsets', () => {
  const base = replayLabel('s', 't', 0, ['5', '9']);
  const once = replayLabel('s', 't', 0, ['5', '9'], new Map([['9', 1]]));
  const twice = replayLabel('s', 't', 0, ['5', '9'], new Map([['9', 2]]));
  assert.equal(new Set([base, once, twice]).size, 3);
  assert.equal(replayLabel('s', 't', 0, ['5', '9'], new Map([['9', 1]])), once);
  // Counts of offsets not in the load, or zero, change nothing.
  assert.equal(
    replayLabel(
      's',
      't',
      0,
      ['5', '9'],
      new Map([
        ['11', 3],
        ['5', 0],
      ]),
    ),
    base,
  );
});

test('replay labels of distinct offset sets, partitions, topics and sinks never collide', () => {
  const seen = new Map<string, string>();
  const sets: string[][] = [
    ['0'],
    ['1'],
    ['0', '1'],
    ['0', '2'],
    ['1', '2'],
    ['0', '1', '2'],
    ['5', '9'],
    ['5', '9', '20'],
  ];
  for (const sink of ['s', 's.x', 'x'.repeat(130)]) {
    for (const topic of ['t', 't.y', 'y'.repeat(130)]) {
      for (const p of [0, 1, 10]) {
        for (const offsets of sets) {
          const label = replayLabel(sink, topic, p, offsets);
          assert.ok(isValidLabel(label), label);
          assert.ok(label.length <= MAX_LABEL_LENGTH);
          const key = JSON.stringify([sink, topic, p, offsets]);
          assert.equal(seen.get(label), undefined, `${key} collides with ${seen.get(label)} on ${label}`);
          seen.set(label, key);
        }
      }
    }
  }
  // A huge chunk keeps a short label.
  const many = Array.from({ length: 10_000 }, (_, i) => String(i * 3));
  assert.ok(isValidLabel(replayLabel('s', 't', 0, many)));
});

test('replay labels refuse an empty, unsorted, repeated or non-decimal offset list', () => {
  assert.throws(() => replayLabel('s', 't', 0, []), /at least one offset/);
  assert.throws(() => replayLabel('s', 't', 0, ['9', '5']), /ascending and distinct/);
  assert.throws(() => replayLabel('s', 't', 0, ['5', '5']), /ascending and distinct/);
  // Numeric, not lexical order: 10 after 9 is fine.
  assert.ok(isValidLabel(replayLabel('s', 't', 0, ['9', '10'])));
  assert.throws(() => replayLabel('s', 't', 0, ['5', '07']), /decimal/);
});

test('digest is stable and keeps tuples apart', () => {
  assert.equal(digest(['a', 'b']), digest(['a', 'b']));
  assert.notEqual(digest(['a', 'b']), digest(['ab']));
  assert.notEqual(digest(['a,b']), digest(['a', 'b']));
  assert.match(digest(['x']), /^[0-9a-f]{24}$/);
});
