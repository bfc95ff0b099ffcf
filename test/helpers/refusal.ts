/** Helpers for tests of the data readers' refusals. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type CliErrorCode, SegserveError } from '../../src/errors.js';

/**
 * The SegserveError `p` rejects with, checked: coded `code` (a bad CSV unless told), one line, and
 * no "unexpected" (every refusal names what was wrong).
 */
export async function refusal(
  p: Promise<unknown>,
  code: CliErrorCode = 'SEGSERVE_ERR_CSV',
): Promise<SegserveError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SegserveError);
  expect((err as SegserveError).code, (err as Error).message).toBe(code);
  expect((err as Error).message).not.toMatch(/\n/);
  expect((err as Error).message).not.toMatch(/unexpected/);
  return err as SegserveError;
}

/** A function writing texts to new CSV files in one temporary folder (named by `prefix`). */
export function csvFiles(prefix: string): (text: string) => string {
  const dir = mkdtempSync(join(tmpdir(), `segserve-${prefix}-`));
  let n = 0;
  return (text) => {
    const path = join(dir, `t${n++}.csv`);
    writeFileSync(path, text);
    return path;
  };
}
