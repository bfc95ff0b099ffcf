/**
 * Cross-validation tasks: fit one candidate on k-1 folds, score it on the held-out fold. Pure
 * functions of (data, task), so the same task gives the same score in any thread, in any order.
 */
import { fitForest } from '../forest/forest.js';
import type { ForestParams, TrainingData } from '../forest/types.js';
import { type Scoring, score } from './scoring.js';

/** Seed stream words for the search's fits and the final refit. */
export const CV_STREAM = 0x435646; // "CVF"
export const REFIT_STREAM = 0x524654; // "RFT"

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
