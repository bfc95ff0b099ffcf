import { createHash } from 'node:crypto';
import { createRng, type Rng } from '../../src/data/random.js';
import {
  type ForestParams,
  resolveMaxFeatures,
  type TrainingData,
  type Tree,
  type TreeParams,
} from '../../src/forest/index.js';

export const TREE: TreeParams = { maxDepth: null, minSamplesSplit: 2, minSamplesLeaf: 1, maxFeatures: 'all' };

/** scikit-learn's RandomForestClassifier defaults, but for the number of trees, which each test gives. */
export const FOREST: Omit<ForestParams, 'nEstimators'> = {
  maxDepth: null,
  minSamplesSplit: 2,
  minSamplesLeaf: 1,
  maxFeatures: 'sqrt',
  bootstrap: true,
  classWeight: null,
};

/** Training data from plain arrays: one array per feature, classes 0..max(y). */
export function data(columns: number[][], y: number[], nClasses = Math.max(...y) + 1): TrainingData {
  return { columns: columns.map((c) => Float64Array.from(c)), y: Int32Array.from(y), nClasses };
}

/**
 * A tree from plain arrays; `missingLeft` defaults to all 0 (missing values go right). Leaves have
 * feature, left and right -1.
 */
export function tree(
  feature: number[],
  threshold: number[],
  left: number[],
  right: number[],
  value: number[],
  missingLeft: number[] = feature.map(() => 0),
): Tree {
  return {
    feature: Int32Array.from(feature),
    threshold: Float64Array.from(threshold),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    missingLeft: Uint8Array.from(missingLeft),
    value: Float64Array.from(value),
  };
}

/** Node indices of the leaves. */
export function leaves(tree: Tree): number[] {
  const out: number[] = [];
  for (let i = 0; i < tree.feature.length; i++) if (tree.feature[i] === -1) out.push(i);
  return out;
}

/** Sum of a node's class counts. */
export function nodeTotal(tree: Tree, node: number, nClasses: number): number {
  let s = 0;
  for (let k = 0; k < nClasses; k++) s += tree.value[node * nClasses + k] as number;
  return s;
}

/**
 * The leaf a row (feature values, NaN = missing) falls into, walking the tree independently of the
 * library: a NaN follows the node's missingLeft.
 */
export function leafOf(tree: Tree, row: readonly number[]): number {
  let node = 0;
  while (tree.feature[node] !== -1) {
    const v = row[tree.feature[node] as number] as number;
    const goLeft = Number.isNaN(v) ? tree.missingLeft[node] === 1 : v <= (tree.threshold[node] as number);
    node = goLeft ? (tree.left[node] as number) : (tree.right[node] as number);
  }
  return node;
}

/**
 * Noisy data set: `d` uniform features, class = (x0 > 0.5) + (x1 > 0.3) with `noise` of the labels
 * replaced by a random class, so unconstrained trees grow deep.
 */
export function noisy(n: number, d: number, seed: number, noise = 0.2): TrainingData {
  const rng = createRng(seed, 77);
  const columns = Array.from({ length: d }, () => new Float64Array(n));
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < d; f++) (columns[f] as Float64Array)[i] = rng.uniform();
    const x0 = (columns[0] as Float64Array)[i] as number;
    const x1 = d > 1 ? ((columns[1] as Float64Array)[i] as number) : 0;
    y[i] = rng.uniform() < noise ? rng.int(3) : Number(x0 > 0.5) + Number(x1 > 0.3);
  }
  return { columns, y, nClasses: 3 };
}

/**
 * Data like the simulation's: segment from an income threshold that depends on a binary flag, plus
 * two noise features (an age-like integer and an events-like code).
 */
export function segments(n: number, seed: number): { data: TrainingData; rows: number[][] } {
  const rng = createRng(seed, 99);
  const rows: number[][] = [];
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const age = 16 + rng.int(74);
    const income = age + Math.abs(20 + 100 * rng.normal());
    const flag = rng.int(2);
    const events = rng.int(7);
    const level = income >= (age < 50 ? 150 : 100) ? 1 : 0;
    y[i] = level + flag;
    rows.push([age, income, flag, events]);
  }
  const columns = [0, 1, 2, 3].map((f) => Float64Array.from(rows, (r) => r[f] as number));
  return { data: { columns, y, nClasses: 3 }, rows };
}

/** sha256 (hex) of every tree's arrays in order: feature, threshold, left, right, value. */
export function treesDigest(trees: readonly Tree[]): string {
  const h = createHash('sha256');
  for (const t of trees) {
    for (const a of [t.feature, t.threshold, t.left, t.right, t.value]) {
      h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    }
  }
  return h.digest('hex');
}

/** sha256 (hex) of a Float64Array's bytes. */
export function bytesDigest(a: Float64Array): string {
  return createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');
}

/**
 * A plain, slow transcription of scikit-learn's (>= 1.4) BestSplitter and depth-first builder, to
 * check the fast TreeBuilder against: per node it re-sorts the rows, tries every threshold with the
 * missing (NaN) rows sent right, then left, then "non-missing left, missing right" (+Infinity),
 * keeps the first strictly best Gini proxy (Σ cl²/wl + Σ cr²/wr, the library's formula, so ties
 * round alike) and draws features from `rng` as the library does. `counts` are sample counts per
 * row (null = 1 each); class k's counts weigh classWeights[k] (null = 1).
 */
