// Builds Dockerfile.sinker and Dockerfile.operator for real with buildah (no Docker engine: vfs
// storage, chroot isolation, the base image assembled by test/infra/build-base-image.sh), then runs
// each image's entrypoint in a container and inspects what the final stage holds.
// No --layers: with vfs every cached layer is a full copy of the root filesystem, which made a build
// take 7-10 min; one commit per stage takes ~2.5 min, and npm's download cache (a mount) keeps
// `npm ci` short.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SINKER_UID } from '../../../operator/desired/objects.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BASE = 'docker.io/library/node:24-bookworm-slim';
const BUILDAH = ['buildah', '--storage-driver', 'vfs'];
const CACHE = process.env.DORIS_SINKER_CACHE ?? join(homedir(), '.cache', 'doris-sinker');
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
  sinker: { dockerfile: 'Dockerfile.sinker', tag: 'localhost/doris-sinker:it', main: 'dist/sinker/main.js' },
  operator: {
    dockerfile: 'Dockerfile.operator',
    tag: 'localhost/doris-sinker-operator:it',
    main: 'dist/operator/main.js',
  },
} as const;

const containers: string[] = [];

function build(image: (typeof IMAGES)[keyof typeof IMAGES]): void {
  const args = [
    'bud',
    '--pull=never',
    '--isolation',
    'chroot',
    '--layers=false',
    '-f',
    image.dockerfile,
    '-t',
    image.tag,
  ];
  // A TLS-intercepting proxy's CA, handed to `npm ci` for the build only (never copied into the image).
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  if (ca && existsSync(ca))
    args.push('--build-arg', 'NODE_EXTRA_CA_CERTS=/run/build-ca.crt', '-v', `${ca}:/run/build-ca.crt:ro`);
  // npm's download cache survives between builds (a mount, not a layer).
  const npmCache = join(CACHE, 'image-npm-cache');
  mkdirSync(npmCache, { recursive: true });
  args.push('-v', `${npmCache}:/root/.npm`, ROOT);
  const previous = buildah(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', image.tag]).stdout.trim();
  const started = Date.now();
  must(buildah(args, 40 * 60_000), `buildah bud -f ${image.dockerfile}`);
  // The tag moved to the new image: drop the old one rather than pile up 400 MB per run.
  const current = buildah(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', image.tag]).stdout.trim();
  if (previous && previous !== current) buildah(['rmi', previous]);
  console.log(`# built ${image.tag} in ${Math.round((Date.now() - started) / 1000)} s`);
}

function config(tag: string): ImageConfig {
  const out = JSON.parse(must(buildah(['inspect', '--type', 'image', tag]), `inspect ${tag}`)) as {
    OCIv1: { config: ImageConfig };
  };
  return out.OCIv1.config;
}

/** A working container of the image; `run` executes argv in it as the image's USER. */
function container(tag: string): { run: (argv: string[]) => Cmd } {
  const id = must(buildah(['from', '--pull-never', tag]), `buildah from ${tag}`).trim();
  containers.push(id);
  return { run: (argv) => buildah(['run', '--isolation', 'chroot', id, '--', ...argv]) };
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

before(() => {
  const base = buildah(['inspect', '--type', 'image', BASE]);
  if (base.status !== 0) {
    throw new Error(`base image ${BASE} is not in buildah's vfs storage: run test/infra/build-base-image.sh`);
  }
  // One after the other: two builds at once would starve each other (and other tests) of the 2 cores.
  build(IMAGES.sinker);
  build(IMAGES.operator);
});

after(() => {
  for (const id of containers) buildah(['rm', id]);
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
