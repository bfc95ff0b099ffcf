import { describe, expect, it } from 'vitest';
import {
  StratifyError,
  stratifiedFolds,
  stratifiedTrainTestSplit,
  trainTestSplit,
} from '../../src/data/split.js';

describe('trainTestSplit', () => {
  it('partitions the rows with ceil(n * testSize) test rows', () => {
    const { train, test } = trainTestSplit(1001, 0.4, 7);
    expect(test.length).toBe(401);
    expect(train.length).toBe(600);
    const all = [...train, ...test].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1001 }, (_, i) => i));
  });

  it('is a seeded shuffle: same seed same split, other seed other split', () => {
    const a = trainTestSplit(500, 0.4, 1);
    expect(trainTestSplit(500, 0.4, 1)).toEqual(a);
    expect(Array.from(trainTestSplit(500, 0.4, 2).test)).not.toEqual(Array.from(a.test));
    // shuffled, not the first rows
    expect(Array.from(a.test).slice(0, 10)).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('refuses sizes that leave an empty part', () => {
    expect(() => trainTestSplit(1, 0.4, 1)).toThrow(/empty train or test part/);
    expect(() => trainTestSplit(10, 1, 1)).toThrow(/testSize must be in \(0, 1\)/);
  });
});

describe('stratifiedFolds', () => {
  // Expected folds from scikit-learn 1.2.1 StratifiedKFold(k).split(X, y) (shuffle=False).
  it.each([
    [
      [0, 1, 0, 2, 1, 1, 0, 2, 2, 1, 1, 0, 1, 2, 0, 0, 1],
      3,
      [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2],
    ],
    [
      [2, 2, 0, 1, 0, 1, 1, 1, 0, 2, 0, 0, 1, 1, 1, 2, 0, 1, 2, 2, 1, 0, 0],
      4,
      [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 2, 3, 2, 3, 3, 3, 3],
    ],
  ])('matches scikit-learn on %j with k=%i', (y, k, expected) => {
    expect(Array.from(stratifiedFolds(Int32Array.from(y), 3, k))).toEqual(expected);
  });

  it('balances every class across the folds', () => {
    const y = Int32Array.from({ length: 3000 }, (_, i) => (i * 7919) % 3);
    const folds = stratifiedFolds(y, 3, 3);
    for (let c = 0; c < 3; c++) {
      const perFold = [0, 1, 2].map((f) => y.filter((v, i) => v === c && folds[i] === f).length);
      expect(Math.max(...perFold) - Math.min(...perFold)).toBeLessThanOrEqual(1);
    }
  });

  it('refuses a class smaller than k', () => {
    expect(() => stratifiedFolds(Int32Array.from([0, 0, 0, 1]), 2, 3)).toThrow(
      'class 1 has 1 rows, fewer than the 3 folds',
    );
  });
});

describe('stratifiedTrainTestSplit', () => {
  // Unbalanced classes with awkward sizes, rows of each class scattered through y.
  const sizes = [7, 50, 3, 1234, 2, 91, 0, 18];
  const y = Int32Array.from(sizes.flatMap((size, c) => new Array<number>(size).fill(c)));
  for (let i = y.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [y[i], y[j]] = [y[j] as number, y[i] as number];
  }
  const n = y.length;

  it('cuts ceil(n * testSize) test rows, disjoint from the training rows, covering every row', () => {
    const { train, test } = stratifiedTrainTestSplit(y, sizes.length, 0.3, 42);
    expect(test.length).toBe(Math.ceil(n * 0.3));
    expect(train.length).toBe(n - test.length);
    const all = [...train, ...test].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it.each([0.3, 0.25, 0.5, 0.9])('deals each class within one row of its exact share (testSize %f)', (ts) => {
    for (const seed of [1, 2, 3]) {
      const { test } = stratifiedTrainTestSplit(y, sizes.length, ts, seed);
      const perClass = new Array<number>(sizes.length).fill(0);
      for (const r of test) perClass[y[r] as number] = (perClass[y[r] as number] as number) + 1;
      sizes.forEach((size, c) => {
        expect(Math.abs((perClass[c] as number) - (size * test.length) / n)).toBeLessThan(1);
      });
    }
  });

  it('keeps a 2-row class on both sides', () => {
    const { train, test } = stratifiedTrainTestSplit(y, sizes.length, 0.3, 5);
    expect(train.filter((r) => y[r] === 4).length).toBe(1);
    expect(test.filter((r) => y[r] === 4).length).toBe(1);
  });

  it('is seeded: same seed same split, other seeds other splits, both parts shuffled', () => {
    const a = stratifiedTrainTestSplit(y, sizes.length, 0.3, 1);
    expect(stratifiedTrainTestSplit(y, sizes.length, 0.3, 1)).toEqual(a);
    const b = stratifiedTrainTestSplit(y, sizes.length, 0.3, 2);
    expect(Array.from(b.test)).not.toEqual(Array.from(a.test));
    expect([...b.test].sort((p, q) => p - q)).not.toEqual([...a.test].sort((p, q) => p - q));
    // not in row order nor grouped by class
    const sorted = [...a.test].sort((p, q) => p - q);
    expect(Array.from(a.test)).not.toEqual(sorted);
    const classes = Array.from(a.test, (r) => y[r] as number);
    expect(classes).not.toEqual([...classes].sort((p, q) => p - q));
  });

  it('refuses a class with a single row, naming its index', () => {
    const small = Int32Array.from([0, 0, 1, 2, 2, 0]);
    expect(() => stratifiedTrainTestSplit(small, 3, 0.5, 1)).toThrow(
      'class 1 has 1 row; a stratified split needs at least 2 rows of every class',
    );
    const err = (() => {
      try {
        stratifiedTrainTestSplit(small, 3, 0.5, 1);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(StratifyError);
    expect((err as StratifyError).classIndex).toBe(1);
  });

  it('refuses parts smaller than the number of classes, bad sizes and bad class indices', () => {
    const y3 = Int32Array.from([0, 0, 1, 1, 2, 2, 2, 2, 2, 2]);
    expect(() => stratifiedTrainTestSplit(y3, 3, 0.1, 1)).toThrow(/1 test rows, fewer than the 3 classes/);
    expect(() => stratifiedTrainTestSplit(y3, 3, 0.9, 1)).toThrow(
      /1 training rows, fewer than the 3 classes/,
    );
    expect(() => stratifiedTrainTestSplit(y3, 3, 0, 1)).toThrow(/testSize must be in \(0, 1\)/);
    expect(() => stratifiedTrainTestSplit(Int32Array.from([0, 0, 3, 3]), 3, 0.5, 1)).toThrow(
      'row 2: class index 3 is not in 0..2',
    );
  });
});
