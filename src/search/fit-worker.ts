/**
 * A piscina worker of fitForestParallel: fits chunks of a forest's trees on the training data and
 * binned columns shared once, at start, through SharedArrayBuffers in workerData.
 */
import { workerData } from 'node:worker_threads';
import { fitTrees } from '../forest/forest.js';
import { TreeBuilder } from '../forest/tree.js';
import type { Tree } from '../forest/types.js';
import type { FitTask, FitWorkerData } from './fit-parallel.js';

const data = workerData as FitWorkerData;
let builder: TreeBuilder | undefined;

export default function run(task: FitTask): Tree[] {
  builder ??= new TreeBuilder(
    { columns: data.columns, y: data.y, nClasses: data.nClasses },
    { nRows: data.y.length, nFeatures: data.columns.length, bins: data.bins, values: data.values },
  );
  return fitTrees(builder, data.params, data.seed, task.from, task.to);
}
