/**
 * Seldon Core v1 on the wire (the wrapper's request forms, mirroring and meta rules, with segserve's
 * deliberate differences: bad input is a 400, a flat row is one row, JSON is strict):
 * SeldonMessage ⇄ what a component takes. For the forest, `data.ndarray` / `data.tensor` go straight into
 * a row-major Float64Array in the model's feature order, and the probabilities come back as a JSON string
 * built without intermediate arrays. Every bad input is a ServeError BAD_DATA naming row, column and
 * what was expected.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FeatureInfo } from '../pipeline/types.js';
import { firstString, InvalidJson, MultipartBody } from './body.js';
import type { PredictInput, SeldonMeta, SeldonMetric } from './component.js';
import { SELDON_LIVENESS_PATH, SELDON_READINESS_PATH } from './constants.js';
import { badData, ServeError, seldonEnvelope, toServeError } from './errors.js';
import type { RequestService } from './metrics.js';
import { JSON_TYPE, send, sendError } from './reply.js';
import type { Runtime } from './runtime.js';

/** Which payload a request carried: the response mirrors it. `data` is `data` with neither sub-key. */
export type PayloadForm = 'ndarray' | 'tensor' | 'data' | 'jsonData' | 'strData' | 'binData';

export interface SeldonRequest {
  form: PayloadForm;
  /** `data.ndarray` (as sent) or `data.tensor` (validated) for the data forms; the payload otherwise. */
  payload: unknown;
  /** `data.names`, or [] */
  names: string[];
  /** The request's `meta`, validated, or undefined. */
  meta: SeldonMeta | undefined;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** A short JSON preview of a value for an error message. */
export function preview(v: unknown, max = 60): string {
  let text: string;
  try {
    text = Buffer.isBuffer(v) ? `<${v.length} bytes>` : (JSON.stringify(v) ?? String(v));
  } catch {
    text = String(v);
  }
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

function inputError(row: number, column: string, expected: string, value: unknown): ServeError {
  return badData(`row ${row}, column "${column}": got ${preview(value)}, expected ${expected}`);
}

/** Parses JSON text from a form field, a query parameter or a multipart part. */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badData(`Can't find JSON in data: ${where} is not valid JSON (${(err as Error).message})`);
  }
}

function parseMeta(raw: unknown): SeldonMeta | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw badData(`meta must be an object, got ${preview(raw)}`);
  const { puid, tags, requestPath, metrics, routing } = raw;
  if (puid !== undefined && puid !== null && typeof puid !== 'string') {
    throw badData(`meta.puid must be a string, got ${preview(puid)}`);
  }
  if (tags !== undefined && tags !== null && !isObject(tags))
    throw badData(`meta.tags must be an object, got ${preview(tags)}`);
  if (routing !== undefined && routing !== null && !isObject(routing)) {
    throw badData(`meta.routing must be an object, got ${preview(routing)}`);
  }
  if (requestPath !== undefined && requestPath !== null) {
    if (!isObject(requestPath))
      throw badData(`meta.requestPath must be an object, got ${preview(requestPath)}`);
    for (const [k, v] of Object.entries(requestPath)) {
      if (typeof v !== 'string')
        throw badData(`meta.requestPath["${k}"] must be a string, got ${preview(v)}`);
    }
  }
  if (metrics !== undefined && metrics !== null && !Array.isArray(metrics)) {
    throw badData(`meta.metrics must be an array, got ${preview(metrics)}`);
  }
  return raw as SeldonMeta;
}

function parseNames(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || !raw.every((n) => typeof n === 'string')) {
    throw badData(`data.names must be an array of strings, got ${preview(raw)}`);
  }
  return raw as string[];
}

/**
 * Reads a SeldonMessage: the first of data, jsonData, strData, binData (the wrapper's order), the names
 * and the meta. With `allowEmpty` (feedback's request and truth) a message without payload is `[]`.
 */
