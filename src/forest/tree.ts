/**
 * CART classification trees with scikit-learn's semantics (Gini, best split among `maxFeatures`
 * features drawn per split, thresholds at midpoints, depth-first growth), fitted on presorted
 * columns.
 *
 * Missing values (NaN), as scikit-learn >= 1.4's BestSplitter: a feature's missing values sort
 * after all the others. When a node has missing values for a feature, its thresholds are searched
 * twice, first with the missing rows sent right, then sent left, and the split "every non-missing
 * value left, the missing ones right" (threshold +Infinity) is tried last; the first best Gini
 * proxy wins and its direction is stored per node (`missingLeft`). A node that saw no missing value
 * for its feature sends them to the child with more training rows (a tie goes right). A feature is
 * constant in a node when its non-missing values are (or it has none), and is then never split on.
 * Prediction sends a NaN where `missingLeft` says.
 *
 * Class weights: a row's sample weight is its count (1, or its bootstrap multiplicity) times its
 * class's weight. Counts stay integers in the scans and the class weight multiplies each class's
 * count sum where the Gini proxy, the purity test and the node values need weights, so sums are
 * exact; the sample minimums (minSamplesSplit, minSamplesLeaf) count rows.
 *
 * How it is fast: every column is argsorted once per data set (`presort`, a radix sort). For a
 * tree, the rows of nonzero count are kept in one sorted run per feature, and a node is a range
 * [start, end) that holds the same rows in every feature's run (a feature's missing rows at the
 * end of its run). Finding a split is one linear scan of the range per drawn feature; applying it
 * is one branch-free stable scatter of the range per other feature into a second run (skipped when
 * both children will be leaves, and for features known to be constant in the node). A row's class
 * and count travel packed in one Int32, the rows going left are marked in a bitset that stays in
 * L1 cache, bootstrap indices come several per random draw, nothing is allocated per sample, and
 * all buffers live in the TreeBuilder and are reused from tree to tree. Data without missing values
 * and without class weights takes exactly the code paths (and gives exactly the trees) of before.
 */
import type { Rng } from '../data/random.js';
import { resolveMaxFeatures, validateTrainingData, validateTreeParams } from './params.js';
import type { ClassWeight, TrainingData, Tree, TreeParams } from './types.js';

/** scikit-learn's FEATURE_THRESHOLD: values closer than this are treated as equal. */
const FEATURE_THRESHOLD = 1e-7;
const TWO_53 = 2 ** 53;
/** scikit-learn's EPSILON (float64 machine epsilon): a node with Gini at or below it is pure. */
const EPSILON = 2.220446049250313e-16;

/** Columns argsorted once per data set and shared by every tree fitted on it. */
export interface Presorted {
  readonly nRows: number;
  readonly nFeatures: number;
  /**
   * order[f * nRows + k] is the row with the k-th smallest value of feature f (ties by row, the
   * missing values last, by row).
   */
  readonly order: Int32Array;
  /** values[f * nRows + k] is that row's value of feature f (so each feature's run is sorted). */
  readonly values: Float64Array;
}

