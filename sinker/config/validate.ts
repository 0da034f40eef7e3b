// Validates a parsed config object against CONFIG_SCHEMA (ajv, defaults filled in place) plus the
// checks one schema cannot express, and words every problem as `<path.to.key>: expected X, found Y`.
import { Ajv, type ErrorObject } from 'ajv';
import { checkFormatForColumns } from '../encode/encoders.ts';
import { isCanonicalDateTime } from '../mapper/convert.ts';
import { columnsFromManual, SchemaError } from '../schema/schema.ts';
import {
  CONFIG_SCHEMA,
  RESERVED_STREAM_LOAD_HEADERS,
  ROW_DROPPING_STREAM_LOAD_HEADERS,
  type SchemaNode,
} from './schema.ts';
import type { SinkerConfig } from './types.ts';

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowUnionTypes: true });
ajv.addVocabulary(['x-expected', 'x-secret', 'x-env', 'x-unit']);
const validateSchema = ajv.compile(CONFIG_SCHEMA as object);

/** `/kafka/brokers/0` → `kafka.brokers[0]`. */
export function jsonPointerToPath(pointer: string, extra?: string): string {
  const parts = pointer === '' ? [] : pointer.slice(1).split('/');
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const raw of parts) {
    const p = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^\d+$/.test(p)) out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out === '' ? '(top level)' : out;
}

function rangeText(base: string, n: SchemaNode): string {
  if (n.minimum !== undefined && n.maximum !== undefined) return `${base} from ${n.minimum} to ${n.maximum}`;
  if (n.minimum !== undefined) return `${base} ≥ ${n.minimum}`;
  if (n.exclusiveMinimum !== undefined) return `${base} > ${n.exclusiveMinimum}`;
  if (n.maximum !== undefined) return `${base} ≤ ${n.maximum}`;
  return base;
}

/** What a schema node accepts, in words ("an integer ≥ 1", "one of auto, manual", ...). */
export function describeExpected(n: SchemaNode | undefined): string {
  if (!n) return 'nothing (this key is not known)';
  if (n['x-expected']) return n['x-expected'];
  if (n.enum) return `one of ${n.enum.map((v) => String(v)).join(', ')}`;
  switch (n.type) {
    case 'integer':
      return rangeText('an integer', n);
    case 'number':
      return rangeText('a number', n);
    case 'boolean':
      return 'true or false';
    case 'string':
      return n.minLength ? 'a non-empty string' : 'a string';
    case 'array': {
      const item = describeExpected(n.items).replace(/^an? /, '');
      const items = item.endsWith('string') ? `${item}s` : item === 'mapping' ? 'mappings' : `items (each ${item})`;
      return `${n.minItems ? 'a non-empty list' : 'a list'} of ${items}`;
    }
    case 'object':
      return 'a mapping of keys to values';
    default:
      return 'a value';
  }
}

/**
 * `url` with its password (if any) replaced by `***`: the userinfo's, and a `password` query
 * parameter's (ioredis reads `redis://host?password=...` too).
 */
export function redactUrl(url: string): string {
  // user:password@host:port without a scheme: URL takes `user:` for one and the rest for a path
  // with no password in it, so the password was shown.
  if (!url.includes('//')) return url.replace(/^([^:@/\s]*):.*@/, '$1:***@');
  try {
    const u = new URL(url);
    if (!u.password && !u.searchParams.has('password')) return url;
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString().replace('password=%2A%2A%2A', 'password=***');
  } catch {
    // Not a URL (a bad port, a space in the host): everything up to the last @ of the line may be
    // the password, which can itself hold / or @.
    return url.replace(/\/\/([^:@/]*):.*@/, '//$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
  }
}

/** Why ioredis could not read `url`, or undefined when it can. */
function redisUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'it does not parse as a URL: a bad port or host, or a character in the password to percent-encode';
  }
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    return 'a % in the user or password that is not a %XX escape: write % as %25';
  }
  return undefined;
}

/**
 * A value as an error message shows it; secrets are never shown, nor a password inside a URL (a
 * Redis URL, or a URL with user:password@ given where a host:port belongs: fe_hosts, brokers).
 */
export function describeFound(v: unknown, secret = false): string {
  if (v === undefined) return 'nothing';
  if (secret) return 'a value (hidden: secret)';
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') {
    const shown = redactUrl(v);
    return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown);
  }
  return String(v);
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The known key closest to an unknown one (typos, camelCase for snake_case), if any is close. */
export function didYouMean(unknown: string, known: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replaceAll(/[_-]/g, '');
  const exact = known.find((k) => norm(k) === norm(unknown));
  if (exact) return exact;
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = levenshtein(unknown.toLowerCase(), k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(unknown.length / 3)) ? best : undefined;
}

