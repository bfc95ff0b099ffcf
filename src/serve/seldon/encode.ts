/**
 * Seldon Core v1 answers: the fast path's probabilities as JSON text built without intermediate arrays
 * (`data` mirroring the request's ndarray or tensor, or `jsonData` for records), a user component's
 * answer as the payload its type calls for, and the response `meta`.
 */
import { argmax } from '../../pipeline/model.js';
import { analyse, flatten, plain } from '../answer.js';
import type { SeldonMeta, SeldonMetric } from '../component.js';
import { ServeError } from '../errors.js';
import type { Explanation } from '../explain.js';
import { preview } from '../rows.js';
import { isObject, type PayloadForm } from './decode.js';

type Json = Record<string, unknown>;

/** JSON text of `data` for an n × k matrix, mirroring the request's form (ndarray or tensor). */
export function matrixData(
  form: PayloadForm,
  out: Float64Array,
  n: number,
  k: number,
  namesJson: string,
): string {
  let s: string;
  if (form === 'tensor') {
    s = `{"names":${namesJson},"tensor":{"shape":[${n},${k}],"values":[`;
    const size = n * k;
    for (let i = 0; i < size; i++) s += i === 0 ? `${out[i]}` : `,${out[i]}`;
    return `${s}]}}`;
  }
  s = `{"names":${namesJson},"ndarray":[`;
  for (let i = 0, at = 0; i < n; i++) {
    s += i === 0 ? '[' : ',[';
    for (let c = 0; c < k; c++, at++) s += c === 0 ? `${out[at]}` : `,${out[at]}`;
    s += ']';
  }
  return `${s}]}`;
}

/**
 * JSON text of the `jsonData` answer to records: `{"names": [...], "probabilities": [[...], ...],
 * "predictions": [...]}`, one probability row and one predicted class label per record (in the
 * request's order; one row for a single record too); `labelsJson[c]` is class column c's label as JSON.
 */
export function recordsData(
  out: Float64Array,
  n: number,
  k: number,
  namesJson: string,
  labelsJson: readonly string[],
): string {
  let s = `{"names":${namesJson},"probabilities":[`;
  for (let i = 0, at = 0; i < n; i++) {
    s += i === 0 ? '[' : ',[';
    for (let c = 0; c < k; c++, at++) s += c === 0 ? `${out[at]}` : `,${out[at]}`;
    s += ']';
  }
  s += '],"predictions":[';
  for (let i = 0; i < n; i++) {
    const label = labelsJson[argmax(out, i * k, k)];
    s += i === 0 ? label : `,${label}`;
  }
  return `${s}]}`;
}

/**
 * JSON text of an explanation's `data`, under the names of Alibi's TreeShap explanation:
 * `{"shap_values": K × N × F, "expected_value": [K], "feature_names": [F], "class_names": [K]}`
 * (Alibi's order: one N × F matrix per class). `featureNamesJson` and `classNamesJson` are the JSON
 * arrays of the feature names and the class labels.
 */
export function explanationData(e: Explanation, featureNamesJson: string, classNamesJson: string): string {
  const { n, nClasses: K, nFeatures: F, values, expected } = e;
  let s = '{"shap_values":[';
  for (let k = 0; k < K; k++) {
    s += k === 0 ? '[' : ',[';
    for (let i = 0; i < n; i++) {
      s += i === 0 ? '[' : ',[';
      const at = (i * K + k) * F;
      for (let f = 0; f < F; f++) s += f === 0 ? `${values[at + f]}` : `,${values[at + f]}`;
      s += ']';
    }
    s += ']';
  }
  s += '],"expected_value":[';
  for (let k = 0; k < K; k++) s += k === 0 ? `${expected[k]}` : `,${expected[k]}`;
  return `${s}],"feature_names":${featureNamesJson},"class_names":${classNamesJson}}`;
}

export function defaultNames(k: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < k; i++) names.push(`t:${i}`);
  return names;
}

/**
 * The payload part of a response to a component's answer (SELDON-PROTOCOL.md §5): `jsonData` for an
 * object, `strData` for a string, `binData` for bytes, `data` (ndarray or tensor, mirroring the request;
 * tensor when the request had no `data`) for arrays. `what` names the method in errors.
 */
export function payloadOf(
  result: unknown,
  requestForm: PayloadForm | 'none',
  classNames: readonly string[] | undefined,
  what: string,
): Json {
  if (typeof result === 'string') return { strData: result };
  if (result instanceof Uint8Array) return { binData: Buffer.from(result).toString('base64') };
  const isArray = Array.isArray(result) || (ArrayBuffer.isView(result) && !(result instanceof DataView));
  if (!isArray) {
    if (isObject(result)) return { jsonData: result };
    throw new ServeError(
      'COMPONENT_ERROR',
      `Unknown data type returned as payload by ${what}: ${preview(result)}`,
    );
  }
  const a = analyse(result);
  let names: readonly string[] = [];
  if (a.shape.length >= 2 || (!a.numeric && Array.isArray((result as unknown[])[0]))) {
    const cols = a.numeric ? (a.shape[1] as number) : ((result as unknown[][])[0] as unknown[]).length;
    names = classNames ?? defaultNames(cols);
  }
  if (!a.numeric) return { data: { names, ndarray: result } };
  const values: number[] = [];
  flatten(result, values, '', what);
  if (requestForm === 'ndarray' || requestForm === 'data') return { data: { names, ndarray: plain(result) } };
  return { data: { names, tensor: { shape: a.shape, values } } };
}

/** Copies a JSON object's entries into a null-prototype object (so `__proto__` stays a plain key). */
function assignInto(
  target: Record<string, unknown>,
  source: Readonly<Record<string, unknown>> | undefined,
): void {
  if (source) for (const k of Object.keys(source)) target[k] = source[k];
}

function dict(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

/**
 * The response `meta` (§5): puid echoed if non-empty; tags = request's, then the component's; metrics =
 * request's (echoed as-is), then the component's with `method` added to metrics that have tags;
 * requestPath = the unit's identity, then the request's. Empty parts are left out; routing is dropped.
 */
export function responseMeta(
  requestMeta: SeldonMeta | undefined,
  componentTags: Readonly<Record<string, unknown>> | undefined,
  componentMetrics: readonly SeldonMetric[],
  method: string,
  identityPath: Readonly<Record<string, string>>,
  includeMetrics: boolean,
): Record<string, unknown> {
  const meta = dict();
  if (typeof requestMeta?.puid === 'string' && requestMeta.puid !== '') meta.puid = requestMeta.puid;
  const tags = dict();
  assignInto(tags, requestMeta?.tags ?? undefined);
  assignInto(tags, componentTags);
  if (Object.keys(tags).length > 0) meta.tags = tags;
  if (includeMetrics) {
    const metrics: unknown[] = [...(requestMeta?.metrics ?? [])];
    for (const m of componentMetrics)
      metrics.push(m.tags === undefined ? m : { ...m, tags: { ...m.tags, method } });
    if (metrics.length > 0) meta.metrics = metrics;
  }
  const path = dict();
  assignInto(path, identityPath);
  assignInto(path, requestMeta?.requestPath ?? undefined);
  if (Object.keys(path).length > 0) meta.requestPath = path;
  return meta;
}

/** JSON text of a component's value; a value that cannot be JSON is the component's error. */
export function stringify(value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new ServeError(
      'COMPONENT_ERROR',
      `${what} returned a value that cannot be sent as JSON: ${(err as Error).message}`,
    );
  }
}
