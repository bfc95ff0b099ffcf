/** A small trained model and its artifact, fitted in milliseconds, for artifact and model tests. */
import type { ModelSchema } from '../../src/data/schema.js';
import { fitForest } from '../../src/forest/forest.js';
import { type Artifact, buildArtifact } from '../../src/pipeline/artifact.js';
import { ForestModel } from '../../src/pipeline/model.js';

export const NAMES = ['age', 'income', 'response', 'events'];

/** The post's model schema (the simulated customers). */
export const POST_SCHEMA: ModelSchema = {
  target: 'segment',
  features: [
    { name: 'age', kind: 'numeric', missing: 0 },
    { name: 'income', kind: 'numeric', missing: 0 },
    { name: 'response', kind: 'categorical', categories: [0, 1], missing: 0 },
    { name: 'events', kind: 'categorical', categories: [0, 1, 2, 3, 4, 5, 6], missing: 0 },
  ],
  classes: [0, 1, 2],
  unknownCategory: 'error',
};

/** Rows where segment = response + (income >= 150 ? 1 : 0), the shape of the post's rule. */
export function tinyData(n = 300): { columns: Float64Array[]; y: Int32Array } {
  const columns = NAMES.map(() => new Float64Array(n));
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const age = 16 + ((i * 37) % 70);
    const income = age + ((i * 53) % 250);
    const response = (i * 7) % 3 === 0 ? 1 : 0;
    const events = (i * 11) % 7;
    [age, income, response, events].forEach((v, j) => {
      (columns[j] as Float64Array)[i] = v;
    });
    y[i] = response + (income >= 150 ? 1 : 0);
  }
  return { columns, y };
}

/** Evaluation figures of a perfect 3-class model (the fixture's facts need not be true). */
export const PERFECT = {
  accuracy: 1,
  balancedAccuracy: 1,
  macroF1: 1,
  perClass: [0, 1, 2].map(() => ({ precision: 1, recall: 1, f1: 1, support: 40 })),
  majorityBaseline: { label: 0, accuracy: 1 / 3 },
};

export function tinyModel(): { model: ForestModel; artifact: Artifact } {
  const { columns, y } = tinyData();
  const params = {
    nEstimators: 5,
    maxDepth: 6,
    minSamplesSplit: 2,
    minSamplesLeaf: 1,
    maxFeatures: 'sqrt' as const,
    bootstrap: true,
    classWeight: null,
  };
  // The categories are 0..k-1, so the encoded columns are the raw ones.
  const forest = fitForest({ columns, y, nClasses: 3 }, params, [1]);
  const model = new ForestModel(POST_SCHEMA, forest);
  const artifact = buildArtifact(
    model,
    {
      n_estimators: 5,
      max_depth: 6,
      min_samples_split: 2,
      min_samples_leaf: 1,
      max_features: 'sqrt',
      bootstrap: true,
    },
    {
      seed: 1,
      data: { path: 'tiny.csv', sha256: 'a'.repeat(64), rows: 300 },
      split: { testSize: 0.4, stratified: true, testData: null, trainRows: 180, testRows: 120 },
      search: null,
      cvScore: null,
      cvScoreSd: null,
      testAccuracy: 1,
      evaluation: PERFECT,
      confusionMatrix: [
        [40, 0, 0],
        [0, 40, 0],
        [0, 0, 40],
      ],
      featureImportances: Array.from(forest.featureImportances()),
    },
  );
  return { model, artifact };
}
