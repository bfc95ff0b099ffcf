/**
 * Seldon Core v1 requests (the wrapper's request forms and meta rules, with segserve's deliberate
 * differences: bad input is a 400, a flat row is one row, JSON is strict): where the SeldonMessage is
 * (multipart, form field, query parameter or body), its parts checked, and, for a model served on the
 * fast path, its rows written as encoded values through the shared row decoder (../rows.ts):
 *
 * - `data.ndarray`: rows of raw values (numbers, category strings, null for missing), or one flat row;
 * - `data.tensor`: numbers only (a categorical feature as its numeric category), shape [n, d] or [d];
 * - `data.names`: the wire columns of both, in any order; a subset when the features left out may be
 *   missing;
 * - `jsonData`: one record `{feature: value}` or an array of them (an absent key is a missing value).
 *
 * Every bad input is a ServeError BAD_DATA naming row, column, value and what was expected.
 */
import type { FastifyRequest } from 'fastify';
import { firstString, InvalidJson, MultipartBody } from '../body.js';
import type { PredictInput, SeldonMeta } from '../component.js';
import { badData } from '../errors.js';
import { depthProblem } from '../json-depth.js';
import { decodeError, type Placement, preview, type RowDecoder } from '../rows.js';

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

export interface Tensor {
  shape: number[];
  values: number[];
}

type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** Parses JSON text from a form field, a query parameter or a multipart part (nesting bounded first). */
export function parseJsonText(text: string, where: string): unknown {
  const problem = depthProblem(text, where);
  if (problem !== undefined) throw badData(problem);
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
      throw badData(
        `data.tensor.values[${i}]: got ${preview(v)}, expected a finite number (a tensor carries numbers only: send strings and nulls in data.ndarray)`,
      );
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
 * The rows of a request as a component receives them, counted without copying: `data.ndarray` (a flat
 * row is one), `data.tensor` (its first dimension; a 1-D tensor is one row), `jsonData` (an array of
 * records, or one record). strData and binData carry no rows (the body limit bounds them): 0.
 */
export function rowCount(req: SeldonRequest): number {
  if (req.form === 'ndarray') {
    const rows = req.payload as unknown[];
    return rows.length > 0 && !Array.isArray(rows[0]) ? 1 : rows.length;
  }
  if (req.form === 'tensor') {
    const { shape } = req.payload as Tensor;
    return shape.length >= 2 ? (shape[0] as number) : 1;
  }
  if (req.form === 'jsonData') {
    const json = req.payload;
    return Array.isArray(json) ? json.length : 1;
  }
  return 0;
}

const namesLabel = (w: number, name: string): string => `data.names[${w}] = ${JSON.stringify(name)}`;

/**
 * A Seldon request's rows as encoded values in the shared buffer of the row decoder (valid until the
 * next call), for the model of the fast path.
 */
export class SeldonDecoder {
  constructor(private readonly rows: RowDecoder) {}

  /** The encoded rows of a request; throws BAD_DATA (or 413) naming what is wrong. */
  decode(req: SeldonRequest): { x: Float64Array; n: number } {
    try {
      if (req.form === 'ndarray') return this.fromNdarray(req.payload as unknown[], req.names);
      if (req.form === 'tensor') return this.fromTensor(req.payload as Tensor, req.names);
      if (req.form === 'jsonData') return this.fromRecords(req.payload);
    } catch (err) {
      throw decodeError(err);
    }
    const r = this.rows;
    const what = req.form === 'data' ? 'data with neither ndarray nor tensor' : req.form;
    throw badData(
      `the model takes rows of its ${r.d} features (${r.list}) in data.ndarray or data.tensor, or records {feature: value} in jsonData, not ${what}`,
    );
  }

  private placement(names: readonly string[]): Placement | null {
    return names.length === 0 ? null : this.rows.placement(names, namesLabel, 'data.names');
  }

  private rowLengthError(i: number, got: unknown, names: readonly string[]): Error {
    const wire = names.length === 0 ? this.rows.names : names;
    const width = wire.length;
    const list = wire.join(', ');
    if (!Array.isArray(got))
      return badData(`row ${i}: got ${preview(got)}, expected an array of ${width} values (${list})`);
    const missing = got.length < width ? `, missing column ${JSON.stringify(wire[got.length])}` : '';
    return badData(`row ${i}: got ${got.length} values, expected ${width} (${list})${missing}`);
  }

  private fromNdarray(rows: unknown[], names: readonly string[]): { x: Float64Array; n: number } {
    const placement = this.placement(names);
    const width = names.length === 0 ? this.rows.d : names.length;
    const first = rows[0];
    if (rows.length > 0 && !Array.isArray(first)) {
      if (isObject(first)) {
        throw badData(
          `data.ndarray[0] is an object: send rows as arrays of values in data.ndarray, or records {feature: value} in jsonData`,
        );
      }
      // One flat row: [34.0, 100.0, 1, 2]
      if (rows.length !== width) throw this.rowLengthError(0, rows, names);
      const x = this.rows.buffer(1);
      this.rows.writeRow(rows, 0, x, placement);
      return { x, n: 1 };
    }
    const n = rows.length;
    const x = this.rows.buffer(n);
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      if (!Array.isArray(row) || row.length !== width) throw this.rowLengthError(i, row, names);
      this.rows.writeRow(row, i, x, placement);
    }
    return { x, n };
  }

  private fromTensor(t: Tensor, names: readonly string[]): { x: Float64Array; n: number } {
    const r = this.rows;
    const placement = this.placement(names);
    const width = names.length === 0 ? r.d : names.length;
    const { shape, values } = t;
    let n: number;
    if (shape.length === 2 && shape[1] === width) n = shape[0] as number;
    else if (shape.length === 1 && shape[0] === width) n = 1;
    else {
      throw badData(
        `data.tensor.shape ${JSON.stringify(shape)}: expected [rows, ${width}] (${names.length === 0 ? r.list : names.join(', ')})`,
      );
    }
    const x = r.buffer(n);
    const d = r.d;
    if (placement === null) {
      for (let i = 0, k = 0; i < n; i++) for (let j = 0; j < d; j++, k++) x[k] = r.encode(j, values[k], i);
      return { x, n };
    }
    const { columns } = placement;
    for (let i = 0, k = 0; i < n; i++) {
      for (let w = 0; w < width; w++, k++) {
        const j = columns[w] as number;
        x[i * d + j] = r.encode(j, values[k], i);
      }
    }
    r.fillAbsent(x, n, placement);
    return { x, n };
  }

  private fromRecords(json: unknown): { x: Float64Array; n: number } {
    const r = this.rows;
    if (isObject(json)) {
      const x = r.buffer(1);
      r.writeRecord(json, 0, x, 'jsonData');
      return { x, n: 1 };
    }
    if (!Array.isArray(json)) {
      throw badData(
        `jsonData: got ${preview(json)}, expected a record {feature: value} or an array of records (features: ${r.list})`,
      );
    }
    const n = json.length;
    const x = r.buffer(n);
    for (let i = 0; i < n; i++) {
      const record: unknown = json[i];
      if (!isObject(record)) {
        throw badData(
          `jsonData[${i}]: got ${preview(record)}, expected a record {feature: value} (features: ${r.list})`,
        );
      }
      r.writeRecord(record, i, x, `jsonData[${i}]`);
    }
    return { x, n };
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
