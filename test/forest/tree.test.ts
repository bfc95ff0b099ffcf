import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import {
  binColumns,
  drawIndices,
  ForestParamError,
  fitForest,
  fitTree,
  TreeBuilder,
  treeDepth,
  treeFeatureImportances,
  unbinColumn,
  unbinRows,
  validateTree,
} from '../../src/forest/index.js';
import { data, leafOf, leaves, nodeTotal, noisy, TREE } from './helpers.js';

const rng = () => createRng(1, 2);

describe('fitTree: splits known by hand', () => {
  it('splits one feature at the midpoint between the classes and stops at pure leaves', () => {
    const t = fitTree(data([[1, 2, 3, 10, 11, 12]], [0, 0, 0, 1, 1, 1]), null, TREE, rng());
    expect(Array.from(t.feature)).toEqual([0, -1, -1]);
    expect(t.threshold[0]).toBe(6.5);
    expect(Array.from(t.left)).toEqual([1, -1, -1]);
    expect(Array.from(t.right)).toEqual([2, -1, -1]);
    expect(Array.from(t.value)).toEqual([3, 3, 3, 0, 0, 3]);
  });

  it('puts thresholds between distinct values, never between equal ones', () => {
    const t = fitTree(data([[2, 1, 2, 1, 0.5]], [1, 0, 1, 0, 0]), null, TREE, rng());
    expect(t.feature[0]).toBe(0);
    expect(t.threshold[0]).toBe(1.5);
    // Unsorted input, duplicates: the left side holds the three rows <= 1.5.
    expect(Array.from(t.value.subarray(2, 4))).toEqual([3, 0]);
  });

  it('chooses the informative feature over a noisy one', () => {
    const noise = [5, 1, 4, 2, 3, 6, 0, 7];
    const signal = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9];
    const y = [0, 0, 0, 0, 1, 1, 1, 1];
    for (let seed = 0; seed < 10; seed++) {
      const t = fitTree(data([noise, signal], y), null, TREE, createRng(seed, 0));
      expect(t.feature[0]).toBe(1);
      expect(t.threshold[0]).toBeCloseTo(0.5, 12);
      expect(t.feature.length).toBe(3);
    }
  });

  it('breaks ties between equally good thresholds by taking the first (as scikit-learn)', () => {
    // Splitting at 1.5 or at 3.5 gives the same Gini decrease.
    const t = fitTree(data([[1, 2, 3, 4]], [0, 1, 1, 0]), null, TREE, rng());
    expect(t.threshold[0]).toBe(1.5);
  });

  it('makes a single leaf of a pure data set', () => {
    const t = fitTree(
      data(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        [1, 1, 1],
        2,
      ),
      null,
      TREE,
      rng(),
    );
    expect(Array.from(t.feature)).toEqual([-1]);
    expect(Array.from(t.left)).toEqual([-1]);
    expect(Array.from(t.value)).toEqual([0, 3]);
  });

  it('makes a leaf when every feature is constant (values within 1e-7 count as equal)', () => {
    const t = fitTree(
      data(
        [
          [1, 1 + 1e-8, 1],
          [3, 3, 3],
        ],
        [0, 1, 0],
      ),
      null,
      TREE,
      rng(),
    );
    expect(Array.from(t.feature)).toEqual([-1]);
    expect(Array.from(t.value)).toEqual([2, 1]);
  });

  it('keeps drawing features while all drawn ones are constant in the node (maxFeatures 1)', () => {
    // Feature 0 is constant, so a draw of it does not count: the root always splits on feature 1.
    for (let seed = 0; seed < 20; seed++) {
      const t = fitTree(
        data(
          [
            [7, 7, 7, 7],
            [1, 2, 3, 4],
          ],
          [0, 0, 1, 1],
        ),
        null,
        { ...TREE, maxFeatures: 1 },
        createRng(seed, 5),
      );
      expect(t.feature[0]).toBe(1);
    }
  });

  it('stores the tree in pre-order, left subtree first', () => {
    const t = fitTree(data([[1, 2, 3, 4, 5, 6]], [0, 1, 1, 2, 2, 0]), null, TREE, rng());
    for (let i = 0; i < t.feature.length; i++) {
      if (t.feature[i] === -1) continue;
      expect(t.left[i]).toBe(i + 1);
      expect(t.right[i] as number).toBeGreaterThan(t.left[i] as number);
    }
    expect(() => validateTree(t, 3, 1)).not.toThrow();
  });
});

