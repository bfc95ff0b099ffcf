/**
 * The train stop: read the CSV, split 60/40, encode, search (or take fixed params), refit the best on
 * the whole training split, score it on the test split, and build the artifact.
 */
import { readTable } from '../data/csv.js';
import { trainTestSplit } from '../data/split.js';
import { CATEGORICAL, FEATURES, TARGET } from '../defaults.js';
import { usageError } from '../errors.js';
import { fitForest } from '../forest/forest.js';
import type { TrainingData } from '../forest/types.js';
import { type Artifact, buildArtifact, type TrainingFacts } from '../pipeline/artifact.js';
import { OrdinalEncoder } from '../pipeline/encoder.js';
import { argmax, ForestModel } from '../pipeline/model.js';
import { fromSkParams, type SkParams } from '../pipeline/params.js';
import { ModelInputError } from '../pipeline/types.js';
import { REFIT_STREAM, rowMajor, selectRows } from './cv.js';
import type { Scoring } from './scoring.js';
import { randomizedSearch } from './search.js';
import type { Space } from './space.js';

export interface TrainOptions {
  dataPath: string;
  seed: number;
  testSize: number;
  /** Fixed parameters (no search), or a search. */
  mode:
    | { kind: 'fixed'; params: SkParams }
    | { kind: 'search'; space: Space; nIter: number; cv: number; scoring: Scoring };
  workers: number;
  onProgress?: (done: number, total: number) => void;
}

export interface TrainResult {
  artifact: Artifact;
  model: ForestModel;
  /** Each CSV column over all rows (for the report). */
  columns: { name: string; mean: number; sd: number; min: number; max: number }[];
  /** Rows of each class (in `artifact.classes` order) in the train and test splits. */
  classCounts: { train: number[]; test: number[] };
  /** Wall-clock seconds per phase (kept out of the artifact, which must be byte-reproducible). */
  timings: { read: number; prepare: number; search: number; refit: number; total: number };
}

function summarize(name: string, col: Float64Array) {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of col) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / col.length;
  let ss = 0;
  for (const v of col) ss += (v - mean) ** 2;
  return { name, mean, sd: col.length > 1 ? Math.sqrt(ss / (col.length - 1)) : 0, min, max };
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const table = await readTable(opts.dataPath, [...FEATURES, TARGET], {
    integer: ['response', 'events', TARGET],
  });
  const tRead = performance.now();

  const { train: trainRows, test: testRows } = (() => {
    try {
      return trainTestSplit(table.nRows, opts.testSize, opts.seed);
    } catch (err) {
      throw usageError(`${opts.dataPath}: ${(err as Error).message}`);
    }
  })();
  const featureCols = table.columns.slice(0, FEATURES.length);
  const target = table.columns[FEATURES.length] as Float64Array;

  const trainRaw = featureCols.map((col) => Float64Array.from(trainRows, (r) => col[r] as number));
  const encoder = OrdinalEncoder.fit(FEATURES, CATEGORICAL, trainRaw);
  const classes = [...new Set(Array.from(trainRows, (r) => target[r] as number))].sort((a, b) => a - b);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const encoded = (() => {
    try {
      return encoder.encodeColumns(featureCols);
    } catch (err) {
      if (!(err instanceof ModelInputError)) throw err;
      throw usageError(
        `${opts.dataPath}: data row ${err.row + 1}, column "${err.column}": ${err.value} does not occur in the training split (${err.expected})`,
      );
    }
  })();
  const y = Int32Array.from(target, (v) => classIndex.get(v) ?? -1);
  for (const r of testRows) {
    if ((y[r] as number) < 0) {
      throw usageError(
        `${opts.dataPath}: ${TARGET} ${target[r]} occurs only in the test split; the model cannot learn it`,
      );
    }
  }
  const all: TrainingData = { columns: encoded, y, nClasses: classes.length };
  const trainData = selectRows(all, trainRows);
  const tPrepare = performance.now();

  let params: SkParams;
  let search: TrainingFacts['search'] = null;
  if (opts.mode.kind === 'search') {
    const { space, nIter, cv, scoring } = opts.mode;
    const result = await randomizedSearch(
      { ...trainData, classes },
      { space, nIter, cv, scoring, seed: opts.seed, workers: opts.workers, onProgress: opts.onProgress },
    );
    params = result.best;
    search = { nIter, cv, scoring, space, candidates: result.candidates, bestIndex: result.bestIndex };
  } else {
    params = opts.mode.params;
  }
  const tSearch = performance.now();

  const forestParams = fromSkParams(params);
  const forest = fitForest(trainData, forestParams, [opts.seed, REFIT_STREAM]);
  const model = new ForestModel(encoder, forest, classes);
  const tRefit = performance.now();

  const k = classes.length;
  const proba = new Float64Array(testRows.length * k);
  forest.predictProbaInto(rowMajor(all.columns, testRows), testRows.length, proba);
  const confusion = classes.map(() => new Array<number>(k).fill(0));
  let correct = 0;
  testRows.forEach((r, i) => {
    const truth = y[r] as number;
    const pred = argmax(proba, i * k, k);
    (confusion[truth] as number[])[pred] = ((confusion[truth] as number[])[pred] as number) + 1;
    if (pred === truth) correct++;
  });
  const best = search?.candidates[search.bestIndex];

  const training: TrainingFacts = {
    seed: opts.seed,
    data: { path: opts.dataPath, sha256: table.sha256, rows: table.nRows },
    split: { testSize: opts.testSize, trainRows: trainRows.length, testRows: testRows.length },
    search,
    cvScore: best?.meanScore ?? null,
    cvScoreSd: best?.sdScore ?? null,
    testAccuracy: correct / testRows.length,
    confusionMatrix: confusion,
    featureImportances: Array.from(forest.featureImportances()),
  };
  const artifact = buildArtifact(model, TARGET, forestParams, training);
  const s = (a: number, b: number) => Number(((b - a) / 1000).toFixed(3));
  const countClasses = (rows: Int32Array) => {
    const counts = new Array<number>(k).fill(0);
    for (const r of rows) counts[y[r] as number] = (counts[y[r] as number] as number) + 1;
    return counts;
  };
  return {
    artifact,
    model,
    columns: table.names.map((name, j) => summarize(name, table.columns[j] as Float64Array)),
    classCounts: { train: countClasses(trainRows), test: countClasses(testRows) },
    timings: {
      read: s(t0, tRead),
      prepare: s(tRead, tPrepare),
      search: s(tPrepare, tSearch),
      refit: s(tSearch, tRefit),
      total: s(t0, performance.now()),
    },
  };
}
