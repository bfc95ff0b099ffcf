import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import {
  Forest,
  type ForestParams,
  fitForest,
  fitTrees,
  type TrainingData,
  type Tree,
  TreeBuilder,
  treeDepth,
  treeFeatureImportances,
} from '../../src/forest/index.js';
import {
  bytesDigest,
  FOREST,
  leafOf,
  leaves,
  nodeTotal,
  noisy,
  segments,
  tree,
  treesDigest,
} from './helpers.js';

const PARAMS: ForestParams = { ...FOREST, nEstimators: 10 };

/** Row-major copy of the first n rows of columnar data. */
function rowMajor(columns: Float64Array[], n: number): Float64Array {
  const d = columns.length;
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let f = 0; f < d; f++) x[i * d + f] = columns[f]![i]!;
  return x;
}

describe('Forest.predictProbaInto', () => {
  // Tree A: x0 <= 0.5 → leaf [3, 1], else leaf [0, 2]. Tree B: one leaf [1, 1].
  const a = tree([0, -1, -1], [0.5, 0, 0], [1, -1, -1], [2, -1, -1], [3, 3, 3, 1, 0, 2]);
  const b = tree([-1], [0], [-1], [-1], [1, 1]);
  const forest = Forest.fromTrees([a, b], 2, 1);

  it('averages the leaves’ class fractions (not votes) over the trees', () => {
    const out = new Float64Array(4);
    forest.predictProbaInto(Float64Array.from([0, 1]), 2, out);
    expect(Array.from(out)).toEqual([(0.75 + 0.5) / 2, (0.25 + 0.5) / 2, (0 + 0.5) / 2, (1 + 0.5) / 2]);
  });

  it('goes left when x equals the threshold', () => {
    expect(Array.from(forest.predictProba(Float64Array.from([0.5]), 1))).toEqual([0.625, 0.375]);
  });

  it('refuses buffers too small for n rows', () => {
    expect(() => forest.predictProbaInto(new Float64Array(1), 2, new Float64Array(4))).toThrow(/x must hold/);
    expect(() => forest.predictProbaInto(new Float64Array(2), 2, new Float64Array(3))).toThrow(
      /out must hold/,
    );
  });

  it('matches a manual mean of leaf fractions for a fitted two-tree forest; rows sum to 1', () => {
    const d = noisy(300, 3, 2);
    const f = fitForest(d, { ...PARAMS, nEstimators: 2 }, [5]);
    const n = 50;
    const out = new Float64Array(n * 3);
    f.predictProbaInto(rowMajor(d.columns, n), n, out);
    for (let i = 0; i < n; i++) {
      const row = d.columns.map((c) => c[i]!);
      const expected = [0, 0, 0];
      for (const t of f.trees) {
        const leaf = leafOf(t, row);
        const total = nodeTotal(t, leaf, 3);
        for (let k = 0; k < 3; k++) expected[k]! += t.value[leaf * 3 + k]! / total / 2;
      }
      for (let k = 0; k < 3; k++) expect(out[i * 3 + k]).toBeCloseTo(expected[k]!, 14);
      expect(out[i * 3]! + out[i * 3 + 1]! + out[i * 3 + 2]!).toBeCloseTo(1, 14);
    }
  });
});

/** The exact mean over trees of leaf fractions (value / Σ value added tree by tree, then / nTrees). */
function expectedProba(trees: readonly Tree[], K: number, row: readonly number[]): number[] {
  const sums = new Array<number>(K).fill(0);
  for (const t of trees) {
    const leaf = leafOf(t, row);
    let total = 0;
    for (let k = 0; k < K; k++) total += t.value[leaf * K + k]!;
    for (let k = 0; k < K; k++) sums[k]! += t.value[leaf * K + k]! / total;
  }
  return sums.map((s) => s / trees.length);
}

/** The same tree with its nodes renumbered: children after parents, right subtrees first. */
function rightFirst(t: Tree, K: number): Tree {
  const order: number[] = [];
  const visit = (i: number): void => {
    order.push(i);
    if (t.feature[i]! >= 0) {
      visit(t.right[i]!);
      visit(t.left[i]!);
    }
  };
  visit(0);
  const at = new Map(order.map((i, j) => [i, j]));
  return {
    feature: Int32Array.from(order, (i) => t.feature[i]!),
    threshold: Float64Array.from(order, (i) => t.threshold[i]!),
    left: Int32Array.from(order, (i) => (t.feature[i]! >= 0 ? at.get(t.left[i]!)! : -1)),
    right: Int32Array.from(order, (i) => (t.feature[i]! >= 0 ? at.get(t.right[i]!)! : -1)),
    missingLeft: Uint8Array.from(order, (i) => t.missingLeft[i]!),
    value: Float64Array.from(order.flatMap((i) => Array.from(t.value.subarray(i * K, i * K + K)))),
  };
}

