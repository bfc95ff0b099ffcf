/**
 * Seldon Core v1 routes (§2): predictions, explanations, feedback, health, metadata, with their
 * aliases. A request is read (decode.ts), answered by the runtime — the model's fast path through the
 * shared row decoder, or the user component — and written back (encode.ts). Every error is rendered
 * in Seldon's envelope.
 *
 * Explanations (`POST /api/v1.0/explain`, `/explain`) take the requests predictions take (ndarray,
 * tensor, names, jsonData; the same decoder, the same errors) and answer exact TreeSHAP under the
 * names of Alibi's TreeShap explanation: `{"data": {"shap_values": K × N × F, "expected_value": [K],
 * "feature_names": [F], "class_names": [K]}, "meta": {...}}`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { classNamesOf, type SeldonMeta } from '../component.js';
import { SELDON_LIVENESS_PATH, SELDON_READINESS_PATH } from '../constants.js';
import { badData, ServeError, seldonEnvelope, toServeError } from '../errors.js';
import type { RequestService } from '../metrics.js';
import { requestIdFrom } from '../payload-log.js';
import { JSON_TYPE, send, sendError } from '../reply.js';
import { preview } from '../rows.js';
import type { Runtime } from '../runtime.js';
import {
  componentInput,
  isObject,
  parseMessage,
  readMessage,
  rowCount,
  SeldonDecoder,
  type SeldonRequest,
} from './decode.js';
import { explanationData, matrixData, payloadOf, recordsData, responseMeta, stringify } from './encode.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The executor's `service` label for request metrics; routes without one are not measured. */
    service?: RequestService;
  }
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

const EMPTY_META = '{}';

/**
 * The request's meta as answers echo it and components receive it: its own `puid` when it has a
 * non-empty one, else the request id the client sent in `X-Request-Id` or `Seldon-Puid` (the app's
 * `req.id` then). An id the server generated is never a puid: the wrapper generates none (recorded
 * answers have no puid), so it goes only in the response header.
 */
export function requestMetaOf(meta: SeldonMeta | undefined, req: FastifyRequest): SeldonMeta | undefined {
  if (typeof meta?.puid === 'string' && meta.puid !== '') return meta;
  const id = requestIdFrom(req.headers);
  return id === undefined ? meta : { ...meta, puid: id };
}

export interface SeldonRoutesOptions {
  runtime: Runtime;
}

/** Registers the Seldon v1 routes for `runtime` (a Fastify plugin). */
export async function seldonRoutes(app: FastifyInstance, options: SeldonRoutesOptions): Promise<void> {
  const { runtime } = options;
  const { identity, includeMetricsInResponse } = runtime.settings;
  const component = runtime.component;
  const decoder = runtime.rows ? new SeldonDecoder(runtime.rows) : undefined;
  const classes = runtime.classes;
  const classCount = classes.length;
  const defaultNamesJson = JSON.stringify(classNamesOf(classes));
  const labelsJson = classes.map((c) => JSON.stringify(c));
  const hasIdentityPath = Object.keys(identity.requestPath).length > 0;
  const metadataJson = JSON.stringify(runtime.metadata);
  const featureNamesJson = JSON.stringify(runtime.rows?.names ?? []);
  const classLabelsJson = JSON.stringify(classes);

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
    request.meta = requestMetaOf(request.meta, req);
    if (decoder === undefined) return predictWithComponent(request, req, reply);
    const { x, n } = decoder.decode(request);
    const out = runtime.predictEncoded(x, n);
    const classNames = component.classNames ? runtime.classNames() : undefined;
    const namesJson = classNames ? JSON.stringify(classNames) : defaultNamesJson;
    // Built before any await: `out` is a shared buffer.
    const payload =
      request.form === 'jsonData'
        ? `"jsonData":${recordsData(out, n, classCount, namesJson, labelsJson)}`
        : `"data":${matrixData(request.form, out, n, classCount, namesJson)}`;
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
      send(req, reply, runtime, JSON_TYPE, `{${payload},"meta":${meta}}`);
      return undefined;
    }
    return metaJson('predict', request.meta).then((meta) => {
      send(req, reply, runtime, JSON_TYPE, `{${payload},"meta":${meta}}`);
    });
  }

  async function predictWithComponent(
    request: SeldonRequest,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    runtime.checkRows(rowCount(request), request.form === 'jsonData' ? 'jsonData' : `data.${request.form}`);
    const result = await runtime.predict(componentInput(request), request.names, request.meta ?? {});
    const payload = payloadOf(result, request.form, runtime.classNames(), 'predict()');
    const fragment = stringify(payload, 'predict()').slice(1, -1);
    send(req, reply, runtime, JSON_TYPE, `{${fragment},"meta":${await metaJson('predict', request.meta)}}`);
  }

  /**
   * Explanations of the fast path's rows. The meta is the predictions' (puid, the request's and the
   * component's tags, requestPath), without the component's custom metrics (they follow predictions).
   */
  function explain(req: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
    runtime.checkExplain();
    const request = parseMessage(readMessage(req));
    request.meta = requestMetaOf(request.meta, req);
    const { x, n } = (decoder as SeldonDecoder).decode(request);
    // Built before any await: the explanation is a shared buffer.
    const data = explanationData(runtime.explain(x, n), featureNamesJson, classLabelsJson);
    const metaOf = (tags: Record<string, unknown> | undefined): string =>
      request.meta === undefined && !hasIdentityPath && tags === undefined
        ? EMPTY_META
        : JSON.stringify(
            responseMeta(request.meta, tags, [], 'predict', identity.requestPath, includeMetricsInResponse),
          );
    if (component.tags === undefined) {
      send(req, reply, runtime, JSON_TYPE, `{"data":${data},"meta":${metaOf(undefined)}}`);
      return undefined;
    }
    return runtime.tags().then((tags) => {
      send(req, reply, runtime, JSON_TYPE, `{"data":${data},"meta":${metaOf(tags)}}`);
    });
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
    const truthMessage =
      msg.truth === undefined || msg.truth === null ? undefined : parseMessage(msg.truth, true);
    runtime.checkRows(rowCount(request), "the feedback's request");
    if (truthMessage !== undefined) runtime.checkRows(rowCount(truthMessage), "the feedback's truth");
    const truth = truthMessage === undefined ? undefined : componentInput(truthMessage);
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
    const meta = await metaJson('feedback', requestMetaOf(undefined, req));
    send(req, reply, runtime, JSON_TYPE, `{${data},"meta":${meta}}`);
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

  const explains = { config: { service: 'explain' as const } };
  app.post('/api/v1.0/explain', explains, explain);
  app.route({ method: ['GET', 'POST'], url: '/explain', ...explains, handler: explain });

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
