/**
 * The error catalogue: every error segserve reports has one stable code (`SEGSERVE_ERR_*`, in the
 * manner of Fastify's `FST_ERR_*`), listed here once with what it means to each front end: the exit
 * code the CLI ends with; the HTTP status, Seldon `status.reason` and gRPC status the server answers
 * with.
 * docs/errors.md lists the same codes; test/errors.test.ts keeps the two equal.
 *
 * Library code throws a SegserveError carrying its code; only the CLI entry point turns it into an
 * exit code, and only the server's protocol modules turn a server code into a response.
 */

/** The gRPC status names the server answers with (numbers in serve/grpc/status.ts). */
export type GrpcStatusName =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'RESOURCE_EXHAUSTED'
  | 'UNIMPLEMENTED'
  | 'UNAVAILABLE'
  | 'UNKNOWN'
  | 'INTERNAL'
  | 'DEADLINE_EXCEEDED';

export interface ErrorEntry {
  /** One line: when this error happens. docs/errors.md says more. */
  readonly description: string;
  /** The CLI's exit code when this error ends a command (two for interrupted runs: SIGINT, SIGTERM). */
  readonly exit?: number | readonly [number, number];
  /** The HTTP status the server answers with. */
  readonly status?: number;
  /** Seldon v1's `status.reason` for a server error. */
  readonly reason?: string;
  /** The gRPC status (its name in grpc/grpc doc/statuscodes.md) of a server error. */
  readonly grpc?: GrpcStatusName;
  /** Documented and kept stable, but nothing raises it yet. */
  readonly reserved?: true;
}

