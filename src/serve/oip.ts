/**
 * The Open Inference Protocol (KServe V2) over REST, on the same app and port as Seldon v1: server
 * metadata, liveness, readiness, model metadata and readiness, and inference. The protocol talks to the
 * Runtime, never to the forest: for a forest-backed component, the inputs go straight into a row-major
 * Float64Array in the model's feature order (the same fast path as v1's ndarray), and the outputs are
 * written as JSON text without intermediate arrays. Errors are ServeErrors from the shared catalogue,
 * rendered as `{"error": "..."}`.
 *
 *   GET  /v2                                   {name, version, extensions}
 *   GET  /v2/health/live                       {live: true}
 *   GET  /v2/health/ready                      {ready: true}; 503 while draining or when healthStatus() throws
 *   GET  /v2/models/{name}[/versions/{v}]      {name, versions, platform, inputs, outputs}
 *   GET  /v2/models/{name}[/versions/{v}]/ready
 *   POST /v2/models/{name}[/versions/{v}]/infer
 *
 * Inference takes one input of shape [N, 4] (columns in the training order) or four inputs named after
 * the features, each of shape [N] or [N, 1]; datatypes FP64, FP32 (rounded to single precision, as the
 * binary form would be), INT64, INT32; `data` flat or nested, row-major. It answers `probabilities`
 * (FP64 [N, k]) and `segment` (INT64 [N], the most probable class label), or those a request's `outputs`
 * names. A component with its own predict() receives the rows instead and answers one output, `predict`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { argmax } from '../pipeline/model.js';
import type { FeatureInfo } from '../pipeline/types.js';
import { VERSION } from '../version.js';
import { InvalidJson } from './body.js';
import type { MetadataTensor, SeldonMeta } from './component.js';
import { OIP_LIVE_PATH, OIP_READY_PATH, OIP_SERVER_PATH } from './constants.js';
import { badData, oipEnvelope, ServeError, toServeError } from './errors.js';
import { JSON_TYPE, send, sendError } from './reply.js';
import { DATATYPES, type Runtime } from './runtime.js';
import { payloadOf, preview } from './seldon.js';

type Json = Record<string, unknown>;

/** The server's name in `GET /v2`. */
export const OIP_SERVER_NAME = 'segserve';

/** The datatypes inference accepts. */
export type Datatype = 'FP64' | 'FP32' | 'INT64' | 'INT32';
const ACCEPTED: ReadonlySet<string> = new Set(['FP64', 'FP32', 'INT64', 'INT32']);
const ACCEPTED_LIST = 'FP64, FP32, INT64 or INT32';
/** Datatypes of the protocol that inference refuses (named as such in the error). */
const OTHER_DATATYPES: ReadonlySet<string> = new Set([...DATATYPES].filter((t) => !ACCEPTED.has(t)));

/** The outputs of a forest-backed model, and of a component with its own predict(). */
export const FOREST_OUTPUTS = ['probabilities', 'segment'] as const;
export const COMPONENT_OUTPUT = 'predict';

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** One request input, its fields checked (not yet its data). */
interface InputTensor {
  name: string;
  shape: number[];
  datatype: Datatype;
  data: unknown[];
}

interface InferRequest {
  id: string | undefined;
  inputs: InputTensor[];
  /** The requested output names, or undefined for all. */
  outputs: string[] | undefined;
}

/** `input "age"`, for messages (built only when one is needed). */
const label = (name: unknown): string => `input ${preview(name)}`;

function expectation(dt: Datatype): string {
  switch (dt) {
    case 'FP64':
      return 'a finite number (FP64)';
    case 'FP32':
      return 'a finite number within the FP32 range';
    case 'INT64':
      return 'an integer (INT64, at most 2^53 in magnitude in JSON)';
    case 'INT32':
      return 'an integer in [-2147483648, 2147483647] (INT32)';
  }
}

