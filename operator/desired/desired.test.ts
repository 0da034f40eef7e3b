import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { fullSpec, minimalSink } from '../api/example.ts';
import type { DorisSink } from '../api/types.ts';
import { dlqFilePathProblem, renderDlq, renderSinkerConfig, SECRET_ENV, sinkerConfigProblem } from './config.ts';
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_SCHEMA_HASH,
  ANNOTATION_SECRET_VERSIONS,
  labelSelectorString,
  METRICS_PORT_FILE,
} from './names.ts';
import { desiredObjects } from './objects.ts';
import { probeCommand } from './probe.ts';

const base = { defaultImage: 'doris-sinker:dev', replicas: 2, secretVersions: { redis: '7' } };

function fullSink(): DorisSink {
  return { ...minimalSink('orders', 'shop'), spec: fullSpec() };
}

test('minimal sink renders a complete config with defaults, derived names and no secrets', () => {
  const c = renderSinkerConfig(minimalSink('events', 'team-a'));
  assert.equal(c.name, 'team-a_events');
  assert.equal(c.kafka.group_id, 'doris-sinker.team-a.events');
  assert.equal(c.kafka.client_id, 'events');
  assert.equal(c.kafka.max_fetch_bytes, 1024 * 1024);
  assert.equal(c.kafka.session_timeout, 30);
  assert.equal(c.kafka.metadata_max_age, 60, 'partitions added to the topic are read within a minute');
  assert.equal(c.doris.timeout, 600);
  assert.equal(c.doris.retry_backoff_ms, 1000);
  assert.equal(c.doris.password, '');
  assert.equal(c.dedupe.redis_url, '');
  assert.equal(c.dedupe.key_prefix, 'doris-sinker:team-a:events');
  assert.equal(c.batch.max_batch_size, 64 * 1024 * 1024);
  assert.equal(c.batch.max_batch_interval, 5);
  assert.equal(c.batch.map_workers, 1, "spec.batch.mapWorkers absent: the sinker's default, 1");
  assert.equal(c.schema.mode, 'auto');
  assert.equal(c.schema.auto.refresh_interval, 300);
  assert.equal(c.metrics.port, 9464);
  assert.equal(c.kafka.sasl, undefined);
  assert.equal(c.kafka.tls, undefined);
  assert.deepEqual(c.dlq, { kafka_topic: 'events-dlq' }, 'no spec.dlq: the topic <kafka.topic>-dlq');
});

test('full sink maps every section; SASL and TLS point at env and mounted files', () => {
  const c = renderSinkerConfig(fullSink());
  assert.equal(c.kafka.group_id, 'events-to-doris');
  assert.equal(c.kafka.metadata_max_age, 30, 'spec.kafka.metadataMaxAge 30s');
  assert.deepEqual(c.kafka.sasl, { mechanism: 'scram-sha-512', username: 'sinker', password: '' });
  assert.equal(c.kafka.tls?.ca_file, '/etc/doris-sinker/kafka-tls/ca/ca.crt');
  assert.equal(c.kafka.tls?.cert_file, '/etc/doris-sinker/kafka-tls/client/tls.crt');
  assert.equal(c.kafka.tls?.key_file, '/etc/doris-sinker/kafka-tls/client/tls.key');
  assert.equal(c.doris.load_route, 'backend');
  assert.equal(c.doris.compress, true);
  assert.deepEqual(c.doris.stream_load_properties, { strict_mode: 'true', max_filter_ratio: '0.1' });
  assert.deepEqual(c.schema.manual.columns, [
    { name: 'id', type: 'BIGINT', nullable: false },
    { name: 'name', type: 'VARCHAR(64)', nullable: true },
  ]);
  assert.equal(c.dedupe.key_prefix, 'sinks:events');
  assert.deepEqual(c.dedupe.key_fields, ['id']);
  assert.equal(c.dedupe.ttl, 12 * 3600);
  assert.equal(c.dedupe.required, false);
  assert.equal(c.batch.map_workers, 2);
  assert.deepEqual(c.dlq, { kafka_topic: 'events-dlq', file_path: '/tmp/dlq.jsonl' });
  assert.equal(c.log.level, 'debug');
  assert.equal(c.log.enable_sampling, true);
});

