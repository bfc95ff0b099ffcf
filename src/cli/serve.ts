/**
 * `segserve serve`: loads and validates the model (and component) before listening, serves Seldon Core
 * v1 and the Open Inference Protocol v2 on the HTTP port, both over gRPC on the gRPC port (--grpc-port,
 * 0: off), and Prometheus on the metrics port.
 *
 * - SIGTERM drains without dropping a request: readiness answers 503 at once while predictions are
 *   still served for --drain-delay seconds (Kubernetes takes the pod out of its endpoints meanwhile),
 *   responses carry `Connection: close`; then the listener closes, idle connections close, in-flight
 *   requests finish within --grace, exit 0. SIGINT skips the delay. A second signal ends at once (1).
 * - SIGHUP, or `POST /v2/repository/models/{name}/load`, re-reads the model file: validated completely,
 *   then swapped in (in every worker); a refused file leaves the old model serving.
 * - With --workers N a supervising primary (node:cluster, src/serve/supervisor.ts) reads the model once
 *   and hands the same bytes to every worker, replaces a worker that dies (with back-off), and serves
 *   all workers' metrics together (prom-client's AggregatorRegistry). gRPC is served by every worker,
 *   each binding the gRPC port through node:cluster's shared handle (the primary spreads connections
 *   round-robin); the primary serves no gRPC itself.
 * - --log-url: every prediction's request and response as CloudEvents (payload-log.ts), one logger per
 *   serving process, closed after the drain within the grace.
 *
 * The environment of a container platform is read too: the Seldon variables (ports, identity), KServe's
 * PORT, PROTOCOL (seldon, v1, v2, kserve) and SEGSERVE_MODEL (the model when --model is not given).
 *
 * Exit codes: a bad flag, environment or model fails before listening through main.ts (1 or 2); the
 * signal-driven end exits here, since the server's life ends outside any command promise.
 */
