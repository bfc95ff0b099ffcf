/**
 * fitForest on worker threads (piscina), for the one fit of `segserve train` (the fixed parameters
 * of --no-search, or the refit of the search's best). The columns are binned once (here, unless they
 * come binned) and shared with the workers through SharedArrayBuffers, with the labels only; the trees are cut into contiguous chunks, each fitted
 * by fitTrees in some worker, and gathered in tree order. Tree t draws only from its own stream
 * (seed..., t), so the forest is the same, to the byte, whatever the number of workers and
 * whichever worker fits which tree.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { Forest, featureCount, fitForest, validateSeed } from '../forest/forest.js';
import { validateParams } from '../forest/params.js';
import { validBinned } from '../forest/tree.js';
import type { BinColumn, BinnedData, ForestParams, TrainingData, Tree } from '../forest/types.js';

/** What every fit worker gets once, at start. */
export interface FitWorkerData {
  y: Int32Array;
  nClasses: number;
  bins: BinColumn[];
  values: Float64Array[];
  params: ForestParams;
  seed: number[];
}

/** Fit trees from..to-1. */
export interface FitTask {
  from: number;
  to: number;
}

/**
 * Rows × trees per worker below which one thread fits the forest: starting a worker (its modules,
 * its compiler warming up) costs more than such a fit.
 */
const MIN_WORK = 200_000;

/** The compiled worker; under vitest (running src/*.ts) the built one in dist/. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const built = here.endsWith('.ts')
    ? here.replace(/\/src\/search\/fit-parallel\.ts$/, '/dist/search/fit-worker.js')
    : '';
  const file = built || fileURLToPath(new URL('./fit-worker.js', import.meta.url));
  if (!existsSync(file)) throw new Error(`fit worker ${file} is missing: run \`npm run build\``);
  return file;
}

function shared<T extends Float64Array | Int32Array | Uint16Array | Uint8Array>(a: T): T {
  const Ctor = a.constructor as { new (buffer: SharedArrayBuffer): T };
  const copy = new Ctor(new SharedArrayBuffer(a.byteLength));
  copy.set(a);
  return copy;
}

/**
 * The forest fitForest(data, params, seed) returns, fitted on up to `workers` threads (1, or a fit
 * of fewer than `minWork` rows × trees per thread: in this thread). Throws as fitForest does on
 * invalid input.
 */
export async function fitForestParallel(
  data: TrainingData | BinnedData,
  params: ForestParams,
  seed: readonly number[],
  workers: number,
  minWork = MIN_WORK,
): Promise<Forest> {
  const nTrees = params.nEstimators;
  const threads = Math.max(1, Math.min(Math.floor(workers), nTrees));
  if (threads <= 1 || (data.y.length * nTrees) / threads < minWork) return fitForest(data, params, seed);
  // The checks fitForest makes, here, so a bad input fails with its own error, not a worker's.
  const d = featureCount(data);
  validateParams(params, d);
  const binned = validBinned(data);
  validateSeed(seed);
  const workerData: FitWorkerData = {
    y: shared(data.y),
    nClasses: data.nClasses,
    bins: binned.bins.map(shared),
    values: binned.values.map(shared),
    params,
    seed: [...seed],
  };
  // A few chunks per thread, so that a slow chunk does not leave the other threads idle.
  const nChunks = Math.min(nTrees, 4 * threads);
  const chunks: FitTask[] = [];
  for (let c = 0; c < nChunks; c++) {
    chunks.push({ from: Math.floor((c * nTrees) / nChunks), to: Math.floor(((c + 1) * nTrees) / nChunks) });
  }
  const pool = new Piscina({ filename: workerFile(), minThreads: threads, maxThreads: threads, workerData });
  try {
    const parts = await Promise.all(chunks.map((task) => pool.run(task) as Promise<Tree[]>));
    return Forest.fromTrees(parts.flat(), data.nClasses, d);
  } finally {
    await pool.destroy();
  }
}