/** Argsorts each column of `data` (which must be valid: see validateTrainingData). */
export function presort(data: TrainingData): Presorted {
  const n = data.y.length;
  const d = data.columns.length;
  const order = new Int32Array(d * n);
  const values = new Float64Array(d * n);
  const sorter = new RadixArgsort(n);
  for (let f = 0; f < d; f++) {
    const col = data.columns[f]!;
    const base = f * n;
    const idx = sorter.argsort(col);
    order.set(idx, base);
    for (let i = 0; i < n; i++) values[base + i] = col[idx[i]!]!;
  }
  return { nRows: n, nFeatures: d, order, values };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Stable argsort of float64 values, NaN last: an LSD radix sort on the 64-bit patterns mapped to
 * unsigned order (8 passes of one byte, each skipped when every key has the same byte there, as
 * for the low bytes of small integers), every NaN mapped to the largest key. Ties keep row order,
 * so the result equals sorting by (value, row). Several times faster than Array.prototype.sort
 * with a comparator.
 */
class RadixArgsort {
  private readonly n: number;
  private readonly bits: Float64Array;
  private readonly words: Uint32Array;
  private idxA: Int32Array;
  private idxB: Int32Array;
  private loA: Uint32Array;
  private loB: Uint32Array;
  private hiA: Uint32Array;
  private hiB: Uint32Array;
  private readonly hist = new Int32Array(8 * 256);

  constructor(n: number) {
    this.n = n;
    this.bits = new Float64Array(1);
    this.words = new Uint32Array(this.bits.buffer);
    this.idxA = new Int32Array(n);
    this.idxB = new Int32Array(n);
    this.loA = new Uint32Array(n);
    this.loB = new Uint32Array(n);
    this.hiA = new Uint32Array(n);
    this.hiB = new Uint32Array(n);
  }

  /** Row indices of `col` in increasing order of value (ties by row, NaN last); valid until the next call. */
  argsort(col: Float64Array): Int32Array {
    const n = this.n;
    if (!LITTLE_ENDIAN) {
      const idx = Int32Array.from({ length: n }, (_, i) => i);
      const key = (v: number) => (Number.isNaN(v) ? Number.POSITIVE_INFINITY : v);
      const nan = (v: number) => (Number.isNaN(v) ? 1 : 0);
      return idx.sort((a, b) => key(col[a]!) - key(col[b]!) || nan(col[a]!) - nan(col[b]!) || a - b);
    }
    const { bits, words, hist } = this;
    const lw = 0;
    const hw = 1;
    hist.fill(0);
    for (let i = 0; i < n; i++) {
      const v = col[i]!;
      bits[0] = v === 0 ? 0 : v; // -0 sorts with +0
      let lo = words[lw]!;
      let hi = words[hw]!;
      // Negative numbers: flip every bit; positive: flip the sign bit. Unsigned order = numeric order.
      // NaN (any payload or sign): the largest key, after +Infinity.
      if (Number.isNaN(v)) {
        hi = 0xffffffff;
        lo = 0xffffffff;
      } else if (hi >>> 31) {
        hi = ~hi >>> 0;
        lo = ~lo >>> 0;
      } else {
        hi = (hi | 0x80000000) >>> 0;
      }
      this.idxA[i] = i;
      this.loA[i] = lo;
      this.hiA[i] = hi;
      hist[lo & 255]!++;
      hist[256 + ((lo >>> 8) & 255)]!++;
      hist[512 + ((lo >>> 16) & 255)]!++;
      hist[768 + (lo >>> 24)]!++;
      hist[1024 + (hi & 255)]!++;
      hist[1280 + ((hi >>> 8) & 255)]!++;
      hist[1536 + ((hi >>> 16) & 255)]!++;
      hist[1792 + (hi >>> 24)]!++;
    }
    for (let pass = 0; pass < 8; pass++) {
      const h = pass * 256;
      const shift = (pass & 3) * 8;
      const useHi = pass >= 4;
      const first = ((useHi ? this.hiA[0]! : this.loA[0]!) >>> shift) & 255;
      if (hist[h + first] === n) continue; // every key has the same byte here
      let sum = 0;
      for (let b = 0; b < 256; b++) {
        const c = hist[h + b]!;
        hist[h + b] = sum;
        sum += c;
      }
      const { idxA, loA, hiA, idxB, loB, hiB } = this;
      for (let i = 0; i < n; i++) {
        const lo = loA[i]!;
        const hi = hiA[i]!;
        const byte = ((useHi ? hi : lo) >>> shift) & 255;
        const at = hist[h + byte]!++;
        idxB[at] = idxA[i]!;
        loB[at] = lo;
        hiB[at] = hi;
      }
      this.idxA = idxB;
      this.idxB = idxA;
      this.loA = loB;
      this.loB = loA;
      this.hiA = hiB;
      this.hiB = hiA;
    }
    return this.idxA;
  }
}

/** Tree parameters with maxFeatures resolved to a count and the split minimum as scikit-learn uses it. */
interface Resolved {
  maxDepth: number;
  minSplit: number;
  minLeaf: number;
  maxFeatures: number;
}

function resolve(params: TreeParams, nFeatures: number): Resolved {
  return {
    maxDepth: params.maxDepth ?? Number.POSITIVE_INFINITY,
    minSplit: Math.max(params.minSamplesSplit, 2 * params.minSamplesLeaf),
    minLeaf: params.minSamplesLeaf,
    maxFeatures: resolveMaxFeatures(params.maxFeatures, nFeatures),
  };
}

/**
 * scikit-learn's `balanced` class weights: class k weighs n / (c · n_k), n_k its number of rows (each
 * row counted `counts[i]` times when `counts` is given, as compute_sample_weight('balanced', y,
 * indices=...) counts a bootstrap sample), n = Σ n_k and c the number of classes with n_k > 0. A
 * class without rows weighs 0.
 */
export function balancedClassWeights(
  y: Int32Array,
  nClasses: number,
  counts: Int32Array | null = null,
): Float64Array {
  const bincount = new Float64Array(nClasses);
  if (counts === null) for (let i = 0; i < y.length; i++) bincount[y[i]!]! += 1;
  else for (let i = 0; i < y.length; i++) bincount[y[i]!]! += counts[i]!;
  let n = 0;
  let present = 0;
  for (let k = 0; k < nClasses; k++) {
    n += bincount[k]!;
    if (bincount[k]! > 0) present++;
  }
  const out = new Float64Array(nClasses);
  for (let k = 0; k < nClasses; k++) if (bincount[k]! > 0) out[k] = n / (present * bincount[k]!);
  return out;
}

/**
 * Fits trees on one data set, reusing the presorted columns and every scratch buffer. Not
 * reentrant: one fit at a time per builder.
 *
 * Layout: each feature f has two runs of nRows slots in oRow, oX and oCode, at (2f + parity) × nRows;
 * the m rows of nonzero count of the current tree are in slots [0, m) of one of them, sorted by
 * feature f (missing values last), with their value of f and their packed (count << shift) | class
 * side by side, so that split scans read memory in order. A split scatters each range into the
 * other run of the feature (left rows first, both sides kept in order): one read and one write per
 * row, no copy back. `parity` says, per node and feature, which run holds the node's rows.
 */
export class TreeBuilder {
  readonly nRows: number;
  readonly nFeatures: number;
  readonly nClasses: number;
  /** Largest sample count a row may have (the packed code must stay a positive Int32). */
  readonly maxCount: number;
  private readonly shift: number;
  private readonly mask: number;
  private readonly y: Int32Array;
  private readonly sortedRow: Int32Array;
  private readonly sortedX: Float64Array;
  /** sortedY[f * nRows + k]: the class of row sortedRow[f * nRows + k]. */
  private readonly sortedY: Int32Array;
  /** Sample count per row of the tree being fitted. */
  private readonly counts: Int32Array;
  /** The bootstrap draws of the tree being fitted. */
  private readonly indices: Int32Array;
  private readonly oRow: Int32Array;
  private readonly oX: Float64Array;
  private readonly oCode: Int32Array;
  /** Bit `row` set while a split is applied: the row goes left. */
  private readonly goesLeft: Int32Array;
  private readonly features: Int32Array;
  /** The current node's flags: 1 = feature constant in the node (its run is then not kept in order). */
  private readonly constant: Uint8Array;
  /** The current node's run of each feature: 0 or 1 (see the layout above). */
  private readonly parity: Uint8Array;
  /** Per feature: 1 when some row of the current tree has it missing (NaN). */
  private readonly hasMissing: Uint8Array;
  /** The current tree's weight per class (all 1 without class weights). */
  private readonly cw: Float64Array;
  /** The current tree has class weights: the weighted scans are used. */
  private weighted = false;
  /** scikit-learn's `balanced` weights over all rows, computed on first use. */
  private balanced: Float64Array | null = null;
  /**
   * Class counts (numbers of samples, not weights): left side during a scan, best left side
   * found, its right side, the node's total, the node's missing rows of a feature.
   */
  private readonly cl: Float64Array;
  private readonly bestCl: Float64Array;
  private readonly rightCl: Float64Array;
  private readonly total: Float64Array;
  private readonly clMiss: Float64Array;
  /** A feature scan's best split: proxy, position, values either side. */
  private readonly scan = new Float64Array(4);
  // The best split of the current node: feature, position in the feature's sorted non-missing
  // values (the left child gets [start, pos) of them), threshold, the node's missing rows of the
  // feature and where they go (1 = left).
  private bestFeature = -1;
  private bestPos = -1;
  private bestThreshold = 0;
  private bestNMiss = 0;
  private bestMissingLeft = 0;

  /**
   * Validates `data` (throws a ForestParamError); `presorted` (from presort(data)) saves the
   * sorting when several builders share a data set.
   */
  constructor(data: TrainingData, presorted?: Presorted) {
    validateTrainingData(data);
    const pre = presorted ?? presort(data);
    if (pre.nRows !== data.y.length || pre.nFeatures !== data.columns.length) {
      throw new Error('presorted columns do not match the training data');
    }
    const n = pre.nRows;
    const d = pre.nFeatures;
    const K = data.nClasses;
    this.nRows = n;
    this.nFeatures = d;
    this.nClasses = K;
    this.shift = K <= 1 ? 0 : 32 - Math.clz32(K - 1);
    this.mask = (1 << this.shift) - 1;
    this.maxCount = 2 ** (31 - this.shift) - 1;
    this.y = data.y;
    this.sortedRow = pre.order;
    this.sortedX = pre.values;
    this.sortedY = new Int32Array(d * n);
    for (let i = 0; i < d * n; i++) this.sortedY[i] = data.y[pre.order[i]!]!;
    this.counts = new Int32Array(n);
    this.indices = new Int32Array(n);
    this.oRow = new Int32Array(2 * d * n);
    this.oX = new Float64Array(2 * d * n);
    this.oCode = new Int32Array(2 * d * n);
    this.goesLeft = new Int32Array((n + 31) >>> 5);
    this.features = new Int32Array(d);
    this.constant = new Uint8Array(d);
    this.parity = new Uint8Array(d);
    this.hasMissing = new Uint8Array(d);
    this.cw = new Float64Array(K).fill(1);
    this.cl = new Float64Array(K);
    this.bestCl = new Float64Array(K);
    this.rightCl = new Float64Array(K);
    this.total = new Float64Array(K);
    this.clMiss = new Float64Array(K);
  }

  /**
   * Fits a tree on every row once (`sampleCounts` null) or on each row as many times as its count
   * says (integers >= 0, at most maxCount; rows counted 0 are left out, as in a bootstrap sample).
   * `classWeights` (one finite weight > 0 per class; null = none) multiplies each row's count.
   */
  fit(
    sampleCounts: Int32Array | null,
    params: TreeParams,
    rng: Rng,
    classWeights: Float64Array | null = null,
  ): Tree {
    validateTreeParams(params, this.nFeatures);
    const n = this.nRows;
    if (sampleCounts === null) {
      this.counts.fill(1);
    } else {
      if (!(sampleCounts instanceof Int32Array) || sampleCounts.length !== n) {
        throw new Error(`sampleCounts must be an Int32Array with one count per row (${n})`);
      }
      for (let i = 0; i < n; i++) {
        const c = sampleCounts[i]!;
        if (c < 0 || c > this.maxCount) {
          throw new Error(`sampleCounts[${i}] must be an integer in [0, ${this.maxCount}], got ${c}`);
        }
      }
      this.counts.set(sampleCounts);
    }
    if (classWeights !== null) {
      if (!(classWeights instanceof Float64Array) || classWeights.length !== this.nClasses) {
        throw new Error(`classWeights must be a Float64Array with one weight per class (${this.nClasses})`);
      }
      classWeights.forEach((w, k) => {
        if (!(w > 0 && w < Number.POSITIVE_INFINITY)) {
          throw new Error(`classWeights[${k}] must be a finite number > 0, got ${w}`);
        }
      });
    }
    this.setClassWeights(classWeights);
    return this.grow(resolve(params, this.nFeatures), rng);
  }

  /**
   * Fits a tree on a bootstrap sample: nRows rows drawn with replacement from `rng` (drawIndices),
   * used as sample counts (scikit-learn's way), then grows the tree from the same stream.
   * `classWeight`: scikit-learn's preset, `balanced` over all rows or `balanced_subsample` over
   * this sample (see balancedClassWeights).
   */
  fitBootstrap(params: TreeParams, rng: Rng, classWeight: ClassWeight = null): Tree {
    validateTreeParams(params, this.nFeatures);
    const n = this.nRows;
    const { counts, indices } = this;
    drawIndices(n, indices, rng);
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[indices[i]!]! += 1;
    if (n > this.maxCount) {
      for (let i = 0; i < n; i++) {
        if (counts[i]! > this.maxCount) throw new Error(`a bootstrap count exceeds ${this.maxCount}`);
      }
    }
    if (classWeight === 'balanced_subsample') {
      this.setClassWeights(balancedClassWeights(this.y, this.nClasses, counts));
    } else {
      this.setClassWeights(classWeight === 'balanced' ? this.balancedWeights() : null);
    }
    return this.grow(resolve(params, this.nFeatures), rng);
  }

  /** scikit-learn's `balanced` class weights over every row of the data set (computed once). */
  balancedWeights(): Float64Array {
    this.balanced ??= balancedClassWeights(this.y, this.nClasses);
    return this.balanced;
  }

  private setClassWeights(classWeights: Float64Array | null): void {
    if (classWeights === null) this.cw.fill(1);
    else this.cw.set(classWeights);
    this.weighted = classWeights !== null;
  }

  /** Grows a tree on the sample counts in this.counts and the class weights in this.cw. */
  private grow(p: Resolved, rng: Rng): Tree {
    const n = this.nRows;
    const d = this.nFeatures;
    const K = this.nClasses;
    const { counts, shift, mask, sortedRow, sortedX, sortedY, oRow, oX, oCode, total, cw, hasMissing } = this;

    // Keep the rows of nonzero count, in each feature's sorted order (missing values last).
    let m = 0;
    for (let f = 0; f < d; f++) {
      m = keepCounted(f * n, 2 * f * n, n, counts, shift, sortedRow, sortedX, sortedY, oRow, oX, oCode);
    }
    if (m === 0) throw new Error('no row has a positive sample count');
    for (let f = 0; f < d; f++) hasMissing[f] = Number.isNaN(oX[2 * f * n + m - 1]!) ? 1 : 0;

    // Nodes (growable plain arrays: per-node work, not per-sample) and the depth-first stack.
    const feature: number[] = [];
    const threshold: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const missingLeft: number[] = [];
    const value: number[] = [];
    // Stack entries: start, end, depth, parent, isLeft; their class counts in stackCounts and
    // their known-constant feature flags in stackConstant.
    const stack: number[] = [];
    const stackCounts: number[] = [];
    const stackConstant: number[] = [];
    const stackParity: number[] = [];
    const { constant, parity } = this;

    total.fill(0);
    for (let i = 0; i < m; i++) {
      const code = oCode[i]!;
      total[code & mask]! += code >>> shift;
    }
    stack.push(0, m, 0, -1, 0);
    for (let k = 0; k < K; k++) stackCounts.push(total[k]!);
    for (let f = 0; f < d; f++) stackConstant.push(0);
    for (let f = 0; f < d; f++) stackParity.push(0);

    while (stack.length > 0) {
      const isLeft = stack.pop()!;
      const parent = stack.pop()!;
      const depth = stack.pop()!;
      const end = stack.pop()!;
      const start = stack.pop()!;
      const id = feature.length;
      for (let k = K - 1; k >= 0; k--) total[k] = stackCounts.pop()!;
      for (let f = d - 1; f >= 0; f--) constant[f] = stackConstant.pop()!;
      for (let f = d - 1; f >= 0; f--) parity[f] = stackParity.pop()!;
      for (let k = 0; k < K; k++) value.push(cw[k]! * total[k]!);
      feature.push(-1);
      threshold.push(0);
      left.push(-1);
      right.push(-1);
      missingLeft.push(0);
      if (parent >= 0) {
        if (isLeft === 1) left[parent] = id;
        else right[parent] = id;
      }
      if (isLeafNode(depth, end - start, total, cw, K, p)) continue;
      let wt = 0;
      for (let k = 0; k < K; k++) wt += cw[k]! * total[k]!;
      if (!this.findSplit(start, end, wt, p, rng)) continue;

      const bf = this.bestFeature;
      const nMiss = this.bestNMiss;
      const missLeft = this.bestMissingLeft;
      // The left child: the non-missing rows before pos, and the missing rows if they go left.
      const mid = this.bestPos + (missLeft === 1 ? nMiss : 0);
      feature[id] = bf;
      threshold[id] = this.bestThreshold;
      missingLeft[id] = missLeft;
      const { bestCl, rightCl } = this;
      for (let k = 0; k < K; k++) rightCl[k] = total[k]! - bestCl[k]!;
      // The children's ranges need reordering only for a child that will be split itself.
      const leftLeaf = isLeafNode(depth + 1, mid - start, bestCl, cw, K, p);
      const rightLeaf = isLeafNode(depth + 1, end - mid, rightCl, cw, K, p);
      if (!leftLeaf || !rightLeaf) {
        // A feature constant here (its non-missing values, if any) is constant in every
        // descendant: its run is never read again, so it is flagged for the children and not
        // partitioned.
        for (let f = 0; f < d; f++) {
          if (constant[f] === 1) continue;
          const base = (2 * f + parity[f]!) * n;
          const endNM = hasMissing[f] === 1 ? end - countMissing(oX, base + start, base + end) : end;
          if (endNM === start || oX[base + endNM - 1]! <= oX[base + start]! + FEATURE_THRESHOLD)
            constant[f] = 1;
        }
        this.partition(start, end, mid);
      }
      // Right child pushed first so that the left one is grown first (pre-order, as scikit-learn).
      stack.push(mid, end, depth + 1, id, 0);
      for (let k = 0; k < K; k++) stackCounts.push(rightCl[k]!);
      for (let f = 0; f < d; f++) stackConstant.push(constant[f]!);
      for (let f = 0; f < d; f++) stackParity.push(parity[f]!);
      stack.push(start, mid, depth + 1, id, 1);
      for (let k = 0; k < K; k++) stackCounts.push(bestCl[k]!);
      for (let f = 0; f < d; f++) stackConstant.push(constant[f]!);
      for (let f = 0; f < d; f++) stackParity.push(parity[f]!);
    }

    return {
      feature: Int32Array.from(feature),
      threshold: Float64Array.from(threshold),
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      missingLeft: Uint8Array.from(missingLeft),
      value: Float64Array.from(value),
    };
  }

  /**
   * scikit-learn's BestSplitter: draw features without replacement, scan each for the split
   * maximising the Gini proxy Σ cl²/wl + Σ cr²/wr (the first best wins ties). A feature with
   * missing values in the node is scanned with them sent right, then left, then the split
   * "non-missing left, missing right" is tried. After `maxFeatures` draws it stops, unless every
   * feature drawn so far was constant in the node, in which case it keeps drawing. Returns false
   * when no valid split was found; otherwise the best split is in this.best*, and bestCl holds
   * its left child's class counts.
   */
  private findSplit(start: number, end: number, wt: number, p: Resolved, rng: Rng): boolean {
    const n = this.nRows;
    const K = this.nClasses;
    const { oX, oCode, shift, mask, features, constant, parity, hasMissing, cl, clMiss, bestCl, total, cw } =
      this;
    const { weighted, scan } = this;
    const d = this.nFeatures;
    for (let f = 0; f < d; f++) features[f] = f;
    let available = d;
    let visited = 0;
    let constants = 0;
    let best = Number.NEGATIVE_INFINITY;
    let bestFeature = -1;
    let bestPos = -1;
    let bestLo = 0;
    let bestHi = 0;
    let bestNMiss = 0;
    let bestMissingLeft = 0;
    // Split positions allowed by minSamplesLeaf: the left child gets [start, pos), pos in [lo, hi].
    const lo = start + p.minLeaf;
    const hi = end - p.minLeaf;

    while (available > 0 && (visited < p.maxFeatures || visited <= constants)) {
      visited++;
      const j = Math.floor(rng.uniform() * available);
      const f = features[j]!;
      available--;
      features[j] = features[available]!;
      features[available] = f;

      const base = (2 * f + parity[f]!) * n;
      // Known constant (its run is stale then, and must not be read), or found constant now: no
      // non-missing value, or all within FEATURE_THRESHOLD of each other.
      if (constant[f] === 1) {
        constants++;
        continue;
      }
      const nMiss = hasMissing[f] === 1 ? countMissing(oX, base + start, base + end) : 0;
      const endNM = end - nMiss;
      if (endNM === start || oX[base + endNM - 1]! <= oX[base + start]! + FEATURE_THRESHOLD) {
        constant[f] = 1;
        constants++;
        continue;
      }

      if (nMiss === 0) {
        cl.fill(0);
        const found = weighted
          ? scanWeighted(base, start, end, lo, hi, best, oX, oCode, shift, mask, cl, total, cw, scan)
          : scanFeature(base, start, end, lo, hi, 0, wt, best, oX, oCode, shift, mask, cl, total, scan);
        if (found) {
          best = scan[0]!;
          bestFeature = f;
          bestPos = scan[1]!;
          bestLo = scan[2]!;
          bestHi = scan[3]!;
          bestNMiss = 0;
        }
        continue;
      }

      // The node's missing rows of f: [endNM, end) of its run.
      clMiss.fill(0);
      let wMiss = 0;
      for (let i = base + endNM, e = base + end; i < e; i++) {
        const code = oCode[i]!;
        const c = code >>> shift;
        clMiss[code & mask]! += c;
        wMiss += c;
      }
      // Missing values right (the right child has end - pos rows), then left (endNM - pos rows):
      // the thresholds run over the non-missing values only.
      for (let goLeft = 0; goLeft <= 1; goLeft++) {
        const lo2 = goLeft === 1 ? lo - nMiss : lo;
        const hi2 = goLeft === 1 ? endNM - p.minLeaf : hi;
        if (goLeft === 1) cl.set(clMiss);
        else cl.fill(0);
        const found = weighted
          ? scanWeighted(base, start, endNM, lo2, hi2, best, oX, oCode, shift, mask, cl, total, cw, scan)
          : scanFeature(
              base,
              start,
              endNM,
              lo2,
              hi2,
              goLeft * wMiss,
              wt,
              best,
              oX,
              oCode,
              shift,
              mask,
              cl,
              total,
              scan,
            );
        if (found) {
          best = scan[0]!;
          bestFeature = f;
          bestPos = scan[1]!;
          bestLo = scan[2]!;
          bestHi = scan[3]!;
          bestNMiss = nMiss;
          bestMissingLeft = goLeft;
        }
      }
      // Every non-missing value left, the missing ones right (threshold +Infinity).
      if (endNM - start >= p.minLeaf && nMiss >= p.minLeaf) {
        for (let k = 0; k < K; k++) cl[k] = total[k]! - clMiss[k]!;
        const proxy = splitProxy(cl, total, cw, weighted, wt - wMiss, wt);
        if (proxy > best) {
          best = proxy;
          bestFeature = f;
          bestPos = endNM;
          bestLo = Number.POSITIVE_INFINITY;
          bestHi = Number.POSITIVE_INFINITY;
          bestNMiss = nMiss;
          bestMissingLeft = 0;
        }
      }
    }
    if (bestFeature < 0) return false;
    this.bestFeature = bestFeature;
    this.bestPos = bestPos;
    this.bestNMiss = bestNMiss;
    let t = bestLo / 2 + bestHi / 2;
    if (t === bestHi || t === Number.POSITIVE_INFINITY || t === Number.NEGATIVE_INFINITY) t = bestLo;
    this.bestThreshold = t;
    const bb = (2 * bestFeature + parity[bestFeature]!) * n;
    for (let k = 0; k < K; k++) bestCl[k] = 0;
    if (bestNMiss === 0) {
      // No missing value seen: they will go to the child with more rows (a tie goes right).
      this.bestMissingLeft = bestPos - start > end - bestPos ? 1 : 0;
      // The left child's class counts, summed over the smaller child.
      if (bestPos - start <= end - bestPos) {
        for (let i = bb + start, e = bb + bestPos; i < e; i++) {
          const code = oCode[i]!;
          bestCl[code & mask]! += code >>> shift;
        }
      } else {
        for (let i = bb + bestPos, e = bb + end; i < e; i++) {
          const code = oCode[i]!;
          bestCl[code & mask]! += code >>> shift;
        }
        for (let k = 0; k < K; k++) bestCl[k] = total[k]! - bestCl[k]!;
      }
    } else {
      this.bestMissingLeft = bestMissingLeft;
      // The left child: [start, pos) of the run, and the missing rows [end - nMiss, end) if they go left.
      for (let i = bb + start, e = bb + bestPos; i < e; i++) {
        const code = oCode[i]!;
        bestCl[code & mask]! += code >>> shift;
      }
      if (bestMissingLeft === 1) {
        for (let i = bb + end - bestNMiss, e = bb + end; i < e; i++) {
          const code = oCode[i]!;
          bestCl[code & mask]! += code >>> shift;
        }
      }
    }
    return true;
  }

  /**
   * Applies the best split of [start, end) (its left child has `mid - start` rows) to every feature
   * that is not constant in the node: a stable scatter into the feature's other run, the rows going
   * left first, after which that run holds the children's rows (parity flips). The split feature's
   * own run is already in that order unless its missing rows go left.
   */
  private partition(start: number, end: number, mid: number): void {
    const n = this.nRows;
    const d = this.nFeatures;
    const { oRow, oX, oCode, goesLeft, constant, parity } = this;
    const bf = this.bestFeature;
    const pos = this.bestPos;
    const missLeft = this.bestMissingLeft === 1 && this.bestNMiss > 0;
    const bb = (2 * bf + parity[bf]!) * n;
    const missFrom = bb + end - this.bestNMiss;
    for (let i = bb + start, e = bb + pos; i < e; i++) {
      const r = oRow[i]!;
      goesLeft[r >>> 5]! |= 1 << (r & 31);
    }
    if (missLeft) {
      for (let i = missFrom, e = bb + end; i < e; i++) {
        const r = oRow[i]!;
        goesLeft[r >>> 5]! |= 1 << (r & 31);
      }
    }
    for (let f = 0; f < d; f++) {
      // bf's left rows are already the prefix unless its missing rows go left; constant features
      // are never read.
      if ((f === bf && !missLeft) || constant[f] === 1) continue;
      const p = parity[f]!;
      scatter((2 * f + p) * n, (2 * f + 1 - p) * n, start, mid, end, goesLeft, oRow, oX, oCode);
      parity[f] = 1 - p;
    }
    // bb still names bf's previous run, which the scatters only read.
    for (let i = bb + start, e = bb + pos; i < e; i++) goesLeft[oRow[i]! >>> 5] = 0;
    if (missLeft) for (let i = missFrom, e = bb + end; i < e; i++) goesLeft[oRow[i]! >>> 5] = 0;
  }
}

/**
 * Fills `out` with indices drawn uniformly from [0, n), independently (with replacement). Exactly
 * uniform, and cheaper than one rng.uniform() per index: each uniform() is a 53-bit integer
 * k / 2^53; with N = n^D the largest power of n up to 2^53, a k below the largest multiple of N is
 * accepted (otherwise drawn again) and its D base-n digits, lowest first, are D independent uniform
 * indices. For n = 60,000 that is 3 indices per draw. Deterministic for a given stream.
 */
export function drawIndices(n: number, out: Int32Array, rng: Rng): void {
  if (!(Number.isInteger(n) && n >= 1 && n <= TWO_53)) throw new Error(`n must be an integer >= 1, got ${n}`);
  let N = n;
  let D = 1;
  while (n > 1 && N * n <= TWO_53) {
    N *= n;
    D++;
  }
  const limit = TWO_53 - (TWO_53 % N); // exact: integers below 2^53
  const inv = 1 / n;
  const count = out.length;
  let i = 0;
  while (i < count) {
    let k = rng.uniform() * TWO_53;
    if (k >= limit) continue;
    for (let j = 0; j < D && i < count; j++, i++) {
      let q = Math.floor(k * inv);
      let r = k - q * n;
      // k * inv may be off by one ulp: correct the quotient so that 0 <= r < n.
      if (r < 0) {
        q--;
        r += n;
      } else if (r >= n) {
        q++;
        r -= n;
      }
      out[i] = r;
      k = q;
    }
  }
}

// The hot loops, as small functions of typed arrays: each is optimised once, with the feedback of
// its own loop only (no on-stack replacement inside a function whose other paths are still cold).

/**
 * Copies the rows of nonzero count of one feature's sorted order (from `from` in the presorted
 * arrays) to the run at `base`; returns how many there are.
 */
function keepCounted(
  from: number,
  base: number,
  n: number,
  counts: Int32Array,
  shift: number,
  sortedRow: Int32Array,
  sortedX: Float64Array,
  sortedY: Int32Array,
  oRow: Int32Array,
  oX: Float64Array,
  oCode: Int32Array,
): number {
  let k = base;
  for (let i = from, end = from + n; i < end; i++) {
    const r = sortedRow[i]!;
    const c = counts[r]!;
    oRow[k] = r;
    oX[k] = sortedX[i]!;
    oCode[k] = (c << shift) | sortedY[i]!;
    k += -c >>> 31; // 1 when c > 0: branch free
  }
  return k - base;
}

/**
 * Scans positions [base + start, base + end) of one feature's run for the split with the largest
 * Gini proxy Σ cl²/wl + Σ cr²/wr above `best`, with the left child's position in [lo, hi]. `cl`
 * and `wl0` start as the class counts and count of the rows that go left whatever the position
 * (the missing rows, when they go left; else zeros), and `total` and `wt` are the node's. When one
 * is found, writes proxy, position, and the values either side into `out` and returns true.
 */
function scanFeature(
  base: number,
  start: number,
  end: number,
  lo: number,
  hi: number,
  wl0: number,
  wt: number,
  best: number,
  oX: Float64Array,
  oCode: Int32Array,
  shift: number,
  mask: number,
  cl: Float64Array,
  total: Float64Array,
  out: Float64Array,
): boolean {
  const K = cl.length;
  let found = false;
  let wl = wl0;
  let xv = oX[base + start]!;
  for (let i = base + start, last = base + end - 1; i < last; i++) {
    const code = oCode[i]!;
    const c = code >>> shift;
    cl[code & mask]! += c;
    wl += c;
    const xn = oX[i + 1]!;
    if (xn > xv + FEATURE_THRESHOLD) {
      const pos = i + 1 - base;
      if (pos >= lo && pos <= hi) {
        const wr = wt - wl;
        let sl = 0;
        let sr = 0;
        for (let k = 0; k < K; k++) {
          const a = cl[k]!;
          const b = total[k]! - a;
          sl += a * a;
          sr += b * b;
        }
        const proxy = sl / wl + sr / wr;
        if (proxy > best) {
          best = proxy;
          found = true;
          out[0] = proxy;
          out[1] = pos;
          out[2] = xv;
          out[3] = xn;
        }
      }
    }
    xv = xn;
  }
  return found;
}

/**
 * scanFeature with class weights: `cl` and `total` count samples, and class k's counts weigh
 * cw[k] each in the proxy (wl, wr and the class sums are weighted).
 */
function scanWeighted(
  base: number,
  start: number,
  end: number,
  lo: number,
  hi: number,
  best: number,
  oX: Float64Array,
  oCode: Int32Array,
  shift: number,
  mask: number,
  cl: Float64Array,
  total: Float64Array,
  cw: Float64Array,
  out: Float64Array,
): boolean {
  const K = cl.length;
  let found = false;
  let xv = oX[base + start]!;
  for (let i = base + start, last = base + end - 1; i < last; i++) {
    const code = oCode[i]!;
    cl[code & mask]! += code >>> shift;
    const xn = oX[i + 1]!;
    if (xn > xv + FEATURE_THRESHOLD) {
      const pos = i + 1 - base;
      if (pos >= lo && pos <= hi) {
        let wl = 0;
        let wr = 0;
        let sl = 0;
        let sr = 0;
        for (let k = 0; k < K; k++) {
          const w = cw[k]!;
          const a = w * cl[k]!;
          const b = w * (total[k]! - cl[k]!);
          wl += a;
          wr += b;
          sl += a * a;
          sr += b * b;
        }
        const proxy = sl / wl + sr / wr;
        if (proxy > best) {
          best = proxy;
          found = true;
          out[0] = proxy;
          out[1] = pos;
          out[2] = xv;
          out[3] = xn;
        }
      }
    }
    xv = xn;
  }
  return found;
}

/**
 * The Gini proxy of one split given its left class counts `cl` (the scans' formula): unweighted,
 * wl and wt are the left and node counts; weighted, class k counts weigh cw[k].
 */
function splitProxy(
  cl: Float64Array,
  total: Float64Array,
  cw: Float64Array,
  weighted: boolean,
  wl: number,
  wt: number,
): number {
  const K = cl.length;
  let sl = 0;
  let sr = 0;
  if (!weighted) {
    for (let k = 0; k < K; k++) {
      const a = cl[k]!;
      const b = total[k]! - a;
      sl += a * a;
      sr += b * b;
    }
    return sl / wl + sr / (wt - wl);
  }
  let wLeft = 0;
  let wRight = 0;
  for (let k = 0; k < K; k++) {
    const a = cw[k]! * cl[k]!;
    const b = cw[k]! * (total[k]! - cl[k]!);
    wLeft += a;
    wRight += b;
    sl += a * a;
    sr += b * b;
  }
  return sl / wLeft + sr / wRight;
}

/**
 * The number of missing (NaN) values in oX[from, to), which are its last ones (a feature's run
 * keeps them at the end of every node's range): 0 at once when the last value is not NaN, else a
 * binary search for the first NaN.
 */
function countMissing(oX: Float64Array, from: number, to: number): number {
  if (!Number.isNaN(oX[to - 1]!)) return 0;
  let a = from;
  let b = to - 1;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (Number.isNaN(oX[m]!)) b = m;
    else a = m + 1;
  }
  return to - a;
}

