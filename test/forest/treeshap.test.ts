import { describe, expect, it } from 'vitest';
import { fitForest } from '../../src/forest/index.js';
import { forestShap, type ShapTree, TreeExplainer, treeExpectedValue } from '../../src/forest/treeshap.js';
import { rng } from '../helpers/mulberry32.js';
import { FOREST, tree } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// The oracle: the path-dependent value function over every feature subset and the Shapley formula,
// written independently of the library (recursive, no path bookkeeping).
// ---------------------------------------------------------------------------------------------

function nodeWeight(t: ShapTree, node: number, K: number): number {
  let w = 0;
  for (let k = 0; k < K; k++) w += t.value[node * K + k]!;
  return w;
}

/** v(S) of one tree and class k: features in S (bitmask) follow x, the others take both children by cover. */
function treeValue(t: ShapTree, K: number, x: readonly number[], S: number, k: number, node = 0): number {
  const f = t.feature[node]!;
  const w = nodeWeight(t, node, K);
  if (f < 0) return w > 0 ? t.value[node * K + k]! / w : 0;
  const l = t.left[node]!;
  const r = t.right[node]!;
  if (S & (1 << f)) {
    const v = x[f]!;
    const goLeft = Number.isNaN(v) ? t.missingLeft[node] === 1 : v <= t.threshold[node]!;
    return treeValue(t, K, x, S, k, goLeft ? l : r);
  }
  if (!(w > 0)) return 0;
  return (
    (nodeWeight(t, l, K) / w) * treeValue(t, K, x, S, k, l) +
    (nodeWeight(t, r, K) / w) * treeValue(t, K, x, S, k, r)
  );
}

function forestValue(
  trees: readonly ShapTree[],
  K: number,
  x: readonly number[],
  S: number,
  k: number,
): number {
  let s = 0;
  for (const t of trees) s += treeValue(t, K, x, S, k);
  return s / trees.length;
}

function factorial(n: number): number {
  let p = 1;
  for (let i = 2; i <= n; i++) p *= i;
  return p;
}

function popcount(m: number): number {
  let c = 0;
  for (; m; m &= m - 1) c++;
  return c;
}

/** Exact Shapley values (K × F, class-major) of one row and v(∅) per class, over all 2^F subsets. */
function bruteShap(
  trees: readonly ShapTree[],
  K: number,
  F: number,
  x: readonly number[],
): { phi: number[]; expected: number[] } {
  const phi = new Array<number>(K * F).fill(0);
  const expected: number[] = [];
  for (let k = 0; k < K; k++) {
    const v = new Float64Array(1 << F);
    for (let S = 0; S < 1 << F; S++) v[S] = forestValue(trees, K, x, S, k);
    expected.push(v[0]!);
    for (let i = 0; i < F; i++) {
      let sum = 0;
      for (let S = 0; S < 1 << F; S++) {
        if (S & (1 << i)) continue;
        const s = popcount(S);
        const weight = (factorial(s) * factorial(F - s - 1)) / factorial(F);
        sum += weight * (v[S | (1 << i)]! - v[S]!);
      }
      phi[k * F + i] = sum;
    }
  }
  return { phi, expected };
}

/** The forest's probability for one row, walked independently: mean of the leaves' class fractions. */
function predict(trees: readonly ShapTree[], K: number, x: readonly number[]): number[] {
  const out = new Array<number>(K).fill(0);
  for (const t of trees) {
    let node = 0;
    while (t.feature[node]! >= 0) {
      const v = x[t.feature[node]!]!;
      const goLeft = Number.isNaN(v) ? t.missingLeft[node] === 1 : v <= t.threshold[node]!;
      node = goLeft ? t.left[node]! : t.right[node]!;
    }
    const w = nodeWeight(t, node, K);
    for (let k = 0; k < K; k++) out[k]! += w > 0 ? t.value[node * K + k]! / w : 0;
  }
  return out.map((p) => p / trees.length);
}

// ---------------------------------------------------------------------------------------------
// Trees by hand and at random.
// ---------------------------------------------------------------------------------------------

const GRID = [0, 1, 2, 3, 4];

interface RandomTreeOptions {
  F: number;
  K: number;
  maxDepth: number;
  /** Node weights = sum of the children's (a fitted tree); otherwise random covers at every node. */
  consistent: boolean;
  /** Chance that a leaf's class counts are all 0. */
  zeroLeaf?: number;
  /** Features are drawn from the first `features` ones only, so repeats on a path are frequent. */
  features?: number;
}

