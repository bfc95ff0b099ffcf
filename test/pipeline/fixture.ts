/** A small trained model and its artifact, fitted in milliseconds, for artifact and model tests. */
import { fitForest } from '../../src/forest/forest.js';
import { type Artifact, buildArtifact } from '../../src/pipeline/artifact.js';
import { OrdinalEncoder } from '../../src/pipeline/encoder.js';
import { ForestModel } from '../../src/pipeline/model.js';

export const NAMES = ['age', 'income', 'response', 'events'];

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

export function tinyModel(): { model: ForestModel; artifact: Artifact } {
  const { columns, y } = tinyData();
  const encoder = OrdinalEncoder.fit(NAMES, new Set(['response', 'events']), columns);
  const params = {
    nEstimators: 5,
    maxDepth: 6,
    minSamplesSplit: 2,
    minSamplesLeaf: 1,
    maxFeatures: 'sqrt' as const,
    bootstrap: true,
  };
  const forest = fitForest({ columns: encoder.encodeColumns(columns), y, nClasses: 3 }, params, [1]);
  const model = new ForestModel(encoder, forest, [0, 1, 2]);
  const artifact = buildArtifact(model, 'segment', params, {
    seed: 1,
    data: { path: 'tiny.csv', sha256: 'a'.repeat(64), rows: 300 },
    split: { testSize: 0.4, trainRows: 180, testRows: 120 },
    search: null,
    cvScore: null,
    cvScoreSd: null,
    testAccuracy: 1,
    confusionMatrix: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    featureImportances: Array.from(forest.featureImportances()),
  });
  return { model, artifact };
}
