/**
 * The train stop, for any tabular classification CSV: resolve the schema (flags, schema files,
 * inference), read the columns in one pass, split stratified (or take a given test file), encode,
 * search (or take fixed params), refit the best on the whole training split, evaluate it on the test
 * rows, and build the artifact that carries the model's schema.
 */
import type { ResolveFlags } from '../data/resolve.js';
import type { Category, FeatureSchema, ModelSchema } from '../data/schema.js';
import { stratifiedTrainTestSplit } from '../data/split.js';
import type { CategoricalColumn, Column } from '../data/table.js';
import { csvError, schemaError, usageError } from '../errors.js';
import { binColumns, unbinColumn, unbinRows } from '../forest/tree.js';
import { TreeExplainer } from '../forest/treeshap.js';
import type { Binned, BinnedData, TrainingData, Tree } from '../forest/types.js';
import { type Artifact, buildArtifact, type TrainingFacts } from '../pipeline/artifact.js';
import { buildReference } from '../pipeline/drift.js';
import { ForestModel } from '../pipeline/model.js';
import { type ClassWeight, fromSkParams, type SkParams } from '../pipeline/params.js';
import { REFIT_STREAM } from './cv.js';
import { evaluate } from './evaluate.js';
import { fitForestParallel } from './fit-parallel.js';
import type { Scoring } from './scoring.js';
import { randomizedSearch } from './search.js';
import { checkParams, parseSpace, type Space } from './space.js';

