// skaffold.yaml describes the real build and deploy: its artifacts build from the Dockerfiles in the
// repository, its helm release installs the chart in charts/, every value it sets exists in the
// chart's values.yaml, and the dev profile's sample manifest is a DorisSink of the chart's CRD.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Artifact {
  image: string;
  context?: string;
  docker?: { dockerfile?: string };
}
interface Release {
  name: string;
  chartPath: string;
  namespace?: string;
  setValueTemplates?: Record<string, string>;
  setValues?: Record<string, unknown>;
}
interface Profile {
  name: string;
  activation?: { command?: string }[];
  patches?: { op: string; path: string; value?: unknown }[];
  manifests?: { rawYaml?: string[] };
  deploy?: { kubectl?: unknown };
}
interface Skaffold {
  apiVersion: string;
  kind: string;
  build: { artifacts: Artifact[]; local?: { push?: boolean } };
  deploy: { helm: { releases: Release[] } };
  profiles?: Profile[];
}

const sk = parse(readFileSync(join(ROOT, 'skaffold.yaml'), 'utf8')) as Skaffold;

/** Whether a dotted helm value path (a.b.c) exists in values.yaml. */
function hasValue(values: unknown, path: string): boolean {
  let node = values;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

test('skaffold.yaml uses a current v4 schema', () => {
  assert.equal(sk.kind, 'Config');
  // v4beta14 is the schema of skaffold 2.19; older v4 betas still load (skaffold upgrades them).
  const beta = /^skaffold\/v4beta(\d+)$/.exec(sk.apiVersion)?.[1];
  assert.ok(beta && Number(beta) >= 13, `${sk.apiVersion} is not a current skaffold schema`);
});

test('its artifacts build the two images from the real Dockerfiles', () => {
  const byImage = Object.fromEntries(sk.build.artifacts.map((a) => [a.image, a]));
  assert.deepEqual(Object.keys(byImage).sort(), ['doris-sinker', 'doris-sinker-operator']);
  const expected: Record<string, { dockerfile: string; entry: string }> = {
    'doris-sinker': { dockerfile: 'Dockerfile.sinker', entry: 'dist/sinker/main.js' },
    'doris-sinker-operator': { dockerfile: 'Dockerfile.operator', entry: 'dist/operator/main.js' },
  };
  for (const [image, { dockerfile, entry }] of Object.entries(expected)) {
    const a = byImage[image] as Artifact;
    assert.equal(a.context ?? '.', '.', `${image}: the Dockerfiles expect the repository root as context`);
    assert.equal(a.docker?.dockerfile, dockerfile);
    const text = readFileSync(join(ROOT, a.context ?? '.', dockerfile), 'utf8');
    assert.match(
      text,
      new RegExp(`ENTRYPOINT \\["node", "${entry.replace(/\./g, '\\.')}"\\]`),
      `${dockerfile} runs ${entry}`,
    );
  }
  assert.equal(sk.build.local?.push, false, 'the dev loop must not push images anywhere');
});

test('its helm release installs the real chart with the built images, setting only keys values.yaml has', () => {
  const [release] = sk.deploy.helm.releases;
  assert.ok(release && sk.deploy.helm.releases.length === 1);
  const chart = join(ROOT, release.chartPath);
  assert.equal(release.chartPath, 'charts/doris-sinker-operator');
  assert.ok(existsSync(join(chart, 'Chart.yaml')), `${release.chartPath} is not a chart`);
  const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8'));

  const templates = release.setValueTemplates ?? {};
  const keys = [...Object.keys(templates), ...Object.keys(release.setValues ?? {})];
  for (const p of sk.profiles ?? []) {
    for (const patch of p.patches ?? []) {
      const m = /^\/deploy\/helm\/releases\/0\/setValues\/(.+)$/.exec(patch.path);
      if (m?.[1]) keys.push(m[1]);
    }
  }
  for (const key of keys) assert.ok(hasValue(values, key), `skaffold sets ${key}, which values.yaml lacks`);

  // The image values point at the artifacts, through skaffold's IMAGE_REPO_/IMAGE_TAG_ variables.
  const envName = (image: string) => image.replace(/[^A-Za-z0-9]/g, '_');
  assert.equal(templates['image.repository'], `{{.IMAGE_REPO_${envName('doris-sinker-operator')}}}`);
  assert.equal(templates['image.tag'], `{{.IMAGE_TAG_${envName('doris-sinker-operator')}}}`);
  assert.equal(templates['sinkerImage.repository'], `{{.IMAGE_REPO_${envName('doris-sinker')}}}`);
  assert.equal(templates['sinkerImage.tag'], `{{.IMAGE_TAG_${envName('doris-sinker')}}}`);
  const images = new Set(sk.build.artifacts.map((a) => envName(a.image)));
  for (const t of Object.values(templates)) {
    const m = /^\{\{\.IMAGE_(?:REPO|TAG)_(\w+)\}\}$/.exec(t);
    assert.ok(m?.[1] && images.has(m[1]), `${t} names no artifact`);
  }
});

test('the dev profile applies a sample DorisSink of the chart CRD, with the Secrets it references', () => {
  const dev = (sk.profiles ?? []).find((p) => p.name === 'dev');
  assert.ok(dev, 'no dev profile');
  assert.ok(
    dev.activation?.some((a) => a.command === 'dev'),
    'the dev profile is not active for `skaffold dev`',
  );
  assert.ok(dev.deploy && 'kubectl' in dev.deploy, 'the dev profile has no kubectl deployer for its manifests');
  const files = dev.manifests?.rawYaml ?? [];
  assert.ok(files.length > 0);
  const crdTemplate = readFileSync(
    join(ROOT, 'charts', 'doris-sinker-operator', 'templates', 'crd-dorissinks.yaml'),
    'utf8',
  );
  const group = /^ {2}group: (\S+)$/m.exec(crdTemplate)?.[1];
  assert.ok(group, 'no group in the chart CRD');
  const docs = files.flatMap((f) => {
    assert.ok(existsSync(join(ROOT, f)), `${f} does not exist`);
    return parseAllDocuments(readFileSync(join(ROOT, f), 'utf8')).map((d) => d.toJS());
  });
  const sinks = docs.filter((d) => d?.kind === 'DorisSink');
  assert.equal(sinks.length, 1);
  assert.equal(sinks[0].apiVersion, `${group}/v1alpha1`);
  const secrets = new Set(docs.filter((d) => d?.kind === 'Secret').map((d) => d.metadata.name));
  const refs = JSON.stringify(sinks[0].spec).match(/"name":"[^"]+","key"/g) ?? [];
  assert.ok(refs.length >= 2, 'the sample references its Secrets');
  for (const ref of refs) {
    const name = /"name":"([^"]+)"/.exec(ref)?.[1] as string;
    assert.ok(secrets.has(name), `the sample references Secret ${name}, which the dev manifests lack`);
  }
});
