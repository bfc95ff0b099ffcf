/**
 * Train/test split (seeded shuffle) and stratified k-fold, on row indices.
 */
import { createRng } from './random.js';

/** Seed stream word for the train/test shuffle. */
const SPLIT_STREAM = 0x53504c; // "SPL"

export interface Split {
  train: Int32Array;
  test: Int32Array;
}

/**
 * Shuffles 0..n-1 with a seeded Fisher-Yates and cuts it: the test part has ceil(n * testSize) rows
 * (scikit-learn's rounding), the rest is training. Both parts keep the shuffled order.
 */
export function trainTestSplit(n: number, testSize: number, seed: number): Split {
  if (!(testSize > 0 && testSize < 1)) throw new RangeError(`testSize must be in (0, 1), got ${testSize}`);
  const nTest = Math.ceil(n * testSize);
  if (nTest < 1 || n - nTest < 1) {
    throw new RangeError(`a ${testSize} test split of ${n} rows leaves an empty train or test part`);
  }
  const rng = createRng(seed, SPLIT_STREAM);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  return { test: order.slice(0, nTest), train: order.slice(nTest) };
}

/**
 * Stratified k-fold without shuffling, as scikit-learn's StratifiedKFold(shuffle=False): each class's
 * rows, in order, are dealt to the folds in contiguous runs whose sizes balance both the classes and
 * the fold totals. Returns the fold (0..k-1) of each of the n rows.
 * @param y class index (0..nClasses-1) of each row.
 */
export function stratifiedFolds(y: Int32Array, nClasses: number, k: number): Int32Array {
  const n = y.length;
  const counts = new Int32Array(nClasses);
  for (const c of y) counts[c] = (counts[c] as number) + 1;
  for (let c = 0; c < nClasses; c++) {
    if ((counts[c] as number) > 0 && (counts[c] as number) < k) {
      throw new RangeError(`class ${c} has ${counts[c]} rows, fewer than the ${k} folds`);
    }
  }
  if (n < k) throw new RangeError(`${n} rows cannot make ${k} folds`);
  // allocation[f][c] = how many rows of class c fold f gets: with the classes ranked by first
  // appearance in y, count class c among the sorted ranks at positions f, f+k, f+2k, ...
  // (scikit-learn's rule, which balances the fold totals as well as each class).
  const byAppearance: number[] = [];
  const seen = new Uint8Array(nClasses);
  for (const c of y) {
    if (!seen[c]) {
      seen[c] = 1;
      byAppearance.push(c);
    }
  }
  const allocation = Array.from({ length: k }, () => new Int32Array(nClasses));
  let pos = 0;
  for (const c of byAppearance) {
    for (let i = 0; i < (counts[c] as number); i++, pos++) {
      const row = allocation[pos % k] as Int32Array;
      row[c] = (row[c] as number) + 1;
    }
  }
  const fold = new Int32Array(n);
  const nextFold = new Int32Array(nClasses);
  const leftInFold = Int32Array.from(
    { length: nClasses },
    (_, c) => (allocation[0] as Int32Array)[c] as number,
  );
  for (let i = 0; i < n; i++) {
    const c = y[i] as number;
    while ((leftInFold[c] as number) === 0) {
      nextFold[c] = (nextFold[c] as number) + 1;
      leftInFold[c] = (allocation[nextFold[c] as number] as Int32Array)[c] as number;
    }
    fold[i] = nextFold[c] as number;
    leftInFold[c] = (leftInFold[c] as number) - 1;
  }
  return fold;
}