export const ERRORS = {
  // ----- The command line -----
  SEGSERVE_ERR_OPTION: {
    exit: 2,
    description: 'A bad option value, a missing or extra argument, or options that do not go together.',
  },
  SEGSERVE_ERR_INPUT_PATH: {
    exit: 2,
    description: 'An input file named on the command line does not exist or is a directory.',
  },
  SEGSERVE_ERR_CSV: {
    exit: 2,
    description:
      'A CSV file cannot be read as the command needs it: empty, a bad header, a ragged row, a missing column or a bad cell (named by file, line and column).',
  },
  SEGSERVE_ERR_SCHEMA: {
    exit: 2,
    description:
      'The data and the roles asked for cannot make a model: no target, a name that is not a column, conflicting roles, no feature left, too few classes or rows per class, a feature entirely missing or constant.',
  },
  SEGSERVE_ERR_CONFIG_FILE: {
    exit: 2,
    description:
      'A JSON file written by a user (--schema or the schema beside the data, --spec, --space) is not JSON or breaks its rules (named by file and key).',
  },
  SEGSERVE_ERR_PARAMS: {
    exit: 2,
    description: 'Forest parameters or a search space that cannot train (from options or --space).',
  },
  SEGSERVE_ERR_NO_DRIFT_REFERENCE: {
    exit: 2,
    description: 'The model records no drift reference (trained by an older segserve): retrain it.',
  },
  SEGSERVE_ERR_IO: {
    exit: 1,
    description:
      'Reading or writing a file failed: permission denied, a missing folder, no space left, a read-only file system.',
  },
  SEGSERVE_ERR_MODEL_FILE: {
    exit: 1,
    description:
      'A model file is refused: missing, not a regular file, unreadable, truncated, foreign, bad structure or values, digest mismatch.',
  },
  SEGSERVE_ERR_LISTEN: {
    exit: 1,
    description: 'The server cannot listen on its host and port (in use, not permitted).',
  },
  SEGSERVE_ERR_DRIFT: {
    exit: 3,
    description: 'A finding, not a failure: `drift --fail-above` found a PSI above the threshold.',
  },
  SEGSERVE_ERR_INTERRUPTED: {
    exit: [130, 143],
    description:
      'SIGINT (130) or SIGTERM (143) stopped `simulate`, `train` or `predict`: temporary files removed, previous outputs kept.',
  },
  // ----- Both: a defect of segserve -----
  SEGSERVE_ERR_INTERNAL: {
    exit: 1,
    status: 500,
    reason: 'MICROSERVICE_INTERNAL_ERROR',
    grpc: 'INTERNAL',
    description: 'A defect of segserve itself (an unexpected error); SEGSERVE_DEBUG=1 shows the stack.',
  },
  // ----- The server (short names are serve/errors.ts's ServeErrorCode) -----
  SEGSERVE_ERR_BAD_DATA: {
    status: 400,
    reason: 'MICROSERVICE_BAD_DATA',
    grpc: 'INVALID_ARGUMENT',
    description:
      'The request is malformed or its data does not fit the model (the message names what and where).',
  },
  SEGSERVE_ERR_NOT_FOUND: {
    status: 404,
    reason: 'MICROSERVICE_NOT_FOUND',
    grpc: 'NOT_FOUND',
    description: 'No such route, or no such model name or version.',
  },
  SEGSERVE_ERR_METHOD_NOT_ALLOWED: {
    status: 405,
    reason: 'MICROSERVICE_METHOD_NOT_ALLOWED',
    grpc: 'UNIMPLEMENTED',
    description: 'The route exists but not for this method (the `Allow` header lists those that do).',
  },
  SEGSERVE_ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    reason: 'MICROSERVICE_PAYLOAD_TOO_LARGE',
    grpc: 'RESOURCE_EXHAUSTED',
    description: 'The body is over --body-limit, or the request has more rows than the server takes.',
  },
  SEGSERVE_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    reason: 'MICROSERVICE_UNSUPPORTED_MEDIA_TYPE',
    grpc: 'INVALID_ARGUMENT',
    description: 'The Content-Type is not one the route reads.',
  },
  SEGSERVE_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    reason: 'MICROSERVICE_HEADERS_TOO_LARGE',
    grpc: 'RESOURCE_EXHAUSTED',
    description: "The request line and headers exceed Node's limit (a large `?json=`).",
  },
  SEGSERVE_ERR_UNAVAILABLE: {
    status: 503,
    reason: 'MICROSERVICE_UNAVAILABLE',
    grpc: 'UNAVAILABLE',
    description: 'The server is not ready or is shutting down (readiness while draining).',
  },
  SEGSERVE_ERR_BAD_METRIC: {
    status: 500,
    reason: 'MICROSERVICE_BAD_METRIC',
    grpc: 'UNKNOWN',
    description: "A component's metrics() returned something that is not a valid Seldon metric.",
  },
  SEGSERVE_ERR_NOT_IMPLEMENTED: {
    status: 501,
    reason: 'MICROSERVICE_NOT_IMPLEMENTED',
    grpc: 'UNIMPLEMENTED',
    description:
      "A request this server cannot answer in this protocol (a component's non-tensor answer over v2).",
  },
  SEGSERVE_ERR_COMPONENT_ERROR: {
    status: 500,
    reason: 'MICROSERVICE_INTERNAL_ERROR',
    grpc: 'UNKNOWN',
    description: 'A user component threw, or returned something that cannot be sent.',
  },
  SEGSERVE_ERR_PREDICT_TIMEOUT: {
    status: 504,
    reason: 'MICROSERVICE_TIMEOUT',
    grpc: 'DEADLINE_EXCEEDED',
    description: "A component's method did not settle within --predict-timeout.",
  },
  SEGSERVE_ERR_REQUEST_TIMEOUT: {
    status: 408,
    reason: 'MICROSERVICE_REQUEST_TIMEOUT',
    grpc: 'DEADLINE_EXCEEDED',
    description: 'The request (headers and body) did not arrive within --request-timeout.',
  },
} as const satisfies Record<`SEGSERVE_ERR_${string}`, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes the CLI can end with (those with an exit code). */
export type CliErrorCode = {
  [C in ErrorCode]: (typeof ERRORS)[C] extends { readonly exit: number } ? C : never;
}[ErrorCode];

