/**
 * Offline batch scoring: stream a CSV through the model in fixed-size batches and write the input
 * columns, one probability column per class and the predicted class, as CSV or JSON lines.
 */
import { scanCsv } from '../data/csv.js';
import { usageError } from '../errors.js';
import { argmax } from './model.js';
import { type Model, ModelInputError } from './types.js';

export type BatchFormat = 'csv' | 'jsonl';

export interface BatchOptions {
  format: BatchFormat;
  /** Name of the predicted column (the artifact's target, `segment`). */
  target: string;
  /** Report bad rows here and skip them; without it, the first bad row fails the run. */
  onBadRow?: (problem: string) => void;
}

const BATCH_ROWS = 4096;

/**
 * Scores every row of `path` and writes the result to `write` (which may return a promise for
 * backpressure). Resolves to the counts of rows scored and skipped.
 */
export async function scoreCsv(
  model: Model,
  path: string,
  write: (chunk: string) => void | Promise<void>,
  opts: BatchOptions,
): Promise<{ scored: number; skipped: number }> {
  const names = model.features.map((f) => f.name);
  const d = names.length;
  const k = model.classes.length;
  const probNames = model.classes.map((c) => `p_${opts.target}_${c}`);
  const x = new Float64Array(BATCH_ROWS * d);
  const proba = new Float64Array(BATCH_ROWS * k);
  const lines = new Int32Array(BATCH_ROWS);
  let n = 0;
  let scored = 0;
  let skipped = 0;
  const bad = (problem: string) => {
    if (!opts.onBadRow) throw usageError(`${path}: ${problem}`);
    skipped++;
    opts.onBadRow(problem);
  };

  /** Scores the batch; a row the model refuses is reported and removed, and the rest retried. */
  const flush = (): string => {
    for (;;) {
      try {
        model.predictProbaInto(x, n, proba);
        break;
      } catch (err) {
        if (!(err instanceof ModelInputError)) throw err;
        bad(`line ${lines[err.row]}, column "${err.column}": got ${err.value}, expected ${err.expected}`);
        x.copyWithin(err.row * d, (err.row + 1) * d, n * d);
        lines.copyWithin(err.row, err.row + 1, n);
        n--;
      }
    }
    let text = '';
    for (let i = 0; i < n; i++) {
      const cls = model.classes[argmax(proba, i * k, k)];
      if (opts.format === 'csv') {
        text += `${Array.from(x.subarray(i * d, (i + 1) * d)).join(',')},${Array.from(proba.subarray(i * k, (i + 1) * k)).join(',')},${cls}\n`;
      } else {
        const row: Record<string, number | undefined> = {};
        for (let j = 0; j < d; j++) row[names[j] as string] = x[i * d + j];
        for (let c = 0; c < k; c++) row[probNames[c] as string] = proba[i * k + c];
        row[opts.target] = cls;
        text += `${JSON.stringify(row)}\n`;
      }
    }
    scored += n;
    n = 0;
    return text;
  };

  if (opts.format === 'csv') await write(`${[...names, ...probNames, opts.target].join(',')}\n`);
  try {
    await scanCsv(
      path,
      names,
      (values, line) => {
        x.set(values, n * d);
        lines[n++] = line;
        return n === BATCH_ROWS ? write(flush()) : undefined;
      },
      { onBadRow: opts.onBadRow ? bad : undefined },
    );
  } catch (err) {
    // A bad cell ended the scan; a row before it that the model refuses is the first error.
    if (n > 0) flush();
    throw err;
  }
  if (n > 0) await write(flush());
  return { scored, skipped };
}
