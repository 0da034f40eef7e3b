// Builds the project's images (Dockerfile.sinker, Dockerfile.operator) with buildah only when their
// inputs changed, so the image test, the e2e test and the demo share one build per change.
// An image's inputs are its Dockerfile, the base images it starts FROM (by ID) and every file of the
// build context that .dockerignore lets through; their SHA-256 is a label on the built image. An
// image in buildah's storage with that label is reused (its tags moved onto it), else it is built.
// Optionally hands the images to the test-bed node's containerd (test/infra/load-image, which
// skips an image containerd already holds with the same buildah ID).
// As a command: node test/support/images.ts [--load] [sinker|operator ...]
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type IgnoreRules, isIgnored, mayReinclude, parseIgnore } from './dockerignore.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BASE_IMAGE = 'docker.io/library/node:24-bookworm-slim';
/** The label that carries an image's input hash. */
export const INPUTS_LABEL = 'dev.doris-sinker.inputs';
/** The label that names which image (its first tag's repository) a build is of. */
export const IMAGE_LABEL = 'dev.doris-sinker.image';
/** Untagged builds kept per image: switching between two worktrees or branches then re-tags, not rebuilds. */
const KEEP = 3;
// Bump when the way an image is built changes in a way its inputs don't show (build flags).
const RECIPE = 'buildah bud --layers=false v1';
const BUILDAH = ['--storage-driver', 'vfs'];
const CACHE = process.env.DORIS_SINKER_CACHE ?? join(homedir(), '.cache', 'doris-sinker');

export type ImageName = 'sinker' | 'operator';

export interface ImageSpec {
  /** Names the image in progress lines and its build log. */
  name: string;
  /** The build context (default: the repository). */
  context?: string;
  dockerfile: string;
  /** The first tag is the one images are loaded into containerd under. */
  tags: string[];
  /** Builds of this image kept in buildah's storage, the current one included (default 3; 400 MB each). */
  keep?: number;
}

export const IMAGES: Record<ImageName, ImageSpec> = {
  sinker: {
    name: 'sinker',
    dockerfile: 'Dockerfile.sinker',
    tags: ['localhost/doris-sinker:dev', 'localhost/doris-sinker:it'],
  },
  operator: {
    name: 'operator',
    dockerfile: 'Dockerfile.operator',
    tags: ['localhost/doris-sinker-operator:dev', 'localhost/doris-sinker-operator:it'],
  },
};

export interface EnsuredImage {
  name: string;
  /** The stable tag (…:dev): what pods run. */
  tag: string;
  tags: string[];
  /** buildah's image ID (full). */
  id: string;
  /** SHA-256 of the build inputs, hex. */
  inputs: string;
  built: boolean;
  seconds: number;
}

