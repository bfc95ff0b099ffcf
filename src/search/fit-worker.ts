/**
 * A piscina worker of fitForestParallel: fits chunks of a forest's trees on the binned columns and
 * labels shared once, at start, through SharedArrayBuffers in workerData. The trees' arrays are moved
 * to the main thread, not copied: no second copy of a chunk of the forest waits in this thread for
 * its collector.
 */
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { fitTrees } from '../forest/forest.js';
import { TreeBuilder } from '../forest/tree.js';
import type { Tree } from '../forest/types.js';
import type { FitTask, FitWorkerData } from './fit-parallel.js';

const data = workerData as FitWorkerData;
let builder: TreeBuilder | undefined;

export default function run(task: FitTask): Tree[] {
  builder ??= new TreeBuilder({
    binned: { nRows: data.y.length, nFeatures: data.bins.length, bins: data.bins, values: data.values },
    y: data.y,
    nClasses: data.nClasses,
  });
  const trees = fitTrees(builder, data.params, data.seed, task.from, task.to);
  const buffers = trees.flatMap((t) => Object.values(t).map((a: Tree[keyof Tree]) => a.buffer));
  // piscina hands back the value and moves the buffers (its result is typed as the wrapper).
  return move({ [transferableSymbol]: buffers, [valueSymbol]: trees }) as unknown as Tree[];
}
