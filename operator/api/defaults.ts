// Apply the schema's defaults to an object the way the apiserver does (a missing field with a default
// gets a copy of it, then defaulting continues inside), so the operator behaves the same on objects
// that never went through an apiserver (unit tests) or were stored before a default was added.
import type { Schema } from './openapi.ts';
import { specSchema } from './schema.ts';
import type { DefaultedSpec, DorisSinkSpec } from './types.ts';

export function applyDefaults(schema: Schema, value: unknown): unknown {
  if (Array.isArray(value)) {
    return schema.items ? value.map((v) => applyDefaults(schema.items as Schema, v)) : value;
  }
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    if (out[key] === undefined && prop.default !== undefined) out[key] = structuredClone(prop.default);
    if (out[key] !== undefined) out[key] = applyDefaults(prop, out[key]);
  }
  if (schema.additionalProperties) {
    for (const key of Object.keys(out)) {
      if (!(key in (schema.properties ?? {}))) out[key] = applyDefaults(schema.additionalProperties, out[key]);
    }
  }
  return out;
}

export function defaultSpec(spec: DorisSinkSpec): DefaultedSpec {
  return applyDefaults(specSchema, spec) as DefaultedSpec;
}
