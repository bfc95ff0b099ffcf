import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkWritable, writeTextsAtomic } from '../data/atomic.js';
import type { ResolveFlags } from '../data/resolve.js';
import type { Category, UnknownCategoryPolicy } from '../data/schema.js';
import { DEFAULT_DATA_PATH, DEFAULT_MODEL_PATH, DEFAULT_SEED } from '../defaults.js';
import { usageError } from '../errors.js';
import type { MaxFeatures } from '../forest/types.js';
import type { ClassWeight, SkParams } from '../pipeline/params.js';
import { SCORINGS, type Scoring } from '../search/scoring.js';
import {
  checkParams,
  DEFAULT_PARAMS,
  DEFAULT_SPACE,
  parseSpace,
  type Space,
  spaceSize,
} from '../search/space.js';
import { list, positiveInt, readJsonFile, seed } from './options.js';
import { fmtSeconds, progressBar } from './output.js';

export interface TrainFlags {
  data: string;
  testData?: string;
  target?: string;
  features?: string[];
  ignore?: string[];
  categorical?: string[];
  numeric?: string[];
  schema?: string;
  naValues?: string[];
  unknownCategory?: UnknownCategoryPolicy;
  classWeight: 'none' | 'balanced' | 'balanced_subsample';
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
  const ok = value.trim() !== '' && ((Number.isInteger(n) && n >= 1) || (n > 0 && n < 1));
  if (!ok) {
    throw new InvalidArgumentError('expected sqrt, log2, all, an integer >= 1 or a fraction in (0, 1).');
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

/** The training report beside its model: `model.json` → `model.report.html`. */
export function reportFilePath(modelPath: string): string {
  return join(dirname(modelPath), `${basename(modelPath).replace(/\.json$/, '')}.report.html`);
}

export function trainCommand(): Command {
  return new Command('train')
    .description(
      "fit a random forest on a CSV (by default the post's segment model on data/customers.csv) and write the model artifact",
    )
    .option('--data <path>', 'training CSV', DEFAULT_DATA_PATH)
    .option('--target <column>', 'the column to predict (default: from the schema file)')
    .option(
      '--features <a,b,c>',
      'the feature columns (default: every column but the target and ignored ones)',
      list('column names'),
    )
    .option('--ignore <x,y>', 'columns to leave out', list('column names'))
    .option('--categorical <a,b>', 'columns to treat as categorical', list('column names'))
    .option('--numeric <a,b>', 'columns to treat as numeric', list('column names'))
    .option(
      '--schema <file>',
      'a schema JSON (from `segserve schema --out`); default: <data>.schema.json if present',
    )
    .option(
      '--na-values <a,b>',
      'cells read as missing (an empty cell always is; default NA,NaN,null,?)',
      list('markers', true),
    )
    .addOption(
      new Option(
        '--unknown-category <policy>',
        'a category unseen in training at prediction: refuse it (default), or read it as missing',
      ).choices(['error', 'missing']),
    )
    .addOption(
      new Option('--class-weight <w>', "scikit-learn's class_weight")
        .choices(['none', 'balanced', 'balanced_subsample'])
        .default('none'),
    )
    .option('--test-data <path>', 'evaluate on this CSV instead of splitting (--test-size is then ignored)')
    .option('--out <path>', `model artifact to write (default: ${DEFAULT_MODEL_PATH})`)
    .option('--seed <s>', 'random seed, an integer in [0, 2^32)', seed, DEFAULT_SEED)
    .option('--n-iter <n>', 'candidates drawn from the space', positiveInt, 100)
    .option('--cv <k>', 'cross-validation folds (stratified)', intAtLeast(2), 3)
    .addOption(new Option('--scoring <name>', 'CV score to maximise').choices(SCORINGS).default('accuracy'))
    .option('--test-size <f>', 'fraction of rows held out for the test score', fraction, 0.4)
    .option('--workers <n>', 'worker threads for the search', positiveInt, availableParallelism())
    .option('--space <file>', "JSON search space in scikit-learn's names (replaces the post's grid)")
    .option('--report <path>', 'training report (HTML) to write (default: <model>.report.html beside --out)')
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

export function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

export function fmtMatrix(m: number[][], classes: readonly Category[]): string {
  const width = Math.max(
    5,
    ...m.flat().map((v) => String(v).length),
    ...classes.map((c) => String(c).length),
  );
  const first = Math.max(10, ...classes.map((c) => String(c).length + 1));
  const pad = (s: string | number) => String(s).padStart(width);
  const header = `  ${'true\\pred'.padEnd(first)}${classes.map(pad).join(' ')}`;
  const rows = m.map((row, i) => `  ${String(classes[i]).padEnd(first)}${row.map(pad).join(' ')}`);
  return [header, ...rows].join('\n');
}

/** Per-class precision, recall, F1 and support, one line per class. */
export function fmtClassScores(
  perClass: readonly { precision: number; recall: number; f1: number; support: number }[],
  classes: readonly Category[],
): string {
  const first = Math.max(10, ...classes.map((c) => String(c).length + 1));
  const header = `  ${'class'.padEnd(first)}${['precision', 'recall', 'f1', 'support'].map((h) => h.padStart(10)).join('')}`;
  const rows = perClass.map(
    (p, i) =>
      `  ${String(classes[i]).padEnd(first)}${[p.precision, p.recall, p.f1].map((v) => v.toFixed(4).padStart(10)).join('')}${String(p.support).padStart(10)}`,
  );
  return [header, ...rows].join('\n');
}

export async function runTrain(flags: TrainFlags): Promise<void> {
  if (flags.search) {
    const given = FIXED_FLAGS.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag);
    if (given.length > 0) throw usageError(`${given.join(', ')} only apply with --no-search`);
  }
  let space: Space = DEFAULT_SPACE;
  // Integer max_features are checked against the feature count once the schema is resolved.
  const anyWidth = Number.MAX_SAFE_INTEGER;
  if (flags.space) {
    if (!flags.search) throw usageError('--space only applies to a search (drop --no-search)');
    space = parseSpace(await readJsonFile(flags.space, 'space file'), anyWidth, flags.space);
  }
  const params = fixedParams(flags);
  if (!flags.search) checkParams(params, anyWidth, 'parameters');
  const schemaFlags: ResolveFlags = {
    target: flags.target,
    features: flags.features,
    ignore: flags.ignore,
    categorical: flags.categorical,
    numeric: flags.numeric,
    schemaPath: flags.schema,
    naValues: flags.naValues,
    unknownCategory: flags.unknownCategory,
  };
  const classWeight: ClassWeight = flags.classWeight === 'none' ? null : flags.classWeight;

  const out = flags.out ?? DEFAULT_MODEL_PATH;
  if (flags.out === undefined) await mkdir(dirname(out), { recursive: true });
  const reportPath =
    flags.report === false ? null : typeof flags.report === 'string' ? flags.report : reportFilePath(out);
  await checkWritable(out);
  if (reportPath) await checkWritable(reportPath);

  const { train } = await import('../search/train.js');
  const { serializeArtifactChunks } = await import('../pipeline/artifact.js');
  const { renderReport } = await import('../report/report.js');
  const started = performance.now();
  const bar = flags.search
    ? progressBar(Math.min(flags.nIter, spaceSize(space)) * flags.cv, 'search (candidate × fold fits)')
    : progressBar(0, '', 1);
  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train({
      dataPath: flags.data,
      testDataPath: flags.testData,
      schema: schemaFlags,
      classWeight,
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
  const trainedAt = new Date().toISOString();
  // Wall-clock facts live beside the artifact, so the artifact itself stays byte-reproducible.
  const runPath = runFilePath(out);
  const run = {
    model: out,
    version: artifact.digest,
    trainedAt,
    workers: flags.search ? flags.workers : 1,
    node: process.version,
    timings,
  };
  // Model, run facts and report are committed together, so they never describe different models.
  // The model is written tree by tree, never as one string (a big forest is hundreds of MB of JSON).
  const files: { path: string; text: string | Iterable<string> }[] = [
    { path: out, text: serializeArtifactChunks(artifact) },
    { path: runPath, text: `${JSON.stringify(run, null, 2)}\n` },
  ];
  if (reportPath)
    files.push({ path: reportPath, text: await renderReport({ ...result, timings, trainedAt }) });
  await writeTextsAtomic(files);
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
      balancedAccuracy: t.evaluation.balancedAccuracy,
      macroF1: t.evaluation.macroF1,
      majorityBaseline: t.evaluation.majorityBaseline,
      perClass: t.evaluation.perClass,
      confusionMatrix: t.confusionMatrix,
      classes: artifact.schema.classes,
      schema: artifact.schema,
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
    `test accuracy: ${pct(t.testAccuracy)} (majority-class baseline ${pct(t.evaluation.majorityBaseline.accuracy)}: always ${JSON.stringify(t.evaluation.majorityBaseline.label)}), balanced accuracy ${pct(t.evaluation.balancedAccuracy)}, macro F1 ${t.evaluation.macroF1.toFixed(4)}`,
    fmtClassScores(t.evaluation.perClass, artifact.schema.classes),
    `confusion matrix (rows: true ${artifact.schema.target}, columns: predicted):`,
    fmtMatrix(t.confusionMatrix, artifact.schema.classes),
    `model written to ${out}${reportPath ? `, report to ${reportPath}` : ''}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
