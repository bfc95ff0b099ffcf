/**
 * Train/test splits (a seeded shuffle, and a stratified one as scikit-learn's StratifiedShuffleSplit)
 * and stratified k-fold, on row indices.
 */
import { createRng, type Rng } from './random.js';

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

/** Seed stream word for the stratified train/test split. */
const STRATIFIED_STREAM = 0x535354; // "SST"

/** A class too small to be stratified: `classIndex` lets the caller name it by its label. */
export class StratifyError extends RangeError {
  constructor(
    message: string,
    readonly classIndex: number,
    readonly count: number,
  ) {
    super(message);
    this.name = 'StratifyError';
  }
}

/** Fisher-Yates shuffle of `a` in place with `rng`. */
function shuffle(a: Int32Array, rng: Rng): Int32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
  return a;
}

/**
 * scikit-learn's `_approximate_mode`: how many of `nDraws` draws each class gets when the draws
 * follow the class proportions. Each class gets the floor of its exact share; the draws left over go
 * to the largest fractional remainders first, ties among equal remainders drawn at random.
 */
function approximateMode(counts: Int32Array, nDraws: number, rng: Rng): Int32Array {
  let total = 0;
  for (const c of counts) total += c;
  const out = new Int32Array(counts.length);
  const remainder = new Float64Array(counts.length);
  let left = nDraws;
  for (let c = 0; c < counts.length; c++) {
    const exact = ((counts[c] as number) / total) * nDraws;
    out[c] = Math.floor(exact);
    remainder[c] = exact - (out[c] as number);
    left -= out[c] as number;
  }
  const values = [...new Set(remainder)].sort((a, b) => b - a);
  for (const value of values) {
    if (left <= 0) break;
    const tied = Int32Array.from(Array.from(remainder.keys()).filter((c) => remainder[c] === value));
    shuffle(tied, rng);
    const take = Math.min(tied.length, left);
    for (let i = 0; i < take; i++) out[tied[i] as number] = (out[tied[i] as number] as number) + 1;
    left -= take;
  }
  return out;
}

/**
 * A stratified train/test split with scikit-learn's StratifiedShuffleSplit(n_splits=1) semantics:
 * the test part has ceil(n * testSize) rows, the training part the rest; each class is dealt to the
 * two parts in proportion to its size (its exact share rounded as scikit-learn's `_approximate_mode`,
 * so every class is within one row of exact), its rows drawn at random; both parts are then shuffled.
 * Deterministic from `seed` (the random draws are ours, so the rows differ from scikit-learn's).
 * Classes with no rows are ignored.
 * @param y class index (0..nClasses-1) of each row.
 * @throws StratifyError when a class has a single row (it cannot be on both sides), RangeError for a
 *   testSize outside (0, 1), a class index out of range, or a part smaller than the number of classes.
 */
export function stratifiedTrainTestSplit(
  y: Int32Array,
  nClasses: number,
  testSize: number,
  seed: number,
): Split {
  if (!(testSize > 0 && testSize < 1)) throw new RangeError(`testSize must be in (0, 1), got ${testSize}`);
  const n = y.length;
  const counts = new Int32Array(nClasses);
  for (let i = 0; i < n; i++) {
    const c = y[i] as number;
    if (!(Number.isInteger(c) && c >= 0 && c < nClasses)) {
      throw new RangeError(`row ${i}: class index ${c} is not in 0..${nClasses - 1}`);
    }
    counts[c] = (counts[c] as number) + 1;
  }
  for (let c = 0; c < nClasses; c++) {
    if ((counts[c] as number) === 1) {
      throw new StratifyError(
        `class ${c} has 1 row; a stratified split needs at least 2 rows of every class`,
        c,
        1,
      );
    }
  }
  // The classes present, in index order (scikit-learn's np.unique order).
  const present = Int32Array.from(
    Array.from({ length: nClasses }, (_, c) => c).filter((c) => (counts[c] as number) > 0),
  );
  const presentCounts = Int32Array.from(present, (c) => counts[c] as number);
  const nTest = Math.ceil(n * testSize);
  const nTrain = n - nTest;
  if (nTrain < present.length) {
    throw new RangeError(
      `a ${testSize} test split of ${n} rows leaves ${nTrain} training rows, fewer than the ${present.length} classes`,
    );
  }
  if (nTest < present.length) {
    throw new RangeError(
      `a ${testSize} test split of ${n} rows leaves ${nTest} test rows, fewer than the ${present.length} classes`,
    );
  }
  const rng = createRng(seed, STRATIFIED_STREAM);
  const nTrainOf = approximateMode(presentCounts, nTrain, rng);
  const leftOver = Int32Array.from(presentCounts, (c, i) => c - (nTrainOf[i] as number));
  const nTestOf = approximateMode(leftOver, nTest, rng);
  // Rows of each class in row order (scikit-learn's stable argsort), then drawn per class.
  const start = new Int32Array(nClasses + 1);
  for (let c = 0; c < nClasses; c++) start[c + 1] = (start[c] as number) + (counts[c] as number);
  const byClass = new Int32Array(n);
  const fill = start.slice(0, nClasses);
  for (let i = 0; i < n; i++) {
    const c = y[i] as number;
    byClass[fill[c] as number] = i;
    fill[c] = (fill[c] as number) + 1;
  }
  const train = new Int32Array(nTrain);
  const test = new Int32Array(nTest);
  let nextTrain = 0;
  let nextTest = 0;
  present.forEach((c, i) => {
    const rows = shuffle(byClass.slice(start[c] as number, start[c + 1] as number), rng);
    const a = nTrainOf[i] as number;
    const b = nTestOf[i] as number;
    train.set(rows.subarray(0, a), nextTrain);
    test.set(rows.subarray(a, a + b), nextTest);
    nextTrain += a;
    nextTest += b;
  });
  return { train: shuffle(train, rng), test: shuffle(test, rng) };
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
