/**
 * The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`): the same model, decoder
 * and answers as the REST side (../oip/), with the message in protobuf. A ModelInferRequest's inputs
 * (typed `contents`, or `raw_input_contents`) become the REST side's checked tensors (../oip/decode.ts
 * InferRequest), written into encoded rows by its InputDecoder through the shared row decoder; so a
 * value the model refuses is refused with the same words, naming the input, row and column.
 *
 * The answer is `probabilities` (FP64 [N, K], the classes as a JSON array in the string parameter
 * `classes`) and the predicted label (named after the target; INT64, FP64 or BYTES), or those the
 * request's `outputs` names, explanation outputs included (`shap_values` FP64 [N, K, F] with the
 * classes and features as JSON arrays in string parameters, `expected_value` FP64 [K]), as REST answers
 * them; in `raw_output_contents` when the request came in `raw_input_contents`
 * (the convention of KServe's and MLServer's servers), else in typed `contents`.
 *
 * Over gRPC a missing value is NaN in FP64 or FP32 (JSON's null has no binary form), or an input left
 * out for a feature that may be missing.
 */
import { endianness } from 'node:os';
import { argmax } from '../../pipeline/model.js';
import type { Category } from '../../pipeline/types.js';
import { VERSION } from '../../version.js';
import { analyse, flatten } from '../answer.js';
import type { MetadataTensor, SeldonMeta } from '../component.js';
import { badData, ServeError } from '../errors.js';
import type { Explanation } from '../explain.js';
import { type InferRequest, InputDecoder, type InputTensor, label } from '../oip/decode.js';
import {
  EXPECTED_OUTPUT,
  ForestOutputs,
  labelDatatype,
  PROBABILITIES_OUTPUT,
  SHAP_OUTPUT,
} from '../oip/encode.js';
import { COMPONENT_OUTPUT, OIP_SERVER_NAME } from '../oip/routes.js';
import { preview } from '../rows.js';
import { DATATYPES, type Runtime } from '../runtime.js';

// ---- the messages, as @grpc/proto-loader presents them (keepCase, longs as numbers, no defaults) ----

/** InferParameter: one of its fields. */
export interface PbInferParameter {
  bool_param?: boolean;
  int64_param?: string | number;
  string_param?: string;
  parameter_choice?: string;
}

export interface PbTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: (string | number)[];
  uint_contents?: number[];
  uint64_contents?: (string | number)[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

export interface PbInferInput {
  name?: string;
  datatype?: string;
  shape?: (string | number)[];
  parameters?: Record<string, PbInferParameter>;
  contents?: PbTensorContents;
}

export interface PbInferRequest {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, PbInferParameter>;
  inputs?: PbInferInput[];
  outputs?: { name?: string; parameters?: Record<string, PbInferParameter> }[];
  raw_input_contents?: Buffer[];
}

export interface PbInferOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, PbInferParameter>;
  contents?: PbTensorContents;
}

export interface PbInferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: PbInferOutput[];
  raw_output_contents?: Buffer[];
}

export interface PbTensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface PbModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: PbTensorMetadata[];
  outputs: PbTensorMetadata[];
}

// ---- inputs ----

type Accepted = InputTensor['datatype'];
const ACCEPTED: ReadonlySet<string> = new Set(['FP64', 'FP32', 'INT64', 'INT32', 'BYTES']);
const ACCEPTED_LIST = 'FP64, FP32, INT64, INT32 or BYTES';

/** The contents field of each accepted datatype, and its element size in raw form (0: BYTES). */
const FIELD: Readonly<Record<Accepted, keyof PbTensorContents>> = {
  FP64: 'fp64_contents',
  FP32: 'fp32_contents',
  INT64: 'int64_contents',
  INT32: 'int_contents',
  BYTES: 'bytes_contents',
};
const SIZE: Readonly<Record<Accepted, number>> = { FP64: 8, FP32: 4, INT64: 8, INT32: 4, BYTES: 0 };
const CONTENT_FIELDS = [
  'bool_contents',
  'int_contents',
  'int64_contents',
  'uint_contents',
  'uint64_contents',
  'fp32_contents',
  'fp64_contents',
  'bytes_contents',
] as const;

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** int64 dimensions (strings from proto-loader) → numbers; BAD_DATA unless each is a size. */
function readShape(raw: readonly (string | number)[] | undefined, name: string): number[] {
  const shape: number[] = [];
  for (const d of raw ?? []) {
    const v = typeof d === 'number' ? d : Number(d);
    if (!Number.isSafeInteger(v) || v < 0) {
      throw badData(
        `${label(name)}: shape must be a list of non-negative integers, got [${(raw ?? []).join(', ')}]`,
      );
    }
    shape.push(v);
  }
  if (shape.length === 0) throw badData(`${label(name)}: shape must have at least one dimension, got []`);
  return shape;
}