/** Every key path of the schema's sections, by its last key normalized (`refresh_interval` → its paths). */
function keyPaths(node: SchemaNode, prefix: string, out = new Map<string, string[]>()): Map<string, string[]> {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const norm = key.toLowerCase().replaceAll(/[_-]/g, '');
    out.set(norm, [...(out.get(norm) ?? []), path]);
    if (child.type === 'object') keyPaths(child, path, out);
  }
  return out;
}
const KEY_PATHS = keyPaths(CONFIG_SCHEMA, '');

function formatAjvError(e: ErrorObject): { path: string; text: string } {
  const parent = e.parentSchema as SchemaNode | undefined;
  if (e.keyword === 'additionalProperties') {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    // In a {...} mapping an unquoted password ends at a comma: {password: ab,cd} is the password
    // "ab" and a key "cd" with no value. Such a key beside a secret is not quoted.
    const secret = Object.entries(parent?.properties ?? {}).find(([, n]) => n['x-secret'])?.[0];
    if (secret && (e.data as Record<string, unknown> | undefined)?.[key] === null) {
      const at = jsonPointerToPath(e.instancePath);
      return {
        path: `${at}.${secret}`,
        text: `${at}: a key without a value that is not known here (not shown: it may be the rest of ${at}.${secret}, cut at a comma in a {...} mapping; quote the value)`,
      };
    }
    const path = jsonPointerToPath(e.instancePath, key);
    const known = Object.keys(parent?.properties ?? {});
    const guess = didYouMean(key, known);
    const norm = key.toLowerCase().replaceAll(/[_-]/g, '');
    // The key of another section, written in this one: schema.refresh_interval for
    // schema.auto.refresh_interval (the DorisSink has schema.refreshInterval), metrics.host for
    // pprof.host (a near miss here, "port", would mislead).
    const elsewhere =
      /^[a-z_]+$/i.test(key) && !e.instancePath.includes('/columns/') ? (KEY_PATHS.get(norm) ?? []) : [];
    const hint =
      guess && guess.toLowerCase().replaceAll(/[_-]/g, '') === norm
        ? `did you mean "${guess}"?`
        : elsewhere.length > 0
          ? `did you mean ${elsewhere.join(' or ')}?`
          : guess
            ? `did you mean "${guess}"?`
            : known.length > 0
              ? `known keys: ${known.join(', ')}`
              : 'no keys are allowed here';
    return { path, text: `${path}: unknown key (${hint})` };
  }
  if (e.keyword === 'required') {
    const key = (e.params as { missingProperty: string }).missingProperty;
    const path = jsonPointerToPath(e.instancePath, key);
    return {
      path,
      text: `${path}: expected ${describeExpected(parent?.properties?.[key])}, found nothing (the key is required)`,
    };
  }
  const path = jsonPointerToPath(e.instancePath);
  const node = parent;
  // A number written with a unit, as the DorisSink takes durations and sizes ("30s", "10Mi"): say
  // what the plain number counts here.
  const unit =
    node?.['x-unit'] && typeof e.data === 'string' && /^\s*[0-9.]+\s*[A-Za-z]+\s*$/.test(e.data)
      ? ` (a plain number of ${node['x-unit']}, without a unit)`
      : '';
  return {
    path,
    text: `${path}: expected ${describeExpected(node)}, found ${describeFound(e.data, node?.['x-secret'] === true)}${unit}`,
  };
}

export interface Problem {
  path: string;
  text: string;
}