export function parseMessage(msg: unknown, allowEmpty = false): SeldonRequest {
  if (!isObject(msg)) {
    throw badData(
      `Invalid request data type: ${preview(msg)} (expected a JSON object with data, jsonData, strData or binData)`,
    );
  }
  const meta = parseMeta(msg.meta);
  if (msg.data !== undefined) {
    const data = msg.data;
    if (!isObject(data)) throw badData(`data must be an object with ndarray or tensor, got ${preview(data)}`);
    const names = parseNames(data.names);
    if (data.tensor !== undefined && data.tensor !== null) {
      return { form: 'tensor', payload: parseTensor(data.tensor), names, meta };
    }
    if (data.ndarray !== undefined && data.ndarray !== null) {
      if (!Array.isArray(data.ndarray))
        throw badData(`data.ndarray must be an array, got ${preview(data.ndarray)}`);
      return { form: 'ndarray', payload: data.ndarray, names, meta };
    }
    if (data.tftensor !== undefined)
      throw badData('data.tftensor is not supported: send data.ndarray or data.tensor');
    return { form: 'data', payload: [], names, meta };
  }
  if (msg.jsonData !== undefined) return { form: 'jsonData', payload: msg.jsonData, names: [], meta };
  if (msg.strData !== undefined) {
    if (typeof msg.strData !== 'string')
      throw badData(`strData must be a string, got ${preview(msg.strData)}`);
    return { form: 'strData', payload: msg.strData, names: [], meta };
  }
  if (msg.binData !== undefined) {
    const bin = msg.binData;
    if (Buffer.isBuffer(bin)) return { form: 'binData', payload: bin, names: [], meta };
    if (typeof bin !== 'string' || !/^[A-Za-z0-9+/\-_]*={0,2}$/.test(bin)) {
      throw badData('binData must be a base64 string');
    }
    return { form: 'binData', payload: Buffer.from(bin, 'base64'), names: [], meta };
  }
  if (allowEmpty) return { form: 'data', payload: [], names: [], meta };
  throw badData(
    `Invalid request data type: ${preview(msg)} (expected a JSON object with data, jsonData, strData or binData)`,
  );
}

export interface Tensor {
  shape: number[];
  values: number[];
}

function parseTensor(raw: unknown): Tensor {
  if (!isObject(raw)) throw badData(`data.tensor must be an object {shape, values}, got ${preview(raw)}`);
  const { shape, values } = raw;
  if (
    !Array.isArray(shape) ||
    shape.length === 0 ||
    !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)
  ) {
    throw badData(`data.tensor.shape must be an array of non-negative integers, got ${preview(shape)}`);
  }
  if (!Array.isArray(values))
    throw badData(`data.tensor.values must be an array of numbers, got ${preview(values)}`);
  let size = 1;
  for (const d of shape as number[]) size *= d;
  if (size !== values.length) {
    throw badData(
      `data.tensor has ${values.length} values, but shape ${JSON.stringify(shape)} needs ${size} (cannot reshape)`,
    );
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw badData(`data.tensor.values[${i}]: got ${preview(v)}, expected a finite number`);
    }
  }
  return { shape: shape as number[], values: values as number[] };
}

/** A tensor as nested arrays (numpy's reshape), for components. */
export function tensorToNested(t: Tensor): unknown[] {
  const { shape, values } = t;
  const build = (dim: number, offset: number): unknown[] => {
    const n = shape[dim] as number;
    if (dim === shape.length - 1) return values.slice(offset, offset + n);
    let stride = 1;
    for (let k = dim + 1; k < shape.length; k++) stride *= shape[k] as number;
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(build(dim + 1, offset + i * stride));
    return out;
  };
  return build(0, 0);
}

/** X as a component's predict receives it. */
export function componentInput(req: SeldonRequest): PredictInput {
  if (req.form === 'tensor') return tensorToNested(req.payload as Tensor);
  return req.payload as PredictInput;
}

/**
 * Column placement for a request's names: `perm[j]` is the model column of wire column j, or null when
 * the wire order is the model's. Names must be empty or each feature name exactly once.
 */
