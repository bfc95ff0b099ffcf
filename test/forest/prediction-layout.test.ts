import { describe, expect, it } from 'vitest';
import { fitForest } from '../../src/forest/index.js';
import { FOREST } from './helpers.js';

describe('Forest.releasePredictionLayout', () => {
  it('predicts the same probabilities, bit for bit, after the layout is released and rebuilt', () => {
    const n = 400;
    const F = 4;
    const columns = Array.from({ length: F }, () => new Float64Array(n));
    const y = new Int32Array(n);
    let s = 7;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < F; f++) columns[f]![i] = rand() < 0.05 ? Number.NaN : Math.floor(rand() * 50);
      y[i] = ((columns[0]![i]! || 0) + (columns[1]![i]! || 0) + Math.floor(rand() * 20)) % 3;
    }
    const forest = fitForest({ columns, y, nClasses: 3 }, { ...FOREST, nEstimators: 10 }, [3]);
    const x = new Float64Array(n * F);
    for (let i = 0; i < n; i++) for (let f = 0; f < F; f++) x[i * F + f] = columns[f]![i]!;
    const before = forest.predictProba(x, n);
    const oneBefore = forest.predictProba(x.subarray(0, F), 1);
    forest.releasePredictionLayout();
    forest.releasePredictionLayout(); // twice: still nothing to predict from until the next call
    const oneAfter = forest.predictProba(x.subarray(0, F), 1);
    forest.releasePredictionLayout();
    const after = forest.predictProba(x, n);
    expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    expect(Buffer.from(oneAfter.buffer).equals(Buffer.from(oneBefore.buffer))).toBe(true);
    // The probabilities are real ones: each row sums to 1 and the forest fits its training rows.
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const p = after.subarray(i * 3, i * 3 + 3);
      expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 12);
      if (p.indexOf(Math.max(...p)) === y[i]) correct++;
    }
    expect(correct / n).toBeGreaterThan(0.8);
  });
});
