/**
 * Seldon Core v1 over gRPC (`seldon.protos.Model` and `seldon.protos.Seldon`): the SeldonMessage in
 * protobuf is turned into the JSON form the REST side reads (google.protobuf.Value and ListValue as
 * plain values, `binData` as bytes), checked and decoded by the same code (../seldon/decode.ts, the
 * shared row decoder), and answered with the same payload and `meta` rules (../seldon/encode.ts):
 * `data` mirrors the request's `ndarray` or `tensor` with the probability columns' names (`t:0`...
 * for the post's classes), records in `jsonData` get `{names, probabilities, predictions}`, `meta`
 * echoes puid, tags and requestPath. The answers hold the same numbers as the REST answers, bit for bit.
 */
import { argmax } from '../../pipeline/model.js';
import { classNamesOf, type SeldonMeta, type SeldonMetadata } from '../component.js';
import { badData } from '../errors.js';
import type { MetricMethod } from '../metrics.js';
import { preview } from '../rows.js';
import type { Runtime } from '../runtime.js';
import {
  componentInput,
  isObject,
  parseMessage,
  SeldonDecoder,
  type SeldonRequest,
} from '../seldon/decode.js';
import { payloadOf, responseMeta } from '../seldon/encode.js';
import {
  fromList,
  fromValue,
  fromValueMap,
  type PbList,
  type PbValue,
  toList,
  toValue,
  toValueMap,
} from './values.js';

// ---- the messages, as @grpc/proto-loader presents them (keepCase, enums as strings, oneofs) ----

export interface PbTensor {
  shape?: number[];
  values?: number[];
}

export interface PbDefaultData {
  names?: string[];
  tensor?: PbTensor;
  ndarray?: PbList;
  data_oneof?: string;
}

export interface PbMetric {
  key?: string;
  type?: string;
  value?: number;
  tags?: Record<string, string>;
}

export interface PbMeta {
  puid?: string;
  tags?: Record<string, PbValue>;
  routing?: Record<string, number>;
  requestPath?: Record<string, string>;
  metrics?: PbMetric[];
}

export interface PbSeldonMessage {
  status?: unknown;
  meta?: PbMeta;
  data?: PbDefaultData;
  binData?: Buffer;
  strData?: string;
  jsonData?: PbValue;
  customData?: unknown;
  data_oneof?: string;
}

export interface PbFeedback {
  request?: PbSeldonMessage;
  response?: PbSeldonMessage;
  reward?: number;
  truth?: PbSeldonMessage;
}

export interface PbMessageMetadata {
  messagetype?: string;
  schema?: PbValue;
  name?: string;
  datatype?: string;
  shape?: number[];
}

export interface PbModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: PbMessageMetadata[];
  outputs: PbMessageMetadata[];
  custom: Record<string, string>;
}

// ---- protobuf → the JSON form ----

function metaToJson(meta: PbMeta): SeldonMeta {
  const out: SeldonMeta = {};
  if (meta.puid !== undefined && meta.puid !== '') out.puid = meta.puid;
  if (meta.tags !== undefined && Object.keys(meta.tags).length > 0)
    out.tags = fromValueMap(meta.tags, 'meta.tags');
  if (meta.routing !== undefined && Object.keys(meta.routing).length > 0) out.routing = { ...meta.routing };
  if (meta.requestPath !== undefined && Object.keys(meta.requestPath).length > 0)
    out.requestPath = { ...meta.requestPath };
  if (meta.metrics !== undefined && meta.metrics.length > 0) {
    out.metrics = meta.metrics.map((m) => {
      const metric: Record<string, unknown> = {
        key: m.key ?? '',
        type: m.type ?? 'COUNTER',
        value: m.value ?? 0,
      };
      if (m.tags !== undefined && Object.keys(m.tags).length > 0) metric.tags = { ...m.tags };
      return metric;
    });
  }
  return out;
}

/**
 * A SeldonMessage in protobuf → the JSON form the REST side parses (`{data: {names, ndarray |
 * tensor}}`, `{jsonData}`, `{strData}`, `{binData}`, with `meta`). `where` prefixes messages.
 */
export function messageToJson(msg: PbSeldonMessage, where = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (msg.meta !== undefined && msg.meta !== null) out.meta = metaToJson(msg.meta);
  switch (msg.data_oneof) {
    case 'data': {
      const d = msg.data ?? {};
      const data: Record<string, unknown> = {};
      if (d.names !== undefined && d.names.length > 0) data.names = d.names;
      if (d.data_oneof === 'tensor')
        data.tensor = { shape: d.tensor?.shape ?? [], values: d.tensor?.values ?? [] };
      else if (d.data_oneof === 'ndarray') data.ndarray = fromList(d.ndarray, `${where}data.ndarray`);
      out.data = data;
      break;
    }
    case 'jsonData':
      out.jsonData = fromValue(msg.jsonData, `${where}jsonData`);
      break;
    case 'strData':
      out.strData = msg.strData ?? '';
      break;
    case 'binData':
      out.binData = msg.binData ?? Buffer.alloc(0);
      break;
    case 'customData':
      throw badData(
        `${where}customData is not supported: send data (ndarray or tensor), jsonData, strData or binData`,
      );
  }
  return out;
}