export function columnOrder(features: readonly FeatureInfo[], names: readonly string[]): Int32Array | null {
  if (names.length === 0) return null;
  const d = features.length;
  const expected = () => features.map((f) => f.name).join(', ');
  if (names.length !== d) {
    throw badData(
      `data.names has ${names.length} names, expected the ${d} features ${expected()} (in any order)`,
    );
  }
  const perm = new Int32Array(d);
  const seen = new Uint8Array(d);
  let identity = true;
  for (let j = 0; j < d; j++) {
    const at = features.findIndex((f) => f.name === names[j]);
    if (at < 0 || seen[at]) {
      throw badData(`data.names[${j}] is ${preview(names[j])}: expected each of ${expected()} once`);
    }
    seen[at] = 1;
    perm[j] = at;
    if (at !== j) identity = false;
  }
  return identity ? null : perm;
}

/**
 * The typed-array fast path's input: the rows of `data.ndarray` (2-D, or one flat row) or `data.tensor`
 * (shape [n, d] or [d]) written row-major into `x`, in the model's column order.
 */
export class MatrixDecoder {
  private scratch: Float64Array;

  constructor(
    private readonly features: readonly FeatureInfo[],
    private readonly maxRows: number,
  ) {
    this.scratch = new Float64Array(features.length * 16);
  }

  /** Decodes into a shared buffer (valid until the next call) and returns it with the row count. */
  decode(req: SeldonRequest): { x: Float64Array; n: number } {
    const perm = columnOrder(this.features, req.names);
    if (req.form === 'ndarray') return this.fromNdarray(req.payload as unknown[], perm);
    if (req.form === 'tensor') return this.fromTensor(req.payload as Tensor, perm);
    const d = this.features.length;
    const what = req.form === 'data' ? 'data with neither ndarray nor tensor' : req.form;
    throw badData(
      `the model takes rows of ${d} numbers (${this.features.map((f) => f.name).join(', ')}) in data.ndarray or data.tensor, not ${what}`,
    );
  }

  private buffer(n: number): Float64Array {
    if (n > this.maxRows) {
      throw new ServeError(
        'PAYLOAD_TOO_LARGE',
        `${n} rows in one request; at most ${this.maxRows} are accepted`,
      );
    }
    const size = n * this.features.length;
    if (this.scratch.length < size) this.scratch = new Float64Array(Math.max(size, this.scratch.length * 2));
    return this.scratch;
  }

  private rowLengthError(i: number, got: unknown): ServeError {
    const d = this.features.length;
    const names = this.features.map((f) => f.name).join(', ');
    if (!Array.isArray(got))
      return badData(`row ${i}: got ${preview(got)}, expected an array of ${d} numbers (${names})`);
    const missing = got.length < d ? `, missing column "${this.features[got.length]?.name}"` : '';
    return badData(`row ${i}: got ${got.length} values, expected ${d} (${names})${missing}`);
  }

  private fromNdarray(rows: unknown[], perm: Int32Array | null): { x: Float64Array; n: number } {
    const d = this.features.length;
    if (rows.length > 0 && !Array.isArray(rows[0])) {
      // One flat row: [34.0, 100.0, 1, 2]
      if (rows.length !== d) throw this.rowLengthError(0, rows);
      const x = this.buffer(1);
      this.copyRow(rows, 0, x, perm);
      return { x, n: 1 };
    }
    const n = rows.length;
    const x = this.buffer(n);
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      if (!Array.isArray(row) || row.length !== d) throw this.rowLengthError(i, row);
      this.copyRow(row, i, x, perm);
    }
    return { x, n };
  }

  private copyRow(row: unknown[], i: number, x: Float64Array, perm: Int32Array | null): void {
    const d = this.features.length;
    const base = i * d;
    for (let j = 0; j < d; j++) {
      const v = row[j];
      const col = perm === null ? j : (perm[j] as number);
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw inputError(i, this.features[col]?.name ?? String(col), 'a finite number', v);
      }
      x[base + col] = v;
    }
  }

  private fromTensor(t: Tensor, perm: Int32Array | null): { x: Float64Array; n: number } {
    const d = this.features.length;
    const { shape, values } = t;
    let n: number;
    if (shape.length === 2 && shape[1] === d) n = shape[0] as number;
    else if (shape.length === 1 && shape[0] === d) n = 1;
    else {
      throw badData(
        `data.tensor.shape ${JSON.stringify(shape)}: expected [rows, ${d}] (${this.features.map((f) => f.name).join(', ')})`,
      );
    }
    const x = this.buffer(n);
    if (perm === null) x.set(values);
    else {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) x[i * d + (perm[j] as number)] = values[i * d + j] as number;
      }
    }
    return { x, n };
  }
}

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