export function referenceTree(
  data: TrainingData,
  counts: Int32Array | null,
  params: TreeParams,
  rng: Rng,
  classWeights: Float64Array | null = null,
): Tree {
  const { columns, y, nClasses: K } = data;
  const d = columns.length;
  const n = y.length;
  const cw = classWeights ?? new Float64Array(K).fill(1);
  const weighted = classWeights !== null;
  const count = (i: number) => (counts === null ? 1 : (counts[i] as number));
  const maxDepth = params.maxDepth ?? Number.POSITIVE_INFINITY;
  const minLeaf = params.minSamplesLeaf;
  const minSplit = Math.max(params.minSamplesSplit, 2 * minLeaf);
  const maxFeatures = resolveMaxFeatures(params.maxFeatures, d);
  const out = { feature: [] as number[], threshold: [] as number[], left: [] as number[] };
  const right: number[] = [];
  const missingLeft: number[] = [];
  const value: number[] = [];

  const classCounts = (rows: readonly number[]) => {
    const c = new Array<number>(K).fill(0);
    for (const r of rows) c[y[r] as number]! += count(r);
    return c;
  };
  const proxy = (cl: readonly number[], total: readonly number[]) => {
    let sl = 0;
    let sr = 0;
    let wl = 0;
    let wr = 0;
    for (let k = 0; k < K; k++) {
      const a = weighted ? cw[k]! * cl[k]! : cl[k]!;
      const b = weighted ? cw[k]! * (total[k]! - cl[k]!) : total[k]! - cl[k]!;
      sl += a * a;
      sr += b * b;
      wl += a;
      wr += b;
    }
    if (!weighted) {
      wl = cl.reduce((s, v) => s + v, 0);
      wr = total.reduce((s, v) => s + v, 0) - wl;
    }
    return sl / wl + sr / wr;
  };

  const grow = (rows: number[], depth: number): number => {
    const id = out.feature.length;
    const total = classCounts(rows);
    out.feature.push(-1);
    out.threshold.push(0);
    out.left.push(-1);
    right.push(-1);
    missingLeft.push(0);
    for (let k = 0; k < K; k++) value.push(cw[k]! * total[k]!);
    let wt = 0;
    let sq = 0;
    for (let k = 0; k < K; k++) {
      wt += cw[k]! * total[k]!;
      sq += (cw[k]! * total[k]!) ** 2;
    }
    if (depth >= maxDepth || rows.length < minSplit || 1 - sq / (wt * wt) <= 2.220446049250313e-16) return id;

    let best = Number.NEGATIVE_INFINITY;
    let split: { f: number; threshold: number; missLeft: number; nMiss: number; nLeft: number } | null = null;
    const features = Array.from({ length: d }, (_, f) => f);
    let available = d;
    let visited = 0;
    let constants = 0;
    while (available > 0 && (visited < maxFeatures || visited <= constants)) {
      visited++;
      const j = Math.floor(rng.uniform() * available);
      const f = features[j]!;
      available--;
      features[j] = features[available]!;
      features[available] = f;
      const col = columns[f]!;
      const present = rows.filter((r) => !Number.isNaN(col[r]!)).sort((a, b) => col[a]! - col[b]! || a - b);
      const missing = rows.filter((r) => Number.isNaN(col[r]!));
      const nNM = present.length;
      const nMiss = missing.length;
      if (nNM === 0 || col[present[nNM - 1]!]! <= col[present[0]!]! + 1e-7) {
        constants++;
        continue;
      }
      const clMiss = classCounts(missing);
      for (const goLeft of nMiss > 0 ? [0, 1] : [0]) {
        const cl = goLeft ? [...clMiss] : new Array<number>(K).fill(0);
        for (let i = 0; i < nNM - 1; i++) {
          const r = present[i]!;
          cl[y[r] as number]! += count(r);
          const xv = col[r]!;
          const xn = col[present[i + 1]!]!;
          if (!(xn > xv + 1e-7)) continue;
          const pos = i + 1;
          const nLeft = pos + (goLeft ? nMiss : 0);
          const nRight = nNM - pos + (goLeft ? 0 : nMiss);
          if (nLeft < minLeaf || nRight < minLeaf) continue;
          const p = proxy(cl, total);
          if (p > best) {
            best = p;
            let t = xv / 2 + xn / 2;
            if (t === xn || !Number.isFinite(t)) t = xv;
            split = {
              f,
              threshold: t,
              missLeft: nMiss === 0 ? Number(nLeft > nRight) : goLeft,
              nMiss,
              nLeft,
            };
          }
        }
      }
      if (nMiss > 0 && nNM >= minLeaf && nMiss >= minLeaf) {
        const p = proxy(
          total.map((c, k) => c - clMiss[k]!),
          total,
        );
        if (p > best) {
          best = p;
          split = { f, threshold: Number.POSITIVE_INFINITY, missLeft: 0, nMiss, nLeft: nNM };
        }
      }
    }
    if (split === null) return id;
    const col = columns[split.f]!;
    const s = split;
    const goesLeft = (r: number) => (Number.isNaN(col[r]!) ? s.missLeft === 1 : col[r]! <= s.threshold);
    out.feature[id] = s.f;
    out.threshold[id] = s.threshold;
    missingLeft[id] = s.missLeft;
    out.left[id] = grow(
      rows.filter((r) => goesLeft(r)),
      depth + 1,
    );
    right[id] = grow(
      rows.filter((r) => !goesLeft(r)),
      depth + 1,
    );
    return id;
  };
  const rows = Array.from({ length: n }, (_, i) => i).filter((i) => count(i) > 0);
  grow(rows, 0);
  return tree(out.feature, out.threshold, out.left, right, value, missingLeft);
}
