/**
 * Checks of parameters and training data, done once before fitting so the hot loops never check.
 * Every refusal is a ForestParamError naming the parameter and what it must be.
 */
import type { BinnedData, ForestParams, MaxFeatures, TrainingData, TreeParams } from './types.js';

/** Most classes a forest takes (a row's class and sample count are packed in one Int32). */
export const MAX_CLASSES = 65536;

/** A parameter or training data the forest refuses; `param` names it. */
export class ForestParamError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
    this.name = 'ForestParamError';
  }
}

function show(value: unknown): string {
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value) ?? String(value);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function refuse(param: string, expected: string, value: unknown): never {
  throw new ForestParamError(param, `${param} must be ${expected}, got ${show(value)}`);
}

function checkNFeatures(nFeatures: number): void {
  if (!isInt(nFeatures) || nFeatures < 1) refuse('nFeatures', 'an integer >= 1', nFeatures);
}

function checkMaxFeatures(maxFeatures: MaxFeatures, nFeatures: number): void {
  if (maxFeatures === 'sqrt' || maxFeatures === 'log2' || maxFeatures === 'all') return;
  const expected = `'sqrt', 'log2', 'all', an integer in [1, ${nFeatures}] or a fraction in (0, 1)`;
  if (typeof maxFeatures !== 'number' || !Number.isFinite(maxFeatures)) {
    refuse('maxFeatures', expected, maxFeatures);
  }
  if (Number.isInteger(maxFeatures)) {
    if (maxFeatures < 1 || maxFeatures > nFeatures) refuse('maxFeatures', expected, maxFeatures);
  } else if (!(maxFeatures > 0 && maxFeatures < 1)) {
    refuse('maxFeatures', expected, maxFeatures);
  }
}

/** Throws a ForestParamError unless `params` are valid tree parameters for `nFeatures` features. */
export function validateTreeParams(params: TreeParams, nFeatures: number): void {
  checkNFeatures(nFeatures);
  const { maxDepth, minSamplesSplit, minSamplesLeaf, maxFeatures } = params;
  if (maxDepth !== null && (!isInt(maxDepth) || maxDepth < 1)) {
    refuse('maxDepth', 'null (unlimited) or an integer >= 1', maxDepth);
  }
  if (!isInt(minSamplesSplit) || minSamplesSplit < 2) {
    refuse('minSamplesSplit', 'an integer >= 2', minSamplesSplit);
  }
  if (!isInt(minSamplesLeaf) || minSamplesLeaf < 1) {
    refuse('minSamplesLeaf', 'an integer >= 1', minSamplesLeaf);
  }
  checkMaxFeatures(maxFeatures, nFeatures);
}

/** Throws a ForestParamError unless `params` are valid forest parameters for `nFeatures` features. */
export function validateParams(params: ForestParams, nFeatures: number): void {
  if (!isInt(params.nEstimators) || params.nEstimators < 1) {
    refuse('nEstimators', 'an integer >= 1', params.nEstimators);
  }
  if (typeof params.bootstrap !== 'boolean') refuse('bootstrap', 'true or false', params.bootstrap);
  const cw: unknown = params.classWeight ?? null; // plain-JS callers may omit it
  if (cw !== null && cw !== 'balanced' && cw !== 'balanced_subsample') {
    refuse('classWeight', "null, 'balanced' or 'balanced_subsample'", cw);
  }
  validateTreeParams(params, nFeatures);
}

/** The number of features drawn per split (scikit-learn's rules); `maxFeatures` must be valid. */
export function resolveMaxFeatures(maxFeatures: MaxFeatures, nFeatures: number): number {
  checkNFeatures(nFeatures);
  checkMaxFeatures(maxFeatures, nFeatures);
  if (maxFeatures === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(nFeatures)));
  if (maxFeatures === 'log2') return Math.max(1, Math.floor(Math.log2(nFeatures)));
  if (maxFeatures === 'all') return nFeatures;
  if (Number.isInteger(maxFeatures)) return maxFeatures;
  return Math.max(1, Math.floor(maxFeatures * nFeatures));
}