import cluster from 'node:cluster';
import { type AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { DEFAULT_MODEL_PATH } from '../defaults.js';
import { describeError, SegserveError, usageError } from '../errors.js';
import type { LoadedModel } from '../pipeline/artifact.js';
import type { AppOptions, Repository } from '../serve/app.js';
import type { Component } from '../serve/component.js';
import {
  DEFAULT_BODY_LIMIT,
  DEFAULT_DRAIN_DELAY_SECONDS,
  DEFAULT_DRIFT_WINDOW,
  DEFAULT_GRACE_SECONDS,
  DEFAULT_GRPC_PORT,
  DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
  DEFAULT_MAX_ROWS,
  DEFAULT_METRICS_PORT,
  DEFAULT_MODEL_NAME,
  DEFAULT_PORT,
  DEFAULT_REQUEST_TIMEOUT_SECONDS,
  GRPC_PORT_ENV,
  HEADERS_TIMEOUT_SECONDS,
  MAX_DRIFT_WINDOW,
} from '../serve/constants.js';
import {
  type Env,
  logLevel,
  metricsPath,
  modelVar,
  type Protocol,
  portVar,
  protocolVar,
  seldonSettings,
} from '../serve/env.js';
import type { GrpcServing } from '../serve/grpc/server.js';
import type { HttpServer } from '../serve/lifecycle.js';
import type { ServeMetrics } from '../serve/metrics.js';
import type { ModelBytes } from '../serve/model-source.js';
import { type PayloadLogger, type PayloadLogMode, parsePayloadLogFlags } from '../serve/payload-log.js';
import type { Message } from '../serve/supervisor.js';
import { nonNegativeInt, port, positiveInt } from './options.js';

// Fastify, prom-client and the model loader are imported when the command runs (start-up time).
const load = async () => ({
  ...(await import('prom-client')),
  ...(await import('../serve/app.js')),
  ...(await import('../serve/component.js')),
  ...(await import('../serve/lifecycle.js')),
  ...(await import('../serve/metrics.js')),
  ...(await import('../serve/model-source.js')),
  ...(await import('../serve/payload-log.js')),
  ...(await import('../serve/supervisor.js')),
});
// @grpc/grpc-js and the .proto files only when the gRPC port is on.
const loadGrpc = async () => ({
  ...(await import('../serve/grpc/server.js')),
  ...(await import('../serve/grpc/status.js')),
});

/** The ports a server listens on, once it does (workers: the primary's HTTP port, their gRPC port). */
export interface Listening {
  port: number;
  metricsPort: number | undefined;
  /** The gRPC port, or undefined when gRPC is off. */
  grpcPort: number | undefined;
}

export interface ServeFlags {
  model?: string;
  component?: string;
  host: string;
  port?: number;
  metricsPort?: number;
  modelName: string;
  workers: number;
  grace: number;
  drainDelay?: number;
  requestTimeout?: number;
  keepAliveTimeout?: number;
  maxRows: number;
  bodyLimit: number;
  bodyBudget?: number;
  /** The gRPC port (default $PREDICTIVE_UNIT_GRPC_SERVICE_PORT, else 5000; 0: no gRPC). */
  grpcPort?: number;
  /** Rows kept for the drift gauges (0: none). */
  driftWindow?: number;
  predictTimeout?: number;
  /** Payload logging: the sink, and which events (all, request, response). */
  logUrl?: string;
  logMode?: string;
  /** Called once this process listens (after the HTTP, metrics and gRPC ports are bound): `segserve up`. */
  onListening?: (at: Listening) => void;
}

function driftWindow(value: string): number {
  const n = nonNegativeInt(value);
  if (n > MAX_DRIFT_WINDOW)
    throw new InvalidArgumentError(`expected an integer in [0, ${MAX_DRIFT_WINDOW}].`);
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a number of seconds ≥ 0.');
  return n;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'serve the model over Seldon Core v1 and Open Inference v2 (REST, one port), with Prometheus metrics on a second port',
    )
    .option(
      '--model <path>',
      `model artifact (default: $SEGSERVE_MODEL, else ${DEFAULT_MODEL_PATH}; with --component, none unless given)`,
    )
    .option(
      '--component <file>',
      'ES module whose default export is a component class (see docs/components.md)',
    )
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option(
      '--port <port>',
      `HTTP port (default: $PREDICTIVE_UNIT_HTTP_SERVICE_PORT, $PORT or ${DEFAULT_PORT})`,
      port,
    )
    .option(
      '--metrics-port <port>',
      `metrics port (default: $PREDICTIVE_UNIT_METRICS_SERVICE_PORT or ${DEFAULT_METRICS_PORT})`,
      port,
    )
    .option(
      '--grpc-port <port>',
      `gRPC port, Open Inference and Seldon v1 (default: $${GRPC_PORT_ENV} or ${DEFAULT_GRPC_PORT}; 0: no gRPC)`,
      port,
    )
    .option(
      '--model-name <name>',
      'model name (metadata; the Open Inference Protocol serves /v2/models/<name>)',
      DEFAULT_MODEL_NAME,
    )
    .option('--workers <n>', 'worker processes sharing the port (node:cluster)', positiveInt, 1)
    .option(
      '--drain-delay <seconds>',
      'on SIGTERM, how long readiness answers 503 while requests are still served, before the listener closes (SIGINT: none)',
      seconds,
      DEFAULT_DRAIN_DELAY_SECONDS,
    )
    .option(
      '--grace <seconds>',
      'after the drain delay, how long in-flight requests may take to finish',
      seconds,
      DEFAULT_GRACE_SECONDS,
    )
    .option(
      '--request-timeout <seconds>',
      'longest a request (headers and body) may take to arrive; slower is cut with a 408 (0: no limit)',
      seconds,
      DEFAULT_REQUEST_TIMEOUT_SECONDS,
    )
    .option(
      '--keep-alive-timeout <seconds>',
      'how long an idle keep-alive connection stays open',
      seconds,
      DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
    )
    .option('--max-rows <n>', 'most rows in one request (more is a 413)', positiveInt, DEFAULT_MAX_ROWS)
    .option(
      '--body-limit <bytes>',
      'largest request body in bytes (more is a 413, refused before it is read)',
      positiveInt,
      DEFAULT_BODY_LIMIT,
    )
    .option(
      '--body-budget <bytes>',
      'most request-body bytes received or processed at once, over all requests (more is a 503 with Retry-After; default 3 × --body-limit)',
      positiveInt,
    )
    .option(
      '--predict-timeout <seconds>',
      "a component's predict (or other method) that does not settle within this is answered 504 (0: no limit)",
      seconds,
      30,
    )
    .option(
      '--drift-window <n>',
      `rows kept for the drift gauges (0: no drift gauges; at most ${MAX_DRIFT_WINDOW})`,
      driftWindow,
      DEFAULT_DRIFT_WINDOW,
    )
    .option(
      '--log-url <url>',
      "payload logging: POST every prediction's request and response as CloudEvents to this http(s) URL",
    )
    .option('--log-mode <mode>', 'payload logging: all, request or response (default all; needs --log-url)')
    .action((flags: ServeFlags) => runServe(flags));
}

