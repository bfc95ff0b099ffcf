/**
 * The random forest: trees fitted on bootstrap samples (or all rows) with per-split feature
 * sampling, predictions as the mean of the trees' leaf class fractions (scikit-learn's
 * predict_proba, not vote counting).
 *
 * Missing values are NaN, in training columns and in the rows to predict (scikit-learn >= 1.4's
 * semantics, see tree.ts): at each node a NaN goes to the child its `missingLeft` names, learnt
 * from the node's training rows with missing values, or else the child with more training rows.
 * Class weights (`classWeight`, scikit-learn's `balanced` and `balanced_subsample`) weigh each
 * tree's rows; the leaves then hold weighted class counts and predict their fractions.
 */
import { createReseedableRng, isValidSeed } from '../data/random.js';
import { ForestParamError, validateParams } from './params.js';
import { TreeBuilder, treeFeatureImportances, validateTree } from './tree.js';
import type { BinnedData, ForestParams, TrainingData, Tree } from './types.js';

/**
 * Values of class sums per block of batch prediction (4 MB): a block's rows are walked through one
 * tree after another, so that each tree is read once per block, not once per row.
 */
const BLOCK_VALUES = 1 << 19;
/** Fewer rows than this are walked row by row (a single request's latency). */
const FEW_ROWS = 8;

/** Whether every left child follows its parent (node i's left child is i + 1). */
function isPreorder(t: Tree): boolean {
  for (let i = 0; i < t.feature.length; i++) if (t.feature[i]! >= 0 && t.left[i] !== i + 1) return false;
  return true;
}
/** A valid tree renumbered so that every left child follows its parent (depth first, left first). */
function toPreorder(t: Tree, K: number): Tree {
  const n = t.feature.length;
  const order: number[] = [];
  const stack = [0];
  while (stack.length > 0) {
    const i = stack.pop()!;
    order.push(i);
    if (t.feature[i]! >= 0) stack.push(t.right[i]!, t.left[i]!);
  }
  const at = new Int32Array(n);
  order.forEach((i, j) => {
    at[i] = j;
  });
  const m = order.length;
  const out: Tree = {
    feature: new Int32Array(m),
    threshold: new Float64Array(m),
    left: new Int32Array(m),
    right: new Int32Array(m),
    missingLeft: new Uint8Array(m),
    value: new Float64Array(m * K),
  };
  order.forEach((i, j) => {
    const leaf = t.feature[i]! < 0;
    out.feature[j] = t.feature[i]!;
    out.threshold[j] = t.threshold[i]!;
    out.left[j] = leaf ? -1 : at[t.left[i]!]!;
    out.right[j] = leaf ? -1 : at[t.right[i]!]!;
    out.missingLeft[j] = t.missingLeft[i]!;
    out.value.set(t.value.subarray(i * K, i * K + K), j * K);
  });
  return out;
}

/**
 * The forest as prediction reads it: every tree's nodes in one set of arrays, each tree in
 * pre-order with each left child right after its parent (node i's left child is i + 1; trees fitted
 * here already are), its root at roots[t]. Per node i: link[2i] = feature, or ~(mixed leaf index) at
 * a leaf, and link[2i + 1] = right child (feature and child in one cache line), at a leaf its class
 * when the leaf is pure (one class of nonzero weight: fractions exactly 1 and 0), else -1;
 * threshold[i]; missingLeft[i]. Per mixed leaf l: fraction[lK, lK + K) = its class fractions
 * (value / Σ value). A fully grown tree's leaves are mostly pure: a row then adds 1 to one class
 * instead of K fractions read from a leaf table, the same sums to the bit, in much less memory.
 */
interface PredictLayout {
  roots: Int32Array;
  link: Int32Array;
  threshold: Float64Array;
  missingLeft: Uint8Array;
  fraction: Float64Array;
}

