import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHART_CRD_FILE, CRD_FILE, chartCrdTemplate, crdYaml, dorisSinkCrd } from './crd.ts';
import { applyDefaults, defaultSpec } from './defaults.ts';
import { fullSpec, fullStatus, minimalSink } from './example.ts';
import type { Schema } from './openapi.ts';
import { dorisSinkSchema, specSchema, statusSchema } from './schema.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('generated CRD files are up to date (run: npx node scripts/gen-crds.ts)', () => {
  assert.equal(readFileSync(join(root, CRD_FILE), 'utf8'), crdYaml(), `${CRD_FILE} is stale`);
  assert.equal(readFileSync(join(root, CHART_CRD_FILE), 'utf8'), chartCrdTemplate(), `${CHART_CRD_FILE} is stale`);
});

function walk(schema: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(schema, path);
  for (const [k, p] of Object.entries(schema.properties ?? {})) walk(p, `${path}.${k}`, visit);
  if (schema.items) walk(schema.items, `${path}[]`, visit);
}

test('every spec and status field has a description (kubectl explain)', () => {
  const missing: string[] = [];
  for (const [s, p] of [
    [specSchema, 'spec'],
    [statusSchema, 'status'],
  ] as const) {
    walk(s, p, (node, path) => {
      if (!node.description) missing.push(path);
    });
  }
  assert.deepEqual(missing, []);
});

test('schema is structural: every node has a type or is int-or-string/preserve-unknown', () => {
  const bad: string[] = [];
  walk(dorisSinkSchema, '', (node, path) => {
    if (!node.type && !node['x-kubernetes-int-or-string'] && !node['x-kubernetes-preserve-unknown-fields'])
      bad.push(path);
  });
  assert.deepEqual(bad, []);
});

/** Leaf paths of a value, arrays collapsed to `[]`, maps (additionalProperties) to `{}`. */
function valuePaths(schema: Schema, value: unknown, path: string, out: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) valuePaths(schema.items ?? {}, v, `${path}[]`, out);
    return;
  }
  if (value !== null && typeof value === 'object' && schema.properties) {
    for (const [k, v] of Object.entries(value)) {
      const prop = schema.properties[k];
      if (!prop) {
        out.add(`${path}.${k} (not in schema)`);
        continue;
      }
      valuePaths(prop, v, `${path}.${k}`, out);
    }
    return;
  }
  out.add(path);
}

function schemaLeaves(schema: Schema, path: string, out: Set<string>): void {
  if (schema.properties) {
    for (const [k, p] of Object.entries(schema.properties)) schemaLeaves(p, `${path}.${k}`, out);
  } else if (schema.items) schemaLeaves(schema.items, `${path}[]`, out);
  else out.add(path);
}

test('types.ts and schema.ts list the same fields (the full example sets every field)', () => {
  for (const [schema, value, name] of [
    [specSchema, fullSpec(), 'spec'],
    [statusSchema, fullStatus(), 'status'],
  ] as const) {
    const fromValue = new Set<string>();
    valuePaths(schema, value, name, fromValue);
    const fromSchema = new Set<string>();
    schemaLeaves(schema, name, fromSchema);
    assert.deepEqual([...fromValue].sort(), [...fromSchema].sort());
  }
});

test('defaults fill nested sections like the apiserver', () => {
  const spec = defaultSpec(minimalSink().spec);
  assert.equal(spec.scaling.minReplicas, 1);
  assert.equal(spec.scaling.mode, 'builtin');
  assert.equal(spec.schema.mode, 'auto');
  assert.equal(spec.batch.maxBatchSize, '64Mi');
  assert.equal(spec.doris.streamLoad?.format, 'json');
  assert.equal(spec.doris.queryPort, 9030);
  assert.equal(spec.dedupe.required, true);
  assert.equal(spec.kafka.fromEarliest, false);
  assert.equal(spec.paused, false);
  assert.equal(spec.logging.level, 'info');
  // as the sinker's own log.enable_sampling: a flood of dead letters is sampled unless asked otherwise
  assert.equal(spec.logging.sampling, true);
  // explicit values win, and defaulting does not mutate its input
  const input = { ...minimalSink().spec, scaling: { minReplicas: 0 } };
  const out = defaultSpec(input);
  assert.equal(out.scaling.minReplicas, 0);
  assert.equal(out.scaling.maxReplicas, 10);
  assert.deepEqual(input.scaling, { minReplicas: 0 });
  // optional sections without defaults stay absent
  assert.equal(out.kafka.sasl, undefined);
  assert.equal(out.kafka.tls, undefined);
  // items of arrays get defaults too
  const s: Schema = { type: 'array', items: { type: 'object', properties: { a: { type: 'integer', default: 7 } } } };
  assert.deepEqual(applyDefaults(s, [{}, { a: 1 }]), [{ a: 7 }, { a: 1 }]);
});

test('CRD has the scale subresource with a label selector path and the printer columns', () => {
  const crd = dorisSinkCrd() as { spec: { versions: Record<string, unknown>[] } };
  const v = crd.spec.versions[0] as {
    subresources: { scale: Record<string, string> };
    additionalPrinterColumns: { name: string }[];
  };
  assert.deepEqual(v.subresources.scale, {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.status.labelSelector',
  });
  const names = v.additionalPrinterColumns.map((c) => c.name);
  for (const n of ['Ready', 'Replicas', 'Lag', 'Schema', 'Age']) assert.ok(names.includes(n), n);
});
