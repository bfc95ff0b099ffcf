import { describe, expect, it } from 'vitest';
import { buildReference, type DriftFeature, DriftWindow } from '../../src/pipeline/drift.js';
import { DriftTally } from '../../src/pipeline/drift-batch.js';
import { rng } from '../helpers/mulberry32.js';

const FEATURES: DriftFeature[] = [
  { name: 'age', kind: 'numeric' },
  { name: 'income', kind: 'numeric' },
  { name: 'response', kind: 'categorical', categories: [0, 1] },
  { name: 'events', kind: 'categorical', categories: [0, 1, 2, 3, 4, 5, 6] },
];
const F = FEATURES.length;
const K = 3;

/** n rows with some missing values; `odd` adds values outside the reference (codes 7, -1, 1.5; ages 200). */
function rows(n: number, seed: number, odd = false): { x: Float64Array; proba: Float64Array } {
  const rand = rng(seed);
  const x = new Float64Array(n * F);
  const proba = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const age = 16 + Math.floor(rand() * 74) + (odd && rand() < 0.2 ? 120 : 0);
    x[i * F] = age;
    x[i * F + 1] = rand() < 0.05 ? Number.NaN : age + Math.abs(20 + 100 * (rand() - 0.5));
    x[i * F + 2] = rand() < 0.5 ? 0 : 1;
    const r = rand();
    x[i * F + 3] =
      odd && r < 0.05
        ? 7
        : odd && r < 0.08
          ? -1
          : odd && r < 0.1
            ? 1.5
            : r < 0.13
              ? Number.NaN
              : Math.floor(rand() * 7);
    const a = rand();
    const b = rand() * (1 - a);
    proba.set([a, b, 1 - a - b], i * K);
    if (i % 17 === 0) proba.set([0.4, 0.4, 0.2], i * K); // a tie goes to the first class
  }
  return { x, proba };
}

describe('DriftTally', () => {
  const train = rows(2000, 1);
  const columns = FEATURES.map((_, j) =>
    Float64Array.from({ length: 2000 }, (_, i) => train.x[i * F + j] as number),
  );
  const reference = buildReference(columns, FEATURES, train.proba, K);

  it('gives, bit for bit, the report of a DriftWindow holding the same rows, in any batches', () => {
    for (const [seed, odd] of [
      [2, false],
      [3, true],
    ] as const) {
      const n = 3001;
      const { x, proba } = rows(n, seed, odd);
      const window = new DriftWindow(F, K, n);
      const tally = new DriftTally(reference);
      // The window in one go, the tally in uneven batches, with unknowns reported along the way.
      for (let at = 0, b = 1; at < n; at += b, b = b * 2 + 1) {
        const m = Math.min(b, n - at);
        tally.countUnknown(3, 2);
        tally.add(x.subarray(at * F, (at + m) * F), m, proba.subarray(at * K, (at + m) * K));
        window.countUnknown(3, 2);
      }
      window.add(x, n, proba);
      expect(tally.size).toBe(n);
      const got = tally.report();
      expect(got).toEqual(window.report(reference));
      if (odd) {
        expect(got.features[3]?.unknownRate).toBeGreaterThan(0.05);
        expect(got.features[0]?.psi).toBeGreaterThan(0.25);
      } else {
        for (const f of got.features) expect(f.psi).toBeLessThan(0.1);
      }
    }
  });

  it('reports zeros for no rows, as an empty window does', () => {
    const tally = new DriftTally(reference);
    expect(tally.report()).toEqual(new DriftWindow(F, K, 10).report(reference));
    expect(() => tally.countUnknown(4)).toThrow(/feature must be an integer in \[0, 4\)/);
    expect(() => tally.add(new Float64Array(3), 1)).toThrow(/x must hold n × nFeatures = 4 values/);
  });
});
