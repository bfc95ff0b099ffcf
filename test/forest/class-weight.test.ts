/**
 * Class weights (scikit-learn's class_weight 'balanced' and 'balanced_subsample'): the weights'
 * formula, leaves' fractions computed by hand, trees recorded from scikit-learn, and the forest's
 * plumbing (a null class weight changes nothing).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import {
  balancedClassWeights,
  drawIndices,
  Forest,
  type ForestParams,
  fitForest,
  fitTree,
  TreeBuilder,
} from '../../src/forest/index.js';
import { data, leaves, noisy, referenceTree, TREE } from './helpers.js';

const rng = () => createRng(1, 2);
const PARAMS: ForestParams = {
  ...TREE,
  nEstimators: 5,
  maxFeatures: 'sqrt',
  bootstrap: true,
  classWeight: null,
};

describe('balancedClassWeights', () => {
  it('is n / (classes × count) per class, over the rows', () => {
    // 6 rows: 4 of class 0, 2 of class 1 → 6 / (2 · 4) = 0.75 and 6 / (2 · 2) = 1.5.
    expect(Array.from(balancedClassWeights(Int32Array.from([0, 0, 0, 0, 1, 1]), 2))).toEqual([0.75, 1.5]);
  });

  it('counts rows with multiplicity, and gives a class absent from the sample weight 0', () => {
    // Counts: class 0 drawn 1 + 2 = 3 times, class 1 not at all, class 2 drawn 3 times: n = 6, 2 classes.
    const w = balancedClassWeights(Int32Array.from([0, 0, 1, 2]), 3, Int32Array.from([1, 2, 0, 3]));
    expect(Array.from(w)).toEqual([1, 0, 1]);
  });
});

describe('class weights in a tree', () => {
  it('balanced changes a leaf’s fractions as the formula says (computed by hand)', () => {
    // One threshold possible (1.5): left rows 0-2 [3, 0], right rows 3-8 [2, 4] (x constant: a leaf).
    // 9 rows, 5 of class 0 and 4 of class 1: weights 9 / (2 · 5) = 0.9 and 9 / (2 · 4) = 1.125.
    // Right leaf: [2 · 0.9, 4 · 1.125] = [1.8, 4.5], fractions [2/7, 5/7] (unweighted [1/3, 2/3]).
    const d = data([[1, 1, 1, 2, 2, 2, 2, 2, 2]], [0, 0, 0, 0, 0, 1, 1, 1, 1]);
    const cw = balancedClassWeights(d.y, 2);
    expect(Array.from(cw)).toEqual([0.9, 1.125]);
    const plain = Forest.fromTrees([fitTree(d, null, TREE, rng())], 2, 1);
    const t = fitTree(d, null, TREE, rng(), cw);
    expect(Array.from(t.feature)).toEqual([0, -1, -1]);
    expect(Array.from(t.value)).toEqual([4.5, 4.5, 2.7, 0, 1.8, 4.5]);
    const weighted = Forest.fromTrees([t], 2, 1);
    const p = weighted.predictProba(Float64Array.from([2]), 1);
    expect(p[0]).toBeCloseTo(2 / 7, 15);
    expect(p[1]).toBeCloseTo(5 / 7, 15);
    expect(Array.from(plain.predictProba(Float64Array.from([2]), 1))).toEqual([2 / 6, 4 / 6]);
  });

  it('weighs the Gini proxy: the best split moves as computed by hand', () => {
    // y = 0 0 0 0 1 0 0 1 at x = 1..8; the proxy is Σ cl²/wl + Σ cr²/wr.
    // Unweighted: at 7.5, [6, 1] | [0, 1] → 37/7 + 1 = 6.29; at 4.5, [4, 0] | [2, 2] → 4 + 2 = 6.
    // Balanced (weights 8 / (2 · 6) = 2/3 and 8 / (2 · 2) = 2): at 7.5, [4, 2] | [0, 2] → 20/6 + 2 =
    // 5.33; at 4.5, [8/3, 0] | [4/3, 4] → 8/3 + 10/3 = 6: the split moves to 4.5.
    const d = data([[1, 2, 3, 4, 5, 6, 7, 8]], [0, 0, 0, 0, 1, 0, 0, 1]);
    const one = { ...TREE, maxDepth: 1 };
    expect(fitTree(d, null, one, rng()).threshold[0]).toBe(7.5);
    const cw = balancedClassWeights(d.y, 2);
    expect(Array.from(cw)).toEqual([2 / 3, 2]);
    expect(fitTree(d, null, one, rng(), cw).threshold[0]).toBe(4.5);
  });

  it('uses weights in the purity test but counts rows for minSamplesLeaf', () => {
    // minSamplesLeaf 2: a leaf of one heavy row is still not allowed.
    const d = data([[1, 2, 3, 4]], [0, 1, 1, 1]);
    const cw = Float64Array.from([100, 1]);
    const t = fitTree(d, null, { ...TREE, minSamplesLeaf: 2 }, rng(), cw);
    for (const l of leaves(t)) {
      const rowsAtLeaf = Math.round(t.value[2 * l]! / 100) + Math.round(t.value[2 * l + 1]!);
      expect(rowsAtLeaf).toBeGreaterThanOrEqual(2);
    }
    // A single class is pure whatever its weight: one leaf.
    const pure = fitTree(data([[1, 2, 3]], [1, 1, 1]), null, TREE, rng(), Float64Array.from([5, 0.3]));
    expect(Array.from(pure.feature)).toEqual([-1]);
    expect(pure.value[1]).toBeCloseTo(0.9, 15);
  });

  it('refuses bad class weights with a message naming them', () => {
    const b = new TreeBuilder(data([[1, 2]], [0, 1]));
    expect(() => b.fit(null, TREE, rng(), Float64Array.from([1]))).toThrow(/one weight per class \(2\)/);
    expect(() => b.fit(null, TREE, rng(), Float64Array.from([1, 0]))).toThrow(
      /classWeights\[1\] must be a finite number > 0, got 0/,
    );
    expect(() => b.fit(null, TREE, rng(), Float64Array.from([Number.NaN, 1]))).toThrow(/classWeights\[0\]/);
  });
});

describe('class weights: the same trees as scikit-learn', () => {
  // Written by sklearn-class-weight.py (scikit-learn 1.2.1): DecisionTreeClassifier with
  // class_weight='balanced', and with the sample weights RandomForestClassifier uses for
  // 'balanced_subsample' (bootstrap counts × compute_sample_weight('balanced', y, indices)).
  const fixture = JSON.parse(
    readFileSync(new URL('./sklearn-class-weight.json', import.meta.url), 'utf8'),
  ) as {
    columns: number[][];
    y: number[];
    counts: number[];
    classWeightBalanced: number[];
    classWeightSubsample: number[];
    cases: {
      mode: 'balanced' | 'balanced_subsample';
      maxDepth: number | null;
      minSamplesLeaf: number;
      minSamplesSplit: number;
      tree: { feature: number[]; threshold: number[]; left: number[]; right: number[]; value: number[] };
    }[];
  };
  const d = data(fixture.columns, fixture.y);
  const counts = Int32Array.from(fixture.counts);

  it('computes scikit-learn’s weights (balanced, and balanced over a bootstrap sample)', () => {
    expect(Array.from(balancedClassWeights(d.y, 3))).toEqual(fixture.classWeightBalanced);
    expect(Array.from(balancedClassWeights(d.y, 3, counts))).toEqual(fixture.classWeightSubsample);
  });

  it('has both modes', () => {
    expect(new Set(fixture.cases.map((c) => c.mode))).toEqual(new Set(['balanced', 'balanced_subsample']));
  });

  it.each(fixture.cases)(
    '$mode, maxDepth $maxDepth, minSamplesLeaf $minSamplesLeaf, minSamplesSplit $minSamplesSplit',
    (c) => {
      const params = {
        ...TREE,
        maxDepth: c.maxDepth,
        minSamplesLeaf: c.minSamplesLeaf,
        minSamplesSplit: c.minSamplesSplit,
      };
      const subsample = c.mode === 'balanced_subsample';
      const cw = balancedClassWeights(d.y, 3, subsample ? counts : null);
      for (let seed = 0; seed < 5; seed++) {
        const t = fitTree(d, subsample ? counts : null, params, createRng(seed, 1), cw);
        expect(Array.from(t.feature)).toEqual(c.tree.feature);
        expect(Array.from(t.left)).toEqual(c.tree.left);
        expect(Array.from(t.right)).toEqual(c.tree.right);
        expect(Array.from(t.threshold)).toEqual(c.tree.threshold);
        t.value.forEach((v, i) => {
          expect(v).toBeCloseTo(c.tree.value[i]!, 8);
        });
      }
    },
  );
});

describe('class weights in the forest', () => {
  const d = noisy(400, 3, 8, 0.3);

  it('null changes nothing: the trees are those of a forest without the option', () => {
    const { classWeight: _omitted, ...without } = PARAMS;
    expect(fitForest(d, PARAMS, [4]).trees).toEqual(fitForest(d, without as ForestParams, [4]).trees);
  });

  it('balanced: every tree is the reference tree on its bootstrap counts with the data set’s weights', () => {
    const f = fitForest(d, { ...PARAMS, classWeight: 'balanced' }, [4]);
    const cw = balancedClassWeights(d.y, 3);
    f.trees.forEach((t, k) => {
      const r = createRng(4, k);
      const idx = new Int32Array(d.y.length);
      drawIndices(d.y.length, idx, r);
      const counts = new Int32Array(d.y.length);
      for (const i of idx) counts[i]! += 1;
      expect(t).toEqual(referenceTree(d, counts, PARAMS, r, cw));
      // The root holds the weighted class totals of the sample.
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = 0; i < d.y.length; i++) if (d.y[i] === c) s += counts[i]!;
        expect(t.value[c]).toBe(cw[c]! * s);
      }
    });
  });

  it('balanced_subsample: each root weighs the classes of its own sample equally (n / classes each)', () => {
    const f = fitForest(d, { ...PARAMS, classWeight: 'balanced_subsample' }, [4]);
    for (const t of f.trees) {
      for (let c = 0; c < 3; c++) expect(t.value[c]).toBeCloseTo(d.y.length / 3, 9);
    }
    // Not the same trees as balanced (the weights differ per tree).
    expect(f.trees).not.toEqual(fitForest(d, { ...PARAMS, classWeight: 'balanced' }, [4]).trees);
  });

  it('without bootstrap, balanced_subsample is balanced (as scikit-learn)', () => {
    const p = { ...PARAMS, bootstrap: false, nEstimators: 2 };
    const a = fitForest(d, { ...p, classWeight: 'balanced_subsample' }, [5]);
    const b = fitForest(d, { ...p, classWeight: 'balanced' }, [5]);
    expect(a.trees).toEqual(b.trees);
    const cw = balancedClassWeights(d.y, 3);
    for (let c = 0; c < 3; c++) {
      expect(a.trees[0]!.value[c]).toBe(cw[c]! * d.y.filter((v) => v === c).length);
    }
  });

  it('raises the probability of a rare class where it is likely', () => {
    const r = createRng(9, 9);
    const n = 2000;
    const x0 = Float64Array.from({ length: n }, () => r.uniform());
    // Class 1 is rare (about 10 %) and noisy: likely only for large x0.
    const y = Int32Array.from(x0, (v) => (r.uniform() < (v > 0.8 ? 0.4 : 0.02) ? 1 : 0));
    const train = { columns: [x0], y, nClasses: 2 };
    const params = { ...PARAMS, nEstimators: 20, maxDepth: 3, maxFeatures: 'all' as const };
    const x = Float64Array.from([0.9, 0.3]);
    const plain = fitForest(train, params, [1]).predictProba(x, 2);
    const balanced = fitForest(train, { ...params, classWeight: 'balanced' }, [1]).predictProba(x, 2);
    expect(plain[1]).toBeLessThan(0.5);
    expect(balanced[1]).toBeGreaterThan(0.5); // the balanced forest now predicts class 1 there
    for (let i = 0; i < 2; i++) expect(balanced[2 * i]! + balanced[2 * i + 1]!).toBeCloseTo(1, 12);
    expect(balanced[3]).toBeGreaterThan(plain[3]!);
  });
});