/** A value of `dt` as a double, or NaN when it is not one (FP32 values are rounded to single precision). */
function numberOf(v: unknown, dt: Datatype): number {
  if (typeof v !== 'number') return Number.NaN;
  switch (dt) {
    case 'FP64':
      return Number.isFinite(v) ? v : Number.NaN;
    case 'FP32': {
      const f = Math.fround(v);
      return Number.isFinite(f) ? f : Number.NaN;
    }
    case 'INT64':
      return Number.isSafeInteger(v) ? v : Number.NaN;
    case 'INT32':
      return Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 ? v : Number.NaN;
  }
}

function isShape(shape: unknown): shape is number[] {
  if (!Array.isArray(shape) || shape.length === 0) return false;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return false;
  }
  return true;
}

function parseInput(raw: unknown, i: number): InputTensor {
  if (!isObject(raw)) {
    throw badData(`inputs[${i}] must be an object {name, shape, datatype, data}, got ${preview(raw)}`);
  }
  const { name, shape, datatype, data, parameters } = raw;
  if (typeof name !== 'string') throw badData(`inputs[${i}].name must be a string, got ${preview(name)}`);
  if (!isShape(shape)) {
    throw badData(`${label(name)}: shape must be an array of non-negative integers, got ${preview(shape)}`);
  }
  if (typeof datatype !== 'string' || !ACCEPTED.has(datatype)) {
    const known = typeof datatype === 'string' && OTHER_DATATYPES.has(datatype);
    throw badData(
      known
        ? `${label(name)}: datatype ${datatype} is not supported: send ${ACCEPTED_LIST}`
        : `${label(name)}: datatype must be ${ACCEPTED_LIST}, got ${preview(datatype)}`,
    );
  }
  if (parameters !== undefined && parameters !== null) {
    if (!isObject(parameters)) {
      throw badData(`${label(name)}: parameters must be an object, got ${preview(parameters)}`);
    }
    if (parameters.binary_data_size !== undefined) {
      throw badData(
        `${label(name)}: the binary tensor data extension is not supported: send the values in "data"`,
      );
    }
  }
  if (!Array.isArray(data)) {
    throw badData(
      `${label(name)}: data must be an array of numbers (flat or nested, row-major), got ${preview(data)}`,
    );
  }
  return { name, shape, datatype: datatype as Datatype, data };
}

/** Reads the request object: id, parameters, inputs (their fields), outputs. */
export function parseInferRequest(body: unknown): InferRequest {
  if (body instanceof InvalidJson) throw badData(`the body is not valid JSON: ${body.reason}`);
  if (body === undefined || body === null) {
    throw badData('the request has no body: send a JSON object {"inputs": [...]}');
  }
  if (!isObject(body)) {
    throw badData(`the inference request must be a JSON object {"inputs": [...]}, got ${preview(body)}`);
  }
  const { id, parameters, inputs, outputs } = body;
  if (id !== undefined && id !== null && typeof id !== 'string') {
    throw badData(`"id" must be a string, got ${preview(id)}`);
  }
  if (parameters !== undefined && parameters !== null && !isObject(parameters)) {
    throw badData(`"parameters" must be an object, got ${preview(parameters)}`);
  }
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw badData(
      `"inputs" must be a non-empty array of tensors {name, shape, datatype, data}, got ${preview(inputs)}`,
    );
  }
  const parsed: InputTensor[] = [];
  for (let i = 0; i < inputs.length; i++) parsed.push(parseInput(inputs[i], i));
  let wanted: string[] | undefined;
  if (outputs !== undefined && outputs !== null) {
    if (!Array.isArray(outputs))
      throw badData(`"outputs" must be an array of {name}, got ${preview(outputs)}`);
    wanted = [];
    for (let i = 0; i < outputs.length; i++) {
      const o: unknown = outputs[i];
      if (!isObject(o) || typeof o.name !== 'string') {
        throw badData(`outputs[${i}] must be an object with a string "name", got ${preview(o)}`);
      }
      if (o.parameters !== undefined && o.parameters !== null && !isObject(o.parameters)) {
        throw badData(`outputs[${i}].parameters must be an object, got ${preview(o.parameters)}`);
      }
      if (!wanted.includes(o.name)) wanted.push(o.name);
    }
    if (wanted.length === 0) wanted = undefined;
  }
  return { id: typeof id === 'string' ? id : undefined, inputs: parsed, outputs: wanted };
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Shape [N] or [N, 1]: one column. */
const isColumn = (shape: readonly number[]) => shape.length === 1 || (shape.length === 2 && shape[1] === 1);

