/**
 * What gRPC calls share with REST's request ids and payload log (../payload-log.ts):
 * - the request id of a call, from its metadata `x-request-id`, else `seldon-puid`, with the same
 *   precedence and bounds as the REST headers (requestIdFrom), else a fresh UUID as REST makes one;
 * - a protobuf message as JSON for the payload log's events: the message as @grpc/proto-loader presents
 *   it (field names as in the .proto, 64-bit integers as numbers), in proto3's JSON mapping where it
 *   differs: bytes as base64, google.protobuf.Value / ListValue / Struct as plain JSON (so a Seldon
 *   message reads as the REST body would), NaN and infinities as the strings "NaN", "Infinity",
 *   "-Infinity", and without proto-loader's oneof fields (`data_oneof`, `parameter_choice`, `kind`);
 * - an error answered with a gRPC status as JSON, for the response event.
 * Nothing here throws: a message that cannot be written (nested deeper than MAX_JSON_DEPTH) is logged
 * as a one-line JSON note instead.
 */
import { randomUUID } from 'node:crypto';
import { MAX_JSON_DEPTH } from '../constants.js';
import { requestIdFrom } from '../payload-log.js';

/** The metadata keys a request id is read from, in order (grpc-js keys are lower case). */
const ID_KEYS = ['x-request-id', 'seldon-puid'] as const;

/** What this module reads of a call's metadata (grpc-js Metadata fits). */
export interface MetadataLike {
  get(key: string): (string | Buffer)[];
}

/**
 * The request id the client sent in metadata (`x-request-id`, else `seldon-puid`) when it is a plain
 * value (visible ASCII, at most 128 characters; the REST header rule, requestIdFrom), else undefined.
 * A key sent more than once reads as its values joined by ", ", as Node joins a repeated HTTP header.
 */
export function clientRequestId(metadata: MetadataLike): string | undefined {
  const headers: Record<string, string | undefined> = {};
  for (const key of ID_KEYS) {
    const values = metadata.get(key);
    if (values.length === 0) continue;
    // Only `-bin` keys carry Buffers; a Buffer here is not a usable id.
    if (values.some((v) => typeof v !== 'string')) continue;
    headers[key] = values.join(', ');
  }
  return requestIdFrom(headers);
}

/** A call's request id and whether the client sent it (only a client's id becomes a Seldon puid). */
export interface CallIds {
  /** The client's id, or one made here. */
  readonly requestId: string;
  /** The client's id, if it sent a usable one. */
  readonly clientId: string | undefined;
}

/** The request id of a call: the client's (clientRequestId), else a fresh UUID (as REST's genReqId). */
export function callIds(metadata: MetadataLike): CallIds {
  const clientId = clientRequestId(metadata);
  return { requestId: clientId ?? randomUUID(), clientId };
}

// ---- messages as JSON ----

/** proto-loader's `oneofs: true` fields: the name of the member set, not data. */
const ONEOF_FIELDS: ReadonlySet<string> = new Set(['data_oneof', 'parameter_choice']);

class TooDeep extends Error {}

function number(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function bytes(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** A google.protobuf.Value (proto-loader's form, or the one seldon.ts builds) → plain JSON. */
function value(v: unknown, depth: number): unknown {
  if (!isObject(v)) return plain(v, undefined, depth);
  if (depth > MAX_JSON_DEPTH) throw new TooDeep();
  const kind =
    typeof v.kind === 'string'
      ? v.kind
      : ['numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue', 'nullValue'].find(
          (k) => v[k] !== undefined,
        );
  switch (kind) {
    case 'numberValue':
      return typeof v.numberValue === 'number' ? number(v.numberValue) : 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'listValue':
      return list(v.listValue, depth + 1);
    case 'structValue':
      return valueMap((v.structValue as { fields?: unknown } | undefined)?.fields, depth + 1);
    default:
      return null;
  }
}

/** A google.protobuf.ListValue → a JSON array. */
function list(l: unknown, depth: number): unknown[] {
  const values = isObject(l) ? l.values : undefined;
  if (!Array.isArray(values)) return [];
  return values.map((v) => value(v, depth));
}

/** map<string, Value> (or a Struct's fields) → a JSON object; a string map passes as it is. */
function valueMap(m: unknown, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isObject(m)) return out;
  for (const [k, v] of Object.entries(m)) out[k] = value(v, depth);
  return out;
}

/** Any field of a message → JSON, by its value and (for the Value-typed fields) its name. */
function plain(v: unknown, key: string | undefined, depth: number): unknown {
  switch (typeof v) {
    case 'number':
      return number(v);
    case 'bigint':
      return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    case 'object':
      break;
    default:
      return v;
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return bytes(v);
  if (depth > MAX_JSON_DEPTH) throw new TooDeep();
  // SeldonMessage.jsonData and metadata schemas are Values, DefaultData.ndarray a ListValue, Meta.tags
  // a map of Values (Metric.tags, a string map, passes through valueMap unchanged).
  if (key === 'jsonData' || key === 'schema') return value(v, depth);
  if (key === 'ndarray') return list(v, depth);
  if (key === 'tags') return valueMap(v, depth);
  if (Array.isArray(v)) return v.map((x) => plain(x, undefined, depth + 1));
  // A Long (proto-loader's longs option other than Number): its decimal form.
  if (typeof (v as { low?: unknown }).low === 'number' && typeof (v as { high?: unknown }).high === 'number')
    return String(v);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined || ONEOF_FIELDS.has(k)) continue;
    out[k] = plain(x, k, depth + 1);
  }
  return out;
}

/** A protobuf message (as proto-loader decodes it, or as the services build it) as JSON text. */
export function messageJson(message: unknown): string {
  try {
    return JSON.stringify(plain(message ?? {}, undefined, 0));
  } catch (err) {
    return JSON.stringify({
      error:
        err instanceof TooDeep
          ? `not logged: the message nests more than ${MAX_JSON_DEPTH} levels deep`
          : `not logged: the message cannot be written as JSON (${String(err).slice(0, 200)})`,
    });
  }
}

/**
 * An error answer as JSON (the response event of a call that failed): the gRPC status code and
 * message, and the trailers segserve sets (the catalogue's code, Seldon's reason).
 */
export function statusJson(
  code: number,
  message: string,
  trailers: Readonly<Record<string, string>>,
): string {
  return JSON.stringify({ code, message, metadata: trailers });
}
