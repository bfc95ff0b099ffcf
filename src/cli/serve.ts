/**
 * `segserve serve`: loads and validates the model (and component) before listening, serves Seldon Core
 * v1 and the Open Inference Protocol v2 on the HTTP port and Prometheus on the metrics port, and on
 * SIGTERM/SIGINT drains: health turns
 * 503, the listener closes, in-flight requests finish, and the process exits 0 within --grace.
 * With --workers N the primary forks N workers (node:cluster) sharing the HTTP port and serves all
 * workers' metrics together (prom-client's AggregatorRegistry).
 *
 * The environment of a container platform is read too: the Seldon variables (ports, identity), KServe's
 * PORT, PROTOCOL (seldon, v1, v2, kserve) and SEGSERVE_MODEL (the model when --model is not given).
 *
 * Exit codes: a bad flag, environment or model fails before listening through main.ts (1 or 2); the
 * signal-driven end exits here, since the server's life ends outside any command promise.
 */
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_MODEL_PATH } from '../defaults.js';
import { describeError, SegserveError, usageError } from '../errors.js';
import type { Component } from '../serve/component.js';
import {
  DEFAULT_BODY_LIMIT,
  DEFAULT_GRACE_SECONDS,
  DEFAULT_MAX_ROWS,
  DEFAULT_METRICS_PORT,
  DEFAULT_MODEL_NAME,
  DEFAULT_PORT,
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
import { port, positiveInt } from './options.js';

// Fastify, prom-client and the model loader are imported when the command runs (start-up time).
const load = async () => ({
  ...(await import('prom-client')),
  ...(await import('../pipeline/artifact.js')),
  ...(await import('../serve/app.js')),
  ...(await import('../serve/component.js')),
  ...(await import('../serve/lifecycle.js')),
});

export interface ServeFlags {
  model?: string;
  component?: string;
  host: string;
  port?: number;
  metricsPort?: number;
  modelName: string;
  workers: number;
  grace: number;
  maxRows: number;
  bodyLimit: number;
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
      '--model-name <name>',
      'model name (metadata; the Open Inference Protocol serves /v2/models/<name>)',
      DEFAULT_MODEL_NAME,
    )
    .option('--workers <n>', 'worker processes sharing the port (node:cluster)', positiveInt, 1)
    .option(
      '--grace <seconds>',
      'on SIGTERM/SIGINT, how long in-flight requests may take to finish',
      seconds,
      DEFAULT_GRACE_SECONDS,
    )
    .option('--max-rows <n>', 'most rows in one request (more is a 413)', positiveInt, DEFAULT_MAX_ROWS)
    .option(
      '--body-limit <bytes>',
      'largest request body in bytes (more is a 413)',
      positiveInt,
      DEFAULT_BODY_LIMIT,
    )
    .action(runServe);
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
  metricsPath: string;
  graceMs: number;
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
  return {
    env,
    model: flags.model ?? modelVar(env) ?? (flags.component === undefined ? DEFAULT_MODEL_PATH : undefined),
    protocol,
    level,
    port: httpPort,
    metricsPort,
    metricsPath: metricsPath(env),
    graceMs: flags.grace * 1000,
  };
}

async function loadServed(flags: ServeFlags, r: Resolved): Promise<Component> {
  const { loadModel, loadComponent, ForestComponent } = await load();
  let model: Awaited<ReturnType<typeof loadModel>> | undefined;
  try {
    model = r.model === undefined ? undefined : await loadModel(r.model);
  } catch (err) {
    // In a container the path usually comes from the image's SEGSERVE_MODEL: say so.
    if (flags.model === undefined && modelVar(r.env) !== undefined && err instanceof SegserveError) {
      throw new SegserveError(
        `${err.message}; the path is $SEGSERVE_MODEL: mount the model there, or point it elsewhere`,
        err.kind,
        { cause: err },
      );
    }
    throw err;
  }
  if (flags.component !== undefined) return loadComponent(flags.component, model);
  return new ForestComponent(model as NonNullable<typeof model>);
}

function appOptions(flags: ServeFlags, r: Resolved) {
  return {
    env: r.env,
    protocol: r.protocol,
    modelName: flags.modelName,
    maxRows: flags.maxRows,
    bodyLimit: flags.bodyLimit,
    logger: { level: r.level },
  };
}

