// The file DLQ against a real temporary directory.
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DeadLetterQueue, recordsForRejected, rejectedRecordsWithOriginals } from './dlq.ts';
import { type FileDlqFs, FileDlqSink } from './file-sink.ts';
import { DlqReadError, readDlqFile } from './reader.ts';
import { type DlqRecord, toJsonLine } from './record.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'dlq-'));
  dirs.push(d);
  return d;
}

const rec = (offset: string, value: string): DlqRecord => ({
  sink: 's',
  topic: 't',
  partition: 0,
  offset,
  reason: 'r',
  time: '2026-11-24T00:00:00.000Z',
  value: Buffer.from(value),
  key: null,
});

test('records appended concurrently all land, in order per call, and read back', async () => {
  const path = join(await tmp(), 'sub', 'dlq.jsonl');
  const sink = new FileDlqSink(path);
  await Promise.all([sink.write([rec('1', 'a'), rec('2', 'b')]), sink.write([rec('3', 'c')]), sink.write([])]);
  await sink.close();
  const text = await readFile(path, 'utf8');
  assert.equal(text.split('\n').filter(Boolean).length, 3);
  const back: DlqRecord[] = [];
  for await (const r of readDlqFile(path)) back.push(r);
  assert.deepEqual(
    back.map((r) => [r.offset, r.value?.toString()]),
    [
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'c'],
    ],
  );
});

test('readDlqFile names the line of a malformed record', async () => {
  const path = join(await tmp(), 'bad.jsonl');
  const sink = new FileDlqSink(path);
  await sink.write([rec('1', 'a')]);
  const { appendFile } = await import('node:fs/promises');
  await appendFile(path, '{broken\n');
  const it = readDlqFile(path);
  assert.equal((await it.next()).value?.offset, '1');
  await assert.rejects(it.next(), /bad\.jsonl:2: not JSON/);
});

test('a value, key and reason holding U+2028 / U+2029 read back whole: the file has one line per record, cut at \\n only', async () => {
  // Valid in a JSON string and left raw by JSON.stringify, but line breaks to node:readline (and to
  // Python's splitlines): the record was read as two lines, neither JSON, and the replay stopped.
  const path = join(await tmp(), 'ls.jsonl');
  const sink = new FileDlqSink(path);
  const odd: DlqRecord = {
    ...rec('1', '{"a":"x\u2028y\u2029z\u0085"}'),
    key: Buffer.from('k\u2028'),
    reason: 'mapper: \u2029',
  };
  await sink.write([odd, rec('2', 'b')]);
  const text = await readFile(path, 'utf8');
  assert.ok(!/[\u2028\u2029]/.test(text), 'the line separators are escaped in the file');
  assert.equal(text.split('\n').length, 3);
  const back: DlqRecord[] = [];
  for await (const r of readDlqFile(path)) back.push(r);
  assert.deepEqual(back, [odd, rec('2', 'b')]);
  // A file an earlier version wrote them into raw reads back too.
  const raw = join(await tmp(), 'raw.jsonl');
  await writeFile(raw, `${JSON.stringify({ ...JSON.parse(text.split('\n')[0]!), reason: 'a\u2028b' })}\n`);
  const old: DlqRecord[] = [];
  for await (const r of readDlqFile(raw)) old.push(r);
  assert.deepEqual(
    old.map((r) => [r.reason, r.value?.toString()]),
    [['a\u2028b', '{"a":"x\u2028y\u2029z\u0085"}']],
  );
});

test('a line cut short (a crash or a full disk mid-append) is skipped and named; the records written after it read back', async () => {
  // What an append the disk refused part-way (ENOSPC, EFBIG) or a kill -9 mid-write leaves: part of
  // a line and no newline. Its messages were never acknowledged, so they are dead-lettered again.
  // The next append went on the same line: that record was lost in a line that is not JSON, and
  // readDlqFile stopped there, so replay loaded nothing from the file.
  const path = join(await tmp(), 'torn.jsonl');
  await new FileDlqSink(path).write([rec('1', 'a')]);
  await appendFile(path, toJsonLine(rec('2', 'b'.repeat(100))).slice(0, 60));
  await new FileDlqSink(path).write([rec('2', 'b'.repeat(100)), rec('3', 'c')]);
  const cut: string[] = [];
  const back: string[] = [];
  for await (const r of readDlqFile(path, (where) => cut.push(where))) back.push(r.offset);
  assert.deepEqual(back, ['1', '2', '3']);
  assert.deepEqual(cut, [`${path}:2`]);
  // Without a taker for such lines, the reader stops there, saying what the line is.
  const it = readDlqFile(path);
  assert.equal((await it.next()).value?.offset, '1');
  await assert.rejects(it.next(), /torn\.jsonl:2: cut short/);
  // A line that is not JSON for another reason (a bad edit) still stops the read.
  await appendFile(path, '{"sink":"s",,}\n');
  await assert.rejects(async () => {
    for await (const _ of readDlqFile(path, () => {})) {
      // read to the end
    }
  }, /torn\.jsonl:5: not JSON/);
});