describe('fitTree: the same trees as scikit-learn', () => {
  // Written by sklearn-trees.py: configurations where scikit-learn's tree has no feature ties.
  const fixture = JSON.parse(readFileSync(new URL('./sklearn-trees.json', import.meta.url), 'utf8')) as {
    columns: number[][];
    y: number[];
    counts: number[];
    cases: {
      weighted: boolean;
      maxDepth: number | null;
      minSamplesLeaf: number;
      minSamplesSplit: number;
      tree: {
        feature: number[];
        threshold: number[];
        left: number[];
        right: number[];
        value: number[];
        importances: number[];
      };
    }[];
  };
  const d = data(fixture.columns, fixture.y);

  it.each(fixture.cases)(
    'weighted $weighted, maxDepth $maxDepth, minSamplesLeaf $minSamplesLeaf, minSamplesSplit $minSamplesSplit',
    (c) => {
      const params = {
        ...TREE,
        maxDepth: c.maxDepth,
        minSamplesLeaf: c.minSamplesLeaf,
        minSamplesSplit: c.minSamplesSplit,
      };
      const counts = c.weighted ? Int32Array.from(fixture.counts) : null;
      for (let seed = 0; seed < 5; seed++) {
        const t = fitTree(d, counts, params, createRng(seed, 1));
        expect(Array.from(t.feature)).toEqual(c.tree.feature);
        expect(Array.from(t.left)).toEqual(c.tree.left);
        expect(Array.from(t.right)).toEqual(c.tree.right);
        expect(Array.from(t.threshold)).toEqual(c.tree.threshold);
        expect(Array.from(t.value)).toEqual(c.tree.value);
        treeFeatureImportances(t, 3, 3).forEach((v, f) => {
          expect(v).toBeCloseTo(c.tree.importances[f]!, 12);
        });
      }
    },
  );

  it('has weighted and unweighted cases with leaf and split minimums', () => {
    expect(fixture.cases.filter((c) => c.weighted && c.minSamplesLeaf > 1).length).toBeGreaterThan(0);
    expect(fixture.cases.filter((c) => !c.weighted).length).toBeGreaterThan(0);
  });
});

describe('fitTree: stopping rules', () => {
  const d = noisy(400, 3, 1);

  it('respects maxDepth, and grows to it when the data allow', () => {
    for (const maxDepth of [1, 2, 3, 5]) {
      const t = fitTree(d, null, { ...TREE, maxDepth }, rng());
      expect(treeDepth(t)).toBe(maxDepth);
    }
    expect(treeDepth(fitTree(d, null, TREE, rng()))).toBeGreaterThan(5);
  });

  it('splits no node with fewer than minSamplesSplit samples', () => {
    for (const minSamplesSplit of [2, 10, 40]) {
      const t = fitTree(d, null, { ...TREE, minSamplesSplit }, rng());
      let smallest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < t.feature.length; i++) {
        if (t.feature[i] !== -1) smallest = Math.min(smallest, nodeTotal(t, i, 3));
      }
      expect(smallest).toBeGreaterThanOrEqual(minSamplesSplit);
      expect(smallest).toBeLessThan(2 * minSamplesSplit); // the rule binds: it is not vacuous
    }
  });

  it('leaves at least minSamplesLeaf samples in every leaf', () => {
    for (const minSamplesLeaf of [1, 5, 20]) {
      const t = fitTree(d, null, { ...TREE, minSamplesLeaf }, rng());
      const sizes = leaves(t).map((l) => nodeTotal(t, l, 3));
      expect(Math.min(...sizes)).toBeGreaterThanOrEqual(minSamplesLeaf);
      expect(Math.min(...sizes)).toBeLessThan(2 * minSamplesLeaf + 1);
    }
  });

  it('counts distinct rows, not their weights, for the minimums', () => {
    // Two rows, one counted 10 times: 2 samples, so minSamplesSplit 3 makes the root a leaf.
    const d2 = data([[1, 2]], [0, 1]);
    const counts = Int32Array.from([10, 1]);
    expect(fitTree(d2, counts, { ...TREE, minSamplesSplit: 3 }, rng()).feature.length).toBe(1);
    const t = fitTree(d2, counts, TREE, rng());
    expect(Array.from(t.value)).toEqual([10, 1, 10, 0, 0, 1]);
  });

  it('leaves out rows counted 0', () => {
    const d2 = data([[1, 2, 3]], [0, 1, 0]);
    const t = fitTree(d2, Int32Array.from([2, 0, 1]), TREE, rng());
    expect(Array.from(t.feature)).toEqual([-1]);
    expect(Array.from(t.value)).toEqual([3, 0]);
  });

  it('routes every training row to a leaf whose counts include its class (no bootstrap)', () => {
    const t = fitTree(d, null, TREE, rng());
    const leafCounts = new Map<number, number[]>();
    for (let i = 0; i < d.y.length; i++) {
      const row = d.columns.map((c) => c[i] as number);
      const leaf = leafOf(t, row);
      const counts = leafCounts.get(leaf) ?? [0, 0, 0];
      counts[d.y[i] as number]! += 1;
      leafCounts.set(leaf, counts);
    }
    for (const [leaf, counts] of leafCounts) {
      expect(Array.from(t.value.subarray(leaf * 3, leaf * 3 + 3))).toEqual(counts);
    }
  });
});

