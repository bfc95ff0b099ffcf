import { describe, expect, it } from 'vitest';
import { stratifiedFolds, trainTestSplit } from '../../src/data/split.js';

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