function get(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** Checks that span several keys (run on the defaulted object, defensive about wrong types). */
function crossFieldProblems(c: Record<string, unknown>): Problem[] {
  const out: Problem[] = [];
  const add = (path: string, text: string) => out.push({ path, text: `${path}: ${text}` });

  const mode = get(c, ['schema', 'mode']);
  const columns = get(c, ['schema', 'manual', 'columns']);
  let manualNames: string[] | undefined;
  let manualCols: ReturnType<typeof columnsFromManual> | undefined;
  if (Array.isArray(columns)) {
    if (mode === 'manual' && columns.length === 0) {
      add(
        'schema.manual.columns',
        'expected at least one column {name, type} when schema.mode is manual, found an empty list',
      );
    }
    const wellFormed = columns.every(
      (x) => x && typeof x === 'object' && typeof x.name === 'string' && typeof x.type === 'string',
    );
    // Doris column names ignore case: a table has no "id" and "ID" both, and a load naming both is
    // refused (every batch held) rather than the config.
    const firstAt = new Map<string, number>();
    const caseTwice = wellFormed
      ? columns.findIndex((x: { name: string }, i: number) => {
          const k = x.name.toLowerCase();
          if (firstAt.has(k) && columns[firstAt.get(k)!].name !== x.name) return true;
          if (!firstAt.has(k)) firstAt.set(k, i);
          return false;
        })
      : -1;
    if (caseTwice >= 0) {
      const name = columns[caseTwice].name as string;
      const first = firstAt.get(name.toLowerCase())!;
      add(
        `schema.manual.columns[${caseTwice}].name`,
        `expected a column not listed before (Doris column names ignore case), found ${describeFound(name)} (columns[${first}] is ${describeFound(columns[first].name)})`,
      );
    } else if (wellFormed && columns.length > 0) {
      try {
        manualCols = columnsFromManual(columns);
        manualNames = manualCols.map((x) => x.name);
      } catch (err) {
        if (!(err instanceof SchemaError)) throw err;
        const m = /^([^:]+): (.*)$/s.exec(err.message);
        const path = m?.[1] ?? 'schema.manual.columns';
        const idx = /\[(\d+)\]/.exec(path)?.[1];
        const isName = path.endsWith('.name');
        const found = idx !== undefined ? (isName ? columns[Number(idx)].name : columns[Number(idx)].type) : '';
        // A name listed twice was worded as a bad type: "expected a Doris type such as bigint, ..., found "id"".
        const expected = isName
          ? 'a column not listed before'
          : 'a Doris type such as bigint, varchar(64), decimal(18,4), datetime(3), json';
        add(path, `expected ${expected}, found ${describeFound(found)} (${m?.[2] ?? err.message})`);
      }
    }
  }

  // The pattern takes any digits; a date not in the calendar would be every missing DATE field's
  // value, which Doris loads as NULL or filters (the row dead-lettered).
  const zeroDate = get(c, ['schema', 'zero_date']);
  if (typeof zeroDate === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(zeroDate) && !isCanonicalDateTime(zeroDate, true, 0)) {
    add('schema.zero_date', `expected a date YYYY-MM-DD of the calendar, found ${describeFound(zeroDate)}`);
  }

  const redisUrl = get(c, ['dedupe', 'redis_url']);
  const required = get(c, ['dedupe', 'required']);
  const keyFields = get(c, ['dedupe', 'key_fields']);
  if (typeof redisUrl === 'string' && /^rediss?:\/\/./.test(redisUrl)) {
    // ioredis reads the URL with WHATWG URL and decodes its credentials; either failing was a
    // TypeError / URIError from deep inside start-up (exit 1, a stack trace), naming no key.
    const problem = redisUrlProblem(redisUrl);
    if (problem) add('dedupe.redis_url', `expected a redis:// URL, found ${describeFound(redisUrl)} (${problem})`);
  }
  if (redisUrl === '' && required === true) {
    add(
      'dedupe.redis_url',
      'expected a redis:// URL (exactly-once keeps its intents and watermarks in Redis; set dedupe.required: false to run at-least-once without it), found ""',
    );
  }
  if (Array.isArray(keyFields) && keyFields.length > 0) {
    if (redisUrl === '') {
      add(
        'dedupe.key_fields',
        `expected an empty list when dedupe.redis_url is empty (content dedupe keeps its keys in Redis), found [${keyFields.join(', ')}]`,
      );
    }
    if (mode === 'manual' && manualNames) {
      keyFields.forEach((f, i) => {
        if (typeof f === 'string' && !manualNames.includes(f)) {
          add(`dedupe.key_fields[${i}]`, `expected a column of schema.manual.columns, found ${describeFound(f)}`);
        }
      });
    }
  }

  const session = get(c, ['kafka', 'session_timeout']);
  const heartbeat = get(c, ['kafka', 'heartbeat_interval']);
  if (typeof session === 'number' && typeof heartbeat === 'number' && heartbeat >= session) {
    add('kafka.heartbeat_interval', `expected less than kafka.session_timeout (${session}), found ${heartbeat}`);
  }
  const tls = get(c, ['kafka', 'tls']) as Record<string, unknown> | undefined;
  if (tls && typeof tls === 'object' && (tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    const missing = tls.cert_file === undefined ? 'cert_file' : 'key_file';
    add(
      `kafka.tls.${missing}`,
      `expected a PEM file path (mutual TLS needs both cert_file and key_file), found nothing`,
    );
  }

  const dlqTopic = get(c, ['dlq', 'kafka_topic']);
  if (typeof dlqTopic === 'string' && dlqTopic === get(c, ['kafka', 'topic'])) {
    add(
      'dlq.kafka_topic',
      `expected a topic other than kafka.topic (the sinker would consume its own dead letters again), found ${describeFound(dlqTopic)}`,
    );
  }

  const batchSize = get(c, ['batch', 'max_batch_size']);
  const buffer = get(c, ['batch', 'max_buffer_bytes']);
  if (typeof batchSize === 'number' && typeof buffer === 'number' && buffer < batchSize) {
    add('batch.max_buffer_bytes', `expected at least batch.max_batch_size (${batchSize}), found ${buffer}`);
  }
  const metricsPath = get(c, ['metrics', 'path']);
  if (metricsPath === '/healthz' || metricsPath === '/readyz') {
    add(
      'metrics.path',
      `expected a path other than /healthz and /readyz (the probes answer there), found "${metricsPath}"`,
    );
  }
  if (get(c, ['metrics', 'enabled']) === true && get(c, ['pprof', 'enabled']) === true) {
    const mp = get(c, ['metrics', 'port']);
    if (mp === get(c, ['pprof', 'port']))
      add('pprof.port', `expected a port other than metrics.port (${mp}), found ${mp}`);
  }

  const props = get(c, ['doris', 'stream_load_properties']);
  if (props && typeof props === 'object' && !Array.isArray(props)) {
    for (const [k, v] of Object.entries(props)) {
      if (RESERVED_STREAM_LOAD_HEADERS.includes(k.toLowerCase())) {
        // An Authorization value is the user's credentials (Basic is only base64).
        add(
          `doris.stream_load_properties.${k}`,
          `expected no "${k}" header (the sinker sets it itself), found ${describeFound(v, k.toLowerCase() === 'authorization')}`,
        );
      }
      const drops = ROW_DROPPING_STREAM_LOAD_HEADERS[k.toLowerCase()];
      if (drops)
        add(`doris.stream_load_properties.${k}`, `expected no "${k}" header (${drops}), found ${describeFound(v)}`);
    }
  }

  const format = get(c, ['doris', 'format']);
  if (mode === 'manual' && manualCols && (format === 'csv' || format === 'json')) {
    const problem = checkFormatForColumns(format, manualCols);
    if (problem) add('doris.format', `expected json, found "csv" (${problem})`);
  }
  return out;
}

/** A section left empty in YAML (`dlq:` with every key commented out) is null: treat it as absent. */
function dropEmptySections(raw: Record<string, unknown>, node: SchemaNode): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (child.type !== 'object') continue;
    const v = raw[key];
    if (v === null) delete raw[key];
    else if (v && typeof v === 'object' && !Array.isArray(v)) dropEmptySections(v as Record<string, unknown>, child);
  }
}

