/**
 * Exact path-dependent TreeSHAP for the forest (Lundberg, Erion and Lee 2018, "Consistent
 * individualized feature attribution for tree ensembles", Algorithm 2), per class.
 *
 * What is computed: for a row x and a tree, the Shapley values of the path-dependent value function
 * v(S) = the tree's output when the features in S are known: walking from the root, a split on a
 * feature in S follows x (a NaN follows `missingLeft`, as prediction does); a split on a feature not
 * in S takes both children, each weighted by its cover (training weight = sum of its `value` row)
 * divided by the parent's cover. A leaf outputs its class fractions value / sum(value). The forest's
 * values are the mean over trees. By Shapley efficiency, for every row and class
 * Σ_f values[f] + expected = v(all features) = the forest's probability, where expected = v(∅), the
 * mean prediction over the training samples through the node weights (per tree
 * Σ_leaf w_leaf / w_root × fraction_leaf, then the mean over trees).
 *
 * Guards:
 * - zero training weight: a leaf of weight 0 outputs 0 (no NaN); a split at a node of weight 0 gives
 *   both children the cover ratio 0; a child reached with zero fraction both with and without its
 *   feature contributes nothing to any v(S) and is skipped (which also avoids the 0/0 of unwinding it);
 * - a feature split on twice along a path: its earlier path entry is unwound and merged (the product
 *   of the cover ratios, the product of the indicators), as in Algorithm 2;
 * - deep trees: no recursion. An explicit stack of at most depth + 2 frames, and the paths of all open
 *   levels in one scratch buffer of (depth + 2) × (min(depth, features) + 2) entries (a path holds
 *   each distinct feature once, plus the root's dummy entry). All scratch is allocated once per
 *   explainer and reused for every row: explaining allocates nothing per row.
 *
 * Cost per row: O(nodes × U²) per tree, where U ≤ min(depth, features) + 1 is the path length.
 */
import { treeDepth, validateTree } from './tree.js';
import type { Tree } from './types.js';

/** The fields of a tree that TreeSHAP reads (a `Tree` has them). */
export type ShapTree = Pick<Tree, 'feature' | 'threshold' | 'left' | 'right' | 'missingLeft' | 'value'>;

/** Exact SHAP values of n rows and the expected value the contributions are measured from. */
export interface ShapResult {
  /** Row-major n × nClasses × nFeatures: values[(i · K + k) · F + f]. */
  values: Float64Array;
  /** Per class: the forest's mean prediction over the training samples through node weights. */
  expected: Float64Array;
}

/**
 * The expected value v(∅) of one tree per class: Σ over leaves of the product of the cover ratios
 * along its path × its class fractions; for a tree whose children's weights sum to their parent's
 * (every fitted tree), Σ_leaf w_leaf / w_root × fraction_leaf. Writes into `out` (length nClasses)
 * when given. The tree must be well formed (pre-order).
 */
export function treeExpectedValue(
  tree: ShapTree,
  nClasses: number,
  out: Float64Array = new Float64Array(nClasses),
): Float64Array {
  const { feature, left, right, value } = tree;
  const K = nClasses;
  const nNodes = feature.length;
  const reach = new Float64Array(nNodes);
  reach[0] = 1;
  out.fill(0, 0, K);
  for (let i = 0; i < nNodes; i++) {
    const r = reach[i]!;
    let w = 0;
    for (let k = 0; k < K; k++) w += value[i * K + k]!;
    if (feature[i]! >= 0) {
      if (w > 0) {
        const l = left[i]!;
        const rt = right[i]!;
        let wl = 0;
        let wr = 0;
        for (let k = 0; k < K; k++) {
          wl += value[l * K + k]!;
          wr += value[rt * K + k]!;
        }
        reach[l] = r * (wl / w);
        reach[rt] = r * (wr / w);
      }
    } else if (w > 0 && r > 0) {
      for (let k = 0; k < K; k++) out[k]! += (r * value[i * K + k]!) / w;
    }
  }
  return out;
}

/**
 * Exact TreeSHAP for one forest: validates the trees once and reads them in place (no copy of the
 * forest: each tree's covers are laid out in scratch, sized for the largest tree, while that tree is
 * explained), and owns the scratch, so `explainInto` allocates nothing. The trees must not change
 * while the explainer is in use. Not reentrant (explainInto is synchronous, so one explainer can
 * serve every call of a process).
 */
