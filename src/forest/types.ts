/**
 * The forest's data types: columnar training data in, flat typed-array trees out. Nothing here knows
 * about files, HTTP or the CLI.
 */

/**
 * Features drawn per split (scikit-learn's `max_features`): `sqrt` = floor(sqrt(d)), `log2` =
 * floor(log2(d)) (both at least 1), `all` = d, an integer >= 1 = that many, a number in (0, 1) =
 * max(1, floor(fraction * d)).
 */
export type MaxFeatures = 'sqrt' | 'log2' | 'all' | number;

/** The hyperparameters of one tree (scikit-learn's names in camelCase). */
export interface TreeParams {
  /** Deepest node depth (the root is depth 0); null = grow until pure or too small. */
  maxDepth: number | null;
  /** A node with fewer samples (rows of nonzero weight) than this is a leaf. Integer >= 2. */
  minSamplesSplit: number;
  /** Each child of a split keeps at least this many samples. Integer >= 1. */
  minSamplesLeaf: number;
  /** Features drawn (without replacement) at each split. */
  maxFeatures: MaxFeatures;
}

/**
 * scikit-learn's `class_weight` presets. `balanced`: class k weighs n / (c · n_k) over the training
 * rows (n rows, c classes present, n_k rows of class k); `balanced_subsample`: the same per tree over
 * its bootstrap sample, counted with multiplicity (without bootstrap it is `balanced`). A row's sample
 * weight is its bootstrap count × its class's weight. null: every row weighs its count.
 */
export type ClassWeight = null | 'balanced' | 'balanced_subsample';

/** scikit-learn's RandomForestClassifier parameters that segserve uses. */
export interface ForestParams extends TreeParams {
  /** Number of trees, integer >= 1. */
  nEstimators: number;
  /** Each tree sees a bootstrap sample of the rows (as integer weights) instead of all rows once. */
  bootstrap: boolean;
  /** Class weights (scikit-learn's `class_weight`); null = none. Plain-JS callers may omit it (= null). */
  classWeight: ClassWeight;
}

/**
 * Training data, columnar: one Float64Array per feature, each of length nRows. A missing value is
 * NaN (scikit-learn's convention); infinities are refused.
 */
export interface TrainingData {
  columns: Float64Array[];
  /** Class index per row, 0..nClasses-1. */
  y: Int32Array;
  nClasses: number;
}

/** A feature's bins: 1, 2 or 4 bytes per row, by its number of distinct values. */
export type BinColumn = Uint8Array | Uint16Array | Int32Array;

/**
 * Columns binned once per data set (binColumns) and shared by every tree fitted on it: an exact,
 * compact form of the columns (a value is values[f][bin], or missing), all a tree's fit reads.
 */
export interface Binned {
  readonly nRows: number;
  readonly nFeatures: number;
  /**
   * bins[f][row]: the rank of the row's value of feature f among values[f] (its distinct
   * non-missing values, increasing), or values[f].length when the value is missing (NaN).
   */
  readonly bins: readonly BinColumn[];
  readonly values: readonly Float64Array[];
}

/** Training data already binned: what a fit needs, at 1 to 4 bytes a cell instead of 8. */
export interface BinnedData {
  binned: Binned;
  /** Class index per row, 0..nClasses-1. */
  y: Int32Array;
  nClasses: number;
}

/**
 * One fitted tree as flat arrays over its nodes, in pre-order (the root is node 0 and every child
 * has a larger index than its parent). At a leaf, `feature`, `left` and `right` are -1,
 * `threshold` is 0 and `missingLeft` is 0.
 */
export interface Tree {
  /** Feature index tested at each node; -1 at leaves. */
  feature: Int32Array;
  /**
   * A row goes left when x[feature] <= threshold. +Infinity is the split "every non-missing value
   * left, the missing ones right".
   */
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /**
   * Where a missing (NaN) x[feature] goes at each node: 1 = left child, 0 = right child (0 at
   * leaves). Learnt when the node's training rows had missing values for the feature; otherwise
   * the child with more training rows (scikit-learn's rule; a tie goes right).
   */
  missingLeft: Uint8Array;
  /**
   * nNodes × nClasses, row-major: the weighted class counts of the training samples reaching each
   * node (integers when the weights are bootstrap counts, fractional with class weights). A leaf
   * predicts value / sum(value).
   */
  value: Float64Array;
}
