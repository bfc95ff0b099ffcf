/**
 * The forest benchmark's data handling, shared by its scripts: read the simulated CSV (the product's
 * readTable when it is built, else a tiny local reader) and split it as bench/forest_sklearn.py does.
 */
import { readFile } from 'node:fs/promises';

export const FEATURES = ['age', 'income', 'response', 'events'];
export const TARGET = 'segment';

/** Columns by name as Float64Arrays; `reader` says which reader was used. */
export async function readCsv(path) {
  const wanted = [...FEATURES, TARGET];
  let readTable = null;
  try {
    ({ readTable } = await import('../dist/data/csv.js'));
  } catch {
    readTable = null;
  }
  if (readTable) {
    const t = await readTable(path, wanted);
    return { reader: 'readTable', nRows: t.nRows, columns: t.columns.map((c) => c.subarray(0, t.nRows)) };
  }
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/).filter((l) => l !== '');
  const header = lines[0].split(',');
  const at = wanted.map((name) => {
    const j = header.indexOf(name);
    if (j < 0) throw new Error(`${path}: no column ${name}`);
    return j;
  });
  const n = lines.length - 1;
  const columns = wanted.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const cells = lines[i + 1].split(',');
    for (let j = 0; j < at.length; j++) {
      const v = Number(cells[at[j]]);
      if (!Number.isFinite(v)) throw new Error(`${path}: line ${i + 2}, column ${wanted[j]}: bad number`);
      columns[j][i] = v;
    }
  }
  return { reader: 'local', nRows: n, columns };
}

/**
 * Test = the last ceil(testSize * n) rows (scikit-learn's rounding), train = the first ones: the
 * simulated rows are independent, so a contiguous cut is a random split, and both implementations
 * get exactly the same rows. Classes are the sorted distinct target values.
 */
export function splitRows(table, testSize, limitTrain = Number.POSITIVE_INFINITY) {
  const n = table.nRows;
  const nTest = Math.ceil(n * testSize);
  const nTrain = Math.min(n - nTest, limitTrain);
  const target = table.columns[FEATURES.length];
  const classes = [...new Set(target)].sort((a, b) => a - b);
  const index = new Map(classes.map((c, i) => [c, i]));
  const d = FEATURES.length;
  const train = {
    columns: FEATURES.map((_, f) => table.columns[f].slice(0, nTrain)),
    y: Int32Array.from(target.subarray(0, nTrain), (v) => index.get(v)),
    nClasses: classes.length,
  };
  const nT = n - nTest;
  const x = new Float64Array(nTest * d);
  const y = new Int32Array(nTest);
  for (let i = 0; i < nTest; i++) {
    for (let f = 0; f < d; f++) x[i * d + f] = table.columns[f][nT + i];
    y[i] = index.get(target[nT + i]);
  }
  return { train, test: { x, y, n: nTest }, classes };
}
