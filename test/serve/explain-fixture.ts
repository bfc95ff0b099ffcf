/**
 * Real forests for the explanation and drift tests, trained in-process (no CLI, no files but the
 * penguins fixture): the post's model (simulated customers, the notebook's parameters), a variant with
 * a constant column, and penguins (string categories, missing cells, unknown categories read as
 * missing). Each comes with its drift reference, as training stores it.
 */
import { join } from 'node:path';
import type { ModelSchema } from '../../src/data/schema.js';
import { fitForest } from '../../src/forest/forest.js';
import type { ForestParams } from '../../src/forest/types.js';
import { buildReference, type DriftReference } from '../../src/pipeline/drift.js';
import { ForestModel } from '../../src/pipeline/model.js';
import { train } from '../../src/search/train.js';
import { CustomerSampler, emptyCustomer } from '../../src/simulate/sampler.js';
import { DEFAULT_SPEC } from '../../src/simulate/spec.js';
import { POST_SCHEMA } from '../pipeline/fixture.js';

/** The post's model's parameters (the notebook's best, as bench/explain.mjs fits it). */
export const POST_PARAMS: ForestParams = {
  nEstimators: 87,
  maxDepth: null,
  minSamplesSplit: 4,
  minSamplesLeaf: 2,
  maxFeatures: 'sqrt',
  bootstrap: false,
  classWeight: null,
};

export { POST_SCHEMA };

/** n simulated customers as wire rows [age, income, response, events] (age shifted by `ageShift`). */
export function customers(n: number, seed: number, ageShift = 0): { rows: number[][]; y: Int32Array } {
  const sampler = new CustomerSampler(DEFAULT_SPEC, seed);
  const c = emptyCustomer();
  const rows: number[][] = [];
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    sampler.next(c);
    rows.push([c.age + ageShift, c.income, c.response, c.events]);
    y[i] = c.segment;
  }
  return { rows, y };
}

/** Row-major encoded rows (the post's categories are their own codes). */
export function rowMajor(rows: readonly (readonly number[])[]): Float64Array {
  const d = rows[0]?.length ?? 0;
  const x = new Float64Array(rows.length * d);
  rows.forEach((r, i) => {
    x.set(r, i * d);
  });
  return x;
}

function referenceOf(model: ForestModel, columns: Float64Array[]): DriftReference {
  const n = columns[0]?.length ?? 0;
  const d = columns.length;
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = columns[j]?.[i] as number;
  const proba = new Float64Array(n * model.classes.length);
  model.predictEncodedInto(x, n, proba);
  return buildReference(columns, model.features, proba, model.classes.length);
}

export interface Fitted {
  model: ForestModel;
  reference: DriftReference;
}

/**
 * The post's model: 5,000 customers (seed 1), fitted on the first 3,000 (the 60/40 split's size) with
 * the notebook's parameters; `constant` adds a fifth feature that is 7 on every training row.
 */
export function postModel(options: { constant?: boolean; trees?: number } = {}): Fitted {
  const { rows, y } = customers(3000, 1);
  const d = options.constant ? 5 : 4;
  const columns = Array.from({ length: d }, (_, j) =>
    Float64Array.from(rows, (r) => (j < 4 ? (r[j] as number) : 7)),
  );
  const schema: ModelSchema = options.constant
    ? {
        ...POST_SCHEMA,
        features: [...POST_SCHEMA.features, { name: 'constant', kind: 'numeric', missing: 0 }],
      }
    : POST_SCHEMA;
  const params = { ...POST_PARAMS, nEstimators: options.trees ?? POST_PARAMS.nEstimators };
  const forest = fitForest({ columns, y, nClasses: 3 }, params, [1]);
  const model = new ForestModel(schema, forest);
  return { model, reference: referenceOf(model, columns) };
}

export const PENGUINS_CSV = join(import.meta.dirname, '..', 'fixtures', 'penguins.csv');

/**
 * Penguins (island, bill and flipper lengths, body mass, sex → species; string categories, NA cells),
 * trained by `train()` with fixed parameters; unknown categories are read as missing.
 */
export async function penguinsModel(): Promise<Fitted> {
  const result = await train({
    dataPath: PENGUINS_CSV,
    schema: {
      target: 'species',
      features: ['island', 'bill_length_mm', 'flipper_length_mm', 'body_mass_g', 'sex'],
      unknownCategory: 'missing',
    },
    seed: 3,
    testSize: 0.3,
    classWeight: null,
    mode: {
      kind: 'fixed',
      params: {
        n_estimators: 30,
        max_depth: null,
        min_samples_split: 2,
        min_samples_leaf: 1,
        max_features: 'sqrt',
        bootstrap: true,
      },
    },
    workers: 1,
  });
  const reference = result.artifact.training.drift;
  if (reference === undefined) throw new Error('train() stored no drift reference');
  return { model: result.model, reference };
}