// ---- the JSON form → protobuf ----

function metaToProto(meta: Readonly<Record<string, unknown>>): PbMeta {
  const out: PbMeta = {};
  if (typeof meta.puid === 'string') out.puid = meta.puid;
  if (isObject(meta.tags)) out.tags = toValueMap(meta.tags);
  if (isObject(meta.requestPath)) {
    const path: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta.requestPath)) path[k] = String(v);
    out.requestPath = path;
  }
  if (Array.isArray(meta.metrics)) {
    out.metrics = meta.metrics.filter(isObject).map((m) => {
      const metric: PbMetric = {
        key: String(m.key ?? ''),
        type: typeof m.type === 'string' ? m.type : 'COUNTER',
        value: typeof m.value === 'number' ? m.value : 0,
      };
      if (isObject(m.tags)) {
        const tags: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.tags)) tags[k] = String(v);
        metric.tags = tags;
      }
      return metric;
    });
  }
  return out;
}

/** A payload in the JSON form (payloadOf's) → a SeldonMessage's payload in protobuf. */
export function payloadToProto(payload: Readonly<Record<string, unknown>>, into: PbSeldonMessage): void {
  if (payload.strData !== undefined) {
    into.strData = String(payload.strData);
    return;
  }
  if (payload.binData !== undefined) {
    const bin = payload.binData;
    into.binData = Buffer.isBuffer(bin) ? bin : Buffer.from(String(bin), 'base64');
    return;
  }
  if (payload.jsonData !== undefined) {
    into.jsonData = toValue(payload.jsonData);
    return;
  }
  const data = (payload.data ?? {}) as { names?: string[]; ndarray?: unknown[]; tensor?: PbTensor };
  const out: PbDefaultData = {};
  if (data.names !== undefined && data.names.length > 0) out.names = data.names;
  if (data.tensor !== undefined) out.tensor = { shape: data.tensor.shape, values: data.tensor.values };
  else out.ndarray = toList(data.ndarray ?? []);
  into.data = out;
}

// ---- the services ----

/** The request's meta with `puid` = the client's request id unless it has a non-empty puid (REST's requestMetaOf). */
function withPuid(meta: SeldonMeta | undefined, clientId: string | undefined): SeldonMeta | undefined {
  if (clientId === undefined || (typeof meta?.puid === 'string' && meta.puid !== '')) return meta;
  return { ...meta, puid: clientId };
}

/** The Seldon v1 services of one runtime: handlers built once per runtime. */
export class SeldonService {
  readonly metadataMessage: PbModelMetadata;
  private readonly decoder: SeldonDecoder | undefined;
  private readonly defaultNames: readonly string[];
  private readonly k: number;
  private readonly syncMeta: boolean;
  private readonly hasIdentityPath: boolean;

  constructor(private readonly runtime: Runtime) {
    this.decoder = runtime.rows ? new SeldonDecoder(runtime.rows) : undefined;
    this.defaultNames = classNamesOf(runtime.classes);
    this.k = runtime.classes.length;
    const c = runtime.component;
    this.syncMeta = c.tags === undefined && c.metrics === undefined;
    this.hasIdentityPath = Object.keys(runtime.settings.identity.requestPath).length > 0;
    this.metadataMessage = metadataToProto(runtime.metadata);
  }

  /** The response meta, calling the component's tags() and metrics() only when it has them. */
  private async meta(method: MetricMethod, requestMeta: SeldonMeta | undefined): Promise<PbMeta> {
    const { runtime } = this;
    const c = runtime.component;
    const tags = c.tags ? await runtime.tags() : undefined;
    const metrics = c.metrics ? await runtime.customMetrics(method) : [];
    return this.metaOf(method, requestMeta, tags, metrics);
  }

  private metaOf(
    method: MetricMethod,
    requestMeta: SeldonMeta | undefined,
    tags: Record<string, unknown> | undefined,
    metrics: Parameters<typeof responseMeta>[2],
  ): PbMeta {
    if (requestMeta === undefined && !this.hasIdentityPath && tags === undefined && metrics.length === 0)
      return {};
    const { identity, includeMetricsInResponse } = this.runtime.settings;
    return metaToProto(
      responseMeta(requestMeta, tags, metrics, method, identity.requestPath, includeMetricsInResponse),
    );
  }

