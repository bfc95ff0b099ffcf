/**
 * The serving errors: one stable code per situation, its HTTP status, and the reason string Seldon
 * clients and dashboards key on, all read from the one catalogue (`ERRORS` in src/errors.ts, where a
 * server code `SEGSERVE_ERR_BAD_DATA` is `BAD_DATA` here). Every error answer carries its code in the
 * `x-segserve-error-code` header (and OIP's body in `code`). Protocol modules render a ServeError in their own envelope
 * (Seldon v1's `status` object; the Open Inference Protocol's `{"error": ...}`), so every
 * protocol shares the codes, the statuses and the request metrics.
 *
 * 4xx means the client must change the request; 5xx means a defect, ours or the component's.
 */

import { ERRORS, type ServerErrorCode } from '../errors.js';

/**
 * The short name of a server code of the catalogue (src/errors.ts): `BAD_DATA` for
 * `SEGSERVE_ERR_BAD_DATA`. Every code of the catalogue with an HTTP status is one.
 */
export type ServeErrorCode = ServerErrorCode extends `SEGSERVE_ERR_${infer S}` ? S : never;

export interface CatalogueEntry {
  /** HTTP status of the response. */
  readonly status: number;
  /** Seldon's `status.reason` (the wrapper's names where it has one, the same style where it has none). */
  readonly reason: string;
  /** The catalogue's code (`SEGSERVE_ERR_BAD_DATA`), sent in ERROR_CODE_HEADER and OIP's `code`. */
  readonly code: ServerErrorCode;
}

/** The response header every error answer carries its catalogue code in. */
export const ERROR_CODE_HEADER = 'x-segserve-error-code';

/** The server's entries of the one catalogue (src/errors.ts), by short name. */
export const CATALOGUE: Readonly<Record<ServeErrorCode, CatalogueEntry>> = (() => {
  const out: Partial<Record<ServeErrorCode, CatalogueEntry>> = {};
  for (const [code, entry] of Object.entries(ERRORS) as [string, { status?: number; reason?: string }][]) {
    if (entry.status === undefined || entry.reason === undefined) continue;
    const short = code.slice('SEGSERVE_ERR_'.length) as ServeErrorCode;
    out[short] = { status: entry.status, reason: entry.reason, code: code as ServerErrorCode };
  }
  return out as Record<ServeErrorCode, CatalogueEntry>;
})();

export class ServeError extends Error {
  readonly code: ServeErrorCode;
  /**
   * The response headers of the answer: ERROR_CODE_HEADER with the catalogue's code, and any extra
   * ones (e.g. `Allow` for 405).
   */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ServeErrorCode,
    info: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(info, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServeError';
    this.code = code;
    this.headers = { [ERROR_CODE_HEADER]: CATALOGUE[code].code, ...options?.headers };
  }

  /** The catalogue's code: `SEGSERVE_ERR_BAD_DATA`. */
  get errorCode(): ServerErrorCode {
    return CATALOGUE[this.code].code;
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

/**
 * The Open Inference Protocol's error body: one string saying what is wrong (the protocol's
 * `error`), and the catalogue's code beside it (`code`, an extra field clients may ignore).
 */
export interface OipErrorBody {
  error: string;
  code: ServerErrorCode;
}

export function oipEnvelope(err: ServeError): OipErrorBody {
  return { error: err.message, code: err.errorCode };
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
