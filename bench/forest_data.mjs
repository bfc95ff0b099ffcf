/**
 * The forest benchmark's data handling, shared by its scripts.
 *
 * Each data set is read and encoded as `segserve train` does (the built product's resolveSchema:
 * numeric columns as numbers, categorical ones as category indices, missing cells as NaN; class
 * labels as indices into the sorted labels), split into train and test rows, and written as two
 * plain numeric CSVs (`f0,…,f{d-1},y`, NaN as `nan`) that both sides read: segserve
 * (forest_ours.mjs) and scikit-learn (forest_sklearn.py) fit and score exactly the same numbers.
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The data sets of bench/forest. `split`: `stratified` = the product's stratified 70/30 split
 * (seeded); `tail` = the last 40 % of the rows as test rows (the simulated rows are independent).
 * `depth`: max_depth (null = unlimited). `dropMissing`: rows with a missing feature are left out
 * on both sides (scikit-learn 1.2's forest refuses NaN).
 */
export const DATASETS = [
  { name: 'post', source: 'simulate', rows: 100_000, split: 'tail', depth: 10 },
  { name: 'penguins', file: 'test/fixtures/penguins.csv', target: 'species', dropMissing: true },
  { name: 'digits', file: 'datasets/digits.csv', target: 'target' },
  { name: 'letter', file: 'datasets/letter.csv', target: 'lettr' },
  { name: 'wide200', source: 'synthetic', rows: 4000 },
].map((d) => ({ split: 'stratified', depth: null, dropMissing: false, ...d }));

/** Writes columns and class indices as a numeric CSV (header f0..f{d-1},y; NaN as `nan`). */
export async function writeEncoded(path, columns, y) {
  const d = columns.length;
  const header = `${Array.from({ length: d }, (_, f) => `f${f}`).join(',')},y\n`;
  const parts = [header];
  const cells = new Array(d + 1);
  for (let i = 0; i < y.length; i++) {
    for (let f = 0; f < d; f++) {
      const v = columns[f][i];
      cells[f] = Number.isNaN(v) ? 'nan' : String(v);
    }
    cells[d] = String(y[i]);
    parts.push(`${cells.join(',')}\n`);
  }
  await writeFile(path, parts.join(''));
}

/** Reads a CSV written by writeEncoded: columns (Float64Array each) and y (Int32Array). */
export async function readEncoded(path) {
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
  const d = lines[0].split(',').length - 1;
  const n = lines.length - 1;
  const columns = Array.from({ length: d }, () => new Float64Array(n));
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cells = lines[i + 1].split(',');
    for (let f = 0; f < d; f++) columns[f][i] = cells[f] === 'nan' ? Number.NaN : Number(cells[f]);
    y[i] = Number(cells[d]);
  }
  return { columns, y };
}

/** Row-major n × d copy of the columns (what predict_proba takes). */
export function rowMajor(columns, n) {
  const d = columns.length;
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let f = 0; f < d; f++) x[i * d + f] = columns[f][i];
  return x;
}

/** A tiny seeded generator (mulberry32) for the synthetic data set. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A DNA-like wide data set: 160 categorical columns (bases a, c, g, t as strings) and 40 numeric
 * ones (one decimal), 3 classes decided by a few columns with 10 % label noise.
 */
export async function writeSynthetic(path, rows, seed = 7) {
  const rand = mulberry32(seed);
  const nCat = 160;
  const nNum = 40;
  const bases = ['a', 'c', 'g', 't'];
  const header = [
    ...Array.from({ length: nCat }, (_, j) => `b${j}`),
    ...Array.from({ length: nNum }, (_, j) => `x${j}`),
    'class',
  ];
  const out = [`${header.join(',')}\n`];
  const cat = new Int32Array(nCat);
  const num = new Float64Array(nNum);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < nCat; j++) cat[j] = Math.floor(rand() * 4);
    for (let j = 0; j < nNum; j++) num[j] = Math.round((rand() * 20 - 10) * 10) / 10;
    let cls = 0;
    if (cat[60] === 2 && cat[61] !== 0) cls = 1;
    else if (cat[90] === 3 || num[5] > 6) cls = 2;
    if (rand() < 0.1) cls = Math.floor(rand() * 3);
    const cells = [...Array.from(cat, (c) => bases[c]), ...Array.from(num, String), `k${cls}`];
    out.push(`${cells.join(',')}\n`);
  }
  await writeFile(path, out.join(''));
}

