// Builds Dockerfile.sinker and Dockerfile.operator for real with buildah (no Docker engine: vfs
// storage, chroot isolation, the base image assembled by test/infra/build-base-image.sh) through
// test/support/images.ts, which builds only when the images' inputs changed (the e2e test and the
// demo share that build), then runs each image's entrypoint in a container and inspects what the
// final stage holds.
// test-lane: independent (buildah only, no test-bed part: runs beside the other lanes)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SINKER_UID } from '../../../operator/desired/objects.ts';
import { type EnsuredImage, ensureImage, ensureImages, INPUTS_LABEL, IMAGES as SPECS } from '../../support/images.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUILDAH = ['buildah', '--storage-driver', 'vfs'];
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Cmd {
  status: number;
  stdout: string;
  stderr: string;
}

function buildah(args: string[], timeoutMs = 120_000): Cmd {
  const [bin, ...pre] = BUILDAH as [string, ...string[]];
  const r = spawnSync(bin, [...pre, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`buildah ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function must(r: Cmd, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stderr.slice(-4000)}${r.stdout.slice(-4000)}`);
  return r.stdout;
}

interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  WorkingDir?: string;
}

const IMAGES = {
  sinker: { tag: SPECS.sinker.tags[0] as string, main: 'dist/sinker/main.js' },
  operator: { tag: SPECS.operator.tags[0] as string, main: 'dist/operator/main.js' },
} as const;

const containers: string[] = [];

function config(tag: string): ImageConfig {
  const out = JSON.parse(must(buildah(['inspect', '--type', 'image', tag]), `inspect ${tag}`)) as {
    OCIv1: { config: ImageConfig };
  };
  return out.OCIv1.config;
}

/** A working container of the image; `run` executes argv in it as the image's USER. */
function container(tag: string): { run: (argv: string[]) => Cmd; read: (path: string) => string } {
  const id = must(buildah(['from', '--pull-never', tag]), `buildah from ${tag}`).trim();
  containers.push(id);
  return {
    run: (argv) => buildah(['run', '--isolation', 'chroot', id, '--', ...argv]),
    // A file of the image read from its root directory (vfs: a plain directory), not through
    // `buildah run`, whose output capture came back empty once under load.
    read: (path) => {
      const root = must(buildah(['mount', id]), `buildah mount ${id}`).trim();
      try {
        return readFileSync(join(root, path), 'utf8');
      } finally {
        buildah(['umount', id]);
      }
    },
  };
}

/** Packages that only devDependencies need, per the lock file. */
function devOnlyPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && p.dev === true)
    .map(([path]) => path.slice('node_modules/'.length))
    .filter((name) => !name.includes('/node_modules/'));
}

let ensured: Record<'sinker' | 'operator', EnsuredImage>;

before(async () => {
  // Builds what changed since the last build (one at a time: two builds at once would starve each
  // other and other tests of the 2 cores); unchanged inputs reuse the image in buildah's storage.
  ensured = await ensureImages({ log: (line) => console.log(`# ${line}`) });
});

after(() => {
  for (const id of containers) buildah(['rm', id]);
  buildah(['rmi', 'localhost/doris-sinker-cache-test:it']);
});

for (const [name, image] of Object.entries(IMAGES)) {
  test(`${name} image: non-root user and the entrypoint ${image.main}`, () => {
    const c = config(image.tag);
    assert.ok(c.User, `${image.tag} sets no USER (would run as root)`);
    const uid = (c.User as string).split(':')[0];
    assert.notEqual(uid, '0');
    assert.notEqual(uid, 'root');
    assert.deepEqual(c.Entrypoint, ['node', image.main]);
    assert.equal(c.WorkingDir, '/app');
    const ctr = container(image.tag);
    const id = must(ctr.run(['id', '-u']), 'id -u').trim();
    assert.match(id, /^\d+$/);
    assert.notEqual(id, '0', 'the container runs as root');
    // The process cannot write its own code.
    const write = ctr.run(['sh', '-c', `echo x >> /app/${image.main}`]);
    assert.notEqual(write.status, 0, `uid ${id} can modify /app/${image.main}`);
  });

  test(`${name} image: no tests, sources or devDependencies in the final stage`, () => {
    const ctr = container(image.tag);
    const stray = must(
      ctr.run([
        'sh',
        '-c',
        "find /app -path /app/node_modules -prune -o \\( -name '*.test.*' -o -name '*.ts' -o -name 'tsconfig*.json' -o -name '*.testkit.*' \\) -print",
      ]),
      'find stray files',
    );
    assert.equal(stray.trim(), '', `files that do not belong in the image:\n${stray}`);
    const top = must(ctr.run(['ls', '-A', '/app']), 'ls /app')
      .trim()
      .split('\n')
      .sort();
    assert.deepEqual(top, ['dist', 'node_modules', 'package.json']);
    const dev = devOnlyPackages();
    assert.ok(dev.includes('typescript'), 'the lock lists typescript as dev-only');
    const present = must(
      ctr.run([
        'sh',
        '-c',
        `cd /app/node_modules && for p in ${dev.join(' ')}; do [ -e "$p" ] && echo "$p"; done; true`,
      ]),
      'look for devDependencies',
    ).trim();
    assert.equal(present, '', `devDependencies in the image: ${present}`);
  });
}