export class TreeExplainer {
  readonly nClasses: number;
  readonly nFeatures: number;
  readonly nTrees: number;
  /** Per class: the mean over trees of treeExpectedValue. */
  readonly expected: Float64Array;
  /** Largest tree depth (edges from the root to the deepest leaf). */
  readonly maxDepth: number;

  /** The trees, read in place (nothing is copied: see explainInto). */
  private readonly trees: readonly ShapTree[];
  /** Covers (Σ value) of the tree being explained, one entry per node of the largest tree. */
  private readonly cover: Float64Array;

  // Path scratch: entries of the paths of all open levels (one level's path follows its parent's).
  private readonly pFeature: Int32Array;
  private readonly pZero: Float64Array;
  private readonly pOne: Float64Array;
  private readonly pWeight: Float64Array;
  // Stack frames: node, unique depth, path offset, parent path offset, and the incoming entry.
  private readonly sNode: Int32Array;
  private readonly sDepth: Int32Array;
  private readonly sOffset: Int32Array;
  private readonly sFrom: Int32Array;
  private readonly sFeature: Int32Array;
  private readonly sZero: Float64Array;
  private readonly sOne: Float64Array;

  constructor(trees: readonly ShapTree[], nClasses: number, nFeatures: number) {
    if (!Number.isInteger(nClasses) || nClasses < 1) {
      throw new Error(`treeshap: nClasses must be an integer >= 1, got ${nClasses}`);
    }
    if (!Number.isInteger(nFeatures) || nFeatures < 1) {
      throw new Error(`treeshap: nFeatures must be an integer >= 1, got ${nFeatures}`);
    }
    if (!Array.isArray(trees) || trees.length < 1)
      throw new Error('treeshap: a forest needs at least one tree');
    const K = nClasses;
    let maxNodes = 0;
    let maxDepth = 0;
    trees.forEach((t, j) => {
      // Zero-weight leaves are allowed: a SHAP path weighs a node by its cover, which may be 0.
      validateTree(t, K, nFeatures, `treeshap: tree ${j}`, { zeroWeightLeaves: true });
      maxNodes = Math.max(maxNodes, t.feature.length);
      maxDepth = Math.max(maxDepth, treeDepth(t));
    });
    this.nClasses = K;
    this.nFeatures = nFeatures;
    this.nTrees = trees.length;
    this.maxDepth = maxDepth;
    this.trees = trees;
    this.cover = new Float64Array(maxNodes);
    this.expected = new Float64Array(K);
    const perTree = new Float64Array(K);
    for (const t of trees) {
      treeExpectedValue(t, K, perTree);
      for (let k = 0; k < K; k++) this.expected[k]! += perTree[k]!;
    }
    for (let k = 0; k < K; k++) this.expected[k] = this.expected[k]! / trees.length;

    const maxUnique = Math.min(maxDepth, nFeatures) + 1; // path entries beyond the dummy, bound + 1
    const pathSize = (maxDepth + 2) * (maxUnique + 1);
    this.pFeature = new Int32Array(pathSize);
    this.pZero = new Float64Array(pathSize);
    this.pOne = new Float64Array(pathSize);
    this.pWeight = new Float64Array(pathSize);
    const stackSize = maxDepth + 2;
    this.sNode = new Int32Array(stackSize);
    this.sDepth = new Int32Array(stackSize);
    this.sOffset = new Int32Array(stackSize);
    this.sFrom = new Int32Array(stackSize);
    this.sFeature = new Int32Array(stackSize);
    this.sZero = new Float64Array(stackSize);
    this.sOne = new Float64Array(stackSize);
  }