describe('Forest.predictProbaInto: batches, single rows and tree layouts', () => {
  // 1,000 classes: a batch block holds 2^19 / 1000 = 524 rows, so 1,200 rows cross two block ends.
  const K = 1000;
  const n = 1200;
  const r = createRng(11, 11);
  const columns = [0, 1, 2].map(() =>
    Float64Array.from({ length: n }, () => (r.uniform() < 0.1 ? NaN : r.normal())),
  );
  const y = Int32Array.from({ length: n }, () => r.int(K));
  const forest = fitForest({ columns, y, nClasses: K }, { ...PARAMS, nEstimators: 5 }, [3]);
  const x = rowMajor(columns, n);

  it('gives every row of a multi-block batch exactly the mean of its leaves’ fractions, NaN routed as stored', () => {
    const out = forest.predictProba(x, n);
    for (const i of [0, 1, 523, 524, 525, 1047, 1048, 1199]) {
      const row = columns.map((c) => c[i]!);
      expect(Array.from(out.subarray(i * K, i * K + K))).toEqual(expectedProba(forest.trees, K, row));
    }
  });

  it('adds pure leaves (one class) and mixed leaves alike: exactly the mean of the leaves’ fractions', () => {
    // Rows repeated with other classes make leaves that stay mixed; the rest grow pure.
    const m = 600;
    const rr = createRng(12, 12);
    const cols = [0, 1].map(() =>
      Float64Array.from({ length: m }, (_, i) => (i < 300 ? i % 7 : rr.normal())),
    );
    const yy = Int32Array.from({ length: m }, () => rr.int(5));
    const f = fitForest({ columns: cols, y: yy, nClasses: 5 }, { ...PARAMS, nEstimators: 7 }, [5]);
    let pure = 0;
    let mixed = 0;
    for (const t of f.trees) {
      for (let i = 0; i < t.feature.length; i++) {
        if (t.feature[i]! >= 0) continue;
        const nonzero = Array.from(t.value.subarray(i * 5, i * 5 + 5)).filter((v) => v !== 0).length;
        if (nonzero === 1) pure++;
        else mixed++;
      }
    }
    expect(pure).toBeGreaterThan(50);
    expect(mixed).toBeGreaterThan(20);
    const xs = rowMajor(cols, m);
    const all = f.predictProba(xs, m);
    for (let i = 0; i < m; i++) {
      const want = expectedProba(f.trees, 5, [cols[0]![i]!, cols[1]![i]!]);
      expect(Array.from(all.subarray(i * 5, i * 5 + 5))).toEqual(want);
    }
    for (const i of [0, 1, 299, 300, 599]) {
      const one = f.predictProba(xs.subarray(i * 2, i * 2 + 2), 1);
      expect(Array.from(one)).toEqual(expectedProba(f.trees, 5, [cols[0]![i]!, cols[1]![i]!]));
    }
  });

  it('gives the same bits for a row alone, in a small batch and in a large one', () => {
    const all = forest.predictProba(x, n);
    const few = forest.predictProba(x.subarray(0, 5 * 3), 5);
    expect(few).toEqual(all.subarray(0, 5 * K));
    for (const i of [0, 700, 1199]) {
      expect(forest.predictProba(x.subarray(i * 3, i * 3 + 3), 1)).toEqual(all.subarray(i * K, i * K + K));
    }
  });

  it('predicts the same from trees in any valid node order (children after parents)', () => {
    const d = noisy(400, 3, 8);
    const f = fitForest(d, { ...PARAMS, nEstimators: 4 }, [2]);
    const reordered = Forest.fromTrees(
      f.trees.map((t) => rightFirst(t, 3)),
      3,
      3,
    );
    expect(reordered.trees[0]!.left[0]).not.toBe(1); // really another order
    const xs = rowMajor(d.columns, 400);
    xs[7] = Number.NaN;
    expect(reordered.predictProba(xs, 400)).toEqual(f.predictProba(xs, 400));
    expect(reordered.predictProba(xs, 3)).toEqual(f.predictProba(xs, 3));
  });
});

