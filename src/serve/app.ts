/**
 * The app factory: a Fastify instance serving one component over Seldon Core v1 and the Open Inference
 * Protocol v2 on one port, never listening (tests use inject(); lifecycle.ts listens). Shared by every
 * protocol: body parsers, CORS, the request metrics, 404/405 in the error envelope of the path's
 * protocol, the draining flag. The metrics port is a second, tiny app.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import formbody from '@fastify/formbody';
import Fastify, {
  type ConnectionError,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
  type onRequestHookHandler,
} from 'fastify';
import { installBodyParsers } from './body.js';
import type { Component } from './component.js';
import {
  DEFAULT_BODY_LIMIT,
  DEFAULT_MAX_ROWS,
  DEFAULT_MODEL_NAME,
  MAX_REQUEST_ID_LENGTH,
  OIP_REPOSITORY_INDEX_PATH,
  OIP_REPOSITORY_LOAD_PATH,
} from './constants.js';
import { type Env, type Protocol, seldonSettings } from './env.js';
import { ERROR_CODE_HEADER, oipEnvelope, ServeError, seldonEnvelope } from './errors.js';
import { ServeMetrics } from './metrics.js';
import { isOipPath, oipErrorHandler, oipRoutes } from './oip/routes.js';
import type { PayloadLogger } from './payload-log.js';
import { type DrainState, JSON_TYPE, send } from './reply.js';
import { Runtime } from './runtime.js';
import { seldonErrorHandler, seldonRoutes } from './seldon/routes.js';

export interface AppOptions {
  /** The Seldon environment (identity, INCLUDE_METRICS_IN_CLIENT_RESPONSE, MODEL_METADATA...): default process.env. */
  env?: Env;
  /** The model's name (forest metadata; the Open Inference Protocol's model name). Default "segserve". */
  modelName?: string;
  /**
   * The protocol the platform expects (PROTOCOL): both are always served; this picks the error envelope
   * outside either protocol's paths (unknown paths, malformed requests). Default "seldon".
   */
  protocol?: Protocol;
  /** Most rows in one request (default 100,000); more is a 413. */
  maxRows?: number;
  /** Largest request body in bytes (default 10 MiB); more is a 413. */
  bodyLimit?: number;
  /** The metrics to record into (default: a new ServeMetrics for this app). */
  metrics?: ServeMetrics;
  /** With a new ServeMetrics: collect Node process metrics (default true). */
  processMetrics?: boolean;
  /**
   * The served model's version (its artifact's content digest): the metadata's `versions` (unless
   * MODEL_METADATA sets them), `/v2/models/{name}`, and the `segserve_model_info{version}` gauge.
   */
  modelVersion?: string;
  /** The model repository (`/v2/repository/...`): reloads and the model's state; absent, not served. */
  repository?: Repository;
  /** Rows kept for the drift gauges (`--drift-window`; default 1000; 0: no drift gauges). */
  driftWindow?: number;
  /** Most rows explained in one request (default 1000, never more than maxRows). */
  maxExplainRows?: number;
  /** A component method that does not settle within this is answered 504 (default 30 s; 0: no limit). */
  predictTimeoutMs?: number;
  /**
   * Payload logging (`--log-url`): the request and the response of every prediction, as CloudEvents
   * sharing the request id. One logger per process, kept across model reloads; the caller closes it.
   */
  payloadLog?: PayloadLogger;
  /**
   * Logging (pino): false (default), true (info), or { level }. At debug, Fastify logs one line per
   * request; above it, Fastify runs without a logger (no per-request logger or response listeners)
   * and start-up, shutdown and error lines go to `segserve.log`.
   */
  logger?: boolean | { level?: string };
}

/** The state of the served model, as the Open Inference Protocol's repository extension names it. */
export type ModelState = 'READY' | 'LOADING' | 'UNAVAILABLE';

/** What the repository routes call: implemented by the CLI (one process, or the cluster primary). */
export interface Repository {
  /**
   * Re-reads the model path, validates the file completely and swaps it in everywhere. Resolves with
   * the version now served; rejects with a one-line reason (the old model keeps serving).
   */
  load(): Promise<string>;
  /** The model's state and version now. */
  status(): { state: ModelState; version: string | undefined; reason?: string };
}

