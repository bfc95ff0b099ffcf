/**
 * The gRPC port (Seldon's wrapper serves gRPC on 5000, KServe and MLServer on 8081): one
 * @grpc/grpc-js server in the same process as REST, serving the same Runtime:
 * - `inference.GRPCInferenceService` (the Open Inference Protocol, oip.ts);
 * - `seldon.protos.Model` and `seldon.protos.Seldon` (Seldon Core v1, seldon.ts);
 * - `grpc.health.v1.Health` (Kubernetes' native gRPC probes, health.ts).
 * The .proto files are the project's own (proto/, see docs/grpc.md), read at start-up with
 * @grpc/proto-loader; both libraries are imported only here and only when the port is on.
 *
 * Errors are the catalogue's (../errors.ts) with their gRPC status (status.ts); every measured call is
 * reported through `onRequest` for the request metrics.
 *
 * Request ids and the payload log, as REST (payload.ts): every unary call has a request id, the
 * client's metadata `x-request-id` or `seldon-puid` (the REST header rule), else a fresh UUID, answered
 * in the initial metadata as `x-request-id` and written as `reqId` in error log lines; a prediction
 * (ModelInfer, Predict) uses it where REST does (the OIP answer's `id` when the request has none, the
 * Seldon `meta.puid` when the client sent it and the request has none). With a payload logger (the
 * same one REST uses), each prediction's request and answer (an error answer too, as REST logs its
 * error bodies) are logged as CloudEvents with the request id as Ce-Id, their JSON written after the
 * answer is sent (setImmediate), so logging never delays or fails a call.
 *
 * Shutdown: `drain(graceMs)` stops taking calls (the listener closes, clients get GOAWAY, a call that
 * still arrives is UNAVAILABLE), lets the calls in flight finish within graceMs (grpc-js tryShutdown),
 * then cuts the rest (forceShutdown).
 */
import type * as Grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { DEFAULT_BODY_LIMIT } from '../constants.js';
import { ServeError, toServeError } from '../errors.js';
import type { RequestService } from '../metrics.js';
import type { PayloadLogger } from '../payload-log.js';
import type { Runtime } from '../runtime.js';
import { Health, type WatchStream } from './health.js';
import { OipService, type PbInferRequest } from './oip.js';
import { type CallIds, callIds, messageJson, statusJson } from './payload.js';
import { type PbFeedback, type PbSeldonMessage, SeldonService } from './seldon.js';
import { ERROR_CODE_KEY, GRPC_STATUS, GrpcCode, REASON_KEY } from './status.js';

/** The proto files, relative to the package root (src/serve/grpc/ and dist/serve/grpc/ alike). */
export const PROTO_DIR = new URL('../../../proto/', import.meta.url);
export const PROTO_FILES = ['inference.proto', 'seldon.proto', 'health.proto'] as const;

/** The options segserve loads its protos with (the message shapes in oip.ts and seldon.ts follow them). */
export const LOADER_OPTIONS = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
} as const;

export const OIP_SERVICE = 'inference.GRPCInferenceService';
export const SELDON_MODEL_SERVICE = 'seldon.protos.Model';
export const SELDON_SERVICE = 'seldon.protos.Seldon';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
/** The initial-metadata key of every answer's request id (REST's `X-Request-Id` header). */
export const REQUEST_ID_KEY = 'x-request-id';
const JSON_TYPE = 'application/json';

/**
 * One call, for the request metrics: the executor `service` label (the REST routes' own), the full RPC
 * name (`/inference.GRPCInferenceService/ModelInfer`), the gRPC status code, the seconds it took.
 */
export type GrpcRequestHook = (service: RequestService, rpc: string, code: number, seconds: number) => void;

/** Where defects and component failures are logged (pino's and Fastify's loggers fit). */
export interface GrpcLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface GrpcServerOptions {
  runtime: Runtime;
  /** The port (0: any free port; see GrpcServing.port). */
  port: number;
  /** The address (default 0.0.0.0). */
  host?: string;
  /** Called once per measured call (predictions, feedback, metadata, readiness). */
  onRequest?: GrpcRequestHook;
  log?: GrpcLog;
  /** Largest message received or sent (default 10 MiB, the REST body limit); larger is RESOURCE_EXHAUSTED. */
  maxMessageBytes?: number;
  /**
   * Payload logging (`--log-url`): the REST app's logger (one per process), so that both ports log to
   * the same sink and queue. Each prediction's request and answer, as JSON (see payload.ts).
   */
  payloadLog?: PayloadLogger;
}

export interface GrpcServing {
  /** The port bound. */
  readonly port: number;
  /** True once drain() or close() began. */
  readonly closing: boolean;
  /** Serves new calls with `runtime` from now on (after a model reload); calls running finish on theirs. */
  swap(runtime: Runtime): void;
  /**
   * Stops taking calls and lets those in flight finish within `graceMs`; then cuts the rest. Resolves
   * true when every call finished in time. Health answers NOT_SERVING from the start.
   */
  drain(graceMs: number): Promise<boolean>;
  /** Closes at once, cutting calls in flight. */
  close(): Promise<void>;
}