describe('fitTrees', () => {
  it('fits any range of a forest’s trees exactly as fitForest does, in any order of ranges', () => {
    const d = noisy(500, 4, 21);
    for (const params of [PARAMS, { ...PARAMS, bootstrap: false, classWeight: 'balanced' as const }]) {
      const whole = fitForest(d, params, [9, 1]);
      const b = new TreeBuilder(d);
      const late = fitTrees(b, params, [9, 1], 6, 10);
      const early = fitTrees(b, params, [9, 1], 0, 6);
      expect(treesDigest([...early, ...late])).toBe(treesDigest(whole.trees));
    }
  });
});

describe('Forest.fromTrees', () => {
  const ok = tree([0, -1, -1], [0.5, 0, 0], [1, -1, -1], [2, -1, -1], [1, 1, 1, 0, 0, 1]);

  it.each([
    ['a child index not after its parent', { ...ok, left: Int32Array.from([0, -1, -1]) }, /left child 0/],
    ['a feature index out of range', { ...ok, feature: Int32Array.from([3, -1, -1]) }, /feature 3/],
    ['value of the wrong length', { ...ok, value: new Float64Array(5) }, /value must have/],
    ['a leaf with no counts', { ...ok, value: Float64Array.from([1, 1, 0, 0, 0, 1]) }, /node 1: a leaf/],
    ['a negative count', { ...ok, value: Float64Array.from([1, 1, -1, 2, 0, 1]) }, /node 1: value -1/],
    ['a NaN threshold', { ...ok, threshold: Float64Array.from([Number.NaN, 0, 0]) }, /threshold is NaN/],
    ['a leaf with children', { ...ok, left: Int32Array.from([1, 2, -1]) }, /node 1: a leaf/],
    ['missingLeft of the wrong length', { ...ok, missingLeft: new Uint8Array(2) }, /same length \(3\)/],
    ['missingLeft not 0 or 1', { ...ok, missingLeft: Uint8Array.from([2, 0, 0]) }, /node 0: missingLeft 2/],
    [
      'missingLeft 1 at a leaf',
      { ...ok, missingLeft: Uint8Array.from([1, 1, 0]) },
      /node 1: a leaf must have missingLeft 0/,
    ],
    [
      'missingLeft not a Uint8Array',
      { ...ok, missingLeft: [0, 0, 0] as unknown as Uint8Array },
      /missingLeft a Uint8Array/,
    ],
  ])('refuses %s, naming the tree', (_what, bad, message) => {
    expect(() => Forest.fromTrees([ok, bad], 2, 2)).toThrow(message);
    expect(() => Forest.fromTrees([ok, bad], 2, 2)).toThrow(/^tree 1: /);
  });

  it('refuses an empty forest', () => {
    expect(() => Forest.fromTrees([], 2, 2)).toThrow(/at least one tree/);
  });
});

