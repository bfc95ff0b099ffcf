import { describe, expect, it } from 'vitest';
import type { FeatureSchema } from '../../src/data/schema.js';
import { OrdinalEncoder } from '../../src/pipeline/encoder.js';
import { ModelInputError } from '../../src/pipeline/types.js';

const features: FeatureSchema[] = [
  { name: 'flipper', kind: 'numeric', missing: 2 },
  { name: 'island', kind: 'categorical', categories: ['Biscoe', 'Dream', 'Torgersen'], missing: 0 },
  { name: 'events', kind: 'categorical', categories: [0, 2, 4], missing: 0 },
  { name: 'strict', kind: 'numeric', missing: 0, allowMissing: false },
];

function refusal(fn: () => unknown): ModelInputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ModelInputError) return err;
    throw err;
  }
  throw new Error('expected a ModelInputError');
}

describe('OrdinalEncoder', () => {
  const enc = new OrdinalEncoder(features);

  it('passes numbers through and encodes categories as their sorted index', () => {
    expect(enc.encodeValue(0, 212.5, 0)).toBe(212.5);
    expect(enc.encodeValue(1, 'Biscoe', 0)).toBe(0);
    expect(enc.encodeValue(1, 'Torgersen', 0)).toBe(2);
    expect(enc.encodeValue(2, 4, 0)).toBe(2);
  });

  it('matches a category by its text too ("2" for 2), but never a numeric feature by text', () => {
    expect(enc.encodeValue(2, '2', 0)).toBe(1);
    expect(refusal(() => enc.encodeValue(0, '212', 3)).column).toBe('flipper');
  });

  it('encodes null, undefined and NaN as missing (NaN) unless the feature refuses missing values', () => {
    expect(enc.encodeValue(0, null, 0)).toBeNaN();
    expect(enc.encodeValue(1, undefined, 0)).toBeNaN();
    expect(enc.encodeValue(2, Number.NaN, 0)).toBeNaN();
    const e = refusal(() => enc.encodeValue(3, null, 5));
    expect([e.row, e.column, e.expected]).toEqual([5, 'strict', 'a finite number']);
  });

  it('refuses an unknown category naming the row, the column, the value and the known ones', () => {
    const e = refusal(() => enc.encodeValue(1, 'Atlantis', 7));
    expect(e.row).toBe(7);
    expect(e.column).toBe('island');
    expect(e.value).toBe('Atlantis');
    expect(e.message).toContain('"Biscoe", "Dream", "Torgersen"');
  });

  it('reads an unknown category as missing under the "missing" policy', () => {
    const lenient = new OrdinalEncoder(features, 'missing');
    expect(lenient.encodeValue(1, 'Atlantis', 0)).toBeNaN();
    expect(lenient.encodeValue(2, 3, 0)).toBeNaN();
    // a wrong type is still an error
    expect(refusal(() => lenient.encodeValue(1, { x: 1 }, 0)).column).toBe('island');
  });

  it('refuses infinities, booleans and objects', () => {
    for (const v of [Number.POSITIVE_INFINITY, true, [1], {}]) {
      expect(refusal(() => enc.encodeValue(0, v, 0)).column).toBe('flipper');
    }
  });

  it('encodes numeric rows row-major, NaN as missing', () => {
    const x = Float64Array.from([1, 2, 4, 9, Number.NaN, 0, 0, 9]);
    const out = new Float64Array(8);
    // island given as its index is not a category: the raw fast path is for numeric categories
    const numericOnly = new OrdinalEncoder([features[0] as FeatureSchema, features[2] as FeatureSchema]);
    numericOnly.encodeRowsInto(Float64Array.from([1, 4, Number.NaN, 0]), 2, out);
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 2, Number.NaN, 0]);
    expect(() => enc.encodeRowsInto(x, 2, out)).toThrow(ModelInputError);
  });
});
