/**
 * Offline batch scoring for any model schema: stream a CSV through the model in fixed-size batches and
 * write the feature columns, any kept columns (an id), one probability column per class (`p_<label>`)
 * and the predicted label (`predicted_<target>`), as CSV or JSON lines. Missing cells are predicted
 * (the forest routes them); a bad cell fails the run naming its line, or with `onBadRow` is reported
 * and its row skipped.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { ioError } from '../data/atomic.js';
import { checkReadable } from '../data/csv.js';
import { DEFAULT_NA_VALUES } from '../data/schema.js';
import { SegserveError, usageError } from '../errors.js';
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
}

const BATCH_ROWS = 4096;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A CSV cell: quoted when it holds a comma, a quote or a line break. */
function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The output column names: features, kept columns, p_<label> per class, predicted_<target>. */
export function outputColumns(model: ForestModel, keep: readonly string[]): string[] {
  const features = model.features.map((f) => f.name);
  const kept = keep.filter((c) => !features.includes(c));
  return [...features, ...kept, ...model.classes.map((c) => `p_${c}`), `predicted_${model.schema.target}`];
}

/**
 * Scores every row of `path` and writes the result to `write` (which may return a promise for
 * backpressure). Resolves to the counts of rows scored and skipped.
 * @throws SegserveError (usage) naming the file, line and column of the first bad cell.
 */
export async function scoreCsv(
  model: ForestModel,
  path: string,
  write: (chunk: string) => void | Promise<void>,
  opts: BatchOptions,
): Promise<{ scored: number; skipped: number }> {
  await checkReadable(path);
  const features = model.features.map((f) => f.name);
  const numeric = model.features.map((f) => f.kind === 'numeric');
  const kept = (opts.keep ?? []).filter((c) => !features.includes(c));
  const d = features.length;
  const k = model.classes.length;
  const na = new Set(opts.naValues ?? model.schema.naValues ?? DEFAULT_NA_VALUES);
  na.add('');
  const columns = outputColumns(model, opts.keep ?? []);
  const x = new Float64Array(BATCH_ROWS * d);
  const proba = new Float64Array(BATCH_ROWS * k);
  const cells: string[][] = [];
  let index: number[] | undefined; // output column c (features, then kept) is at record position index[c]
  let n = 0;
  let scored = 0;
  let skipped = 0;

  const flush = (): string => {
    model.predictEncodedInto(x, n, proba);
    let text = '';
    for (let i = 0; i < n; i++) {
      const row = cells[i] as string[];
      const label = model.classes[argmax(proba, i * k, k)];
      if (opts.format === 'csv') {
        let line = row.map(csvCell).join(',');
        for (let c = 0; c < k; c++) line += `,${proba[i * k + c]}`;
        text += `${line},${csvCell(String(label))}\n`;
      } else {
        const out: Record<string, unknown> = {};
        row.forEach((cell, c) => {
          const isFeature = c < d;
          const missing = na.has(cell);
          out[columns[c] as string] =
            isFeature && missing ? null : isFeature && numeric[c] ? Number(cell) : cell;
        });
        for (let c = 0; c < k; c++) out[columns[row.length + c] as string] = proba[i * k + c];
        out[columns[columns.length - 1] as string] = label;
        text += `${JSON.stringify(out)}\n`;
      }
    }
    scored += n;
    n = 0;
    return text;
  };

  /** Encodes one record into batch row n, or throws ModelInputError / a message. */
  const encode = (record: string[], line: number): void => {
    const at = n * d;
    for (let j = 0; j < d; j++) {
      const cell = record[(index as number[])[j] as number] as string;
      try {
        let v: unknown = cell;
        if (na.has(cell)) v = null;
        else if (numeric[j]) v = NUMBER.test(cell) ? Number(cell) : cell;
        let code: number;
        try {
          code = model.encodeValue(j, v, line);
        } catch (err) {
          // A category written as a number in another form ("1.0" for 1).
          if (!(err instanceof ModelInputError) || numeric[j] || !NUMBER.test(cell)) throw err;
          code = model.encodeValue(j, Number(cell), line);
        }
        x[at + j] = code;
      } catch (err) {
        if (!(err instanceof ModelInputError)) throw err;
        const got = cell === '' ? 'empty cell' : JSON.stringify(cell);
        throw new BadRow(`line ${line}, column "${features[j]}": ${got}, expected ${err.expected}`);
      }
    }
    cells[n] = (index as number[]).map((p) => record[p] as string);
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
          throw usageError(
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
        if (!opts.onBadRow) throw usageError(`${path}: ${err.message}`);
        skipped++;
        opts.onBadRow(err.message);
        return;
      }
      if (n === BATCH_ROWS) {
        const text = flush();
        const wait = write(text);
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

  if (opts.format === 'csv') await write(`${columns.map(csvCell).join(',')}\n`);
  try {
    await pipeline(createReadStream(path), parser);
  } catch (err) {
    const cause = err instanceof SegserveError ? err : (err as { cause?: unknown }).cause;
    if (cause instanceof SegserveError) throw cause;
    if (err instanceof CsvError) {
      const { lines } = err as CsvError & { lines?: number };
      throw usageError(`${path}: ${lines ? `line ${lines}: ` : ''}${err.message}`);
    }
    throw ioError('read', path, err);
  }
  if (index === undefined)
    throw usageError(`${path}: the file is empty (expected a header naming ${features.join(', ')})`);
  if (n > 0) await write(flush());
  return { scored, skipped };
}

/** A row with a cell the model cannot take. */
class BadRow extends Error {}