/**
 * Decodes inputs into a row-major n × d matrix in a shared buffer (valid until the next call): a
 * forest's rows from one [N, d] input or one [N] / [N, 1] input per feature, or a component's rows.
 */
class InputDecoder {
  private scratch = new Float64Array(64);
  /** The feature names, and what a forest request must look like (for messages). */
  private readonly names: readonly string[];
  private readonly expected: string;

  constructor(
    private readonly features: readonly FeatureInfo[],
    private readonly maxRows: number,
  ) {
    this.names = features.map((f) => f.name);
    const d = features.length;
    const list = this.names.join(', ');
    this.expected = `one input of shape [N, ${d}] (columns ${list}) or ${d} inputs named ${list} (each of shape [N] or [N, 1])`;
  }

  private buffer(n: number, d: number): Float64Array {
    if (n > this.maxRows) {
      throw new ServeError(
        'PAYLOAD_TOO_LARGE',
        `${n} rows in one request; at most ${this.maxRows} are accepted`,
      );
    }
    const size = n * d;
    if (this.scratch.length < size) this.scratch = new Float64Array(Math.max(size, this.scratch.length * 2));
    return this.scratch;
  }

  /** The rows of a forest request, in the model's column order. */
  forest(req: InferRequest): { x: Float64Array; n: number } {
    const d = this.features.length;
    const { inputs } = req;
    if (inputs.length === 1) {
      const t = inputs[0] as InputTensor;
      if (t.shape.length !== 2 || t.shape[1] !== d) {
        if (this.names.includes(t.name) && isColumn(t.shape)) {
          throw badData(`only ${label(t.name)} was sent: expected ${this.expected}`);
        }
        throw badData(`${label(t.name)} has shape ${shapeText(t.shape)}: expected ${this.expected}`);
      }
      const n = t.shape[0] as number;
      const x = this.buffer(n, d);
      this.fill(t, n, d, x, d, 0, true);
      return { x, n };
    }
    if (inputs.length !== d) {
      throw badData(
        `${inputs.length} inputs (${inputs.map((t) => preview(t.name)).join(', ')}): expected ${this.expected}`,
      );
    }
    const placed: (InputTensor | undefined)[] = new Array(d).fill(undefined);
    for (const t of inputs) {
      const j = this.names.indexOf(t.name);
      if (j < 0) throw badData(`${label(t.name)} is not a feature: expected ${this.expected}`);
      if (placed[j] !== undefined) throw badData(`${label(t.name)} is sent twice: expected ${this.expected}`);
      if (!isColumn(t.shape)) {
        throw badData(`${label(t.name)} has shape ${shapeText(t.shape)}: expected [N] or [N, 1]`);
      }
      placed[j] = t;
    }
    const n = this.sameRows(inputs);
    const x = this.buffer(n, d);
    for (let j = 0; j < d; j++) this.fill(placed[j] as InputTensor, n, 1, x, d, j, false);
    return { x, n };
  }

  /** The rows a component's predict() receives: one [N, w] input, or [N] / [N, 1] inputs as columns. */
  rows(req: InferRequest): { rows: number[][]; names: string[] } {
    const { inputs } = req;
    const first = inputs[0] as InputTensor;
    let n: number;
    let d: number;
    let names: string[];
    let x: Float64Array;
    if (inputs.length === 1 && first.shape.length === 2) {
      n = first.shape[0] as number;
      d = first.shape[1] as number;
      names = [];
      x = this.buffer(n, d);
      this.fill(first, n, d, x, d, 0, false);
    } else {
      for (const t of inputs) {
        if (!isColumn(t.shape)) {
          throw badData(
            `${label(t.name)} has shape ${shapeText(t.shape)}: expected one input of shape [N, columns], or inputs of shape [N] or [N, 1] (one per column)`,
          );
        }
      }
      n = this.sameRows(inputs);
      d = inputs.length;
      names = inputs.map((t) => t.name);
      x = this.buffer(n, d);
      for (let j = 0; j < d; j++) this.fill(inputs[j] as InputTensor, n, 1, x, d, j, false);
    }
    const rows: number[][] = [];
    for (let i = 0; i < n; i++) rows.push(Array.from(x.subarray(i * d, (i + 1) * d)));
    return { rows, names };
  }

