import { describe, expect, it } from 'vitest';
import { OrdinalEncoder } from '../../src/pipeline/encoder.js';
import { ModelInputError } from '../../src/pipeline/types.js';

const names = ['age', 'income', 'response', 'events'];
const columns = [
  Float64Array.from([20, 30, 40]),
  Float64Array.from([1.5, 2.5, 3.5]),
  Float64Array.from([1, 0, 1]),
  Float64Array.from([6, 2, 4]),
];

describe('OrdinalEncoder', () => {
  const enc = OrdinalEncoder.fit(names, new Set(['response', 'events']), columns);

  it('learns the sorted categories of categorical columns only', () => {
    expect(enc.features).toEqual([
      { name: 'age', kind: 'numeric' },
      { name: 'income', kind: 'numeric' },
      { name: 'response', kind: 'categorical', categories: [0, 1] },
      { name: 'events', kind: 'categorical', categories: [2, 4, 6] },
    ]);
  });

  it('round-trips: encoded codes index back into the categories', () => {
    const encoded = enc.encodeColumns(columns);
    expect(Array.from(encoded[0] ?? [])).toEqual([20, 30, 40]);
    expect(Array.from(encoded[3] ?? [])).toEqual([2, 0, 1]);
    const cats = enc.features[3]?.categories ?? [];
    expect(Array.from(encoded[3] ?? [], (code) => cats[code])).toEqual([6, 2, 4]);
  });

  it('encodes row-major batches', () => {
    const out = new Float64Array(8);
    enc.encodeRowsInto(Float64Array.from([34, 100, 1, 4, 50, 9.5, 0, 6]), 2, out);
    expect(Array.from(out)).toEqual([34, 100, 1, 1, 50, 9.5, 0, 2]);
  });

  it('refuses an unknown category naming the row, column, value and known categories', () => {
    const x = Float64Array.from([34, 100, 1, 4, 50, 9.5, 0, 3]);
    const err = (() => {
      try {
        enc.encodeRowsInto(x, 2, new Float64Array(8));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ModelInputError);
    expect(err).toMatchObject({ row: 1, column: 'events', value: 3 });
    expect((err as Error).message).toBe(
      'row 1, column "events": got 3, expected one of the known categories [2, 4, 6]',
    );
  });

  it('refuses non-finite numeric values', () => {
    expect(() => enc.encodeValue(1, Number.NaN, 5)).toThrow(
      'row 5, column "income": got null, expected a finite number',
    );
  });
});
