/**
 * One error type for everything a user can get wrong or the world can refuse.
 * Library code throws it; only the CLI entry point turns it into an exit code.
 */
export type ErrorKind =
  /** A bad option, argument or input file content: the user must change the command. Exit 2. */
  | 'usage'
  /** The command was fine but running it failed (I/O, a refused file). Exit 1. */
  | 'failure'
  /** The command ran and found what it checks for (drift above --fail-above). Exit 3. */
  | 'finding';

export class SegserveError extends Error {
  readonly kind: ErrorKind;

  constructor(message: string, kind: ErrorKind = 'failure', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SegserveError';
    this.kind = kind;
  }
}

/** A bad option value or input file: exit code 2. */
export function usageError(message: string): SegserveError {
  return new SegserveError(message, 'usage');
}

/** Describes an unknown thrown value in one line. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
