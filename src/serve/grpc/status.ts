/**
 * The error catalogue in gRPC: each ServeError code has one gRPC status code, and an error answer
 * carries the catalogue's code and Seldon's reason in its trailing metadata (`segserve-error-code`,
 * `seldon-reason`), so a client can tell BAD_DATA from UNSUPPORTED_MEDIA_TYPE as REST clients do.
 * The numbers are gRPC's (grpc/grpc doc/statuscodes.md), written here so this module loads without
 * @grpc/grpc-js.
 */
import { errorEntry } from '../../errors.js';
import { CATALOGUE, type ServeErrorCode } from '../errors.js';

/** gRPC status codes (the numbers are the protocol's). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCodeNumber = (typeof GrpcCode)[keyof typeof GrpcCode];

/**
 * The status of each catalogue code, from the one error catalogue (src/errors.ts): bad input is
 * INVALID_ARGUMENT (a too-large one RESOURCE_EXHAUSTED, as grpc-js answers a message over the size
 * limit); a component's failure is UNKNOWN (its error, not ours); a defect of ours is INTERNAL.
 */
export const GRPC_STATUS: Readonly<Record<ServeErrorCode, GrpcCodeNumber>> = Object.fromEntries(
  Object.entries(CATALOGUE).map(([code, entry]) => {
    const name = errorEntry(entry.code).grpc as keyof typeof GrpcCode | undefined;
    return [code, name === undefined ? GrpcCode.INTERNAL : GrpcCode[name]];
  }),
) as Record<ServeErrorCode, GrpcCodeNumber>;

const NAMES: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/**
 * A status code's name as Seldon's executor writes it in the `code` label of its gRPC request metrics
 * (Go's codes.Code String(): `OK`, `InvalidArgument`, `NotFound`, `Unavailable`...).
 */
export function grpcCodeName(code: number): string {
  return NAMES[code] ?? `Code(${code})`;
}

/** Trailing metadata keys of an error answer. */
export const ERROR_CODE_KEY = 'segserve-error-code';
export const REASON_KEY = 'seldon-reason';
