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
import { SegserveError, usageError } from '../errors.js';
import { ioError } from './atomic.js';

/** A columnar table of numbers: `columns[j][i]` is row i of column `names[j]`. */
export interface Table {
  names: string[];
  columns: Float64Array[];
  nRows: number;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
}

export interface ReadTableOptions {
  /** Columns whose cells must be integers. */
  integer?: readonly string[];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A parsed cell that is not a finite number: carries what the reader needs to name it. */
class BadCell extends Error {
  constructor(
    readonly line: number,
    readonly column: string,
    readonly cell: string,
    readonly expected: string,
  ) {
    super(
      `line ${line}, column "${column}": ${cell === '' ? 'empty cell' : JSON.stringify(cell)}, expected ${expected}`,
    );
  }
}

function grow(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Reads the named columns of a CSV file into typed arrays.
 * @throws SegserveError (usage) on a missing column, an empty file or a bad cell; (failure) on I/O.
 */
export async function readTable(
  path: string,
  wanted: readonly string[],
  opts: ReadTableOptions = {},
): Promise<Table> {
  try {
    if ((await stat(path)).isDirectory()) throw usageError(`cannot read ${path}: it is a directory`);
  } catch (err) {
    if (err instanceof SegserveError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw usageError(`cannot read ${path}: no such file`);
    throw ioError('read', path, err);
  }

  const integer = new Set(opts.integer ?? []);
  let index: number[] | undefined; // wanted column j is at record position index[j]
  let isInt: boolean[] = [];
  let capacity = 1 << 14;
  let columns: Float64Array[] = wanted.map(() => new Float64Array(capacity));
  let nRows = 0;
  const hash = createHash('sha256');

  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    ltrim: false,
    relax_column_count: false,
  });

  // Records are pushed synchronously while a chunk is parsed, so in flowing mode `parser.info.lines`
  // is the line of the record at hand (csv-parse's per-record info objects cost 3x the parse).
  const onRecord = (record: string[]): void => {
    const line = parser.info.lines;
    if (index === undefined) {
      const header = record;
      const missing = wanted.filter((w) => !header.includes(w));
      if (missing.length > 0) {
        throw usageError(
          `${path}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} in the header (found: ${header.join(', ')})`,
        );
      }
      index = wanted.map((w) => header.indexOf(w));
      isInt = wanted.map((w) => integer.has(w));
      return;
    }
    if (nRows === capacity) {
      capacity *= 2;
      columns = columns.map(grow);
    }
    for (let j = 0; j < index.length; j++) {
      const cell = record[index[j] as number] as string;
      const v = Number(cell);
      if (cell === '' || !Number.isFinite(v) || !NUMBER.test(cell)) {
        throw new BadCell(line, wanted[j] as string, cell, isInt[j] ? 'an integer' : 'a finite number');
      }
      if (isInt[j] && !Number.isInteger(v)) throw new BadCell(line, wanted[j] as string, cell, 'an integer');
      (columns[j] as Float64Array)[nRows] = v;
    }
    nRows++;
  };
  parser.on('data', (record: string[]) => {
    if (parser.destroyed) return;
    try {
      onRecord(record);
    } catch (err) {
      parser.destroy(err as Error); // pipeline() rejects with it
    }
  });

  const source = createReadStream(path);
  source.on('data', (chunk) => hash.update(chunk));
  try {
    await pipeline(source, parser);
  } catch (err) {
    if (err instanceof SegserveError) throw err;
    if (err instanceof BadCell) throw usageError(`${path}: ${err.message}`);
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof SegserveError) throw cause;
    if (cause instanceof BadCell) throw usageError(`${path}: ${cause.message}`);
    if (err instanceof CsvError) {
      const { lines, record } = err as CsvError & { lines?: number; record?: unknown[] };
      const where = lines ? `line ${lines}: ` : '';
      if (err.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
        throw usageError(`${path}: ${where}${record?.length ?? '?'} fields, expected as many as the header`);
      }
      throw usageError(`${path}: ${where}${err.message}`);
    }
    throw ioError('read', path, err);
  }
  if (index === undefined)
    throw usageError(`${path}: the file is empty (expected a header naming ${wanted.join(', ')})`);
  if (nRows === 0) throw usageError(`${path}: no data rows after the header`);
  return {
    names: [...wanted],
    columns: columns.map((c) => c.slice(0, nRows) as Float64Array),
    nRows,
    sha256: hash.digest('hex'),
  };
}