export interface Resolved {
  env: Env;
  /** The model artifact to load: --model, else $SEGSERVE_MODEL, else the default (none with --component). */
  model: string | undefined;
  /** PROTOCOL: the envelope of errors outside either protocol's routes (both are always served). */
  protocol: Protocol;
  level: string;
  port: number;
  metricsPort: number;
  /** 0: no gRPC. */
  grpcPort: number;
  metricsPath: string;
  /** Payload logging, when --log-url is given. */
  payloadLog: { url: URL; mode: PayloadLogMode } | undefined;
  graceMs: number;
  drainDelayMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** Flags win over the environment; every bad value fails here, before anything is loaded. */
export function resolveServe(flags: ServeFlags, env: Env): Resolved {
  seldonSettings(env);
  const protocol = protocolVar(env);
  const level = logLevel(env);
  const httpPort =
    flags.port ?? portVar(env, 'PREDICTIVE_UNIT_HTTP_SERVICE_PORT') ?? portVar(env, 'PORT') ?? DEFAULT_PORT;
  const metricsPort =
    flags.metricsPort ?? portVar(env, 'PREDICTIVE_UNIT_METRICS_SERVICE_PORT') ?? DEFAULT_METRICS_PORT;
  if (httpPort === metricsPort && httpPort !== 0) {
    throw usageError(`the HTTP port and the metrics port are both ${httpPort}: give them different ports`);
  }
  const grpcPort = flags.grpcPort ?? portVar(env, GRPC_PORT_ENV) ?? DEFAULT_GRPC_PORT;
  if (grpcPort !== 0 && (grpcPort === httpPort || grpcPort === metricsPort)) {
    throw usageError(
      `the gRPC port ${grpcPort} is also the ${grpcPort === httpPort ? 'HTTP' : 'metrics'} port: give it another (--grpc-port; 0 turns gRPC off)`,
    );
  }
  const payloadLog = parsePayloadLogFlags({ logUrl: flags.logUrl, logMode: flags.logMode });
  return {
    env,
    model: flags.model ?? modelVar(env) ?? (flags.component === undefined ? DEFAULT_MODEL_PATH : undefined),
    protocol,
    level,
    port: httpPort,
    metricsPort,
    grpcPort,
    metricsPath: metricsPath(env),
    payloadLog,
    graceMs: flags.grace * 1000,
    drainDelayMs: (flags.drainDelay ?? DEFAULT_DRAIN_DELAY_SECONDS) * 1000,
    requestTimeoutMs: (flags.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_SECONDS) * 1000,
    keepAliveTimeoutMs: (flags.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS) * 1000,
  };
}

/** In a container the path usually comes from the image's SEGSERVE_MODEL: say so when it fails. */
function explainModelError(flags: ServeFlags, r: Resolved, err: unknown): unknown {
  if (flags.model === undefined && modelVar(r.env) !== undefined && err instanceof SegserveError) {
    return new SegserveError(
      `${err.message}; the path is $SEGSERVE_MODEL: mount the model there, or point it elsewhere`,
      err.code,
      { cause: err },
    );
  }
  return err;
}

/** Reads and validates the model file (when there is one): its bytes and the model. */
async function readServedModel(
  flags: ServeFlags,
  r: Resolved,
): Promise<{ bytes: ModelBytes; loaded: LoadedModel } | undefined> {
  if (r.model === undefined) return undefined;
  const { readModel } = await load();
  try {
    return await readModel(r.model);
  } catch (err) {
    throw explainModelError(flags, r, err);
  }
}

async function componentFor(flags: ServeFlags, loaded: LoadedModel | undefined): Promise<Component> {
  const { loadComponent, ForestComponent, insightOf } = await load();
  // The model's insight (its training drift reference) feeds the drift gauges.
  if (flags.component !== undefined) return loadComponent(flags.component, loaded?.model, insightOf(loaded));
  return ForestComponent.of(loaded as LoadedModel);
}

function appOptions(flags: ServeFlags, r: Resolved): AppOptions {
  return {
    env: r.env,
    protocol: r.protocol,
    modelName: flags.modelName,
    maxRows: flags.maxRows,
    bodyLimit: flags.bodyLimit,
    driftWindow: flags.driftWindow ?? DEFAULT_DRIFT_WINDOW,
    predictTimeoutMs: Math.round((flags.predictTimeout ?? 30) * 1000),
    logger: { level: r.level },
  };
}

/** Two Prometheus text expositions as one (each family whole, a line break between them). */
function joinExpositions(a: string, b: string): string {
  return a === '' || a.endsWith('\n') ? a + b : `${a}\n${b}`;
}

export async function runServe(flags: ServeFlags): Promise<void> {
  const r = resolveServe(flags, process.env);
  if (cluster.isPrimary && flags.workers > 1) return runPrimary(flags, r);
  if (!cluster.isWorker) return runServer(flags, r);
  try {
    await runServer(flags, r);
  } catch (err) {
    // A worker's IPC channel would keep it alive after main() reports the error: end it here, so
    // the primary sees it exit.
    process.stderr.write(`segserve: worker ${process.pid}: ${describeError(err)}\n`);
    process.exit(1);
  }
}

/** In a worker: asks the primary for the model bytes (and the HTTP port) and waits for them. */
function modelFromPrimary(): Promise<{ model: ModelBytes | undefined; port: number }> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      const msg = m as Message;
      if (msg?.segserve !== 'model') return;
      process.off('message', on);
      resolve({ model: msg.model, port: msg.port });
    };
    process.on('message', on);
    process.send?.({ segserve: 'hello' } satisfies Message);
  });
}