export interface TrainOptions {
  dataPath: string;
  /** A holdout file to evaluate on instead of splitting (then testSize is not used). */
  testDataPath?: string;
  /** How the schema is resolved: target, features, kinds, NA values, unknown-category policy. */
  schema: ResolveFlags;
  seed: number;
  testSize: number;
  classWeight: ClassWeight;
  /** Fixed parameters (no search), or a search. */
  mode:
    | { kind: 'fixed'; params: SkParams }
    | { kind: 'search'; space: Space; nIter: number; cv: number; scoring: Scoring };
  workers: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ColumnSummary {
  name: string;
  kind: 'numeric' | 'categorical';
  missing: number;
  mean: number;
  sd: number;
  min: number;
  max: number;
}

export interface TrainResult {
  artifact: Artifact;
  model: ForestModel;
  /** Each feature over all training-file rows (for the report); categorical columns as codes. */
  columns: ColumnSummary[];
  /** Rows of each class (in `schema.classes` order) in the train and test sets. */
  classCounts: { train: number[]; test: number[] };
  /** Wall-clock seconds per phase (kept out of the artifact, which must be byte-reproducible). */
  timings: { read: number; prepare: number; search: number; refit: number; total: number };
  /** Where the schema came from (flags, files, inference), for the summary. */
  schemaSources: string[];
  /** The test rows the global SHAP importances came from, with their SHAP values (for the report). */
  shapSample: { x: Float64Array; n: number; values: Float64Array };
}

/** A column as the forest reads it: numbers, category indices, NaN for missing. */
function encoded(col: Column): Float64Array {
  if (col.kind === 'numeric') return col.values;
  const out = new Float64Array(col.codes.length);
  for (let i = 0; i < out.length; i++) {
    const c = col.codes[i] as number;
    out[i] = c < 0 ? Number.NaN : c;
  }
  return out;
}

function summarize(name: string, col: Float64Array, kind: ColumnSummary['kind']): ColumnSummary {
  let sum = 0;
  let n = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of col) {
    if (Number.isNaN(v)) continue;
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = n > 0 ? sum / n : Number.NaN;
  let ss = 0;
  for (const v of col) if (!Number.isNaN(v)) ss += (v - mean) ** 2;
  return { name, kind, missing: col.length - n, mean, sd: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, min, max };
}

/** Class indices of the target column; a missing target is refused (the reader names the line). */
function classIndices(target: CategoricalColumn, path: string): Int32Array {
  for (let i = 0; i < target.codes.length; i++) {
    if ((target.codes[i] as number) < 0)
      throw csvError(`${path}: data row ${i + 1}: the target "${target.name}" is missing`);
  }
  return target.codes;
}

/** Rows per block when predicting many rows: the row-major copy of one block only (about 10 MB at 20 features). */
const PREDICT_BLOCK = 1 << 16;

/**
 * Probabilities of every row of binned columns, predicted block by block from the rows' values (exactly
 * the values binned), so that no row-major copy of all rows exists at once. Each row's probabilities do
 * not depend on the block it is in.
 */
function predictBinned(
  forest: { predictProbaInto(x: Float64Array, n: number, out: Float64Array): void },
  binned: Binned,
  k: number,
): Float64Array {
  const n = binned.nRows;
  const proba = new Float64Array(n * k);
  const x = new Float64Array(Math.min(n, PREDICT_BLOCK) * binned.nFeatures); // one block, reused
  for (let r0 = 0; r0 < n; r0 += PREDICT_BLOCK) {
    const r1 = Math.min(n, r0 + PREDICT_BLOCK);
    unbinRows(binned, r0, r1, x);
    forest.predictProbaInto(x, r1 - r0, proba.subarray(r0 * k, r1 * k));
  }
  return proba;
}

/**
 * Lets V8 finish collecting what a phase let go (the file's full columns, the fit's scratch, the SHAP
 * explainer) before the next phase allocates: a long synchronous fit gives the incremental collector no
 * turn of the event loop, and freed typed arrays would otherwise stay resident until the end.
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}

/** File columns split between two turns of the event loop (see the split in train), in bytes. */
const SPLIT_SETTLE_BYTES = 32 * 1024 * 1024;

/** Work budget of the global SHAP importances, in tree-node visits (about half a second). */
const SHAP_BUDGET = 5e8;
/** The most test rows the global SHAP importances read. */
const SHAP_MAX_ROWS = 1000;

/**
 * Global importance as mean |SHAP value| per class and feature, over the first test rows: as many as
 * fit the budget (TreeSHAP costs about leaves × depth² per tree and row, ~1e9 a second here), at least 10, at most 1000.
 */
function globalShap(
  trees: readonly Tree[],
  k: number,
  d: number,
  /** The first min(nTest, SHAP_MAX_ROWS) test rows, row-major (taken before the test columns go). */
  firstRows: Float64Array,
  nTest: number,
): { rows: number; values: number[][]; sample: { x: Float64Array; n: number; values: Float64Array } } {
  const explainer = new TreeExplainer(trees, k, d);
  let perRow = 0;
  for (const t of trees) {
    let leaves = 0;
    for (const f of t.feature) if (f < 0) leaves++;
    perRow += leaves * (explainer.maxDepth + 1) ** 2;
  }
  const n = Math.min(nTest, SHAP_MAX_ROWS, Math.max(10, Math.floor(SHAP_BUDGET / Math.max(1, perRow))));
  const x = firstRows.slice(0, n * d);
  const { values } = explainer.explain(x, n);
  const mean = Array.from({ length: k }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      const row = mean[c] as number[];
      for (let f = 0; f < d; f++)
        row[f] = (row[f] as number) + Math.abs(values[(i * k + c) * d + f] as number) / n;
    }
  }
  return { rows: n, values: mean, sample: { x, n, values } };
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const { resolveSchema } = await import('../data/resolve.js');
  const { readColumns } = await import('../data/table.js');
  // One pass over the file: kinds, statistics, the data checks (classes, constant or empty features,
  // missing targets) and the typed columns, features in order then the target.
  const resolved = await resolveSchema(opts.dataPath, opts.schema);
  const readOpts = { naValues: resolved.naValues, unknownCategory: resolved.unknownCategory };
  const table = resolved.table;
  const d = resolved.features.length;
  // Parameters were checked at parse time; an integer max_features now meets the real feature count.
  if (opts.mode.kind === 'fixed') checkParams(opts.mode.params, d, 'parameters');
  else parseSpace(opts.mode.space, d, 'search space');
  // From here the file's columns are taken one at a time: each is encoded, summarised, split into its
  // training and test parts and let go, so that at most one full column exists beside the split.
  const fileCols: (Column | null)[] = table.columns.slice(0, d);
  const targetCol = table.columns[d] as CategoricalColumn;
  table.columns.length = 0;
  const featureCols = fileCols.map((c) => {
    const col = c as Column;
    return col.kind === 'categorical'
      ? { name: col.name, kind: col.kind, categories: col.categories }
      : { name: col.name, kind: col.kind };
  });
  const classes: Category[] = targetCol.categories;
  const k = classes.length;
  if (
    opts.mode.kind === 'search' &&
    opts.mode.scoring === 'neg_mean_absolute_error' &&
    classes.some((c) => typeof c !== 'number')
  ) {
    throw usageError(
      `--scoring neg_mean_absolute_error reads class labels as numbers, but "${targetCol.name}" has labels such as ${JSON.stringify(classes.find((c) => typeof c !== 'number'))}: use accuracy, balanced_accuracy, f1_macro, roc_auc or neg_log_loss`,
    );
  }
  const yFile = classIndices(targetCol, opts.dataPath);
  const nFile = table.nRows;

