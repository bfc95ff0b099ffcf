/**
 * Randomized search with stratified k-fold cross-validation on a worker-thread pool (piscina). One
 * task per (candidate, fold); each task's seed derives from (seed, candidate, fold) and results are
 * gathered by index, so the outcome does not depend on the number of workers or their timing.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { stratifiedFolds } from '../data/split.js';
import type { TrainingData } from '../forest/types.js';
import type { CandidateResult } from '../pipeline/artifact.js';
import { type ClassWeight, fromSkParams, type SkParams } from '../pipeline/params.js';
import { type CvData, type CvTask, evaluateTask } from './cv.js';
import type { Scoring } from './scoring.js';
import { type Space, sampleCandidates } from './space.js';

export interface SearchOptions {
  space: Space;
  nIter: number;
  cv: number;
  scoring: Scoring;
  seed: number;
  /** Worker threads; 1 runs every task in this thread. */
  workers: number;
  /** scikit-learn's class_weight, applied to every candidate (null: every row weighs 1). */
  classWeight?: ClassWeight;
  /** Called when a fit is scored, with (candidate × fold tasks done, tasks in all). */
  onProgress?: (done: number, total: number) => void;
}

export interface SearchResult {
  candidates: CandidateResult[];
  bestIndex: number;
  best: SkParams;
}

/** The compiled worker; under vitest (running src/*.ts) the built one in dist/. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const built = here.endsWith('.ts')
    ? here.replace(/\/src\/search\/search\.ts$/, '/dist/search/worker.js')
    : '';
  const file = built || fileURLToPath(new URL('./worker.js', import.meta.url));
  if (!existsSync(file)) throw new Error(`search worker ${file} is missing: run \`npm run build\``);
  return file;
}

function shared<T extends Float64Array | Int32Array>(a: T): T {
  const Ctor = a.constructor as { new (buffer: SharedArrayBuffer): T };
  const copy = new Ctor(new SharedArrayBuffer(a.byteLength));
  copy.set(a);
  return copy;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Population standard deviation, as scikit-learn's std_test_score. */
export function sd(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
}

export async function randomizedSearch(
  data: TrainingData & { classes: number[] },
  opts: SearchOptions,
): Promise<SearchResult> {
  const weight = opts.classWeight ? { class_weight: opts.classWeight } : {};
  const candidates = sampleCandidates(opts.space, opts.nIter, opts.seed).map((p) => ({ ...p, ...weight }));
  const cvData: CvData = { ...data, folds: stratifiedFolds(data.y, data.nClasses, opts.cv) };
  const tasks: CvTask[] = candidates.flatMap((p, candidate) =>
    Array.from({ length: opts.cv }, (_, fold) => ({
      candidate,
      fold,
      params: fromSkParams(p),
      seed: opts.seed,
      scoring: opts.scoring,
    })),
  );
  const scores = new Float64Array(tasks.length);
  let done = 0;
  const finish = (i: number, s: number) => {
    scores[i] = s;
    opts.onProgress?.(++done, tasks.length);
  };

  if (opts.workers <= 1) {
    for (const [i, task] of tasks.entries()) {
      finish(i, evaluateTask(cvData, task));
      // Let the event loop breathe (progress bar, signals) between fits.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } else {
    const pool = new Piscina({
      filename: workerFile(),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      workerData: {
        ...cvData,
        columns: cvData.columns.map(shared),
        y: shared(cvData.y),
        folds: shared(cvData.folds),
      } satisfies CvData,
    });
    try {
      await Promise.all(
        tasks.map((task, i) => (pool.run(task) as Promise<number>).then((s) => finish(i, s))),
      );
    } finally {
      await pool.destroy();
    }
  }

  const results: CandidateResult[] = candidates.map((params, c) => {
    const foldScores = Array.from(scores.subarray(c * opts.cv, (c + 1) * opts.cv));
    return { params, meanScore: mean(foldScores), sdScore: sd(foldScores), foldScores };
  });
  // The best mean score; the first candidate on ties (scikit-learn's rank 1).
  let bestIndex = 0;
  results.forEach((r, i) => {
    if (r.meanScore > (results[bestIndex] as CandidateResult).meanScore) bestIndex = i;
  });
  return { candidates: results, bestIndex, best: (results[bestIndex] as CandidateResult).params };
}
