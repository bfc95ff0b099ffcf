/**
 * The Open Inference Protocol (KServe V2) over REST, on the same app and port as Seldon v1: server
 * metadata, liveness, readiness, model metadata and readiness, and inference. The protocol talks to the
 * Runtime, never to the forest: a request's inputs are written as encoded rows through the row decoder
 * the protocols share (decode.ts, ../rows.ts), and the outputs as JSON text without intermediate arrays
 * (encode.ts). Errors are ServeErrors from the shared catalogue, rendered as `{"error": "..."}`.
 *
 *   GET  /v2                                   {name, version, extensions}
 *   GET  /v2/health/live                       {live: true}
 *   GET  /v2/health/ready                      {ready: true}; 503 while draining or when healthStatus() throws
 *   GET  /v2/models/{name}[/versions/{v}]      {name, versions, platform, inputs, outputs}
 *   GET  /v2/models/{name}[/versions/{v}]/ready
 *   POST /v2/models/{name}[/versions/{v}]/infer
 *
 * Inference takes one input per feature ([N] or [N, 1], named after it; BYTES for string categories;
 * null for missing) or, when every feature is a number on the wire, one input of shape [N, F]. It
 * answers `probabilities` (FP64 [N, K], the class order in its parameters) and the predicted class label
 * (named after the target: `segment` for the post's model), or those a request's `outputs` names,
 * which may also be the forest's exact TreeSHAP explanation: `shap_values` (FP64 [N, K, F]) and
 * `expected_value` (FP64 [K]). A component with its own predict() receives the rows instead and
 * answers one output, `predict`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VERSION } from '../../version.js';
import { analyse, flatten } from '../answer.js';
import { InvalidJson } from '../body.js';
import type { MetadataTensor, SeldonMeta } from '../component.js';
import { OIP_LIVE_PATH, OIP_READY_PATH, OIP_SERVER_PATH } from '../constants.js';
import { badData, oipEnvelope, ServeError, toServeError } from '../errors.js';
import { depthProblem } from '../json-depth.js';
import { requestIdFrom } from '../payload-log.js';
import { JSON_TYPE, send, sendError } from '../reply.js';
import { preview } from '../rows.js';
import type { Runtime } from '../runtime.js';
import { type InferRequest, InputDecoder, parseInferRequest } from './decode.js';
import { ForestOutputs } from './encode.js';

/** The server's name in `GET /v2`. */
export const OIP_SERVER_NAME = 'segserve';

/** The output of a component with its own predict(). */
export const COMPONENT_OUTPUT = 'predict';

function isTensorMetadata(t: MetadataTensor): t is { name: string; datatype: string; shape: number[] } {
  return 'name' in t && 'datatype' in t && 'shape' in t;
}

/** Renders any error as `{"error": "..."}`; logs defects (ours at error level, a component's at warn). */
export function oipErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  sendError(err, toServeError(err), req, reply, oipEnvelope);
}

/**
 * The `id` of an inference answer: the request's own `id`, else the request id (the client's
 * `X-Request-Id` or `Seldon-Puid`, else the one the server generated: `req.id`), as MLServer answers
 * a request without an id with a generated one.
 */
export function answerId(request: InferRequest, req: FastifyRequest): string {
  return request.id ?? requestIdFrom(req.headers) ?? String(req.id);
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
  const answers = forest
    ? new ForestOutputs(forest.features, forest.classes, forest.schema.target, runtime.canExplain)
    : undefined;
  const decoder = new InputDecoder(
    runtime.rows,
    answers?.matrix ?? false,
    answers?.stringFeatures ?? [],
    runtime.maxRows,
  );
  const outputNames: readonly string[] = answers ? answers.names : [COMPONENT_OUTPUT];
  /** The outputs a request may name. */
  const knownOutputs: readonly string[] = answers ? answers.all : outputNames;
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
    const problem = depthProblem(text, 'the body');
    if (problem !== undefined) {
      done(badData(problem));
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
  const tensors = answers?.metadata() ?? {
    inputs: (runtime.metadata.inputs ?? []).filter(isTensorMetadata),
    outputs: (runtime.metadata.outputs ?? []).filter(isTensorMetadata),
  };
  const metadataJson = JSON.stringify({
    name: modelName,
    versions,
    platform: runtime.metadata.platform || (forest ? 'segserve' : ''),
    inputs: tensors.inputs,
    outputs: tensors.outputs,
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
      if (!knownOutputs.includes(name)) {
        throw badData(`unknown output ${preview(name)}: this model's outputs are ${knownOutputs.join(', ')}`);
      }
    }
    return req.outputs;
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
    if (answers === undefined) return inferWithComponent(request, req, reply);
    const wanted = selectOutputs(request);
    const { x, n } = decoder.forest(request);
    // Explained first: a request too large to explain is refused before it is predicted (and counted).
    const explanation = answers.explains(wanted) ? runtime.explain(x, n) : undefined;
    const out = runtime.predictEncoded(x, n);
    // Built before any await: `out` and the explanation are shared buffers.
    let body = `${head},"id":${JSON.stringify(answerId(request, req))}`;
    body += `,"outputs":[${answers.outputs(wanted, out, n, explanation)}]}`;
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
    const { rows, names } = decoder.componentRows(request);
    const id = answerId(request, req);
    const meta: SeldonMeta = { puid: id };
    const result = await runtime.predict(rows, names, meta);
    const isArray = Array.isArray(result) || (ArrayBuffer.isView(result) && !(result instanceof DataView));
    const shape = isArray ? analyse(result) : undefined;
    if (shape === undefined || !shape.numeric) {
      const form =
        typeof result === 'string'
          ? 'strData'
          : result instanceof Uint8Array
            ? 'binData'
            : isArray
              ? 'an array that is not all numbers'
              : typeof result === 'object' && result !== null
                ? 'jsonData'
                : 'an answer';
      if (form === 'an answer') {
        throw new ServeError(
          'COMPONENT_ERROR',
          `Unknown data type returned as payload by predict(): ${preview(result)}`,
        );
      }
      throw new ServeError(
        'NOT_IMPLEMENTED',
        `predict() answered ${form}, which the Open Inference Protocol cannot carry here: use POST /api/v1.0/predictions (Seldon v1) for this component`,
      );
    }
    const values: number[] = [];
    flatten(result, values, '', 'predict()');
    if (component.metrics) await runtime.customMetrics('predict');
    let s = `${head},"id":${JSON.stringify(id)}`;
    s += `,"outputs":[{"name":"${COMPONENT_OUTPUT}","datatype":"FP64","shape":${JSON.stringify(shape.shape)},"data":${JSON.stringify(values)}}]}`;
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
