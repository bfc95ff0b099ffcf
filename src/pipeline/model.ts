/**
 * The model: ordinal encoder + forest, with plain-array methods for library users and a typed-array
 * fast path for the server.
 */
import type { Forest } from '../forest/forest.js';
import type { OrdinalEncoder } from './encoder.js';
import { type FeatureInfo, type Model, ModelInputError } from './types.js';

export class ForestModel implements Model {
  readonly features: readonly FeatureInfo[];
  readonly classes: readonly number[];
  private scratch = new Float64Array(0);

  constructor(
    readonly encoder: OrdinalEncoder,
    readonly forest: Forest,
    classes: readonly number[],
  ) {
    this.features = encoder.features;
    this.classes = classes;
  }

  predictProbaInto(x: Float64Array, n: number, out: Float64Array): void {
    const size = n * this.features.length;
    if (this.scratch.length < size) this.scratch = new Float64Array(size);
    this.encoder.encodeRowsInto(x, n, this.scratch);
    this.forest.predictProbaInto(this.scratch, n, out);
  }

  predictProba(rows: readonly (readonly number[])[]): number[][] {
    const d = this.features.length;
    const k = this.classes.length;
    const x = new Float64Array(rows.length * d);
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== d) {
        throw new ModelInputError(
          i,
          '*',
          `an array of ${d} values (${this.features.map((f) => f.name).join(', ')})`,
          row,
        );
      }
      for (let j = 0; j < d; j++) {
        const v = row[j];
        if (typeof v !== 'number')
          throw new ModelInputError(i, this.features[j]?.name ?? `${j}`, 'a number', v);
        x[i * d + j] = v;
      }
    });
    const out = new Float64Array(rows.length * k);
    this.predictProbaInto(x, rows.length, out);
    return rows.map((_, i) => Array.from(out.subarray(i * k, (i + 1) * k)));
  }

  predict(rows: readonly (readonly number[])[]): number[] {
    return this.predictProba(rows).map((p) => this.classes[argmax(p)] as number);
  }
}

/** Index of the largest value; the first one on ties (as numpy's argmax). */
export function argmax(p: ArrayLike<number>, from = 0, length = p.length - from): number {
  let best = 0;
  for (let c = 1; c < length; c++) if ((p[from + c] as number) > (p[from + best] as number)) best = c;
  return best;
}