/** What buildApp adds to the Fastify instance. */
export interface SegserveHandle {
  readonly runtime: Runtime;
  readonly metrics: ServeMetrics;
  /** Starts draining: /health/status answers 503 and responses close their connections. */
  drain(): void;
  readonly draining: boolean;
  /** Where lifecycle and error lines go. */
  readonly log: FastifyBaseLogger;
  /** Where predictions' requests and responses are logged as CloudEvents (`--log-url`), if anywhere. */
  readonly payloadLog: PayloadLogger | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    segserve: SegserveHandle;
  }
}

/** The error body of `e` in the envelope of `protocol`. */
function errorBody(protocol: Protocol, e: ServeError): string {
  return JSON.stringify(protocol === 'v2' ? oipEnvelope(e) : seldonEnvelope(e));
}

function sendError(
  req: FastifyRequest,
  reply: FastifyReply,
  state: DrainState,
  protocol: Protocol,
  e: ServeError,
): void {
  if (e.headers) reply.headers(e.headers);
  send(req, reply.code(e.status), state, JSON_TYPE, errorBody(protocol, e));
}

/** An HTTP-level answer (outside Fastify) in the envelope of `url`'s protocol, else `protocol`'s. */
export function refusalResponse(
  url: string,
  protocol: Protocol,
  e: ServeError,
): { type: string; body: string } {
  return { type: JSON_TYPE, body: errorBody(isOipPath(url) ? 'v2' : protocol, e) };
}

/** Node's own marker of the response a socket is busy with. */
interface HttpSocket extends Socket {
  _httpMessage?: { headersSent?: boolean } | null;
}

/**
 * Malformed HTTP, headers too large, a request that did not arrive within the request timeout: these
 * never reach a route. Answer them in the envelope too (408 for the timeout), then close.
 */