/** The codes the server can answer with (those with an HTTP status). */
export type ServerErrorCode = {
  [C in ErrorCode]: (typeof ERRORS)[C] extends { readonly status: number } ? C : never;
}[ErrorCode];

/** The entry of a code, typed as the common shape. */
export function errorEntry(code: ErrorCode): ErrorEntry {
  return ERRORS[code];
}

export type ErrorKind =
  /** A bad option, argument or input file content: the user must change the command. Exit 2. */
  | 'usage'
  /** The command was fine but running it failed (I/O, a refused file). Exit 1. */
  | 'failure'
  /** The command ran and found what it checks for (drift above --fail-above). Exit 3. */
  | 'finding';

/** The code a SegserveError built from a bare kind gets (the older constructor form). */
const CODE_OF_KIND: Readonly<Record<ErrorKind, CliErrorCode>> = {
  usage: 'SEGSERVE_ERR_OPTION',
  failure: 'SEGSERVE_ERR_IO',
  finding: 'SEGSERVE_ERR_DRIFT',
};

function isKind(value: string): value is ErrorKind {
  return value === 'usage' || value === 'failure' || value === 'finding';
}

/**
 * One error type for everything a user can get wrong or the world can refuse: a one-line message
 * and a code from the catalogue, which fixes the exit code.
 */
export class SegserveError extends Error {
  readonly code: CliErrorCode;

  /**
   * @param code a catalogue code; a bare kind ('usage', 'failure', 'finding') is still accepted and
   *   stands for SEGSERVE_ERR_OPTION, SEGSERVE_ERR_IO and SEGSERVE_ERR_DRIFT (prefer a code).
   */
  constructor(message: string, code: CliErrorCode | ErrorKind, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SegserveError';
    this.code = isKind(code) ? CODE_OF_KIND[code] : code;
  }

  /** The CLI's exit code for this error. */
  get exitCode(): number {
    return ERRORS[this.code].exit;
  }

  get kind(): ErrorKind {
    const exit = this.exitCode;
    return exit === 2 ? 'usage' : exit === 3 ? 'finding' : 'failure';
  }
}

/** A usage error (exit 2): the user must change the command. The code defaults to SEGSERVE_ERR_OPTION. */
export function usageError(message: string, code: CliErrorCode = 'SEGSERVE_ERR_OPTION'): SegserveError {
  return new SegserveError(message, code);
}

/** A bad CSV file (SEGSERVE_ERR_CSV): the message names the file, line and column. */
export function csvError(message: string): SegserveError {
  return new SegserveError(message, 'SEGSERVE_ERR_CSV');
}

/** Data and roles that cannot make a model (SEGSERVE_ERR_SCHEMA). */
export function schemaError(message: string): SegserveError {
  return new SegserveError(message, 'SEGSERVE_ERR_SCHEMA');
}

/** Forest parameters or a search space that cannot train (SEGSERVE_ERR_PARAMS). */
export function paramsError(message: string): SegserveError {
  return new SegserveError(message, 'SEGSERVE_ERR_PARAMS');
}

/** A user-written JSON file that is not JSON or breaks its rules (SEGSERVE_ERR_CONFIG_FILE). */
export function configFileError(message: string): SegserveError {
  return new SegserveError(message, 'SEGSERVE_ERR_CONFIG_FILE');
}

/**
 * An input path that names nothing readable: SEGSERVE_ERR_INPUT_PATH for a missing file or a
 * directory, or undefined for another fs error (the caller reports it as I/O).
 */
export function inputPathError(path: string, err: unknown, what = ''): SegserveError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : undefined;
  if (reason === undefined) return undefined;
  return new SegserveError(
    `cannot read ${what ? `${what} ` : ''}${path}: ${reason}`,
    'SEGSERVE_ERR_INPUT_PATH',
    {
      cause: err,
    },
  );
}

/** The code of anything thrown: its catalogue code, or SEGSERVE_ERR_INTERNAL for the unexpected. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof SegserveError ? err.code : 'SEGSERVE_ERR_INTERNAL';
}

/** Describes an unknown thrown value in one line. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
