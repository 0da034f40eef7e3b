import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mariadbType, parseDorisType, spellType } from './doris-types.ts';
import { getProfile } from './profile.ts';

const cases: [string, string, string, string][] = [
  // DDL type, 1.2, 2.x, 3.x+
  ['DECIMAL(5, 1)', 'DECIMALV3(5, 1)', 'DECIMAL(5, 1)', 'decimal(5,1)'],
  ['DATETIME(3)', 'DATETIMEV2(3)', 'DATETIME(3)', 'datetime(3)'],
  ['DATETIME', 'DATETIMEV2(0)', 'DATETIME', 'datetime'],
  ['DATE', 'DATEV2', 'DATE', 'date'],
  ['STRING', 'TEXT', 'TEXT', 'text'],
  ['JSON', 'JSONB', 'JSON', 'json'],
  ['INT(11)', 'INT', 'INT', 'int'],
  ['VARCHAR(256)', 'VARCHAR(256)', 'VARCHAR(256)', 'varchar(256)'],
  ['largeint', 'LARGEINT', 'LARGEINT', 'largeint'],
  ['datetimev2(6)', 'DATETIMEV2(6)', 'DATETIME(6)', 'datetime(6)'],
  ['ARRAY<INT>', 'ARRAY<INT>', 'ARRAY<INT>', 'array<int>'],
];

test('DESCRIBE type spelling per profile (§8)', () => {
  for (const [ddl, v12, v2, v3] of cases) {
    const t = parseDorisType(ddl);
    assert.equal(spellType(t, getProfile('1.2')), v12, `1.2 ${ddl}`);
    assert.equal(spellType(t, getProfile('2.0')), v2, `2.0 ${ddl}`);
    assert.equal(spellType(t, getProfile('2.1')), v2, `2.1 ${ddl}`);
    assert.equal(spellType(t, getProfile('3.0')), v3, `3.0 ${ddl}`);
    assert.equal(spellType(t, getProfile('4.0')), v3, `4.0 ${ddl}`);
  }
});

test('MariaDB types hold every Doris value', () => {
  assert.equal(mariadbType(parseDorisType('LARGEINT')), 'DECIMAL(39,0)');
  assert.equal(mariadbType(parseDorisType('DATETIME(3)')), 'DATETIME(3)');
  assert.equal(mariadbType(parseDorisType('STRING')), 'LONGTEXT');
  assert.equal(mariadbType(parseDorisType('VARCHAR(65533)')), 'MEDIUMTEXT');
  assert.equal(mariadbType(parseDorisType('BOOLEAN')), 'TINYINT(1)');
});

test('bad precision is an error naming the type', () => {
  assert.throws(() => parseDorisType('DECIMAL(40,2)'), /precision 40/);
  assert.throws(() => parseDorisType('DATETIME(7)'), /precision 7/);
});
