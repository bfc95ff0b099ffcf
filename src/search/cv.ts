/**
 * Cross-validation tasks: fit one candidate on k-1 folds, score it on the held-out fold. Pure
 * functions of (data, task), so the same task gives the same score in any thread, in any order.
 */
import { fitForest } from '../forest/forest.js';
import type { ForestParams, TrainingData } from '../forest/types.js';

export const SCORINGS = ['accuracy', 'neg_mean_absolute_error', 'neg_log_loss'] as const;
export type Scoring = (typeof SCORINGS)[number];

/** Seed stream words for the search's fits and the final refit. */
export const CV_STREAM = 0x435646; // "CVF"
export const REFIT_STREAM = 0x524654; // "RFT"

/** scikit-learn's historical log-loss clipping. */
const LOG_LOSS_EPS = 1e-15;

/**
 * Scores class probabilities against true class indices, larger is better (scikit-learn's scorer
 * convention): accuracy; minus the mean absolute error of the class labels taken as numbers (the post's
 * scoring); minus the mean log loss.
 */
export function score(
  scoring: Scoring,
  proba: Float64Array,
  y: Int32Array,
  classes: readonly number[],
): number {
  const k = classes.length;
  const n = y.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const truth = y[i] as number;
    if (scoring === 'neg_log_loss') {
      total += Math.log(Math.max(LOG_LOSS_EPS, proba[i * k + truth] as number));
      continue;
    }
    let best = 0;
    for (let c = 1; c < k; c++) if ((proba[i * k + c] as number) > (proba[i * k + best] as number)) best = c;
    if (scoring === 'accuracy') total += best === truth ? 1 : 0;
    else total -= Math.abs((classes[best] as number) - (classes[truth] as number));
  }
  return total / n;
}

/** The training split, encoded, with each row's CV fold. */
export interface CvData extends TrainingData {
  folds: Int32Array;
  classes: number[];
}

export interface CvTask {
  candidate: number;
  fold: number;
  params: ForestParams;
  seed: number;
  scoring: Scoring;
}

/** Rows of `data` selected by `rows`, columnar (for fitting). */
export function selectRows(data: TrainingData, rows: Int32Array): TrainingData {
  return {
    columns: data.columns.map((col) => Float64Array.from(rows, (r) => col[r] as number)),
    y: Int32Array.from(rows, (r) => data.y[r] as number),
    nClasses: data.nClasses,
  };
}

/** Rows of `columns` selected by `rows`, row-major (for predicting). */
export function rowMajor(columns: readonly Float64Array[], rows: Int32Array): Float64Array {
  const d = columns.length;
  const x = new Float64Array(rows.length * d);
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) x[i * d + j] = (columns[j] as Float64Array)[r] as number;
  });
  return x;
}

/** Fits task.params on every fold but task.fold and scores on task.fold. */
export function evaluateTask(data: CvData, task: CvTask): number {
  const inFold: number[] = [];
  const outFold: number[] = [];
  data.folds.forEach((f, i) => {
    (f === task.fold ? inFold : outFold).push(i);
  });
  const trainRows = Int32Array.from(outFold);
  const testRows = Int32Array.from(inFold);
  const forest = fitForest(selectRows(data, trainRows), task.params, [
    task.seed,
    CV_STREAM,
    task.candidate,
    task.fold,
  ]);
  const proba = new Float64Array(testRows.length * data.nClasses);
  forest.predictProbaInto(rowMajor(data.columns, testRows), testRows.length, proba);
  return score(
    task.scoring,
    proba,
    Int32Array.from(testRows, (r) => data.y[r] as number),
    data.classes,
  );
}