describe('fitForest', () => {
  const d = noisy(500, 4, 3);

  it('is deterministic: the same seed gives identical trees, another seed different ones', () => {
    const a = fitForest(d, PARAMS, [42]);
    const b = fitForest(d, PARAMS, [42]);
    expect(b.trees).toEqual(a.trees);
    const c = fitForest(d, PARAMS, [43]);
    expect(c.trees).not.toEqual(a.trees);
    const e = fitForest(d, PARAMS, [42, 1]);
    expect(e.trees).not.toEqual(a.trees);
  });

  it('gives tree t the same tree whatever the number of trees (one stream per tree)', () => {
    const few = fitForest(d, { ...PARAMS, nEstimators: 3 }, [8]);
    const many = fitForest(d, { ...PARAMS, nEstimators: 10 }, [8]);
    expect(many.trees.slice(0, 3)).toEqual(few.trees);
    expect(new Set(many.trees.map((t) => t.feature.length)).size).toBeGreaterThan(1);
  });

  it('uses bootstrap counts as weights: every tree’s counts sum to n, rows differ between trees', () => {
    const f = fitForest(d, PARAMS, [1]);
    const n = d.y.length;
    const classTotals = [0, 0, 0];
    for (const y of d.y) classTotals[y]! += 1;
    let differ = 0;
    for (const t of f.trees) {
      expect(nodeTotal(t, 0, 3)).toBe(n);
      expect(leaves(t).reduce((s, l) => s + nodeTotal(t, l, 3), 0)).toBe(n);
      expect(t.value.every((v) => Number.isInteger(v))).toBe(true);
      if (Array.from(t.value.subarray(0, 3)).some((v, k) => v !== classTotals[k])) differ++;
    }
    expect(differ).toBeGreaterThan(f.trees.length / 2);
  });

  it('without bootstrap, every tree sees every row once', () => {
    const f = fitForest(d, { ...PARAMS, bootstrap: false, minSamplesLeaf: 3 }, [1]);
    for (const t of f.trees) {
      expect(nodeTotal(t, 0, 3)).toBe(d.y.length);
      for (const l of leaves(t)) expect(nodeTotal(t, l, 3)).toBeGreaterThanOrEqual(3);
    }
  });

  it('respects maxDepth in every tree', () => {
    for (const maxDepth of [1, 3, 6]) {
      const f = fitForest(d, { ...PARAMS, maxDepth }, [2]);
      const depths = f.trees.map(treeDepth);
      expect(Math.max(...depths)).toBe(maxDepth);
    }
  });

  it('samples features per split, not per tree (maxFeatures 1 still uses both features in a tree)', () => {
    const f = fitForest(noisy(400, 2, 5, 0), { ...PARAMS, maxFeatures: 1, nEstimators: 5 }, [3]);
    for (const t of f.trees) {
      const used = new Set(Array.from(t.feature).filter((x) => x >= 0));
      expect(used.size).toBe(2);
    }
  });

  it.each([
    ['sqrt', 2],
    ['log2', 3],
    ['all', 9],
    [4, 4],
    [0.5, 4],
  ] as const)('maxFeatures %s fits (draws %i of 9 features per split)', (maxFeatures, _count) => {
    const d9 = noisy(300, 9, 6);
    const f = fitForest(d9, { ...PARAMS, maxFeatures, nEstimators: 3 }, [1]);
    expect(f.trees.length).toBe(3);
    expect(f.nFeatures).toBe(9);
  });

  it('with maxFeatures all and no bootstrap, every tree is the same up to ties', () => {
    const f = fitForest(d, { ...PARAMS, maxFeatures: 'all', bootstrap: false, nEstimators: 3 }, [1]);
    expect(f.trees[1]!.feature[0]).toBe(f.trees[0]!.feature[0]);
    expect(f.trees[1]!.threshold[0]).toBe(f.trees[0]!.threshold[0]);
  });

  it('refuses invalid params and seeds with a message naming them', () => {
    expect(() => fitForest(d, { ...PARAMS, nEstimators: 0 }, [1])).toThrow(
      /nEstimators must be an integer >= 1/,
    );
    expect(() => fitForest(d, { ...PARAMS, maxFeatures: 5 }, [1])).toThrow(/maxFeatures must be/);
    expect(() => fitForest(d, PARAMS, [])).toThrow(/seed/);
    expect(() => fitForest(d, PARAMS, [-1])).toThrow(/seed/);
    expect(() => fitForest(d, PARAMS, [2 ** 32])).toThrow(/seed/);
  });

  it('is near 100 % accurate on simulation-like data', () => {
    const train = segments(3000, 1);
    const test = segments(2000, 2);
    const f = fitForest(train.data, { ...PARAMS, nEstimators: 30 }, [1]);
    const n = test.rows.length;
    const proba = f.predictProba(Float64Array.from(test.rows.flat()), n);
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const p = Array.from(proba.subarray(i * 3, i * 3 + 3));
      if (p.indexOf(Math.max(...p)) === test.data.y[i]) correct++;
    }
    expect(correct / n).toBeGreaterThanOrEqual(0.99);
  });
});