  /**
   * Predict: synchronous for the forest without tags() or metrics() (the hot path). `clientId` is the
   * request id the client sent in metadata (x-request-id or seldon-puid): the meta's `puid` when the
   * message has no non-empty one, as REST takes it from the headers (requestMetaOf); an id the server
   * generated is never a puid.
   */
  predict(msg: PbSeldonMessage, clientId?: string): PbSeldonMessage | Promise<PbSeldonMessage> {
    const request = parseMessage(messageToJson(msg));
    request.meta = withPuid(request.meta, clientId);
    const decoder = this.decoder;
    if (decoder === undefined) return this.predictWithComponent(request);
    const { x, n } = decoder.decode(request);
    const out = this.runtime.predictEncoded(x, n);
    const classNames = this.runtime.component.classNames ? this.runtime.classNames() : undefined;
    const names = classNames ?? (this.defaultNames as string[]);
    // Built before any await: `out` is a shared buffer.
    const res: PbSeldonMessage = {};
    const k = this.k;
    if (request.form === 'jsonData') {
      const probabilities: PbValue[] = [];
      const predictions: PbValue[] = [];
      const classes = this.runtime.classes;
      for (let i = 0; i < n; i++) {
        const row: PbValue[] = [];
        for (let c = 0; c < k; c++) row.push({ numberValue: out[i * k + c] as number });
        probabilities.push({ listValue: { values: row } });
        predictions.push(toValue(classes[argmax(out, i * k, k)]));
      }
      res.jsonData = {
        structValue: {
          fields: {
            names: { listValue: toList(names) },
            probabilities: { listValue: { values: probabilities } },
            predictions: { listValue: { values: predictions } },
          },
        },
      };
    } else if (request.form === 'tensor') {
      const size = n * k;
      const values = new Array<number>(size);
      for (let i = 0; i < size; i++) values[i] = out[i] as number;
      res.data = { names, tensor: { shape: [n, k], values } };
    } else {
      const rows = new Array<PbValue>(n);
      for (let i = 0; i < n; i++) {
        const row = new Array<PbValue>(k);
        for (let c = 0; c < k; c++) row[c] = { numberValue: out[i * k + c] as number };
        rows[i] = { listValue: { values: row } };
      }
      res.data = { names, ndarray: { values: rows } };
    }
    if (this.syncMeta) {
      res.meta = this.metaOf('predict', request.meta, undefined, []);
      return res;
    }
    return this.meta('predict', request.meta).then((meta) => {
      res.meta = meta;
      return res;
    });
  }

  private async predictWithComponent(request: SeldonRequest): Promise<PbSeldonMessage> {
    const { runtime } = this;
    const result = await runtime.predict(componentInput(request), request.names, request.meta ?? {});
    const payload = payloadOf(result, request.form, runtime.classNames(), 'predict()');
    const res: PbSeldonMessage = {};
    payloadToProto(payload, res);
    res.meta = await this.meta('predict', request.meta);
    return res;
  }

  /**
   * SendFeedback: the wrapper's counters and the component's sendFeedback, as POST /api/v1.0/feedback;
   * the answer's meta has the client's request id as its `puid`, as REST's.
   */
  async feedback(msg: PbFeedback, clientId?: string): Promise<PbSeldonMessage> {
    const { runtime } = this;
    const reward = msg.reward ?? 0;
    if (!Number.isFinite(reward))
      throw badData(`feedback reward must be a finite number, got ${preview(reward)}`);
    const request = parseMessage(msg.request ? messageToJson(msg.request, 'request.') : {}, true);
    if (msg.response) parseMessage(messageToJson(msg.response, 'response.'), true);
    const truth = msg.truth
      ? componentInput(parseMessage(messageToJson(msg.truth, 'truth.'), true))
      : undefined;
    const identity = runtime.settings.identity;
    const routingValue =
      msg.response?.meta?.routing?.[identity.modelName === 'NOT_IMPLEMENTED' ? '0' : identity.modelName];
    const routing = typeof routingValue === 'number' ? routingValue : undefined;
    const result = await runtime.feedback(componentInput(request), request.names, reward, truth, routing);
    const res: PbSeldonMessage = {};
    if (result === undefined || result === null) res.data = { ndarray: { values: [] } };
    else payloadToProto(payloadOf(result, 'ndarray', runtime.classNames(), 'sendFeedback()'), res);
    res.meta = await this.meta('feedback', withPuid(undefined, clientId));
    return res;
  }
}

/** Seldon v1 metadata (validated at start-up) as a SeldonModelMetadata message. */
export function metadataToProto(m: Readonly<SeldonMetadata>): PbModelMetadata {
  const tensor = (t: Readonly<Record<string, unknown>>): PbMessageMetadata => {
    if (typeof t.messagetype === 'string') {
      const out: PbMessageMetadata = { messagetype: t.messagetype };
      if (t.schema !== undefined) out.schema = toValue(t.schema);
      return out;
    }
    return {
      name: String(t.name),
      datatype: String(t.datatype),
      shape: (t.shape as number[] | undefined) ?? [],
    };
  };
  return {
    name: m.name ?? '',
    versions: [...(m.versions ?? [])],
    platform: m.platform ?? '',
    inputs: (m.inputs ?? []).map((t) => tensor(t as Record<string, unknown>)),
    outputs: (m.outputs ?? []).map((t) => tensor(t as Record<string, unknown>)),
    custom: { ...(m.custom ?? {}) },
  };
}
