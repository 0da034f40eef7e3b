// `doris-sinker replay` of the file DLQ: the sinker dead-letters the dirty mix's invalid JSON; one
// record is repaired in the file (its value rewritten as valid JSON), replay loads it, and a second
// replay of the same file loads nothing twice.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { runSinkerCommand, type SinkerProcess } from '../../support/sinker-process.ts';
import {
  assertExactlyOnce,
  cleanup,
  closeStorage,
  createNarrowNameTable,
  createTable,
  createTopic,
  drainAndAssert,
  NARROW_NAME_LOOSE_SCHEMA,
  produce,
  readDlq,
  rowCount,
  type Scenario,
  scenario,
  sinkerConfig,
  startSinker,
  storage,
  validIds,
} from './helpers.ts';

const s: Scenario = scenario('replay');
let sinker: SinkerProcess | undefined;

before(async () => {
  await createTopic(s);
  await createTable(s);
});

after(async () => {
  await sinker?.kill();
  await cleanup(s);
  await closeStorage();
});

test('replay puts a repaired DLQ record back once; replaying again adds nothing', async () => {
  sinker = await startSinker(s, 'sinker');
  const { events } = await produce(s, 3000, 77);
  const valid = validIds(events);
  const invalid = events.filter((e) => e.kind === 'invalid_json');
  assert.ok(invalid.length >= 2, `the mix has ${invalid.length} invalid messages`);
  await drainAndAssert(s, valid, 'before replay', 60_000);
  assert.equal((await sinker.term()).code, 0, sinker.tail());
  assert.equal(readDlq(s).length, invalid.length);

  // Repair the first dead letter: the same id, valid JSON with a recognisable title.
  const repaired = invalid[0]!;
  const lines = readFileSync(s.dlqFile, 'utf8').split('\n');
  const at = lines.findIndex((l) => l !== '' && (JSON.parse(l) as { value: string }).value === repaired.value);
  assert.ok(at >= 0, 'the invalid message is in the DLQ file');
  const rec = JSON.parse(lines[at]!) as Record<string, unknown>;
  rec.value = JSON.stringify({
    id: Number(repaired.id),
    integration_id: 7,
    arrive_time: 1,
    event_time: 2,
    title: 'repaired "by hand", with a comma',
    amount: 12.5,
  });
  lines[at] = JSON.stringify(rec);
  writeFileSync(s.dlqFile, lines.join('\n'));

  const config = await sinkerConfig(s);
  const first = await runSinkerCommand({ dir: s.dir, tag: 'replay1', config, command: ['replay'] });
  assert.equal(first.exit.code, 0, first.output);
  assert.match(first.output, new RegExp(`${invalid.length} read, 1 loaded`), first.output);
  assert.match(first.output, new RegExp(`${invalid.length - 1} still invalid`), first.output);

  const want = [...valid, repaired.id];
  await assertExactlyOnce(s, want, 'after the first replay');
  const [rows] = await storage().query(
    `SELECT title, CAST(amount AS CHAR) AS amount, CAST(integration_id AS CHAR) AS integration_id FROM \`${s.table}\` WHERE id = ?`,
    [String(repaired.id)],
  );
  assert.deepEqual(rows, [{ title: 'repaired "by hand", with a comma', amount: '12.5000', integration_id: '7' }]);

  const second = await runSinkerCommand({ dir: s.dir, tag: 'replay2', config, command: ['replay'] });
  assert.equal(second.exit.code, 0, second.output);
  assert.match(second.output, /0 loaded/, second.output);
  await assertExactlyOnce(s, want, 'after replaying the same file again');
});

test('replay of a DLQ holding one message twice (a kill -9 between the dead-letter write and the commit) loads it once', async () => {
  const z = scenario('replay-dup');
  await createTable(z);
  try {
    const record = (offset: string, id: number) =>
      JSON.stringify({
        sink: z.name,
        topic: z.topic,
        partition: 1,
        offset,
        reason: 'invalid_json: repaired by hand',
        time: new Date().toISOString(),
        value: JSON.stringify({ id, integration_id: 1, arrive_time: 1, event_time: 1, title: `dup-${id}` }),
        value_encoding: 'utf8',
      });
    // The same dead letter written twice (before and after a crash), and one other.
    writeFileSync(z.dlqFile, `${record('41', 9001)}\n${record('57', 9002)}\n${record('41', 9001)}\n`);
    const config = await sinkerConfig(z);
    const r = await runSinkerCommand({ dir: z.dir, tag: 'replay', config, command: ['replay'] });
    assert.equal(r.exit.code, 0, r.output);
    assert.match(r.output, /3 read, 2 loaded/, r.output);
    await assertExactlyOnce(z, [9001n, 9002n], 'replay of a DLQ with a duplicate record');
  } finally {
    await cleanup(z);
  }
});

