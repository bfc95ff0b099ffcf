/**
 * A small deterministic stand-in for the trained forest: the Model interface with the real features
 * (age, income, response [0, 1], events [0..6]) and classes [0, 1, 2]. Probabilities are a softmax of a
 * fixed linear function of the inputs, so rows sum to 1; unknown categories and non-finite values throw
 * ModelInputError as the real model does. Tests never depend on training.
 */
import { type FeatureInfo, type Model, ModelInputError } from '../../src/pipeline/types.js';

export const FEATURES: readonly FeatureInfo[] = [
  { name: 'age', kind: 'numeric' },
  { name: 'income', kind: 'numeric' },
  { name: 'response', kind: 'categorical', categories: [0, 1] },
  { name: 'events', kind: 'categorical', categories: [0, 1, 2, 3, 4, 5, 6] },
];

const WEIGHTS = [
  [0.04, -0.01, 0.5, -0.2],
  [-0.01, 0.02, -0.3, 0.1],
  [-0.03, -0.01, 0.2, 0.4],
];

export class FakeModel implements Model {
  readonly features = FEATURES;
  readonly classes = [0, 1, 2];
  calls = 0;

  predictProbaInto(x: Float64Array, n: number, out: Float64Array): void {
    this.calls++;
    const d = this.features.length;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const v = x[i * d + j] as number;
        const f = this.features[j] as FeatureInfo;
        if (!Number.isFinite(v)) throw new ModelInputError(i, f.name, 'a finite number', v);
        if (f.categories && !f.categories.includes(v)) {
          throw new ModelInputError(i, f.name, `one of the known categories [${f.categories.join(', ')}]`, v);
        }
      }
      let max = -Infinity;
      const z = WEIGHTS.map((w) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += (w[j] as number) * Math.tanh((x[i * d + j] as number) / 100);
        max = Math.max(max, s);
        return s;
      });
      let total = 0;
      for (let c = 0; c < 3; c++) {
        const e = Math.exp((z[c] as number) - max);
        out[i * 3 + c] = e;
        total += e;
      }
      for (let c = 0; c < 3; c++) out[i * 3 + c] = (out[i * 3 + c] as number) / total;
    }
  }

  predictProba(rows: readonly (readonly number[])[]): number[][] {
    const d = this.features.length;
    const x = new Float64Array(rows.length * d);
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== d) throw new ModelInputError(i, '*', `${d} values`, row);
      row.forEach((v, j) => {
        if (typeof v !== 'number') throw new ModelInputError(i, this.features[j]?.name ?? '?', 'a number', v);
        x[i * d + j] = v;
      });
    });
    const out = new Float64Array(rows.length * 3);
    this.predictProbaInto(x, rows.length, out);
    return rows.map((_, i) => Array.from(out.subarray(i * 3, i * 3 + 3)));
  }

  predict(rows: readonly (readonly number[])[]): number[] {
    return this.predictProba(rows).map((p) => p.indexOf(Math.max(...p)));
  }
}
