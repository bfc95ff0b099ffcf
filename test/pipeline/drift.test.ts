import { describe, expect, it } from 'vitest';
import {
  buildReference,
  DRIFT_BINS,
  type DriftFeature,
  type DriftReference,
  DriftWindow,
  PSI_EPSILON,
  psi,
  validateReference,
} from '../../src/pipeline/drift.js';
import { rng } from '../helpers/mulberry32.js';

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const FEATURES: DriftFeature[] = [
  { name: 'age', kind: 'numeric' },
  { name: 'income', kind: 'numeric' },
  { name: 'response', kind: 'categorical', categories: [0, 1] },
  { name: 'events', kind: 'categorical', categories: [0, 1, 2, 3, 4, 5, 6] },
];
const F = FEATURES.length;
const K = 3;
const EVENT_WEIGHTS = [0.1, 0.75, 0.6, 0.8, 0.5, 0.79, 0.3];

interface Shift {
  age?: number;
  events?: number[];
  incomeMissing?: number;
}

/**
 * Post-like rows, row-major n × 4: integer age ~ normal(45, 15), income = age + |20 + 100 z| with 5%
 * missing, response 0/1, events 0..6 by weight; and probabilities whose argmax follows income.
 */
function sample(seed: number, n: number, shift: Shift = {}): { x: Float64Array; proba: Float64Array } {
  const rand = rng(seed);
  const weights = shift.events ?? EVENT_WEIGHTS;
  const total = weights.reduce((a, b) => a + b, 0);
  const x = new Float64Array(n * F);
  const proba = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const age = Math.round(45 + 15 * normal(rand));
    const income = age + Math.abs(20 + 100 * normal(rand));
    let u = rand() * total;
    let e = 0;
    while (e < weights.length - 1 && u >= weights[e]!) u -= weights[e++]!;
    x[i * F] = age + (shift.age ?? 0); // the age column alone moves
    x[i * F + 1] = rand() < (shift.incomeMissing ?? 0.05) ? Number.NaN : income;
    x[i * F + 2] = rand() < 0.5 ? 1 : 0;
    x[i * F + 3] = e;
    const cls = income < 100 ? 0 : income < 200 ? 1 : 2;
    proba[i * K + cls] = 0.8;
    proba[i * K + ((cls + 1) % K)] = 0.2;
  }
  return { x, proba };
}

function columnsOf(x: Float64Array, n: number): Float64Array[] {
  return Array.from({ length: F }, (_, f) => Float64Array.from({ length: n }, (_, i) => x[i * F + f]!));
}

function reference(seed = 1, n = 20_000): DriftReference {
  const { x, proba } = sample(seed, n);
  return buildReference(columnsOf(x, n), FEATURES, proba, K);
}

function windowOf(x: Float64Array, n: number, proba?: Float64Array, capacity = 1000): DriftWindow {
  const w = new DriftWindow(F, K, capacity);
  w.add(x, n, proba);
  return w;
}

