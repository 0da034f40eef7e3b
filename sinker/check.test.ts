import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  compareManualSchema,
  DLQ_HEADROOM,
  dedupeSummary,
  dlqSizeVerdict,
  probeFileDirectory,
  staleReport,
} from './check.ts';
import { dedupeKeys } from './dedupe/keys.ts';
import { findStaleInTopic, STALE_STATE_MESSAGE } from './dedupe/stale.ts';
import type { Intent } from './dedupe/state.ts';
import { columnsFromManual } from './schema/schema.ts';

const intent = (first: string, last: string, created: number): Intent => ({ label: 'l', first, last, created });

test("check's Redis line summarises every partition: watermarks, the ones without, unsettled intents", () => {
  const now = 100_000;
  assert.equal(
    dedupeSummary(
      [
        { watermark: '41', intents: [] },
        { watermark: null, intents: [intent('42', '99', now - 12_000)] },
        { watermark: '7', intents: [] },
      ],
      now,
    ),
    "2 of 3 partitions have a watermark (p0 41, p2 7); none yet on p1; 1 unsettled intent (p1 42-99, 12 s old; the partition's next owner settles it by its label: loaded once either way)",
  );
  assert.equal(
    dedupeSummary(
      [
        { watermark: null, intents: [] },
        { watermark: null, intents: [] },
      ],
      now,
    ),
    '0 of 2 partitions have a watermark; no unsettled intents',
  );
  const many = Array.from({ length: 12 }, (_, p) => ({ watermark: String(p * 10), intents: [] }));
  assert.equal(
    dedupeSummary(many, now),
    '12 of 12 partitions have a watermark (p0 0, p1 10, p2 20, p3 30, p4 40, p5 50, p6 60, p7 70 and 4 more); no unsettled intents',
  );
  assert.equal(dedupeSummary([{ watermark: '5', intents: [] }], now), 'watermark 5, no unsettled intents');
});

test("check's probe of a written file's directory (log, DLQ file): a writable directory, a missing one it would create, one under a file; nothing is created", () => {
  const dir = mkdtempSync(join(tmpdir(), 'logprobe-'));
  assert.equal(probeFileDirectory(join(dir, 'sinker.log')), `directory ${dir} is writable`);
  const deep = join(dir, 'a', 'b');
  assert.equal(
    probeFileDirectory(join(deep, 'sinker.log')),
    `directory ${deep} does not exist yet; the sinker creates it (${dir} is writable)`,
  );
  assert.deepEqual(readdirSync(dir), [], 'the probe created something');
  writeFileSync(join(dir, 'plain-file'), 'x');
  assert.throws(
    () => probeFileDirectory(join(dir, 'plain-file', 'sub', 'sinker.log')),
    new RegExp(`directory ${join(dir, 'plain-file', 'sub')} cannot be created: ${join(dir, 'plain-file')} is a file`),
  );
});

test("check's probe of a written file: one that exists is appended to, so it must be a file the sinker may write", () => {
  // The directory alone passed: a DLQ path naming a directory (or a file the sinker may not write)
  // was OK, and the sinker found out at the first dead letter, retrying it for ever, its partition stopped.
  const dir = mkdtempSync(join(tmpdir(), 'fileprobe-'));
  writeFileSync(join(dir, 'dlq.jsonl'), '');
  assert.equal(
    probeFileDirectory(join(dir, 'dlq.jsonl')),
    `directory ${dir} is writable; ${join(dir, 'dlq.jsonl')} exists and is writable`,
  );
  mkdirSync(join(dir, 'taken'));
  assert.throws(
    () => probeFileDirectory(join(dir, 'taken')),
    new RegExp(`^Error: ${join(dir, 'taken')} is a directory, not a file$`),
  );
});

test('check holds a manual column list to the table: a missing or miscased column fails, a type spelled otherwise is a note', () => {
  const table = columnsFromManual([
    { name: 'id', type: 'bigint', nullable: false },
    { name: 'name', type: 'varchar(64)', nullable: true },
    { name: 'amount', type: 'decimal(18,4)', nullable: true },
  ]);
  assert.deepEqual(
    compareManualSchema(
      columnsFromManual([
        { name: 'id', type: 'BIGINT', nullable: true },
        { name: 'Name', type: 'varchar(64)', nullable: true },
        { name: 'amount', type: 'decimal(10,2)', nullable: true },
        { name: 'gone', type: 'int', nullable: true },
      ]),
      table,
    ),
    {
      problems: [
        'column "Name" is "name" in the table (names match exactly: its values would not reach it)',
        'column "gone" is not in the table',
      ],
      notes: ['"amount" is decimal(10,2) here, decimal(18,4) in the table'],
    },
  );
  assert.deepEqual(compareManualSchema(table, table), { problems: [], notes: [] });
});

