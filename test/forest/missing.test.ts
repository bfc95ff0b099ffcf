/**
 * Missing values (NaN) with scikit-learn's (>= 1.4) semantics: hand-built cases whose right answer
 * is known, the invariants of every fitted tree, and agreement with a plain transcription of
 * scikit-learn's algorithm (referenceTree) on random data with missing values.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import {
  balancedClassWeights,
  binColumns,
  drawIndices,
  Forest,
  type ForestParams,
  fitForest,
  fitTree,
  type TrainingData,
  type Tree,
  TreeBuilder,
} from '../../src/forest/index.js';
import { data, leafOf, referenceTree, TREE, tree } from './helpers.js';

/** A missing value. */
const NA = Number.NaN;
const rng = () => createRng(1, 2);

/** Node values as plain arrays, one per node. */
function values(t: Tree, K: number): number[][] {
  return Array.from({ length: t.feature.length }, (_, i) => Array.from(t.value.subarray(i * K, i * K + K)));
}

/** The rows of `d` (with their counts) that reach each node, routing NaN by missingLeft. */
function rowsPerNode(t: Tree, d: TrainingData, counts: Int32Array | null): number[][] {
  const at = Array.from({ length: t.feature.length }, () => [] as number[]);
  for (let i = 0; i < d.y.length; i++) {
    if (counts !== null && counts[i] === 0) continue;
    const row = d.columns.map((c) => c[i]!);
    let node = 0;
    at[0]!.push(i);
    while (t.feature[node] !== -1) {
      const v = row[t.feature[node]!]!;
      const left = Number.isNaN(v) ? t.missingLeft[node] === 1 : v <= t.threshold[node]!;
      node = left ? t.left[node]! : t.right[node]!;
      at[node]!.push(i);
    }
  }
  return at;
}

/**
 * What every fitted tree must satisfy: node values are the weighted class counts of the rows that
 * reach them (NaN routed by missingLeft); a split feature has two distinct non-missing values among
 * the node's rows; a node without missing rows for its feature sends NaN to the child with more
 * rows (a tie right); leaves have missingLeft 0.
 */
function expectInvariants(t: Tree, d: TrainingData, counts: Int32Array | null, cw: Float64Array | null) {
  const K = d.nClasses;
  const at = rowsPerNode(t, d, counts);
  for (let node = 0; node < t.feature.length; node++) {
    const rows = at[node]!;
    const expected = new Array<number>(K).fill(0);
    for (const r of rows) expected[d.y[r]!]! += counts === null ? 1 : counts[r]!;
    for (let k = 0; k < K; k++) {
      expect(t.value[node * K + k]).toBeCloseTo((cw === null ? 1 : cw[k]!) * expected[k]!, 9);
    }
    const f = t.feature[node]!;
    if (f < 0) {
      expect(t.missingLeft[node]).toBe(0);
      continue;
    }
    const col = d.columns[f]!;
    const present = rows.map((r) => col[r]!).filter((v) => !Number.isNaN(v));
    expect(present.length).toBeGreaterThan(0);
    expect(Math.max(...present) - Math.min(...present)).toBeGreaterThan(1e-7);
    if (present.length === rows.length) {
      const nLeft = at[t.left[node]!]!.length;
      const nRight = at[t.right[node]!]!.length;
      expect(t.missingLeft[node]).toBe(nLeft > nRight ? 1 : 0);
    }
  }
}

