// Writes the DorisSink CRD (crds/) and the chart's templated copy from operator/api/schema.ts.
// Run: npx node scripts/gen-crds.ts   (operator/api/crd.test.ts fails when the files are stale)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHART_CRD_FILE, CRD_FILE, chartCrdTemplate, crdYaml } from '../operator/api/crd.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [file, text] of [
  [CRD_FILE, crdYaml()],
  [CHART_CRD_FILE, chartCrdTemplate()],
] as const) {
  const path = join(root, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote ${file}`);
}