/** The row is marked in the bitset. */
function marked(bits: Int32Array, r: number): number {
  return (bits[r >>> 5]! >>> (r & 31)) & 1;
}

/**
 * Stable partition of the range [start, end) of the run at `src` into the same range of the run at
 * `dst`: the marked rows (pos of them) to [start, pos), the others to [pos, end), both in order.
 * Branch free: the destination index is picked arithmetically.
 */
function scatter(
  src: number,
  dst: number,
  start: number,
  pos: number,
  end: number,
  bits: Int32Array,
  oRow: Int32Array,
  oX: Float64Array,
  oCode: Int32Array,
): void {
  let li = dst + start;
  let ri = dst + pos;
  for (let i = src + start, e = src + end; i < e; i++) {
    const r = oRow[i]!;
    const g = marked(bits, r);
    const at = ri + g * (li - ri);
    oRow[at] = r;
    oX[at] = oX[i]!;
    oCode[at] = oCode[i]!;
    li += g;
    ri += g ^ 1;
  }
}

/**
 * scikit-learn's leaf rule before any split search: depth reached, fewer samples (rows) than the
 * split minimum (max(minSamplesSplit, 2 minSamplesLeaf)), or pure (weighted Gini <= EPSILON; class
 * k's count weighs cw[k]).
 */
