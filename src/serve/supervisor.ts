/**
 * The cluster primary of `segserve serve --workers N`: it forks N workers, hands each the same model
 * bytes (read and validated once, here), replaces a worker that dies (with back-off: a worker that
 * cannot start never takes down the healthy ones), reloads the model in every worker on SIGHUP or a
 * worker's `/v2/repository/models/{name}/load`, and ends only when no worker can serve. The messages
 * between primary and workers are below (`Message`).
 *
 * The primary owns the HTTP listener and hands each accepted connection to a serving worker, round
 * robin (what node:cluster does by default, but under our control): on shutdown the listener closes
 * first, while every worker still takes the connections already accepted, and only then do workers
 * close. With node:cluster's own sharing, the last worker to close drops the connections the primary
 * had accepted for it (32 of 32 under load, measured).
 */
import type { Worker } from 'node:cluster';
import cluster from 'node:cluster';
import { type AddressInfo, createServer, type Server, Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { closeListener } from './lifecycle.js';
import type { PrimaryMetrics } from './metrics.js';
import type { ModelBytes } from './model-source.js';

/** Primary ⇄ worker messages (over the cluster's IPC channel). */
export type Message =
  /** worker → primary: ready to receive its model */
  | { segserve: 'hello' }
  /** primary → worker: the model to serve (none with a component and no --model), and the HTTP port */
  | { segserve: 'model'; model: ModelBytes | undefined; port: number }
  /** worker → primary: serving: send connections */
  | { segserve: 'listening' }
  /** primary → worker: a connection (the socket travels as the message's handle) */
  | { segserve: 'conn' }
  /** primary → worker: readiness 503 and `Connection: close` from now on (shutdown began) */
  | { segserve: 'drain' }
  /** primary → worker: hold answers back until 'close' (the listener is closing) */
  | { segserve: 'hold' }
  /** primary → worker: the listener is closed; finish within graceMs and exit */
  | { segserve: 'close'; graceMs: number }
  /** worker → primary: signalled itself, it leaves: send it nothing more; primary → worker: done */
  | { segserve: 'leaving' }
  | { segserve: 'left' }
  /** primary → worker: swap in this model now, and acknowledge */
  | { segserve: 'swap'; seq: number; model: ModelBytes }
  /** worker → primary: swapped (or not, and why) */
  | { segserve: 'swapped'; seq: number; version: string }
  | { segserve: 'swap-failed'; seq: number; error: string }
  /** worker → primary: a client asked for a reload (POST /v2/repository/models/{name}/load) */
  | { segserve: 'reload'; id: number }
  /** primary → worker: the reload's outcome */
  | { segserve: 'reloaded'; id: number; version?: string; error?: string }
  /** primary → worker: send your metrics; worker → primary: here (registry.getMetricsAsJSON()) */
  | { segserve: 'metrics'; id: number; metrics?: object[] };

export function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { segserve?: unknown }).segserve === 'string';
}

export interface SupervisorOptions {
  workers: number;
  log: FastifyBaseLogger;
  metrics: PrimaryMetrics;
  /** The model every worker serves now (undefined: a component without --model). */
  model: ModelBytes | undefined;
  /**
   * Reads and validates the model file again (for a reload): resolves with its bytes, rejects with a
   * one-line reason. Undefined when there is no model file to reload.
   */
  reread: (() => Promise<ModelBytes>) | undefined;
}

/** First and longest wait before starting a replacement worker (doubling in between). */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** A worker that served this long before exiting was healthy: the back-off starts over. */
const STABLE_MS = 10_000;
/** With no worker serving, this many failed starts in a row end the service. */
const MAX_FAILED_STARTS = 5;
/** Longest wait for every worker to acknowledge a swap. */
const SWAP_TIMEOUT_MS = 60_000;
/** Longest wait for a worker's metrics: a scrape leaves out a worker that does not answer in time. */
const METRICS_TIMEOUT_MS = 2000;

/** A connection on its way to a worker. */
interface Transit {
  socket: Socket;
  settled: boolean;
}

interface WorkerState {
  worker: Worker;
  /** Date.now() when it started listening, or 0. */
  listeningSince: number;
  /** It takes no more connections (leaving, or shutting down). */
  leaving: boolean;
  /** Connections sent and not yet handed over (Node queues a handle until the previous one is acknowledged). */
  transit: Set<Transit>;
}