export function defaultNames(k: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < k; i++) names.push(`t:${i}`);
  return names;
}

interface Analysis {
  numeric: boolean;
  shape: number[];
}

/** Whether a component's array answer is a rectangular array of finite numbers, and its shape. */
function analyse(value: unknown): Analysis {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const a = value as unknown as ArrayLike<number>;
    return { numeric: true, shape: [a.length] };
  }
  if (!Array.isArray(value)) return { numeric: typeof value === 'number', shape: [] };
  if (value.length === 0) return { numeric: true, shape: [0] };
  const first = analyse(value[0]);
  if (!first.numeric) return { numeric: false, shape: [value.length] };
  for (let i = 1; i < value.length; i++) {
    const a = analyse(value[i]);
    if (!a.numeric || a.shape.length !== first.shape.length || a.shape.some((d, j) => d !== first.shape[j])) {
      return { numeric: false, shape: [value.length] };
    }
  }
  return { numeric: true, shape: [value.length, ...first.shape] };
}

function flatten(value: unknown, out: number[], path: string, what: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new ServeError(
        'COMPONENT_ERROR',
        `${what} returned a non-finite number (${value}) at ${path || '[0]'}`,
      );
    }
    out.push(value);
    return;
  }
  const a = value as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) flatten(a[i], out, `${path}[${i}]`, what);
}

/** Typed arrays become plain arrays so they print as JSON arrays. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(plain);
  return value;
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

// ---------------------------------------------------------------------------------------------------
// Routes (§2): predictions, feedback, health, metadata, with their aliases.

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The executor's `service` label for request metrics; routes without one are not measured. */
    service?: RequestService;
  }
}

function isForm(req: FastifyRequest): boolean {
  const ct = req.headers['content-type'];
  return ct?.startsWith('application/x-www-form-urlencoded') === true;
}

/**
 * The SeldonMessage of a request, in the wrapper's order (§3): multipart fields (each JSON but
 * `strData`; a `binData` file as bytes), else a form field `json`, else a query parameter `json`, else
 * the JSON body.
 */
export function readMessage(req: FastifyRequest): unknown {
  const body = req.body;
  if (body instanceof MultipartBody) return multipartMessage(body);
  const form = isForm(req);
  if (form) {
    const field = firstString((body as Record<string, unknown> | undefined)?.json);
    if (field !== undefined) return parseJsonText(field, 'the form field json');
  }
  const query = firstString((req.query as Record<string, unknown> | undefined)?.json);
  if (query !== undefined) return parseJsonText(query, 'the query parameter json');
  if (form) {
    throw badData(
      "Can't find JSON in data: the form has no json field (or send Content-Type: application/json)",
    );
  }
  if (body instanceof InvalidJson) throw badData(`Can't find JSON in data: ${body.reason}`);
  if (body === undefined || body === null) throw badData("Can't find JSON in data");
  return body;
}

function multipartMessage(body: MultipartBody): Record<string, unknown> {
  const msg: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of body.fields) {
    if (name === 'binData' && Buffer.isBuffer(value)) msg[name] = value;
    else {
      const text = typeof value === 'string' ? value : value.toString('utf8');
      msg[name] = name === 'strData' ? text : parseJsonText(text, `the multipart field ${preview(name)}`);
    }
  }
  return { ...msg };
}

