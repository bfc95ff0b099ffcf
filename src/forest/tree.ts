/**
 * CART classification trees with scikit-learn's semantics (Gini, best split among `maxFeatures`
 * features drawn per split, thresholds at midpoints, depth-first growth).
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
 * How it is fast, with work that grows with the features drawn, not with all features: each column
 * is binned once per data set (`binColumns`): a row's bin is the rank of its value among the
 * column's distinct values (the missing ones in one last bin), 1, 2 or 4 bytes per cell. A tree
 * keeps the rows of the current node as a range of one array (scikit-learn's `samples`), and only
 * the features drawn at a node are looked at, each in the cheaper of two exact ways: a histogram of
 * (bin, class) sample counts when the node has many rows for the feature's number of bins, else a
 * radix (or insertion) sort of the node's bins. Either gives the candidate thresholds in increasing
 * order with the class counts left of each, which is all the presorted scan of rows in (value, row)
 * order looked at: a threshold is only tried between two different values, and counts are integer
 * sums, so the order of rows with equal values changes nothing. Without class weights the Gini
 * proxy's sums of squares are kept up to date per row (integers, exact below 2^53, the same numbers
 * as summing over the classes at each threshold, so the same ties). The chosen split then
 * partitions the node's range once (branch free). Buffers live in the TreeBuilder and are reused
 * from tree to tree.
 */
import type { Rng } from '../data/random.js';
import {
  resolveMaxFeatures,
  validateBinnedData,
  validateTrainingData,
  validateTreeParams,
} from './params.js';
import type { BinColumn, Binned, BinnedData, ClassWeight, TrainingData, Tree, TreeParams } from './types.js';

/** scikit-learn's FEATURE_THRESHOLD: values closer than this are treated as equal. */
const FEATURE_THRESHOLD = 1e-7;
const TWO_53 = 2 ** 53;
/** scikit-learn's EPSILON (float64 machine epsilon): a node with Gini at or below it is pure. */
const EPSILON = 2.220446049250313e-16;
/** Largest sample total whose squared class counts are exact doubles (W² < 2^53). */
const EXACT_SQUARES = Math.floor(Math.sqrt(TWO_53 - 1));
/** Nodes at most this large sort their bins by insertion. */
const INSERTION_MAX = 24;

/**
 * Bins each column of `data` (which must be valid: see validateTrainingData): a stable radix
 * argsort, then one pass giving equal values (-0 and +0 alike) the same bin.
 */
export function binColumns(data: Pick<TrainingData, 'columns'>): Binned {
  const d = data.columns.length;
  const n = data.columns[0]?.length ?? 0;
  let sorter: RadixArgsort | null = null;
  const rank = new Int32Array(n);
  const firstRow = new Int32Array(Math.max(SMALL_RANGE, n));
  const bins: BinColumn[] = [];
  const values: Float64Array[] = [];
  for (let f = 0; f < d; f++) {
    const col = data.columns[f]!;
    const small = rankSmallIntegers(col, rank, firstRow);
    if (small !== null) {
      const V = small.length;
      const out = V < 255 ? new Uint8Array(n) : V < 65535 ? new Uint16Array(n) : new Int32Array(n);
      out.set(rank);
      bins.push(out);
      values.push(small);
      continue;
    }
    sorter ??= new RadixArgsort(n);
    const idx = sorter.argsort(col);
    const distinct: number[] = [];
    let nNaN = 0;
    for (let i = 0; i < n; i++) {
      const r = idx[i]!;
      const v = col[r]!;
      if (Number.isNaN(v)) {
        nNaN++;
        continue;
      }
      if (distinct.length === 0 || v !== distinct[distinct.length - 1]) distinct.push(v);
      rank[r] = distinct.length - 1;
    }
    const V = distinct.length;
    if (nNaN > 0) for (let i = n - nNaN; i < n; i++) rank[idx[i]!] = V;
    const out = V < 255 ? new Uint8Array(n) : V < 65535 ? new Uint16Array(n) : new Int32Array(n);
    out.set(rank);
    bins.push(out);
    values.push(Float64Array.from(distinct));
  }
  return { nRows: n, nFeatures: d, bins, values };
}

/** Integer columns spanning at most max(SMALL_RANGE, rows) values are ranked by counting. */
const SMALL_RANGE = 256;

/**
 * binColumns' ranks for a column of integers (and NaN) over a small range (category codes, counts,
 * pixel values), by counting instead of sorting: into rank (the missing values get the number of
 * distinct values), returning the distinct values, each as its first row holds it (so -0 or +0, as
 * the sort's first row of that value); null for any other column (then sorted). firstRow is
 * scratch of at least max(SMALL_RANGE, n) entries.
 */