test('no DLQ file yet: replay says there are no dead letters (exit 0); a --from-file that does not exist is an error (exit 2)', async () => {
  const z = scenario('replay-nofile', 1);
  try {
    const config = await sinkerConfig(z);
    const none = await runSinkerCommand({ dir: z.dir, tag: 'none', config, command: ['replay'] });
    assert.equal(none.exit.code, 0, none.output);
    assert.match(none.output, /no dead letters: the DLQ file .*dlq\.jsonl does not exist/);
    const typo = await runSinkerCommand({
      dir: z.dir,
      tag: 'typo',
      config,
      command: ['replay'],
      extraArgs: ['--from-file', `${z.dir}/dlq.jsnol`],
    });
    assert.equal(typo.exit.code, 2, typo.output);
    assert.match(typo.output, /--from-file .*dlq\.jsnol does not exist/);
    assert.doesNotMatch(typo.output, /ENOENT|\n {4}at /, 'no stack trace');
  } finally {
    await cleanup(z);
  }
});

test('replay against a Doris that refuses the setup (a wrong password at DESCRIBE, no table, then a wrong password at the load) stops at the first refusal and names the refusal; nothing counted refused or marked; fixed, it loads each record once', async () => {
  const z = scenario('replay-refused', 1);
  try {
    const record = (offset: string, id: number) =>
      JSON.stringify({
        sink: z.name,
        topic: z.topic,
        partition: 0,
        offset,
        reason: 'stream_load: repaired by hand',
        time: new Date().toISOString(),
        value: JSON.stringify({ id, name: `r${id}` }),
        value_encoding: 'utf8',
      });
    writeFileSync(z.dlqFile, `${record('10', 1)}\n${record('11', 2)}\n${record('12', 3)}\n`);
    // Manual schema: DESCRIBE at start would stop a wrong password or a missing table first.
    const right = await sinkerConfig(z, { schema: NARROW_NAME_LOOSE_SCHEMA });
    const wrong = await sinkerConfig(z, { schema: NARROW_NAME_LOOSE_SCHEMA, doris: { password: 'rotated-elsewhere' } });
    const stopped = (output: string, reason: RegExp) => {
      assert.match(
        output,
        /^replay stopped: Doris refuses the sink's setup \(.*\): .+\. Nothing was loaded or marked replayed\. Fix it/m,
        output,
      );
      assert.match(output, reason, output);
      assert.doesNotMatch(output, /refused by Doris:/, output);
      assert.match(
        output,
        /replay: 3 read, 0 loaded in 0 batches, 0 already replayed, 0 still invalid, 0 refused/,
        output,
      );
    };

    // With the schema read from Doris (auto), the same refusal comes first from DESCRIBE.
    const autoWrong = await runSinkerCommand({
      dir: z.dir,
      tag: 'auto-wrong',
      config: await sinkerConfig(z, { doris: { password: 'rotated-elsewhere' } }),
      command: ['replay'],
    });
    assert.equal(autoWrong.exit.code, 2, autoWrong.output);
    assert.match(
      autoWrong.output,
      /^replay stopped: reading the table's schema: DESCRIBE .*Access denied.*\. Nothing was loaded or marked replayed\. Fix it/m,
      autoWrong.output,
    );
    assert.doesNotMatch(autoWrong.output, /\n\s+at /, 'no stack trace');

    const noTable = await runSinkerCommand({ dir: z.dir, tag: 'no-table', config: right, command: ['replay'] });
    assert.equal(noTable.exit.code, 2, noTable.output);
    stopped(noTable.output, /not found|unknown table/i);

    await createNarrowNameTable(z);
    const badPassword = await runSinkerCommand({ dir: z.dir, tag: 'wrong', config: wrong, command: ['replay'] });
    assert.equal(badPassword.exit.code, 2, badPassword.output);
    stopped(badPassword.output, /Access denied|Unauthorized|auth/i);
    assert.ok(!badPassword.output.includes('rotated-elsewhere'), 'the password reached the output');
    assert.equal(await rowCount(z), 0);

    // Nothing was marked replayed: all three load now, once, under the label the stopped load left.
    const fixed = await runSinkerCommand({ dir: z.dir, tag: 'fixed', config: right, command: ['replay'] });
    assert.equal(fixed.exit.code, 0, fixed.output);
    assert.match(fixed.output, /3 read, 3 loaded/, fixed.output);
    await assertExactlyOnce(z, [1n, 2n, 3n], 'replay after the setup was fixed');
  } finally {
    await cleanup(z);
  }
});
