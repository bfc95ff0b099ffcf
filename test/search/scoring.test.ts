import { describe, expect, it } from 'vitest';
import { rocAuc, SCORINGS, score } from '../../src/search/scoring.js';
import { sklearnMetrics } from './fixture.js';

describe('score against scikit-learn', () => {
  it('covers every scorer in the fixture', () => {
    for (const c of sklearnMetrics.cases) expect(Object.keys(c.scores).sort()).toEqual([...SCORINGS].sort());
  });

  for (const c of sklearnMetrics.cases) {
    it.each([...SCORINGS])(`%s on "${c.name}"`, (scoring) => {
      const got = score(scoring, Float64Array.from(c.proba), Int32Array.from(c.y), c.classes);
      expect(got).toBeCloseTo(c.scores[scoring], 12);
    });
  }
});

describe('rocAuc', () => {
  const y = Int32Array.from([0, 0, 1, 1]);
  const binary = (p1: number[]) => Float64Array.from(p1.flatMap((p) => [1 - p, p]));

  it('counts a tie between a positive and a negative as half a correct pair', () => {
    expect(rocAuc(y, binary([0.1, 0.4, 0.35, 0.8]), 2)).toBe(0.75);
    expect(rocAuc(y, binary([0.1, 0.5, 0.5, 0.8]), 2)).toBe(0.875);
    expect(rocAuc(y, binary([0.5, 0.5, 0.5, 0.5]), 2)).toBe(0.5);
    expect(rocAuc(y, binary([0.9, 0.8, 0.2, 0.1]), 2)).toBe(0);
  });

  it('scores the second column in the binary case, not the argmax', () => {
    // every row predicts class 0 (accuracy 0.5), yet the ranking is perfect
    expect(rocAuc(y, binary([0.1, 0.2, 0.3, 0.4]), 2)).toBe(1);
  });

  it('averages the defined one-vs-rest AUCs; NaN when none is defined', () => {
    const y3 = Int32Array.from([0, 0, 1, 1]); // class 2 has no rows
    const p = Float64Array.from([0.8, 0.1, 0.1, 0.6, 0.3, 0.1, 0.3, 0.6, 0.1, 0.1, 0.2, 0.7]);
    // class 0: perfect (1); class 1: scores 0.1, 0.3 | 0.6, 0.2 → pairs 0.6>0.1, 0.6>0.3, 0.2>0.1 → 0.75
    expect(rocAuc(y3, p, 3)).toBeCloseTo((1 + 0.75) / 2, 15);
    expect(rocAuc(Int32Array.from([1, 1]), binary([0.2, 0.7]), 2)).toBeNaN();
  });
});

describe('score input checks', () => {
  it('names a shape mismatch, an empty set and a bad class index', () => {
    expect(() => score('roc_auc', new Float64Array(5), Int32Array.from([0, 1, 1]), [0, 1])).toThrow(
      'probabilities have 5 values, expected 3 rows × 2 classes = 6',
    );
    expect(() => score('accuracy', new Float64Array(0), new Int32Array(0), [0, 1])).toThrow(
      'cannot score 0 rows',
    );
    expect(() => score('f1_macro', new Float64Array(4), Int32Array.from([0, 2]), [0, 1])).toThrow(
      'row 1: true class index 2 is not in 0..1',
    );
  });
});
