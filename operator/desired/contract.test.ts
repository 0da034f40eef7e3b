// The rendered ConfigMap is the contract with the sinker: its own parser must accept it, with the
// secrets arriving through the environment variables the Deployment sets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCli } from '../../sinker/cli-args.ts';
import { parseConfig } from '../../sinker/config/load.ts';
import { CONFIG_SCHEMA } from '../../sinker/config/schema.ts';
import { fullSpec, minimalSink } from '../api/example.ts';
import { specSchema } from '../api/schema.ts';
import { configYaml, renderSinkerConfig, SECRET_ENV } from './config.ts';
import { METRICS_PORT_FILE } from './names.ts';
import { desiredObjects } from './objects.ts';

const env = {
  [SECRET_ENV.dorisPassword]: 'doris-secret',
  [SECRET_ENV.redisUrl]: 'redis://redis:6379/0',
  [SECRET_ENV.kafkaSaslPassword]: 'sasl-secret',
};

test('the sinker accepts the config rendered from a minimal sink, secrets from env', () => {
  const yaml = desiredObjects({
    sink: minimalSink(),
    defaultImage: 'x',
    replicas: 1,
    secretVersions: {},
  }).configMap.data?.['config.yaml'] as string;
  const c = parseConfig(yaml, { source: 'configmap', env });
  assert.equal(c.kafka.topic, 'events');
  assert.equal(c.dedupe.redis_url, 'redis://redis:6379/0');
  assert.equal(c.doris.password, 'doris-secret');
  // the sinker's own fallback (<name>-dlq.jsonl in its read-only working directory) never applies
  assert.deepEqual(c.dlq, { kafka_topic: 'events-dlq' });
});

test('the sinker accepts the config rendered from a sink that sets every field', () => {
  const sink = { ...minimalSink('orders', 'shop'), spec: fullSpec() };
  const rendered = renderSinkerConfig(sink);
  const c = parseConfig(configYaml(rendered), { source: 'configmap', env });
  assert.equal(c.kafka.sasl?.password, 'sasl-secret');
  assert.equal(c.schema.manual.columns.length, 2);
  assert.equal(c.batch.max_batch_rows, rendered.batch.max_batch_rows);
  assert.equal(c.batch.merge_partitions, true);
  assert.equal(c.batch.map_workers, 2);
  assert.deepEqual(c.dlq, rendered.dlq);
});

test("spec.batch.mapWorkers takes the sinker's batch.map_workers range, and its default when absent", () => {
  const field = specSchema.properties?.batch?.properties?.mapWorkers;
  const key = CONFIG_SCHEMA.properties?.batch?.properties?.map_workers;
  assert.ok(field && key);
  assert.deepEqual(
    { minimum: field.minimum, maximum: field.maximum, default: field.default },
    { minimum: key.minimum, maximum: key.maximum, default: key.default },
  );
  for (const mapWorkers of [0, 16]) {
    const sink = minimalSink();
    sink.spec.batch = { mapWorkers };
    assert.equal(
      parseConfig(configYaml(renderSinkerConfig(sink)), { source: 'configmap', env }).batch.map_workers,
      mapWorkers,
    );
  }
});

test('the sinker accepts the hostNetwork config: metrics port 0 and the port file the probes read', () => {
  const sink = minimalSink();
  sink.spec.podTemplate = { hostNetwork: true };
  const c = parseConfig(configYaml(renderSinkerConfig(sink)), { source: 'configmap', env });
  assert.equal(c.metrics.port, 0);
  assert.equal(c.metrics.port_file, METRICS_PORT_FILE);
});

test('every env var the Deployment sets is one the sinker reads', () => {
  const d = desiredObjects({
    sink: { ...minimalSink(), spec: fullSpec() },
    defaultImage: 'x',
    replicas: 1,
    secretVersions: {},
  });
  const names = (d.deployment.spec?.template.spec?.containers[0]?.env ?? [])
    .filter((e) => e.valueFrom?.secretKeyRef)
    .map((e) => e.name)
    .sort();
  assert.deepEqual(names, Object.values(SECRET_ENV).sort());
});

test('the container args are a sinker `run` of the mounted config file', () => {
  const d = desiredObjects({ sink: minimalSink(), defaultImage: 'x', replicas: 1, secretVersions: {} });
  const c = d.deployment.spec?.template.spec?.containers[0];
  const mount = c?.volumeMounts?.find((m) => m.name === 'config');
  const cli = parseCli(c?.args ?? []);
  assert.equal(cli.command, 'run');
  assert.equal(cli.config, `${mount?.mountPath}/${Object.keys(d.configMap.data ?? {})[0]}`);
});
