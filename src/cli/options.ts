/**
 * Option value parsers shared by the subcommands. Each throws commander's InvalidArgumentError with
 * what is expected, so a bad value is one line naming the option, the value and the expectation.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { ioError } from '../data/atomic.js';
import { isValidSeed, MAX_SEED } from '../data/seed.js';
import { configFileError, inputPathError } from '../errors.js';

const INTEGER = /^[+]?\d+$/;

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!INTEGER.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('expected a positive integer.');
  }
  return n;
}

/** An integer ≥ 0 (a count where 0 means "none" or "off"). */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!INTEGER.test(value.trim()) || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError('expected an integer ≥ 0.');
  }
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!INTEGER.test(value.trim()) || n > 65535)
    throw new InvalidArgumentError('expected a port number in [0, 65535].');
  return n;
}

export function seed(value: string): number {
  const n = Number(value);
  if (!INTEGER.test(value.trim()) || !isValidSeed(n)) {
    throw new InvalidArgumentError(`expected an integer in [0, ${MAX_SEED}].`);
  }
  return n;
}

/**
 * Reads and parses a JSON file given on the command line, naming it in any error: SEGSERVE_ERR_INPUT_PATH
 * (missing, a directory), SEGSERVE_ERR_IO (unreadable), SEGSERVE_ERR_CONFIG_FILE (not JSON).
 */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw inputPathError(path, err, what) ?? ioError('read', path, err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw configFileError(`${path}: invalid JSON (${(err as Error).message})`);
  }
}

/** A comma-separated list (column names, NA markers), trimmed; an empty item only if allowed ('' is always missing). */
export function list(what: string, allowEmpty = false) {
  return (value: string): string[] => {
    const items = value.split(',').map((s) => s.trim());
    if (!allowEmpty && (items.length === 0 || items.some((s) => s === ''))) {
      throw new InvalidArgumentError(`expected a comma-separated list of ${what}, none empty.`);
    }
    return items;
  };
}
