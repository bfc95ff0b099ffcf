/**
 * Offline batch work on a CSV for any model schema. `readCsvBatches` streams a CSV through the
 * model's decoder in fixed-size batches of encoded rows (the one cell decoding of `predict` and
 * `drift`); `scoreCsv` writes the feature columns, any kept columns (an id), one probability column
 * per class (`p_<label>`), the predicted label (`predicted_<target>`) and, with `explain`, the exact
 * TreeSHAP contributions, as CSV or JSON lines. Missing cells are predicted (the forest routes them);
 * a bad cell fails the run naming its line, or with `onBadRow` is reported and its row skipped.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { ioError } from '../data/atomic.js';
import { checkReadable } from '../data/csv.js';
import { DEFAULT_NA_VALUES } from '../data/schema.js';
import { csvError, SegserveError, usageError } from '../errors.js';
import { TreeExplainer } from '../forest/treeshap.js';
import { OrdinalEncoder } from './encoder.js';
import { argmax, type ForestModel } from './model.js';
import { ModelInputError } from './types.js';

export type BatchFormat = 'csv' | 'jsonl';

export interface BatchOptions {
  format: BatchFormat;
  /** Columns passed through to the output unchanged (an id, the true label). */
  keep?: readonly string[];
  /** Cells read as missing (default: the model's, else segserve's defaults). */
  naValues?: readonly string[];
  /** Report bad rows here and skip them; without it, the first bad row fails the run. */
  onBadRow?: (problem: string) => void;
  /**
   * Add the exact TreeSHAP contributions: CSV gets `shap_<feature>` for the predicted class and
   * `shap_expected`, its expected value; JSON lines get `shap_values` (classes × features),
   * `expected_value`, `feature_names` and `class_names`.
   */
  explain?: boolean;
}

/** Where a lenient reader reports the cells it read as missing instead of refusing the row. */
export interface LenientDecoding {
  /** A category of feature j the model does not know (whatever the model's unknown-category policy). */
  unknown(j: number): void;
  /** A cell of numeric feature j that is not a finite number (nor an NA marker). */
  badNumber(j: number): void;
}

export interface ReadOptions {
  /** Columns to carry in `cells` besides the features (an id, the true label). */
  keep?: readonly string[];
  /** Cells read as missing (default: the model's, else segserve's defaults); an empty cell always is. */
  naValues?: readonly string[];
  /** Report bad rows here and skip them; without it, the first bad row fails the run. */
  onBadRow?: (problem: string) => void;
  /** Read unknown categories and unreadable numbers as missing and report them here (drift). */
  lenient?: LenientDecoding;
  /** Hand the sink each row's text cells (features, then kept columns); default false. */
  cells?: boolean;
}

/** One batch of encoded rows: `x` row-major n × features (NaN = missing), reused between batches. */
export interface RowBatch {
  x: Float64Array;
  n: number;
  /** Per row, the text cells of the features then the kept columns (when asked for). */
  cells: readonly (readonly string[])[];
}

export const BATCH_ROWS = 4096;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A CSV cell: quoted when it holds a comma, a quote or a line break. */
function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The feature names of the model's contribution columns (`shap_<feature>`), then `shap_expected`. */
export function shapColumns(model: ForestModel): string[] {
  return [...model.features.map((f) => `shap_${f.name}`), 'shap_expected'];
}

/**
 * The output column names: features, kept columns, p_<label> per class, predicted_<target>, and with
 * `explain` shap_<feature> per feature and shap_expected.
 */
export function outputColumns(model: ForestModel, keep: readonly string[], explain = false): string[] {
  const features = model.features.map((f) => f.name);
  const kept = keep.filter((c) => !features.includes(c));
  return [
    ...features,
    ...kept,
    ...model.classes.map((c) => `p_${c}`),
    `predicted_${model.schema.target}`,
    ...(explain ? shapColumns(model) : []),
  ];
}

/**
 * Streams the data rows of the CSV at `path` (a header naming the model's features, in any order,
 * and any other columns) through the model's decoder, handing batches of at most BATCH_ROWS encoded
 * rows to `sink`; a sink's promise pauses the reading (backpressure). Resolves to the counts of rows
 * read and skipped.
 * @throws SegserveError (usage) naming the file, line and column of the first bad cell (unless
 * `onBadRow` or `lenient`), a missing column, an empty file or a malformed CSV.
 */
