/**
 * One whole-process run of segserve's forest for bench/forest.mjs: read the CSV, take the first
 * n - ceil(0.4 n) rows for training and the rest for testing, fit, predict, print one JSON line.
 * Usage: node bench/forest_ours.mjs CSV [--trees 100] [--depth 10] [--seed 1]
 * Imports the built code: run `npm run build` first.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { readCsv, splitRows } from './forest_data.mjs';

const t0 = performance.now();
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    trees: { type: 'string', default: '100' },
    depth: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    'test-size': { type: 'string', default: '0.4' },
  },
});
const csv = positionals[0];
if (!csv) throw new Error('usage: node bench/forest_ours.mjs CSV');
const { fitForest } = await import('../dist/forest/index.js');

const table = await readCsv(csv);
const tRead = performance.now();
const { train, test } = splitRows(table, Number(values['test-size']));
const depth = values.depth === 'none' ? null : Number(values.depth);
const params = {
  nEstimators: Number(values.trees),
  maxDepth: depth,
  minSamplesSplit: 2,
  minSamplesLeaf: 1,
  maxFeatures: 'sqrt',
  bootstrap: true,
};
const tFit0 = performance.now();
const forest = fitForest(train, params, [Number(values.seed)]);
const tFit = performance.now();
const proba = forest.predictProba(test.x, test.n);
let correct = 0;
const K = forest.nClasses;
for (let i = 0; i < test.n; i++) {
  let best = 0;
  for (let k = 1; k < K; k++) if (proba[i * K + k] > proba[i * K + best]) best = k;
  if (best === test.y[i]) correct++;
}
const tPred = performance.now();
let nodes = 0;
for (const t of forest.trees) nodes += t.feature.length;
console.log(
  JSON.stringify({
    impl: 'segserve',
    reader: table.reader,
    nTrain: train.y.length,
    nTest: test.n,
    readSeconds: (tRead - t0) / 1000,
    fitSeconds: (tFit - tFit0) / 1000,
    predictSeconds: (tPred - tFit) / 1000,
    accuracy: correct / test.n,
    nodes,
  }),
);
