/**
 * Open Inference Protocol (v2) inference requests: the request object and its tensors checked, then
 * their values written as encoded rows through the shared row decoder (../rows.ts) for the model of
 * the fast path, or gathered as rows for a user component.
 *
 * A model takes one input per feature (named after it, shape [N] or [N, 1], any order; a feature left
 * out is missing when the model allows it), or, when every feature is a number on the wire, one input of
 * shape [N, F] (columns in the model's order). Datatypes: FP64, FP32 (read at single precision, as the
 * binary form would carry it), INT64, INT32, and BYTES (JSON strings, for categorical features); `null`
 * is a missing value in any of them; `data` flat or nested, row-major.
 */
import { InvalidJson } from '../body.js';
import { badData, ServeError } from '../errors.js';
import { decodeError, preview, type RowDecoder } from '../rows.js';
import { DATATYPES } from '../runtime.js';

type Json = Record<string, unknown>;

/** The datatypes inference accepts. */
export type Datatype = 'FP64' | 'FP32' | 'INT64' | 'INT32' | 'BYTES';
const ACCEPTED: ReadonlySet<string> = new Set(['FP64', 'FP32', 'INT64', 'INT32', 'BYTES']);
const ACCEPTED_LIST = 'FP64, FP32, INT64, INT32 or BYTES';
const NUMERIC_LIST = 'FP64, FP32, INT64 or INT32';
/** Datatypes of the protocol that inference refuses (named as such in the error). */
const OTHER_DATATYPES: ReadonlySet<string> = new Set([...DATATYPES].filter((t) => !ACCEPTED.has(t)));

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** One request input, its fields checked (not yet its data). */
export interface InputTensor {
  name: string;
  shape: number[];
  datatype: Datatype;
  data: unknown[];
}

export interface InferRequest {
  id: string | undefined;
  inputs: InputTensor[];
  /** The requested output names, or undefined for all. */
  outputs: string[] | undefined;
}

/** `input "age"`, for messages (built only when one is needed). */
export const label = (name: unknown): string => `input ${preview(name)}`;

function expectation(dt: Datatype): string {
  switch (dt) {
    case 'FP64':
      return 'a finite number (FP64) or null';
    case 'FP32':
      return 'a finite number within the FP32 range or null';
    case 'INT64':
      return 'an integer (INT64, at most 2^53 in magnitude in JSON) or null';
    case 'INT32':
      return 'an integer in [-2147483648, 2147483647] (INT32) or null';
    case 'BYTES':
      return 'a string (BYTES) or null';
  }
}

/** Marks a value that is not of its tensor's datatype. */
const INVALID = Symbol('invalid');

/**
 * A value of `dt` as the row decoder takes it: a number (FP32 rounded to single precision), a string
 * (BYTES), null for missing; INVALID when it is none of these.
 */
function wireValue(v: unknown, dt: Datatype): unknown {
  if (v === null) return null;
  switch (dt) {
    case 'FP64':
      return typeof v === 'number' && Number.isFinite(v) ? v : INVALID;
    case 'FP32': {
      if (typeof v !== 'number') return INVALID;
      const f = Math.fround(v);
      return Number.isFinite(f) ? f : INVALID;
    }
    case 'INT64':
      return Number.isSafeInteger(v) ? v : INVALID;
    case 'INT32':
      return Number.isInteger(v) && (v as number) >= -2147483648 && (v as number) <= 2147483647 ? v : INVALID;
    case 'BYTES':
      return typeof v === 'string' ? v : INVALID;
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
      `${label(name)}: data must be an array of values (flat or nested, row-major), got ${preview(data)}`,
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
 * Checks that `t` holds n rows of `width` values (shape [n, width], or [n] when width is 1), flat or
 * nested as [n][width]; returns whether it is nested.
 */
function checkLayout(t: InputTensor, n: number, width: number): boolean {
  const { data } = t;
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
    }
    return true;
  }
  const size = n * width;
  if (data.length !== size) {
    throw badData(
      `${label(t.name)}: data has ${data.length} values, but shape ${shapeText(t.shape)} needs ${size} (cannot reshape)`,
    );
  }
  return false;
}

/** The value at row i, column c of a tensor laid out as checkLayout said. */
function cell(t: InputTensor, nested: boolean, width: number, i: number, c: number): unknown {
  return nested ? (t.data[i] as unknown[])[c] : t.data[i * width + c];
}

