/**
 * Sending an answer. Every handler, the error handler and the 404/405 handler send through `send`, which
 * sets what every answer carries: CORS as the wrapper's flask-cors (any origin), `Connection: close`
 * while draining (keep-alive clients reconnect elsewhere and the listener can close), and the request
 * metrics of measured routes, the request id (`X-Request-Id`), and the payload log's events of a
 * prediction (`--log-url`: the request, unless a body parser logged it as received, and the answer).
 * Doing it here rather than in an onSend hook keeps about 1 µs off every
 * request (~4 % of a bare Fastify answer, measured).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidJson } from './body.js';
import type { ServeError } from './errors.js';
import type { RequestMeter } from './metrics.js';
import type { PayloadLogger } from './payload-log.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request meter of a measured route (its executor `service`), or null. */
    segserveMeter: RequestMeter | null;
    /** performance.now() when a measured request arrived. */
    segserveStart: number;
    /** True once the payload log has this request's request event (body.ts logs bodies as received). */
    segserveLogged: boolean;
  }
}

/** True while the server drains (set by the app factory). */
export interface DrainState {
  draining: boolean;
}

export const JSON_TYPE = 'application/json';
const NOT_DRAINING: DrainState = { draining: false };

/**
 * Sends an error in a protocol's envelope, after logging defects: ours (INTERNAL) at error level, a
 * component's (other 5xx) at warn. `err` is what was thrown, `e` its catalogue entry.
 */
export function sendError(
  err: FastifyError | Error,
  e: ServeError,
  req: FastifyRequest,
  reply: FastifyReply,
  envelope: (e: ServeError) => unknown,
): void {
  const log = req.server.segserve?.log ?? req.log;
  const path = req.url.split('?')[0];
  const reqId = req.id;
  if (e.code === 'INTERNAL') log.error({ reqId, err, method: req.method, path }, 'internal error');
  else if (e.code === 'UNAVAILABLE' && req.server.segserve?.draining) {
    // Readiness 503 while draining is the shutdown working as meant, not a failure: no stack, debug only.
    log.debug({ reqId, method: req.method, path }, e.message);
  } else if (e.status >= 500) log.warn({ reqId, err: e.cause ?? e, method: req.method, path }, e.message);
  if (e.headers) reply.headers(e.headers);
  send(
    req,
    reply.code(e.status),
    req.server.segserve?.runtime ?? NOT_DRAINING,
    JSON_TYPE,
    JSON.stringify(envelope(e)),
  );
}

export function send(
  req: FastifyRequest,
  reply: FastifyReply,
  state: DrainState,
  type: string,
  body: string,
): void {
  reply.header('access-control-allow-origin', '*');
  reply.header('x-request-id', req.id);
  if (state.draining) reply.header('connection', 'close');
  const meter = req.segserveMeter;
  // A request built for a framework error (a URL that does not decode) has no decorations.
  if (meter != null) {
    meter.observe(req.method, reply.statusCode, (performance.now() - req.segserveStart) / 1000);
    if (meter.service === 'predictions') {
      const payloadLog = req.server.segserve?.payloadLog;
      if (payloadLog !== undefined) logPrediction(payloadLog, req, type, body);
    }
  }
  reply.type(type).send(body);
}

/** The payload log's events of one prediction: its request (unless logged as received), its answer. */
function logPrediction(payloadLog: PayloadLogger, req: FastifyRequest, type: string, body: string): void {
  const requestId = req.id;
  if (!req.segserveLogged) {
    // Not parsed from a body here (a GET with ?json=, a form, a body refused unread): what arrived.
    const b = req.body;
    const what =
      typeof b === 'string' || Buffer.isBuffer(b)
        ? b
        : b !== undefined && b !== null && typeof b === 'object' && !(b instanceof InvalidJson)
          ? JSON.stringify(b)
          : JSON.stringify(req.query ?? {});
    payloadLog.logRequest({ requestId, body: what, contentType: req.headers['content-type'] ?? JSON_TYPE });
    req.segserveLogged = true;
  }
  payloadLog.logResponse({ requestId, body, contentType: type });
}