/** A random pre-order tree: random structure, thresholds on GRID, covers, missingLeft. */
function randomTree(rand: () => number, o: RandomTreeOptions): ShapTree {
  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const missingLeft: number[] = [];
  const value: number[][] = [];
  const nFeat = o.features ?? o.F;
  const grow = (depth: number): number => {
    const id = feature.length;
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    missingLeft.push(0);
    value.push([]);
    const leaf = depth >= o.maxDepth || (depth > 0 && rand() < 0.25);
    if (leaf) {
      const zero = rand() < (o.zeroLeaf ?? 0);
      value[id] = Array.from({ length: o.K }, () =>
        zero ? 0 : Math.floor(rand() * 6) + (rand() < 0.2 ? 0 : 1),
      );
      if (!zero && !value[id]!.some((c) => c > 0)) value[id]![0] = 1;
      return id;
    }
    feature[id] = Math.floor(rand() * nFeat);
    threshold[id] = GRID[Math.floor(rand() * GRID.length)]! + (rand() < 0.5 ? 0.5 : 0);
    missingLeft[id] = rand() < 0.5 ? 1 : 0;
    left[id] = grow(depth + 1);
    right[id] = grow(depth + 1);
    value[id] = o.consistent
      ? value[left[id]!]!.map((c, k) => c + value[right[id]!]![k]!)
      : Array.from({ length: o.K }, () => Math.floor(rand() * 10) + 1);
    return id;
  };
  grow(0);
  return tree(feature, threshold, left, right, value.flat(), missingLeft);
}

/** A random row: values on and between GRID thresholds, NaN with probability `pMissing`. */
function randomRow(rand: () => number, F: number, pMissing: number): number[] {
  return Array.from({ length: F }, () =>
    rand() < pMissing ? Number.NaN : Math.floor(rand() * 11) / 2 - 0.25 * Math.floor(rand() * 2),
  );
}

function rowsOf(rows: number[][]): Float64Array {
  return Float64Array.from(rows.flat());
}

/** Asserts TreeSHAP equals the oracle on every row (values and expected value) within 1e-9. */
function checkAgainstOracle(trees: ShapTree[], K: number, F: number, rows: number[][]): void {
  const { values, expected } = forestShap(trees, K, F, rowsOf(rows), rows.length);
  rows.forEach((x, i) => {
    const brute = bruteShap(trees, K, F, x);
    for (let k = 0; k < K; k++) {
      expect(expected[k]!).toBeCloseTo(brute.expected[k]!, 12);
      for (let f = 0; f < F; f++) {
        const got = values[(i * K + k) * F + f]!;
        const want = brute.phi[k * F + f]!;
        if (!(Math.abs(got - want) <= 1e-9)) {
          throw new Error(
            `row ${i} ${JSON.stringify(x)}, class ${k}, feature ${f}: got ${got}, oracle ${want}`,
          );
        }
      }
    }
  });
}

/** Asserts Σ_f values + expected = the probability for every row and class within 1e-9. */
function checkLocalAccuracy(trees: ShapTree[], K: number, F: number, rows: number[][]): void {
  const { values, expected } = forestShap(trees, K, F, rowsOf(rows), rows.length);
  rows.forEach((x, i) => {
    const p = predict(trees, K, x);
    for (let k = 0; k < K; k++) {
      let s = expected[k]!;
      for (let f = 0; f < F; f++) s += values[(i * K + k) * F + f]!;
      expect(Math.abs(s - p[k]!)).toBeLessThanOrEqual(1e-9);
    }
  });
}

// ---------------------------------------------------------------------------------------------