test('sinker image: its user is the uid the operator runs sinker pods as', () => {
  // operator/desired sets runAsUser/fsGroup on sinker pods; the image's USER must agree.
  assert.equal(config(IMAGES.sinker.tag).User?.split(':')[0], String(SINKER_UID));
});

test('sinker image: `--help` runs the real CLI', () => {
  const ctr = container(IMAGES.sinker.tag);
  const c = config(IMAGES.sinker.tag);
  const r = ctr.run([...(c.Entrypoint ?? []), '--help']);
  must(r, 'doris-sinker --help');
  assert.match(r.stdout, /doris-sinker/);
  assert.match(r.stdout, /-config/);
  const v = must(ctr.run([...(c.Entrypoint ?? []), '--version']), 'doris-sinker --version');
  assert.match(v, new RegExp(VERSION.replace(/\./g, '\\.')));
});

test('operator image: `--version` runs the real CLI', () => {
  const ctr = container(IMAGES.operator.tag);
  const c = config(IMAGES.operator.tag);
  const out = must(ctr.run([...(c.Entrypoint ?? []), '--version']), 'doris-sinker-operator --version');
  assert.equal(out.trim(), `doris-sinker-operator ${VERSION}`);
  const help = must(ctr.run([...(c.Entrypoint ?? []), '--help']), 'doris-sinker-operator --help');
  assert.match(help, /--sinker-image/);
});

test('images carry the hash of their inputs and every tag names the same image', () => {
  for (const name of ['sinker', 'operator'] as const) {
    const label = must(
      buildah([
        'inspect',
        '--type',
        'image',
        '--format',
        `{{index .OCIv1.Config.Labels "${INPUTS_LABEL}"}}`,
        ensured[name].tag,
      ]),
      `inspect ${ensured[name].tag}`,
    ).trim();
    assert.match(ensured[name].inputs, /^[0-9a-f]{64}$/);
    assert.equal(label, ensured[name].inputs, `${ensured[name].tag} is labelled with other inputs`);
    for (const tag of SPECS[name].tags) assert.equal(imageIdOf(tag), ensured[name].id, `${tag} names another image`);
  }
});

test('the image cache: unchanged or ignored inputs build nothing, a changed file builds, the old image goes', async () => {
  // A small context of its own: the repository's files change under other work, this one doesn't.
  const dir = mkdtempSync(join(tmpdir(), 'image-cache-'));
  const spec = {
    name: 'cache-test',
    context: dir,
    dockerfile: 'Dockerfile',
    tags: ['localhost/doris-sinker-cache-test:it'],
    keep: 1,
  };
  writeFileSync(join(dir, 'Dockerfile'), 'FROM docker.io/library/node:24-bookworm-slim\nCOPY . /ctx/\n');
  writeFileSync(join(dir, '.dockerignore'), 'ignored.txt\n');
  writeFileSync(join(dir, 'kept.txt'), `run ${process.pid} ${Date.now()}\n`);
  writeFileSync(join(dir, 'ignored.txt'), 'a\n');
  const quiet = () => {};
  try {
    const first = await ensureImage(spec, quiet);
    assert.equal(first.built, true, 'new inputs: built');
    const again = await ensureImage(spec, quiet);
    assert.equal(again.built, false, 'same inputs: reused');
    assert.equal(again.id, first.id);
    writeFileSync(join(dir, 'ignored.txt'), 'b\n');
    const ignored = await ensureImage(spec, quiet);
    assert.equal(ignored.built, false, 'a file .dockerignore leaves out is no input');
    assert.equal(ignored.inputs, first.inputs);
    writeFileSync(join(dir, 'kept.txt'), 'changed\n');
    const changed = await ensureImage(spec, quiet);
    assert.equal(changed.built, true, 'a changed context file: rebuilt');
    assert.notEqual(changed.id, first.id);
    assert.equal(imageIdOf(spec.tags[0] as string), changed.id);
    assert.notEqual(buildah(['inspect', '--type', 'image', first.id]).status, 0, 'the build beyond `keep` is removed');
    const ctr = container(spec.tags[0] as string);
    assert.equal(ctr.read('/ctx/kept.txt'), 'changed\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function imageIdOf(tag: string): string {
  return must(buildah(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', tag]), `inspect ${tag}`).trim();
}