/** Renders any error in Seldon's envelope; logs defects (ours at error level, a component's at warn). */
export function seldonErrorHandler(
  err: FastifyError | Error,
  req: FastifyRequest,
  reply: FastifyReply,
): void {
  let e: ServeError = toServeError(err);
  if (e.code === 'UNSUPPORTED_MEDIA_TYPE') {
    const type = req.headers['content-type'];
    e = new ServeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${type === undefined ? 'a body without Content-Type' : `Content-Type ${preview(type)}`} is not supported: send application/json, application/x-www-form-urlencoded (json=...) or multipart/form-data`,
    );
  }
  sendError(err, e, req, reply, seldonEnvelope);
}

function stringify(value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new ServeError(
      'COMPONENT_ERROR',
      `${what} returned a value that cannot be sent as JSON: ${(err as Error).message}`,
    );
  }
}

const EMPTY_META = '{}';

export interface SeldonRoutesOptions {
  runtime: Runtime;
}

/** Registers the Seldon v1 routes for `runtime` (a Fastify plugin). */
export async function seldonRoutes(app: FastifyInstance, options: SeldonRoutesOptions): Promise<void> {
  const { runtime } = options;
  const { identity, includeMetricsInResponse } = runtime.settings;
  const component = runtime.component;
  const forest = runtime.forest;
  const decoder = forest ? new MatrixDecoder(forest.features, runtime.maxRows) : undefined;
  const classCount = forest?.classes.length ?? 0;
  const defaultNamesJson = JSON.stringify(defaultNames(classCount));
  const hasIdentityPath = Object.keys(identity.requestPath).length > 0;
  const metadataJson = JSON.stringify(runtime.metadata);

  /** The response meta as JSON, calling the component's tags() and metrics() only when it has them. */
  async function metaJson(
    method: 'predict' | 'health' | 'feedback',
    requestMeta: SeldonMeta | undefined,
  ): Promise<string> {
    const tags = component.tags ? await runtime.tags() : undefined;
    const metrics = component.metrics ? await runtime.customMetrics(method) : [];
    if (requestMeta === undefined && !hasIdentityPath && tags === undefined && metrics.length === 0)
      return EMPTY_META;
    return JSON.stringify(
      responseMeta(requestMeta, tags, metrics, method, identity.requestPath, includeMetricsInResponse),
    );
  }

  // The forest's answer needs neither tags() nor metrics() nor any await: a synchronous handler, so
  // the hot path allocates no promise.
  const syncMeta = component.tags === undefined && component.metrics === undefined;

  function predict(req: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
    const request = parseMessage(readMessage(req));
    if (decoder === undefined) return predictWithComponent(request, req, reply);
    const { x, n } = decoder.decode(request);
    const out = runtime.predictMatrix(x, n);
    const classNames = component.classNames ? runtime.classNames() : undefined;
    // Built before any await: `out` is a shared buffer.
    const data = matrixData(
      request.form,
      out,
      n,
      classCount,
      classNames ? JSON.stringify(classNames) : defaultNamesJson,
    );
    if (syncMeta) {
      const meta =
        request.meta === undefined && !hasIdentityPath
          ? EMPTY_META
          : JSON.stringify(
              responseMeta(
                request.meta,
                undefined,
                [],
                'predict',
                identity.requestPath,
                includeMetricsInResponse,
              ),
            );
      send(req, reply, runtime, JSON_TYPE, `{"data":${data},"meta":${meta}}`);
      return undefined;
    }
    return metaJson('predict', request.meta).then((meta) => {
      send(req, reply, runtime, JSON_TYPE, `{"data":${data},"meta":${meta}}`);
    });
  }

  async function predictWithComponent(
    request: SeldonRequest,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const result = await runtime.predict(componentInput(request), request.names, request.meta ?? {});
    const payload = payloadOf(result, request.form, runtime.classNames(), 'predict()');
    const fragment = stringify(payload, 'predict()').slice(1, -1);
    send(req, reply, runtime, JSON_TYPE, `{${fragment},"meta":${await metaJson('predict', request.meta)}}`);
  }

  async function feedback(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const msg = readMessage(req);
    if (!isObject(msg))
      throw badData(
        `Invalid JSON: feedback must be an object {request, response, reward, truth}, got ${preview(msg)}`,
      );
    for (const key of Object.keys(msg)) {
      if (key !== 'request' && key !== 'response' && key !== 'reward' && key !== 'truth') {
        throw badData(
          `Invalid JSON: feedback has an unknown field ${preview(key)} (expected request, response, reward, truth)`,
        );
      }
    }
    const reward = msg.reward ?? 0;
    if (typeof reward !== 'number' || !Number.isFinite(reward)) {
      throw badData(`Invalid JSON: feedback reward must be a finite number, got ${preview(reward)}`);
    }
    const request = parseMessage(msg.request ?? {}, true);
    if (msg.response !== undefined && msg.response !== null) parseMessage(msg.response, true);
    const truth =
      msg.truth === undefined || msg.truth === null
        ? undefined
        : componentInput(parseMessage(msg.truth, true));
    const routingMap = (msg.response as { meta?: { routing?: Record<string, unknown> } } | undefined)?.meta
      ?.routing;
    const routingValue = routingMap?.[identity.modelName === 'NOT_IMPLEMENTED' ? '0' : identity.modelName];
    const routing = typeof routingValue === 'number' ? routingValue : undefined;
    const result = await runtime.feedback(componentInput(request), request.names, reward, truth, routing);
    let payload: Record<string, unknown>;
    if (result === undefined || result === null) payload = { data: { ndarray: [] } };
    else {
      payload = payloadOf(result, 'ndarray', runtime.classNames(), 'sendFeedback()');
      const data = payload.data as { names?: unknown[] } | undefined;
      if (data?.names?.length === 0) delete data.names; // protobuf JSON leaves out empty repeated fields
    }
    const data = stringify(payload, 'sendFeedback()').slice(1, -1);
    send(req, reply, runtime, JSON_TYPE, `{${data},"meta":${await metaJson('feedback', undefined)}}`);
  }

  async function healthStatus(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const result = await runtime.health();
    const payload = payloadOf(result, 'none', runtime.classNames(), 'healthStatus()');
    const data = stringify(payload, 'healthStatus()').slice(1, -1);
    send(req, reply, runtime, JSON_TYPE, `{${data},"meta":${await metaJson('health', undefined)}}`);
  }

  const predictions = { config: { service: 'predictions' as const } };
  app.post('/api/v1.0/predictions', predictions, predict);
  app.post('/api/v0.1/predictions', predictions, predict);
  app.route({ method: ['GET', 'POST'], url: '/predict', ...predictions, handler: predict });

  const feedbacks = { config: { service: 'feedback' as const } };
  app.post('/api/v1.0/feedback', feedbacks, feedback);
  app.post('/api/v0.1/feedback', feedbacks, feedback);
  app.route({ method: ['GET', 'POST'], url: '/send-feedback', ...feedbacks, handler: feedback });

  app.get(SELDON_LIVENESS_PATH, (req, reply) => {
    send(req, reply, runtime, 'text/html; charset=utf-8', 'pong');
  });
  const status = { config: { service: 'status' as const } };
  app.get(SELDON_READINESS_PATH, status, healthStatus);
  app.get('/api/v1.0/health/status', status, healthStatus);

  const metadata = { config: { service: 'metadata' as const } };
  const sendMetadata = (req: FastifyRequest, reply: FastifyReply): void => {
    send(req, reply, runtime, JSON_TYPE, metadataJson);
  };
  app.get('/metadata', metadata, sendMetadata);
  app.get('/api/v1.0/metadata', metadata, sendMetadata);
}