  private sameRows(inputs: readonly InputTensor[]): number {
    const first = inputs[0] as InputTensor;
    const n = first.shape[0] as number;
    for (const t of inputs) {
      if (t.shape[0] !== n) {
        throw badData(
          `${label(t.name)} has ${t.shape[0]} rows but ${label(first.name)} has ${n}: every input needs the same number of rows`,
        );
      }
    }
    return n;
  }

  /**
   * Writes tensor `t` (n rows of `width` values; shape [n, width], or [n] when width is 1) into columns
   * base..base+width-1 of `x` (d columns). `data` is flat, or nested as [n][width].
   * `featureColumns`: name columns after the features in messages.
   */
  private fill(
    t: InputTensor,
    n: number,
    width: number,
    x: Float64Array,
    d: number,
    base: number,
    featureColumns: boolean,
  ): void {
    const { data, datatype } = t;
    if (data.length > 0 && Array.isArray(data[0])) {
      if (t.shape.length !== 2) {
        throw badData(
          `${label(t.name)}: data[0] is an array, but shape ${shapeText(t.shape)} has one dimension: send the values flat`,
        );
      }
      if (data.length !== n) {
        throw badData(
          `${label(t.name)}: data has ${data.length} rows, but shape ${shapeText(t.shape)} needs ${n} (cannot reshape)`,
        );
      }
      for (let i = 0; i < n; i++) {
        const row = data[i];
        if (!Array.isArray(row) || row.length !== width) {
          throw badData(
            `${label(t.name)}: data[${i}] ${Array.isArray(row) ? `has ${row.length} elements` : `is ${preview(row)}`}, but shape ${shapeText(t.shape)} needs ${width} there (send data flat, or nested to match the shape)`,
          );
        }
        const at = i * d + base;
        for (let c = 0; c < width; c++) {
          const num = numberOf(row[c], datatype);
          if (Number.isNaN(num)) throw this.valueError(t, i, c, row[c], featureColumns);
          x[at + c] = num;
        }
      }
      return;
    }
    const size = n * width;
    if (data.length !== size) {
      throw badData(
        `${label(t.name)}: data has ${data.length} values, but shape ${shapeText(t.shape)} needs ${size} (cannot reshape)`,
      );
    }
    for (let i = 0, k = 0; i < n; i++) {
      const at = i * d + base;
      for (let c = 0; c < width; c++, k++) {
        const num = numberOf(data[k], datatype);
        if (Number.isNaN(num)) throw this.valueError(t, i, c, data[k], featureColumns);
        x[at + c] = num;
      }
    }
  }

  private valueError(
    t: InputTensor,
    row: number,
    c: number,
    v: unknown,
    featureColumns: boolean,
  ): ServeError {
    const column = featureColumns ? `, column ${preview(this.names[c])}` : '';
    return badData(
      `${label(t.name)}: row ${row}${column}: got ${preview(v)}, expected ${expectation(t.datatype)}`,
    );
  }
}

function isTensorMetadata(t: MetadataTensor): t is { name: string; datatype: string; shape: number[] } {
  return 'name' in t && 'datatype' in t && 'shape' in t;
}

/** Renders any error as `{"error": "..."}`; logs defects (ours at error level, a component's at warn). */
export function oipErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  sendError(err, toServeError(err), req, reply, oipEnvelope);
}

/** Whether a path belongs to the Open Inference Protocol (its errors use its envelope). */
export function isOipPath(url: string): boolean {
  return (
    url === OIP_SERVER_PATH || url.startsWith(`${OIP_SERVER_PATH}/`) || url.startsWith(`${OIP_SERVER_PATH}?`)
  );
}

export interface OipRoutesOptions {
  runtime: Runtime;
  /** Largest request body in bytes. */
  bodyLimit: number;
}

interface ModelParams {
  name: string;
  version?: string;
}