  // The test rows: a given holdout file (read with the training file's categories and classes), or
  // a stratified split of the training file.
  let testX: Float64Array[];
  let testY: Int32Array;
  let trainRows: Int32Array | null;
  let testRows: Int32Array | null = null;
  let testData: TrainingFacts['split']['testData'] = null;
  if (opts.testDataPath) {
    const test = await readColumns(
      opts.testDataPath,
      [...featureCols, { name: targetCol.name, kind: 'categorical', categories: classes, required: true }],
      { ...readOpts, unknownCategory: readOpts.unknownCategory },
    );
    testX = test.columns.slice(0, d).map(encoded);
    testY = classIndices(test.columns[d] as CategoricalColumn, opts.testDataPath);
    trainRows = null; // every row of the training file, in order
    testData = { path: opts.testDataPath, sha256: test.sha256, rows: test.nRows };
  } else {
    const counts = new Array<number>(k).fill(0);
    for (const c of yFile) counts[c] = (counts[c] as number) + 1;
    const rare = counts.findIndex((c) => c < 2);
    if (rare >= 0) {
      throw schemaError(
        `${opts.dataPath}: class ${JSON.stringify(classes[rare])} of "${targetCol.name}" has ${counts[rare]} row; every class needs at least 2 to be split into train and test`,
      );
    }
    const split = (() => {
      try {
        return stratifiedTrainTestSplit(yFile, k, opts.testSize, opts.seed);
      } catch (err) {
        throw schemaError(`${opts.dataPath}: ${(err as Error).message}`);
      }
    })();
    trainRows = split.train;
    testRows = split.test;
    testX = [];
    testY = Int32Array.from(split.test, (r) => yFile[r] as number);
  }
  const pick = (col: Float64Array, rows: Int32Array) => {
    const out = new Float64Array(rows.length); // a loop: Float64Array.from with a map function is slow
    for (let i = 0; i < rows.length; i++) out[i] = col[rows[i] as number] as number;
    return out;
  };
  const summaries: ColumnSummary[] = [];
  const trainColumns: Float64Array[] = [];
  let released = 0; // bytes of file columns let go since the collector last had a turn
  for (let j = 0; j < d; j++) {
    const col = fileCols[j] as Column;
    fileCols[j] = null;
    const x = encoded(col);
    summaries.push(summarize(col.name, x, col.kind));
    if (testRows) testX.push(pick(x, testRows));
    trainColumns.push(trainRows ? pick(x, trainRows) : x);
    // A turn of the event loop now and then lets the collector free the file's split columns (a
    // turn per column would cost a few ms a column on wide data).
    released += trainRows ? x.byteLength : 0;
    if (released >= SPLIT_SETTLE_BYTES) {
      await settle();
      released = 0;
    }
  }
  // The test rows, binned (exact, 1 to 4 bytes a cell): read again only by the predictions.
  let testBinned: Binned | null = binColumns({ columns: testX });
  testX.length = 0;
  const trainData: TrainingData = {
    columns: trainColumns,
    y: trainRows ? Int32Array.from(trainRows, (r) => yFile[r] as number) : yFile,
    nClasses: k,
  };
  const nTrainRows = trainRows ? trainRows.length : nFile;
  trainRows = null;
  testRows = null;
  await settle();
  const tRead = performance.now();

  const features: FeatureSchema[] = featureCols.map((c, j) => {
    let missing = 0;
    for (const v of trainData.columns[j] as Float64Array) if (Number.isNaN(v)) missing++;
    return c.kind === 'categorical'
      ? { name: c.name, kind: c.kind, categories: c.categories, missing }
      : { name: c.name, kind: c.kind, missing };
  });
  const schema: ModelSchema = {
    target: targetCol.name,
    features,
    classes,
    unknownCategory: resolved.unknownCategory,
    naValues: [...resolved.naValues],
  };
  // Scorers that read class labels as numbers (the post's MAE) take the index for string labels.
  const labelValues = classes.map((c, i) => (typeof c === 'number' ? c : i));
  const tPrepare = performance.now();

