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

/** scikit-learn's RandomForestClassifier parameters that segserve uses. */
export interface ForestParams extends TreeParams {
  /** Number of trees, integer >= 1. */
  nEstimators: number;
  /** Each tree sees a bootstrap sample of the rows (as integer weights) instead of all rows once. */
  bootstrap: boolean;
}

/** Training data, columnar: one Float64Array per feature, each of length nRows. */
export interface TrainingData {
  columns: Float64Array[];
  /** Class index per row, 0..nClasses-1. */
  y: Int32Array;
  nClasses: number;
}

/**
 * One fitted tree as flat arrays over its nodes, in pre-order (the root is node 0 and every child
 * has a larger index than its parent). At a leaf, `feature`, `left` and `right` are -1 and
 * `threshold` is 0.
 */
export interface Tree {
  /** Feature index tested at each node; -1 at leaves. */
  feature: Int32Array;
  /** A row goes left when x[feature] <= threshold. */
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /**
   * nNodes × nClasses, row-major: the weighted class counts of the training samples reaching each
   * node (integers when the weights are bootstrap counts). A leaf predicts value / sum(value).
   */
  value: Float64Array;
}