  /**
   * SHAP values of `n` encoded rows (`x` row-major n × nFeatures, NaN = missing) into `out`
   * (row-major n × nClasses × nFeatures, overwritten). For every row and class,
   * Σ_f out + expected = the forest's probability.
   */
  explainInto(x: Float64Array, n: number, out: Float64Array): void {
    const F = this.nFeatures;
    const K = this.nClasses;
    if (!Number.isInteger(n) || n < 0) throw new Error(`treeshap: n must be an integer >= 0, got ${n}`);
    if (!(x instanceof Float64Array) || x.length < n * F) {
      throw new Error(`treeshap: x must be a Float64Array of n × nFeatures = ${n * F} values`);
    }
    if (!(out instanceof Float64Array) || out.length < n * K * F) {
      throw new Error(
        `treeshap: out must be a Float64Array of n × nClasses × nFeatures = ${n * K * F} values`,
      );
    }
    out.fill(0, 0, n * K * F);
    if (n === 0) return;
    // Tree by tree (each row still adds its trees in order, so the sums are the same as row by row):
    // one tree's covers are laid out at a time, in scratch, and nothing per node outlives the call.
    const { cover } = this;
    for (const tree of this.trees) {
      const { value } = tree;
      const nNodes = tree.feature.length;
      for (let i = 0; i < nNodes; i++) {
        let w = 0;
        for (let k = 0; k < K; k++) w += value[i * K + k]!;
        cover[i] = w;
      }
      for (let i = 0; i < n; i++) this.explainTree(tree, x, i * F, out, i * K * F);
    }
    const scale = 1 / this.nTrees;
    for (let j = 0, e = n * K * F; j < e; j++) out[j] = out[j]! * scale;
  }

  /** Convenience: a new n × nClasses × nFeatures array of SHAP values and a copy of the expected value. */
  explain(x: Float64Array, n: number): ShapResult {
    const values = new Float64Array(n * this.nClasses * this.nFeatures);
    this.explainInto(x, n, values);
    return { values, expected: this.expected.slice() };
  }

  /** Adds one tree's SHAP values for the row at x[row..] to out[base..] (K × F). */
  private explainTree(tree: ShapTree, x: Float64Array, row: number, out: Float64Array, base: number): void {
    const { feature, threshold, left, right, missingLeft, value } = tree;
    const { cover } = this;
    const { pFeature, pZero, pOne, pWeight } = this;
    const { sNode, sDepth, sOffset, sFrom, sFeature, sZero, sOne } = this;
    const K = this.nClasses;
    const F = this.nFeatures;
    let top = 0;
    sNode[0] = 0;
    sDepth[0] = 0;
    sOffset[0] = 0;
    sFrom[0] = -1;
    sFeature[0] = -1;
    sZero[0] = 1;
    sOne[0] = 1;
    while (top >= 0) {
      const node = sNode[top]!;
      let u = sDepth[top]!;
      const off = sOffset[top]!;
      const from = sFrom[top]!;
      const zeroIn = sZero[top]!;
      const oneIn = sOne[top]!;
      const featIn = sFeature[top]!;
      top--;
      // This level's path: the parent's entries 0..u-1, then the incoming entry at u.
      if (from >= 0) {
        for (let j = 0; j < u; j++) {
          pFeature[off + j] = pFeature[from + j]!;
          pZero[off + j] = pZero[from + j]!;
          pOne[off + j] = pOne[from + j]!;
          pWeight[off + j] = pWeight[from + j]!;
        }
      }
      extendPath(pFeature, pZero, pOne, pWeight, off, u, zeroIn, oneIn, featIn);
      const split = feature[node]!;
      if (split < 0) {
        const fr = node * K;
        // The leaf's class fractions value / cover (0 where its cover is 0).
        const wLeaf = cover[node]!;
        for (let j = 1; j <= u; j++) {
          const w = unwoundPathSum(pZero, pOne, pWeight, off, u, j);
          const c = w * (pOne[off + j]! - pZero[off + j]!);
          const at = base + pFeature[off + j]!;
          for (let k = 0; k < K; k++) out[at + k * F]! += c * (wLeaf > 0 ? value[fr + k]! / wLeaf : 0);
        }
        continue;
      }
      const v = x[row + split]!;
      const th = threshold[node]!;
      // Left when v <= th, right when v > th, else (NaN) where the node sends missing values.
      const goLeft = v <= th ? true : v > th ? false : missingLeft[node]! !== 0;
      const hot = goLeft ? left[node]! : right[node]!;
      const cold = goLeft ? right[node]! : left[node]!;
      const w = cover[node]!;
      const hotZero = w > 0 ? cover[hot]! / w : 0;
      const coldZero = w > 0 ? cover[cold]! / w : 0;
      let zeroPrev = 1;
      let onePrev = 1;
      const childOffset = off + u + 1;
      // The feature already on the path: unwind its entry, and merge it into the children's.
      for (let j = 1; j <= u; j++) {
        if (pFeature[off + j] === split) {
          zeroPrev = pZero[off + j]!;
          onePrev = pOne[off + j]!;
          unwindPath(pFeature, pZero, pOne, pWeight, off, u, j);
          u--;
          break;
        }
      }
      const coldZeroIn = coldZero * zeroPrev;
      if (coldZeroIn !== 0) {
        top++;
        sNode[top] = cold;
        sDepth[top] = u + 1;
        sOffset[top] = childOffset;
        sFrom[top] = off;
        sFeature[top] = split;
        sZero[top] = coldZeroIn;
        sOne[top] = 0;
      }
      const hotZeroIn = hotZero * zeroPrev;
      if (hotZeroIn !== 0 || onePrev !== 0) {
        top++;
        sNode[top] = hot;
        sDepth[top] = u + 1;
        sOffset[top] = childOffset;
        sFrom[top] = off;
        sFeature[top] = split;
        sZero[top] = hotZeroIn;
        sOne[top] = onePrev;
      }
    }
  }
}

