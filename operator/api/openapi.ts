// A small typed subset of the OpenAPI v3 structural schema that CustomResourceDefinitions accept, and
// builders that keep the DorisSink schema readable. Every builder takes the description first, so a
// field can't be declared without the text `kubectl explain` shows.

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface Schema {
  type?: SchemaType;
  description?: string;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema;
  anyOf?: Schema[];
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
}

type Extra = Omit<Schema, 'type' | 'description' | 'properties' | 'items'>;

export function str(description: string, extra: Extra = {}): Schema {
  return { type: 'string', description, ...extra };
}

export function int(description: string, extra: Extra = {}): Schema {
  return { type: 'integer', description, ...extra };
}

export function int64(description: string, extra: Extra = {}): Schema {
  return { type: 'integer', format: 'int64', description, ...extra };
}

export function bool(description: string, extra: Extra = {}): Schema {
  return { type: 'boolean', description, ...extra };
}

export function obj(description: string, properties: Record<string, Schema>, extra: Extra = {}): Schema {
  return { type: 'object', description, properties, ...extra };
}

export function arr(description: string, items: Schema, extra: Extra = {}): Schema {
  return { type: 'array', description, items, ...extra };
}

/** A string-to-string map (labels, annotations, node selectors, Stream Load headers). */
export function stringMap(description: string, extra: Extra = {}): Schema {
  return { type: 'object', description, additionalProperties: { type: 'string' }, ...extra };
}

/** Go-style duration ("90s", "5m", "1h30m"); the operator converts it to seconds for the sinker. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';

export function duration(description: string, defaultValue?: string): Schema {
  const s: Schema = { type: 'string', description: `${description} A duration such as "30s", "5m" or "1h30m".` };
  s.pattern = DURATION_PATTERN;
  s.maxLength = 32;
  if (defaultValue !== undefined) s.default = defaultValue;
  return s;
}

/** Kubernetes resource.Quantity syntax for byte sizes ("16Mi", "1G", 1048576). */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[kMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

export function quantity(description: string, extra: Extra = {}): Schema {
  return {
    description: `${description} A byte count or a quantity such as "16Mi".`,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_PATTERN,
    'x-kubernetes-int-or-string': true,
    ...extra,
  };
}