test('children carry owner references, labels, and the rendered config', () => {
  const d = desiredObjects({ ...base, sink: minimalSink() });
  for (const o of [d.configMap, d.deployment, d.service, d.pdb]) {
    assert.deepEqual(o.metadata?.ownerReferences, [
      {
        apiVersion: 'dorissinker.io/v1alpha1',
        kind: 'DorisSink',
        name: 'events',
        uid: '11111111-2222-3333-4444-555555555555',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.equal(o.metadata?.namespace, 'default');
    assert.equal(o.metadata?.labels?.['dorissinker.io/sink'], 'events');
  }
  assert.equal(d.configMap.metadata?.name, 'events-config');
  assert.equal(d.service.metadata?.name, 'events-metrics');
  const cfg = parse(d.configMap.data?.['config.yaml'] ?? '');
  assert.equal(cfg.kafka.topic, 'events');
  assert.equal(d.pdb.spec?.maxUnavailable, 1);
  // an unready sinker does no work: it must never hold up a node drain
  assert.equal(d.pdb.spec?.unhealthyPodEvictionPolicy, 'AlwaysAllow');
  assert.deepEqual(d.pdb.spec?.selector?.matchLabels, d.deployment.spec?.selector.matchLabels);
  assert.deepEqual(d.service.spec?.selector, d.deployment.spec?.selector.matchLabels);
  assert.equal(labelSelectorString('events'), 'app.kubernetes.io/name=doris-sinker,dorissinker.io/sink=events');
});

test('deployment: replicas, args, probes, secret env, hardened security context', () => {
  const d = desiredObjects({ ...base, sink: fullSink(), schemaHash: 'abc' }).deployment;
  assert.equal(d.spec?.replicas, 2);
  const pod = d.spec?.template.spec;
  const c = pod?.containers[0];
  assert.deepEqual(c?.args, ['-config', '/etc/doris-sinker/config.yaml']);
  assert.equal(c?.image, 'registry.example.com/doris-sinker:0.1.0');
  assert.equal(c?.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(c?.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(c?.ports?.[0]?.containerPort, 9464);
  const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
  assert.deepEqual(env[SECRET_ENV.dorisPassword], { name: 'doris-auth', key: 'password' });
  assert.deepEqual(env[SECRET_ENV.redisUrl], { name: 'redis', key: 'url' });
  assert.deepEqual(env[SECRET_ENV.kafkaSaslPassword], { name: 'kafka-auth', key: 'password' });
  // the log's tail lands in the pod status when the sinker fails: quoted by Ready=False CrashLoopBackOff
  assert.equal(c?.terminationMessagePolicy, 'FallbackToLogsOnError');
  assert.equal(c?.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(c?.securityContext?.runAsNonRoot, true);
  assert.equal(c?.securityContext?.allowPrivilegeEscalation, false);
  assert.deepEqual(c?.securityContext?.capabilities?.drop, ['ALL']);
  assert.equal(pod?.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  assert.ok(pod?.volumes?.some((v) => v.name === 'tmp' && v.emptyDir));
  assert.ok(c?.volumeMounts?.some((m) => m.mountPath === '/tmp'));
  assert.ok(c?.volumeMounts?.some((m) => m.mountPath === '/etc/doris-sinker/kafka-tls/ca'));
  assert.deepEqual(c?.resources, { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } });
  assert.deepEqual(pod?.nodeSelector, { 'kubernetes.io/os': 'linux' });
  assert.equal(pod?.tolerations?.[0]?.key, 'dedicated');
  assert.equal(pod?.serviceAccountName, 'sinker');
  // The sinker never calls the Kubernetes API: no ServiceAccount token in its pods, even when the
  // account named (or the namespace's default) has rights or mounts tokens by default.
  assert.equal(pod?.automountServiceAccountToken, false);
  assert.equal(
    desiredObjects({ ...base, sink: minimalSink() }).deployment.spec?.template.spec?.automountServiceAccountToken,
    false,
  );
  const ann = d.spec?.template.metadata?.annotations ?? {};
  assert.equal(ann[ANNOTATION_SCHEMA_HASH], 'abc');
  assert.equal(
    ann[ANNOTATION_SECRET_VERSIONS],
    'doris-auth=missing,kafka-auth=missing,kafka-ca=missing,kafka-client=missing,redis=7',
  );
  assert.equal(ann['example.com/owner'], 'data');
  assert.equal(d.spec?.template.metadata?.labels?.team, 'data');
  // no secret value anywhere in the objects
  assert.doesNotMatch(JSON.stringify(d), /"value":"[^"]*pass/i);
});

test('hostNetwork: no container ports, any free metrics port written to a file, exec probes read it', () => {
  const sink = fullSink();
  sink.spec.podTemplate = { ...sink.spec.podTemplate, hostNetwork: true };
  const d = desiredObjects({ ...base, sink });
  const pod = d.deployment.spec?.template.spec;
  const c = pod?.containers[0];
  assert.equal(pod?.hostNetwork, true);
  assert.equal(pod?.dnsPolicy, 'ClusterFirstWithHostNet');
  // A declared port would become a host port: one replica per node.
  assert.equal(c?.ports, undefined);
  assert.deepEqual(c?.livenessProbe?.exec?.command, probeCommand('/healthz'));
  assert.deepEqual(c?.readinessProbe?.exec?.command, probeCommand('/readyz'));
  assert.equal(c?.livenessProbe?.httpGet, undefined);
  // The port file lives in the pod's own /tmp emptyDir.
  assert.ok(probeCommand('/readyz').includes(METRICS_PORT_FILE) && METRICS_PORT_FILE.startsWith('/tmp/'));
  assert.ok(c?.volumeMounts?.some((m) => m.mountPath === '/tmp' && m.name === 'tmp'));
  const cfg = parse(d.configMap.data?.['config.yaml'] ?? '') as ReturnType<typeof renderSinkerConfig>;
  assert.deepEqual(cfg.metrics, { enabled: true, port: 0, path: '/metrics', port_file: METRICS_PORT_FILE });
  // Without hostNetwork: the fixed port, declared, and HTTP probes on it.
  const plain = desiredObjects({ ...base, sink: fullSink() });
  const pc = plain.deployment.spec?.template.spec?.containers[0];
  assert.equal(pc?.ports?.[0]?.containerPort, 9464);
  assert.equal(pc?.readinessProbe?.httpGet?.port, 'metrics');
  const plainCfg = parse(plain.configMap.data?.['config.yaml'] ?? '') as ReturnType<typeof renderSinkerConfig>;
  assert.deepEqual(plainCfg.metrics, { enabled: true, port: 9464, path: '/metrics' });
});

test('pod template annotations change with config, secret versions and schema, and only then', () => {
  const ann = (sink: DorisSink, versions: Record<string, string>, schemaHash?: string) =>
    desiredObjects({ ...base, sink, secretVersions: versions, ...(schemaHash ? { schemaHash } : {}) }).deployment.spec
      ?.template.metadata?.annotations ?? {};
  const a = ann(minimalSink(), { redis: '1' }, 'h1');
  assert.deepEqual(ann(minimalSink(), { redis: '1' }, 'h1'), a, 'deterministic');
  const changed = minimalSink();
  changed.spec.batch = { maxBatchRows: 10 };
  assert.notEqual(ann(changed, { redis: '1' }, 'h1')[ANNOTATION_CONFIG_HASH], a[ANNOTATION_CONFIG_HASH]);
  assert.notEqual(ann(minimalSink(), { redis: '2' }, 'h1')[ANNOTATION_SECRET_VERSIONS], a[ANNOTATION_SECRET_VERSIONS]);
  assert.notEqual(ann(minimalSink(), { redis: '1' }, 'h2')[ANNOTATION_SCHEMA_HASH], a[ANNOTATION_SCHEMA_HASH]);
  // replicas are not part of the template
  const r = desiredObjects({ ...base, replicas: 5, sink: minimalSink() }).deployment;
  assert.deepEqual(r.spec?.template, desiredObjects({ ...base, sink: minimalSink() }).deployment.spec?.template);
  assert.equal(r.spec?.replicas, 5);
});

test('default image is used when spec.image is empty; a sink without uid is refused', () => {
  const d = desiredObjects({ ...base, sink: minimalSink() }).deployment;
  assert.equal(d.spec?.template.spec?.containers[0]?.image, 'doris-sinker:dev');
  const s = minimalSink();
  delete s.metadata.uid;
  assert.throws(() => desiredObjects({ ...base, sink: s }), /no uid/);
});

test("a broker given as a URL with a password: the sinker's refusal (quoted by status and an Event) hides it", () => {
  // The CRD takes any broker string; the sinker's own check refuses this one, and the reconciler
  // writes that message into Ready=False InvalidSpec and a Warning Event, readable without Secrets RBAC.
  const sink = minimalSink('events', 'team-a');
  sink.spec.kafka.brokers = ['sasl://sinker:s3cret@kafka-0:9092'];
  const problem = sinkerConfigProblem(renderSinkerConfig(sink));
  assert.match(
    problem ?? '',
    /kafka\.brokers\[0\]: expected a host:port string, found "sasl:\/\/sinker:\*\*\*@kafka-0:9092"/,
  );
  assert.ok(!problem?.includes('s3cret'), problem);
});

test('invalid duration is reported with its field path', () => {
  const s = minimalSink();
  s.spec.batch = { maxBatchInterval: '5' };
  assert.throws(() => renderSinkerConfig(s), /spec\.batch\.maxBatchInterval/);
});

test("dlq: a topic by default, never a file outside the pod's writable /tmp", () => {
  const kafka = { brokers: ['k:9092'], topic: 'orders.v1' };
  // Without a DLQ the sinker would fall back to <name>-dlq.jsonl in /app, read-only in the pod.
  assert.deepEqual(renderDlq({ kafka }), { kafka_topic: 'orders.v1-dlq' });
  assert.deepEqual(renderDlq({ kafka, dlq: {} }), { kafka_topic: 'orders.v1-dlq' });
  assert.deepEqual(renderDlq({ kafka, dlq: { kafkaTopic: 'dead' } }), { kafka_topic: 'dead' });
  // a file asked for alone stays alone (no topic is made up), on the emptyDir
  assert.deepEqual(renderDlq({ kafka, dlq: { filePath: '/tmp/dlq/orders.jsonl' } }), {
    file_path: '/tmp/dlq/orders.jsonl',
  });
  assert.deepEqual(renderDlq({ kafka, dlq: { kafkaTopic: 'dead', filePath: '/tmp/x' } }), {
    kafka_topic: 'dead',
    file_path: '/tmp/x',
  });
  for (const bad of [
    '/app/dlq.jsonl',
    '/dlq.jsonl',
    '/tmp',
    '/tmp/',
    '/tmp/a/',
    '/tmp//a',
    '/tmpx/a',
    '/etc/doris-sinker/x',
  ]) {
    assert.match(dlqFilePathProblem(bad) ?? '', /is not a file under \/tmp/, bad);
    assert.throws(() => renderDlq({ kafka, dlq: { filePath: bad } }), /spec\.dlq\.filePath/, bad);
  }
  for (const bad of ['/tmp/../app/dlq.jsonl', '/tmp/./x', '/tmp/a/..']) {
    assert.match(dlqFilePathProblem(bad) ?? '', /"\." or "\.\." segments/, bad);
  }
  for (const ok of ['/tmp/x', '/tmp/.dlq', '/tmp/a/..b/c', '/tmp/a.b.jsonl'])
    assert.equal(dlqFilePathProblem(ok), undefined, ok);
  // <topic>-dlq must still be a legal Kafka topic name (249 characters)
  assert.deepEqual(renderDlq({ kafka: { ...kafka, topic: 't'.repeat(245) } }), {
    kafka_topic: `${'t'.repeat(245)}-dlq`,
  });
  assert.throws(() => renderDlq({ kafka: { ...kafka, topic: 't'.repeat(246) } }), /set spec\.dlq\.kafkaTopic/);
  assert.deepEqual(renderDlq({ kafka: { ...kafka, topic: 't'.repeat(249) }, dlq: { kafkaTopic: 'd' } }), {
    kafka_topic: 'd',
  });
});

test('dlq: the rendered file is on the volume the Deployment mounts writable', () => {
  const sink = minimalSink();
  sink.spec.dlq = { filePath: '/tmp/dead/letters.jsonl' };
  const d = desiredObjects({ ...base, sink });
  const cfg = parse(d.configMap.data?.['config.yaml'] ?? '') as ReturnType<typeof renderSinkerConfig>;
  const c = d.deployment.spec?.template.spec?.containers[0];
  assert.equal(c?.securityContext?.readOnlyRootFilesystem, true);
  const mount = c?.volumeMounts?.find((m) => cfg.dlq.file_path?.startsWith(`${m.mountPath}/`));
  assert.equal(mount?.name, 'tmp');
  assert.notEqual(mount?.readOnly, true);
  assert.ok(d.deployment.spec?.template.spec?.volumes?.some((v) => v.name === mount?.name && v.emptyDir));
});

test('the sinker (whose pods mount no ServiceAccount token) has no code that could use one', () => {
  const dir = new URL('../../sinker/', import.meta.url);
  const sources = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.testkit.ts'),
  );
  assert.ok(sources.length > 20, `only ${sources.length} sinker sources found`);
  const uses = sources.filter((f) =>
    /@kubernetes\/|\/var\/run\/secrets|KUBERNETES_SERVICE_HOST|\.\.\/operator\//.test(
      readFileSync(new URL(f, dir), 'utf8'),
    ),
  );
  assert.deepEqual(uses, [], 'sinker sources that reach for the Kubernetes API');
});