describe('missing values: splits whose answer is known', () => {
  it('sends the missing rows to the side of their class: right', () => {
    const t = fitTree(data([[1, 2, 3, 4, 5, 6, NA, NA]], [0, 0, 0, 1, 1, 1, 1, 1]), null, TREE, rng());
    expect(Array.from(t.feature)).toEqual([0, -1, -1]);
    expect(t.threshold[0]).toBe(3.5);
    expect(Array.from(t.missingLeft)).toEqual([0, 0, 0]);
    expect(values(t, 2)).toEqual([
      [3, 5],
      [3, 0],
      [0, 5],
    ]);
  });

  it('sends the missing rows to the side of their class: left (learnt, stored per node)', () => {
    const t = fitTree(data([[1, 2, 3, 4, 5, 6, NA, NA]], [1, 1, 1, 0, 0, 0, 1, 1]), null, TREE, rng());
    expect(Array.from(t.feature)).toEqual([0, -1, -1]);
    expect(t.threshold[0]).toBe(3.5);
    expect(Array.from(t.missingLeft)).toEqual([1, 0, 0]);
    expect(values(t, 2)).toEqual([
      [3, 5],
      [0, 5],
      [3, 0],
    ]);
    const f = Forest.fromTrees([t], 2, 1);
    expect(Array.from(f.predictProba(Float64Array.from([NA, 2, 5]), 3))).toEqual([0, 1, 0, 1, 1, 0]);
  });

  it('splits "missing or not" with threshold +Infinity when that is best', () => {
    // Every non-missing row is class 0 and every missing one class 1: no finite threshold separates them.
    const d = data([[1, 2, 3, 4, NA, NA, NA]], [0, 0, 0, 0, 1, 1, 1]);
    const t = fitTree(d, null, TREE, rng());
    expect(Array.from(t.feature)).toEqual([0, -1, -1]);
    expect(t.threshold[0]).toBe(Number.POSITIVE_INFINITY);
    expect(t.missingLeft[0]).toBe(0);
    expect(values(t, 2)).toEqual([
      [4, 3],
      [4, 0],
      [0, 3],
    ]);
    // A value larger than any seen in training is still "not missing": left.
    const f = Forest.fromTrees([t], 2, 1);
    expect(Array.from(f.predictProba(Float64Array.from([1e300, NA]), 2))).toEqual([1, 0, 0, 1]);
  });

  it('respects minSamplesLeaf in the +Infinity split (one missing row cannot make a leaf of 2)', () => {
    const d = data([[1, 2, 3, 4, NA]], [0, 0, 0, 0, 1]);
    const t = fitTree(d, null, { ...TREE, minSamplesLeaf: 2 }, rng());
    // Threshold searches only: the missing row goes with two or more non-missing rows.
    expect(t.threshold[0]).not.toBe(Number.POSITIVE_INFINITY);
    expectInvariants(t, d, null, null);
    for (const l of [t.left[0]!, t.right[0]!]) {
      expect(t.value[2 * l]! + t.value[2 * l + 1]!).toBeGreaterThanOrEqual(2);
    }
  });

  it('breaks a tie between "missing right" and "missing left" by the first search (right)', () => {
    // Threshold 2.5 with the two missing rows right: [2, 0] | [2, 4] ; left: [4, 2] | [0, 2]. Same proxy.
    const d = data([[1, 2, 3, 4, NA, NA, NA, NA]], [0, 0, 1, 1, 0, 1, 0, 1]);
    const t = fitTree(d, null, { ...TREE, maxDepth: 1 }, rng());
    expect(t.threshold[0]).toBe(2.5);
    expect(t.missingLeft[0]).toBe(0);
    expect(values(t, 2)).toEqual([
      [4, 4],
      [2, 0],
      [2, 4],
    ]);
  });

  it('without missing values in a node, sends NaN to the child with more rows; a tie goes right', () => {
    const cases: [number[], number[], number][] = [
      [[1, 2, 3, 4, 5, 6, 7], [0, 0, 1, 1, 1, 1, 1], 0], // 2 left, 5 right
      [[1, 2, 3, 4, 5, 6, 7], [0, 0, 0, 0, 0, 1, 1], 1], // 5 left, 2 right
      [[1, 2, 3, 4], [0, 0, 1, 1], 0], // 2 and 2
    ];
    for (const [x, y, missingLeft] of cases) {
      const t = fitTree(data([x], y), null, TREE, rng());
      expect(t.feature[0]).toBe(0);
      expect(t.missingLeft[0]).toBe(missingLeft);
      const f = Forest.fromTrees([t], 2, 1);
      const bigger = missingLeft === 1 ? t.left[0]! : t.right[0]!;
      const p = f.predictProba(Float64Array.from([NA]), 1);
      expect(Array.from(p)).toEqual(
        Array.from(t.value.subarray(2 * bigger, 2 * bigger + 2)).map((v, _, a) => v / (a[0]! + a[1]!)),
      );
    }
  });

  it('counts the larger child in rows, not in sample weights (as scikit-learn)', () => {
    // Left: 2 rows counted 10 times each (weight 20); right: 3 rows counted once (weight 3).
    const t = fitTree(
      data([[1, 2, 3, 4, 5]], [0, 0, 1, 1, 1]),
      Int32Array.from([10, 10, 1, 1, 1]),
      TREE,
      rng(),
    );
    expect(t.threshold[0]).toBe(2.5);
    expect(values(t, 2)[1]).toEqual([20, 0]);
    expect(t.missingLeft[0]).toBe(0);
  });

  it('never splits on a feature missing for every row; the tree is the one without it', () => {
    const x0 = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    const y = [0, 0, 1, 0, 1, 1, 0, 1, 1, 0];
    const missing = x0.map(() => NA);
    for (let seed = 0; seed < 10; seed++) {
      for (const maxFeatures of ['all', 1] as const) {
        const t = fitTree(data([missing, x0], y), null, { ...TREE, maxFeatures }, createRng(seed, 3));
        const alone = fitTree(data([x0], y), null, TREE, createRng(seed, 3));
        expect(Array.from(t.feature)).toEqual(Array.from(alone.feature, (f) => (f < 0 ? -1 : 1)));
        expect(t.threshold).toEqual(alone.threshold);
        expect(t.value).toEqual(alone.value);
      }
    }
  });

  it('treats a feature missing for every row of a node as constant there, and splits on another', () => {
    // After the root split on x0 at 4.5, the left child (rows 0-3) has x1 missing everywhere and
    // is impure: it must split on x0 again, never on x1.
    const x0 = [1, 2, 3, 4, 5, 6, 7, 8];
    const x1 = [NA, NA, NA, NA, 1, 2, 3, 4];
    const y = [0, 0, 1, 1, 2, 2, 2, 2];
    const d = data([x0, x1], y);
    for (let seed = 0; seed < 10; seed++) {
      const t = fitTree(d, null, TREE, createRng(seed, 4));
      expectInvariants(t, d, null, null);
      const at = rowsPerNode(t, d, null);
      for (let node = 0; node < t.feature.length; node++) {
        if (t.feature[node] === 1) expect(at[node]!.some((r) => !Number.isNaN(x1[r]!))).toBe(true);
      }
      const leftOfRoot = at[t.left[0]!]!;
      if (leftOfRoot.every((r) => r < 4)) expect(t.feature[t.left[0]!]).toBe(0);
      expect(t).toEqual(referenceTree(d, null, TREE, createRng(seed, 4)));
    }
  });

  it('treats a feature whose non-missing values are constant as constant (no "missing or not" split)', () => {
    // scikit-learn skips a feature when its non-missing values are all equal, even with missing ones.
    const d = data([[7, 7, 7, NA, NA, NA]], [0, 0, 0, 1, 1, 1]);
    const t = fitTree(d, null, TREE, rng());
    expect(Array.from(t.feature)).toEqual([-1]);
  });
});

