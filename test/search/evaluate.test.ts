import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/search/evaluate.js';
import { sklearnMetrics } from './fixture.js';

describe('evaluate against scikit-learn', () => {
  for (const c of sklearnMetrics.cases) {
    it(c.name, () => {
      const k = c.classes.length;
      const yTrain = c.yTrain ? Int32Array.from(c.yTrain) : undefined;
      const ev = evaluate(Int32Array.from(c.y), Float64Array.from(c.proba), k, yTrain);
      const want = c.evaluation;
      expect(ev.confusionMatrix).toEqual(want.confusionMatrix);
      expect(ev.accuracy).toBeCloseTo(want.accuracy, 12);
      expect(ev.balancedAccuracy).toBeCloseTo(want.balancedAccuracy, 12);
      expect(ev.macroF1).toBeCloseTo(want.macroF1, 12);
      expect(ev.perClass).toHaveLength(k);
      ev.perClass.forEach((got, i) => {
        const w = want.perClass[i];
        expect(got.support).toBe(w?.support);
        expect(got.precision).toBeCloseTo(w?.precision ?? Number.NaN, 12);
        expect(got.recall).toBeCloseTo(w?.recall ?? Number.NaN, 12);
        expect(got.f1).toBeCloseTo(w?.f1 ?? Number.NaN, 12);
      });
      expect(ev.majorityBaseline.classIndex).toBe(want.majorityBaseline.classIndex);
      expect(ev.majorityBaseline.accuracy).toBeCloseTo(want.majorityBaseline.accuracy, 12);
    });
  }
});

describe('evaluate', () => {
  it('predicts the first of tied maxima and gives 0 for zero divisions', () => {
    // row 0 ties classes 0 and 1 → 0; class 2 is never predicted; class 1 has no true rows
    const y = Int32Array.from([0, 2, 2]);
    const proba = Float64Array.from([0.4, 0.4, 0.2, 0.5, 0.3, 0.2, 0.1, 0.6, 0.3]);
    const ev = evaluate(y, proba, 3);
    expect(ev.confusionMatrix).toEqual([
      [1, 0, 0],
      [0, 0, 0],
      [1, 1, 0],
    ]);
    expect(ev.perClass[1]).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(ev.perClass[2]).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
    expect(ev.perClass[0]).toEqual({ precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
    expect(ev.balancedAccuracy).toBe(0.5); // classes 0 and 2 only
    expect(ev.macroF1).toBeCloseTo(2 / 9, 15); // all three occur in truth or predictions
    expect(ev.majorityBaseline).toEqual({ classIndex: 2, accuracy: 2 / 3 });
  });

  it('takes the majority class from the given training rows, ties to the lower index', () => {
    const y = Int32Array.from([0, 1, 1]);
    const proba = Float64Array.from([1, 0, 0, 1, 0, 1]);
    expect(evaluate(y, proba, 2, Int32Array.from([1, 0, 0, 1])).majorityBaseline).toEqual({
      classIndex: 0,
      accuracy: 1 / 3,
    });
  });
});
