// Deterministic Stream Load labels. A label names one load of one partition's offset range, so a
// retry, a restarted sinker and a zombie owner all send the same label for the same rows and Doris
// refuses the duplicate (DESIGN §3). Doris accepts `^[-_A-Za-z0-9:]{1,128}$` (no dots).
import { createHash } from 'node:crypto';

export const MAX_LABEL_LENGTH = 128;
const LABEL_RE = /^[-_A-Za-z0-9:]{1,128}$/;
/** Characters a clean component may hold: the label alphabet minus ':' (the separator). */
const CLEAN_COMPONENT_RE = /^[-_A-Za-z0-9]+$/;
const DECIMAL_RE = /^(0|[1-9][0-9]{0,18})$/;
/** Hex digits of SHA-256 kept in a hashed label: 96 bits, collisions practically impossible. */
const HASH_HEX = 24;

export function isValidLabel(label: string): boolean {
  return LABEL_RE.test(label);
}

/** Replace every character Doris refuses in a label (and the separator ':') with '_'. */
export function sanitizeLabelPart(part: string): string {
  return part.replace(/[^-_A-Za-z0-9]/g, '_');
}

/** A short hex digest (96 bits of SHA-256) of a tuple of strings, for labels that must name exact inputs. */
export function digest(parts: readonly string[]): string {
  // JSON of the array keeps the tuple unambiguous whatever the parts contain.
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, HASH_HEX);
}

/**
 * The label of the load that starts at `firstOffset` of `topic`/`partition` for sink `sink`.
 * Clean inputs give `sink:topic:partition:offset`. When a name holds characters Doris refuses (or
 * ':'), or the result would pass 128 characters, the label becomes a sanitized, truncated
 * `sink:topic` prefix + `:partition:offset:h<hash of the exact inputs>`; the clean form ends in
 * digits and the hashed form in `h<hex>`, so the two forms never meet and distinct inputs never
 * share a label.
 */
export function loadLabel(sink: string, topic: string, partition: number, firstOffset: string): string {
  if (!Number.isSafeInteger(partition) || partition < 0) {
    throw new Error(`label: partition must be a non-negative integer, got ${partition}`);
  }
  if (!DECIMAL_RE.test(firstOffset)) {
    throw new Error(`label: firstOffset must be a non-negative decimal int64, got ${JSON.stringify(firstOffset)}`);
  }
  if (sink === '' || topic === '') throw new Error('label: sink and topic names must not be empty');
  const clean = `${sink}:${topic}:${partition}:${firstOffset}`;
  if (CLEAN_COMPONENT_RE.test(sink) && CLEAN_COMPONENT_RE.test(topic) && clean.length <= MAX_LABEL_LENGTH) {
    return clean;
  }
  const tail = `:${partition}:${firstOffset}:h${digest([sink, topic, String(partition), firstOffset])}`;
  const head = `${sanitizeLabelPart(sink)}:${sanitizeLabelPart(topic)}`.slice(0, MAX_LABEL_LENGTH - tail.length);
  return head + tail;
}

/**
 * A label derived from another one for an auxiliary load (e.g. a 2PC probe while bisecting a
 * batch Doris refused for data quality): `base` + `_` + `suffix`, shortened with a hash when needed.
 * The suffix must start with a letter: a derived label's last ':'-part then holds `_<letter>`, which a
 * `loadLabel` never has (it ends in `:<digits>` or `:h<hex>`), so the two never meet.
 */
export function derivedLabel(base: string, suffix: string): string {
  if (!/^[A-Za-z][-_A-Za-z0-9]*$/.test(suffix)) {
    throw new Error(`label: derived suffix must start with a letter and be clean, got ${JSON.stringify(suffix)}`);
  }
  const plain = `${base}_${suffix}`;
  if (plain.length <= MAX_LABEL_LENGTH && isValidLabel(plain)) return plain;
  const tail = `_${suffix}_h${digest([base, suffix])}`;
  if (tail.length >= MAX_LABEL_LENGTH) throw new Error(`label: derived suffix too long (${suffix.length} chars)`);
  return sanitizeLabelPart(base).slice(0, MAX_LABEL_LENGTH - tail.length) + tail;
}

/** One partition's share of a merged load: its inclusive offset range and the owner token (epoch) of the run loading it. */
export interface MergedPart {
  partition: number;
  first: string;
  last: string;
  token: string;
}

/**
 * The label of a load that merges several partitions' ranges (batch.merge_partitions). Such a load
 * is fenced by the owner tokens in Redis and 2PC, not by label collisions, so the label only has to
 * be unique and the same on a retry: a hash of every part, tokens included (a new owner of the
 * same ranges gets another label). Its third ':'-part is `m<count>`, which a `loadLabel` (digits)
 * or `derivedLabel` (`_<letter>` suffix) never has.
 */
export function mergedLabel(sink: string, topic: string, parts: readonly MergedPart[]): string {
  if (parts.length < 2) throw new Error(`label: a merged load needs at least 2 parts, got ${parts.length}`);
  if (sink === '' || topic === '') throw new Error('label: sink and topic names must not be empty');
  const key = [...parts]
    .sort((a, b) => a.partition - b.partition)
    .flatMap((p) => [String(p.partition), p.first, p.last, p.token]);
  const tail = `:m${parts.length}:h${digest([sink, topic, ...key])}`;
  const head = `${sanitizeLabelPart(sink)}:${sanitizeLabelPart(topic)}`.slice(0, MAX_LABEL_LENGTH - tail.length);
  return head + tail;
}

/**
 * The label of a `doris-sinker replay` load of exactly `offsets` (ascending, distinct) of
 * `topic`/`partition`: derived from the load label of its first offset with the suffix
 * `replay-<digest of every offset>`. Two chunks with the same first offset but other records (the
 * DLQ grew, an earlier run used --limit) get different labels, and the same records always get the
 * same one. `refusedBefore` counts how often Doris refused an offset in earlier replays: a load whose
 * rows were all refused still commits its label (empty), so the next attempt at the same records
 * needs another one. Its last ':'-part holds `_replay-`, which no load, probe or merged label has.
 */
export function replayLabel(
  sink: string,
  topic: string,
  partition: number,
  offsets: readonly string[],
  refusedBefore: ReadonlyMap<string, number> = new Map(),
): string {
  if (offsets.length === 0) throw new Error('label: a replay load needs at least one offset');
  const parts: string[] = ['replay', sink, topic, String(partition)];
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i] as string;
    if (!DECIMAL_RE.test(o)) {
      throw new Error(`label: replay offset must be a non-negative decimal int64, got ${JSON.stringify(o)}`);
    }
    if (i > 0 && BigInt(o) <= BigInt(offsets[i - 1] as string)) {
      throw new Error(`label: replay offsets must be ascending and distinct (${offsets[i - 1]} then ${o})`);
    }
    const n = refusedBefore.get(o) ?? 0;
    parts.push(n > 0 ? `${o}#${n}` : o);
  }
  return derivedLabel(loadLabel(sink, topic, partition, offsets[0] as string), `replay-${digest(parts)}`);
}