/** The columns of `path` encoded as `segserve train` encodes them (see train.ts `encoded`). */
async function readAsTrain(root, path, target) {
  const { resolveSchema } = await import(join(root, 'dist/data/resolve.js'));
  // segserve refuses a feature constant over the file (digits has some): leave those out, as a
  // user would with --ignore.
  const ignore = [];
  let resolved;
  for (;;) {
    try {
      resolved = await resolveSchema(path, { ...(target ? { target } : {}), ignore });
      break;
    } catch (err) {
      const m = /feature "([^"]+)" is constant/.exec(String(err?.message));
      if (!m) throw err;
      ignore.push(m[1]);
    }
  }
  const d = resolved.features.length;
  const columns = resolved.table.columns.slice(0, d).map((col) => {
    if (col.kind === 'numeric') return col.values;
    return Float64Array.from(col.codes, (c) => (c < 0 ? Number.NaN : c));
  });
  const targetCol = resolved.table.columns[d];
  return { columns, y: targetCol.codes, nClasses: targetCol.categories.length };
}

/**
 * Prepares data set `ds` (an entry of DATASETS) in folder `dir`: writes train.csv and test.csv
 * there and returns their paths with a description. `root` holds the segserve build (dist/, bin/)
 * used to read and split; `shared` the shared data sets folder; `repo` this checkout.
 */
export async function prepare(ds, { root, repo, shared, dir, seed = 0 }) {
  let path;
  let target = ds.target;
  if (ds.source === 'simulate') {
    path = join(dir, `${ds.name}.csv`);
    const r = spawnSync(
      process.execPath,
      [join(root, 'bin/segserve.js'), 'simulate', '--rows', String(ds.rows), '--seed', '1', '--out', path],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`simulate failed: ${r.stderr}`);
  } else if (ds.source === 'synthetic') {
    path = join(dir, `${ds.name}.csv`);
    await writeSynthetic(path, ds.rows);
    target = 'class';
  } else {
    path = ds.file.startsWith('datasets/')
      ? join(shared, ds.file.slice('datasets/'.length))
      : join(repo, ds.file);
  }
  let { columns, y, nClasses } = await readAsTrain(root, path, target);
  if (ds.dropMissing) {
    const keep = [];
    for (let i = 0; i < y.length; i++) if (columns.every((c) => !Number.isNaN(c[i]))) keep.push(i);
    columns = columns.map((c) => Float64Array.from(keep, (i) => c[i]));
    y = Int32Array.from(keep, (i) => y[i]);
  }
  let trainRows;
  let testRows;
  if (ds.split === 'tail') {
    const n = y.length;
    const nTest = Math.ceil(0.4 * n);
    trainRows = Int32Array.from({ length: n - nTest }, (_, i) => i);
    testRows = Int32Array.from({ length: nTest }, (_, i) => n - nTest + i);
  } else {
    const { stratifiedTrainTestSplit } = await import(join(root, 'dist/data/split.js'));
    ({ train: trainRows, test: testRows } = stratifiedTrainTestSplit(y, nClasses, 0.3, seed));
  }
  const pick = (rows) => ({
    columns: columns.map((c) => Float64Array.from(rows, (i) => c[i])),
    y: Int32Array.from(rows, (i) => y[i]),
  });
  const train = pick(trainRows);
  const test = pick(testRows);
  const trainPath = join(dir, `${ds.name}.train.csv`);
  const testPath = join(dir, `${ds.name}.test.csv`);
  await writeEncoded(trainPath, train.columns, train.y);
  await writeEncoded(testPath, test.columns, test.y);
  return {
    trainPath,
    testPath,
    nTrain: train.y.length,
    nTest: test.y.length,
    nFeatures: columns.length,
    nClasses,
  };
}