function isLeafNode(
  depth: number,
  nSamples: number,
  counts: Float64Array,
  cw: Float64Array,
  K: number,
  p: Resolved,
): boolean {
  if (depth >= p.maxDepth || nSamples < p.minSplit) return true;
  let wt = 0;
  let sumSq = 0;
  for (let k = 0; k < K; k++) {
    const c = cw[k]! * counts[k]!;
    wt += c;
    sumSq += c * c;
  }
  return 1 - sumSq / (wt * wt) <= EPSILON;
}

/**
 * Fits one tree. `sampleCounts` null uses every row once; otherwise row i counts sampleCounts[i]
 * times (a bootstrap sample's multiplicities; rows counted 0 are left out, and the node sample
 * counts of minSamplesSplit and minSamplesLeaf count distinct rows, as scikit-learn's).
 * `classWeights` (one per class, > 0; null = none) multiplies each row's count (see TreeBuilder.fit).
 * Randomness (the features drawn per split) comes from `rng` only.
 */
export function fitTree(
  data: TrainingData,
  sampleCounts: Int32Array | null,
  params: TreeParams,
  rng: Rng,
  classWeights: Float64Array | null = null,
): Tree {
  return new TreeBuilder(data).fit(sampleCounts, params, rng, classWeights);
}

/**
 * Throws an Error unless `tree` is a well-formed tree for `nClasses` classes and `nFeatures`
 * features: equal array lengths, pre-order children (index greater than the parent's, so every
 * path ends), valid feature indices, non-NaN thresholds, missing directions 0 or 1 (0 at leaves),
 * nonnegative finite values and leaves with a positive total.
 */
