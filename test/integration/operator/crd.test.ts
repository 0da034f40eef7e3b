// The DorisSink CRD on the real kube-apiserver: valid resources are stored with defaults, invalid
// ones are refused at `kubectl apply` with a message naming the field; explain, printer columns and
// the scale subresource work.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { fullSpec, minimalSink } from '../../../operator/api/example.ts';
import type { DorisSink } from '../../../operator/api/types.ts';
import { applyCrd, deleteNamespace, freshNamespace, getSink, kubeConfig, kubectl, waitFor } from './support.ts';

let kc: KubeConfig;
let ns: string;

before(async () => {
  kc = kubeConfig();
  await applyCrd(kc);
  ns = await freshNamespace(kc, 'crd');
});
after(async () => {
  if (ns) await deleteNamespace(kc, ns);
});

function sinkYaml(mutate: (s: DorisSink) => void, name = 'events'): string {
  const s = minimalSink(name, ns);
  delete s.metadata.uid;
  delete s.metadata.generation;
  mutate(s);
  return stringify(s);
}

function apply(yaml: string, dryRun = true) {
  return kubectl(['apply', ...(dryRun ? ['--dry-run=server'] : []), '-f', '-'], yaml);
}

test('a minimal sink is accepted and stored with the schema defaults', async () => {
  const r = apply(
    sinkYaml(() => {}, 'minimal'),
    false,
  );
  assert.equal(r.status, 0, r.stderr);
  const s = await getSink(kc, ns, 'minimal');
  assert.equal(s.spec.scaling?.minReplicas, 1);
  assert.equal(s.spec.scaling?.mode, 'builtin');
  assert.equal(s.spec.schema?.mode, 'auto');
  assert.equal(s.spec.batch?.maxBatchInterval, '5s');
  assert.equal(s.spec.batch?.mapWorkers, 1);
  assert.equal(s.spec.doris.queryPort, 9030);
  assert.equal(s.spec.doris.streamLoad?.format, 'json');
  assert.equal(s.spec.paused, false);
});

test('DLQ: a file under /tmp, and a topic of 249 characters with its own DLQ topic, are accepted', () => {
  const file = apply(
    sinkYaml((s) => {
      s.spec.dlq = { filePath: '/tmp/dead/letters.jsonl' };
    }, 'dlq-file'),
  );
  assert.equal(file.status, 0, file.stderr);
  const long = apply(
    sinkYaml((s) => {
      s.spec.kafka.topic = 't'.repeat(249);
      s.spec.dlq = { kafkaTopic: 'dead-letters' };
    }, 'dlq-long'),
  );
  assert.equal(long.status, 0, long.stderr);
});

test('the example setting every field is accepted', () => {
  const r = apply(
    sinkYaml((s) => {
      s.spec = fullSpec();
    }, 'full'),
  );
  assert.equal(r.status, 0, r.stderr);
});