export function clientErrorHandler(protocol: Protocol): (err: ConnectionError, socket: Socket) => void {
  return (err, socket) => {
    const busy = (socket as HttpSocket)._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || busy?.headersSent) {
      socket.destroy();
      return;
    }
    const e =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new ServeError(
            'REQUEST_TIMEOUT',
            'the request (headers and body) did not arrive within the request timeout',
          )
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? new ServeError(
              'HEADERS_TOO_LARGE',
              'the request line and headers are larger than the server accepts: send the message as a POST body, not in ?json=',
            )
          : new ServeError('BAD_DATA', `malformed HTTP request (${err.code ?? err.message})`);
    const status = e.status;
    const body = errorBody(protocol, e);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${JSON_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n${ERROR_CODE_HEADER}: ${e.errorCode}\r\n` +
        `Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

/** A plain header value: visible ASCII, inner spaces allowed (what can be echoed in a header and logged). */
const PLAIN_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * The request id (Fastify's genReqId, so it is `req.id` and `reqId` in every per-request log line): the
 * caller's `X-Request-Id`, else Seldon's `Seldon-Puid`, when it is a plain value (visible ASCII, at most
 * MAX_REQUEST_ID_LENGTH characters); else a fresh UUID. Echoed in the `X-Request-Id` response header.
 */
export function requestId(req: Pick<IncomingMessage, 'headers'>): string {
  for (const name of ['x-request-id', 'seldon-puid']) {
    const v = req.headers[name];
    if (typeof v === 'string' && v.length <= MAX_REQUEST_ID_LENGTH && PLAIN_VALUE.test(v)) return v;
  }
  return randomUUID();
}

/** pino through Fastify: one line per request, at debug level only; errors are logged by the handler. */
class RequestLog extends LogController {
  override incomingRequest(): void {}
  override routeNotFound(): void {}
  override defaultErrorLog(): void {}
  override requestCompleted(_err: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const level = req.log.level;
    if (level !== 'debug' && level !== 'trace') return;
    req.log.debug(
      { method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  }
}

/** Route paths and their methods, to tell a wrong method (405) from an unknown path (404). */
class RouteTable {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];

  add(url: string, methods: string | string[]): void {
    if (url.includes('*')) return;
    const source = url
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}$`);
    let entry = this.routes.find((r) => r.pattern.source === pattern.source);
    if (!entry) {
      entry = { pattern, methods: new Set() };
      this.routes.push(entry);
    }
    for (const m of Array.isArray(methods) ? methods : [methods]) entry.methods.add(m);
  }

  /** The methods allowed on a path, or undefined when no route has it. */
  allowed(path: string): string[] | undefined {
    const methods = new Set<string>();
    for (const r of this.routes) if (r.pattern.test(path)) for (const m of r.methods) methods.add(m);
    return methods.size > 0 ? [...methods, 'OPTIONS'].sort() : undefined;
  }
}

/**
 * Builds the server for `component`. Metadata and the environment are checked here, so a bad one fails
 * before any request (a SegserveError with a one-line message). Never listens.
 */
export async function buildApp(component: Component, options: AppOptions = {}): Promise<FastifyInstance> {
  const env = options.env ?? process.env;
  const seldon = seldonSettings(env);
  const modelVersion = options.modelVersion;
  // The model's version goes into the metadata's versions, unless MODEL_METADATA says otherwise.
  const settings =
    modelVersion === undefined
      ? seldon
      : { ...seldon, modelMetadata: { versions: [modelVersion], ...seldon.modelMetadata } };
  const protocol = options.protocol ?? 'seldon';
  /** The protocol whose envelope an answer outside any route uses: the path's, else PROTOCOL's. */
  const protocolOf = (url: string): Protocol => (isOipPath(url) ? 'v2' : protocol);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const metrics =
    options.metrics ??
    new ServeMetrics({ identity: settings.identity, processMetrics: options.processMetrics ?? true });
  const runtime = await Runtime.create(component, {
    settings,
    metrics,
    maxRows: options.maxRows ?? DEFAULT_MAX_ROWS,
    modelName: options.modelName ?? DEFAULT_MODEL_NAME,
    ...(options.driftWindow === undefined ? {} : { driftWindow: options.driftWindow }),
    ...(options.maxExplainRows === undefined ? {} : { maxExplainRows: options.maxExplainRows }),
    ...(options.predictTimeoutMs === undefined ? {} : { predictTimeoutMs: options.predictTimeoutMs }),
  });

  const level =
    options.logger === true ? 'info' : options.logger ? (options.logger.level ?? 'info') : undefined;
  const perRequest = level === 'debug' || level === 'trace';
  const app = Fastify({
    logger: perRequest ? { level } : false,
    logController: new RequestLog(),
    genReqId: requestId,
    bodyLimit,
    // We answer during shutdown ourselves: health turns 503, other routes finish and close the connection.
    return503OnClosing: false,
    // A URL that does not decode is a 400 in the envelope too.
    frameworkErrors: (err, req, reply) =>
      protocolOf(req.url) === 'v2' ? oipErrorHandler(err, req, reply) : seldonErrorHandler(err, req, reply),
    forceCloseConnections: 'idle',
    // The Open Inference Protocol's OpenAPI declares GET /v2/ beside GET /v2.
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      return url === '/v2/' || url.startsWith('/v2/?') ? `/v2${url.slice(4)}` : url;
    },
    clientErrorHandler: clientErrorHandler(protocol),
  });

  // Fastify's own pino logger, borrowed from an instance that is never started, so that the serving
  // instance can run without one unless requests are logged.
  const log = perRequest || level === undefined ? app.log : Fastify({ logger: { level } }).log;
  app.decorate('segserve', {
    runtime,
    metrics,
    log,
    payloadLog: options.payloadLog,
    drain() {
      runtime.draining = true;
    },
    get draining() {
      return runtime.draining;
    },
  } satisfies SegserveHandle);

  // Every route goes into the 405 table; a measured route (config.service) stamps its requests on
  // arrival with the service and the time (a field read in onSend, cheaper than req.routeOptions).
  const table = new RouteTable();
  app.decorateRequest('segserveMeter', null);
  app.decorateRequest('segserveStart', 0);
  app.decorateRequest('segserveLogged', false);
  app.addHook('onRoute', (route) => {
    table.add(route.url, route.method);
    const service = route.config?.service;
    if (service === undefined) return;
    const meter = metrics.meter(service);
    const stamp: onRequestHookHandler = (req, _reply, done) => {
      req.segserveMeter = meter;
      req.segserveStart = performance.now();
      done();
    };
    const own =
      route.onRequest === undefined
        ? []
        : Array.isArray(route.onRequest)
          ? route.onRequest
          : [route.onRequest];
    route.onRequest = [stamp, ...own];
  });

  installBodyParsers(app, bodyLimit);
  await app.register(formbody, { bodyLimit });

  // CORS preflight, as the wrapper's flask-cors answers it: a 200 allowing our methods.
  app.options('*', (req, reply) => {
    reply
      .code(200)
      .header('access-control-allow-methods', 'GET, HEAD, OPTIONS, POST')
      .header('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'Content-Type')
      .header('access-control-max-age', '600')
      .header('vary', 'Origin, Access-Control-Request-Headers');
    send(req, reply, runtime, 'text/html; charset=utf-8', '');
  });
  app.setErrorHandler(seldonErrorHandler);
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allowed = table.allowed(path);
    const envelope = protocolOf(path);
    if (allowed) {
      sendError(
        req,
        reply,
        runtime,
        envelope,
        new ServeError(
          'METHOD_NOT_ALLOWED',
          `${req.method} is not allowed on ${path}: use ${allowed.join(', ')}`,
          {
            headers: { allow: allowed.join(', ') },
          },
        ),
      );
    } else {
      sendError(
        req,
        reply,
        runtime,
        envelope,
        new ServeError('NOT_FOUND', `no route for ${req.method} ${path.slice(0, 200)}`),
      );
    }
  });

  await app.register(seldonRoutes, { runtime });
  // Its own context: OIP reads any body as JSON and answers errors as {"error": ...}.
  await app.register(oipRoutes, { runtime, bodyLimit });
  if (options.repository !== undefined) {
    const repository = options.repository;
    await app.register(async (scope) => repositoryRoutes(scope, repository, runtime));
  }
  // Last, once nothing can fail: a reload builds the next app while the old one serves.
  if (modelVersion !== undefined) metrics.setModelVersion(modelVersion);
  return app;
}

/**
 * The Open Inference Protocol's model repository extension, as KServe and MLServer serve it:
 * `POST /v2/repository/index` lists the model and its state; `POST /v2/repository/models/{name}/load`
 * re-reads the model file and swaps it in (400 naming the problem when the file is refused).
 */
function repositoryRoutes(app: FastifyInstance, repository: Repository, runtime: Runtime): void {
  const name = runtime.modelName;
  app.setErrorHandler(oipErrorHandler);
  app.post(OIP_REPOSITORY_INDEX_PATH, (req, reply) => {
    const { state, version, reason } = repository.status();
    const entry: Record<string, string> = { name, state, reason: reason ?? '' };
    if (version !== undefined) entry.version = version;
    send(req, reply, runtime, JSON_TYPE, JSON.stringify([entry]));
  });
  app.post<{ Params: { name: string } }>(OIP_REPOSITORY_LOAD_PATH, async (req, reply) => {
    if (req.params.name !== name) {
      throw new ServeError(
        'NOT_FOUND',
        `unknown model ${JSON.stringify(req.params.name.slice(0, 100))}: this server serves the model ${JSON.stringify(name)}`,
      );
    }
    let version: string;
    try {
      version = await repository.load();
    } catch (err) {
      throw new ServeError(
        'BAD_DATA',
        `model ${JSON.stringify(name)} not reloaded: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    send(req, reply, runtime, JSON_TYPE, JSON.stringify({ name, load: true, version }));
  });
}

export interface MetricsAppOptions {
  /** The scrape path (PREDICTIVE_UNIT_METRICS_ENDPOINT, default /metrics). */
  path: string;
  /** The exposition text: this process's registry, or all workers' aggregated. */
  collect: () => Promise<string>;
  contentType: string;
  /** Where a failed collection is logged (default: nowhere). */
  log?: FastifyBaseLogger;
}

/** The metrics port's app: GET <path> → Prometheus text; anything else 404. */
export function buildMetricsApp(options: MetricsAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: 'idle' });
  app.get(options.path, async (_req, reply) => {
    const text = await options.collect();
    reply.type(options.contentType).send(text);
  });
  app.setNotFoundHandler((_req, reply) => {
    reply
      .code(404)
      .type('text/plain; charset=utf-8')
      .send(`not found: metrics are served at GET ${options.path}\n`);
  });
  app.setErrorHandler((err, _req, reply) => {
    options.log?.error({ err }, 'metrics collection failed');
    reply.code(500).type('text/plain; charset=utf-8').send('metrics collection failed\n');
  });
  return app;
}
