import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { kafkaClientConfig } from '../consumer.ts';
import { ConfigFileError, filesToRead, readConfigFile } from './files.ts';
import type { KafkaConfig } from './types.ts';

const KAFKA = { brokers: ['127.0.0.1:9092'], client_id: 'c' } as KafkaConfig;
const quiet = pino({ level: 'silent' });

test('readConfigFile names the key, the path and the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'config-files-'));
  const pem = join(dir, 'ca.pem');
  writeFileSync(pem, 'PEM');
  assert.equal(readConfigFile('kafka.tls.ca_file', pem), 'PEM');
  assert.throws(
    () => readConfigFile('kafka.tls.ca_file', join(dir, 'gone.pem')),
    (e: Error) =>
      e instanceof ConfigFileError &&
      e.key === 'kafka.tls.ca_file' &&
      e.message === `kafka.tls.ca_file: cannot read ${join(dir, 'gone.pem')}: no such file`,
  );
  assert.throws(() => readConfigFile('kafka.tls.key_file', dir), /^ConfigFileError: kafka\.tls\.key_file: .*directory/);
});

test('the TLS files are read only when TLS is on', () => {
  const tls = { enabled: true, ca_file: '/a', cert_file: '/b', key_file: '/c', insecure_skip_verify: false };
  assert.deepEqual(
    filesToRead({ kafka: { ...KAFKA, tls } }).map((f) => f.key),
    ['kafka.tls.ca_file', 'kafka.tls.cert_file', 'kafka.tls.key_file'],
  );
  assert.deepEqual(filesToRead({ kafka: { ...KAFKA, tls: { ...tls, enabled: false } } }), []);
  assert.deepEqual(filesToRead({ kafka: KAFKA }), []);
});

test("the Kafka client's set-up reports a TLS file it cannot read by its key, not a bare ENOENT", () => {
  const tls = { enabled: true, cert_file: '/nonexistent/client.pem', key_file: '/x', insecure_skip_verify: false };
  assert.throws(
    () => kafkaClientConfig({ ...KAFKA, tls }, quiet),
    (e: Error) =>
      e instanceof ConfigFileError &&
      e.message === 'kafka.tls.cert_file: cannot read /nonexistent/client.pem: no such file',
  );
});