/**
 * Validates `raw` in place (defaults are filled into it) and returns the problems, empty when valid.
 * Problems are sorted by path; one per path.
 */
export function configProblems(raw: unknown): Problem[] {
  const problems: Problem[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    // A file that is one text value is likely not a config at all: -config given a .env file or a
    // mounted Secret's password file. Its text is not shown, as it may be that password.
    const found =
      typeof raw === 'string' ? 'a single text value, not key: value lines (not shown)' : describeFound(raw);
    return [
      {
        path: '(top level)',
        text: `(top level): expected a mapping of sections (kafka, doris, batch, ...), found ${found}`,
      },
    ];
  }
  dropEmptySections(raw as Record<string, unknown>, CONFIG_SCHEMA);
  if (!validateSchema(raw)) {
    for (const e of validateSchema.errors ?? []) problems.push(formatAjvError(e));
  }
  problems.push(...crossFieldProblems(raw as Record<string, unknown>));
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      if (seen.has(p.path)) return false;
      seen.add(p.path);
      return true;
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The typed config from a validated object: fills the defaults that depend on other keys. */
export function finishConfig(raw: Record<string, unknown>): SinkerConfig {
  const c = raw as unknown as SinkerConfig;
  if (c.dedupe.key_prefix === '') c.dedupe.key_prefix = c.name;
  if (c.dlq.kafka_topic === undefined && c.dlq.file_path === undefined) c.dlq.file_path = `${c.name}-dlq.jsonl`;
  c.doris.stream_load_properties = Object.fromEntries(
    Object.entries(c.doris.stream_load_properties).map(([k, v]) => [k, String(v)]),
  );
  return c;
}