describe('drawIndices', () => {
  /** Chi-square statistic of `values` (in [0, n)) against the uniform distribution. */
  function chi2(values: ArrayLike<number>, n: number): number {
    const freq = new Float64Array(n);
    for (let i = 0; i < values.length; i++) freq[values[i]!]! += 1;
    const e = values.length / n;
    return freq.reduce((s, f) => s + (f - e) ** 2 / e, 0);
  }
  // Within 5 sd of the chi-square mean (n - 1 degrees of freedom).
  const plausible = (x: number, n: number) => Math.abs(x - (n - 1)) < 5 * Math.sqrt(2 * (n - 1));

  it.each([1, 2, 3, 7, 1000, 60_000])('draws uniform indices in [0, %i)', (n) => {
    const out = new Int32Array(Math.max(30_000, 5 * n));
    drawIndices(n, out, createRng(n, 1));
    expect(out.every((v) => v >= 0 && v < n)).toBe(true);
    if (n > 1) expect(plausible(chi2(out, n), n)).toBe(true);
  });

  it('is uniform at every digit position of a draw, the highest too (rejection works)', () => {
    // n = 3: 33 indices per 53-bit draw. Without rejection, the 33rd would favour 0 and 1.
    const D = 33;
    const out = new Int32Array(D * 6000);
    drawIndices(3, out, createRng(3, 3));
    for (const j of [0, 16, D - 1]) {
      const digits = out.filter((_, i) => i % D === j);
      expect(plausible(chi2(digits, 3), 3)).toBe(true);
    }
  });

  it('gives a bootstrap sample: about 36.8 % of 60,000 rows left out, the same for the same stream', () => {
    const n = 60_000;
    const a = new Int32Array(n);
    drawIndices(n, a, createRng(4, 4));
    const seen = new Uint8Array(n);
    for (const i of a) seen[i] = 1;
    const out = 1 - seen.reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(out - (1 - 1 / n) ** n)).toBeLessThan(0.006); // 3 sd ≈ 0.0059
    const b = new Int32Array(n);
    drawIndices(n, b, createRng(4, 4));
    expect(b).toEqual(a);
  });
});

