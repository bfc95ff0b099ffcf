/**
 * One whole-process run of segserve's forest for bench/forest.mjs: read the encoded train and test
 * CSVs (forest_data.mjs), fit, time predict_proba on every test row at once: the first call
 * (firstPredictSeconds, with the process's JIT warm-up and the prediction layout's build) and then
 * --predict-calls more in the same process (predictSeconds: their median); with --one-row N, also
 * one row at a time on the first N; print one JSON line.
 * Usage: node bench/forest_ours.mjs TRAIN.csv TEST.csv [--trees 100] [--depth none|10]
 *        [--seed 1] [--root DIR] [--one-row 1000] [--predict-calls 5]
 * `--root` names the segserve build to measure (its dist/ folder); default this checkout.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { readEncoded, rowMajor } from './forest_data.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    trees: { type: 'string', default: '100' },
    depth: { type: 'string', default: 'none' },
    seed: { type: 'string', default: '1' },
    root: { type: 'string', default: join(import.meta.dirname ?? '.', '..') },
    'one-row': { type: 'string', default: '0' },
    'predict-calls': { type: 'string', default: '5' },
  },
});
const [trainPath, testPath] = positionals;
if (!trainPath || !testPath) throw new Error('usage: node bench/forest_ours.mjs TRAIN.csv TEST.csv');
const { fitForest } = await import(join(values.root, 'dist/forest/index.js'));
// Load the @stdlib generator modules (required on first use, about 40 ms of module loading) before
// the timer, as Python's imports are loaded before scikit-learn's.
(await import(join(values.root, 'dist/data/random.js'))).createRng(0);

const train = await readEncoded(trainPath);
const test = await readEncoded(testPath);
const nClasses = Math.max(...train.y, ...test.y) + 1;
const d = train.columns.length;
const nTest = test.y.length;
const x = rowMajor(test.columns, nTest);
const params = {
  nEstimators: Number(values.trees),
  maxDepth: values.depth === 'none' ? null : Number(values.depth),
  minSamplesSplit: 2,
  minSamplesLeaf: 1,
  maxFeatures: 'sqrt',
  bootstrap: true,
  classWeight: null,
};
const tFit0 = performance.now();
const forest = fitForest({ columns: train.columns, y: train.y, nClasses }, params, [Number(values.seed)]);
const tFit = performance.now();
const proba = forest.predictProba(x, nTest);
const tPred = performance.now();
// Warmed calls, in the same process, into the same kind of fresh array as the first call.
const warm = [];
for (let c = 0; c < Math.max(1, Number(values['predict-calls'])); c++) {
  const t0 = performance.now();
  const again = forest.predictProba(x, nTest);
  warm.push((performance.now() - t0) / 1000);
  if (again[0] !== proba[0]) throw new Error('forest_ours: predict_proba changed between calls');
}
warm.sort((a, b) => a - b);
const h = warm.length >> 1;
const warmMedian = warm.length % 2 ? warm[h] : (warm[h - 1] + warm[h]) / 2;
let correct = 0;
const K = forest.nClasses;
for (let i = 0; i < nTest; i++) {
  let best = 0;
  for (let k = 1; k < K; k++) if (proba[i * K + k] > proba[i * K + best]) best = k;
  if (best === test.y[i]) correct++;
}
// One row per call (the server's single-row requests), the first N test rows, twice (warm-up).
const nOne = Math.min(Number(values['one-row']), nTest);
let oneRowSeconds = null;
if (nOne > 0) {
  const out = new Float64Array(K);
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < nOne; i++) forest.predictProbaInto(x.subarray(i * d, i * d + d), 1, out);
    oneRowSeconds = (performance.now() - t0) / 1000 / nOne;
  }
}
let nodes = 0;
for (const t of forest.trees) nodes += t.feature.length;
console.log(
  JSON.stringify({
    impl: 'segserve',
    nTrain: train.y.length,
    nTest,
    fitSeconds: (tFit - tFit0) / 1000,
    firstPredictSeconds: (tPred - tFit) / 1000,
    predictSeconds: warmMedian,
    oneRowSeconds,
    accuracy: correct / nTest,
    nodes,
  }),
);