export async function readCsvBatches(
  model: ForestModel,
  path: string,
  opts: ReadOptions,
  sink: (batch: RowBatch) => void | Promise<void>,
): Promise<{ rows: number; skipped: number }> {
  await checkReadable(path);
  const features = model.features.map((f) => f.name);
  const numeric = model.features.map((f) => f.kind === 'numeric');
  const kept = (opts.keep ?? []).filter((c) => !features.includes(c));
  const d = features.length;
  const na = new Set(opts.naValues ?? model.schema.naValues ?? DEFAULT_NA_VALUES);
  na.add('');
  const lenient = opts.lenient;
  // The lenient reader tells unknown categories apart whatever the model's policy says.
  const strictEncoder = lenient ? new OrdinalEncoder(model.features, 'error') : undefined;
  const keepCells = opts.cells === true;
  const x = new Float64Array(BATCH_ROWS * d);
  const cells: string[][] = [];
  let index: number[] | undefined; // column c (features, then kept) is at record position index[c]
  let n = 0;
  let rows = 0;
  let skipped = 0;
  const batch = (): RowBatch => ({ x, n, cells: keepCells ? cells.slice(0, n) : [] });

  /** Encodes a category (also when written as another form of a number: "1.0" for 1). */
  const encodeCategory = (
    encoder: Pick<OrdinalEncoder, 'encodeValue'>,
    j: number,
    cell: string,
    line: number,
  ): number => {
    try {
      return encoder.encodeValue(j, cell, line);
    } catch (err) {
      if (!(err instanceof ModelInputError) || !NUMBER.test(cell)) throw err;
      return encoder.encodeValue(j, Number(cell), line);
    }
  };

  /** Encodes one record into batch row n, or throws BadRow. */
  const encode = (record: string[], line: number): void => {
    const at = n * d;
    for (let j = 0; j < d; j++) {
      const cell = record[(index as number[])[j] as number] as string;
      if (lenient) {
        let code = Number.NaN; // a missing cell, and what cannot be read
        if (na.has(cell)) {
          // missing
        } else if (numeric[j]) {
          code = NUMBER.test(cell) ? Number(cell) : Number.NaN;
          if (!Number.isFinite(code)) {
            code = Number.NaN;
            lenient.badNumber(j);
          }
        } else {
          try {
            code = encodeCategory(strictEncoder as OrdinalEncoder, j, cell, line);
          } catch (err) {
            if (!(err instanceof ModelInputError)) throw err;
            lenient.unknown(j);
          }
        }
        x[at + j] = code;
        continue;
      }
      try {
        let code: number;
        if (na.has(cell)) code = model.encodeValue(j, null, line);
        else if (numeric[j]) code = model.encodeValue(j, NUMBER.test(cell) ? Number(cell) : cell, line);
        else code = encodeCategory(model, j, cell, line);
        x[at + j] = code;
      } catch (err) {
        if (!(err instanceof ModelInputError)) throw err;
        const got = cell === '' ? 'empty cell' : JSON.stringify(cell);
        throw new BadRow(`line ${line}, column "${features[j]}": ${got}, expected ${err.expected}`);
      }
    }
    if (keepCells) cells[n] = (index as number[]).map((p) => record[p] as string);
    n++;
  };

  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: false });
  parser.on('data', (record: string[]) => {
    if (parser.destroyed) return;
    const line = parser.info.lines;
    try {
      if (index === undefined) {
        const absent = [...features, ...kept].filter((c) => !record.includes(c));
        if (absent.length > 0) {
          throw csvError(
            `${path}: missing column${absent.length > 1 ? 's' : ''} ${absent.map((c) => `"${c}"`).join(', ')} in the header (found: ${record.join(', ')})`,
          );
        }
        index = [...features, ...kept].map((c) => record.indexOf(c));
        return;
      }
      try {
        encode(record, line);
      } catch (err) {
        if (!(err instanceof BadRow)) throw err;
        if (!opts.onBadRow) throw csvError(`${path}: ${err.message}`);
        skipped++;
        opts.onBadRow(err.message);
        return;
      }
      if (n === BATCH_ROWS) {
        const full = batch();
        rows += n;
        n = 0;
        const wait = sink(full);
        if (wait) {
          parser.pause();
          wait.then(
            () => parser.resume(),
            (e: unknown) => parser.destroy(e as Error),
          );
        }
      }
    } catch (err) {
      parser.destroy(err as Error);
    }
  });

  try {
    await pipeline(createReadStream(path), parser);
  } catch (err) {
    const cause = err instanceof SegserveError ? err : (err as { cause?: unknown }).cause;
    if (cause instanceof SegserveError) throw cause;
    if (err instanceof CsvError) {
      const { lines } = err as CsvError & { lines?: number };
      throw csvError(`${path}: ${lines ? `line ${lines}: ` : ''}${err.message}`);
    }
    throw ioError('read', path, err);
  }
  if (index === undefined)
    throw csvError(`${path}: the file is empty (expected a header naming ${features.join(', ')})`);
  if (n > 0) {
    rows += n;
    await sink(batch());
    n = 0;
  }
  return { rows, skipped };
}

