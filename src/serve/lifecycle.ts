/**
 * Listening, hot swaps and zero-drop shutdown. The HTTP port is one node:http server that hands every
 * request to the *current* app (`app.routing`, Fastify's request handler): a reloaded model is a new
 * app built and made ready beside the serving one, then swapped in with one assignment, so a request is
 * served start to end by one model and none waits for the swap. The server also owns what must hold
 * before any app runs: the time limits (request, headers, keep-alive) and the body limit on a declared
 * Content-Length (413 before a byte of the body is read).
 *
 * Shutdown (`Serving.shutdown`), for a rolling update that drops nothing:
 * 1. drain: readiness answers 503 and every response carries `Connection: close`, while predictions
 *    are still served for `delayMs` (the time Kubernetes needs to take the pod out of its endpoints);
 * 2. the listener closes (new connections are refused); connections idle since before the drain are
 *    closed; a connection opened but not yet used gets a moment to send its request, which is answered
 *    (with `Connection: close`);
 * 3. in-flight requests finish within `graceMs`; what is left then is cut and shutdown reports it.
 * Signals and exit codes belong to the CLI (src/cli/serve.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { SegserveError } from '../errors.js';
import { clientErrorHandler, refusalResponse } from './app.js';
import { BODY_BUDGET_BODIES } from './constants.js';
import type { Protocol } from './env.js';
import { ServeError } from './errors.js';

export interface HttpServerOptions {
  /** Largest request body in bytes: a larger declared Content-Length is refused (413) unread. */
  bodyLimit: number;
  /**
   * Most body bytes being received or processed at once, over all requests (default
   * BODY_BUDGET_BODIES × bodyLimit): a
   * body that would go over is refused (503, Retry-After) unread. Parsing a JSON body takes about 7
   * bytes of memory per byte, so this bounds the memory requests can take, whatever clients do.
   */
  bodyBudget?: number;
  /** The error envelope outside either protocol's paths. */
  protocol: Protocol;
  /** Longest a request (headers and body) may take to arrive; 0 disables (not advised). */
  requestTimeoutMs: number;
  /** Longest the headers may take to arrive (capped at requestTimeoutMs). */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

/** How long a connection opened but not yet used may take to send its request once the listener closed. */
const FRESH_CONNECTION_MS = 1000;
/** Bodies smaller than this are not counted against the body budget (no per-request cost for them). */
const BUDGET_MIN_BYTES = 64 * 1024;

/** A listener closes after this long without a new connection (see closeListener)... */
const QUIET_MS = 25;
/** ...or after this long in any case. */
const QUIET_MAX_MS = 500;

/** What shutdown had to close unanswered (all 0 when nothing was dropped). */
export interface CloseStats {
  /** Connections idle since before the drain, closed when the listener closed. */
  idle: number;
  /** Connections opened but silent for FRESH_CONNECTION_MS after the listener closed. */
  fresh: number;
  /** Connections still busy when the grace period ended. */
  busy: number;
}

/**
 * Closes a listening server once no connection has arrived for QUIET_MS (at most QUIET_MAX_MS). The
 * kernel resets the connections still in its accept queue when a listener closes, so a client that
 * connected a moment before would see its request reset instead of refused. The callers hold back
 * their answers meanwhile (HttpServer.hold): a client waiting for an answer opens no new connection,
 * so the queue empties and the close refuses only clients that connect afterwards.
 */
export function closeListener(server: NetServer): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const started = Date.now();
    let last = started;
    const seen = () => {
      last = Date.now();
    };
    server.on('connection', seen);
    const check = () => {
      const now = Date.now();
      if (now - last < QUIET_MS && now - started < QUIET_MAX_MS) {
        setTimeout(check, 1);
        return;
      }
      server.off('connection', seen);
      // net's close, not http's: http.Server#close would also close connections that were just
      // opened and whose request is on its way (Node counts them idle), dropping it.
      NetServer.prototype.close.call(server);
      resolve();
    };
    setTimeout(check, 1);
  });
}

/** Node's own marker of the response a socket is busy with (what server.closeIdleConnections reads). */
interface HttpSocket extends Socket {
  _httpMessage?: ServerResponse | null;
}

/** A one-line error naming the address for a failed listen. */
export function listenError(host: string, port: number, what: string, err: unknown): SegserveError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'EADDRINUSE'
      ? 'the address is already in use'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
          ? 'no such local address'
          : ((err as Error).message ?? String(err));
  return new SegserveError(`cannot listen on ${host}:${port} (${what}): ${why}`, 'SEGSERVE_ERR_LISTEN', {
    cause: err,
  });
}

