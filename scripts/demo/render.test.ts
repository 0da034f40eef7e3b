import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bar,
  drained,
  fmtDuration,
  fmtElapsed,
  fmtInt,
  fmtRate,
  line,
  lookAround,
  panel,
  pct,
  rate,
  type Snapshot,
  stripAnsi,
  summary,
  trim,
} from './render.ts';

const snap = (over: Partial<Snapshot> = {}): Snapshot => ({
  t: 65_000,
  produced: 50_000,
  toProduce: 100_000,
  rows: 40_000,
  expectedRows: 49_950,
  dlq: 40,
  expectedDlq: 50,
  lag: 9_960,
  lagPartitions: 8,
  operatorLag: 12_000,
  replicas: { desired: 3, ready: 2, min: 1, max: 4, pods: [{ name: 'tb-event-7d9f-abcde', state: 'Ready' }] },
  ...over,
});

test('numbers: thousands separators, rates with k/M, elapsed and durations', () => {
  assert.equal(fmtInt(0), '0');
  assert.equal(fmtInt(999), '999');
  assert.equal(fmtInt(1000), '1,000');
  assert.equal(fmtInt(1234567), '1,234,567');
  assert.equal(fmtInt(-12345), '-12,345');
  assert.equal(fmtInt(12.6), '13');
  assert.equal(fmtRate(0), '0');
  assert.equal(fmtRate(-5), '0');
  assert.equal(fmtRate(850.4), '850');
  assert.equal(fmtRate(12_345), '12.3k');
  assert.equal(fmtRate(250_000), '250k');
  assert.equal(fmtRate(1_200_000), '1.20M');
  assert.equal(fmtElapsed(0), '0:00');
  assert.equal(fmtElapsed(7_900), '0:07');
  assert.equal(fmtElapsed(125_000), '2:05');
  assert.equal(fmtElapsed(3_723_000), '1:02:03');
  assert.equal(fmtDuration(400), '0.4 s');
  assert.equal(fmtDuration(12_400), '12 s');
  assert.equal(fmtDuration(125_000), '2 min 5 s');
});

test('bar: width cells always, proportional fill, full at the end, clamped', () => {
  for (const [done, total] of [
    [0, 10],
    [1, 3],
    [5, 10],
    [10, 10],
    [15, 10],
    [0, 0],
  ] as const) {
    assert.equal([...bar(done, total, 20)].length, 20, `${done}/${total}`);
    assert.equal(bar(done, total, 20, true).length, 20);
  }
  assert.equal(bar(0, 10, 10, true), '..........');
  assert.equal(bar(5, 10, 10, true), '#####.....');
  assert.equal(bar(10, 10, 10), '██████████');
  assert.equal(bar(15, 10, 4), '████', 'over 100 % stays full');
  assert.equal(bar(0, 0, 4), '████', 'nothing to do is done');
  assert.equal(bar(1, 16, 4), '▎░░░', 'a quarter cell shows as a partial block');
  assert.equal(pct(1, 3), '33%');
  assert.equal(pct(0, 0), '100%');
});

test('rate: change over the window, from the oldest sample inside it', () => {
  assert.equal(rate([], 5000), 0);
  assert.equal(rate([{ t: 0, v: 10 }], 5000), 0);
  const s = [
    { t: 0, v: 0 },
    { t: 1000, v: 1000 },
    { t: 2000, v: 3000 },
    { t: 7000, v: 13000 },
  ];
  // Window 5 s from t=7000: oldest inside is t=2000 → (13000-3000)/5 s.
  assert.equal(rate(s, 5000), 2000);
  assert.equal(rate(s, 10_000), 13000 / 7);
  // Only the newest inside the window: no rate rather than a division by zero.
  assert.equal(rate(s, 100), 0);
  const kept = trim(
    [...s, { t: 8000, v: 14000 }].map((x) => ({ ...x })),
    5000,
  );
  assert.deepEqual(
    kept.map((x) => x.t),
    [2000, 7000, 8000],
  );
  assert.equal(rate(kept, 5000), rate([...s, { t: 8000, v: 14000 }], 5000));
});

