import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkWritable, writeTextAtomic } from '../data/atomic.js';
import { DEFAULT_DATA_PATH, DEFAULT_MODEL_PATH, DEFAULT_SEED, FEATURES, TARGET } from '../defaults.js';
import { usageError } from '../errors.js';
import type { MaxFeatures } from '../forest/types.js';
import type { SkParams } from '../pipeline/params.js';
import { SCORINGS, type Scoring } from '../search/scoring.js';
import {
  checkParams,
  DEFAULT_PARAMS,
  DEFAULT_SPACE,
  parseSpace,
  type Space,
  spaceSize,
} from '../search/space.js';
import { positiveInt, readJsonFile, seed } from './options.js';
import { fmtSeconds, progressBar } from './output.js';

export interface TrainFlags {
  data: string;
  out?: string;
  seed: number;
  nIter: number;
  cv: number;
  scoring: Scoring;
  testSize: number;
  workers: number;
  space?: string;
  report: string | boolean;
  json?: boolean;
  search: boolean;
  nEstimators?: number;
  maxDepth?: number | 'none';
  minSamplesSplit?: number;
  minSamplesLeaf?: number;
  maxFeatures?: MaxFeatures;
  bootstrap?: boolean;
}

function intAtLeast(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\+?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}.`);
    }
    return n;
  };
}

function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n > 0 && n < 1))
    throw new InvalidArgumentError('expected a number in (0, 1).');
  return n;
}

/** "none" stays a string: commander turns a parser's null into ''. */
function depth(value: string): number | 'none' {
  if (value === 'none' || value === 'null') return 'none';
  const n = Number(value);
  if (!/^\+?\d+$/.test(value.trim()) || n < 1)
    throw new InvalidArgumentError('expected an integer >= 1 or "none".');
  return n;
}

function maxFeatures(value: string): MaxFeatures {
  if (value === 'sqrt' || value === 'log2' || value === 'all') return value;
  const n = Number(value);
  const ok =
    value.trim() !== '' && ((Number.isInteger(n) && n >= 1 && n <= FEATURES.length) || (n > 0 && n < 1));
  if (!ok) {
    throw new InvalidArgumentError(
      `expected sqrt, log2, all, an integer in [1, ${FEATURES.length}] or a fraction in (0, 1).`,
    );
  }
  return n;
}

/** The fixed-forest flags, which only make sense with --no-search. */
const FIXED_FLAGS = [
  ['nEstimators', '--n-estimators'],
  ['maxDepth', '--max-depth'],
  ['minSamplesSplit', '--min-samples-split'],
  ['minSamplesLeaf', '--min-samples-leaf'],
  ['maxFeatures', '--max-features'],
  ['bootstrap', '--bootstrap/--no-bootstrap'],
] as const;

/** Where the wall-clock facts of a training run go: `model.json` → `model.run.json`. */
export function runFilePath(modelPath: string): string {
  return modelPath.replace(/(\.json)?$/, '.run.json');
}

export function trainCommand(): Command {
  return new Command('train')
    .description(
      `fit the post's random forest (${TARGET} ~ ${FEATURES.join(' + ')}) and write the model artifact`,
    )
    .option('--data <path>', 'training CSV', DEFAULT_DATA_PATH)
    .option('--out <path>', `model artifact to write (default: ${DEFAULT_MODEL_PATH})`)
    .option('--seed <s>', 'random seed, an integer in [0, 2^32)', seed, DEFAULT_SEED)
    .option('--n-iter <n>', 'candidates drawn from the space', positiveInt, 100)
    .option('--cv <k>', 'cross-validation folds (stratified)', intAtLeast(2), 3)
    .addOption(new Option('--scoring <name>', 'CV score to maximise').choices(SCORINGS).default('accuracy'))
    .option('--test-size <f>', 'fraction of rows held out for the test score', fraction, 0.4)
    .option('--workers <n>', 'worker threads for the search', positiveInt, availableParallelism())
    .option('--space <file>', "JSON search space in scikit-learn's names (replaces the post's grid)")
    .option('--report <path>', 'training report (HTML) to write (default: report.html beside --out)')
    .option('--no-report', 'do not write the training report')
    .option('--json', 'print one JSON summary to stdout')
    .option('--no-search', 'fit one forest with the parameters below instead of searching')
    .option('--n-estimators <n>', `trees (--no-search; default ${DEFAULT_PARAMS.n_estimators})`, positiveInt)
    .option('--max-depth <d>', 'deepest level, or "none" (--no-search; default none)', depth)
    .option(
      '--min-samples-split <n>',
      'fewest samples to split a node (--no-search; default 2)',
      intAtLeast(2),
    )
    .option('--min-samples-leaf <n>', 'fewest samples in a leaf (--no-search; default 1)', positiveInt)
    .option(
      '--max-features <m>',
      'features per split: sqrt, log2, all, n or a fraction (--no-search)',
      maxFeatures,
    )
    .option('--bootstrap', 'bootstrap samples per tree (--no-search; the default)')
    .option('--no-bootstrap', 'every tree sees every row once (--no-search)')
    .action(runTrain);
}