function sameRows(inputs: readonly InputTensor[]): number {
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

function valueError(t: InputTensor, row: number, column: string, v: unknown): Error {
  return badData(
    `${label(t.name)}: row ${row}, column ${JSON.stringify(column)}: got ${preview(v)}, expected ${expectation(t.datatype)}`,
  );
}

const inputLabel = (_w: number, name: string): string => label(name);

/**
 * Decodes a request's inputs: for the model of the fast path into the row decoder's shared buffer
 * (valid until the next call); for a component into rows.
 */
export class InputDecoder {
  /** What a model request must look like (for messages). */
  private readonly expected: string;

  constructor(
    private readonly rows: RowDecoder | undefined,
    /** Whether the model takes one [N, F] input (every feature a number on the wire). */
    private readonly matrix: boolean,
    /** The features that take strings on the wire (for messages). */
    private readonly stringFeatures: readonly string[],
    /** Most rows in one request (a component's; the model's are the row decoder's). */
    private readonly maxRows: number,
  ) {
    const d = rows?.d ?? 0;
    const list = rows?.list ?? '';
    const columns = `inputs named ${list} (each of shape [N] or [N, 1]; one per feature, any order)`;
    this.expected = matrix ? `one input of shape [N, ${d}] (columns ${list}) or ${columns}` : columns;
  }

  /** The encoded rows of a request for the model; throws BAD_DATA (or 413) naming what is wrong. */
  forest(req: InferRequest): { x: Float64Array; n: number } {
    const r = this.rows;
    if (r === undefined) throw new Error('InputDecoder.forest without a model');
    const d = r.d;
    const { inputs } = req;
    if (inputs.length === 1) {
      const t = inputs[0] as InputTensor;
      const isFeature = r.column(t.name) >= 0;
      if (t.shape.length === 2 && t.shape[1] === d && !(isFeature && d === 1)) return this.fromMatrix(t);
      if (!isFeature) {
        throw badData(`${label(t.name)} has shape ${shapeText(t.shape)}: expected ${this.expected}`);
      }
    }
    const placement = r.placement(
      inputs.map((t) => t.name),
      inputLabel,
      'the inputs',
    );
    for (const t of inputs) {
      if (!isColumn(t.shape)) {
        throw badData(`${label(t.name)} has shape ${shapeText(t.shape)}: expected [N] or [N, 1]`);
      }
    }
    const n = sameRows(inputs);
    const x = r.buffer(n);
    for (let w = 0; w < inputs.length; w++) {
      const t = inputs[w] as InputTensor;
      const j = placement === null ? w : (placement.columns[w] as number);
      const nested = checkLayout(t, n, 1);
      try {
        for (let i = 0; i < n; i++) {
          const v = wireValue(cell(t, nested, 1, i, 0), t.datatype);
          if (v === INVALID) throw valueError(t, i, t.name, cell(t, nested, 1, i, 0));
          x[i * d + j] = r.encode(j, v, i);
        }
      } catch (err) {
        throw decodeError(err, `${label(t.name)}: `);
      }
    }
    r.fillAbsent(x, n, placement);
    return { x, n };
  }

  private fromMatrix(t: InputTensor): { x: Float64Array; n: number } {
    const r = this.rows as RowDecoder;
    const d = r.d;
    if (!this.matrix) {
      throw badData(
        `${label(t.name)}: one input of shape [N, ${d}] takes numbers only, but ${this.stringFeatures.join(', ')} take${this.stringFeatures.length === 1 ? 's' : ''} strings: send ${this.expected}`,
      );
    }
    if (t.datatype === 'BYTES') {
      throw badData(
        `${label(t.name)}: datatype BYTES is not supported for the input of shape [N, ${d}]: send ${NUMERIC_LIST} (or BYTES in one input per categorical feature)`,
      );
    }
    const n = t.shape[0] as number;
    const nested = checkLayout(t, n, d);
    const x = r.buffer(n);
    try {
      for (let i = 0, k = 0; i < n; i++) {
        for (let j = 0; j < d; j++, k++) {
          const raw = cell(t, nested, d, i, j);
          const v = wireValue(raw, t.datatype);
          if (v === INVALID) throw valueError(t, i, r.names[j] as string, raw);
          x[k] = r.encode(j, v, i);
        }
      }
    } catch (err) {
      throw decodeError(err, `${label(t.name)}: `);
    }
    return { x, n };
  }

  /**
   * The rows a component's predict() receives: one [N, w] input, or [N] / [N, 1] inputs as columns
   * (then with their names). Values as sent (numbers, strings, null), FP32 at single precision.
   */
  componentRows(req: InferRequest): { rows: unknown[][]; names: string[] } {
    const { inputs } = req;
    const first = inputs[0] as InputTensor;
    const single = inputs.length === 1 && first.shape.length === 2;
    if (!single) {
      for (const t of inputs) {
        if (!isColumn(t.shape)) {
          throw badData(
            `${label(t.name)} has shape ${shapeText(t.shape)}: expected one input of shape [N, columns], or inputs of shape [N] or [N, 1] (one per column)`,
          );
        }
      }
    }
    const n = single ? (first.shape[0] as number) : sameRows(inputs);
    if (n > this.maxRows) {
      throw new ServeError(
        'PAYLOAD_TOO_LARGE',
        `${n} rows in one request; at most ${this.maxRows} are accepted`,
      );
    }
    const width = single ? (first.shape[1] as number) : inputs.length;
    const rows: unknown[][] = [];
    for (let i = 0; i < n; i++) rows.push(new Array<unknown>(width));
    const tensors = single ? [first] : inputs;
    for (let w = 0; w < tensors.length; w++) {
      const t = tensors[w] as InputTensor;
      const tw = single ? width : 1;
      const nested = checkLayout(t, n, tw);
      for (let i = 0; i < n; i++) {
        const row = rows[i] as unknown[];
        for (let c = 0; c < tw; c++) {
          const raw = cell(t, nested, tw, i, c);
          const v = wireValue(raw, t.datatype);
          if (v === INVALID) {
            throw badData(
              `${label(t.name)}: row ${i}${single ? `, column ${c}` : ''}: got ${preview(raw)}, expected ${expectation(t.datatype)}`,
            );
          }
          row[single ? c : w] = v;
        }
      }
    }
    return { rows, names: single ? [] : inputs.map((t) => t.name) };
  }
}