test('panel: fixed lines with every figure; plain form without escapes', () => {
  const h = { sink: 'ns/tb-event', topic: 'demo-events', partitions: 8, table: 'demo.tb_event' };
  const r = { produce: 5000, load: 4200, peakLoad: 6100 };
  const colored = panel(h, snap(), r, { color: true, width: 120 });
  const plain = panel(h, snap(), r, { color: false, width: 120 });
  assert.equal(colored.length, plain.length);
  assert.deepEqual(colored.map(stripAnsi), plain);
  assert.ok(
    colored.some((l) => l.includes('\x1b[')),
    'color on: ANSI escapes',
  );
  assert.ok(
    plain.every((l) => !l.includes('\x1b[')),
    'color off: none',
  );
  const text = plain.join('\n');
  for (const want of [
    '50,000 / 100,000 events',
    '40,000 / 49,950 rows',
    '4.2k/s (peak 6.1k/s)',
    '9,960 messages',
    'on 8 partitions',
    'operator sees 12,000',
    '40 / 50 invalid',
    '2 ready / 3 desired (min 1, max 4)',
    'scaling up to 3',
    'abcde Ready',
    '1:05',
  ]) {
    assert.ok(text.includes(want), `panel lacks ${JSON.stringify(want)}:\n${text}`);
  }
  const noLag = panel(h, snap({ lag: undefined, replicas: { min: 1, max: 4, pods: [] } }), r, { color: false });
  assert.equal(noLag.length, plain.length, 'same height without lag or pods (redrawn in place)');
  assert.ok(noLag.join('\n').includes('no offsets committed yet'));
  assert.ok(noLag.join('\n').includes('(none)'));
  const one = line(snap(), r);
  assert.ok(!one.includes('\n'));
  assert.match(
    one,
    /produced 50,000\/100,000 .*loaded 40,000\/49,950 rows \(4\.2k\/s\) .*lag 9,960 .*dlq 40\/50 .*replicas 2\/3/,
  );
});

test('drained: every produced event arrived (rows and dead letters)', () => {
  assert.equal(drained(snap()), false);
  const all = { produced: 100, toProduce: 100, rows: 99, expectedRows: 99, dlq: 1, expectedDlq: 1 };
  assert.equal(drained(snap(all)), true);
  assert.equal(drained(snap({ ...all, dlq: 0 })), false);
  assert.equal(drained(snap({ ...all, produced: 99 })), false);
});

test('summary and hints name the real commands and never a password', () => {
  const s = summary(
    {
      events: 20_000,
      rows: 19_980,
      dlq: 21,
      invalid: 20,
      produceMs: 2_500,
      loadMs: 9_000,
      peakLoad: 4000,
      maxReplicas: 1,
    },
    false,
  ).join('\n');
  assert.match(s, /19,980 rows loaded and 20 invalid events dead-lettered \(21 DLQ messages\), of 20,000 produced/);
  assert.match(s, /up to 1 sinker;?$/m);
  const hints = lookAround(
    {
      kubectl: '/c/bin/kubectl',
      kubeconfig: '/c/run/k8s/admin.kubeconfig',
      namespace: 'doris-sinker-demo',
      sink: 'tb-event',
      pod: 'tb-event-1',
      sinkerMetrics: 'http://127.0.0.1:40123/metrics',
      operatorMetrics: 'http://127.0.0.1:40000/metrics',
      operatorDeployment: 'doris-sinker-operator',
      queryHost: '127.0.0.1',
      queryPort: '19030',
      envFile: '/c/run/env',
      database: 'demo',
      table: 'tb_event',
      demo: 'npm run demo',
    },
    false,
  ).join('\n');
  assert.ok(
    hints.includes('KUBECONFIG=/c/run/k8s/admin.kubeconfig /c/bin/kubectl -n doris-sinker-demo get dorissinks'),
  );
  assert.ok(hints.includes('curl -s http://127.0.0.1:40123/metrics'));
  assert.ok(hints.includes('-P 19030 -u root demo'));
  assert.ok(hints.includes("sed -n 's/^DORIS_PASSWORD=//p' /c/run/env"), 'the password is read from the env file');
  assert.ok(hints.includes('npm run demo -- --down'));
  assert.ok(hints.includes('test/infra/down'));
  assert.ok(!/MYSQL_PWD=[^"$]/.test(hints));
});