function checkDatatype(datatype: string | undefined, name: string): Accepted {
  if (datatype !== undefined && ACCEPTED.has(datatype)) return datatype as Accepted;
  if (datatype !== undefined && DATATYPES.has(datatype)) {
    throw badData(`${label(name)}: datatype ${datatype} is not supported: send ${ACCEPTED_LIST}`);
  }
  throw badData(`${label(name)}: datatype must be ${ACCEPTED_LIST}, got ${preview(datatype ?? '')}`);
}

function elementCount(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/** A float as the row decoder takes it: NaN is a missing value (null). */
const floatValue = (v: number): number | null => (Number.isNaN(v) ? null : v);

/** The values of a typed `contents`, checked against the datatype and the shape. */
function typedValues(t: PbInferInput, name: string, dt: Accepted, shape: readonly number[]): unknown[] {
  const size = elementCount(shape);
  const contents = t.contents ?? {};
  const field = FIELD[dt];
  for (const other of CONTENT_FIELDS) {
    if (other !== field && (contents[other]?.length ?? 0) > 0) {
      throw badData(
        `${label(name)}: datatype ${dt} takes its values in contents.${field}, not contents.${other}`,
      );
    }
  }
  const values = (contents[field] ?? []) as readonly unknown[];
  if (values.length !== size) {
    throw badData(
      `${label(name)}: contents.${field} has ${values.length} values, but shape ${shapeText(shape)} needs ${size}`,
    );
  }
  const data = new Array<unknown>(size);
  switch (dt) {
    case 'FP64':
    case 'FP32':
      for (let i = 0; i < size; i++) data[i] = floatValue(values[i] as number);
      break;
    case 'INT64':
      // Numbers (proto-loader's longs: Number): beyond 2^53 they are not safe integers, which the row
      // decoder refuses, so no value is silently rounded.
      for (let i = 0; i < size; i++) data[i] = Number(values[i]);
      break;
    case 'INT32':
      for (let i = 0; i < size; i++) data[i] = values[i];
      break;
    case 'BYTES':
      for (let i = 0; i < size; i++) data[i] = (values[i] as Buffer).toString('utf8');
      break;
  }
  return data;
}

/** The values of one `raw_input_contents` entry (little-endian; BYTES as 4-byte length + bytes). */
function rawValues(buf: Buffer, at: number, name: string, dt: Accepted, shape: readonly number[]): unknown[] {
  const size = elementCount(shape);
  const where = `${label(name)}: raw_input_contents[${at}]`;
  if (dt === 'BYTES') {
    const data: unknown[] = [];
    let offset = 0;
    while (offset < buf.length) {
      if (offset + 4 > buf.length || offset + 4 + buf.readUInt32LE(offset) > buf.length) {
        throw badData(
          `${where} ends inside element ${data.length} (each BYTES element is a 4-byte little-endian length, then that many bytes)`,
        );
      }
      const length = buf.readUInt32LE(offset);
      data.push(buf.toString('utf8', offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    if (data.length !== size) {
      throw badData(
        `${where} holds ${data.length} BYTES elements, but shape ${shapeText(shape)} needs ${size}`,
      );
    }
    return data;
  }
  const width = SIZE[dt];
  if (buf.length !== size * width) {
    throw badData(
      `${where} has ${buf.length} bytes, but shape ${shapeText(shape)} of ${dt} needs ${size * width} (${size} × ${width}, little-endian)`,
    );
  }
  const data = new Array<unknown>(size);
  switch (dt) {
    case 'FP64':
      for (let i = 0; i < size; i++) data[i] = floatValue(buf.readDoubleLE(i * 8));
      break;
    case 'FP32':
      for (let i = 0; i < size; i++) data[i] = floatValue(buf.readFloatLE(i * 4));
      break;
    case 'INT64':
      for (let i = 0; i < size; i++) data[i] = Number(buf.readBigInt64LE(i * 8));
      break;
    default:
      for (let i = 0; i < size; i++) data[i] = buf.readInt32LE(i * 4);
  }
  return data;
}

/**
 * A ModelInferRequest as the REST side's checked request (id, tensors with their values, requested
 * outputs), and whether it came raw. Throws BAD_DATA naming the input and what is wrong.
 */
export function readInferRequest(msg: PbInferRequest): { request: InferRequest; raw: boolean } {
  const inputs = msg.inputs ?? [];
  if (inputs.length === 0) {
    throw badData('"inputs" must hold at least one tensor {name, datatype, shape, contents}');
  }
  const rawContents = msg.raw_input_contents ?? [];
  const raw = rawContents.length > 0;
  if (raw && rawContents.length !== inputs.length) {
    throw badData(
      `raw_input_contents has ${rawContents.length} entries but there are ${inputs.length} inputs: send one per input, in the order of inputs`,
    );
  }
  const tensors: InputTensor[] = [];
  for (let w = 0; w < inputs.length; w++) {
    const t = inputs[w] as PbInferInput;
    const name = t.name ?? '';
    const shape = readShape(t.shape, name);
    const datatype = checkDatatype(t.datatype, name);
    if (t.parameters?.binary_data_size !== undefined) {
      throw badData(
        `${label(name)}: the binary tensor data extension is a REST one: send raw_input_contents`,
      );
    }
    let data: unknown[];
    if (raw) {
      const contents = t.contents;
      if (contents !== undefined && CONTENT_FIELDS.some((f) => (contents[f]?.length ?? 0) > 0)) {
        throw badData(
          `${label(name)}: contents and raw_input_contents in one request: send the values of every input one way`,
        );
      }
      data = rawValues(rawContents[w] as Buffer, w, name, datatype, shape);
    } else data = typedValues(t, name, datatype, shape);
    tensors.push({ name, shape, datatype, data });
  }
  let outputs: string[] | undefined;
  for (const o of msg.outputs ?? []) {
    const name = o.name ?? '';
    outputs ??= [];
    if (!outputs.includes(name)) outputs.push(name);
  }
  const id = msg.id === undefined || msg.id === '' ? undefined : msg.id;
  return { request: { id, inputs: tensors, outputs }, raw };
}

// ---- outputs ----

const LITTLE_ENDIAN = endianness() === 'LE';

/** n × k doubles as raw little-endian bytes (a copy: `out` is a shared buffer). */
export function rawDoubles(values: Float64Array, count: number): Buffer {
  const buf = Buffer.allocUnsafe(count * 8);
  if (LITTLE_ENDIAN) buf.set(new Uint8Array(values.buffer, values.byteOffset, count * 8));
  else for (let i = 0; i < count; i++) buf.writeDoubleLE(values[i] as number, i * 8);
  return buf;
}

/** BYTES elements in raw form: each a 4-byte little-endian length, then its bytes. */
export function rawBytes(elements: readonly Buffer[]): Buffer {
  let total = 0;
  for (const e of elements) total += 4 + e.length;
  const buf = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const e of elements) {
    buf.writeUInt32LE(e.length, offset);
    e.copy(buf, offset + 4);
    offset += 4 + e.length;
  }
  return buf;
}

/** How the model of the fast path answers over gRPC. */
class ForestAnswers {
  private readonly k: number;
  private readonly labelName: string;
  private readonly labelType: 'FP64' | 'INT64' | 'BYTES';
  private readonly classesParam: Record<string, PbInferParameter>;
  private readonly shapParams: Record<string, PbInferParameter>;
  /** Per class column: its label as an output element (a number, or UTF-8 bytes). */
  private readonly labelNumbers: readonly number[];
  private readonly labelBytes: readonly Buffer[];

  constructor(answers: ForestOutputs, classes: readonly Category[], features: readonly { name: string }[]) {
    this.labelName = answers.labelName;
    this.k = classes.length;
    this.labelType = labelDatatype(classes);
    this.classesParam = { classes: { string_param: JSON.stringify(classes) } };
    this.shapParams = {
      ...this.classesParam,
      features: { string_param: JSON.stringify(features.map((f) => f.name)) },
    };
    this.labelNumbers = classes.map((c) => (typeof c === 'number' ? c : Number.NaN));
    this.labelBytes = classes.map((c) => Buffer.from(String(c), 'utf8'));
  }

  /**
   * The wanted outputs for n rows of probabilities in `out` (and their explanation, when an
   * explanation output is wanted), typed or raw.
   */
  outputs(
    wanted: readonly string[],
    out: Float64Array,
    n: number,
    raw: boolean,
    into: PbInferResponse,
    explanation?: Explanation,
  ): void {
    const k = this.k;
    const outputs: PbInferOutput[] = [];
    const rawOut: Buffer[] = [];
    /** An FP64 output of the first `size` values of `values`. */
    const doubles = (o: PbInferOutput, values: Float64Array, size: number): void => {
      if (raw) rawOut.push(rawDoubles(values, size));
      else {
        const list = new Array<number>(size);
        for (let i = 0; i < size; i++) list[i] = values[i] as number;
        o.contents = { fp64_contents: list };
      }
      outputs.push(o);
    };
    for (const name of wanted) {
      if (name === PROBABILITIES_OUTPUT) {
        doubles({ name, datatype: 'FP64', shape: [n, k], parameters: this.classesParam }, out, n * k);
        continue;
      }
      if (name === SHAP_OUTPUT) {
        const e = explanation as Explanation;
        const f = e.nFeatures;
        doubles(
          { name, datatype: 'FP64', shape: [n, k, f], parameters: this.shapParams },
          e.values,
          n * k * f,
        );
        continue;
      }
      if (name === EXPECTED_OUTPUT) {
        const e = explanation as Explanation;
        doubles({ name, datatype: 'FP64', shape: [k], parameters: this.classesParam }, e.expected, k);
        continue;
      }
      const best = new Array<number>(n);
      for (let i = 0; i < n; i++) best[i] = argmax(out, i * k, k);
      const o: PbInferOutput = { name: this.labelName, datatype: this.labelType, shape: [n] };
      if (this.labelType === 'BYTES') {
        const elements = best.map((c) => this.labelBytes[c] as Buffer);
        if (raw) rawOut.push(rawBytes(elements));
        else o.contents = { bytes_contents: elements };
      } else {
        const values = best.map((c) => this.labelNumbers[c] as number);
        if (raw) {
          const buf = Buffer.allocUnsafe(n * 8);
          for (let i = 0; i < n; i++) {
            if (this.labelType === 'INT64') buf.writeBigInt64LE(BigInt(values[i] as number), i * 8);
            else buf.writeDoubleLE(values[i] as number, i * 8);
          }
          rawOut.push(buf);
        } else if (this.labelType === 'INT64') o.contents = { int64_contents: values };
        else o.contents = { fp64_contents: values };
      }
      outputs.push(o);
    }
    into.outputs = outputs;
    if (raw) into.raw_output_contents = rawOut;
  }
}

function isTensorMetadata(t: MetadataTensor): t is { name: string; datatype: string; shape: number[] } {
  return 'name' in t && 'datatype' in t && 'shape' in t;
}

/** The Open Inference service of one runtime: its handlers, built once per runtime. */
export class OipService {
  readonly serverMetadata: { name: string; version: string; extensions: string[] };
  readonly modelMetadataMessage: PbModelMetadata;
  private readonly versions: readonly string[];
  private readonly modelVersion: string | undefined;
  private readonly decoder: InputDecoder;
  private readonly outputs: ForestOutputs | undefined;
  private readonly answers: ForestAnswers | undefined;
  /** The outputs answered when a request names none, and every output a request may name. */
  private readonly outputNames: readonly string[];
  private readonly knownOutputs: readonly string[];

  constructor(private readonly runtime: Runtime) {
    const forest = runtime.forest;
    this.versions = (runtime.metadata.versions ?? []).filter((v) => v !== '');
    this.modelVersion = this.versions[0];
    const outputs = forest
      ? new ForestOutputs(forest.features, forest.classes, forest.schema.target, runtime.canExplain)
      : undefined;
    this.outputs = outputs;
    this.answers =
      outputs && forest ? new ForestAnswers(outputs, forest.classes, forest.features) : undefined;
    this.decoder = new InputDecoder(
      runtime.rows,
      outputs?.matrix ?? false,
      outputs?.stringFeatures ?? [],
      runtime.maxRows,
    );
    this.outputNames = outputs ? outputs.names : [COMPONENT_OUTPUT];
    this.knownOutputs = outputs ? outputs.all : [COMPONENT_OUTPUT];
    this.serverMetadata = { name: OIP_SERVER_NAME, version: VERSION, extensions: [] };
    const tensors = (outputs?.metadata() as
      | { inputs: PbTensorMetadata[]; outputs: PbTensorMetadata[] }
      | undefined) ?? {
      inputs: (runtime.metadata.inputs ?? []).filter(isTensorMetadata),
      outputs: (runtime.metadata.outputs ?? []).filter(isTensorMetadata),
    };
    this.modelMetadataMessage = {
      name: runtime.modelName,
      versions: [...this.versions],
      platform: runtime.metadata.platform || (forest ? 'segserve' : ''),
      inputs: tensors.inputs,
      outputs: tensors.outputs,
    };
  }

  /** NOT_FOUND unless `name` (and `version`, when not empty) are this model's. */
  checkModel(name: string | undefined, version: string | undefined): void {
    const modelName = this.runtime.modelName;
    if (name !== modelName) {
      throw new ServeError(
        'NOT_FOUND',
        `unknown model ${preview(name ?? '')}: this server serves the model ${JSON.stringify(modelName)}`,
      );
    }
    if (version !== undefined && version !== '' && !this.versions.includes(version)) {
      throw new ServeError(
        'NOT_FOUND',
        `model ${JSON.stringify(modelName)} has no version ${preview(version)} (${this.versions.length === 0 ? 'it has no versions: leave model_version empty' : `versions: ${this.versions.join(', ')}`})`,
      );
    }
  }

  /** Ready: not draining, and the component's healthStatus() (if any) does not throw. */
  async ready(): Promise<boolean> {
    try {
      await this.runtime.health();
      return true;
    } catch {
      return false;
    }
  }

  private selectOutputs(request: InferRequest): readonly string[] {
    if (request.outputs === undefined) return this.outputNames;
    for (const name of request.outputs) {
      if (!this.knownOutputs.includes(name)) {
        throw badData(
          `unknown output ${preview(name)}: this model's outputs are ${this.knownOutputs.join(', ')}`,
        );
      }
    }
    return request.outputs;
  }

  private head(id: string | undefined): PbInferResponse {
    const res: PbInferResponse = { model_name: this.runtime.modelName, outputs: [] };
    if (this.modelVersion !== undefined) res.model_version = this.modelVersion;
    if (id !== undefined) res.id = id;
    return res;
  }

  /**
   * ModelInfer: synchronous for the forest without custom metrics (the hot path). The answer's `id` is
   * the request's own, else `requestId` (the call's request id, as REST's answerId), and is the `puid`
   * of the meta a component's predict() receives.
   */
  infer(msg: PbInferRequest, requestId?: string): PbInferResponse | Promise<PbInferResponse> {
    this.checkModel(msg.model_name, msg.model_version);
    const { request, raw } = readInferRequest(msg);
    const id = request.id ?? requestId;
    const answers = this.answers;
    if (answers === undefined) return this.inferWithComponent(request, raw, id);
    const wanted = this.selectOutputs(request);
    const { x, n } = this.decoder.forest(request);
    // Explained first (as REST): a request too large to explain is refused before it is predicted.
    const explanation = this.outputs?.explains(wanted) ? this.runtime.explain(x, n) : undefined;
    const out = this.runtime.predictEncoded(x, n);
    // Built before any await: `out` and the explanation are shared buffers.
    const res = this.head(id);
    answers.outputs(wanted, out, n, raw, res, explanation);
    if (this.runtime.component.metrics === undefined) return res;
    return this.runtime.customMetrics('predict').then(() => res);
  }

  private async inferWithComponent(
    request: InferRequest,
    raw: boolean,
    id: string | undefined,
  ): Promise<PbInferResponse> {
    this.selectOutputs(request);
    const { rows, names } = this.decoder.componentRows(request);
    const meta: SeldonMeta = id === undefined ? {} : { puid: id };
    const result = await this.runtime.predict(rows, names, meta);
    const isArray = Array.isArray(result) || (ArrayBuffer.isView(result) && !(result instanceof DataView));
    const shape = isArray ? analyse(result) : undefined;
    if (shape === undefined || !shape.numeric) {
      if (!isArray && (typeof result !== 'object' || result === null) && typeof result !== 'string') {
        throw new ServeError(
          'COMPONENT_ERROR',
          `Unknown data type returned as payload by predict(): ${preview(result)}`,
        );
      }
      throw new ServeError(
        'NOT_IMPLEMENTED',
        'predict() answered something other than an array of numbers, which the Open Inference Protocol cannot carry here: use seldon.protos.Model/Predict for this component',
      );
    }
    const values: number[] = [];
    flatten(result, values, '', 'predict()');
    if (this.runtime.component.metrics) await this.runtime.customMetrics('predict');
    const res = this.head(id);
    const o: PbInferOutput = { name: COMPONENT_OUTPUT, datatype: 'FP64', shape: shape.shape };
    if (raw) res.raw_output_contents = [rawDoubles(Float64Array.from(values), values.length)];
    else o.contents = { fp64_contents: values };
    res.outputs = [o];
    return res;
  }
}
