/**
 * Schema inference (in the spirit of Yggdrasil Decision Forests' `infer_dataspec`): one streaming pass
 * over a CSV gives, per column, its kind, missing and distinct counts, and its categories or
 * min/mean/max. A column whose non-missing cells all parse as finite numbers is numeric; anything else
 * is categorical. The target, when named, is categorical (class labels; numbers when they all are).
 */
import { schemaError } from '../errors.js';
import { type ColumnRole, type ColumnSchema, type DataSchema, DEFAULT_NA_VALUES } from './schema.js';
import { type ColumnScan, type ScanPlan, scanColumns } from './table.js';

export interface InferOptions {
  /** The target column (role 'target', read as categorical). */
  target?: string;
  /** Cells read as missing; an empty cell always is. Default DEFAULT_NA_VALUES. */
  naValues?: readonly string[];
}

/** The NA list as stored in a schema: the given markers (or the defaults), with '' first, no repeats. */
export function normalizeNaValues(naValues: readonly string[] | undefined): string[] {
  return [...new Set(['', ...(naValues ?? DEFAULT_NA_VALUES)])];
}

/** "a, b, c" for messages. */
export function listColumns(names: readonly string[]): string {
  return names.join(', ');
}

/** A column's schema entry from what a scan learned of it. */
export function columnSchemaOf(scan: ColumnScan, role: ColumnRole): ColumnSchema {
  const col: ColumnSchema = {
    name: scan.name,
    role,
    kind: scan.kind,
    missing: scan.missing,
    distinct: scan.distinct,
  };
  if (scan.distinctAtLeast) col.distinctAtLeast = true;
  if (scan.kind === 'categorical') {
    if (scan.categories) col.categories = scan.categories;
  } else if (!Number.isNaN(scan.mean)) {
    col.min = scan.min;
    col.mean = scan.mean;
    col.max = scan.max;
  }
  return col;
}

/**
 * Infers the schema of a CSV file in one streaming pass (all rows count for the statistics).
 * @throws SegserveError (usage) on an empty file, an unnamed or duplicate column, a target that is not
 *   a column (listing the columns), a ragged row or no data rows; (failure) on I/O.
 */
export async function inferSchema(path: string, opts: InferOptions = {}): Promise<DataSchema> {
  const naValues = normalizeNaValues(opts.naValues);
  const target = opts.target;
  const { header, scans, nRows } = await scanColumns(
    path,
    (header) => {
      if (target !== undefined && !header.includes(target)) {
        throw schemaError(
          `${path}: the target "${target}" is not a column (columns: ${listColumns(header)})`,
        );
      }
      return header.map(
        (name): ScanPlan => ({ name, mode: name === target ? 'categorical' : 'auto', keep: false }),
      );
    },
    { naValues },
  );
  return {
    target: target ?? null,
    naValues,
    unknownCategory: 'error',
    rows: nRows,
    columns: header.map((name, j) =>
      columnSchemaOf(scans[j] as ColumnScan, name === target ? 'target' : 'feature'),
    ),
  };
}