/** Resolves with the first SIGTERM/SIGINT; a second one ends the process at once. */
function firstSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    let received = false;
    const on = (signal: NodeJS.Signals) => {
      if (received) {
        process.stderr.write(`segserve: second ${signal}, exiting now\n`);
        process.exit(1);
      }
      received = true;
      resolveSignal(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

export async function runServe(flags: ServeFlags): Promise<void> {
  const r = resolveServe(flags, process.env);
  if (cluster.isPrimary && flags.workers > 1) return runPrimary(flags, r);
  if (!cluster.isWorker) return runSingle(flags, r);
  try {
    await runSingle(flags, r);
  } catch (err) {
    // A worker's IPC channel would keep it alive after main() reports the error: end it here, so
    // the primary sees it exit.
    process.stderr.write(`segserve: worker ${process.pid}: ${describeError(err)}\n`);
    process.exit(1);
  }
}

/** One process serving HTTP (and metrics, unless it is a cluster worker). */
async function runSingle(flags: ServeFlags, r: Resolved): Promise<void> {
  const { AggregatorRegistry, buildApp, buildMetricsApp, listen } = await load();
  const component = await loadServed(flags, r);
  const app = await buildApp(component, appOptions(flags, r));
  const worker = cluster.isWorker;
  if (worker) {
    // Answer the primary's metric requests with this worker's registry.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([app.segserve.metrics.registry]);
  }
  const metrics = app.segserve.metrics;
  const metricsApp = worker
    ? undefined
    : buildMetricsApp({
        path: r.metricsPath,
        collect: () => metrics.text(),
        contentType: metrics.contentType,
        log: app.segserve.log,
      });
  const signal = firstSignal();
  const serving = await listen(app, metricsApp, {
    host: flags.host,
    port: r.port,
    metricsPort: r.metricsPort,
  });
  app.segserve.log.info(
    {
      port: serving.port,
      metricsPort: serving.metricsPort,
      metricsPath: r.metricsPath,
      protocol: r.protocol,
      model: r.model,
    },
    'segserve serving',
  );
  const ended = await Promise.race([
    signal,
    new Promise<string>((res) => {
      if (worker) process.once('disconnect', () => res('disconnect'));
    }),
  ]);
  app.segserve.log.info(
    { signal: ended, graceSeconds: flags.grace },
    'shutting down: draining in-flight requests',
  );
  const clean = await serving.shutdown(r.graceMs);
  if (!clean) {
    app.segserve.log.error(
      { graceSeconds: flags.grace },
      'grace period expired: remaining connections were cut',
    );
    process.exit(1);
  }
  app.segserve.log.info('stopped');
  process.exit(0);
}

/** The cluster primary: validates before forking, restarts crashed workers, serves aggregated metrics. */
async function runPrimary(flags: ServeFlags, r: Resolved): Promise<void> {
  const { AggregatorRegistry, buildApp, buildMetricsApp } = await load();
  // Fail here, once, with a one-line message, rather than in every worker.
  const component = await loadServed(flags, r);
  const check = await buildApp(component, { ...appOptions(flags, r), processMetrics: false });
  const log = check.segserve.log;
  await check.close();

  const aggregator = new AggregatorRegistry();
  const metricsApp = buildMetricsApp({
    path: r.metricsPath,
    collect: () => aggregator.clusterMetrics(),
    contentType: aggregator.contentType,
    log,
  });
  let stopping = false;
  const listened = new Set<number>();
  const fork = (): Worker => cluster.fork();
  cluster.on('listening', (worker) => listened.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (!listened.has(worker.id)) {
      // It never served: restarting would only loop (a port in use, a broken component).
      log.error({ pid: worker.process.pid, code, signal }, 'a worker failed to start: stopping');
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      process.exitCode = 1;
      void metricsApp.close().then(() => process.exit(1));
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'worker died: starting another');
    fork();
  });
  const signal = firstSignal();
  for (let i = 0; i < flags.workers; i++) fork();
  try {
    await metricsApp.listen({ host: flags.host, port: r.metricsPort });
  } catch (err) {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    throw usageError(`cannot listen on ${flags.host}:${r.metricsPort} (metrics): ${describeError(err)}`);
  }
  const metricsPort = (metricsApp.server.address() as AddressInfo).port;
  log.info(
    { workers: flags.workers, port: r.port, metricsPort, metricsPath: r.metricsPath },
    'segserve primary',
  );

  const got = await signal;
  stopping = true;
  log.info({ signal: got, graceSeconds: flags.grace }, 'shutting down workers');
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const exits = workers.map(
    (w) =>
      new Promise<boolean>((res) => {
        if (w.isDead()) res(w.process.exitCode === 0);
        else w.once('exit', (code) => res(code === 0));
      }),
  );
  for (const w of workers) w.process.kill('SIGTERM');
  // Workers have the same grace; give them a moment beyond it to report their exit.
  const timeout = new Promise<boolean>((res) => setTimeout(() => res(false), r.graceMs + 2000).unref());
  const clean = await Promise.race([Promise.all(exits).then((all) => all.every(Boolean)), timeout]);
  for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
  await metricsApp.close();
  process.exit(clean ? 0 : 1);
}