  let params: SkParams;
  let search: TrainingFacts['search'] = null;
  if (opts.mode.kind === 'search') {
    const { space, nIter, cv, scoring } = opts.mode;
    const result = await randomizedSearch(
      { ...trainData, classes: labelValues },
      {
        space,
        nIter,
        cv,
        scoring,
        seed: opts.seed,
        workers: opts.workers,
        classWeight: opts.classWeight,
        onProgress: opts.onProgress,
      },
    );
    params = result.best;
    search = { nIter, cv, scoring, space, candidates: result.candidates, bestIndex: result.bestIndex };
  } else {
    params = { ...opts.mode.params, ...(opts.classWeight ? { class_weight: opts.classWeight } : {}) };
  }
  const tSearch = performance.now();

  // From here the training rows are binned, as the forest reads them (the same trees): the fit, the
  // predictions and the drift reference read 1 to 4 bytes a cell instead of the 8 of the columns.
  const trainBinned: BinnedData = { binned: binColumns(trainData), y: trainData.y, nClasses: k };
  trainData.columns.length = 0;
  await settle();
  const forest = await fitForestParallel(
    trainBinned,
    fromSkParams(params),
    [opts.seed, REFIT_STREAM],
    opts.workers,
  );
  const model = new ForestModel(schema, forest);
  const tRefit = performance.now();
  await settle();
  // Global SHAP first, while the forest has no prediction layout yet (its explainer is let go before).
  const nTest = testY.length;
  const firstRows = new Float64Array(Math.min(nTest, SHAP_MAX_ROWS) * d);
  unbinRows(testBinned, 0, Math.min(nTest, SHAP_MAX_ROWS), firstRows);
  const { sample: shapSample, ...shapImportance } = globalShap(forest.trees, k, d, firstRows, nTest);
  await settle();

  const proba = predictBinned(forest, testBinned, k);
  testBinned = null; // read for the last time
  const ev = evaluate(testY, proba, k);
  const countClasses = (y: Int32Array) => {
    const counts = new Array<number>(k).fill(0);
    for (const c of y) counts[c] = (counts[c] as number) + 1;
    return counts;
  };
  const trainCounts = countClasses(trainData.y);
  const testCounts = countClasses(testY);
  // The majority-class baseline: always predict the training split's most frequent class.
  const majority = trainCounts.indexOf(Math.max(...trainCounts));
  const best = search?.candidates[search.bestIndex];
  // Drift reference: the training rows' distributions and the classes the model predicts for them.
  const trainProba = predictBinned(forest, trainBinned.binned, k);
  const drift = buildReference((j) => unbinColumn(trainBinned.binned, j), features, trainProba, k);
  // The last prediction of the run: the layout it read (a copy of the forest) goes before the
  // artifact is built.
  forest.releasePredictionLayout();
  await settle();

  const training: TrainingFacts = {
    seed: opts.seed,
    data: { path: opts.dataPath, sha256: table.sha256, rows: table.nRows },
    split: {
      testSize: opts.testDataPath ? null : opts.testSize,
      stratified: !opts.testDataPath,
      testData,
      trainRows: nTrainRows,
      testRows: nTest,
    },
    search,
    cvScore: best?.meanScore ?? null,
    cvScoreSd: best?.sdScore ?? null,
    testAccuracy: ev.accuracy,
    evaluation: {
      accuracy: ev.accuracy,
      balancedAccuracy: ev.balancedAccuracy,
      macroF1: ev.macroF1,
      perClass: ev.perClass,
      majorityBaseline: {
        label: classes[majority] as Category,
        accuracy: nTest > 0 ? (testCounts[majority] as number) / nTest : 0,
      },
    },
    confusionMatrix: ev.confusionMatrix,
    featureImportances: Array.from(forest.featureImportances()),
    shapImportance,
    drift,
  };
  const artifact = buildArtifact(model, params, training);
  const s = (a: number, b: number) => Number(((b - a) / 1000).toFixed(3));
  return {
    artifact,
    model,
    columns: summaries,
    classCounts: { train: trainCounts, test: testCounts },
    timings: {
      read: s(t0, tRead),
      prepare: s(tRead, tPrepare),
      search: s(tPrepare, tSearch),
      refit: s(tSearch, tRefit),
      total: s(t0, performance.now()),
    },
    schemaSources: resolved.sources,
    shapSample,
  };
}