const invalid: [string, (s: DorisSink) => void, RegExp][] = [
  [
    'minReplicas > maxReplicas',
    (s) => {
      s.spec.scaling = { minReplicas: 5, maxReplicas: 2 };
    },
    /spec\.scaling\.minReplicas: Invalid value: .*scaling\.minReplicas must be less than or equal to scaling\.maxReplicas/,
  ],
  [
    'manual schema without columns',
    (s) => {
      s.spec.schema = { mode: 'manual' };
    },
    /spec\.schema\.columns: .*schema\.columns must list at least one column when schema\.mode is manual/,
  ],
  [
    'columns with auto schema',
    (s) => {
      s.spec.schema = { mode: 'auto', columns: [{ name: 'id', type: 'BIGINT' }] };
    },
    /schema\.columns is only allowed when schema\.mode is manual/,
  ],
  [
    'unknown scaling mode',
    (s) => {
      (s.spec.scaling as Record<string, unknown>) = { mode: 'magic' };
    },
    /spec\.scaling\.mode: Unsupported value: "magic"/,
  ],
  [
    'missing doris section',
    (s) => {
      delete (s.spec as Partial<DorisSink['spec']>).doris;
    },
    /spec\.doris: Required value/,
  ],
  [
    'no brokers',
    (s) => {
      s.spec.kafka.brokers = [];
    },
    /spec\.kafka\.brokers: Invalid value/,
  ],
  [
    'duration without unit',
    (s) => {
      s.spec.batch = { maxBatchInterval: '5' };
    },
    /spec\.batch\.maxBatchInterval: Invalid value: "5"/,
  ],
  [
    'Stream Load property the sinker owns',
    (s) => {
      s.spec.doris.streamLoad = { properties: { label: 'x' } };
    },
    /Stream Load headers the sinker sets itself cannot be given as properties: label, format, columns/,
  ],
  [
    // The sinker refuses every header it sets, in any case (exit 2 at start), not only label/format/columns.
    'Stream Load property the sinker owns, in another case',
    (s) => {
      s.spec.doris.streamLoad = { properties: { strict_mode: 'true', Timeout: '600' } };
    },
    /spec\.doris\.streamLoad\.properties: Invalid value: .*headers the sinker sets itself/,
  ],
  [
    'Stream Load two-phase commit, which the sinker drives itself',
    (s) => {
      s.spec.doris.streamLoad = { properties: { two_phase_commit: 'true' } };
    },
    /headers the sinker sets itself cannot be given as properties/,
  ],
  [
    'Stream Load property that would drop the first rows of every batch',
    (s) => {
      s.spec.doris.streamLoad = { properties: { Skip_Lines: '1' } };
    },
    /skip_lines cannot be given as a property: Doris would skip the first lines of every batch/,
  ],
  [
    'plaintext password instead of a Secret reference',
    (s) => {
      (s.spec.doris as unknown as Record<string, unknown>).password = 'hunter2';
    },
    /unknown field "spec\.doris\.password"/,
  ],
  [
    'Redis URL without a Secret reference',
    (s) => {
      (s.spec as unknown as Record<string, unknown>).dedupe = { redisUrl: 'redis://x' };
    },
    /spec\.dedupe\.redisUrlSecretRef: Required value|unknown field "spec\.dedupe\.redisUrl"/,
  ],
  [
    'a toleration the Deployment would refuse',
    (s) => {
      s.spec.podTemplate = { tolerations: [{ key: 'k', effect: 'NoSchedule', tolerationSeconds: 5 }] };
    },
    /spec\.podTemplate\.tolerations\[0\]: Invalid value: .*tolerationSeconds requires effect NoExecute/,
  ],
  [
    "a DLQ file outside the pod's writable /tmp (the image's filesystem is read-only)",
    (s) => {
      s.spec.dlq = { filePath: '/app/dlq.jsonl' };
    },
    /spec\.dlq\.filePath: Invalid value: .*dlq\.filePath must be a file under \/tmp/,
  ],
  [
    'a DLQ file that climbs out of /tmp',
    (s) => {
      s.spec.dlq = { filePath: '/tmp/../app/dlq.jsonl' };
    },
    /spec\.dlq\.filePath: Invalid value: .*without "\." or "\.\." segments/,
  ],
  [
    'a topic too long for the default DLQ topic <topic>-dlq',
    (s) => {
      s.spec.kafka.topic = 't'.repeat(246);
    },
    /spec\.dlq: Invalid value: .*too long for the default dead-letter topic.*set dlq\.kafkaTopic/,
  ],
  [
    'a DLQ topic that is the source topic',
    (s) => {
      s.spec.dlq = { kafkaTopic: s.spec.kafka.topic };
    },
    /spec\.dlq\.kafkaTopic: Invalid value: .*must differ from kafka\.topic/,
  ],
  [
    'more map workers than the sinker allows',
    (s) => {
      s.spec.batch = { mapWorkers: 17 };
    },
    /spec\.batch\.mapWorkers: Invalid value: 17/,
  ],
  [
    'negative lagPerReplica',
    (s) => {
      s.spec.scaling = { lagPerReplica: 0 };
    },
    /spec\.scaling\.lagPerReplica: Invalid value: 0/,
  ],
];

for (const [name, mutate, expected] of invalid) {
  test(`refused: ${name}`, () => {
    const r = apply(sinkYaml(mutate, 'bad'));
    assert.notEqual(r.status, 0, `accepted: ${name}`);
    assert.match(r.stderr, expected);
  });
}

test('refused: a name longer than the children allow', () => {
  const r = apply(sinkYaml(() => {}, 'x'.repeat(60)));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /metadata\.name must be at most 55 characters/);
});

// Its Service "<name>-metrics" must be a DNS-1035 label: no dot ever, and no leading digit before
// Kubernetes 1.36 (RelaxedServiceNameValidation), while the chart supports 1.28 and later.
for (const name of ['tb.event', '1events']) {
  test(`refused: a name its metrics Service cannot carry (${name})`, () => {
    const r = apply(sinkYaml(() => {}, name));
    assert.notEqual(r.status, 0, `a DorisSink named ${name} was accepted; Service ${name}-metrics is refused`);
    assert.match(r.stderr, /metadata\.name must start with a letter and contain no "\."/);
  });
}

test('groupId is immutable once set', () => {
  const y = (g: string) =>
    sinkYaml((s) => {
      s.spec.kafka.groupId = g;
    }, 'grouped');
  assert.equal(apply(y('group-a'), false).status, 0);
  const r = apply(y('group-b'), false);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /spec\.kafka\.groupId: Invalid value: .*groupId is immutable/);
});

test('kubectl explain shows the field descriptions', async () => {
  const r = await waitFor('explain', () => {
    const x = kubectl(['explain', 'dorissink.spec.scaling']);
    return x.status === 0 ? x : undefined;
  });
  assert.match(r.stdout, /minReplicas/);
  assert.match(r.stdout, /lagPerReplica/);
  assert.match(r.stdout, /builtin: the operator scales on the consumer\s+group's lag/);
});

test('printer columns and the scale subresource', () => {
  assert.equal(
    apply(
      sinkYaml(() => {}, 'scaled'),
      false,
    ).status,
    0,
  );
  const get = kubectl(['get', 'dorissinks', '-n', ns, 'scaled']);
  assert.equal(get.status, 0, get.stderr);
  assert.match(get.stdout.split('\n')[0] ?? '', /NAME\s+READY\s+REASON\s+REPLICAS\s+LAG\s+SCHEMA\s+AGE/);
  const scale = kubectl(['scale', 'dorissink/scaled', '-n', ns, '--replicas=3']);
  assert.equal(scale.status, 0, scale.stderr);
  const sub = kubectl(['get', 'dorissink/scaled', '-n', ns, '--subresource=scale', '-o', 'json']);
  assert.equal(sub.status, 0, sub.stderr);
  assert.equal(JSON.parse(sub.stdout).spec.replicas, 3);
});