test('with a topic and a file, a write retried while the topic fails appends its records to the file once', async () => {
  // The pipeline retries a failed dead-letter write with the same records until every sink has
  // them (every 30 s at most). The file took them on each try: a DLQ topic away for an hour put
  // 120 copies of the refused rows of one load (up to 10 MiB) in the file.
  const path = join(await tmp(), 'both.jsonl');
  let topicUp = false;
  const topic = {
    write: async () => {
      if (!topicUp) throw new Error('topic away');
    },
    close: async () => {},
  };
  const dlq = new DeadLetterQueue([topic, new FileDlqSink(path)]);
  const records = [rec('1', 'a'), rec('2', 'b')];
  for (let i = 0; i < 3; i++) await assert.rejects(dlq.write(records), /topic away/);
  topicUp = true;
  await dlq.write(records);
  const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  assert.equal(lines.length, 2, `${lines.length} lines in the file`);
  // New records (a new dead letter of the same message: another try of a load) are written.
  await dlq.write([rec('1', 'a')]);
  assert.equal((await readFile(path, 'utf8')).split('\n').filter(Boolean).length, 3);
});

test('a DLQ file that cannot be read (a directory, no permission) ends the read with a DlqReadError naming it', async () => {
  // Replay reports a DlqReadError as "replay stopped: reading …"; the bare EISDIR / EACCES error
  // escaped it, without the file's name.
  const dir = await tmp();
  await assert.rejects(
    async () => {
      for await (const _ of readDlqFile(dir)) {
        // read to the end
      }
    },
    (err: Error) => err instanceof DlqReadError && err.message.includes(dir) && /EISDIR/.test(err.message),
  );
});

test('DeadLetterQueue from config writes the file; with nothing configured it refuses', async () => {
  const path = join(await tmp(), 'q.jsonl');
  const dlq = DeadLetterQueue.fromConfig({ file_path: path });
  assert.ok(dlq.enabled);
  const records = recordsForRejected(
    'sink',
    { topic: 't', partition: 2 },
    [{ index: 0, offset: '7', row: '{"id":1}', reason: 'too long' }],
    undefined,
    new Date('2026-11-24T01:02:03Z'),
  );
  await dlq.write(records);
  await dlq.close();
  const back: DlqRecord[] = [];
  for await (const r of readDlqFile(path)) back.push(r);
  assert.deepEqual(back, [
    {
      sink: 'sink',
      topic: 't',
      partition: 2,
      offset: '7',
      reason: 'too long',
      time: '2026-11-24T01:02:03.000Z',
      value: Buffer.from('{"id":1}'),
      key: null,
    },
  ]);
  await assert.rejects(new DeadLetterQueue([]).write(records), /no dead-letter queue configured/);
  assert.throws(() => DeadLetterQueue.fromConfig({ kafka_topic: 'x' }), /no Kafka client/);
});

test('recordsForRejected prefers the original bytes when the pipeline kept them', () => {
  const [r] = recordsForRejected(
    's',
    { topic: 't', partition: 0 },
    [{ index: 0, offset: '5', row: 'enc', reason: 'x' }],
    (o) =>
      o === '5'
        ? {
            value: Buffer.from('orig'),
            key: Buffer.from('k'),
            timestamp: '1764000000123',
            headers: [{ name: 'trace', value: Buffer.from('t-1') }],
          }
        : undefined,
  );
  assert.equal(r?.value?.toString(), 'orig');
  assert.equal(r?.key?.toString(), 'k');
  // A user debugging the dead letter wants the original's timestamp and headers with it.
  assert.equal(r?.timestamp, '1764000000123');
  assert.deepEqual(r?.headers, [{ name: 'trace', value: Buffer.from('t-1') }]);
});