/** The address grpc-js binds: IPv6 literals in brackets. */
export function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Loads the project's .proto files (@grpc/proto-loader imported here, on first use). */
export async function loadProtos(): Promise<PackageDefinition> {
  const loader = await import('@grpc/proto-loader');
  return loader.load([...PROTO_FILES], {
    ...LOADER_OPTIONS,
    includeDirs: [decodeURIComponent(PROTO_DIR.pathname)],
  });
}

function service(definition: PackageDefinition, name: string): Grpc.ServiceDefinition {
  const s = definition[name];
  if (s === undefined) throw new Error(`the proto files declare no service ${name}`);
  return s as Grpc.ServiceDefinition;
}

/** Starts the gRPC server for `runtime`. Rejects with a one-line error naming the address if it cannot listen. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServing> {
  const grpc = await import('@grpc/grpc-js');
  const definition = await loadProtos();
  const host = options.host ?? '0.0.0.0';
  const maxBytes = options.maxMessageBytes ?? DEFAULT_BODY_LIMIT;
  const { onRequest, log, payloadLog } = options;
  // grpc-js's own messages (a failed bind, a broken connection) go to our log, not stderr.
  if (log !== undefined) {
    grpc.setLogger({
      error: (...args: unknown[]) => log.warn({ grpc: args.map(String).join(' ') }, 'grpc-js'),
    });
  }

  let runtime = options.runtime;
  let oip = new OipService(runtime);
  let seldon = new SeldonService(runtime);
  let closing = false;

  const served = new Set([OIP_SERVICE, SELDON_MODEL_SERVICE, SELDON_SERVICE]);
  const health = new Health(served, async () => !closing && (await oip.ready()));

  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
  });

  /**
   * Answers an error: its catalogue entry's status, the code and reason in the trailers; logs defects.
   * Returns the status code and the catalogue error (for the request metrics and the payload log).
   */
  function fail<Res>(
    err: unknown,
    rpc: string,
    reqId: string,
    callback: Grpc.sendUnaryData<Res>,
  ): { code: number; e: ServeError } {
    const e = toServeError(err);
    const code = GRPC_STATUS[e.code];
    if (e.code === 'INTERNAL') log?.error({ reqId, err, rpc }, 'internal error');
    else if (e.status >= 500 && e.code !== 'UNAVAILABLE')
      log?.warn({ reqId, err: e.cause ?? e, rpc }, e.message);
    const metadata = new grpc.Metadata();
    metadata.set(ERROR_CODE_KEY, e.code);
    metadata.set(REASON_KEY, e.reason);
    callback({ code, details: e.message, metadata });
    return { code, e };
  }

  /** The payload log's request event of a prediction, its JSON written after this turn. */
  function logRequest(logger: PayloadLogger, requestId: string, message: unknown): void {
    setImmediate(() => {
      logger.logRequest({ requestId, body: messageJson(message), contentType: JSON_TYPE });
    });
  }

  /** The payload log's response event: the answer, or the error answered (as REST logs error bodies). */
  function logResponse(logger: PayloadLogger, requestId: string, answer: unknown, e?: ServeError): void {
    setImmediate(() => {
      const body =
        e === undefined
          ? messageJson(answer)
          : statusJson(GRPC_STATUS[e.code], e.message, { [ERROR_CODE_KEY]: e.code, [REASON_KEY]: e.reason });
      logger.logResponse({ requestId, body, contentType: JSON_TYPE });
    });
  }

  /**
   * A unary handler: takes the call's request id (answered in the initial metadata as `x-request-id`),
   * runs `fn` (synchronously when it returns a value, so the hot path allocates no promise), answers,
   * reports the call when `measured` names its executor service, and logs a prediction's request and
   * answer to the payload log.
   */
  function unary<Req, Res>(
    serviceName: string,
    method: string,
    measured: RequestService | undefined,
    fn: (req: Req, ids: CallIds) => Res | Promise<Res>,
    refuseWhileClosing = true,
  ): Grpc.handleUnaryCall<Req, Res> {
    const rpc = `/${serviceName}/${method}`;
    const logged = measured === 'predictions' ? payloadLog : undefined;
    return (call, callback) => {
      const started = onRequest && measured ? performance.now() : 0;
      const ids = callIds(call.metadata);
      const { requestId } = ids;
      const head = new grpc.Metadata();
      head.set(REQUEST_ID_KEY, requestId);
      call.sendMetadata(head);
      if (logged !== undefined && logged.mode !== 'response') logRequest(logged, requestId, call.request);
      const done = (code: number) => {
        if (onRequest && measured) onRequest(measured, rpc, code, (performance.now() - started) / 1000);
      };
      const answered = (res: Res) => {
        done(GrpcCode.OK);
        callback(null, res);
        if (logged !== undefined && logged.mode !== 'request') logResponse(logged, requestId, res);
      };
      const failed = (err: unknown) => {
        const { code, e } = fail(err, rpc, requestId, callback);
        done(code);
        if (logged !== undefined && logged.mode !== 'request') logResponse(logged, requestId, undefined, e);
      };
      let result: Res | Promise<Res>;
      try {
        if (closing && refuseWhileClosing) {
          throw new ServeError(
            'UNAVAILABLE',
            'shutting down: not accepting new calls (retry on another replica)',
          );
        }
        result = fn(call.request, ids);
      } catch (err) {
        failed(err);
        return;
      }
      if (result instanceof Promise) result.then(answered, failed);
      else answered(result);
    };
  }

  // ---- inference.GRPCInferenceService ----
  const isReady = async (): Promise<boolean> => !closing && (await oip.ready());
  server.addService(service(definition, OIP_SERVICE), {
    ServerLive: unary(OIP_SERVICE, 'ServerLive', undefined, () => ({ live: true }), false),
    ServerReady: unary(OIP_SERVICE, 'ServerReady', 'status', async () => ({ ready: await isReady() }), false),
    ModelReady: unary(
      OIP_SERVICE,
      'ModelReady',
      'status',
      async (req: { name?: string; version?: string }) => {
        oip.checkModel(req.name, req.version);
        return { ready: await isReady() };
      },
      false,
    ),
    ServerMetadata: unary(OIP_SERVICE, 'ServerMetadata', 'metadata', () => oip.serverMetadata),
    ModelMetadata: unary(
      OIP_SERVICE,
      'ModelMetadata',
      'metadata',
      (req: { name?: string; version?: string }) => {
        oip.checkModel(req.name, req.version);
        return oip.modelMetadataMessage;
      },
    ),
    ModelInfer: unary(OIP_SERVICE, 'ModelInfer', 'predictions', (req: PbInferRequest, ids) =>
      oip.infer(req, ids.requestId),
    ),
  });

  // ---- seldon.protos.Model and seldon.protos.Seldon ----
  const seldonImpl = (name: string) => ({
    Predict: unary(name, 'Predict', 'predictions', (req: PbSeldonMessage, ids) =>
      seldon.predict(req, ids.clientId),
    ),
    SendFeedback: unary(name, 'SendFeedback', 'feedback', (req: PbFeedback, ids) =>
      seldon.feedback(req, ids.clientId),
    ),
  });
  server.addService(service(definition, SELDON_MODEL_SERVICE), {
    ...seldonImpl(SELDON_MODEL_SERVICE),
    Metadata: unary(SELDON_MODEL_SERVICE, 'Metadata', 'metadata', () => seldon.metadataMessage),
  });
  // GraphMetadata is left out: grpc-js answers UNIMPLEMENTED (a single model has no graph).
  server.addService(service(definition, SELDON_SERVICE), {
    ...seldonImpl(SELDON_SERVICE),
    ModelMetadata: unary(SELDON_SERVICE, 'ModelMetadata', 'metadata', () => seldon.metadataMessage),
  });

  // ---- grpc.health.v1.Health ----
  server.addService(service(definition, HEALTH_SERVICE), {
    Check: unary(
      HEALTH_SERVICE,
      'Check',
      'status',
      async (req: { service?: string }) => {
        const name = req.service ?? '';
        const status = await health.status(name);
        if (status === undefined) {
          throw new ServeError(
            'NOT_FOUND',
            `unknown service ${JSON.stringify(name.slice(0, 100))}: ask about "", "liveness" or ${[...served].join(', ')}`,
          );
        }
        return { status };
      },
      false,
    ),
    Watch: (call: Grpc.ServerWritableStream<{ service?: string }, { status: string }>) => {
      if (closing) {
        call.write({ status: 'NOT_SERVING' });
        call.end();
        return;
      }
      health.watch(call as unknown as WatchStream, call.request.service ?? '');
    },
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      bindAddress(host, options.port),
      grpc.ServerCredentials.createInsecure(),
      (err, bound) => {
        if (err) {
          const why = /EADDRINUSE|address already in use/i.test(err.message)
            ? 'the address is already in use'
            : err.message;
          reject(new Error(`cannot listen on ${host}:${options.port} (gRPC): ${why}`, { cause: err }));
        } else resolve(bound);
      },
    );
  });

  let drained: Promise<boolean> | undefined;
  return {
    port,
    get closing() {
      return closing;
    },
    swap(next: Runtime) {
      runtime = next;
      oip = new OipService(runtime);
      seldon = new SeldonService(runtime);
      void health.notify();
    },
    drain(graceMs: number): Promise<boolean> {
      if (drained) return drained;
      closing = true;
      health.endAll();
      drained = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve(false);
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      return drained;
    },
    async close() {
      closing = true;
      health.endAll();
      server.forceShutdown();
    },
  };
}
