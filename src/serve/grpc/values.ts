/**
 * google.protobuf.Value / Struct / ListValue (SeldonMessage's `jsonData`, `data.ndarray`, `meta.tags`,
 * metadata schemas) ⇄ plain JSON values, as @grpc/proto-loader presents them (`oneofs: true`, enums
 * as strings). Depth is bounded as the REST side bounds JSON nesting.
 */
import { MAX_JSON_DEPTH } from '../constants.js';
import { badData } from '../errors.js';

/** A google.protobuf.Value as proto-loader decodes it (one of the fields set; `kind` names it). */
export interface PbValue {
  kind?: string;
  nullValue?: string | number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: PbStruct;
  listValue?: PbList;
}

export interface PbStruct {
  fields?: Record<string, PbValue>;
}

export interface PbList {
  values?: PbValue[];
}

/** A protobuf Value → a JSON value (null for an unset Value). `where` names it in errors. */
export function fromValue(v: PbValue | null | undefined, where: string, depth = 0): unknown {
  if (v === undefined || v === null) return null;
  if (depth > MAX_JSON_DEPTH) throw badData(`${where} is nested more than ${MAX_JSON_DEPTH} levels deep`);
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue ?? 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'listValue':
      return fromList(v.listValue, where, depth + 1);
    case 'structValue':
      return fromStruct(v.structValue, where, depth + 1);
    default:
      return null;
  }
}

export function fromList(l: PbList | null | undefined, where: string, depth = 0): unknown[] {
  const values = l?.values;
  if (values === undefined) return [];
  const out = new Array<unknown>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = fromValue(values[i], where, depth);
  return out;
}

export function fromStruct(
  s: PbStruct | null | undefined,
  where: string,
  depth = 0,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = s?.fields;
  if (fields === undefined) return out;
  for (const key of Object.keys(fields)) {
    // defineProperty: a "__proto__" key stays a plain key.
    Object.defineProperty(out, key, {
      value: fromValue(fields[key], where, depth),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** A map<string, Value> (meta.tags) → a plain object. */
export function fromValueMap(
  m: Record<string, PbValue> | null | undefined,
  where: string,
): Record<string, unknown> {
  return fromStruct(m ? { fields: m } : undefined, where);
}

const NULL: PbValue = { nullValue: 'NULL_VALUE' };

/** A JSON value (typed arrays as arrays) → a protobuf Value. */
export function toValue(v: unknown): PbValue {
  if (v === null || v === undefined) return NULL;
  switch (typeof v) {
    case 'number':
      return { numberValue: v };
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'object':
      if (Array.isArray(v)) return { listValue: toList(v) };
      if (ArrayBuffer.isView(v)) return { listValue: toList(Array.from(v as unknown as ArrayLike<number>)) };
      return { structValue: toStruct(v as Record<string, unknown>) };
    default:
      return NULL;
  }
}

export function toList(a: readonly unknown[]): PbList {
  const values = new Array<PbValue>(a.length);
  for (let i = 0; i < a.length; i++) values[i] = toValue(a[i]);
  return { values };
}

export function toStruct(o: Readonly<Record<string, unknown>>): PbStruct {
  return { fields: toValueMap(o) };
}

export function toValueMap(o: Readonly<Record<string, unknown>>): Record<string, PbValue> {
  const fields: Record<string, PbValue> = {};
  for (const key of Object.keys(o)) {
    Object.defineProperty(fields, key, {
      value: toValue(o[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return fields;
}