/**
 * The model this process serves, as a chain of apps on one HTTP server: building the next app (model,
 * component, routes) happens beside the serving one, then one swap; swaps run one at a time.
 */
class Host {
  http: HttpServer | undefined;
  grpc: GrpcServing | undefined;
  version: string | undefined;
  reloading = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly flags: ServeFlags,
    private readonly r: Resolved,
    private readonly metrics: ServeMetrics,
    private readonly repository: Repository,
    private readonly payloadLog: PayloadLogger | undefined,
  ) {}

  async build(loaded: LoadedModel | undefined, version: string | undefined): Promise<FastifyInstance> {
    const { buildApp } = await load();
    const component = await componentFor(this.flags, loaded);
    return buildApp(component, {
      ...appOptions(this.flags, this.r),
      metrics: this.metrics,
      modelVersion: version,
      repository: this.repository,
      ...(this.payloadLog === undefined ? {} : { payloadLog: this.payloadLog }),
    });
  }

  /** Builds an app for `loaded` and swaps it in (after any swap already under way). */
  swapTo(loaded: LoadedModel, version: string): Promise<void> {
    const next = this.chain.then(async () => {
      if (version === this.version) return;
      const app = await this.build(loaded, version);
      await (this.http as HttpServer).swap(app);
      this.grpc?.swap(app.segserve.runtime);
      this.version = version;
      this.metrics.setModelVersion(version);
    });
    this.chain = next.catch(() => {});
    return next;
  }
}