/** Algorithm 2's EXTEND: appends the entry (feature, zero, one) at index u of the path at `off`. */
function extendPath(
  pFeature: Int32Array,
  pZero: Float64Array,
  pOne: Float64Array,
  pWeight: Float64Array,
  off: number,
  u: number,
  zero: number,
  one: number,
  feat: number,
): void {
  pFeature[off + u] = feat;
  pZero[off + u] = zero;
  pOne[off + u] = one;
  pWeight[off + u] = u === 0 ? 1 : 0;
  const d = 1 / (u + 1);
  for (let i = u - 1; i >= 0; i--) {
    const wi = pWeight[off + i]!;
    pWeight[off + i + 1]! += one * wi * (i + 1) * d;
    pWeight[off + i] = zero * wi * (u - i) * d;
  }
}

/** Algorithm 2's UNWIND: removes entry j from the path at `off` of length u + 1. */
function unwindPath(
  pFeature: Int32Array,
  pZero: Float64Array,
  pOne: Float64Array,
  pWeight: Float64Array,
  off: number,
  u: number,
  j: number,
): void {
  const one = pOne[off + j]!;
  const zero = pZero[off + j]!;
  let next = pWeight[off + u]!;
  for (let i = u - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = pWeight[off + i]!;
      pWeight[off + i] = (next * (u + 1)) / ((i + 1) * one);
      next = tmp - (pWeight[off + i]! * zero * (u - i)) / (u + 1);
    } else {
      pWeight[off + i] = (pWeight[off + i]! * (u + 1)) / (zero * (u - i));
    }
  }
  for (let i = j; i < u; i++) {
    pFeature[off + i] = pFeature[off + i + 1]!;
    pZero[off + i] = pZero[off + i + 1]!;
    pOne[off + i] = pOne[off + i + 1]!;
  }
}

/** Algorithm 2's UNWOUND-SUM: the total permutation weight of the path without entry j. */
function unwoundPathSum(
  pZero: Float64Array,
  pOne: Float64Array,
  pWeight: Float64Array,
  off: number,
  u: number,
  j: number,
): number {
  const one = pOne[off + j]!;
  const zero = pZero[off + j]!;
  let total = 0;
  if (one !== 0) {
    let next = pWeight[off + u]!;
    for (let i = u - 1; i >= 0; i--) {
      const tmp = next / ((i + 1) * one);
      total += tmp;
      next = pWeight[off + i]! - tmp * zero * (u - i);
    }
  } else {
    for (let i = u - 1; i >= 0; i--) total += pWeight[off + i]! / (zero * (u - i));
  }
  return total * (u + 1);
}

/**
 * Exact path-dependent TreeSHAP of a forest (prediction = mean over trees of the leaf's class
 * fractions) for `n` encoded rows `x` (row-major n × nFeatures, NaN = missing): values n × nClasses ×
 * nFeatures and the expected value per class, with Σ_f values + expected = the forest's probability
 * for every row and class. For repeated calls on one forest, build a TreeExplainer once.
 */
export function forestShap(
  trees: readonly ShapTree[],
  nClasses: number,
  nFeatures: number,
  x: Float64Array,
  n: number,
): ShapResult {
  return new TreeExplainer(trees, nClasses, nFeatures).explain(x, n);
}