test("check's stale exactly-once state: the record a settle left, else state past the log ends found now, else nothing", () => {
  const keys = dedupeKeys('ds:', 's', 't');
  const now = Date.parse('2026-11-25T09:00:00.000Z');
  const recorded = {
    partition: 1,
    reason: 'watermark' as const,
    offset: '41',
    watermark: '41',
    logStart: '0',
    logEnd: '0',
    at: '2026-11-25T08:00:00.000Z',
  };
  assert.equal(
    staleReport('t', keys, recorded, null, now),
    `${STALE_STATE_MESSAGE}. Recorded in ds:{s:t}:stale: topic t partition 1: watermark 41 is at or past the log end 0 (found 2026-11-25T08:00:00.000Z); redisKeys ds:{s:t}*`,
  );
  const { at: _at, ...found } = recorded;
  assert.equal(
    staleReport('t', keys, null, { ...found, reason: 'intent', offset: '99' }, now),
    `${STALE_STATE_MESSAGE}. Found by this check, not recorded yet (the sinker's first settle records it in ds:{s:t}:stale and refuses): topic t partition 1: an intent reaching offset 99 is at or past the log end 0 (found 2026-11-25T09:00:00.000Z); redisKeys ds:{s:t}*`,
  );
  assert.equal(staleReport('t', keys, null, null, now), null);
});

test("check judges every partition's state against its log, each with its committed offset; the lowest finding", () => {
  const log = (high: string) => ({ low: '0', high });
  const states = [
    { watermark: '41', intents: [] },
    { watermark: '9', intents: [] },
    { watermark: null, intents: [intent('5', '20', 0)] },
  ];
  const logs = new Map([
    [0, log('42')],
    [1, log('10')],
    [2, log('30')],
  ]);
  // Normal: every watermark and intent below its log end, committed offsets at most the end.
  const committed = new Map<number, string | null>([
    [0, '42'],
    [1, '10'],
    [2, null],
  ]);
  assert.equal(findStaleInTopic(new Map(states.entries()), logs, committed), null);
  // Partition 2's log re-created shorter than its intent; partition 1's committed offset past its end.
  const shorter = new Map([...logs, [2, log('3')]]);
  assert.deepEqual(findStaleInTopic(new Map(states.entries()), shorter, new Map([...committed, [1, '11']])), {
    partition: 1,
    reason: 'committed',
    offset: '11',
    watermark: '9',
    logStart: '0',
    logEnd: '10',
  });
  assert.equal(findStaleInTopic(new Map(states.entries()), shorter, committed)?.partition, 2);
  assert.equal(findStaleInTopic(new Map(states.entries()), shorter, committed)?.reason, 'intent');
  // A partition the log does not list (metadata behind) is not judged.
  assert.equal(findStaleInTopic(new Map(states.entries()), new Map([[0, log('42')]]), committed), null);
});

test("check's DLQ topic size: less than the source topic takes fails with the command to raise it; as much or more passes", () => {
  const o = { topic: 'dlq', source: 'events', brokers: 'k1:9092,k2:9092' };
  const small = dlqSizeVerdict({ ...o, max: 20_000, sourceMax: 1_048_588 });
  assert.equal(small.ok, false);
  assert.match(
    small.detail,
    /^topic "dlq" takes records up to 20000 bytes \(max\.message\.bytes\), "events" up to 1048588: /,
  );
  assert.ok(
    small.detail.endsWith(
      `kafka-configs.sh --bootstrap-server k1:9092,k2:9092 --alter --entity-type topics --entity-name dlq --add-config max.message.bytes=${1_048_588 + DLQ_HEADROOM}`,
    ),
    small.detail,
  );
  for (const max of [1_048_588, 2_097_152]) {
    const v = dlqSizeVerdict({ ...o, max, sourceMax: 1_048_588 });
    assert.deepEqual(v, {
      ok: true,
      detail: `topic "dlq" exists; it takes records up to ${max} bytes (max.message.bytes), "events" up to 1048588`,
    });
  }
  // The source's size unknown (it does not exist: the Kafka line fails), or the DLQ's not reported.
  assert.deepEqual(dlqSizeVerdict({ ...o, max: 20_000, sourceMax: undefined }), {
    ok: true,
    detail: 'topic "dlq" exists; it takes records up to 20000 bytes (max.message.bytes)',
  });
  assert.equal(dlqSizeVerdict({ ...o, max: undefined, sourceMax: 5 }).ok, true);
});