function fixedParams(flags: TrainFlags): SkParams {
  return {
    n_estimators: flags.nEstimators ?? DEFAULT_PARAMS.n_estimators,
    max_depth: flags.maxDepth === undefined || flags.maxDepth === 'none' ? null : flags.maxDepth,
    min_samples_split: flags.minSamplesSplit ?? DEFAULT_PARAMS.min_samples_split,
    min_samples_leaf: flags.minSamplesLeaf ?? DEFAULT_PARAMS.min_samples_leaf,
    max_features: flags.maxFeatures ?? DEFAULT_PARAMS.max_features,
    bootstrap: flags.bootstrap ?? DEFAULT_PARAMS.bootstrap,
  };
}

export function fmtParams(p: SkParams): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v === null ? 'None' : v}`)
    .join(' ');
}

export function fmtMatrix(m: number[][], classes: readonly number[]): string {
  const width = Math.max(5, ...m.flat().map((v) => String(v).length));
  const pad = (s: string | number) => String(s).padStart(width);
  const header = `  ${'true\\pred'.padEnd(10)}${classes.map(pad).join(' ')}`;
  const rows = m.map((row, i) => `  ${String(classes[i]).padEnd(10)}${row.map(pad).join(' ')}`);
  return [header, ...rows].join('\n');
}

export async function runTrain(flags: TrainFlags): Promise<void> {
  if (flags.search) {
    const given = FIXED_FLAGS.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag);
    if (given.length > 0) throw usageError(`${given.join(', ')} only apply with --no-search`);
  }
  let space: Space = DEFAULT_SPACE;
  if (flags.space) {
    if (!flags.search) throw usageError('--space only applies to a search (drop --no-search)');
    space = parseSpace(await readJsonFile(flags.space, 'space file'), FEATURES.length, flags.space);
  }
  const params = fixedParams(flags);
  if (!flags.search) checkParams(params, FEATURES.length, 'parameters');

  const out = flags.out ?? DEFAULT_MODEL_PATH;
  if (flags.out === undefined) await mkdir(dirname(out), { recursive: true });
  const reportPath =
    flags.report === false
      ? null
      : typeof flags.report === 'string'
        ? flags.report
        : join(dirname(out), 'report.html');
  await checkWritable(out);
  if (reportPath) await checkWritable(reportPath);

  const { train } = await import('../search/train.js');
  const { saveArtifact } = await import('../pipeline/artifact.js');
  const { renderReport } = await import('../report/report.js');
  const started = performance.now();
  const bar = flags.search
    ? progressBar(Math.min(flags.nIter, spaceSize(space)), 'search (candidates)')
    : progressBar(0, '', 1);
  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train({
      dataPath: flags.data,
      seed: flags.seed,
      testSize: flags.testSize,
      mode: flags.search
        ? { kind: 'search', space, nIter: flags.nIter, cv: flags.cv, scoring: flags.scoring }
        : { kind: 'fixed', params },
      workers: flags.workers,
      onProgress: (done) => bar.update(done),
    });
  } finally {
    bar.stop();
  }
  const { artifact, timings } = result;
  await saveArtifact(out, artifact);
  const trainedAt = new Date().toISOString();
  // Wall-clock facts live beside the artifact, so the artifact itself stays byte-reproducible.
  const runPath = runFilePath(out);
  const run = {
    model: out,
    trainedAt,
    workers: flags.search ? flags.workers : 1,
    node: process.version,
    timings,
  };
  await writeTextAtomic(runPath, `${JSON.stringify(run, null, 2)}\n`);
  if (reportPath) {
    const html = await renderReport({ ...result, timings, trainedAt });
    await writeTextAtomic(reportPath, html);
  }
  const seconds = (performance.now() - started) / 1000;

  const t = artifact.training;
  if (flags.json) {
    const summary = {
      model: out,
      run: runPath,
      report: reportPath,
      params: artifact.params,
      cvScore: t.cvScore,
      cvScoreSd: t.cvScoreSd,
      scoring: t.search?.scoring ?? null,
      testAccuracy: t.testAccuracy,
      confusionMatrix: t.confusionMatrix,
      classes: artifact.classes,
      rows: t.data.rows,
      seconds: Number(seconds.toFixed(3)),
      timings,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const lines = [
    `trained on ${t.split.trainRows} rows, tested on ${t.split.testRows} (${flags.data}, seed ${flags.seed}) in ${fmtSeconds(seconds)} s`,
    `best params: ${fmtParams(artifact.params)}`,
    t.search
      ? `cv ${t.search.scoring}: ${t.cvScore?.toFixed(4)} ± ${t.cvScoreSd?.toFixed(4)} (${t.search.candidates.length} candidates × ${t.search.cv} folds)`
      : 'no search (--no-search)',
    `test accuracy: ${(t.testAccuracy * 100).toFixed(2)}%`,
    'confusion matrix (rows: true segment, columns: predicted):',
    fmtMatrix(t.confusionMatrix, artifact.classes),
    `model written to ${out}${reportPath ? `, report to ${reportPath}` : ''}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