/** Most accepted connections waiting for a worker (none serving, e.g. all restarting) before refusing more. */
const MAX_WAITING_CONNECTIONS = 1024;

export class Supervisor {
  private readonly states = new Map<number, WorkerState>();
  private model: ModelBytes | undefined;
  private stopping = false;
  private everServed = false;
  private failures = 0;
  private seq = 0;
  private reloading: Promise<string> | undefined;
  private readonly swaps = new Map<number, { waiting: Set<number>; done: () => void }>();
  private metricsId = 0;
  private readonly scrapes = new Map<number, (metrics: object[]) => void>();
  private listener: Server | undefined;
  private port = 0;
  private next = 0;
  private readonly waiting: Socket[] = [];
  private sendsDone: (() => void) | undefined;
  /** Accepted connections closed unanswered at shutdown (no worker took them in time). */
  cut = 0;
  private resolveEnd: (code: number) => void = () => {};
  /** Resolves with the exit code when no worker can serve (never while the service is healthy). */
  readonly ended: Promise<number>;

  constructor(private readonly options: SupervisorOptions) {
    this.model = options.model;
    this.ended = new Promise((resolve) => {
      this.resolveEnd = resolve;
    });
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    cluster.on('message', (worker, message: unknown) => {
      if (isMessage(message)) this.onMessage(worker, message);
    });
  }

