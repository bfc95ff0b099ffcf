/**
 * Small deterministic stand-ins for a trained forest: the Model interface over a hand-made schema, with
 * the real ordinal encoder (so values, missing cells, unknown categories and their errors behave as in
 * production) and a fixed softmax instead of trees. Probabilities are a softmax of a fixed linear
 * function of the encoded inputs (a missing value adds a fixed term of its own), so rows sum to 1.
 * Tests never depend on training.
 *
 * - POST_SCHEMA: the post's model (age, income numeric; response [0, 1], events [0..6]; classes 0, 1, 2).
 *   Its categories are their own codes, so raw and encoded rows are equal and the probabilities are
 *   exactly those of the earlier fake.
 * - PENGUIN_SCHEMA: string categories and string labels (island, sex; Adelie, Chinstrap, Gentoo).
 */
import type { ModelSchema } from '../../src/data/schema.js';
import { OrdinalEncoder } from '../../src/pipeline/encoder.js';
import {
  type Category,
  type FeatureInfo,
  type Model,
  ModelInputError,
  type UnknownCategoryPolicy,
} from '../../src/pipeline/types.js';
import { POST_SCHEMA } from '../pipeline/fixture.js';

export { POST_SCHEMA };

export const PENGUIN_SCHEMA: ModelSchema = {
  target: 'species',
  features: [
    { name: 'island', kind: 'categorical', categories: ['Biscoe', 'Dream', 'Torgersen'], missing: 0 },
    { name: 'bill_length_mm', kind: 'numeric', missing: 2 },
    { name: 'flipper_length_mm', kind: 'numeric', missing: 2 },
    { name: 'body_mass_g', kind: 'numeric', missing: 2 },
    { name: 'sex', kind: 'categorical', categories: ['female', 'male'], missing: 11 },
  ],
  classes: ['Adelie', 'Chinstrap', 'Gentoo'],
  unknownCategory: 'error',
};

/** The post's features (kept for tests that list them). */
export const FEATURES: readonly FeatureInfo[] = POST_SCHEMA.features;

/** The earlier fake's weights for the post's schema (classes × features). */
const POST_WEIGHTS = [
  [0.04, -0.01, 0.5, -0.2],
  [-0.01, 0.02, -0.3, 0.1],
  [-0.03, -0.01, 0.2, 0.4],
];

export interface FakeModelOptions {
  /** false: every feature refuses missing values (as a format-1 model); default: the schema's. */
  allowMissing?: boolean;
  /** Overrides the schema's unknown-category policy. */
  unknownCategory?: UnknownCategoryPolicy;
}

export class FakeModel implements Model {
  readonly schema: ModelSchema;
  readonly features: readonly FeatureInfo[];
  readonly classes: readonly Category[];
  /** predictEncodedInto calls (every prediction path goes through it). */
  calls = 0;
  private readonly encoder: OrdinalEncoder;
  private readonly weights: number[][];

  constructor(schema: ModelSchema = POST_SCHEMA, options: FakeModelOptions = {}) {
    const features = schema.features.map((f) =>
      options.allowMissing === undefined ? f : { ...f, allowMissing: options.allowMissing },
    );
    this.schema = {
      ...schema,
      features,
      unknownCategory: options.unknownCategory ?? schema.unknownCategory,
    };
    this.features = features;
    this.classes = schema.classes;
    this.encoder = new OrdinalEncoder(features, this.schema.unknownCategory);
    this.weights =
      schema === POST_SCHEMA
        ? POST_WEIGHTS
        : schema.classes.map((_, c) => features.map((_, j) => Math.sin(3 * c + 7 * j + 1) * 0.8));
  }

  encodeValue(j: number, v: unknown, row: number): number {
    return this.encoder.encodeValue(j, v, row);
  }

  predictEncodedInto(x: Float64Array, n: number, out: Float64Array): void {
    this.calls++;
    const d = this.features.length;
    const k = this.classes.length;
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        const w = this.weights[c] as number[];
        let s = 0;
        for (let j = 0; j < d; j++) {
          const v = x[i * d + j] as number;
          s += (w[j] as number) * (Number.isNaN(v) ? 0.37 : Math.tanh(v / 100));
        }
        out[i * k + c] = s;
        max = Math.max(max, s);
      }
      let total = 0;
      for (let c = 0; c < k; c++) {
        const e = Math.exp((out[i * k + c] as number) - max);
        out[i * k + c] = e;
        total += e;
      }
      for (let c = 0; c < k; c++) out[i * k + c] = (out[i * k + c] as number) / total;
    }
  }

  predictProbaInto(x: Float64Array, n: number, out: Float64Array): void {
    const d = this.features.length;
    const encoded = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) encoded[i * d + j] = this.encodeValue(j, x[i * d + j], i);
    }
    this.predictEncodedInto(encoded, n, out);
  }

  /** Encodes rows of raw values (arrays in feature order); throws ModelInputError as the real model. */
  encodeRows(rows: readonly (readonly unknown[])[]): Float64Array {
    const d = this.features.length;
    const x = new Float64Array(rows.length * d);
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== d) throw new ModelInputError(i, '*', `${d} values`, row);
      for (let j = 0; j < d; j++) x[i * d + j] = this.encodeValue(j, row[j], i);
    });
    return x;
  }

  predictProba(rows: readonly (readonly unknown[])[]): number[][] {
    if (!Array.isArray(rows)) throw new ModelInputError(0, '*', 'an array of rows', rows);
    const k = this.classes.length;
    const x = this.encodeRows(rows);
    const out = new Float64Array(rows.length * k);
    this.predictEncodedInto(x, rows.length, out);
    return rows.map((_, i) => Array.from(out.subarray(i * k, (i + 1) * k)));
  }

  predict(rows: readonly (readonly unknown[])[]): Category[] {
    return this.predictProba(rows).map((p) => this.classes[p.indexOf(Math.max(...p))] as Category);
  }
}

/** The post's model with its schema (the default FakeModel). */
export const postModel = (options?: FakeModelOptions): FakeModel => new FakeModel(POST_SCHEMA, options);

/** A penguins-like model: string categories and string class labels. */
export const penguinModel = (options?: FakeModelOptions): FakeModel => new FakeModel(PENGUIN_SCHEMA, options);
