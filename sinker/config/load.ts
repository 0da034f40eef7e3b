// Loads the sinker's YAML config: parse, apply environment overrides for secrets and address lists,
// validate (defaults filled), and on failure throw one ConfigError listing every problem.
import { readFileSync } from 'node:fs';
import { type Document, LineCounter, parseDocument, visit, type YAMLError } from 'yaml';
import { readFailure, unreadableFiles } from './files.ts';
import { CONFIG_SCHEMA, type SchemaNode } from './schema.ts';
import type { SinkerConfig } from './types.ts';
import { configProblems, finishConfig, redactUrl } from './validate.ts';

export { redactUrl };

export class ConfigError extends Error {
  /** One line per problem: `<path.to.key>: expected X, found Y`. */
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

function section(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const cur = obj[key];
  if (cur === undefined || cur === null) {
    const fresh: Record<string, unknown> = {};
    obj[key] = fresh;
    return fresh;
  }
  return cur as Record<string, unknown>;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Applies the environment overrides to the raw object; returns which config paths came from which
 * variable, so problems with them can say so. KAFKA_SASL_PASSWORD applies only when `kafka.sasl` is set.
 * A variable set to "" overrides nothing, as an unset one: that is what an unset
 * shell or compose variable passed on (`REDIS_URL: ${REDIS_URL}`) gives, and it replaced the file's
 * password with none, or its Redis URL with no Redis (at-least-once with `dedupe.required: false`).
 */
export function applyEnvOverrides(raw: Record<string, unknown>, envIn: Env): Map<string, string> {
  const env: Env = {};
  for (const [k, v] of Object.entries(envIn)) if (v !== undefined && v !== '') env[k] = v;
  const from = new Map<string, string>();
  const isMap = (v: unknown) => v === undefined || v === null || (typeof v === 'object' && !Array.isArray(v));
  if (env.DORIS_PASSWORD !== undefined && isMap(raw.doris)) {
    section(raw, 'doris').password = env.DORIS_PASSWORD;
    from.set('doris.password', 'DORIS_PASSWORD');
  }
  if (env.DORIS_FE_HOSTS !== undefined && list(env.DORIS_FE_HOSTS).length > 0 && isMap(raw.doris)) {
    section(raw, 'doris').fe_hosts = list(env.DORIS_FE_HOSTS);
    from.set('doris.fe_hosts', 'DORIS_FE_HOSTS');
  }
  if (env.KAFKA_BROKERS !== undefined && list(env.KAFKA_BROKERS).length > 0 && isMap(raw.kafka)) {
    section(raw, 'kafka').brokers = list(env.KAFKA_BROKERS);
    from.set('kafka.brokers', 'KAFKA_BROKERS');
  }
  if (env.KAFKA_SASL_PASSWORD !== undefined && isMap(raw.kafka)) {
    const sasl = (raw.kafka as Record<string, unknown> | undefined)?.sasl;
    if (sasl && typeof sasl === 'object' && !Array.isArray(sasl)) {
      (sasl as Record<string, unknown>).password = env.KAFKA_SASL_PASSWORD;
      from.set('kafka.sasl.password', 'KAFKA_SASL_PASSWORD');
    }
  }
  if (env.REDIS_URL !== undefined && isMap(raw.dedupe)) {
    section(raw, 'dedupe').redis_url = env.REDIS_URL;
    from.set('dedupe.redis_url', 'REDIS_URL');
  }
  return from;
}

export interface ParseOptions {
  /** Named in error messages (the file path). */
  source?: string;
  /** Environment for overrides; default process.env. */
  env?: Env;
}

/** Parses and validates YAML text. Throws ConfigError listing every problem. */
export function parseConfig(text: string, opts: ParseOptions = {}): SinkerConfig {
  const source = opts.source ?? 'config';
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => yamlSyntaxProblem(e, text)),
    );
  }
  // An unknown tag is only a warning to yaml, which then reads `password: !s3cret` as "" and
  // `password: !abc def` as "def": a value starting with ! silently becomes another one.
  const tags = doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (tags.length > 0) {
    throw new ConfigError(
      source,
      tags.map((w) => {
        const at = w.linePos?.[0];
        return `${at ? `line ${at.line}, column ${at.col}: ` : ''}YAML syntax: a value starting with ! is a YAML tag, which this config does not use (quote the value: "!...")`;
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(source, [yamlValueProblem(doc, lineCounter, err as Error)]);
  }
  if (raw === null || raw === undefined) raw = {}; // an empty file: all defaults
  let envPaths = new Map<string, string>();
  if (typeof raw === 'object' && !Array.isArray(raw)) {
    envPaths = applyEnvOverrides(raw as Record<string, unknown>, opts.env ?? process.env);
  }
  const problems = configProblems(raw);
  if (problems.length > 0) {
    throw new ConfigError(
      source,
      problems.map((p) => {
        for (const [path, variable] of envPaths) {
          if (p.path === path || p.path.startsWith(`${path}.`) || p.path.startsWith(`${path}[`)) {
            return p.text.replace(`${p.path}:`, `${p.path} (from ${variable}):`);
          }
        }
        return p.text;
      }),
    );
  }
  return finishConfig(raw as Record<string, unknown>);
}

/** Keys whose value is a secret (`x-secret` in the schema), and a Stream Load Authorization header. */
function secretKeys(node: SchemaNode, out = new Set<string>(['authorization'])): Set<string> {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (child['x-secret']) out.add(key);
    secretKeys(child, out);
  }
  return out;
}
const SECRET_KEYS = [...secretKeys(CONFIG_SCHEMA)];

/**
 * A YAML syntax error in words that quote no secret. yaml's messages quote the source they trip on
 * (`Unexpected scalar token in YAML stream: "…"`, `Could not resolve tag: !…`), so an error on the
 * line of a secret key says only where and what to do; elsewhere a URL's password is masked.
 */
function yamlSyntaxProblem(e: YAMLError, text: string): string {
  const at = e.linePos?.[0];
  const where = at ? `line ${at.line}, column ${at.col}: ` : '';
  const line = at ? (text.split('\n')[at.line - 1] ?? '') : '';
  const key = SECRET_KEYS.find((k) => new RegExp(`(^|[\\s{,"'])${k}["']?\\s*:`, 'i').test(line));
  if (key) {
    return `${where}YAML syntax: the value of ${key} is not valid YAML (not shown: secret); quote it: ${key}: "..."`;
  }
  return `${where}YAML syntax: ${redactUrl(e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''))}`;
}

/**
 * Why the YAML could not be turned into values, in words that quote none of them. An unquoted value
 * starting with `*` (a password, say) is an alias to an anchor, and yaml's error names the alias,
 * which is the rest of that value.
 */
function yamlValueProblem(doc: Document, lines: LineCounter, err: Error): string {
  if (err instanceof ReferenceError && err.message.startsWith('Unresolved alias')) {
    let at: { line: number; col: number } | undefined;
    visit(doc, {
      Alias: (_key, node) => {
        if (node.resolve(doc) !== undefined) return undefined;
        if (node.range) at = lines.linePos(node.range[0]);
        return visit.BREAK;
      },
    });
    const where = at ? `line ${at.line}, column ${at.col}: ` : '';
    return `${where}YAML syntax: a value starting with * is an alias, and no anchor of that name comes before it (quote the value: "*...")`;
  }
  return `YAML: ${err.message.split('\n')[0]}`;
}

/** Reads, parses and validates a YAML config file. Throws ConfigError (also for an unreadable file, or a file it names). */
export function loadConfig(path: string, env: Env = process.env): SinkerConfig {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${readFailure(err as NodeJS.ErrnoException)}`]);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Decoded leniently, a byte that is not UTF-8 became U+FFFD, and a password saved as Latin-1
    // (pässword) was silently another one: Doris refused it, and nothing said why.
    const lenient = bytes.toString('utf8');
    const line = lenient.slice(0, lenient.indexOf('\uFFFD')).split('\n').length;
    throw new ConfigError(path, [`line ${line}: the file is not UTF-8 text (save it as UTF-8)`]);
  }
  const config = parseConfig(text, { source: path, env });
  // Files the config names (TLS PEMs) are read later, in Kafka's set-up: a missing one is the
  // config's problem, said now.
  const unreadable = unreadableFiles(config);
  if (unreadable.length > 0) throw new ConfigError(path, unreadable);
  return config;
}

/** A copy safe to log: passwords replaced by `***`, credentials in the Redis URL masked. */
export function redactConfig(c: SinkerConfig): SinkerConfig {
  const copy = structuredClone(c);
  if (copy.doris.password) copy.doris.password = '***';
  if (copy.kafka.sasl?.password) copy.kafka.sasl.password = '***';
  if (copy.dedupe.redis_url) copy.dedupe.redis_url = redactUrl(copy.dedupe.redis_url);
  return copy;
}
