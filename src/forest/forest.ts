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
import { createRng, isValidSeed } from '../data/random.js';
import { ForestParamError, validateParams } from './params.js';
import { TreeBuilder, treeFeatureImportances, validateTree } from './tree.js';
import type { ForestParams, TrainingData, Tree } from './types.js';

export class Forest {
  readonly trees: Tree[];
  readonly nClasses: number;
  readonly nFeatures: number;
  // Prediction layout, copied from the trees at construction: every tree's nodes in one set of
  // arrays (child indices made absolute), and value normalised per node to class fractions.
  private readonly roots: Int32Array;
  /**
   * Node i's feature (-1 at a leaf), left child, right child and the child a missing value goes to,
   * at [4i], [4i+1], [4i+2], [4i+3]: one cache line per level.
   */
  private readonly nodeLinks: Int32Array;
  private readonly nodeThreshold: Float64Array;
  private readonly nodeFraction: Float64Array;
  private importances: Float64Array | null = null;

  private constructor(trees: Tree[], nClasses: number, nFeatures: number) {
    this.trees = trees;
    this.nClasses = nClasses;
    this.nFeatures = nFeatures;
    const K = nClasses;
    let total = 0;
    for (const t of trees) total += t.feature.length;
    this.roots = new Int32Array(trees.length);
    this.nodeLinks = new Int32Array(4 * total);
    this.nodeThreshold = new Float64Array(total);
    this.nodeFraction = new Float64Array(total * K);
    let offset = 0;
    trees.forEach((t, j) => {
      this.roots[j] = offset;
      const nNodes = t.feature.length;
      for (let i = 0; i < nNodes; i++) {
        const at = offset + i;
        const leaf = t.feature[i]! < 0;
        this.nodeLinks[4 * at] = t.feature[i]!;
        this.nodeLinks[4 * at + 1] = leaf ? -1 : offset + t.left[i]!;
        this.nodeLinks[4 * at + 2] = leaf ? -1 : offset + t.right[i]!;
        this.nodeLinks[4 * at + 3] = leaf ? -1 : offset + (t.missingLeft[i] === 1 ? t.left[i]! : t.right[i]!);
        this.nodeThreshold[at] = t.threshold[i]!;
        let sum = 0;
        for (let k = 0; k < K; k++) sum += t.value[i * K + k]!;
        if (sum > 0) for (let k = 0; k < K; k++) this.nodeFraction[at * K + k] = t.value[i * K + k]! / sum;
      }
      offset += nNodes;
    });
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
   * Class probabilities for `n` rows: `x` is row-major n × nFeatures (NaN = missing), `out`
   * receives row-major n × nClasses, each row the mean over trees of the leaf's class fractions.
   */
  predictProbaInto(x: Float64Array, n: number, out: Float64Array): void {
    const d = this.nFeatures;
    const K = this.nClasses;
    if (!Number.isInteger(n) || n < 0) throw new Error(`n must be an integer >= 0, got ${n}`);
    if (x.length < n * d) throw new Error(`x must hold n × nFeatures = ${n * d} values, got ${x.length}`);
    if (out.length < n * K)
      throw new Error(`out must hold n × nClasses = ${n * K} values, got ${out.length}`);
    out.fill(0, 0, n * K);
    const { roots, nodeLinks, nodeThreshold, nodeFraction } = this;
    const nTrees = roots.length;
    // Row by row, all trees (one flat node array): the row's values and sums stay in L1.
    for (let i = 0; i < n; i++) {
      const row = i * d;
      const o = i * K;
      for (let t = 0; t < nTrees; t++) {
        let node = roots[t]!;
        let f = nodeLinks[4 * node]!;
        while (f >= 0) {
          const v = x[row + f]!;
          const th = nodeThreshold[node]!;
          // Left when v <= th, right when v > th, else (NaN) the missing value's child.
          node = nodeLinks[4 * node + (v <= th ? 1 : v > th ? 2 : 3)]!;
          f = nodeLinks[4 * node]!;
        }
        const v = node * K;
        for (let k = 0; k < K; k++) out[o + k]! += nodeFraction[v + k]!;
      }
      for (let k = 0; k < K; k++) out[o + k] = out[o + k]! / nTrees;
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

/**
 * Fits a random forest. Tree t draws all its randomness (bootstrap sample, then features per split)
 * from its own stream createRng(...seed, t), so the result depends only on data, params and seed.
 * Class weights follow scikit-learn: `balanced` over the training rows, `balanced_subsample` over
 * each tree's bootstrap sample (over the training rows without bootstrap). Throws a
 * ForestParamError on invalid params, seed or data.
 */
export function fitForest(data: TrainingData, params: ForestParams, seed: readonly number[]): Forest {
  validateParams(params, data.columns.length);
  if (!Array.isArray(seed) || seed.length < 1 || !seed.every(isValidSeed)) {
    throw new ForestParamError(
      'seed',
      `seed must be one or more integers in [0, 2^32), got ${JSON.stringify(seed)}`,
    );
  }
  const builder = new TreeBuilder(data);
  const classWeight = params.classWeight ?? null;
  // Without bootstrap, every tree's sample is the training set: balanced_subsample is balanced.
  const fixedWeights = classWeight === null || params.bootstrap ? null : builder.balancedWeights();
  const trees: Tree[] = [];
  for (let t = 0; t < params.nEstimators; t++) {
    const rng = createRng(...seed, t);
    trees.push(
      params.bootstrap
        ? builder.fitBootstrap(params, rng, classWeight)
        : builder.fit(null, params, rng, fixedWeights),
    );
  }
  return Forest.fromTrees(trees, data.nClasses, data.columns.length);
}
