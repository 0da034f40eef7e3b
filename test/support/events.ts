// Deterministic generator of the canonical tb_event messages (../shared/bench/WORKLOAD.md): the same
// seed gives the same messages, so benchmarks, integration tests and the demo share one workload.

/** Small, fast, seedable PRNG (splitmix32); not for anything security related. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** What the dirty mix did to a message; `clean` means a valid message as the table expects. */
export type EventKind =
  | 'clean'
  | 'missing_required'
  | 'extra_fields'
  | 'number_as_string'
  | 'wrong_type'
  | 'invalid_json';

export interface GeneratedEvent {
  id: bigint;
  kind: EventKind;
  /** The object before serialization (absent for invalid JSON). */
  fields?: Record<string, unknown>;
  /** The exact message bytes to produce. */
  value: string;
}

export interface GeneratorOptions {
  seed: number;
  mix: 'clean' | 'dirty';
  /** First id; ids increase by one per message. */
  firstId?: bigint;
  /** Epoch ms the event times start from (default a fixed date, so output is reproducible). */
  startTimeMs?: number;
}

const EVENT_TYPES = ['alert', 'recovery', 'change', 'deploy', 'audit', 'metric'];
const SOURCES = ['prometheus', 'zabbix', 'grafana', 'cloudwatch', 'datadog', 'custom'];
const WORDS = ['disk', 'cpu', 'latency', 'node', 'pod', 'queue', 'error', 'timeout', 'spike', 'memory', 'network'];
// Strings a naive CSV or JSON encoder breaks on; the dirty mix puts them in string columns.
const TRICKY = [
  'a,b,c',
  'say "hi"',
  'tab\there',
  'line1\nline2',
  'back\\slash',
  'ctrl\u0001char',
  'emoji 🚀🔥',
  '中文字符测试',
  'mixed, "q"\t\n\\ 🙂 日本',
  'trailing backslash\\',
  '\\N',
];

function sentence(rng: Rng, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(rng.pick(WORDS));
  return out.join(' ');
}

function cleanFields(rng: Rng, id: bigint, timeMs: number, dirty: boolean): Record<string, unknown> {
  const tricky = () => (dirty && rng.chance(0.3) ? rng.pick(TRICKY) : sentence(rng, 3));
  const eventTime = timeMs - rng.int(5000);
  const date = new Date(eventTime);
  const f: Record<string, unknown> = {
    id,
    integration_id: 1000 + rng.int(100),
    arrive_time: timeMs,
    event_time: eventTime,
    event_type: rng.pick(EVENT_TYPES),
    source: rng.pick(SOURCES),
    title: tricky(),
    description: `${sentence(rng, 12)} ${tricky()}`,
    priority: rng.int(5),
    severity: rng.int(8),
    is_recovered: rng.chance(0.3),
    score: Math.round(rng.next() * 1_000_000) / 1000,
    amount: `${rng.int(1_000_000)}.${String(rng.int(10_000)).padStart(4, '0')}`,
    event_date: date.toISOString().slice(0, 10),
    created_at: date.toISOString().slice(0, 23).replace('T', ' '),
    labels: { env: rng.pick(['prod', 'staging', 'dev']), team: rng.pick(['sre', 'db', 'web']) },
  };
  // About 30 of the 50 extend fields, short strings; ~1 KiB per message in all.
  for (let i = 1; i <= 50; i++) {
    if (rng.chance(0.6)) f[`extend${i}`] = `${rng.pick(WORDS)}-${rng.int(100_000)}`;
  }
  return f;
}

const REQUIRED = ['id', 'integration_id', 'arrive_time', 'event_time'] as const;

/**
 * Serializes an event. bigint values (ids past 2^53) and a numeric-string `amount` are written as
 * bare number tokens, so the message carries every digit and no double rounding is involved.
 */
export function serialize(fields: Record<string, unknown>): string {
  let json = JSON.stringify(fields, (_k, v) => (typeof v === 'bigint' ? `__bigint__${v}` : v));
  json = json.replace(/"__bigint__(-?\d+)"/g, '$1');
  if (typeof fields.amount === 'string' && /^-?\d+(\.\d+)?$/.test(fields.amount)) {
    json = json.replace(`"amount":"${fields.amount}"`, `"amount":${fields.amount}`);
  }
  return json;
}

export function* generateEvents(options: GeneratorOptions): Generator<GeneratedEvent> {
  const rng = new Rng(options.seed);
  let id = options.firstId ?? 1n;
  let time = options.startTimeMs ?? Date.UTC(2026, 0, 1);
  const dirty = options.mix === 'dirty';
  for (;;) {
    time += rng.int(3);
    const fields = cleanFields(rng, id, time, dirty);
    let kind: EventKind = 'clean';
    if (dirty) {
      const roll = rng.next();
      if (roll < 0.001) kind = 'invalid_json';
      else if (roll < 0.006) kind = 'wrong_type';
      else if (roll < 0.016) kind = 'number_as_string';
      else if (roll < 0.036) kind = 'extra_fields';
      else if (roll < 0.086) kind = 'missing_required';
    }
    let value: string;
    switch (kind) {
      case 'invalid_json':
        value = serialize(fields).slice(0, 40 + rng.int(40));
        yield { id, kind, value };
        id++;
        continue;
      case 'wrong_type':
        fields.priority = { nested: 'object' };
        break;
      case 'number_as_string':
        fields.priority = String(fields.priority);
        fields.integration_id = String(fields.integration_id);
        break;
      case 'extra_fields':
        fields.unknown_field = 'ignored';
        fields.another_extra = { deep: [1, 2, 3] };
        break;
      case 'missing_required':
        delete fields[rng.pick(REQUIRED.filter((k) => k !== 'id'))];
        break;
    }
    value = serialize(fields);
    yield { id, kind, fields, value };
    id++;
  }
}

/** The first `count` events of a generator, as an array. */
export function takeEvents(options: GeneratorOptions, count: number): GeneratedEvent[] {
  const out: GeneratedEvent[] = [];
  for (const e of generateEvents(options)) {
    if (out.length >= count) break;
    out.push(e);
  }
  return out;
}