/** Listens, turning the usual refusals into a one-line error naming the address. */
async function listenOn(
  listen: () => Promise<unknown>,
  host: string,
  port: number,
  what: string,
): Promise<void> {
  try {
    await listen();
  } catch (err) {
    throw listenError(host, port, what, err);
  }
}

/** The HTTP server of the serving port: one listener, a swappable app. */
export class HttpServer {
  readonly server: Server;
  private current: FastifyInstance;
  private route: (req: IncomingMessage, res: ServerResponse) => void;
  private readonly sockets = new Set<HttpSocket>();
  private isDraining = false;
  /** Requests held back while the listener closes (see closeListener), or undefined. */
  private held: [IncomingMessage, ServerResponse][] | undefined;
  private readonly bodyLimit: number;
  private readonly bodyBudget: number;
  /** Body bytes (declared) of the requests being received or processed now. */
  private bodyBytes = 0;
  /** What close() had to cut. */
  readonly closed: CloseStats = { idle: 0, fresh: 0, busy: 0 };
  private readonly protocol: Protocol;

  private constructor(app: FastifyInstance, options: HttpServerOptions) {
    this.current = app;
    this.route = app.routing;
    this.bodyLimit = options.bodyLimit;
    this.bodyBudget = Math.max(
      options.bodyBudget ?? BODY_BUDGET_BODIES * options.bodyLimit,
      options.bodyLimit,
    );
    this.protocol = options.protocol;
    const requestTimeout = options.requestTimeoutMs;
    const headersTimeout =
      requestTimeout > 0 ? Math.min(options.headersTimeoutMs, requestTimeout) : options.headersTimeoutMs;
    this.server = createServer({
      requestTimeout,
      headersTimeout,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // Node checks the request and headers timeouts on this period (default 30 s, as coarse as the
      // timeout itself): check often enough that a stalled upload is cut near its deadline.
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, Math.floor(Math.min(headersTimeout, requestTimeout || headersTimeout) / 4)),
      ),
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    this.server.on('clientError', clientErrorHandler(options.protocol));
    this.server.on('connection', (socket: HttpSocket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** A server for `app` (made ready here). */
  static async create(app: FastifyInstance, options: HttpServerOptions): Promise<HttpServer> {
    await app.ready();
    return new HttpServer(app, options);
  }

  /** The app serving new requests. */
  get app(): FastifyInstance {
    return this.current;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  /** Body bytes in flight now (counted against the body budget). */
  get bodyBytesInFlight(): number {
    return this.bodyBytes;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const declared = req.headers['content-length'];
    if (declared !== undefined || req.headers['transfer-encoding'] !== undefined) {
      // A chunked body is counted at the most it may be.
      const size = declared === undefined ? this.bodyLimit : Number(declared);
      if (size > this.bodyLimit) {
        this.refuseUnread(
          req,
          res,
          new ServeError(
            'PAYLOAD_TOO_LARGE',
            `the body is ${size} bytes (Content-Length); at most ${this.bodyLimit} are accepted`,
          ),
        );
        return;
      }
      if (size >= BUDGET_MIN_BYTES) {
        if (this.bodyBytes + size > this.bodyBudget) {
          this.refuseUnread(
            req,
            res,
            new ServeError(
              'UNAVAILABLE',
              `busy: ${this.bodyBytes} bytes of request bodies are being received or processed, and ${size} more would pass the ${this.bodyBudget}-byte budget; retry shortly`,
              { headers: { 'retry-after': '1' } },
            ),
          );
          return;
        }
        this.bodyBytes += size;
        res.once('close', () => {
          this.bodyBytes -= size;
        });
      }
    }
    if (this.isDraining) res.setHeader('connection', 'close');
    if (this.held !== undefined) this.held.push([req, res]);
    else this.route(req, res);
  }

  /** Holds back new requests (answered by release()): no answer goes out, so no client reconnects. */
  hold(): void {
    this.held ??= [];
  }

  /** Serves the requests held back, and new ones again. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const [req, res] of held) this.route(req, res);
  }

  /** An error in the path's envelope without reading the body; the connection closes after it. */
  private refuseUnread(req: IncomingMessage, res: ServerResponse, e: ServeError): void {
    const { type, body } = refusalResponse(req.url ?? '/', this.protocol, e);
    res.writeHead(e.status, {
      ...e.headers,
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'access-control-allow-origin': '*',
      connection: 'close',
    });
    res.end(body);
  }

  /**
   * Serves new requests with `app` from now on (made ready first, so the swap itself is one
   * assignment); requests already running finish on the app they started on. Returns the old app.
   */
  async swap(app: FastifyInstance): Promise<FastifyInstance> {
    await app.ready();
    const old = this.current;
    if (this.isDraining) app.segserve?.drain();
    this.current = app;
    this.route = app.routing;
    return old;
  }

  async listen(host: string, port: number): Promise<number> {
    await listenOn(
      () =>
        new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(err);
          this.server.once('error', onError);
          this.server.listen({ host, port }, () => {
            this.server.off('error', onError);
            resolve();
          });
        }),
      host,
      port,
      'HTTP',
    );
    return (this.server.address() as AddressInfo).port;
  }

  /** Serves a connection accepted elsewhere (a cluster primary hands them to its workers). */
  accept(socket: Socket): void {
    this.server.emit('connection', socket);
    socket.resume();
  }

  /** Readiness answers 503 from now on, and every response closes its connection. */
  drain(): void {
    this.isDraining = true;
    this.current.segserve?.drain();
  }

  /**
   * Stops listening, closes connections idle since before the drain, lets a connection opened but not
   * yet used send its request, and waits for every connection to end. True when all ended within
   * `graceMs`; false when the rest had to be cut.
   */
  async close(graceMs: number): Promise<boolean> {
    this.drain();
    if (this.server.listening) {
      this.hold();
      await closeListener(this.server);
    }
    this.release();
    const started = Date.now();
    for (const s of this.sockets) {
      // Used before (bytes read) and not answering anything now: idle since before the drain (every
      // response since then closed its connection). Closing it races only a client that kept a
      // connection idle through the whole drain delay.
      if (s.bytesRead > 0 && !s._httpMessage) {
        this.closed.idle++;
        s.destroy();
      }
    }
    return new Promise<boolean>((resolve) => {
      const check = () => {
        const elapsed = Date.now() - started;
        if (this.sockets.size === 0) {
          finish(true);
          return;
        }
        if (elapsed >= graceMs) {
          this.closed.busy += this.sockets.size;
          for (const s of this.sockets) s.destroy();
          finish(false);
          return;
        }
        if (elapsed >= Math.min(FRESH_CONNECTION_MS, graceMs)) {
          // Never used, still silent: nothing to answer.
          for (const s of this.sockets) {
            if (s.bytesRead === 0 && !s._httpMessage) {
              this.closed.fresh++;
              s.destroy();
            }
          }
        }
      };
      const timer = setInterval(check, 20);
      const finish = (clean: boolean) => {
        clearInterval(timer);
        // http's close now, to stop its timeout checks (the listener is already closed).
        this.server.close(() => resolve(clean));
      };
      check();
    });
  }
}

export interface ListenOptions {
  host: string;
  port: number;
  /** The metrics app's port, when this process serves metrics. */
  metricsPort?: number;
}

export interface Serving {
  /** The ports actually bound (useful with port 0). */
  readonly port: number;
  readonly metricsPort: number | undefined;
  /** Readiness 503 and `Connection: close` from now on; predictions are still served. */
  drain(): void;
  /**
   * Another listener (the gRPC port) to close with HTTP after the drain delay: `close(graceMs)` resolves
   * true when its calls in flight finished within the grace.
   */
  also(close: (graceMs: number) => Promise<boolean>): void;
  /**
   * Drains for `delayMs` (predictions still served), then closes the listener and both apps. Resolves
   * true when every in-flight request finished within `graceMs` after the delay, false when the grace
   * period ran out and the remaining connections were cut.
   */
  shutdown(delayMs: number, graceMs: number): Promise<boolean>;
}

export async function listen(
  http: HttpServer,
  metricsApp: FastifyInstance | undefined,
  options: ListenOptions,
): Promise<Serving> {
  const port = await http.listen(options.host, options.port);
  let metricsPort: number | undefined;
  if (metricsApp !== undefined) {
    const at = options.metricsPort ?? 0;
    try {
      await listenOn(() => metricsApp.listen({ host: options.host, port: at }), options.host, at, 'metrics');
    } catch (err) {
      await http.close(0);
      throw err;
    }
    metricsPort = (metricsApp.server.address() as AddressInfo).port;
  }
  let closing: Promise<boolean> | undefined;
  const others: ((graceMs: number) => Promise<boolean>)[] = [];
  return {
    port,
    metricsPort,
    drain: () => http.drain(),
    also: (close) => {
      others.push(close);
    },
    shutdown(delayMs: number, graceMs: number): Promise<boolean> {
      if (closing) return closing;
      http.drain();
      closing = (async () => {
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        const all = await Promise.all([http.close(graceMs), ...others.map((close) => close(graceMs))]);
        await metricsApp?.close();
        return all.every(Boolean);
      })();
      return closing;
    },
  };
}