function predictLayout(trees: readonly Tree[], K: number): PredictLayout {
  const ordered = trees.map((t) => (isPreorder(t) ? t : toPreorder(t, K)));
  let nodes = 0;
  let leaves = 0; // mixed ones
  for (const t of ordered) {
    nodes += t.feature.length;
    for (let i = 0; i < t.feature.length; i++)
      if (t.feature[i]! < 0 && pureClass(t.value, i, K) < 0) leaves++;
  }
  const out: PredictLayout = {
    roots: new Int32Array(trees.length),
    link: new Int32Array(2 * nodes),
    threshold: new Float64Array(nodes),
    missingLeft: new Uint8Array(nodes),
    fraction: new Float64Array(leaves * K),
  };
  const { roots, link, threshold, missingLeft, fraction } = out;
  let at = 0;
  let leaf = 0;
  for (let j = 0; j < ordered.length; j++) {
    const t = ordered[j]!;
    const root = at;
    roots[j] = root;
    threshold.set(t.threshold, root);
    missingLeft.set(t.missingLeft, root);
    const { feature, right, value } = t;
    for (let i = 0; i < feature.length; i++, at++) {
      const f = feature[i]!;
      if (f >= 0) {
        link[2 * at] = f;
        link[2 * at + 1] = root + right[i]!;
        continue;
      }
      const pure = pureClass(value, i, K);
      link[2 * at + 1] = pure;
      if (pure >= 0) {
        link[2 * at] = -1;
        continue;
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += value[i * K + k]!;
      for (let k = 0; k < K; k++) fraction[leaf * K + k] = value[i * K + k]! / sum;
      link[2 * at] = ~leaf;
      leaf++;
    }
  }
  return out;
}

/** The class of node i's only nonzero value (its fractions are then exactly 1 and 0), else -1. */
function pureClass(value: Float64Array, i: number, K: number): number {
  let c = -1;
  for (let k = 0; k < K; k++) {
    if (value[i * K + k] === 0) continue;
    if (c >= 0) return -1;
    c = k;
  }
  return c;
}

export class Forest {
  readonly trees: Tree[];
  readonly nClasses: number;
  readonly nFeatures: number;
  /**
   * The trees as prediction reads them (see PredictLayout): built by the first prediction, dropped
   * by releasePredictionLayout and then rebuilt, identical, by the next prediction.
   */
  private predictionLayout: PredictLayout | null = null;
  private importances: Float64Array | null = null;

  private constructor(trees: Tree[], nClasses: number, nFeatures: number) {
    this.trees = trees;
    this.nClasses = nClasses;
    this.nFeatures = nFeatures;
  }

  private get layout(): PredictLayout {
    this.predictionLayout ??= predictLayout(this.trees, this.nClasses);
    return this.predictionLayout;
  }

  /**
   * Lets the prediction layout (a copy of the forest, about as large as the trees) be collected,
   * for a caller that has made its last prediction for a while; the next prediction rebuilds it,
   * so predictions are unchanged.
   */
  releasePredictionLayout(): void {
    this.predictionLayout = null;
  }

  /**
   * A forest from fitted or loaded trees. Throws an Error naming the tree and node when a tree is
   * malformed (see validateTree), so a tampered model never predicts.
   */
  static fromTrees(trees: Tree[], nClasses: number, nFeatures: number): Forest {
    if (!Number.isInteger(nClasses) || nClasses < 1)
      throw new Error(`nClasses must be an integer >= 1, got ${nClasses}`);
    if (!Number.isInteger(nFeatures) || nFeatures < 1) {
      throw new Error(`nFeatures must be an integer >= 1, got ${nFeatures}`);
    }
    if (!Array.isArray(trees) || trees.length < 1) throw new Error('a forest needs at least one tree');
    trees.forEach((tree, t) => {
      validateTree(tree, nClasses, nFeatures, `tree ${t}`);
    });
    return new Forest(trees, nClasses, nFeatures);
  }

  /**
   * A forest from trees a TreeBuilder has just fitted (fitForest): well formed by construction, so
   * not checked again as loaded trees are (fromTrees).
   */
  static fromFittedTrees(trees: Tree[], nClasses: number, nFeatures: number): Forest {
    return new Forest(trees, nClasses, nFeatures);
  }

  /**
   * Class probabilities for `n` rows: `x` is row-major n × nFeatures (NaN = missing), `out`
   * receives row-major n × nClasses, each row the mean over trees of the leaf's class fractions
   * (added tree by tree in order, then divided by the number of trees).
   *
   * Blocked by tree: the rows of a block (up to 2^19 class sums) are walked through the first
   * tree, then the second, and so on, so each tree is read from memory once per block.
   */
  predictProbaInto(x: Float64Array, n: number, out: Float64Array): void {
    const d = this.nFeatures;
    const K = this.nClasses;
    if (!Number.isInteger(n) || n < 0) throw new Error(`n must be an integer >= 0, got ${n}`);
    if (x.length < n * d) throw new Error(`x must hold n × nFeatures = ${n * d} values, got ${x.length}`);
    if (out.length < n * K)
      throw new Error(`out must hold n × nClasses = ${n * K} values, got ${out.length}`);
    out.fill(0, 0, n * K);
    const layout = this.layout;
    if (n < FEW_ROWS) {
      addLeavesByRow(layout, x, d, K, n, out);
      return;
    }
    const block = Math.max(1, Math.floor(BLOCK_VALUES / K));
    for (let r0 = 0; r0 < n; r0 += block) {
      const r1 = Math.min(n, r0 + block);
      addLeaves(layout, x, d, K, r0, r1, out);
      // Apart from addLeaves: a loop that first runs after its optimisation would deoptimise it.
      divideAll(out, r0 * K, r1 * K, this.trees.length);
    }
  }

  /** Convenience: a new n × nClasses array of probabilities (see predictProbaInto). */
  predictProba(x: Float64Array, n: number): Float64Array {
    const out = new Float64Array(n * this.nClasses);
    this.predictProbaInto(x, n, out);
    return out;
  }

  /**
   * scikit-learn's feature_importances_: each tree's normalised mean decrease in weighted Gini,
   * averaged over the trees that have at least one split, normalised to sum 1 (all zeros when no
   * tree splits). Returns a copy.
   */
  featureImportances(): Float64Array {
    if (this.importances === null) {
      const d = this.nFeatures;
      const mean = new Float64Array(d);
      let counted = 0;
      for (const tree of this.trees) {
        if (tree.feature.length < 2) continue;
        const imp = treeFeatureImportances(tree, this.nClasses, d);
        for (let f = 0; f < d; f++) mean[f]! += imp[f]!;
        counted++;
      }
      let sum = 0;
      for (let f = 0; f < d; f++) sum += mean[f]!;
      if (counted > 0 && sum > 0) for (let f = 0; f < d; f++) mean[f] = mean[f]! / sum;
      this.importances = mean;
    }
    return this.importances.slice();
  }
}

/** Throws a ForestParamError unless `seed` is one or more integers in [0, 2^32). */
export function validateSeed(seed: readonly number[]): void {
  if (!Array.isArray(seed) || seed.length < 1 || !seed.every(isValidSeed)) {
    throw new ForestParamError(
      'seed',
      `seed must be one or more integers in [0, 2^32), got ${JSON.stringify(seed)}`,
    );
  }
}

/**
 * Fits trees from..to-1 of the forest fitForest(data, params, seed) would fit, with `builder`
 * (a TreeBuilder on the same data): tree t depends only on data, params, seed and t, so any
 * split of the trees between threads gives the same trees.
 */
export function fitTrees(
  builder: TreeBuilder,
  params: ForestParams,
  seed: readonly number[],
  from: number,
  to: number,
): Tree[] {
  validateParams(params, builder.nFeatures);
  validateSeed(seed);
  const classWeight = params.classWeight ?? null;
  // Without bootstrap, every tree's sample is the training set: balanced_subsample is balanced.
  const fixedWeights = classWeight === null || params.bootstrap ? null : builder.balancedWeights();
  const trees: Tree[] = [];
  // One generator restarted per tree (tree t's stream is createRng(...seed, t)): the split search
  // keeps calling the same uniform function, so its optimised code is not discarded tree after tree.
  const rng = createReseedableRng(...seed, from);
  for (let t = from; t < to; t++) {
    if (t > from) rng.reseed(...seed, t);
    trees.push(
      params.bootstrap
        ? builder.fitBootstrap(params, rng, classWeight)
        : builder.fit(null, params, rng, fixedWeights),
    );
  }
  return trees;
}

/**
 * Fits a random forest. Tree t draws all its randomness (bootstrap sample, then features per split)
 * from its own stream createRng(...seed, t), so the result depends only on data, params and seed.
 * Class weights follow scikit-learn: `balanced` over the training rows, `balanced_subsample` over
 * each tree's bootstrap sample (over the training rows without bootstrap). The data are columns or
 * columns binned once (binColumns; the same trees). Throws a ForestParamError on invalid params, seed
 * or data.
 */
export function fitForest(
  data: TrainingData | BinnedData,
  params: ForestParams,
  seed: readonly number[],
): Forest {
  const d = featureCount(data);
  validateParams(params, d);
  validateSeed(seed);
  const trees = fitTrees(new TreeBuilder(data), params, seed, 0, params.nEstimators);
  return Forest.fromFittedTrees(trees, data.nClasses, d);
}

/** The number of features of training data, as columns or binned. */
export function featureCount(data: TrainingData | BinnedData): number {
  return 'binned' in data ? data.binned.nFeatures : data.columns.length;
}

/**
 * For rows [r0, r1) of x: the sum over the trees of the class fractions of the leaf each row
 * reaches, added into out. Tree by tree, each walked for every row.
 */
function addLeaves(
  layout: PredictLayout,
  x: Float64Array,
  d: number,
  K: number,
  r0: number,
  r1: number,
  out: Float64Array,
): void {
  const { roots, link, threshold, missingLeft, fraction } = layout;
  const nTrees = roots.length;
  for (let t = 0; t < nTrees; t++) {
    const root = roots[t]!;
    for (let i = r0; i < r1; i++) {
      const row = i * d;
      let node = root;
      let f = link[2 * node]!;
      while (f >= 0) {
        const v = x[row + f]!;
        const th = threshold[node]!;
        // Left (the next node) when v <= th, right when v > th, else (NaN) the missing value's child.
        if (v <= th) node++;
        else if (v > th) node = link[2 * node + 1]!;
        else node = missingLeft[node] === 1 ? node + 1 : link[2 * node + 1]!;
        f = link[2 * node]!;
      }
      const o = i * K;
      const pure = link[2 * node + 1]!;
      if (pure >= 0) out[o + pure]! += 1;
      else {
        const leaf = ~f * K;
        for (let k = 0; k < K; k++) out[o + k]! += fraction[leaf + k]!;
      }
    }
  }
}

/** out[i] /= by for i in [from, to). */
function divideAll(out: Float64Array, from: number, to: number, by: number): void {
  for (let i = from; i < to; i++) out[i] = out[i]! / by;
}

/**
 * addLeaves for rows [0, n), row by row: each row through every tree before the next row. The walk
 * and the leaf's sum are written out here as in addLeaves on purpose: one function shared by both
 * loops measured 3-6 % slower on batches (bench: 40k rows, 100 trees of depth 10).
 */
function addLeavesByRow(
  layout: PredictLayout,
  x: Float64Array,
  d: number,
  K: number,
  n: number,
  out: Float64Array,
): void {
  const { roots, link, threshold, missingLeft, fraction } = layout;
  const nTrees = roots.length;
  for (let i = 0; i < n; i++) {
    const row = i * d;
    const o = i * K;
    for (let t = 0; t < nTrees; t++) {
      let node = roots[t]!;
      let f = link[2 * node]!;
      while (f >= 0) {
        const v = x[row + f]!;
        const th = threshold[node]!;
        if (v <= th) node++;
        else if (v > th) node = link[2 * node + 1]!;
        else node = missingLeft[node] === 1 ? node + 1 : link[2 * node + 1]!;
        f = link[2 * node]!;
      }
      const pure = link[2 * node + 1]!;
      if (pure >= 0) out[o + pure]! += 1;
      else {
        const leaf = ~f * K;
        for (let k = 0; k < K; k++) out[o + k]! += fraction[leaf + k]!;
      }
    }
    for (let k = 0; k < K; k++) out[o + k] = out[o + k]! / nTrees;
  }
}