export interface EnsureOptions {
  /** Default: both. */
  images?: ImageName[];
  /** Also load the images into the test-bed node's containerd. */
  load?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function buildah(args: string[], timeoutMs = 120_000): Run {
  const r = spawnSync('buildah', [...BUILDAH, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`buildah ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function secs(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** The ID of an image in buildah's storage, or undefined. */
export function imageId(ref: string): string | undefined {
  const r = buildah(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', ref]);
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
}

/** Files of the context that .containerignore / .dockerignore let through, sorted. */
export function contextFiles(dir: string, rules: IgnoreRules): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!isIgnored(rules, path) || mayReinclude(rules, path)) walk(path);
      } else if (!isIgnored(rules, path)) {
        out.push(path);
      }
    }
  };
  walk('');
  return out.sort();
}

function ignoreRules(dir: string): IgnoreRules {
  // buildah prefers .containerignore, as Podman does.
  for (const f of ['.containerignore', '.dockerignore']) {
    if (existsSync(join(dir, f))) return parseIgnore(readFileSync(join(dir, f), 'utf8'));
  }
  return parseIgnore('');
}

/** Images a Dockerfile starts FROM (not its own stages). */
export function fromImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const line of dockerfile.split('\n')) {
    const m = /^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!m) continue;
    const image = m[1] as string;
    if (!stages.has(image.toLowerCase()) && !bases.includes(image)) bases.push(image);
    if (m[2]) stages.add(m[2].toLowerCase());
  }
  return bases;
}

/** SHA-256 over an image's build inputs; also returns how many context files went in. */
export function inputsHash(spec: ImageSpec): { hash: string; files: number } {
  const dir = spec.context ?? ROOT;
  const h = createHash('sha256');
  const dockerfile = readFileSync(join(dir, spec.dockerfile), 'utf8');
  h.update(`${RECIPE}\0${spec.dockerfile}\0${dockerfile}\0`);
  for (const base of fromImages(dockerfile)) {
    const id = imageId(base);
    if (!id)
      throw new Error(
        `base image ${base} (FROM in ${spec.dockerfile}) is not in buildah's vfs storage: run test/infra/build-base-image.sh`,
      );
    h.update(`from ${base} ${id}\0`);
  }
  const files = contextFiles(dir, ignoreRules(dir));
  for (const f of files) {
    const st = lstatSync(join(dir, f));
    const body = st.isSymbolicLink() ? `link:${readlinkSync(join(dir, f))}` : readFileSync(join(dir, f));
    const content = createHash('sha256').update(body).digest('hex');
    h.update(`${f}\0${st.mode & 0o111 ? 'x' : '-'}\0${content}\0`);
  }
  return { hash: h.digest('hex'), files: files.length };
}

/** The image in buildah's storage labelled with these inputs, if any. */
function imageWithInputs(hash: string): string | undefined {
  const r = buildah(['images', '--no-trunc', '--filter', `label=${INPUTS_LABEL}=${hash}`, '--format', '{{.ID}}']);
  if (r.status !== 0) throw new Error(`buildah images --filter label=…: ${r.stderr.trim()}`);
  const id = r.stdout
    .trim()
    .split('\n')[0]
    ?.replace(/^sha256:/, '');
  return id || undefined;
}

function repository(spec: ImageSpec): string {
  const tag = spec.tags[0] as string;
  const at = tag.lastIndexOf(':');
  return at > tag.lastIndexOf('/') ? tag.slice(0, at) : tag;
}

interface StoredImage {
  id: string;
  names: string[];
  created: number;
}

function storedImages(filter?: string): StoredImage[] {
  const r = buildah(['images', '--no-trunc', '--json', ...(filter ? ['--filter', filter] : [])]);
  if (r.status !== 0) return [];
  return (JSON.parse(r.stdout || '[]') as { id: string; names: string[] | null; created: number }[]).map((i) => ({
    id: i.id.replace(/^sha256:/, ''),
    names: i.names ?? [],
    created: i.created,
  }));
}

/**
 * Drops builds of this image beyond the newest `keep` (400 MB each in vfs storage), and images its
 * tags left that predate the image label; never one that still has a name or a container.
 */
function prune(spec: ImageSpec, current: string, previous: Set<string>, log: (line: string) => void): void {
  const mine = storedImages(`label=${IMAGE_LABEL}=${repository(spec)}`).sort((a, b) => b.created - a.created);
  const keep = new Set([current, ...mine.slice(0, Math.max(1, spec.keep ?? KEEP) - 1).map((i) => i.id)]);
  const named = new Set(
    storedImages()
      .filter((i) => i.names.length > 0)
      .map((i) => i.id),
  );
  const labelled = new Set(mine.map((i) => i.id));
  const drop = [...mine.map((i) => i.id), ...[...previous].filter((id) => !labelled.has(id))].filter(
    (id) => !keep.has(id) && !named.has(id),
  );
  for (const old of new Set(drop)) {
    const rmi = buildah(['rmi', old]);
    // A container of it (e.g. the image test's, still running) keeps it: a later build retries.
    if (rmi.status === 0) log(`images: ${spec.name}: removed an older build ${old.slice(0, 12)}`);
    else log(`images: ${spec.name}: kept an older build ${old.slice(0, 12)}: ${rmi.stderr.trim().split('\n').pop()}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// One build (and load) at a time on the machine (buildah's storage is machine-wide): two builds of
// the same inputs would waste minutes each, and two at once starve the 2 cores. First come, first
// served: each waiter queues a ticket (time-pid); the oldest ticket of a live process goes next.
async function withLock<T>(log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  const dir = join(tmpdir(), 'doris-sinker-images.queue');
  mkdirSync(dir, { recursive: true });
  const mine = `${String(Date.now()).padStart(15, '0')}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  writeFileSync(join(dir, mine), '');
  let said = 0;
  try {
    for (;;) {
      const queue = readdirSync(dir).sort();
      const live = queue.filter((t) => {
        if (alive(Number(t.split('-')[1]))) return true;
        rmSync(join(dir, t), { force: true });
        return false;
      });
      const at = live.indexOf(mine);
      if (at < 0) writeFileSync(join(dir, mine), '');
      if (at === 0) break;
      if (Date.now() - said > 30_000) {
        const holder = live[0]?.split('-')[1];
        log(`images: waiting for another image build (pid ${holder}; ${Math.max(0, at)} ahead in ${dir})`);
        said = Date.now();
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    return await fn();
  } finally {
    rmSync(join(dir, mine), { force: true });
  }
}

/** Runs `buildah bud`, echoing each STEP line with the time since the build began. */
function bud(spec: ImageSpec, hash: string, log: (line: string) => void): Promise<void> {
  const args = [...BUILDAH, 'bud', '--pull=never', '--isolation', 'chroot', '--layers=false', '-f', spec.dockerfile];
  for (const t of spec.tags) args.push('-t', t);
  args.push('--label', `${INPUTS_LABEL}=${hash}`, '--label', `${IMAGE_LABEL}=${repository(spec)}`);
  // A TLS-intercepting proxy's CA, handed to `npm ci` for the build only (never copied into the image).
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  if (ca && existsSync(ca))
    args.push('--build-arg', 'NODE_EXTRA_CA_CERTS=/run/build-ca.crt', '-v', `${ca}:/run/build-ca.crt:ro`);
  // npm's download cache survives between builds (a mount, not a layer).
  const npmCache = join(CACHE, 'image-npm-cache');
  mkdirSync(npmCache, { recursive: true });
  args.push('-v', `${npmCache}:/root/.npm`, spec.context ?? ROOT);
  const logDir = join(CACHE, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, `image-${spec.name}.log`);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('buildah', args, { cwd: spec.context ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let partial = '';
    const onData = (b: Buffer) => {
      chunks.push(b);
      partial += b.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines)
        if (/^(\[\d+\/\d+\] )?STEP \d+/.test(l)) log(`images: ${spec.name}: [${secs(started)}] ${l.slice(0, 110)}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new Error(`buildah bud -f ${spec.dockerfile}: ${err.message}`)));
    child.on('close', (code) => {
      const out = Buffer.concat(chunks).toString('utf8');
      try {
        mkdirSync(logDir, { recursive: true });
        const fd = openSync(logPath, 'w');
        writeSync(fd, out);
        closeSync(fd);
      } catch {}
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `buildah bud -f ${spec.dockerfile} failed (exit ${code}; full log ${logPath}):\n${out.slice(-4000)}`,
          ),
        );
    });
  });
}

async function ensureOne(spec: ImageSpec, log: (line: string) => void): Promise<EnsuredImage> {
  const started = Date.now();
  const { hash, files } = inputsHash(spec);
  log(
    `images: ${spec.name}: inputs ${hash.slice(0, 12)} (${spec.dockerfile} + ${files} context files) hashed in ${secs(started)}`,
  );
  const previous = new Set(spec.tags.map(imageId).filter((i) => i !== undefined));
  let id = imageWithInputs(hash);
  let built = false;
  if (id) {
    for (const t of spec.tags) if (imageId(t) !== id) buildah(['tag', id, t]);
    log(`images: ${spec.name}: ${spec.tags[0]} is up to date (image ${id.slice(0, 12)})`);
  } else {
    log(`images: ${spec.name}: building ${spec.tags.join(', ')} from ${spec.dockerfile} (no image has these inputs)`);
    const t0 = Date.now();
    await bud(spec, hash, log);
    id = imageWithInputs(hash);
    if (!id) throw new Error(`buildah built ${spec.tags[0]} but no image carries ${INPUTS_LABEL}=${hash}`);
    built = true;
    log(`images: ${spec.name}: built ${spec.tags[0]} (image ${id.slice(0, 12)}) in ${secs(t0)}`);
  }
  prune(spec, id, previous, log);
  return {
    name: spec.name,
    tag: spec.tags[0] as string,
    tags: spec.tags,
    id,
    inputs: hash,
    built,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Builds one image if no image in buildah's storage has its inputs (any spec: tests use small ones). */
export async function ensureImage(
  spec: ImageSpec,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<EnsuredImage> {
  return withLock(log, () => ensureOne(spec, log));
}

/** Hands images to the test-bed node's containerd (needs `test/infra/up node`). */
export function loadImages(
  tags: string[],
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<void> {
  const started = Date.now();
  log(`images: loading ${tags.join(', ')} into the node's containerd`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(ROOT, 'test/infra/load-image'), ...tags], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString('utf8');
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) log(`images: ${l.trim()}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new Error(`test/infra/load-image: ${err.message}`)));
    child.on('close', (code) => {
      if (out.trim()) log(`images: ${out.trim()}`);
      if (code === 0) {
        log(`images: loaded in ${secs(started)}`);
        resolve();
      } else
        reject(
          new Error(
            `test/infra/load-image ${tags.join(' ')} failed (exit ${code}); is the node up? test/infra/up node`,
          ),
        );
    });
  });
}

/** Builds what changed (one build at a time), optionally loads into containerd; returns each image. */
export async function ensureImages(opts: EnsureOptions = {}): Promise<Record<ImageName, EnsuredImage>> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const names = opts.images ?? ['sinker', 'operator'];
  if (!imageId(BASE_IMAGE))
    throw new Error(`base image ${BASE_IMAGE} is not in buildah's vfs storage: run test/infra/build-base-image.sh`);
  const result = {} as Record<ImageName, EnsuredImage>;
  // The load too: two runs importing the same 400 MB into containerd at once only slow each other.
  await withLock(log, async () => {
    for (const n of names) result[n] = await ensureOne(IMAGES[n], log);
    if (opts.load)
      await loadImages(
        names.map((n) => result[n].tag),
        log,
      );
  });
  return result;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      'usage: node test/support/images.ts [--load] [sinker|operator ...]\n' +
        '  Builds localhost/doris-sinker:dev and localhost/doris-sinker-operator:dev (also :it) with buildah\n' +
        '  when their inputs changed; --load also hands them to the test-bed node (test/infra/up node).\n',
    );
    process.exit(0);
  }
  const names = args.filter((a) => !a.startsWith('-'));
  for (const n of names) {
    if (n !== 'sinker' && n !== 'operator') {
      process.stderr.write(`images: unknown image ${JSON.stringify(n)} (sinker or operator)\n`);
      process.exit(2);
    }
  }
  const started = Date.now();
  try {
    const r = await ensureImages({
      load: args.includes('--load'),
      ...(names.length ? { images: names as ImageName[] } : {}),
    });
    for (const img of Object.values(r))
      process.stdout.write(
        `${img.tag} ${img.id.slice(0, 12)} inputs ${img.inputs.slice(0, 12)}${img.built ? ' (built)' : ''}\n`,
      );
    process.stderr.write(`images: done in ${secs(started)}\n`);
  } catch (err) {
    process.stderr.write(`images: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