function rankSmallIntegers(col: Float64Array, rank: Int32Array, firstRow: Int32Array): Float64Array | null {
  const n = col.length;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = col[i]!;
    if (Number.isNaN(v)) continue;
    if (v !== Math.floor(v)) return null;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  // Within the range, v - lo is exact (the values are integers less than the range apart).
  if (!(lo <= hi && hi - lo < Math.max(SMALL_RANGE, n))) return null; // lo > hi: no non-missing value
  const range = hi - lo + 1;
  firstRow.fill(0, 0, range);
  for (let i = 0; i < n; i++) {
    const v = col[i]!;
    if (Number.isNaN(v)) continue;
    const j = v - lo;
    if (firstRow[j] === 0) firstRow[j] = i + 1;
  }
  let V = 0;
  for (let j = 0; j < range; j++) if (firstRow[j] !== 0) V++;
  const distinct = new Float64Array(V);
  V = 0;
  for (let j = 0; j < range; j++) {
    const r = firstRow[j]!;
    if (r === 0) continue;
    distinct[V] = col[r - 1]!;
    firstRow[j] = V++;
  }
  for (let i = 0; i < n; i++) {
    const v = col[i]!;
    rank[i] = Number.isNaN(v) ? V : firstRow[v - lo]!;
  }
  return distinct;
}

/**
 * The binned columns of training data, validated (a ForestParamError otherwise): as given, or
 * binned here from columns.
 */
export function validBinned(data: TrainingData | BinnedData): Binned {
  if ('binned' in data) {
    validateBinnedData(data);
    return data.binned;
  }
  validateTrainingData(data);
  return binColumns(data);
}

/**
 * Rows [r0, r1) of binned columns back as numbers, row-major (row r's feature f at
 * out[(r - r0) * nFeatures + f]; NaN where missing): exactly the values that were binned, but for
 * -0, which comes back as +0 or -0 as its bin does (the same for every comparison).
 */
export function unbinRows(binned: Binned, r0: number, r1: number, out: Float64Array): void {
  const d = binned.nFeatures;
  for (let f = 0; f < d; f++) {
    const bins = binned.bins[f]!;
    const vals = binned.values[f]!;
    const V = vals.length;
    for (let r = r0, at = f; r < r1; r++, at += d) {
      const b = bins[r]!;
      out[at] = b === V ? Number.NaN : vals[b]!;
    }
  }
}