describe('psi', () => {
  it('matches a hand computation', () => {
    // (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    const want = -0.25 * Math.log(0.5) + 0.25 * Math.log(1.5);
    expect(psi([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(want, 15);
    expect(psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])).toBe(0);
  });

  it('floors empty bins at PSI_EPSILON instead of giving infinity', () => {
    const got = psi([0.5, 0.5, 0], [0.5, 0.4, 0.1]);
    const want = (0.4 - 0.5) * Math.log(0.4 / 0.5) + (0.1 - PSI_EPSILON) * Math.log(0.1 / PSI_EPSILON);
    expect(got).toBeCloseTo(want, 14);
    expect(Number.isFinite(psi([1, 0], [0, 1]))).toBe(true);
  });

  it('refuses bins of different lengths and negative shares', () => {
    expect(() => psi([0.5, 0.5], [1])).toThrow(/same number of bins, got 2 and 1/);
    expect(() => psi([0.5, -0.1], [0.5, 0.5])).toThrow(/bin 1/);
  });
});

describe('buildReference', () => {
  it('cuts numeric features at the deciles, with shares per bin and the missing rate', () => {
    const n = 1000;
    const col = Float64Array.from({ length: n }, (_, i) => (i % 10 === 9 ? Number.NaN : i));
    const ref = buildReference([col], [{ name: 'v', kind: 'numeric' }], new Float64Array(n).fill(1), 1);
    const f = ref.features[0]!;
    expect(f.kind).toBe('numeric');
    if (f.kind !== 'numeric') return;
    expect(f.edges).toHaveLength(DRIFT_BINS - 1);
    expect(f.shares).toHaveLength(DRIFT_BINS);
    expect(f.missingRate).toBe(0.1);
    // 900 values in 10 bins of 90 each: each share is 90 / 1000 of all rows.
    for (const s of f.shares) expect(s).toBeCloseTo(0.09, 12);
    expect(ref.classShares).toEqual([1]);
    expect(ref.rows).toBe(n);
  });

  it('merges equal cut points of a discrete column and keeps the trees’ <= convention', () => {
    const col = Float64Array.from([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    const ref = buildReference([col], [{ name: 'flag', kind: 'numeric' }], new Float64Array(10).fill(1), 1);
    const f = ref.features[0]!;
    if (f.kind !== 'numeric') throw new Error('numeric expected');
    expect(f.edges.every((e, b) => b === 0 || e > f.edges[b - 1]!)).toBe(true);
    expect(f.edges[0]).toBe(0);
    expect(f.shares[0]).toBeCloseTo(0.7, 12); // the values equal to the first edge are in its bin
    expect(f.shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('counts category codes and the predicted classes (argmax)', () => {
    const col = Float64Array.from([0, 2, 2, Number.NaN, 1]);
    const proba = Float64Array.from([0.9, 0.1, 0.2, 0.8, 0.5, 0.5, 0.1, 0.9, 0.6, 0.4]);
    const ref = buildReference(
      [col],
      [{ name: 'c', kind: 'categorical', categories: ['a', 'b', 'c'] }],
      proba,
      2,
    );
    expect(ref.features[0]).toEqual({
      name: 'c',
      kind: 'categorical',
      shares: [0.2, 0.2, 0.4],
      missingRate: 0.2,
    });
    // Row 2's tie goes to class 0.
    expect(ref.classShares).toEqual([0.6, 0.4]);
  });

  it('is plain JSON: a round trip gives an equal, valid reference', () => {
    const ref = reference();
    const back = JSON.parse(JSON.stringify(ref)) as DriftReference;
    expect(back).toEqual(ref);
    expect(() => validateReference(back, F, K)).not.toThrow();
  });

  it('refuses bad training data, naming the feature and row', () => {
    const cat: DriftFeature[] = [{ name: 'events', kind: 'categorical', categories: [0, 1] }];
    expect(() => buildReference([Float64Array.from([0, 5])], cat, new Float64Array(2), 1)).toThrow(
      /feature "events": row 1: 5 is not a category code in \[0, 2\)/,
    );
    const num: DriftFeature[] = [{ name: 'age', kind: 'numeric' }];
    expect(() => buildReference([Float64Array.from([1, Infinity])], num, new Float64Array(2), 1)).toThrow(
      /feature "age": row 1/,
    );
    expect(() => buildReference([Float64Array.from([1, 2])], num, new Float64Array(3), 1)).toThrow(/proba/);
  });
});

describe('validateReference', () => {
  it('refuses a tampered reference with a message naming the field', () => {
    const ref = reference(3, 2000);
    const edges = structuredClone(ref);
    const f0 = edges.features[0]!;
    if (f0.kind === 'numeric') f0.edges.reverse();
    expect(() => validateReference(edges)).toThrow(/features\[0\]\.edges must be strictly increasing/);
    const sum = structuredClone(ref);
    sum.features[2]!.shares[0] = 0.9;
    expect(() => validateReference(sum)).toThrow(/features\[2\]: shares and missingRate must sum to 1/);
    expect(() => validateReference(ref, 5)).toThrow(/has 4 features, the model has 5/);
    expect(() => validateReference(ref, 4, 2)).toThrow(/classShares must have 2 entries/);
  });
});

describe('DriftWindow', () => {
  const ref = reference();

  it('keeps every PSI < 0.1 on in-distribution traffic', () => {
    for (const seed of [11, 12, 13]) {
      const { x, proba } = sample(seed, 1000);
      const report = windowOf(x, 1000, proba).report(ref);
      expect(report.rows).toBe(1000);
      for (const f of report.features) expect(f.psi, `${f.name} (seed ${seed})`).toBeLessThan(0.1);
      expect(report.classShares.psi).toBeLessThan(0.1);
    }
  });

  it('flags age shifted by +30 (PSI > 0.25) while the others stay < 0.1', () => {
    const { x, proba } = sample(21, 1000, { age: 30 });
    const report = windowOf(x, 1000, proba).report(ref);
    const by = Object.fromEntries(report.features.map((f) => [f.name, f.psi]));
    expect(by.age).toBeGreaterThan(0.25);
    expect(by.income).toBeLessThan(0.1);
    expect(by.response).toBeLessThan(0.1);
    expect(by.events).toBeLessThan(0.1);
  });

  it('flags a shifted categorical distribution', () => {
    const { x } = sample(22, 1000, { events: [0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.8] });
    const report = windowOf(x, 1000).report(ref);
    const events = report.features.find((f) => f.name === 'events')!;
    expect(events.psi).toBeGreaterThan(0.25);
    expect(report.features.find((f) => f.name === 'age')!.psi).toBeLessThan(0.1);
  });

  it('computes the missing rate exactly and a missing-rate jump moves the PSI', () => {
    const { x } = sample(23, 1000, { incomeMissing: 0.3 });
    let missing = 0;
    for (let i = 0; i < 1000; i++) if (Number.isNaN(x[i * F + 1]!)) missing++;
    const income = windowOf(x, 1000).report(ref).features[1]!;
    expect(income.missingRate).toBe(missing / 1000);
    expect(income.expectedMissingRate).toBeCloseTo(0.05, 2);
    expect(income.psi).toBeGreaterThan(0.25);
  });

  it('keeps only the last `capacity` rows (a ring buffer)', () => {
    const w = new DriftWindow(F, K, 1000);
    const shifted = sample(31, 1000, { age: 30 });
    w.add(shifted.x, 1000, shifted.proba);
    expect(w.report(ref).features[0]!.psi).toBeGreaterThan(0.25);
    const normal = sample(32, 1000);
    // In batches of 7 rows, wrapping around the ring at an odd place.
    for (let i = 0; i < 1000; i += 7) {
      const m = Math.min(7, 1000 - i);
      w.add(normal.x.subarray(i * F, (i + m) * F), m, normal.proba.subarray(i * K, (i + m) * K));
    }
    expect(w.size).toBe(1000);
    const r = w.report(ref);
    expect(r).toEqual(windowOf(normal.x, 1000, normal.proba).report(ref));
    expect(r.features[0]!.psi).toBeLessThan(0.1);
    // A batch larger than the window keeps its last rows.
    const big = new DriftWindow(F, K, 100);
    big.add(normal.x, 1000, normal.proba);
    expect(big.report(ref)).toEqual(
      windowOf(normal.x.subarray(900 * F), 100, normal.proba.subarray(900 * K), 100).report(ref),
    );
  });

  it('reports the predicted-class shares of the rows added with probabilities', () => {
    const w = new DriftWindow(1, 3, 10);
    w.add(Float64Array.from([1, 2, 3]), 3, Float64Array.from([0.1, 0.8, 0.1, 0.7, 0.2, 0.1, 0.2, 0.2, 0.6]));
    w.add(Float64Array.from([4]), 1); // no probabilities: not in the class shares
    const ref1: DriftReference = {
      version: 1,
      rows: 3,
      features: [{ name: 'v', kind: 'numeric', edges: [2], shares: [0.5, 0.5], missingRate: 0 }],
      classShares: [1 / 3, 1 / 3, 1 / 3],
    };
    const r = w.report(ref1);
    expect(r.rows).toBe(4);
    expect(r.classShares.actual).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(r.classShares.psi).toBe(0);
    expect(r.features[0]!.psi).toBeCloseTo(0, 15); // values 1, 2 | 3, 4: half and half
  });

  it('counts unknown categories reported by the decoder, within the window', () => {
    const w = new DriftWindow(F, K, 10);
    const { x } = sample(41, 10);
    w.countUnknown(3);
    w.countUnknown(3);
    w.add(x, 1);
    w.add(x.subarray(F), 1);
    let events = w.report(ref).features[3]!;
    expect(events.unknownRate).toBe(1); // 2 unknowns over 2 rows
    w.add(x, 8);
    events = w.report(ref).features[3]!;
    expect(events.unknownRate).toBeCloseTo(0.2, 15);
    // Ten more rows push the row that carried the unknowns out of the window.
    w.add(x, 10);
    expect(w.report(ref).features[3]!.unknownRate).toBe(0);
    // A code outside the categories counts as unknown (and as missing for the PSI).
    const bad = x.slice(0, F);
    bad[3] = 9;
    w.add(bad, 1);
    const r = w.report(ref).features[3]!;
    expect(r.unknownRate).toBeCloseTo(0.1, 15);
    expect(r.missingRate).toBeCloseTo(0.1, 15);
    expect(w.report(ref).features[0]!.unknownRate).toBe(0);
    // Unknowns reported before a batch count once, not once per row of the batch.
    const batch = new DriftWindow(F, K, 10);
    batch.countUnknown(2);
    batch.add(x, 5);
    expect(batch.report(ref).features[2]!.unknownRate).toBeCloseTo(0.2, 15);
  });

  it('reports zeros for an empty window and refuses bad input', () => {
    const w = new DriftWindow(F, K, 5);
    const r = w.report(ref);
    expect(r.rows).toBe(0);
    for (const f of r.features) expect([f.psi, f.missingRate, f.unknownRate]).toEqual([0, 0, 0]);
    expect(() => w.add(new Float64Array(3), 1)).toThrow(/x must hold n × nFeatures = 4 values, got 3/);
    expect(() => w.add(new Float64Array(4), 1, new Float64Array(2))).toThrow(/proba must hold/);
    expect(() => w.countUnknown(4)).toThrow(/feature must be an integer in \[0, 4\)/);
    expect(() => new DriftWindow(F, K, 0)).toThrow(/capacity/);
    expect(() => new DriftWindow(2, K).report(ref)).toThrow(/reference has 4 features/);
  });
});