describe('Forest.featureImportances', () => {
  it('is scikit-learn’s mean decrease in impurity on a hand-computed tree', () => {
    // Root [4, 4] (w·gini 8·0.5 = 4) splits on x1 into [4, 1] (w·gini 5·0.32 = 1.6) and [0, 3] (0);
    // [4, 1] splits on x0 into [4, 0] and [0, 1]: decreases x1: 4 - 1.6 = 2.4, x0: 1.6. Sum 1.
    const t = tree(
      [1, 0, -1, -1, -1],
      [0.5, 0.5, 0, 0, 0],
      [1, 2, -1, -1, -1],
      [4, 3, -1, -1, -1],
      [4, 4, 4, 1, 4, 0, 0, 1, 0, 3],
    );
    const imp = treeFeatureImportances(t, 2, 3);
    expect(imp[0]).toBeCloseTo(0.4, 14);
    expect(imp[1]).toBeCloseTo(0.6, 14);
    expect(imp[2]).toBe(0);
    // The forest averages trees with a split; single-leaf trees do not count.
    const leaf = tree([-1], [0], [-1], [-1], [1, 1]);
    const f = Forest.fromTrees([t, leaf], 2, 3);
    expect(Array.from(f.featureImportances())).toEqual(Array.from(imp));
    expect(Array.from(Forest.fromTrees([leaf], 2, 3).featureImportances())).toEqual([0, 0, 0]);
  });

  it('sums to 1 and ranks informative features above noise', () => {
    const d = noisy(600, 4, 7, 0.05);
    const imp = fitForest(d, { ...PARAMS, nEstimators: 20 }, [1]).featureImportances();
    expect(imp.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Math.min(imp[0]!, imp[1]!)).toBeGreaterThan(Math.max(imp[2]!, imp[3]!));
  });
});

describe('fitForest: the same trees as before missing values and class weights (golden digests)', () => {
  // test/fixtures/forest-golden.json was recorded with the forest before it learned missing values
  // and class weights. Data without NaN and classWeight null must give byte-identical trees and
  // probabilities. Regenerate only on purpose: SEGSERVE_WRITE_FOREST_GOLDEN=1 npx vitest run test/forest/forest.test.ts
  const goldenUrl = new URL('../fixtures/forest-golden.json', import.meta.url);
  const sets: Record<string, () => TrainingData> = {
    noisy: () => noisy(2000, 5, 1),
    segments: () => segments(3000, 2).data,
    ties: () => {
      // Few distinct values per feature (many ties), 4 classes.
      const r = createRng(5, 5);
      const n = 1500;
      const columns = [0, 1, 2].map(() => Float64Array.from({ length: n }, () => r.int(6)));
      const y = Int32Array.from({ length: n }, (_, i) => (columns[0]![i]! + columns[1]![i]! + r.int(2)) % 4);
      return { columns, y, nClasses: 4 };
    },
  };
  const configs: Record<string, Omit<ForestParams, 'classWeight'>> = {
    default: { ...PARAMS, nEstimators: 8 },
    noBootstrapAll: {
      ...PARAMS,
      nEstimators: 4,
      bootstrap: false,
      maxFeatures: 'all',
      maxDepth: 6,
      minSamplesSplit: 5,
      minSamplesLeaf: 2,
    },
    two: { ...PARAMS, nEstimators: 6, maxFeatures: 2, maxDepth: 10, minSamplesSplit: 10, minSamplesLeaf: 3 },
  };
  const seeds = [[1], [7, 3]];
  const computed: Record<string, { nodes: number; trees: string; proba: string }> = {};
  for (const [setName, make] of Object.entries(sets)) {
    const d = make();
    const n = d.y.length;
    const x = rowMajor(d.columns, n);
    for (const [configName, params] of Object.entries(configs)) {
      for (const seed of seeds) {
        const f = fitForest(d, { ...PARAMS, ...params }, seed);
        computed[`${setName}/${configName}/${seed.join(',')}`] = {
          nodes: f.trees.reduce((s, t) => s + t.feature.length, 0),
          trees: treesDigest(f.trees),
          proba: bytesDigest(f.predictProba(x, n)),
        };
      }
    }
  }

  if (process.env.SEGSERVE_WRITE_FOREST_GOLDEN === '1') {
    writeFileSync(goldenUrl, `${JSON.stringify(computed, null, 2)}\n`);
  }
  const golden = JSON.parse(readFileSync(goldenUrl, 'utf8')) as typeof computed;

  it('has every case of the fixture', () => {
    expect(Object.keys(computed).sort()).toEqual(Object.keys(golden).sort());
    expect(Object.keys(golden).length).toBe(18);
  });

  it.each(Object.keys(golden))(
    '%s: same trees (feature, threshold, children, value) and probabilities',
    (key) => {
      expect(computed[key]).toEqual(golden[key]);
    },
  );
});