describe('missing values: prediction', () => {
  // x0 <= 0.5 (NaN left) → node 1: x1 <= 2 (NaN right) → leaves 2 [1, 0] and 3 [0, 1]; node 4 [1, 1].
  const t = tree(
    [0, 1, -1, -1, -1],
    [0.5, 2, 0, 0, 0],
    [1, 2, -1, -1, -1],
    [4, 3, -1, -1, -1],
    [4, 4, 3, 1, 3, 0, 0, 1, 1, 3],
    [1, 0, 0, 0, 0],
  );
  const forest = Forest.fromTrees([t], 2, 2);

  it.each([
    [[0, 1], 2],
    [[0, 3], 3],
    [[NA, 1], 2],
    [[NA, NA], 3],
    [[NA, 3], 3],
    [[1, NA], 4],
    [[1, 0], 4],
  ])('routes [%s] to leaf %i (NaN follows missingLeft)', (row, leaf) => {
    expect(leafOf(t, row)).toBe(leaf);
    const total = t.value[2 * leaf]! + t.value[2 * leaf + 1]!;
    expect(Array.from(forest.predictProba(Float64Array.from(row), 1))).toEqual([
      t.value[2 * leaf]! / total,
      t.value[2 * leaf + 1]! / total,
    ]);
  });

  it('predicts class 1 for rows whose feature is missing when missingness is the signal', () => {
    const r = createRng(11, 1);
    const n = 600;
    const x0 = Float64Array.from({ length: n }, () => r.uniform());
    const x1 = Float64Array.from({ length: n }, () => r.uniform());
    const y = Int32Array.from({ length: n }, () => r.int(2));
    for (let i = 0; i < n; i++) if (y[i] === 1 && r.uniform() < 0.9) x0[i] = NA;
    const params: ForestParams = {
      ...TREE,
      nEstimators: 20,
      maxFeatures: 'sqrt',
      bootstrap: true,
      classWeight: null,
    };
    const f = fitForest({ columns: [x0, x1], y, nClasses: 2 }, params, [3]);
    const p = f.predictProba(Float64Array.from([NA, 0.5, 0.5, 0.5]), 2);
    expect(p[1]).toBeGreaterThan(0.9);
    expect(p[2]).toBeGreaterThan(0.7); // non-missing rows are mostly class 0
  });
});