export function validateTree(tree: Tree, nClasses: number, nFeatures: number, label = 'tree'): void {
  const { feature, threshold, left, right, missingLeft, value } = tree;
  const bad = (what: string): never => {
    throw new Error(`${label}: ${what}`);
  };
  if (
    !(feature instanceof Int32Array) ||
    !(threshold instanceof Float64Array) ||
    !(left instanceof Int32Array) ||
    !(right instanceof Int32Array) ||
    !(missingLeft instanceof Uint8Array) ||
    !(value instanceof Float64Array)
  ) {
    bad(
      'feature, left and right must be Int32Arrays, missingLeft a Uint8Array, threshold and value Float64Arrays',
    );
  }
  const nNodes = feature.length;
  if (nNodes < 1) bad('has no nodes');
  if (
    threshold.length !== nNodes ||
    left.length !== nNodes ||
    right.length !== nNodes ||
    missingLeft.length !== nNodes
  ) {
    bad(`feature, threshold, left, right and missingLeft must have the same length (${nNodes})`);
  }
  if (value.length !== nNodes * nClasses) {
    bad(`value must have nNodes × nClasses = ${nNodes * nClasses} entries, got ${value.length}`);
  }
  for (let i = 0; i < nNodes; i++) {
    const f = feature[i]!;
    const l = left[i]!;
    const r = right[i]!;
    const ml = missingLeft[i]!;
    let sum = 0;
    for (let k = 0; k < nClasses; k++) {
      const v = value[i * nClasses + k]!;
      if (!(v >= 0 && v < Number.POSITIVE_INFINITY)) bad(`node ${i}: value ${v} is not a finite number >= 0`);
      sum += v;
    }
    if (ml > 1) bad(`node ${i}: missingLeft ${ml} is not 0 (right) or 1 (left)`);
    if (f === -1) {
      if (l !== -1 || r !== -1) bad(`node ${i}: a leaf (feature -1) must have left and right -1`);
      if (ml !== 0) bad(`node ${i}: a leaf must have missingLeft 0`);
      if (!(sum > 0)) bad(`node ${i}: a leaf must have a positive total value`);
    } else {
      if (!(f >= 0 && f < nFeatures)) bad(`node ${i}: feature ${f} is not in [0, ${nFeatures})`);
      if (!(l > i && l < nNodes)) bad(`node ${i}: left child ${l} is not in (${i}, ${nNodes})`);
      if (!(r > i && r < nNodes)) bad(`node ${i}: right child ${r} is not in (${i}, ${nNodes})`);
      if (Number.isNaN(threshold[i]!)) bad(`node ${i}: threshold is NaN`);
    }
  }
}