  /** Listens on the HTTP port (before any worker starts); resolves with the port bound. */
  listen(host: string, port: number): Promise<number> {
    const server = createServer({ pauseOnConnect: true }, (socket) => this.dispatch(socket));
    this.listener = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        this.port = (server.address() as AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  /** Hands a connection to the next serving worker (round robin), or keeps it until one serves. */
  private dispatch(socket: Socket, retried = false): void {
    const ready = [...this.states.values()].filter(
      (s) => s.listeningSince > 0 && !s.leaving && s.worker.isConnected(),
    );
    if (ready.length === 0) {
      if (this.waiting.length >= MAX_WAITING_CONNECTIONS) socket.destroy();
      else this.waiting.push(socket);
      return;
    }
    const s = ready[this.next++ % ready.length] as WorkerState;
    const transit: Transit = { socket, settled: false };
    s.transit.add(transit);
    s.worker.send({ segserve: 'conn' } satisfies Message, socket, { keepOpen: false }, (err) => {
      if (transit.settled) return;
      transit.settled = true;
      s.transit.delete(transit);
      // The worker went away before taking it: another one will (once: then it is given up).
      if (err) this.redispatch(socket, retried);
      this.checkSends();
    });
  }

  /**
   * The connection a dead worker never acknowledged: Node keeps its handle open in the primary (in the
   * child's `_pendingMessage`, until an acknowledgement that will not come) and would leave the client
   * waiting forever. Unacknowledged means the worker never read from it: hand it to another worker.
   */
  private rescuePending(worker: Worker): void {
    // Node's internals (lib/internal/child_process.js): no public API reaches a handle in transit.
    const child = worker.process as unknown as { _pendingMessage?: { handle?: unknown } | null };
    const handle = child._pendingMessage?.handle;
    if (handle === undefined || handle === null) return;
    child._pendingMessage = null;
    let socket: Socket;
    try {
      // As child_process itself wraps a received handle; pauseOnCreate: do not read the request here.
      socket = new Socket({
        handle,
        readable: true,
        writable: true,
        pauseOnCreate: true,
      } as ConstructorParameters<typeof Socket>[0]);
    } catch {
      (handle as { close?: () => void }).close?.();
      return;
    }
    this.redispatch(socket, false);
  }

  private redispatch(socket: Socket, retried: boolean): void {
    if (retried || socket.destroyed) socket.destroy();
    else this.dispatch(socket, true);
  }

  private flushWaiting(): void {
    for (const socket of this.waiting.splice(0)) this.dispatch(socket);
  }

  private checkSends(): void {
    if (this.sendsDone === undefined || this.waiting.length > 0) return;
    for (const s of this.states.values()) if (s.transit.size > 0) return;
    this.sendsDone();
  }

  /**
   * Stops accepting connections; resolves once every accepted one has been handed to a worker (then
   * workers may close). Connections still waiting for a worker after `ms` are closed.
   */
  async closeListener(ms: number): Promise<void> {
    // Workers hold their answers back meanwhile (see lifecycle.ts closeListener).
    for (const s of this.states.values()) send(s.worker, { segserve: 'hold' });
    if (this.listener) await closeListener(this.listener);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.cut += this.waiting.length;
        for (const socket of this.waiting.splice(0)) socket.destroy();
        this.sendsDone = undefined;
        resolve();
      }, ms);
      timer.unref();
      this.sendsDone = () => {
        clearTimeout(timer);
        this.sendsDone = undefined;
        resolve();
      };
      this.checkSends();
    });
  }

  /** Tells every worker (and any started later) to drain: readiness 503, `Connection: close`. */
  drain(): void {
    this.draining = true;
    for (const s of this.states.values()) send(s.worker, { segserve: 'drain' });
  }

  private draining = false;

  /** The version every worker serves. */
  get version(): string | undefined {
    return this.model?.version;
  }

  get serving(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.listeningSince > 0 && !s.leaving) n++;
    return n;
  }

  start(): void {
    for (let i = 0; i < this.options.workers; i++) this.fork();
    this.updateGauge();
  }

  private fork(): void {
    const worker = cluster.fork();
    this.states.set(worker.id, { worker, listeningSince: 0, leaving: false, transit: new Set() });
  }

  private updateGauge(): void {
    this.options.metrics.setWorkers(this.options.workers, this.serving);
  }

  private onListening(worker: Worker): void {
    const s = this.states.get(worker.id);
    if (s === undefined) return;
    s.listeningSince = Date.now();
    this.everServed = true;
    if (this.draining) send(worker, { segserve: 'drain' });
    this.updateGauge();
    this.flushWaiting();
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const s = this.states.get(worker.id);
    this.states.delete(worker.id);
    // Connections still queued for it (Node drops a dead worker's queued handles without a callback,
    // leaving them open): to another worker.
    for (const t of s?.transit ?? []) {
      if (t.settled) continue;
      t.settled = true;
      this.redispatch(t.socket, false);
    }
    s?.transit.clear();
    this.rescuePending(worker);
    this.checkSends();
    // A swap waiting for this worker waits no more: its replacement gets the new bytes.
    for (const [, swap] of this.swaps) {
      if (swap.waiting.delete(worker.id) && swap.waiting.size === 0) swap.done();
    }
    this.updateGauge();
    if (this.stopping) return;
    const served = s !== undefined && s.listeningSince > 0;
    const stable = served && Date.now() - (s as WorkerState).listeningSince >= STABLE_MS;
    if (stable) this.failures = 0;
    else this.failures++;
    const pid = worker.process.pid;
    if (!this.everServed && this.serving === 0 && this.states.size === 0) {
      // Not one worker ever served: the configuration is wrong (a port in use, a broken component).
      this.options.log.error({ pid, code, signal }, 'no worker could start: stopping');
      this.stop();
      this.resolveEnd(1);
      return;
    }
    // No worker serving, none starting, and the last starts all failed: nothing can serve.
    if (this.serving === 0 && this.states.size === 0 && this.failures >= MAX_FAILED_STARTS) {
      this.options.log.error(
        { pid, code, signal, failures: this.failures },
        'no worker is serving and replacements keep failing: stopping',
      );
      this.stop();
      this.resolveEnd(1);
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, this.failures - 1));
    this.options.log.error(
      { pid, code, signal, served, restartInMs: delay },
      served ? 'worker died: starting another' : 'a worker failed to start: trying again',
    );
    setTimeout(() => {
      if (this.stopping) return;
      this.options.metrics.countRestart();
      this.fork();
    }, delay).unref();
  }

  private onMessage(worker: Worker, m: Message): void {
    switch (m.segserve) {
      case 'hello':
        send(worker, { segserve: 'model', model: this.model, port: this.port });
        return;
      case 'listening':
        this.onListening(worker);
        return;
      case 'leaving': {
        // It was signalled itself: send it nothing more; it closes once its connections are handed over.
        const s = this.states.get(worker.id);
        if (s === undefined) return;
        s.leaving = true;
        this.updateGauge();
        const wait = () => {
          if (s.transit.size > 0) setTimeout(wait, 10);
          else send(worker, { segserve: 'left' });
        };
        wait();
        return;
      }
      case 'swapped':
      case 'swap-failed': {
        const swap = this.swaps.get(m.seq);
        if (m.segserve === 'swap-failed') {
          // The primary validated these bytes: a worker that cannot take them is broken. Replace it.
          this.options.log.error({ pid: worker.process.pid, error: m.error }, 'a worker failed to swap');
          worker.process.kill('SIGKILL');
        }
        if (swap?.waiting.delete(worker.id) && swap.waiting.size === 0) swap.done();
        return;
      }
      case 'metrics':
        if (m.metrics !== undefined) this.scrapes.get(m.id)?.(m.metrics);
        return;
      case 'reload':
        this.reload().then(
          (version) => send(worker, { segserve: 'reloaded', id: m.id, version }),
          (err: unknown) =>
            send(worker, { segserve: 'reloaded', id: m.id, error: (err as Error).message ?? String(err) }),
        );
        return;
      default:
        return;
    }
  }

  /**
   * Re-reads the model file; when valid, every worker swaps it in before this resolves (with the new
   * version). When invalid, rejects with the reason and nothing changes. Concurrent reloads share one.
   */
  reload(): Promise<string> {
    if (this.reloading) return this.reloading;
    const run = async (): Promise<string> => {
      const reread = this.options.reread;
      if (reread === undefined) {
        throw new Error('there is no model file to reload (a --component served without --model)');
      }
      const model = await reread();
      // From here on, a worker starting gets the new bytes.
      this.model = model;
      const seq = ++this.seq;
      const targets = [...this.states.values()].map((s) => s.worker).filter((w) => w.isConnected());
      await new Promise<void>((resolve) => {
        const waiting = new Set(targets.map((w) => w.id));
        const timer = setTimeout(() => {
          this.swaps.delete(seq);
          resolve();
        }, SWAP_TIMEOUT_MS);
        timer.unref();
        const done = () => {
          clearTimeout(timer);
          this.swaps.delete(seq);
          resolve();
        };
        if (waiting.size === 0) {
          done();
          return;
        }
        this.swaps.set(seq, { waiting, done });
        // A worker still starting has asked (or will ask) for the model and gets the new bytes; one that
        // already has the old bytes swaps now.
        for (const w of targets) send(w, { segserve: 'swap', seq, model });
      });
      this.options.log.info({ version: model.version, workers: targets.length }, 'model reloaded');
      return model.version;
    };
    this.reloading = run().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /**
   * The serving workers' metrics (registry.getMetricsAsJSON() of each), for prom-client's
   * AggregatorRegistry.aggregate. Only workers that serve are asked, and one that does not answer within
   * METRICS_TIMEOUT_MS is left out: a worker starting or stuck never fails or stalls the scrape
   * (prom-client's clusterMetrics() waits for every worker, 5 s, and then fails).
   */
  workerMetrics(): Promise<object[][]> {
    const serving = [...this.states.values()].filter((s) => s.listeningSince > 0 && s.worker.isConnected());
    return Promise.all(
      serving.map(
        (s) =>
          new Promise<object[] | undefined>((resolve) => {
            const id = ++this.metricsId;
            const timer = setTimeout(() => {
              this.scrapes.delete(id);
              resolve(undefined);
            }, METRICS_TIMEOUT_MS);
            this.scrapes.set(id, (metrics) => {
              clearTimeout(timer);
              this.scrapes.delete(id);
              resolve(metrics);
            });
            send(s.worker, { segserve: 'metrics', id });
          }),
      ),
    ).then((all) => all.filter((m): m is object[] => m !== undefined));
  }

  /** Stops replacing workers (shutdown). */
  stop(): void {
    this.stopping = true;
  }

  /** Tells every worker that the listener is closed: finish within `graceMs` and exit. */
  closeWorkers(graceMs: number): void {
    for (const s of this.states.values()) send(s.worker, { segserve: 'close', graceMs });
  }

  /** The live workers. */
  workers(): Worker[] {
    return [...this.states.values()].map((s) => s.worker);
  }
}

function send(worker: Worker, m: Message): void {
  if (worker.isConnected()) worker.send(m, undefined, () => {});
}