/** One process serving HTTP (and metrics, unless it is a cluster worker). */
async function runServer(flags: ServeFlags, r: Resolved): Promise<void> {
  const { buildMetricsApp, HttpServer, listen, loadBytes, PayloadLogger, PrimaryMetrics, ServeMetrics } =
    await load();
  const worker = cluster.isWorker;
  let bytes: ModelBytes | undefined;
  let loaded: LoadedModel | undefined;
  let sharedPort = 0;
  if (worker) {
    const given = await modelFromPrimary();
    bytes = given.model;
    sharedPort = given.port;
    loaded = bytes === undefined ? undefined : loadBytes(bytes);
  } else {
    const read = await readServedModel(flags, r);
    bytes = read?.bytes;
    loaded = read?.loaded;
  }

  const settings = seldonSettings(r.env);
  const metrics = new ServeMetrics({ identity: settings.identity });
  // One payload logger per serving process, kept across reloads, counted on this process's registry.
  const payloadLog =
    r.payloadLog === undefined
      ? undefined
      : new PayloadLogger({
          url: r.payloadLog.url,
          mode: r.payloadLog.mode,
          source: `http://${hostname()}:${worker ? sharedPort : r.port}/`,
          modelId: r.env.PREDICTIVE_UNIT_ID?.trim() || flags.modelName,
          endpoint: r.env.PREDICTOR_ID?.trim() || 'default',
          metrics: metrics.registry,
        });
  let log: FastifyBaseLogger | undefined;
  let nextReload = 0;
  const replies = new Map<number, (m: Extract<Message, { segserve: 'reloaded' }>) => void>();
  const repository: Repository = {
    load: () => (worker ? reloadThroughPrimary() : reloadHere()),
    status: () => ({
      state: host.http?.draining ? 'UNAVAILABLE' : host.reloading ? 'LOADING' : 'READY',
      version: host.version,
    }),
  };
  const host = new Host(flags, r, metrics, repository, payloadLog);

  /** Starts gRPC on the served runtime (in a worker, on the port shared through node:cluster). */
  async function startGrpc(): Promise<GrpcServing | undefined> {
    if (r.grpcPort === 0) return undefined;
    const { startGrpcServer, grpcCodeName } = await loadGrpc();
    const grpc = await startGrpcServer({
      runtime: app.segserve.runtime,
      port: r.grpcPort,
      host: flags.host,
      maxMessageBytes: flags.bodyLimit,
      onRequest: (service, _rpc, code, seconds) => metrics.observeGrpc(service, grpcCodeName(code), seconds),
      ...(log === undefined ? {} : { log }),
      ...(payloadLog === undefined ? {} : { payloadLog }),
    }).catch((err: unknown) => {
      throw new SegserveError((err as Error).message, 'SEGSERVE_ERR_LISTEN', { cause: err });
    });
    host.grpc = grpc;
    return grpc;
  }

  /** After the HTTP drain: the payload log's queue gets what is left of the grace to flush. */
  async function closePayloadLog(deadline: number): Promise<void> {
    if (payloadLog === undefined) return;
    const stats = await payloadLog.close(Math.max(0, deadline - Date.now()));
    log?.info({ sent: stats.sent, dropped: stats.dropped, failed: stats.failed }, 'payload log closed');
  }

  /** One process: re-read, validate, swap. */
  async function reloadHere(): Promise<string> {
    if (r.model === undefined) {
      throw new Error('there is no model file to reload (a --component served without --model)');
    }
    host.reloading = true;
    try {
      const read = await readServedModel(flags, r);
      const fresh = read as NonNullable<typeof read>;
      await host.swapTo(fresh.loaded, fresh.bytes.version);
      log?.info({ version: fresh.bytes.version }, 'model reloaded');
      return fresh.bytes.version;
    } catch (err) {
      log?.error({ err: describeError(err) }, 'model not reloaded: the old model keeps serving');
      throw err;
    } finally {
      host.reloading = false;
    }
  }

  /** A worker: the primary reads and validates once, then every worker swaps; this waits for all. */
  function reloadThroughPrimary(): Promise<string> {
    const id = ++nextReload;
    return new Promise((resolve, reject) => {
      replies.set(id, (m) => {
        replies.delete(id);
        if (m.error !== undefined) reject(new Error(m.error));
        else resolve(m.version as string);
      });
      process.send?.({ segserve: 'reload', id } satisfies Message);
    });
  }

  const app = await host.build(loaded, bytes?.version);
  host.version = bytes?.version;
  log = app.segserve.log;
  // A component's floating promise that rejects would end the process (Node's default): log it as one
  // JSON line and keep serving. (A rejection inside a request's own chain is answered 500 by the runtime.)
  process.on('unhandledRejection', (reason) => {
    log?.error(
      { err: describeError(reason) },
      'unhandled promise rejection (a component left a promise unawaited)',
    );
  });
  // A component that throws outside any request (in a timer of its own) would end the process: log it
  // as one JSON line and keep serving the other requests.
  process.on('uncaughtException', (err) => {
    log?.error({ err: describeError(err) }, 'uncaught exception (a component threw outside a request)');
  });
  const http = await HttpServer.create(app, {
    bodyLimit: flags.bodyLimit,
    bodyBudget: flags.bodyBudget,
    protocol: r.protocol,
    requestTimeoutMs: r.requestTimeoutMs,
    headersTimeoutMs: HEADERS_TIMEOUT_SECONDS * 1000,
    keepAliveTimeoutMs: r.keepAliveTimeoutMs,
  });
  host.http = http;

  const own = new PrimaryMetrics();
  own.setWorkers(1, 1);
  const metricsApp = worker
    ? undefined
    : buildMetricsApp({
        path: r.metricsPath,
        collect: async () => joinExpositions(await metrics.text(), await own.text()),
        contentType: metrics.contentType,
        log,
      });

  if (worker) {
    // The primary owns the listener and the shutdown: it drains, closes the listener, then says close.
    let closing = false;
    const closeWorker = (graceMs: number) => {
      if (closing) return;
      closing = true;
      const deadline = Date.now() + graceMs;
      void Promise.all([http.close(graceMs), host.grpc?.drain(graceMs) ?? true])
        .then(async ([httpClean, grpcClean]) => {
          await closePayloadLog(deadline);
          return httpClean && grpcClean;
        })
        .then((clean) => {
          if (!clean)
            log?.error({ graceSeconds: graceMs / 1000 }, 'grace period expired: connections were cut');
          log?.info({ closed: http.closed }, 'stopped');
          process.exit(clean ? 0 : 1);
        });
    };
    const swap = (seq: number, model: ModelBytes) => {
      let fresh: LoadedModel;
      try {
        fresh = loadBytes(model);
      } catch (err) {
        process.send?.({ segserve: 'swap-failed', seq, error: describeError(err) } satisfies Message);
        return;
      }
      host.swapTo(fresh, model.version).then(
        () => process.send?.({ segserve: 'swapped', seq, version: model.version } satisfies Message),
        (err: unknown) =>
          process.send?.({ segserve: 'swap-failed', seq, error: describeError(err) } satisfies Message),
      );
    };
    process.on('message', (m: unknown, handle: unknown) => {
      const msg = m as Message;
      switch (msg?.segserve) {
        case 'conn':
          if (handle instanceof Socket) http.accept(handle);
          return;
        case 'drain':
          http.drain();
          return;
        case 'hold':
          http.hold();
          return;
        case 'close':
          closeWorker(msg.graceMs);
          return;
        case 'left':
          closeWorker(r.graceMs);
          return;
        case 'reloaded':
          replies.get(msg.id)?.(msg);
          return;
        case 'swap':
          swap(msg.seq, msg.model);
          return;
        case 'metrics':
          // The primary aggregates every worker's registry (supervisor.ts workerMetrics).
          void metrics.registry
            .getMetricsAsJSON()
            .then((list) =>
              process.send?.({ segserve: 'metrics', id: msg.id, metrics: list } satisfies Message),
            );
          return;
        default:
          return;
      }
    });
    // Signalled itself (not through the primary, which also hears a terminal's SIGINT): leave the rotation.
    const leave = () => {
      http.drain();
      process.send?.({ segserve: 'leaving' } satisfies Message);
    };
    process.on('SIGTERM', leave);
    process.on('SIGINT', leave);
    // SIGHUP reloads through the primary, which hears it too (from a terminal) or is sent it.
    process.on('SIGHUP', () => {});
    // The primary is gone: nobody hands connections any more.
    process.once('disconnect', () => closeWorker(r.graceMs));
    const grpc = await startGrpc();
    process.send?.({ segserve: 'listening' } satisfies Message);
    log.info(
      {
        port: sharedPort,
        grpcPort: grpc?.port,
        protocol: r.protocol,
        model: r.model,
        version: bytes?.version,
      },
      'segserve serving',
    );
    return;
  }

  // Signals before listening: a SIGTERM that arrives while starting still drains.
  let ending: Promise<void> | undefined;
  let serving: Awaited<ReturnType<typeof listen>> | undefined;
  let delayMs = r.drainDelayMs;
  const end = (why: string) => {
    if (ending) return;
    ending = (async () => {
      while (serving === undefined) await new Promise((res) => setTimeout(res, 10));
      log?.info(
        { signal: why, drainDelaySeconds: delayMs / 1000, graceSeconds: flags.grace },
        'shutting down: draining',
      );
      const deadline = Date.now() + delayMs + r.graceMs;
      const clean = await serving.shutdown(delayMs, r.graceMs);
      await closePayloadLog(deadline);
      if (!clean) {
        log?.error({ graceSeconds: flags.grace }, 'grace period expired: remaining connections were cut');
        process.exit(1);
      }
      log?.info({ closed: http.closed }, 'stopped');
      process.exit(0);
    })();
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    // A worker hears the primary's relay and, from a terminal, the same signal itself: not a second one.
    if (signals > 1 && !worker) {
      process.stderr.write(`segserve: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    if (signal === 'SIGINT') {
      delayMs = 0;
      http.drain();
    }
    end(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP reloads the model (in a worker, the primary does: it hears SIGHUP too, from a terminal).
  process.on('SIGHUP', () => {
    if (!worker && !ending) repository.load().catch(() => {});
  });
  if (worker) process.once('disconnect', () => end('disconnect'));

  const listening = await listen(http, metricsApp, {
    host: flags.host,
    port: r.port,
    metricsPort: r.metricsPort,
  });
  let grpc: GrpcServing | undefined;
  try {
    grpc = await startGrpc();
  } catch (err) {
    await listening.shutdown(0, 0);
    throw err;
  }
  // gRPC drains with HTTP: NOT_SERVING during the drain delay (the runtime's flag), then closed.
  if (grpc !== undefined) listening.also((graceMs) => (grpc as GrpcServing).drain(graceMs));
  serving = listening;
  flags.onListening?.({ port: serving.port, metricsPort: serving.metricsPort, grpcPort: grpc?.port });
  log.info(
    {
      port: serving.port,
      metricsPort: serving.metricsPort,
      grpcPort: grpc?.port,
      metricsPath: r.metricsPath,
      protocol: r.protocol,
      model: r.model,
      version: bytes?.version,
    },
    'segserve serving',
  );
}

/** The cluster primary: validates before forking, supervises workers, serves aggregated metrics. */
async function runPrimary(flags: ServeFlags, r: Resolved): Promise<void> {
  const {
    AggregatorRegistry,
    buildApp,
    buildMetricsApp,
    listenError,
    PrimaryMetrics,
    readModel,
    Supervisor,
  } = await load();
  // Fail here, once, with a one-line message, rather than in every worker.
  const read = await readServedModel(flags, r);
  const component = await componentFor(flags, read?.loaded);
  const check = await buildApp(component, {
    ...appOptions(flags, r),
    processMetrics: false,
    modelVersion: read?.bytes.version,
  });
  const log = check.segserve.log;
  await check.close();

  const own = new PrimaryMetrics();
  const metricsApp = buildMetricsApp({
    path: r.metricsPath,
    collect: async () =>
      joinExpositions(
        await AggregatorRegistry.aggregate(await supervisor.workerMetrics()).metrics(),
        await own.text(),
      ),
    contentType: own.registry.contentType,
    log,
  });
  const modelPath = r.model;
  const supervisor = new Supervisor({
    workers: flags.workers,
    log,
    metrics: own,
    model: read?.bytes,
    reread:
      modelPath === undefined
        ? undefined
        : async () => {
            try {
              const fresh = await readModel(modelPath);
              // A component must accept the new model too (its constructor, its metadata).
              const probe = await buildApp(await componentFor(flags, fresh.loaded), {
                ...appOptions(flags, r),
                processMetrics: false,
                modelVersion: fresh.bytes.version,
              });
              await probe.close();
              return fresh.bytes;
            } catch (err) {
              log.error({ err: describeError(err) }, 'model not reloaded: the old model keeps serving');
              throw err;
            }
          },
  });

  let signals = 0;
  let stopping: Promise<void> | undefined;
  const stop = (signal: NodeJS.Signals | 'no worker') => {
    signals++;
    if (signals > 1 && signal !== 'no worker') {
      process.stderr.write(`segserve: second ${signal}, exiting now\n`);
      for (const w of supervisor.workers()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    if (stopping) return;
    stopping = (async () => {
      supervisor.stop();
      const delay = signal === 'SIGTERM' ? r.drainDelayMs : 0;
      log.info(
        { signal, drainDelaySeconds: delay / 1000, graceSeconds: flags.grace },
        'shutting down: draining',
      );
      // 1. Readiness 503 and `Connection: close` in every worker; predictions still served.
      supervisor.drain();
      if (delay > 0) await new Promise((res) => setTimeout(res, delay));
      // 2. The listener closes; every connection already accepted reaches a worker.
      await supervisor.closeListener(Math.min(r.graceMs, 1000));
      // 3. Workers finish what they have within the grace period and exit.
      const workers = supervisor.workers();
      const exits = workers.map(
        (w) =>
          new Promise<boolean>((res) => {
            if (w.isDead()) res(w.process.exitCode === 0);
            else w.once('exit', (code) => res(code === 0));
          }),
      );
      supervisor.closeWorkers(r.graceMs);
      // Workers have the same grace; give them a moment beyond it to report their exit.
      const timeout = new Promise<boolean>((res) => setTimeout(() => res(false), r.graceMs + 2000).unref());
      const clean = await Promise.race([Promise.all(exits).then((all) => all.every(Boolean)), timeout]);
      for (const w of supervisor.workers()) if (!w.isDead()) w.process.kill('SIGKILL');
      await metricsApp.close();
      log.info({ cut: supervisor.cut }, 'stopped');
      process.exit(clean && signal !== 'no worker' ? 0 : 1);
    })();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    if (!stopping) supervisor.reload().catch(() => {});
  });
  let port: number;
  try {
    port = await supervisor.listen(flags.host, r.port);
  } catch (err) {
    throw listenError(flags.host, r.port, 'HTTP', err);
  }
  try {
    await metricsApp.listen({ host: flags.host, port: r.metricsPort });
  } catch (err) {
    throw listenError(flags.host, r.metricsPort, 'metrics', err);
  }
  supervisor.start();
  void supervisor.ended.then(() => stop('no worker'));
  const metricsPort = (metricsApp.server.address() as AddressInfo).port;
  log.info(
    {
      workers: flags.workers,
      port,
      metricsPort,
      metricsPath: r.metricsPath,
      version: read?.bytes.version,
    },
    'segserve primary',
  );
}
