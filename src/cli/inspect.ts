import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { DEFAULT_MODEL_PATH } from '../defaults.js';
import { fmtClassScores, fmtMatrix, fmtParams, pct, runFilePath } from './train.js';

interface InspectFlags {
  model: string;
  json?: boolean;
}

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('describe a model artifact: features, classes, forest size, params, scores, training facts')
    .option('--model <path>', 'model artifact', DEFAULT_MODEL_PATH)
    .option('--json', 'print one JSON object to stdout')
    .action(runInspect);
}

/** The sidecar's wall-clock facts, if the file is there and readable (it is informative only). */
async function readRunFacts(modelPath: string): Promise<{ trainedAt?: string; timings?: unknown } | null> {
  try {
    return JSON.parse(await readFile(runFilePath(modelPath), 'utf8')) as { trainedAt?: string };
  } catch {
    return null;
  }
}

async function runInspect(flags: InspectFlags): Promise<void> {
  const { fileFormatVersion, loadArtifact } = await import('../pipeline/artifact.js');
  const { artifact: a } = await loadArtifact(flags.model);
  const run = await readRunFacts(flags.model);
  const nodes = a.forest.trees.map((t) => t.feature.length);
  const leaves = a.forest.trees.reduce((s, t) => s + t.feature.filter((f) => f === -1).length, 0);
  const t = a.training;
  const summary = {
    model: flags.model,
    format: { name: a.format.name, version: fileFormatVersion(a) },
    segserveVersion: a.segserveVersion,
    trainedAt: run?.trainedAt ?? null,
    version: a.digest,
    target: a.schema.target,
    features: a.schema.features,
    classes: a.schema.classes,
    unknownCategory: a.schema.unknownCategory,
    forest: {
      trees: nodes.length,
      nodes: nodes.reduce((s, n) => s + n, 0),
      leaves,
      maxNodes: Math.max(...nodes),
    },
    params: a.params,
    search: t.search
      ? {
          nIter: t.search.nIter,
          cv: t.search.cv,
          scoring: t.search.scoring,
          candidates: t.search.candidates.length,
        }
      : null,
    cvScore: t.cvScore,
    cvScoreSd: t.cvScoreSd,
    testAccuracy: t.testAccuracy,
    evaluation: t.evaluation,
    confusionMatrix: t.confusionMatrix,
    featureImportances: Object.fromEntries(
      a.schema.features.map((f, j) => [f.name, t.featureImportances[j] ?? null]),
    ),
    data: t.data,
    split: t.split,
    seed: t.seed,
    timings: run?.timings ?? null,
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const s = a.schema;
  const cats = (c: readonly (string | number)[]) =>
    c.length > 12 ? `${c.slice(0, 12).join(', ')}, … (${c.length - 12} more)` : c.join(', ');
  const feature = (f: (typeof s.features)[number]) =>
    `${f.kind === 'categorical' ? `${f.name} (categorical: ${cats(f.categories ?? [])})` : `${f.name} (numeric)`}${f.missing ? `, ${f.missing} missing in training` : ''}`;
  const ev = t.evaluation;
  const lines = [
    `model          ${flags.model}`,
    `format         ${a.format.name} v${fileFormatVersion(a)}${fileFormatVersion(a) === a.format.version ? '' : ` (read as v${a.format.version})`}, trained by segserve ${a.segserveVersion}${run?.trainedAt ? ` on ${run.trainedAt}` : ''}`,
    `version        ${a.digest}`,
    `predicts       ${s.target} in {${cats(s.classes)}} from ${s.features.length} features (unknown categories: ${s.unknownCategory}):`,
    ...s.features.map(
      (f, j) => `                 ${feature(f)}, importance ${(t.featureImportances[j] ?? 0).toFixed(3)}`,
    ),
    `forest         ${summary.forest.trees} trees, ${summary.forest.nodes} nodes (${leaves} leaves, at most ${summary.forest.maxNodes} in a tree)`,
    `params         ${fmtParams(a.params)}`,
    t.search
      ? `cv             ${t.search.scoring} ${t.cvScore?.toFixed(4)} ± ${t.cvScoreSd?.toFixed(4)} (best of ${t.search.candidates.length} candidates, ${t.search.cv} folds)`
      : 'cv             none (trained with --no-search)',
    `test accuracy  ${pct(t.testAccuracy)} on ${t.split.testRows} rows${t.split.testData ? ` of ${t.split.testData.path}` : ''} (trained on ${t.split.trainRows}); majority-class baseline ${pct(ev.majorityBaseline.accuracy)}, balanced accuracy ${pct(ev.balancedAccuracy)}, macro F1 ${ev.macroF1.toFixed(4)}`,
    fmtClassScores(ev.perClass, s.classes),
    'confusion matrix (rows: true, columns: predicted):',
    fmtMatrix(t.confusionMatrix, s.classes),
    `data           ${t.data.path}, ${t.data.rows} rows, sha256 ${t.data.sha256}`,
    `seed           ${t.seed}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