describe('TreeSHAP on hand-built trees', () => {
  // x0 <= 1 ? (x1 <= 2 ? [4, 0] : [1, 3]) : [0, 2]; covers 10 = (4 + 4) + 2.
  const t = tree(
    [0, 1, -1, -1, -1],
    [1, 2, 0, 0, 0],
    [1, 2, -1, -1, -1],
    [4, 3, -1, -1, -1],
    [5, 5, 5, 3, 4, 0, 1, 3, 0, 2],
  );

  it('matches values worked out by hand for a two-split tree', () => {
    // Class 1: leaf fractions 0, 3/4, 1; expected = 0.4·0 + 0.4·0.75 + 0.2·1 = 0.5.
    // x = (0, 0): f(x) = 0 (leaf 2). v({0}) = 0.5·0 + 0.5·0.75 = 0.375, v({1}) = 0.8·0 + 0.2·1 = 0.2.
    // phi0 = ½(0.375 - 0.5) + ½(0 - 0.2) = -0.1625, phi1 = ½(0.2 - 0.5) + ½(0 - 0.375) = -0.3375.
    const { values, expected } = forestShap([t], 2, 2, Float64Array.from([0, 0]), 1);
    expect(expected[1]).toBeCloseTo(0.5, 15);
    expect(expected[0]).toBeCloseTo(0.5, 15);
    expect(values[2]).toBeCloseTo(-0.1625, 15);
    expect(values[3]).toBeCloseTo(-0.3375, 15);
    // Two classes: the class-0 values are the negatives.
    expect(values[0]).toBeCloseTo(0.1625, 15);
    expect(values[1]).toBeCloseTo(0.3375, 15);
  });

  it('equals the oracle with missing values following missingLeft and the cover-weighted cold path', () => {
    const withMissing = { ...t, missingLeft: Uint8Array.from([1, 0, 0, 0, 0]) };
    const rows = [
      [Number.NaN, 0],
      [Number.NaN, Number.NaN],
      [0, Number.NaN],
      [5, Number.NaN],
      [1, 2],
      [1.5, 2.5],
    ];
    checkAgainstOracle([withMissing], 2, 2, rows);
    checkLocalAccuracy([withMissing], 2, 2, rows);
    // NaN at x0 with missingLeft = 1 goes left, as the value 0 does: same attributions.
    const a = forestShap([withMissing], 2, 2, Float64Array.from([Number.NaN, 0]), 1).values;
    const b = forestShap([withMissing], 2, 2, Float64Array.from([0, 0]), 1).values;
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('handles a feature split twice on one path (unwind) exactly', () => {
    // x0 <= 2 ? (x1 <= 1 ? (x0 <= 0 ? A : B) : C) : (x0 <= 4 ? D : E)
    const rep = tree(
      [0, 1, 0, -1, -1, -1, 0, -1, -1],
      [2, 1, 0, 0, 0, 0, 4, 0, 0],
      [1, 2, 3, -1, -1, -1, 7, -1, -1],
      [6, 5, 4, -1, -1, -1, 8, -1, -1],
      [9, 11, 6, 7, 5, 6, 1, 6, 4, 1, 2, 4, 3, 4, 1, 0, 2, 3],
      [0, 1, 1, 0, 0, 0, 0, 0, 0],
    );
    const rows: number[][] = [];
    for (const a of [-1, 0, 1, 2, 3, 4, 5, Number.NaN])
      for (const b of [0, 1, 2, Number.NaN]) rows.push([a, b]);
    checkAgainstOracle([rep], 2, 2, rows);
    checkLocalAccuracy([rep], 2, 2, rows);
  });

  it('gives a feature that no tree uses exactly 0, for every class', () => {
    const rows = [
      [0, 0, 7],
      [5, Number.NaN, -3],
      [Number.NaN, 3, Number.NaN],
    ];
    const { values } = forestShap([t, t], 2, 3, rowsOf(rows), rows.length);
    for (let i = 0; i < rows.length; i++)
      for (let k = 0; k < 2; k++) expect(values[(i * 2 + k) * 3 + 2]).toBe(0);
  });

  it('survives nodes of zero training weight without NaN, as the oracle defines them', () => {
    // Node 1 (x1 split) has weight 0 though its leaves do not; leaf 5 has weight 0.
    const z = tree(
      [0, 1, -1, -1, 1, -1, -1],
      [1, 2, 0, 0, 3, 0, 0],
      [1, 2, -1, -1, 5, -1, -1],
      [4, 3, -1, -1, 6, -1, -1],
      [4, 6, 0, 0, 1, 2, 3, 1, 4, 6, 0, 0, 4, 6],
      [0, 1, 0, 0, 1, 0, 0],
    );
    const rows: number[][] = [];
    for (const a of [0, 2, Number.NaN]) for (const b of [0, 2.5, 4, Number.NaN]) rows.push([a, b]);
    const { values, expected } = forestShap([z], 2, 2, rowsOf(rows), rows.length);
    for (const v of values) expect(Number.isFinite(v)).toBe(true);
    for (const v of expected) expect(Number.isFinite(v)).toBe(true);
    checkAgainstOracle([z], 2, 2, rows);
  });

  it('explains a single-leaf tree as all zeros with the leaf as the expected value', () => {
    const leaf = tree([-1], [0], [-1], [-1], [1, 3]);
    const { values, expected } = forestShap([leaf], 2, 2, Float64Array.from([1, 2]), 1);
    expect(Array.from(values)).toEqual([0, 0, 0, 0]);
    expect(Array.from(expected)).toEqual([0.25, 0.75]);
  });
});

describe('TreeSHAP against the brute-force oracle on random trees', () => {
  it('single random trees: 3-6 features, depth up to 6, repeated features, missing values, random covers', () => {
    const rand = rng(12);
    for (let c = 0; c < 120; c++) {
      const F = 3 + (c % 4);
      const K = 1 + (c % 3);
      const t = randomTree(rand, {
        F,
        K,
        maxDepth: 1 + Math.floor(rand() * 6),
        consistent: c % 2 === 0,
        features: c % 3 === 0 ? 2 : F,
      });
      const rows = Array.from({ length: 6 }, () => randomRow(rand, F, 0.25));
      checkAgainstOracle([t], K, F, rows);
    }
  });

  it('forests of several random trees, multi-class, with zero-weight leaves', () => {
    const rand = rng(99);
    for (let c = 0; c < 30; c++) {
      const F = 3 + (c % 4);
      const K = 2 + (c % 3);
      const trees = Array.from({ length: 2 + (c % 4) }, (_, j) =>
        randomTree(rand, { F, K, maxDepth: 6, consistent: j % 2 === 0, zeroLeaf: 0.15, features: F - 1 }),
      );
      const rows = Array.from({ length: 5 }, () => randomRow(rand, F, 0.3));
      checkAgainstOracle(trees, K, F, rows);
    }
  });
});

describe('local accuracy and the expected value', () => {
  it('Σ values + expected = the probability on random forests (fitted-like covers), every row and class', () => {
    const rand = rng(2024);
    for (let c = 0; c < 10; c++) {
      const F = 4 + (c % 5);
      const K = 2 + (c % 3);
      const trees = Array.from({ length: 10 }, () =>
        randomTree(rand, { F, K, maxDepth: 12, consistent: true, features: F }),
      );
      const rows = Array.from({ length: 40 }, () => randomRow(rand, F, 0.2));
      checkLocalAccuracy(trees, K, F, rows);
    }
  });

  it('the expected value is Σ_leaf w_leaf / w_root × fraction per tree, averaged over trees', () => {
    const rand = rng(7);
    const K = 3;
    const trees = Array.from({ length: 5 }, () =>
      randomTree(rand, { F: 4, K, maxDepth: 6, consistent: true }),
    );
    const want = new Array<number>(K).fill(0);
    for (const t of trees) {
      const root = nodeWeight(t, 0, K);
      for (let i = 0; i < t.feature.length; i++) {
        if (t.feature[i]! >= 0) continue;
        for (let k = 0; k < K; k++) want[k]! += t.value[i * K + k]! / root / trees.length;
      }
    }
    const explainer = new TreeExplainer(trees, K, 4);
    for (let k = 0; k < K; k++) expect(explainer.expected[k]).toBeCloseTo(want[k]!, 14);
    const one = treeExpectedValue(trees[0]!, K);
    let sum = 0;
    for (const p of one) sum += p;
    expect(sum).toBeCloseTo(1, 14);
  });

  it('agrees with fitForest’s forest (missing values too): Σ values + expected = predictProba, a constant column gets 0', () => {
    const rand = rng(3);
    const n = 400;
    const F = 4;
    const columns = Array.from({ length: F }, () => new Float64Array(n));
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const age = 16 + Math.floor(rand() * 74);
      const income = age + Math.abs(20 + 100 * (rand() + rand() + rand() - 1.5));
      const response = rand() < 0.5 ? 1 : 0;
      columns[0]![i] = rand() < 0.1 ? Number.NaN : age;
      columns[1]![i] = rand() < 0.1 ? Number.NaN : income;
      columns[2]![i] = response;
      columns[3]![i] = 7; // constant
      const cls = income >= 200 ? 1 : 0;
      y[i] = cls === 0 ? response : 1 + response;
    }
    const forest = fitForest({ columns, y, nClasses: 3 }, { ...FOREST, nEstimators: 12 }, [1]);
    const m = 100;
    const x = new Float64Array(m * F);
    for (let i = 0; i < m; i++)
      for (let f = 0; f < F; f++) x[i * F + f] = columns[f]![n - 1 - i]! + (f === 1 ? 3 : 0);
    const p = forest.predictProba(x, m);
    const explainer = new TreeExplainer(forest.trees, 3, F);
    const out = new Float64Array(m * 3 * F);
    explainer.explainInto(x, m, out);
    for (let i = 0; i < m; i++) {
      for (let k = 0; k < 3; k++) {
        let s = explainer.expected[k]!;
        for (let f = 0; f < F; f++) s += out[(i * 3 + k) * F + f]!;
        expect(Math.abs(s - p[i * 3 + k]!)).toBeLessThanOrEqual(1e-9);
        expect(out[(i * 3 + k) * F + 3]).toBe(0);
      }
    }
  });
});

describe('deep trees and scratch reuse', () => {
  /** A chain: node at depth d splits feature d mod F at d mod 7; its left child is a leaf. */
  function chain(depth: number, F: number, K: number): ShapTree {
    const feature: number[] = [];
    const threshold: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const missingLeft: number[] = [];
    const leafValue: number[][] = [];
    // Pre-order: internal d at index 2d, its leaf at 2d + 1, the next internal at 2d + 2.
    for (let d = 0; d < depth; d++) {
      feature.push(d % F, -1);
      threshold.push(d % 7, 0);
      left.push(2 * d + 1, -1);
      right.push(2 * d + 2, -1);
      missingLeft.push(d % 2, 0);
      leafValue.push(
        [],
        Array.from({ length: K }, (_, k) => 1 + ((d + k) % 5)),
      );
    }
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    missingLeft.push(0);
    leafValue.push(Array.from({ length: K }, (_, k) => 1 + k));
    // Internal weights: sum of the subtree's leaves, filled bottom-up.
    const value = leafValue.map((v) => v.slice());
    for (let d = depth - 1; d >= 0; d--) {
      value[2 * d] = value[2 * d + 1]!.map((c, k) => c + value[2 * d + 2]![k]!);
    }
    return tree(feature, threshold, left, right, value.flat(), missingLeft);
  }

  it('depth 1000: no recursion limit, equal to the oracle and locally accurate', () => {
    const t = chain(1000, 3, 2);
    const explainer = new TreeExplainer([t], 2, 3);
    expect(explainer.maxDepth).toBe(1000);
    const rows = [
      [7, 7, 7],
      [3, Number.NaN, 10],
      [Number.NaN, Number.NaN, Number.NaN],
      [-1, 8, 2],
    ];
    checkAgainstOracle([t], 2, 3, rows);
    checkLocalAccuracy([t], 2, 3, rows);
  });

  it('gives the same answer row by row and in one batch (scratch is reset per row)', () => {
    const rand = rng(8);
    const trees = Array.from({ length: 4 }, () =>
      randomTree(rand, { F: 5, K: 3, maxDepth: 8, consistent: true }),
    );
    const rows = Array.from({ length: 20 }, () => randomRow(rand, 5, 0.2));
    const explainer = new TreeExplainer(trees, 3, 5);
    const batch = new Float64Array(20 * 15);
    explainer.explainInto(rowsOf(rows), 20, batch);
    const single = new Float64Array(15);
    rows.forEach((r, i) => {
      single.fill(123); // overwritten, not accumulated
      explainer.explainInto(Float64Array.from(r), 1, single);
      expect(Array.from(single)).toEqual(Array.from(batch.subarray(i * 15, (i + 1) * 15)));
    });
  });
});

describe('bad input', () => {
  const t = tree([0, -1, -1], [1, 0, 0], [1, -1, -1], [2, -1, -1], [2, 2, 1, 1, 1, 1]);

  it('refuses malformed trees, naming the tree and node', () => {
    const back = { ...t, left: Int32Array.from([0, -1, -1]) };
    expect(() => new TreeExplainer([t, back], 2, 1)).toThrow(/tree 1: node 0: left child 0/);
    const feat = { ...t, feature: Int32Array.from([3, -1, -1]) };
    expect(() => new TreeExplainer([feat], 2, 2)).toThrow(/tree 0: node 0: feature 3/);
    const neg = { ...t, value: Float64Array.from([2, 2, -1, 1, 1, 1]) };
    expect(() => new TreeExplainer([neg], 2, 1)).toThrow(/node 1: value -1/);
    const noMissing = { ...t, missingLeft: new Uint8Array(2) };
    expect(() => new TreeExplainer([noMissing], 2, 1)).toThrow(/missingLeft must have the same length \(3\)/);
    expect(() => new TreeExplainer([], 2, 1)).toThrow(/at least one tree/);
    expect(() => new TreeExplainer([t], 0, 1)).toThrow(/nClasses/);
  });

  it('refuses short row and output buffers', () => {
    const e = new TreeExplainer([t], 2, 1);
    expect(() => e.explainInto(new Float64Array(1), 2, new Float64Array(4))).toThrow(/x must be/);
    expect(() => e.explainInto(new Float64Array(2), 2, new Float64Array(3))).toThrow(/out must be/);
    expect(() => e.explainInto(new Float64Array(2), -1, new Float64Array(4))).toThrow(/n must be/);
  });
});
