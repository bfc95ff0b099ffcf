/**
 * The random forest: trees fitted on bootstrap samples (or all rows) with per-split feature
 * sampling, predictions as the mean of the trees' leaf class fractions (scikit-learn's
 * predict_proba, not vote counting).
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
  /** Node i's feature (-1 at a leaf), left and right child at [3i], [3i+1], [3i+2]: one read per level. */
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
    this.nodeLinks = new Int32Array(3 * total);
    this.nodeThreshold = new Float64Array(total);
    this.nodeFraction = new Float64Array(total * K);
    let offset = 0;
    trees.forEach((t, j) => {
      this.roots[j] = offset;
      const nNodes = t.feature.length;
      for (let i = 0; i < nNodes; i++) {
        const at = offset + i;
        const leaf = t.feature[i]! < 0;
        this.nodeLinks[3 * at] = t.feature[i]!;
        this.nodeLinks[3 * at + 1] = leaf ? -1 : offset + t.left[i]!;
        this.nodeLinks[3 * at + 2] = leaf ? -1 : offset + t.right[i]!;
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
   * Class probabilities for `n` rows: `x` is row-major n × nFeatures, `out` receives row-major
   * n × nClasses, each row the mean over trees of the leaf's class fractions.
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
        let f = nodeLinks[3 * node]!;
        while (f >= 0) {
          node = nodeLinks[3 * node + (x[row + f]! <= nodeThreshold[node]! ? 1 : 2)]!;
          f = nodeLinks[3 * node]!;
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
 * Throws a ForestParamError on invalid params, seed or data.
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
  const trees: Tree[] = [];
  for (let t = 0; t < params.nEstimators; t++) {
    const rng = createRng(...seed, t);
    trees.push(params.bootstrap ? builder.fitBootstrap(params, rng) : builder.fit(null, params, rng));
  }
  return Forest.fromTrees(trees, data.nClasses, data.columns.length);
}