describe('binColumns', () => {
  it('gives each row the rank of its value among the distinct values, for negative, zero, tiny, huge and repeated values', () => {
    const r = createRng(3, 3);
    const gens = [
      () => r.normal() * 1e3,
      () => r.int(10) - 5,
      () => (r.uniform() < 0.5 ? -0 : 0),
      () => r.normal() * 1e-300,
      () => (r.uniform() < 0.5 ? 1.7976931348623157e308 : -1.7976931348623157e308),
      () => Math.round(r.uniform() * 1e6) / 1e4,
      () => r.int(300),
    ];
    for (const n of [1, 2, 9, 3000]) {
      const columns = gens.map((g) => Float64Array.from({ length: n }, g));
      const binned = binColumns({ columns });
      columns.forEach((col, f) => {
        // Distinct values by ===, so -0 and +0 are one value.
        const distinct = [...new Set(Array.from(col, (v) => (v === 0 ? 0 : v)))].sort((a, b) => a - b);
        expect(Array.from(binned.values[f]!, (v) => (v === 0 ? 0 : v))).toEqual(distinct);
        const bins = binned.bins[f]!;
        // The bin's value equals the row's (=== : -0 and +0 alike).
        for (let i = 0; i < n; i++) expect(binned.values[f]![bins[i]!] === col[i]).toBe(true);
        for (let i = 0; i < n; i++) expect(bins[i]).toBe(distinct.indexOf(col[i] === 0 ? 0 : col[i]!));
        expect(bins).toBeInstanceOf(distinct.length < 255 ? Uint8Array : Uint16Array);
      });
    }
  });

  it('bins integer columns with missing values the same by counting (small range) and by sorting (wide range)', () => {
    const r = createRng(3, 4);
    const n = 500;
    const ints = Float64Array.from({ length: n }, () => (r.uniform() < 0.2 ? Number.NaN : r.int(40) - 20));
    // The same ranks with one far value added: a range too wide to count, so the radix sort bins it.
    const wide = Float64Array.from(ints);
    wide[0] = 1e9;
    const [small, sorted] = [ints, wide].map((col) => binColumns({ columns: [col] }));
    const expected = [...new Set(Array.from(ints).filter((v) => !Number.isNaN(v)))].sort((a, b) => a - b);
    expect(Array.from(small!.values[0]!)).toEqual(expected);
    for (let i = 0; i < n; i++) {
      const v = ints[i]!;
      expect(small!.bins[0]![i]).toBe(Number.isNaN(v) ? expected.length : expected.indexOf(v));
      if (i > 0) expect(sorted!.bins[0]![i]! === small!.bins[0]![i]! + (Number.isNaN(v) ? 1 : 0)).toBe(true);
    }
  });

  it('stores bins in 1, 2 or 4 bytes by the number of distinct values', () => {
    const n = 70_000;
    const columns = [254, 255, 65534, 65535].map((k) => Float64Array.from({ length: n }, (_, i) => i % k));
    const binned = binColumns({ columns });
    expect(binned.bins.map((b) => b.constructor.name)).toEqual([
      'Uint8Array',
      'Uint16Array',
      'Uint16Array',
      'Int32Array',
    ]);
    binned.bins.forEach((b, f) => {
      for (let i = 0; i < n; i += 997) expect(b[i]).toBe(columns[f]![i]);
    });
  });
});

describe('binned training data', () => {
  const withMissing = () => {
    const d = noisy(400, 4, 11);
    const c1 = d.columns[1] as Float64Array;
    for (let i = 0; i < c1.length; i += 7) c1[i] = Number.NaN;
    (d.columns[2] as Float64Array).set([-0, 0, -3.5, 1e300]);
    return d;
  };

  it('gives back exactly the binned values, by rows and by column, NaN where missing', () => {
    const d = withMissing();
    const binned = binColumns(d);
    const rows = new Float64Array(5 * 4);
    unbinRows(binned, 100, 105, rows);
    for (let f = 0; f < 4; f++) {
      const col = unbinColumn(binned, f);
      // Object.is but for -0, which comes back as the bin's zero (equal for every comparison).
      for (let i = 0; i < col.length; i++)
        expect(col[i] === 0 || Object.is(col[i], d.columns[f]![i])).toBe(true);
      for (let i = 0; i < col.length; i++) if (col[i] === 0) expect(d.columns[f]![i] === 0).toBe(true);
      for (let r = 0; r < 5; r++) expect(Object.is(rows[r * 4 + f], col[100 + r])).toBe(true);
    }
    expect(Number.isNaN(unbinColumn(binned, 1)[0])).toBe(true);
  });

  it('fits the same forest, to the byte, as the columns it was binned from', () => {
    const d = withMissing();
    const params = { ...TREE, nEstimators: 5, bootstrap: true, classWeight: null, maxFeatures: 2 } as const;
    const a = fitForest(d, params, [4, 2]);
    const b = fitForest({ binned: binColumns(d), y: d.y, nClasses: d.nClasses }, params, [4, 2]);
    expect(b.trees).toEqual(a.trees);
  });

  it('refuses binned data that binColumns could not have made, naming the field', () => {
    const d = withMissing();
    const ok = binColumns(d);
    const bad =
      (binned: object, y = d.y) =>
      () =>
        new TreeBuilder({ binned: { ...ok, ...binned } as typeof ok, y, nClasses: d.nClasses });
    expect(bad({ nRows: 3 })).toThrow(ForestParamError);
    expect(bad({ nRows: 3 })).toThrow('binned.nRows must be 400 (the length of y), got 3');
    expect(bad({ nFeatures: 0 })).toThrow('binned must be nFeatures >= 1');
    const values = [...ok.values];
    values[2] = Float64Array.from([1, 1]);
    expect(bad({ values })).toThrow(
      'binned.values[2][1] must be finite and larger than the value before it, got 1',
    );
    const bins = [...ok.bins];
    const V = ok.values[0]!.length;
    const wrong = ok.bins[0]!.slice();
    wrong[0] = V + 1;
    bins[0] = wrong;
    expect(bad({ bins })).toThrow(`binned.bins[0][0] must be a bin in [0, ${V}], got ${V + 1}`);
    bins[0] = new Uint8Array(3);
    expect(bad({ bins })).toThrow('binned.bins[0] must be of length 400, got "length 3"');
    expect(
      bad(
        {},
        Int32Array.from(d.y, () => 9),
      ),
    ).toThrow('y[0] must be a class index in [0, 3), got 9');
  });
});

