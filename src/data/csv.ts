/**
 * A strict CSV reader for numeric tables, on csv-parse (quoting, BOM, CRLF and blank lines handled by
 * a well-kept parser). Columns are found by header name, in any order; extra columns are ignored.
 * Every problem is one line naming the file, the line and the column.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { csvError, inputPathError, SegserveError } from '../errors.js';
import { ioError } from './atomic.js';

/** A columnar table of numbers: `columns[j][i]` is row i of column `names[j]`. */
export interface Table {
  names: string[];
  columns: Float64Array[];
  nRows: number;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
}

export interface ScanOptions {
  /** Columns whose cells must be integers. */
  integer?: readonly string[];
  /**
   * Called for a row with a bad cell instead of failing the scan (the row is skipped).
   * Without it, the first bad cell ends the scan with a usage error.
   */
  onBadRow?: (problem: string) => void;
}

export const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A cell that is not what the column needs, with what a message needs to name it. */
export class BadCell extends Error {}

function badCell(line: number, column: string, cell: string, expected: string): BadCell {
  const got = cell === '' ? 'empty cell' : JSON.stringify(cell);
  return new BadCell(`line ${line}, column "${column}": ${got}, expected ${expected}`);
}

export async function checkReadable(path: string): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) throw inputPathError(path, { code: 'EISDIR' });
  } catch (err) {
    if (err instanceof SegserveError) throw err;
    throw inputPathError(path, err) ?? ioError('read', path, err);
  }
}

/** Turns whatever a parse pipeline rejected with into one SegserveError naming the file. */
export function scanError(path: string, err: unknown): SegserveError {
  const cause =
    err instanceof SegserveError || err instanceof BadCell ? err : (err as { cause?: unknown }).cause;
  if (cause instanceof SegserveError) return cause;
  if (cause instanceof BadCell) return csvError(`${path}: ${cause.message}`);
  if (err instanceof CsvError) {
    const { lines, record } = err as CsvError & { lines?: number; record?: unknown[] };
    const where = lines ? `line ${lines}: ` : '';
    if (err.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
      return csvError(`${path}: ${where}${record?.length ?? '?'} fields, expected as many as the header`);
    }
    return csvError(`${path}: ${where}${err.message}`);
  }
  return ioError('read', path, err);
}

/**
 * Streams the named columns of a CSV file row by row: `onRow(values, line)` gets the row's values in
 * `wanted` order (a reused array: copy what you keep) and its 1-based line number; if it returns a
 * promise, reading pauses until it settles (backpressure for a writer downstream). Resolves to the
 * sha256 of the file's bytes and the number of rows passed to `onRow`.
 * @throws SegserveError (usage) on a missing column, an empty file or a bad cell; (failure) on I/O.
 */
export async function scanCsv(
  path: string,
  wanted: readonly string[],
  onRow: (values: Float64Array, line: number) => void | Promise<void>,
  opts: ScanOptions = {},
): Promise<{ sha256: string; rows: number }> {
  await checkReadable(path);
  const integer = new Set(opts.integer ?? []);
  let index: number[] | undefined; // wanted column j is at record position index[j]
  let isInt: boolean[] = [];
  const values = new Float64Array(wanted.length);
  let rows = 0;
  const hash = createHash('sha256');
  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: false });

  const onRecord = (record: string[], line: number): void => {
    if (index === undefined) {
      const missing = wanted.filter((w) => !record.includes(w));
      if (missing.length > 0) {
        const names = missing.map((m) => `"${m}"`).join(', ');
        throw csvError(
          `${path}: missing column${missing.length > 1 ? 's' : ''} ${names} in the header (found: ${record.join(', ')})`,
        );
      }
      index = wanted.map((w) => record.indexOf(w));
      isInt = wanted.map((w) => integer.has(w));
      return;
    }
    for (let j = 0; j < index.length; j++) {
      const cell = record[index[j] as number] as string;
      const v = Number(cell);
      if (cell === '' || !Number.isFinite(v) || !NUMBER.test(cell)) {
        throw badCell(line, wanted[j] as string, cell, isInt[j] ? 'an integer' : 'a finite number');
      }
      if (isInt[j] && !Number.isInteger(v)) throw badCell(line, wanted[j] as string, cell, 'an integer');
      values[j] = v;
    }
    rows++;
    const wait = onRow(values, line);
    if (wait) {
      parser.pause();
      wait.then(
        () => parser.resume(),
        (err: unknown) => parser.destroy(err as Error),
      );
    }
  };

  // Records are pushed synchronously while a chunk is parsed, so in flowing mode `parser.info.lines`
  // is the line of the record at hand (csv-parse's per-record info objects cost 3x the parse).
  parser.on('data', (record: string[]) => {
    if (parser.destroyed) return;
    try {
      onRecord(record, parser.info.lines);
    } catch (err) {
      if (err instanceof BadCell && opts.onBadRow) opts.onBadRow(err.message);
      else parser.destroy(err as Error); // pipeline() rejects with it
    }
  });

  const source = createReadStream(path);
  source.on('data', (chunk) => hash.update(chunk));
  try {
    await pipeline(source, parser);
  } catch (err) {
    throw scanError(path, err);
  }
  if (index === undefined)
    throw csvError(`${path}: the file is empty (expected a header naming ${wanted.join(', ')})`);
  return { sha256: hash.digest('hex'), rows };
}

/**
 * Reads the named columns of a CSV file into typed arrays.
 * @throws SegserveError (usage) on a missing column, an empty file, no rows or a bad cell; (failure) on I/O.
 */
export async function readTable(
  path: string,
  wanted: readonly string[],
  opts: Pick<ScanOptions, 'integer'> = {},
): Promise<Table> {
  let capacity = 1 << 14;
  let columns: Float64Array[] = wanted.map(() => new Float64Array(capacity));
  let nRows = 0;
  const { sha256 } = await scanCsv(
    path,
    wanted,
    (values) => {
      if (nRows === capacity) {
        capacity *= 2;
        columns = columns.map((c) => {
          const bigger = new Float64Array(capacity);
          bigger.set(c);
          return bigger;
        });
      }
      for (let j = 0; j < values.length; j++) (columns[j] as Float64Array)[nRows] = values[j] as number;
      nRows++;
    },
    opts,
  );
  if (nRows === 0) throw csvError(`${path}: no data rows after the header`);
  return {
    names: [...wanted],
    columns: columns.map((c) => c.slice(0, nRows) as Float64Array),
    nRows,
    sha256,
  };
}