/**
 * Throws a ForestParamError unless `data` has at least one feature and one row, columns of equal
 * length with finite values or NaN (missing), 1 to MAX_CLASSES classes and class indices in
 * [0, nClasses).
 */
export function validateTrainingData(data: TrainingData): void {
  const { columns, y, nClasses } = data;
  checkLabels(y, nClasses);
  if (!Array.isArray(columns) || columns.length < 1)
    refuse('columns', 'at least one feature column', columns);
  const n = y.length;
  for (let f = 0; f < columns.length; f++) {
    const col = columns[f];
    if (!(col instanceof Float64Array)) refuse(`columns[${f}]`, 'a Float64Array', col);
    if (col.length !== n) refuse(`columns[${f}]`, `of length ${n} (the length of y)`, `length ${col.length}`);
    // includes searches natively: the loop naming the cell runs only when there is one.
    if (!col.includes(Number.POSITIVE_INFINITY) && !col.includes(Number.NEGATIVE_INFINITY)) continue;
    for (let i = 0; i < n; i++) {
      const v = col[i]!;
      if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) {
        refuse(`columns[${f}][${i}]`, 'a finite number or NaN (missing)', v);
      }
    }
  }
}

/**
 * Throws a ForestParamError unless `data` is training data binned as binColumns bins it: labels as
 * validateTrainingData wants them, at least one feature, per feature a bin per row in [0, V] and V
 * distinct finite values in increasing order (bin V = missing).
 */
export function validateBinnedData(data: BinnedData): void {
  const { binned, y, nClasses } = data;
  checkLabels(y, nClasses);
  const { nRows, nFeatures, bins, values } = binned;
  if (nRows !== y.length) refuse('binned.nRows', `${y.length} (the length of y)`, nRows);
  if (!isInt(nFeatures) || nFeatures < 1 || bins.length !== nFeatures || values.length !== nFeatures) {
    refuse('binned', `nFeatures >= 1 with that many bins and values`, {
      nFeatures,
      bins: bins.length,
      values: values.length,
    });
  }
  for (let f = 0; f < nFeatures; f++) {
    const vals = values[f];
    const col = bins[f];
    if (!(vals instanceof Float64Array)) refuse(`binned.values[${f}]`, 'a Float64Array', vals);
    if (!(col instanceof Uint8Array || col instanceof Uint16Array || col instanceof Int32Array))
      refuse(`binned.bins[${f}]`, 'a Uint8Array, Uint16Array or Int32Array', col);
    if (col.length !== nRows) refuse(`binned.bins[${f}]`, `of length ${nRows}`, `length ${col.length}`);
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i]!;
      if (!Number.isFinite(v) || (i > 0 && !(v > vals[i - 1]!)))
        refuse(`binned.values[${f}][${i}]`, 'finite and larger than the value before it', v);
    }
    const V = vals.length;
    for (let i = 0; i < nRows; i++) {
      const b = col[i]!;
      if (b < 0 || b > V) refuse(`binned.bins[${f}][${i}]`, `a bin in [0, ${V}]`, b);
    }
  }
}

/** nClasses in [1, MAX_CLASSES], y an Int32Array of at least one class index in [0, nClasses). */
function checkLabels(y: Int32Array, nClasses: number): void {
  if (!isInt(nClasses) || nClasses < 1 || nClasses > MAX_CLASSES) {
    refuse('nClasses', `an integer in [1, ${MAX_CLASSES}]`, nClasses);
  }
  if (!(y instanceof Int32Array)) refuse('y', 'an Int32Array', y);
  if (y.length < 1) refuse('y', 'at least one row', '0 rows');
  for (let i = 0; i < y.length; i++) {
    const c = y[i]!;
    if (c < 0 || c >= nClasses) refuse(`y[${i}]`, `a class index in [0, ${nClasses})`, c);
  }
}
