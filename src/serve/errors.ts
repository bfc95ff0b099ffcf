/**
 * The serving error catalogue: one stable code per situation, its HTTP status, and the reason string
 * Seldon clients and dashboards key on. Protocol modules render a ServeError in their own envelope
 * (Seldon v1's `status` object; the Open Inference Protocol's `{"error": ...}`), so every
 * protocol shares the codes, the statuses and the request metrics.
 *
 * 4xx means the client must change the request; 5xx means a defect, ours or the component's.
 */

export type ServeErrorCode =
  | 'BAD_DATA'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'HEADERS_TOO_LARGE'
  | 'UNAVAILABLE'
  | 'BAD_METRIC'
  | 'NOT_IMPLEMENTED'
  | 'COMPONENT_ERROR'
  | 'INTERNAL';

export interface CatalogueEntry {
  /** HTTP status of the response. */
  readonly status: number;
  /** Seldon's `status.reason` (the wrapper's names where it has one, the same style where it has none). */
  readonly reason: string;
}

export const CATALOGUE: Readonly<Record<ServeErrorCode, CatalogueEntry>> = {
  BAD_DATA: { status: 400, reason: 'MICROSERVICE_BAD_DATA' },
  NOT_FOUND: { status: 404, reason: 'MICROSERVICE_NOT_FOUND' },
  METHOD_NOT_ALLOWED: { status: 405, reason: 'MICROSERVICE_METHOD_NOT_ALLOWED' },
  PAYLOAD_TOO_LARGE: { status: 413, reason: 'MICROSERVICE_PAYLOAD_TOO_LARGE' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, reason: 'MICROSERVICE_UNSUPPORTED_MEDIA_TYPE' },
  /** The request line and headers exceed Node's limit (a large `?json=`). */
  HEADERS_TOO_LARGE: { status: 431, reason: 'MICROSERVICE_HEADERS_TOO_LARGE' },
  /** The server is shutting down (health status while draining). */
  UNAVAILABLE: { status: 503, reason: 'MICROSERVICE_UNAVAILABLE' },
  /** A component's metrics() returned something that is not a valid Seldon metric. */
  BAD_METRIC: { status: 500, reason: 'MICROSERVICE_BAD_METRIC' },
  /** A request this server cannot answer in this protocol (a component's non-tensor answer over v2). */
  NOT_IMPLEMENTED: { status: 501, reason: 'MICROSERVICE_NOT_IMPLEMENTED' },
  /** A user component threw or returned something that cannot be sent. */
  COMPONENT_ERROR: { status: 500, reason: 'MICROSERVICE_INTERNAL_ERROR' },
  /** A defect of segserve itself. */
  INTERNAL: { status: 500, reason: 'MICROSERVICE_INTERNAL_ERROR' },
};

export class ServeError extends Error {
  readonly code: ServeErrorCode;
  /** Extra response headers (e.g. `Allow` for 405). */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ServeErrorCode,
    info: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(info, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServeError';
    this.code = code;
    this.headers = options?.headers;
  }

  get status(): number {
    return CATALOGUE[this.code].status;
  }

  get reason(): string {
    return CATALOGUE[this.code].reason;
  }
}

export function badData(info: string): ServeError {
  return new ServeError('BAD_DATA', info);
}

/** Seldon v1's error body: `code` is always -1 and `status` 1 (FAILURE); `info` says what is wrong. */
export interface SeldonErrorBody {
  status: { code: -1; info: string; reason: string; status: 1 };
}

export function seldonEnvelope(err: ServeError): SeldonErrorBody {
  return { status: { code: -1, info: err.message, reason: err.reason, status: 1 } };
}

/** The Open Inference Protocol's error body: one string saying what is wrong. */
export interface OipErrorBody {
  error: string;
}

export function oipEnvelope(err: ServeError): OipErrorBody {
  return { error: err.message };
}

/** Fastify's own errors carry a `code` (FST_...) and a `statusCode`. */
interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

/**
 * Maps anything thrown while handling a request to the catalogue. Framework errors with a 4xx status
 * (body parsing, limits, multipart) are the client's; anything else unknown is a defect of ours.
 */
export function toServeError(err: unknown): ServeError {
  if (err instanceof ServeError) return err;
  const fe = (typeof err === 'object' && err !== null ? err : {}) as FrameworkError;
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 0;
  const message = typeof fe.message === 'string' ? fe.message : String(err);
  if (status === 413) return new ServeError('PAYLOAD_TOO_LARGE', message, { cause: err });
  if (status === 415) return new ServeError('UNSUPPORTED_MEDIA_TYPE', message, { cause: err });
  if (status >= 400 && status < 500) return new ServeError('BAD_DATA', message, { cause: err });
  return new ServeError('INTERNAL', 'internal error (a defect of segserve: see the server log)', {
    cause: err,
  });
}