/**
 * Scores every row of `path` and writes the result to `write` (which may return a promise for
 * backpressure). Resolves to the counts of rows scored and skipped. With `explain`, one
 * TreeExplainer serves the run and explains each batch into one reused buffer.
 * @throws SegserveError (usage) naming the file, line and column of the first bad cell.
 */
export async function scoreCsv(
  model: ForestModel,
  path: string,
  write: (chunk: string) => void | Promise<void>,
  opts: BatchOptions,
): Promise<{ scored: number; skipped: number }> {
  const features = model.features.map((f) => f.name);
  const featureNames = JSON.stringify(features);
  const numeric = model.features.map((f) => f.kind === 'numeric');
  const d = features.length;
  const k = model.classes.length;
  const na = new Set(opts.naValues ?? model.schema.naValues ?? DEFAULT_NA_VALUES);
  na.add('');
  const columns = outputColumns(model, opts.keep ?? [], opts.explain);
  const clash = columns.find((c, i) => columns.indexOf(c) !== i);
  if (opts.explain && clash !== undefined) {
    throw usageError(
      `--explain: the output would have two columns named "${clash}" (a feature or kept column clashes with the contribution columns shap_<feature>, shap_expected)`,
    );
  }
  const proba = new Float64Array(BATCH_ROWS * k);
  const explainer = opts.explain ? new TreeExplainer(model.forest.trees, k, d) : undefined;
  const shap = new Float64Array(explainer ? BATCH_ROWS * k * d : 0);
  const expected = explainer ? Array.from(explainer.expected) : [];
  const expectedJson = JSON.stringify(expected);
  const classNames = JSON.stringify(model.classes);

  const format = ({ x, n, cells }: RowBatch): string => {
    model.predictEncodedInto(x, n, proba);
    explainer?.explainInto(x, n, shap);
    let text = '';
    for (let i = 0; i < n; i++) {
      const row = cells[i] as string[];
      const best = argmax(proba, i * k, k);
      const label = model.classes[best];
      if (opts.format === 'csv') {
        let line = row.map(csvCell).join(',');
        for (let c = 0; c < k; c++) line += `,${proba[i * k + c]}`;
        line += `,${csvCell(String(label))}`;
        if (explainer) {
          const at = (i * k + best) * d;
          for (let f = 0; f < d; f++) line += `,${shap[at + f]}`;
          line += `,${expected[best]}`;
        }
        text += `${line}\n`;
      } else {
        const out: Record<string, unknown> = {};
        row.forEach((cell, c) => {
          const isFeature = c < d;
          const missing = na.has(cell);
          out[columns[c] as string] =
            isFeature && missing ? null : isFeature && numeric[c] ? Number(cell) : cell;
        });
        for (let c = 0; c < k; c++) out[columns[row.length + c] as string] = proba[i * k + c];
        out[columns[row.length + k] as string] = label;
        let json = JSON.stringify(out);
        if (explainer) {
          // The arrays under Alibi's TreeShap names, appended to the row's object (SHAP values are
          // finite, so String(v) is their JSON).
          let values = '';
          for (let c = 0; c < k; c++) {
            const at = (i * k + c) * d;
            values += c === 0 ? '[' : ',[';
            for (let f = 0; f < d; f++) values += f === 0 ? String(shap[at + f]) : `,${shap[at + f]}`;
            values += ']';
          }
          json = `${json.slice(0, -1)},"shap_values":[${values}],"expected_value":${expectedJson},"feature_names":${featureNames},"class_names":${classNames}}`;
        }
        text += `${json}\n`;
      }
    }
    return text;
  };

  await checkReadable(path);
  if (opts.format === 'csv') await write(`${columns.map(csvCell).join(',')}\n`);
  const { rows, skipped } = await readCsvBatches(
    model,
    path,
    { keep: opts.keep, naValues: opts.naValues, onBadRow: opts.onBadRow, cells: true },
    (batch) => write(format(batch)),
  );
  return { scored: rows, skipped };
}

/** A row with a cell the model cannot take. */
class BadRow extends Error {}