test('a refused row whose original cannot be read back carries the encoded row, and its reason says so', async () => {
  const rows = [
    { index: 0, offset: '5', row: 'enc5', reason: 'too long' },
    { index: 1, offset: '6', row: 'enc6', reason: 'too long' },
  ];
  const read = async (_p: number, offsets: readonly string[]) =>
    new Map(offsets.filter((o) => o === '5').map((o) => [o, { value: Buffer.from('orig5'), key: null }]));
  const [a, b] = await rejectedRecordsWithOriginals('s', { topic: 't', partition: 3 }, rows, read);
  assert.equal(a?.value?.toString(), 'orig5');
  assert.equal(a?.reason, 'too long');
  assert.equal(b?.value?.toString(), 'enc6');
  assert.match(b?.reason ?? '', /^too long \(original message not readable: the value is the encoded row\)$/);
  // A reader that fails altogether: every row keeps its encoded form, nothing is lost.
  const failing = async () => {
    throw new Error('broker down');
  };
  const all = await rejectedRecordsWithOriginals('s', { topic: 't', partition: 3 }, rows, failing);
  assert.deepEqual(
    all.map((r) => r.value?.toString()),
    ['enc5', 'enc6'],
  );
});

test("the directory is fsynced when the file is created (and its new parents' too), not on every append", async () => {
  // A file's data flushed is not its name: on ext4/xfs a crash right after creating it can leave
  // the directory without it, while the offsets of the records in it were already committed.
  const root = await tmp();
  const path = join(root, 'a', 'b', 'dlq.jsonl');
  const synced: string[] = [];
  const fs: FileDlqFs = {
    mkdir,
    open: async (p, flags) => {
      const fh = await open(p, flags);
      const sync = fh.sync.bind(fh);
      const datasync = fh.datasync.bind(fh);
      fh.sync = async () => {
        synced.push(`sync ${String(p)}`);
        return sync();
      };
      fh.datasync = async () => {
        synced.push(`datasync ${String(p)}`);
        return datasync();
      };
      return fh;
    },
  };
  const sink = new FileDlqSink(path, fs);
  await sink.write([rec('1', 'a')]);
  assert.deepEqual(synced, [
    `datasync ${path}`,
    `sync ${join(root, 'a', 'b')}`,
    `sync ${join(root, 'a')}`,
    `sync ${root}`,
  ]);
  synced.length = 0;
  await sink.write([rec('2', 'b')]);
  assert.deepEqual(synced, [`datasync ${path}`], 'the same file: its data only');
  // Moved away (a rotation by hand): the next append creates another file, whose name is new.
  await rename(path, `${path}.1`);
  synced.length = 0;
  await sink.write([rec('3', 'c')]);
  assert.deepEqual(synced, [`datasync ${path}`, `sync ${join(root, 'a', 'b')}`]);
  // Removed (replayed, then deleted by hand): the new file may get the old one's inode number
  // (ext4 hands a freed one out again at once), and is just as new to the directory.
  await rm(path);
  synced.length = 0;
  await sink.write([rec('3', 'c')]);
  assert.deepEqual(synced, [`datasync ${path}`, `sync ${join(root, 'a', 'b')}`]);
  await sink.close();
  // A sinker restarted over the file it wrote before syncs its directory once (it cannot tell
  // whether the crash came before that sync).
  synced.length = 0;
  const again = new FileDlqSink(path, fs);
  await again.write([rec('4', 'd')]);
  await again.write([rec('5', 'e')]);
  assert.deepEqual(synced, [`datasync ${path}`, `sync ${join(root, 'a', 'b')}`, `datasync ${path}`]);
  const back: string[] = [];
  for await (const r of readDlqFile(path)) back.push(r.offset);
  assert.deepEqual(back, ['3', '4', '5']);
});

test('two sinkers appending large writes to one DLQ file (two processes of a sink, one directory) leave whole lines', async () => {
  // Node's appendFile writes in chunks of 512 KiB: another process's append could land between two
  // chunks of a record, and neither part is a record (a replay stops at such a line). One write(2)
  // with O_APPEND is placed whole. Two sinks in one process race the same way (libuv's threads).
  const path = join(await tmp(), 'shared.jsonl');
  const a = new FileDlqSink(path);
  const b = new FileDlqSink(path);
  const big = (sink: string, n: number) =>
    Array.from({ length: 3 }, (_, i) => rec(`${n * 10 + i}`, `${sink}:${'x'.repeat(400_000)}`));
  await Promise.all([0, 1, 2, 3].flatMap((n) => [a.write(big('a', n)), b.write(big('b', n + 100))]));
  const back: string[] = [];
  for await (const r of readDlqFile(path)) back.push(r.offset);
  assert.equal(back.length, 24);
  assert.equal(new Set(back).size, 24);
});