/** Feature f of binned columns back as numbers, one per row (NaN where missing; see unbinRows). */
export function unbinColumn(binned: Binned, f: number): Float64Array {
  const bins = binned.bins[f]!;
  const vals = binned.values[f]!;
  const V = vals.length;
  const out = new Float64Array(binned.nRows);
  for (let r = 0; r < out.length; r++) {
    const b = bins[r]!;
    out[r] = b === V ? Number.NaN : vals[b]!;
  }
  return out;
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

/** Growable typed arrays for one tree's nodes and the depth-first stack, reused from tree to tree. */
class NodeBuffers {
  capacity = 0;
  feature = new Int32Array(0);
  threshold = new Float64Array(0);
  left = new Int32Array(0);
  right = new Int32Array(0);
  missingLeft = new Uint8Array(0);
  value = new Float64Array(0);

  constructor(private readonly K: number) {
    this.grow(64);
  }

  grow(need: number): void {
    if (need <= this.capacity) return;
    const cap = Math.max(need, 2 * this.capacity);
    const more = <T extends Int32Array | Float64Array | Uint8Array>(a: T, size: number): T => {
      const b = new (a.constructor as { new (n: number): T })(size);
      b.set(a);
      return b;
    };
    this.feature = more(this.feature, cap);
    this.threshold = more(this.threshold, cap);
    this.left = more(this.left, cap);
    this.right = more(this.right, cap);
    this.missingLeft = more(this.missingLeft, cap);
    this.value = more(this.value, cap * this.K);
    this.capacity = cap;
  }
}

/**
 * Fits trees on one data set, reusing the binned columns and every scratch buffer. Not reentrant:
 * one fit at a time per builder.
 *
 * Layout: `rows[0, m)` holds the m rows of nonzero count of the current tree; a node is a range
 * [start, end) of it (its order within a node is of no consequence). A row's class and count travel
 * packed in `code[row]` = (count << shift) | class. The depth-first stack keeps per pending node its
 * range, depth, parent, side, class counts and the features known to be constant in it.
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
  private readonly bins: readonly BinColumn[];
  private readonly binValues: readonly Float64Array[];
  /** Per feature: 1 when some row of the data set has it missing (NaN). */
  private readonly hasMissing: Uint8Array;
  /** Sample count per row of the tree being fitted. */
  private readonly counts: Int32Array;
  /** The bootstrap draws of the tree being fitted. */
  private readonly indices: Int32Array;
  /** (count << shift) | class per row of the tree being fitted. */
  private readonly code: Int32Array;
  /** The current tree's rows of nonzero count; a node is a range of it. */
  private readonly rows: Int32Array;
  // Sort scratch: a node's bins and codes, and the radix sort's second buffers.
  private readonly keys: Int32Array;
  private readonly codes: Int32Array;
  private readonly keys2: Int32Array;
  private readonly codes2: Int32Array;
  private readonly radixCounts = new Int32Array(2048);
  /** Histogram scratch: (bin, class) sample counts and rows per bin, zero between uses. */
  private readonly hist: Int32Array;
  private readonly binRows: Int32Array;
  /** A histogram is used for features with at most this many bins (missing included). */
  private readonly histBins: number;
  private readonly features: Int32Array;
  /** The current node's flags: 1 = feature known to be constant in the node. */
  private readonly constant: Uint8Array;
  /** The current tree's weight per class (all 1 without class weights). */
  private readonly cw: Float64Array;
  /** The current tree has class weights: the weighted scans are used. */
  private weighted = false;
  /** Unweighted and the sample total's squares are exact: the incremental scans are used. */
  private incremental = true;
  /** The tree's sample total fits the histogram's Int32 counts. */
  private histOk = true;
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
  /** A feature scan's best split: proxy, left rows (non-missing), values either side, bin left of it. */
  private readonly scan = new Float64Array(5);
  // The best split of the current node: feature, its non-missing rows going left, threshold, last
  // bin going left, the node's missing rows of the feature and where they go (1 = left).
  private bestFeature = -1;
  private bestPos = -1;
  private bestThreshold = 0;
  private bestBin = -1;
  private bestNMiss = 0;
  private bestMissingLeft = 0;
  private readonly nodes: NodeBuffers;
  // The depth-first stack: start, end, depth, parent, isLeft per entry; class counts; constant flags.
  private stackInt = new Int32Array(5 * 64);
  private stackCounts: Float64Array;
  private stackConstant: Uint8Array;

  /**
   * Validates `data` (throws a ForestParamError): columns, binned here, or columns already binned
   * (binColumns), which several builders of one data set can share.
   */
  constructor(data: TrainingData | BinnedData) {
    const pre = validBinned(data);
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
    this.bins = pre.bins;
    this.binValues = pre.values;
    this.hasMissing = new Uint8Array(d);
    // The missing values' bin is V; includes searches natively (no loop to warm up).
    for (let f = 0; f < d; f++) if (pre.bins[f]!.includes(pre.values[f]!.length)) this.hasMissing[f] = 1;
    this.counts = new Int32Array(n);
    this.indices = new Int32Array(n);
    this.code = new Int32Array(n);
    this.rows = new Int32Array(n);
    this.keys = new Int32Array(n);
    this.codes = new Int32Array(n);
    this.keys2 = new Int32Array(n);
    this.codes2 = new Int32Array(n);
    // Histograms for features of few bins relative to the rows (a node that large fills them).
    let maxBins = 0;
    for (let f = 0; f < d; f++) {
      const b = pre.values[f]!.length + 1;
      if (b * K <= Math.max(4096, n) && b > maxBins) maxBins = b;
    }
    this.histBins = maxBins;
    this.hist = new Int32Array(maxBins * K);
    this.binRows = new Int32Array(maxBins + 1);
    this.features = new Int32Array(d);
    this.constant = new Uint8Array(d);
    this.cw = new Float64Array(K).fill(1);
    this.cl = new Float64Array(K);
    this.bestCl = new Float64Array(K);
    this.rightCl = new Float64Array(K);
    this.total = new Float64Array(K);
    this.clMiss = new Float64Array(K);
    this.nodes = new NodeBuffers(K);
    this.stackCounts = new Float64Array(64 * K);
    this.stackConstant = new Uint8Array(64 * d);
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

  /** Makes room for `entries` stack entries. */
  private stackRoom(entries: number): void {
    if (5 * entries <= this.stackInt.length) return;
    const cap = Math.max(entries, 2 * (this.stackInt.length / 5));
    const si = new Int32Array(5 * cap);
    si.set(this.stackInt);
    this.stackInt = si;
    const sc = new Float64Array(cap * this.nClasses);
    sc.set(this.stackCounts);
    this.stackCounts = sc;
    const sk = new Uint8Array(cap * this.nFeatures);
    sk.set(this.stackConstant);
    this.stackConstant = sk;
  }

  /** Grows a tree on the sample counts in this.counts and the class weights in this.cw. */
  private grow(p: Resolved, rng: Rng): Tree {
    const n = this.nRows;
    const d = this.nFeatures;
    const K = this.nClasses;
    const { counts, shift, y, code, rows, total, cw, constant, nodes } = this;

    // The rows of nonzero count, in row order, and their packed codes.
    let m = 0;
    let samples = 0;
    total.fill(0);
    for (let i = 0; i < n; i++) {
      const c = counts[i]!;
      code[i] = (c << shift) | y[i]!;
      rows[m] = i;
      m += -c >>> 31; // 1 when c > 0: branch free
      samples += c;
      total[y[i]!]! += c;
    }
    if (m === 0) throw new Error('no row has a positive sample count');
    this.incremental = !this.weighted && samples <= EXACT_SQUARES;
    // The histogram's Int32 counts hold any sum of this tree's samples.
    this.histOk = samples <= 0x7fffffff;

    let nNodes = 0;
    let sp = 0;
    this.stackRoom(1);
    const si0 = this.stackInt;
    si0[0] = 0;
    si0[1] = m;
    si0[2] = 0;
    si0[3] = -1;
    si0[4] = 0;
    this.stackCounts.set(total, 0);
    this.stackConstant.fill(0, 0, d);
    sp = 1;

    while (sp > 0) {
      sp--;
      const { stackInt, stackCounts, stackConstant } = this;
      const start = stackInt[5 * sp]!;
      const end = stackInt[5 * sp + 1]!;
      const depth = stackInt[5 * sp + 2]!;
      const parent = stackInt[5 * sp + 3]!;
      const isLeft = stackInt[5 * sp + 4]!;
      for (let k = 0; k < K; k++) total[k] = stackCounts[sp * K + k]!;
      for (let f = 0, at = sp * d; f < d; f++, at++) constant[f] = stackConstant[at]!;
      const id = nNodes++;
      nodes.grow(nNodes);
      for (let k = 0; k < K; k++) nodes.value[id * K + k] = cw[k]! * total[k]!;
      nodes.feature[id] = -1;
      nodes.threshold[id] = 0;
      nodes.left[id] = -1;
      nodes.right[id] = -1;
      nodes.missingLeft[id] = 0;
      if (parent >= 0) {
        if (isLeft === 1) nodes.left[parent] = id;
        else nodes.right[parent] = id;
      }
      if (isLeafNode(depth, end - start, total, cw, K, p)) continue;
      let wt = 0;
      for (let k = 0; k < K; k++) wt += cw[k]! * total[k]!;
      if (!this.findSplit(start, end, wt, p, rng)) continue;

      const nMiss = this.bestNMiss;
      const missLeft = this.bestMissingLeft;
      // The left child: the non-missing rows left of the threshold, and the missing rows if they go left.
      const mid = start + this.bestPos + (missLeft === 1 ? nMiss : 0);
      nodes.feature[id] = this.bestFeature;
      nodes.threshold[id] = this.bestThreshold;
      nodes.missingLeft[id] = missLeft;
      const { bestCl, rightCl } = this;
      for (let k = 0; k < K; k++) rightCl[k] = total[k]! - bestCl[k]!;
      // The node's rows need reordering only for a child that will be split itself.
      const leftLeaf = isLeafNode(depth + 1, mid - start, bestCl, cw, K, p);
      const rightLeaf = isLeafNode(depth + 1, end - mid, rightCl, cw, K, p);
      if (!leftLeaf || !rightLeaf) {
        const bf = this.bestFeature;
        const nanLeft = missLeft === 1 && nMiss > 0 ? this.binValues[bf]!.length : -1;
        const got = partitionRows(rows, this.keys2, start, end, this.bins[bf]!, this.bestBin, nanLeft);
        if (got !== mid)
          throw new Error(`internal error: split of [${start}, ${end}) gave ${got}, not ${mid}`);
      }
      // Right child pushed first so that the left one is grown first (pre-order, as scikit-learn).
      this.stackRoom(sp + 2);
      const si = this.stackInt;
      si[5 * sp] = mid;
      si[5 * sp + 1] = end;
      si[5 * sp + 2] = depth + 1;
      si[5 * sp + 3] = id;
      si[5 * sp + 4] = 0;
      copyInto(rightCl, this.stackCounts, sp * K, K);
      copyFlags(constant, this.stackConstant, sp * d, d);
      sp++;
      si[5 * sp] = start;
      si[5 * sp + 1] = mid;
      si[5 * sp + 2] = depth + 1;
      si[5 * sp + 3] = id;
      si[5 * sp + 4] = 1;
      copyInto(bestCl, this.stackCounts, sp * K, K);
      copyFlags(constant, this.stackConstant, sp * d, d);
      sp++;
    }

    return {
      feature: nodes.feature.slice(0, nNodes),
      threshold: nodes.threshold.slice(0, nNodes),
      left: nodes.left.slice(0, nNodes),
      right: nodes.right.slice(0, nNodes),
      missingLeft: nodes.missingLeft.slice(0, nNodes),
      value: nodes.value.slice(0, nNodes * K),
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
    const K = this.nClasses;
    const { features, constant, cl, clMiss, total, cw, scan, hasMissing, bestCl } = this;
    const d = this.nFeatures;
    const n = end - start;
    for (let f = 0; f < d; f++) features[f] = f;
    let available = d;
    let visited = 0;
    let constants = 0;
    let best = Number.NEGATIVE_INFINITY;
    let bestFeature = -1;
    let bestPos = -1;
    let bestLo = 0;
    let bestHi = 0;
    let bestBin = -1;
    let bestNMiss = 0;
    let bestMissingLeft = 0;
    // Left rows allowed by minSamplesLeaf (missing rows right): [lo, hi].
    const lo = p.minLeaf;
    const hi = n - p.minLeaf;

    while (available > 0 && (visited < p.maxFeatures || visited <= constants)) {
      visited++;
      const j = Math.floor(rng.uniform() * available);
      const f = features[j]!;
      available--;
      features[j] = features[available]!;
      features[available] = f;
      if (constant[f] === 1) {
        constants++;
        continue;
      }
      const vals = this.binValues[f]!;
      const V = vals.length; // the missing values' bin
      const useHist = this.histOk && V + 1 <= this.histBins && n * 8 >= (V + 1) * (K + 8);
      const view = useHist
        ? this.histogram(f, start, end, V)
        : this.sortBins(f, start, end, V, hasMissing[f] === 1);
      if (view < 0) {
        // No non-missing value, or all within FEATURE_THRESHOLD of each other.
        constant[f] = 1;
        constants++;
        continue;
      }
      const nMiss = this.viewMiss;
      const nNM = n - nMiss;
      for (let k = 0; k < K; k++) clMiss[k] = 0;
      let wMiss = 0;
      if (nMiss > 0) wMiss = this.missingCounts(useHist, V, nNM);
      // Missing values right (the right child has n - pos rows), then left (nNM - pos rows): the
      // thresholds run over the non-missing values only.
      for (let goLeft = 0; goLeft <= (nMiss > 0 ? 1 : 0); goLeft++) {
        const lo2 = goLeft === 1 ? lo - nMiss : lo;
        const hi2 = goLeft === 1 ? nNM - p.minLeaf : hi;
        for (let k = 0; k < K; k++) cl[k] = goLeft === 1 ? clMiss[k]! : 0;
        const found = useHist
          ? this.scanHistogram(vals, lo2, hi2, goLeft * wMiss, wt, best)
          : this.scanSorted(vals, nNM, lo2, hi2, goLeft * wMiss, wt, best);
        if (found) {
          best = scan[0]!;
          bestFeature = f;
          bestPos = scan[1]!;
          bestLo = scan[2]!;
          bestHi = scan[3]!;
          bestBin = scan[4]!;
          bestNMiss = nMiss;
          bestMissingLeft = goLeft;
        }
      }
      if (useHist) this.clearHistogram(V);
      // Every non-missing value left, the missing ones right (threshold +Infinity).
      if (nMiss > 0 && nNM >= p.minLeaf && nMiss >= p.minLeaf) {
        for (let k = 0; k < K; k++) cl[k] = total[k]! - clMiss[k]!;
        const proxy = splitProxy(cl, total, cw, this.weighted, wt - wMiss, wt);
        if (proxy > best) {
          best = proxy;
          bestFeature = f;
          bestPos = nNM;
          bestLo = Number.POSITIVE_INFINITY;
          bestHi = Number.POSITIVE_INFINITY;
          bestBin = V - 1;
          bestNMiss = nMiss;
          bestMissingLeft = 0;
          copyInto(cl, bestCl, 0, cl.length);
        }
      }
    }
    if (bestFeature < 0) return false;
    this.bestFeature = bestFeature;
    this.bestPos = bestPos;
    this.bestBin = bestBin;
    this.bestNMiss = bestNMiss;
    let t = bestLo / 2 + bestHi / 2;
    if (t === bestHi || t === Number.POSITIVE_INFINITY || t === Number.NEGATIVE_INFINITY) t = bestLo;
    this.bestThreshold = t;
    // No missing value seen: they will go to the child with more rows (a tie goes right).
    this.bestMissingLeft = bestNMiss === 0 ? (bestPos > n - bestPos ? 1 : 0) : bestMissingLeft;
    return true;
  }

  /** Missing rows of the current view, counted per class into clMiss; returns their samples. */
  private viewMiss = 0;
  private missingCounts(useHist: boolean, V: number, nNM: number): number {
    const K = this.nClasses;
    const { clMiss, shift, mask } = this;
    let w = 0;
    if (useHist) {
      for (let k = 0; k < K; k++) {
        const c = this.hist[V * K + k]!;
        clMiss[k] = c;
        w += c;
      }
      return w;
    }
    const codes = this.sortedCodes;
    for (let i = nNM, e = nNM + this.viewMiss; i < e; i++) {
      const code = codes[i]!;
      const c = code >>> shift;
      clMiss[code & mask]! += c;
      w += c;
    }
    return w;
  }

  // The sorted view of the current feature: its bins and codes, in increasing bin order.
  private sortedKeys: Int32Array = new Int32Array(0);
  private sortedCodes: Int32Array = new Int32Array(0);
  // The histogram view: first and last non-empty non-missing bins.
  private histFirst = 0;
  private histLast = 0;

  /**
   * Fills the histogram of feature f over [start, end): (bin, class) sample counts and rows per
   * bin. Returns -1 when f is constant in the node (the histogram is then cleared), else 0.
   */
  private histogram(f: number, start: number, end: number, V: number): number {
    const { hist, binRows } = this;
    histogramFill(
      this.rows,
      start,
      end,
      this.bins[f]!,
      this.code,
      this.shift,
      this.mask,
      this.nClasses,
      hist,
      binRows,
    );
    this.viewMiss = binRows[V]!;
    let first = 0;
    while (first < V && binRows[first] === 0) first++;
    let last = V - 1;
    while (last > first && binRows[last] === 0) last--;
    const vals = this.binValues[f]!;
    if (first >= V || vals[last]! <= vals[first]! + FEATURE_THRESHOLD) {
      this.histFirst = first;
      this.histLast = V;
      this.clearHistogram(V);
      return -1;
    }
    this.histFirst = first;
    this.histLast = last;
    return 0;
  }

  /** Zeroes the histogram's bins [histFirst, histLast] and the missing bin V. */
  private clearHistogram(V: number): void {
    const K = this.nClasses;
    const from = Math.min(this.histFirst, V);
    this.hist.fill(0, from * K, (this.histLast + 1) * K);
    this.binRows.fill(0, from, this.histLast + 1);
    this.hist.fill(0, V * K, (V + 1) * K);
    this.binRows[V] = 0;
  }

  /**
   * Sorts the node's rows by their bin of feature f (the missing ones last). Returns -1 when f is
   * constant in the node, else 0; the view is in sortedKeys/sortedCodes [0, n).
   */
  private sortBins(f: number, start: number, end: number, V: number, mayMiss: boolean): number {
    const n = end - start;
    const { keys, codes, scan } = this;
    gatherBins(this.rows, start, end, this.bins[f]!, this.code, V, keys, codes, scan);
    const lo = scan[0]!;
    const hi = scan[1]!;
    this.viewMiss = mayMiss ? scan[2]! : 0;
    const vals = this.binValues[f]!;
    if (hi < 0 || vals[hi]! <= vals[lo]! + FEATURE_THRESHOLD) return -1;
    const bits = 32 - Math.clz32(V);
    if (n <= INSERTION_MAX) {
      insertionSortPairs(keys, codes, n);
      this.sortedKeys = keys;
      this.sortedCodes = codes;
    } else if (radixSortPairs(keys, codes, this.keys2, this.codes2, n, bits, this.radixCounts)) {
      this.sortedKeys = this.keys2;
      this.sortedCodes = this.codes2;
    } else {
      this.sortedKeys = keys;
      this.sortedCodes = codes;
    }
    return 0;
  }

  /** The threshold scan over the histogram view (see scanHistogramSum). */
  private scanHistogram(
    vals: Float64Array,
    lo: number,
    hi: number,
    wl0: number,
    wt: number,
    best: number,
  ): boolean {
    const { hist, binRows, cl, total, scan, bestCl } = this;
    const a = this.histFirst;
    const b = this.histLast;
    return this.incremental
      ? scanHistogramSum(hist, binRows, vals, a, b, lo, hi, wl0, wt, best, cl, total, scan, bestCl)
      : scanHistogramWeighted(hist, binRows, vals, a, b, lo, hi, best, cl, total, this.cw, scan, bestCl);
  }

  /** The threshold scan over the sorted view's nNM non-missing rows (see scanSortedSum). */
  private scanSorted(
    vals: Float64Array,
    nNM: number,
    lo: number,
    hi: number,
    wl0: number,
    wt: number,
    best: number,
  ): boolean {
    const { sortedKeys: keys, sortedCodes: codes, shift, mask, cl, total, scan, bestCl } = this;
    return this.incremental
      ? scanSortedSum(keys, codes, vals, nNM, lo, hi, wl0, wt, best, shift, mask, cl, total, scan, bestCl)
      : scanSortedWeighted(
          keys,
          codes,
          vals,
          nNM,
          lo,
          hi,
          best,
          shift,
          mask,
          cl,
          total,
          this.cw,
          scan,
          bestCl,
        );
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
 * Histogram of the rows [start, end) of `rows` by their bin of one feature: hist[bin * K + class]
 * sums their counts, binRows[bin] counts them. Both must be zero on entry where these rows fall.
 */
function histogramFill(
  rows: Int32Array,
  start: number,
  end: number,
  bins: BinColumn,
  code: Int32Array,
  shift: number,
  mask: number,
  K: number,
  hist: Int32Array,
  binRows: Int32Array,
): void {
  for (let i = start; i < end; i++) {
    const r = rows[i]!;
    const b = bins[r]!;
    const c = code[r]!;
    hist[b * K + (c & mask)]! += c >>> shift;
    binRows[b]!++;
  }
}

/**
 * Copies the bins and codes of the rows [start, end) of `rows` to keys and codes [0, n); out[0] and
 * out[1] get the smallest and largest non-missing bin (-1 when there is none), out[2] the number
 * of missing ones (bin V).
 */
function gatherBins(
  rows: Int32Array,
  start: number,
  end: number,
  bins: BinColumn,
  code: Int32Array,
  V: number,
  keys: Int32Array,
  codes: Int32Array,
  out: Float64Array,
): void {
  let lo = V;
  let hi = -1;
  let nMiss = 0;
  for (let i = start, j = 0; i < end; i++, j++) {
    const r = rows[i]!;
    const b = bins[r]!;
    keys[j] = b;
    codes[j] = code[r]!;
    if (b === V) nMiss++;
    else {
      if (b < lo) lo = b;
      if (b > hi) hi = b;
    }
  }
  out[0] = lo;
  out[1] = hi;
  out[2] = nMiss;
}

/** Sorts keys [0, n) increasingly, moving codes alike (insertion sort: small n). */
function insertionSortPairs(keys: Int32Array, codes: Int32Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    const c = codes[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      codes[j + 1] = codes[j]!;
      j--;
    }
    keys[j + 1] = k;
    codes[j + 1] = c;
  }
}

/**
 * Stable LSD radix sort of keys [0, n) (nonnegative, below 2^bits), moving codes alike, through
 * keys2/codes2. Digits of at most 11 bits, fewer for small n; a pass whose digit is the same for
 * every key is skipped. Returns true when the result is in keys2/codes2.
 */
function radixSortPairs(
  keys: Int32Array,
  codes: Int32Array,
  keys2: Int32Array,
  codes2: Int32Array,
  n: number,
  bits: number,
  counts: Int32Array,
): boolean {
  const want = Math.min(11, Math.max(4, 31 - Math.clz32(n)));
  const passes = Math.max(1, Math.ceil(bits / want));
  const digit = Math.ceil(bits / passes);
  const size = 1 << digit;
  const dmask = size - 1;
  let ka = keys;
  let ca = codes;
  let kb = keys2;
  let cb = codes2;
  let swapped = false;
  for (let pass = 0, shift = 0; pass < passes; pass++, shift += digit) {
    counts.fill(0, 0, size);
    for (let i = 0; i < n; i++) counts[(ka[i]! >>> shift) & dmask]!++;
    if (counts[(ka[0]! >>> shift) & dmask] === n) continue;
    let sum = 0;
    for (let b = 0; b < size; b++) {
      const c = counts[b]!;
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = ka[i]!;
      const at = counts[(k >>> shift) & dmask]!++;
      kb[at] = k;
      cb[at] = ca[i]!;
    }
    const tk = ka;
    ka = kb;
    kb = tk;
    const tc = ca;
    ca = cb;
    cb = tc;
    swapped = !swapped;
  }
  return swapped;
}

/**
 * The threshold scan over a node's rows sorted by bin (keys, codes [0, nNM), the non-missing
 * ones), without class weights: for the split with the largest Gini proxy Σ cl²/wl + Σ cr²/wr above
 * `best` with pos (the rows left) in [lo, hi], tried between two rows whose values differ by more
 * than FEATURE_THRESHOLD. `cl` and `wl0` start as the class counts and count of the rows that go
 * left whatever the position (the missing rows, when they go left; else zeros). The sums of squares
 * follow each row (integers: exact, the same as summing over the classes). When one is found,
 * writes proxy, pos, the values either side and the bin left of it to `out`, the left class counts
 * to `bestCl`, and returns true.
 */
function scanSortedSum(
  keys: Int32Array,
  codes: Int32Array,
  vals: Float64Array,
  nNM: number,
  lo: number,
  hi: number,
  wl0: number,
  wt: number,
  best: number,
  shift: number,
  mask: number,
  cl: Float64Array,
  total: Float64Array,
  out: Float64Array,
  bestCl: Float64Array,
): boolean {
  const K = cl.length;
  let sl = 0;
  let sr = 0;
  for (let k = 0; k < K; k++) {
    const a = cl[k]!;
    const b = total[k]! - a;
    sl += a * a;
    sr += b * b;
  }
  let found = false;
  let wl = wl0;
  let kv = keys[0]!;
  let xv = vals[kv]!;
  for (let i = 0, last = nNM - 1; i < last; i++) {
    const code = codes[i]!;
    const c = code >>> shift;
    const k = code & mask;
    const a = cl[k]!;
    cl[k] = a + c;
    wl += c;
    sl += c * (2 * a + c);
    sr += c * (c - 2 * (total[k]! - a));
    const kn = keys[i + 1]!;
    if (kn !== kv) {
      const xn = vals[kn]!;
      if (xn > xv + FEATURE_THRESHOLD) {
        const pos = i + 1;
        if (pos >= lo && pos <= hi) {
          const proxy = sl / wl + sr / (wt - wl);
          if (proxy > best) {
            best = proxy;
            found = true;
            keepSplit(out, proxy, pos, xv, xn, kv, cl, bestCl);
          }
        }
      }
      xv = xn;
      kv = kn;
    }
  }
  return found;
}

/**
 * Records a scan's best split so far: proxy, position, the values either side and the key (sort key
 * or bin) at its left, in `out`; its left class counts in `bestCl`. Runs only on an improvement.
 */
function keepSplit(
  out: Float64Array,
  proxy: number,
  pos: number,
  xv: number,
  xn: number,
  key: number,
  cl: Float64Array,
  bestCl: Float64Array,
): void {
  out[0] = proxy;
  out[1] = pos;
  out[2] = xv;
  out[3] = xn;
  out[4] = key;
  copyInto(cl, bestCl, 0, cl.length);
}

/**
 * scanSortedSum with class weights (or sample totals too large for exact squares): `cl` and
 * `total` count samples, class k's counts weigh cw[k] each in the proxy, summed over the classes
 * at each threshold.
 */
function scanSortedWeighted(
  keys: Int32Array,
  codes: Int32Array,
  vals: Float64Array,
  nNM: number,
  lo: number,
  hi: number,
  best: number,
  shift: number,
  mask: number,
  cl: Float64Array,
  total: Float64Array,
  cw: Float64Array,
  out: Float64Array,
  bestCl: Float64Array,
): boolean {
  let found = false;
  let kv = keys[0]!;
  let xv = vals[kv]!;
  for (let i = 0, last = nNM - 1; i < last; i++) {
    const code = codes[i]!;
    cl[code & mask]! += code >>> shift;
    const kn = keys[i + 1]!;
    if (kn !== kv) {
      const xn = vals[kn]!;
      if (xn > xv + FEATURE_THRESHOLD) {
        const pos = i + 1;
        if (pos >= lo && pos <= hi) {
          const proxy = weightedProxy(cl, total, cw);
          if (proxy > best) {
            best = proxy;
            found = true;
            keepSplit(out, proxy, pos, xv, xn, kv, cl, bestCl);
          }
        }
      }
      xv = xn;
      kv = kn;
    }
  }
  return found;
}

/** The weighted Gini proxy of a split with left class counts `cl` (the weighted scans' formula). */
function weightedProxy(cl: Float64Array, total: Float64Array, cw: Float64Array): number {
  const K = cl.length;
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
  return sl / wl + sr / wr;
}

/**
 * scanSortedSum over a histogram: bins [first, last] (non-empty at both ends) of hist (K class
 * counts per bin) and binRows (rows per bin); a threshold is tried between two consecutive
 * non-empty bins.
 */
function scanHistogramSum(
  hist: Int32Array,
  binRows: Int32Array,
  vals: Float64Array,
  first: number,
  last: number,
  lo: number,
  hi: number,
  wl0: number,
  wt: number,
  best: number,
  cl: Float64Array,
  total: Float64Array,
  out: Float64Array,
  bestCl: Float64Array,
): boolean {
  const K = cl.length;
  let sl = 0;
  let sr = 0;
  for (let k = 0; k < K; k++) {
    const a = cl[k]!;
    const b = total[k]! - a;
    sl += a * a;
    sr += b * b;
  }
  let found = false;
  let wl = wl0;
  let pos = 0;
  let b = first;
  let xv = vals[b]!;
  while (b < last) {
    pos += binRows[b]!;
    for (let k = 0, at = b * K; k < K; k++, at++) {
      const c = hist[at]!;
      if (c === 0) continue;
      const a = cl[k]!;
      cl[k] = a + c;
      wl += c;
      sl += c * (2 * a + c);
      sr += c * (c - 2 * (total[k]! - a));
    }
    let bn = b + 1;
    while (binRows[bn] === 0) bn++;
    const xn = vals[bn]!;
    if (xn > xv + FEATURE_THRESHOLD && pos >= lo && pos <= hi) {
      const proxy = sl / wl + sr / (wt - wl);
      if (proxy > best) {
        best = proxy;
        found = true;
        keepSplit(out, proxy, pos, xv, xn, b, cl, bestCl);
      }
    }
    xv = xn;
    b = bn;
  }
  return found;
}

/** scanHistogramSum with class weights (see scanSortedWeighted). */
function scanHistogramWeighted(
  hist: Int32Array,
  binRows: Int32Array,
  vals: Float64Array,
  first: number,
  last: number,
  lo: number,
  hi: number,
  best: number,
  cl: Float64Array,
  total: Float64Array,
  cw: Float64Array,
  out: Float64Array,
  bestCl: Float64Array,
): boolean {
  const K = cl.length;
  let found = false;
  let pos = 0;
  let b = first;
  let xv = vals[b]!;
  while (b < last) {
    pos += binRows[b]!;
    for (let k = 0, at = b * K; k < K; k++, at++) cl[k]! += hist[at]!;
    let bn = b + 1;
    while (binRows[bn] === 0) bn++;
    const xn = vals[bn]!;
    if (xn > xv + FEATURE_THRESHOLD && pos >= lo && pos <= hi) {
      const proxy = weightedProxy(cl, total, cw);
      if (proxy > best) {
        best = proxy;
        found = true;
        keepSplit(out, proxy, pos, xv, xn, b, cl, bestCl);
      }
    }
    xv = xn;
    b = bn;
  }
  return found;
}

/** to[at, at + n) = from[0, n): a plain loop, cheaper than TypedArray.set for a few values. */
function copyInto(from: Float64Array, to: Float64Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) to[at + i] = from[i]!;
}

/** copyInto for flags. */
function copyFlags(from: Uint8Array, to: Uint8Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) to[at + i] = from[i]!;
}

/**
 * Partitions the rows [start, end) of `rows` by their bin of the split feature: bins up to
 * `lastLeft`, and the missing bin when it equals `nanLeft` (-1 = missing values go right), first.
 * Stable and branch free (the right rows go through `tmp`). Returns where the right rows begin.
 */
function partitionRows(
  rows: Int32Array,
  tmp: Int32Array,
  start: number,
  end: number,
  bins: BinColumn,
  lastLeft: number,
  nanLeft: number,
): number {
  let li = start;
  let ri = 0;
  for (let i = start; i < end; i++) {
    const r = rows[i]!;
    const b = bins[r]!;
    const g = (b <= lastLeft ? 1 : 0) | (b === nanLeft ? 1 : 0);
    rows[li] = r;
    tmp[ri] = r;
    li += g;
    ri += g ^ 1;
  }
  for (let j = 0; j < ri; j++) rows[li + j] = tmp[j]!;
  return li;
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
 * nonnegative finite values and leaves with a positive total (or, with `zeroWeightLeaves`, any total:
 * TreeSHAP reads such hand-built trees, whose leaves never predict).
 */
export function validateTree(
  tree: Tree,
  nClasses: number,
  nFeatures: number,
  label = 'tree',
  options: { zeroWeightLeaves?: boolean } = {},
): void {
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
      if (!(sum > 0) && !options.zeroWeightLeaves) bad(`node ${i}: a leaf must have a positive total value`);
    } else {
      if (!(f >= 0 && f < nFeatures)) bad(`node ${i}: feature ${f} is not in [0, ${nFeatures})`);
      if (!(l > i && l < nNodes)) bad(`node ${i}: left child ${l} is not in (${i}, ${nNodes})`);
      if (!(r > i && r < nNodes)) bad(`node ${i}: right child ${r} is not in (${i}, ${nNodes})`);
      if (Number.isNaN(threshold[i]!)) bad(`node ${i}: threshold is NaN`);
    }
  }
}

/** Depth of the tree: the largest number of edges from the root to a leaf. */
export function treeDepth(tree: Pick<Tree, 'feature' | 'left' | 'right'>): number {
  const depth = new Int32Array(tree.feature.length);
  let max = 0;
  for (let i = 0; i < depth.length; i++) {
    const di = depth[i]!;
    if (di > max) max = di;
    if (tree.feature[i]! >= 0) {
      depth[tree.left[i]!] = di + 1;
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