describe('missing values: the same trees as a transcription of scikit-learn', () => {
  /** Random data: small integers (ties) or uniforms, a share of NaN per feature, 2 to 4 classes. */
  function randomData(seed: number): TrainingData {
    const r = createRng(seed, 21);
    const n = 20 + r.int(80);
    const d = 1 + r.int(4);
    const K = 2 + r.int(3);
    const columns = Array.from({ length: d }, () => {
      const share = [0, 0.1, 0.3, 0.7, 1][r.int(5)]!;
      const ints = r.uniform() < 0.5;
      return Float64Array.from({ length: n }, () =>
        r.uniform() < share ? NA : ints ? r.int(6) : Math.round(r.uniform() * 1000) / 1000,
      );
    });
    // Labels depend on the first feature and on its missingness, plus noise.
    const y = Int32Array.from({ length: n }, (_, i) => {
      const v = columns[0]![i]!;
      const base = Number.isNaN(v) ? K - 1 : v > (columns[0]![0]! || 0.5) ? 1 : 0;
      return r.uniform() < 0.25 ? r.int(K) : Math.min(base, K - 1);
    });
    return { columns, y, nClasses: K };
  }

  const paramsOf = (seed: number) => {
    const r = createRng(seed, 22);
    return {
      maxDepth: [null, 2, 4][r.int(3)]!,
      minSamplesSplit: [2, 2, 5][r.int(3)]!,
      minSamplesLeaf: [1, 1, 2, 4][r.int(4)]!,
      maxFeatures: (['all', 1, 'sqrt'] as const)[r.int(3)]!,
    };
  };

  it('on 200 random data sets, with and without sample counts and class weights', () => {
    let withMissingSplits = 0;
    let withInfinity = 0;
    for (let seed = 0; seed < 200; seed++) {
      const d = randomData(seed);
      const n = d.y.length;
      const params = paramsOf(seed);
      const r = createRng(seed, 23);
      const counts = seed % 3 === 0 ? null : Int32Array.from({ length: n }, () => r.int(4));
      if (counts?.every((c) => c === 0)) counts[0] = 1;
      const cw = seed % 4 === 1 ? balancedClassWeights(d.y, d.nClasses, counts) : null;
      if (cw !== null) for (let k = 0; k < cw.length; k++) if (cw[k] === 0) cw[k] = 1; // classes without rows
      const t = new TreeBuilder(d).fit(counts, params, createRng(seed, 24), cw);
      const ref = referenceTree(d, counts, params, createRng(seed, 24), cw);
      expect(t, `seed ${seed}`).toEqual(ref);
      expectInvariants(t, d, counts, cw);
      const at = rowsPerNode(t, d, counts);
      for (let node = 0; node < t.feature.length; node++) {
        const f = t.feature[node]!;
        if (f >= 0 && at[node]!.some((row) => Number.isNaN(d.columns[f]![row]!))) withMissingSplits++;
        if (t.threshold[node] === Number.POSITIVE_INFINITY) withInfinity++;
      }
    }
    // The cases exercise what they are meant to.
    expect(withMissingSplits).toBeGreaterThan(100);
    expect(withInfinity).toBeGreaterThan(5);
  });

  it('with bootstrap: fitBootstrap is the reference tree on the drawn counts, and so is each forest tree', () => {
    for (let seed = 0; seed < 40; seed++) {
      const d = randomData(1000 + seed);
      const n = d.y.length;
      const params = paramsOf(seed);
      const draw = (r: ReturnType<typeof createRng>) => {
        const idx = new Int32Array(n);
        drawIndices(n, idx, r);
        const counts = new Int32Array(n);
        for (const i of idx) counts[i]! += 1;
        return counts;
      };
      const t = new TreeBuilder(d).fitBootstrap(params, createRng(seed, 25));
      const r = createRng(seed, 25);
      expect(t).toEqual(referenceTree(d, draw(r), params, r));

      const classWeight = (['balanced', 'balanced_subsample', null] as const)[seed % 3]!;
      const forest = fitForest(d, { ...params, nEstimators: 3, bootstrap: true, classWeight }, [seed]);
      forest.trees.forEach((ft, k) => {
        const rt = createRng(seed, k);
        const counts = draw(rt);
        const cw =
          classWeight === null
            ? null
            : balancedClassWeights(d.y, d.nClasses, classWeight === 'balanced' ? null : counts);
        // The reference ignores classes without samples (weight 0 × count 0); give them any weight.
        if (cw !== null) for (let c = 0; c < cw.length; c++) if (cw[c] === 0) cw[c] = 1;
        expect(ft).toEqual(referenceTree(d, counts, params, rt, cw));
      });
    }
  });
});

describe('binColumns with missing values', () => {
  it('puts NaN (any sign or payload) in one last bin, and bins the other values as without them', () => {
    const negNaN = new Float64Array(new BigUint64Array([0xfff8000000000001n]).buffer)[0]!;
    expect(Number.isNaN(negNaN)).toBe(true);
    const col = Float64Array.from([3, NA, -1, negNaN, Number.NaN, 0, -0, 3, 2]);
    const binned = binColumns({ columns: [col] });
    expect(Array.from(binned.values[0]!)).toEqual([-1, 0, 2, 3]);
    expect(Array.from(binned.bins[0]!)).toEqual([3, 4, 0, 4, 4, 1, 1, 3, 2]);
  });
});