describe('fitTree: numbers of classes', () => {
  it('fits a single class as one leaf', () => {
    const t = fitTree(data([[1, 2, 3]], [0, 0, 0], 1), null, TREE, rng());
    expect(Array.from(t.feature)).toEqual([-1]);
    expect(Array.from(t.value)).toEqual([3]);
  });

  it('separates 40 classes, with exact counts in every leaf', () => {
    const r = createRng(40, 40);
    const n = 2000;
    const x0 = Array.from({ length: n }, () => r.uniform());
    const x1 = Array.from({ length: n }, () => r.uniform());
    const y = x0.map((v) => Math.floor(v * 40));
    const d = data([x0, x1], y, 40);
    const counts = Int32Array.from({ length: n }, (_, i) => (i % 3) + 1);
    const t = fitTree(d, counts, TREE, rng());
    const expected = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const leaf = leafOf(t, [x0[i]!, x1[i]!]);
      const c = expected.get(leaf) ?? new Array<number>(40).fill(0);
      c[y[i]!]! += counts[i]!;
      expected.set(leaf, c);
    }
    for (const [leaf, c] of expected) {
      expect(Array.from(t.value.subarray(leaf * 40, leaf * 40 + 40))).toEqual(c);
      expect(c.filter((v) => v > 0).length).toBe(1); // pure: every class separated
    }
  });

  it('refuses counts too large to pack with the class index', () => {
    const b = new TreeBuilder(data([[1, 2]], [0, 1], 2 ** 16));
    expect(b.maxCount).toBe(2 ** 15 - 1);
    expect(() => b.fit(Int32Array.from([32768, 1]), TREE, rng())).toThrow(
      /sampleCounts\[0\] must be an integer in \[0, 32767\]/,
    );
    expect(() => b.fit(Int32Array.from([32767, 1]), TREE, rng())).not.toThrow();
  });
});

describe('TreeBuilder', () => {
  it('refuses bad sample counts and data with no counted row', () => {
    const b = new TreeBuilder(data([[1, 2]], [0, 1]));
    expect(() => b.fit(Int32Array.from([1]), TREE, rng())).toThrow(/one count per row/);
    expect(() => b.fit(Int32Array.from([1, -1]), TREE, rng())).toThrow(/sampleCounts\[1\]/);
    expect(() => b.fit(Int32Array.from([0, 0]), TREE, rng())).toThrow(/no row/);
  });

  it('gives the same tree whether or not it fitted other trees before (scratch buffers reset)', () => {
    const d = noisy(300, 3, 4);
    const fresh = new TreeBuilder(d).fitBootstrap({ ...TREE, maxFeatures: 2 }, createRng(9, 9));
    const b = new TreeBuilder(d);
    for (let i = 0; i < 5; i++) b.fitBootstrap({ ...TREE, maxFeatures: 2 }, createRng(9, i));
    b.fit(null, { ...TREE, minSamplesLeaf: 3 }, createRng(1, 1));
    expect(b.fitBootstrap({ ...TREE, maxFeatures: 2 }, createRng(9, 9))).toEqual(fresh);
  });
});