/** Registers the Open Inference Protocol routes for `runtime` (a Fastify plugin, its own context). */
export async function oipRoutes(app: FastifyInstance, options: OipRoutesOptions): Promise<void> {
  const { runtime, bodyLimit } = options;
  const component = runtime.component;
  const forest = runtime.forest;
  const modelName = runtime.modelName;
  const versions = (runtime.metadata.versions ?? []).filter((v) => v !== '');
  const modelVersion = versions[0];
  const decoder = new InputDecoder(forest?.features ?? [], runtime.maxRows);
  const k = forest?.classes.length ?? 0;
  const classes = forest?.classes ?? [];
  const outputNames: readonly string[] = forest ? FOREST_OUTPUTS : [COMPONENT_OUTPUT];
  const head = `{"model_name":${JSON.stringify(modelName)}${modelVersion === undefined ? '' : `,"model_version":${JSON.stringify(modelVersion)}`}`;

  // Any content type is read as JSON (curl -d sends a form type); a body that does not parse is a 400.
  app.removeAllContentTypeParsers();
  const parseJson = (
    _req: FastifyRequest,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ): void => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.length === 0) {
      done(null, new InvalidJson('the body is empty'));
      return;
    }
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (err) {
      done(null, new InvalidJson((err as Error).message));
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, parseJson);
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, parseJson);
  app.setErrorHandler(oipErrorHandler);

  const serverJson = JSON.stringify({ name: OIP_SERVER_NAME, version: VERSION, extensions: [] });
  const metadataJson = JSON.stringify({
    name: modelName,
    versions,
    platform: runtime.metadata.platform || (forest ? 'segserve' : ''),
    inputs: forest
      ? forest.features.map((f) => ({
          name: f.name,
          datatype: f.kind === 'categorical' ? 'INT64' : 'FP64',
          shape: [-1],
        }))
      : (runtime.metadata.inputs ?? []).filter(isTensorMetadata),
    outputs: forest
      ? [
          { name: 'probabilities', datatype: 'FP64', shape: [-1, k] },
          { name: 'segment', datatype: 'INT64', shape: [-1] },
        ]
      : (runtime.metadata.outputs ?? []).filter(isTensorMetadata),
  });
  const modelReadyJson = JSON.stringify({ name: modelName, ready: true });

  /** 404 unless the path names this model (and one of its versions). */
  function checkModel(params: ModelParams): void {
    if (params.name !== modelName) {
      throw new ServeError(
        'NOT_FOUND',
        `unknown model ${preview(params.name)}: this server serves the model ${JSON.stringify(modelName)}`,
      );
    }
    if (params.version !== undefined && !versions.includes(params.version)) {
      throw new ServeError(
        'NOT_FOUND',
        `model ${JSON.stringify(modelName)} has no version ${preview(params.version)} (${versions.length === 0 ? 'it has no versions: leave /versions/... out' : `versions: ${versions.join(', ')}`})`,
      );
    }
  }

  /** Ready unless draining or the component's healthStatus() throws: 503 then. */
  async function ready(): Promise<void> {
    try {
      await runtime.health();
    } catch (err) {
      if (err instanceof ServeError && err.code === 'UNAVAILABLE') throw err;
      throw new ServeError('UNAVAILABLE', `not ready: ${(err as Error).message}`, { cause: err });
    }
  }

  function selectOutputs(req: InferRequest): readonly string[] {
    if (req.outputs === undefined) return outputNames;
    for (const name of req.outputs) {
      if (!outputNames.includes(name)) {
        throw badData(`unknown output ${preview(name)}: this model's outputs are ${outputNames.join(', ')}`);
      }
    }
    return req.outputs;
  }

  function forestAnswer(
    request: InferRequest,
    wanted: readonly string[],
    out: Float64Array,
    n: number,
  ): string {
    let s = head;
    if (request.id !== undefined) s += `,"id":${JSON.stringify(request.id)}`;
    s += ',"outputs":[';
    for (let o = 0; o < wanted.length; o++) {
      if (o > 0) s += ',';
      if (wanted[o] === 'probabilities') {
        s += `{"name":"probabilities","datatype":"FP64","shape":[${n},${k}],"data":[`;
        const size = n * k;
        for (let i = 0; i < size; i++) s += i === 0 ? `${out[i]}` : `,${out[i]}`;
      } else {
        s += `{"name":"segment","datatype":"INT64","shape":[${n}],"data":[`;
        for (let i = 0; i < n; i++) {
          const best = classes[argmax(out, i * k, k)];
          s += i === 0 ? `${best}` : `,${best}`;
        }
      }
      s += ']}';
    }
    return `${s}]}`;
  }

  function infer(
    req: FastifyRequest<{ Params: ModelParams }>,
    reply: FastifyReply,
  ): Promise<void> | undefined {
    checkModel(req.params);
    return inferServed(req, reply);
  }

  /** Inference, once the path named this model. */
  function inferServed(req: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
    const request = parseInferRequest(req.body);
    if (forest === undefined) return inferWithComponent(request, req, reply);
    const wanted = selectOutputs(request);
    const { x, n } = decoder.forest(request);
    const out = runtime.predictMatrix(x, n);
    // Built before any await: `out` is a shared buffer.
    const body = forestAnswer(request, wanted, out, n);
    if (component.metrics === undefined) {
      send(req, reply, runtime, JSON_TYPE, body);
      return undefined;
    }
    return runtime.customMetrics('predict').then(() => send(req, reply, runtime, JSON_TYPE, body));
  }

  async function inferWithComponent(
    request: InferRequest,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    selectOutputs(request);
    const { rows, names } = decoder.rows(request);
    const meta: SeldonMeta = request.id === undefined ? {} : { puid: request.id };
    const result = await runtime.predict(rows, names, meta);
    const payload = payloadOf(result, 'tensor', undefined, 'predict()');
    const tensor = (payload.data as { tensor?: { shape: number[]; values: number[] } } | undefined)?.tensor;
    if (tensor === undefined) {
      const form = Object.keys(payload)[0] ?? 'an answer';
      throw new ServeError(
        'NOT_IMPLEMENTED',
        `predict() answered ${form === 'data' ? 'an array that is not all numbers' : form}, which the Open Inference Protocol cannot carry here: use POST /api/v1.0/predictions (Seldon v1) for this component`,
      );
    }
    if (component.metrics) await runtime.customMetrics('predict');
    let s = head;
    if (request.id !== undefined) s += `,"id":${JSON.stringify(request.id)}`;
    s += `,"outputs":[{"name":"${COMPONENT_OUTPUT}","datatype":"FP64","shape":${JSON.stringify(tensor.shape)},"data":${JSON.stringify(tensor.values)}}]}`;
    send(req, reply, runtime, JSON_TYPE, s);
  }

  app.get(OIP_SERVER_PATH, { config: { service: 'metadata' } }, (req, reply) => {
    send(req, reply, runtime, JSON_TYPE, serverJson);
  });
  app.get(OIP_LIVE_PATH, (req, reply) => {
    send(req, reply, runtime, JSON_TYPE, '{"live":true}');
  });
  const status = { config: { service: 'status' as const } };
  app.get(OIP_READY_PATH, status, async (req, reply) => {
    await ready();
    send(req, reply, runtime, JSON_TYPE, '{"ready":true}');
  });

  const metadata = { config: { service: 'metadata' as const } };
  const predictions = { config: { service: 'predictions' as const } };
  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get<{ Params: ModelParams }>(base, metadata, (req, reply) => {
      checkModel(req.params);
      send(req, reply, runtime, JSON_TYPE, metadataJson);
    });
    app.get<{ Params: ModelParams }>(`${base}/ready`, status, async (req, reply) => {
      checkModel(req.params);
      await ready();
      send(req, reply, runtime, JSON_TYPE, modelReadyJson);
    });
    app.post<{ Params: ModelParams }>(`${base}/infer`, predictions, infer);
  }
  // This model's own infer path as a static route too: found faster than the parametric one, with no
  // name to check (when the name needs no escaping in a route path).
  if (/^[A-Za-z0-9._~-]+$/.test(modelName))
    app.post(`/v2/models/${modelName}/infer`, predictions, inferServed);
}