/** Depth of the tree: the largest number of edges from the root to a leaf. */
export function treeDepth(tree: Tree): number {
  const depth = new Int32Array(tree.feature.length);
  let max = 0;
  for (let i = 0; i < depth.length; i++) {
    const di = depth[i]!;
    if (di > max) max = di;
    const l = tree.left[i]!;
    if (l >= 0) {
      depth[l] = di + 1;
      depth[tree.right[i]!] = di + 1;
    }
  }
  return max;
}

/**
 * scikit-learn's impurity-based importances of one tree: per feature, the sum over its splits of
 * w·gini(node) - w_left·gini(left) - w_right·gini(right), divided by the root's weight, then
 * normalised to sum 1 (left at zero when the tree has no split or no decrease).
 */
export function treeFeatureImportances(tree: Tree, nClasses: number, nFeatures: number): Float64Array {
  const { feature, left, right, value } = tree;
  const out = new Float64Array(nFeatures);
  // w·gini = w - Σ c² / w
  const weightedGini = (node: number): number => {
    let w = 0;
    let sq = 0;
    for (let k = 0; k < nClasses; k++) {
      const c = value[node * nClasses + k]!;
      w += c;
      sq += c * c;
    }
    return w > 0 ? w - sq / w : 0;
  };
  for (let i = 0; i < feature.length; i++) {
    const f = feature[i]!;
    if (f < 0) continue;
    out[f]! += weightedGini(i) - weightedGini(left[i]!) - weightedGini(right[i]!);
  }
  let root = 0;
  for (let k = 0; k < nClasses; k++) root += value[k]!;
  let sum = 0;
  for (let f = 0; f < nFeatures; f++) {
    out[f] = out[f]! / root;
    sum += out[f]!;
  }
  if (sum > 0) for (let f = 0; f < nFeatures; f++) out[f] = out[f]! / sum;
  return out;
}
