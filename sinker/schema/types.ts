// The normalized model of a Doris table's columns, whatever version spelled the types in DESCRIBE.

export type TypeKind =
  | 'boolean'
  | 'tinyint'
  | 'smallint'
  | 'int'
  | 'bigint'
  | 'largeint'
  | 'float'
  | 'double'
  | 'decimal'
  | 'date'
  | 'datetime'
  | 'time'
  | 'timestamptz'
  | 'char'
  | 'varchar'
  | 'string'
  | 'varbinary'
  | 'json'
  | 'variant'
  | 'ipv4'
  | 'ipv6'
  | 'array'
  | 'map'
  | 'struct'
  | 'hll'
  | 'bitmap'
  | 'quantile_state'
  | 'agg_state';

export interface StructField {
  name: string;
  type: DorisType;
}

export interface DorisType {
  kind: TypeKind;
  /** decimal: total digits. */
  precision?: number;
  /** decimal: digits after the point; datetime/time/timestamptz: fractional-second digits. */
  scale?: number;
  /** char/varchar/varbinary: maximum length in bytes. */
  length?: number;
  /** array element. */
  element?: DorisType;
  /** map key and value. */
  key?: DorisType;
  value?: DorisType;
  struct?: StructField[];
  /** variant / agg_state: the text inside `<...>`, kept verbatim for display and hashing. */
  detail?: string;
  /** Nested element declared NOT NULL (1.2's NOT_NULL(T), or `T not null`). */
  notNull?: boolean;
}

export interface Column {
  name: string;
  type: DorisType;
  nullable: boolean;
  /** Part of the table's key (DESCRIBE `Key` = true). */
  isKey: boolean;
  /** The column default as DESCRIBE shows it; null when there is none. */
  default: string | null;
  /** DESCRIBE `Extra`: aggregation type and flags (AUTO_INCREMENT, STORED GENERATED, ...). */
  extra: string;
}

export interface TableSchema {
  columns: Column[];
  /** Stable hash of names, order, types, nullability and generated-ness: changes exactly when the load shape changes. */
  hash: string;
}
