import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { DEFAULT_MODEL_PATH } from '../defaults.js';
import type { Artifact } from '../pipeline/artifact.js';
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

/**
 * Global importances as mean |SHAP value| over the test rows training explained: per feature averaged
 * over classes (largest first), and per class; null for a model trained without them (format v1).
 */
export function shapImportance(a: Artifact): {
  rows: number;
  mean: Record<string, number>;
  perClass: Record<string, Record<string, number>>;
} | null {
  const shap = a.training.shapImportance;
  if (!shap) return null;
  const names = a.schema.features.map((f) => f.name);
  const mean = names.map((_, j) => shap.values.reduce((s, row) => s + (row[j] ?? 0), 0) / shap.values.length);
  const order = [...names.keys()].sort((p, q) => (mean[q] as number) - (mean[p] as number) || p - q);
  return {
    rows: shap.rows,
    mean: Object.fromEntries(order.map((j) => [names[j] as string, mean[j] as number])),
    perClass: Object.fromEntries(
      shap.values.map((row, c) => [
        String(a.schema.classes[c]),
        Object.fromEntries(order.map((j) => [names[j] as string, row[j] ?? 0])),
      ]),
    ),
  };
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
    shapImportance: shapImportance(a),
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
  const width = Math.max(...s.features.map((f) => f.name.length));
  const lines = [
    `model          ${flags.model}`,
    `format         ${a.format.name} v${fileFormatVersion(a)}${fileFormatVersion(a) === a.format.version ? '' : ` (read as v${a.format.version})`}, trained by segserve ${a.segserveVersion}${run?.trainedAt ? ` on ${run.trainedAt}` : ''}`,
    `version        ${a.digest}`,
    `predicts       ${s.target} in {${cats(s.classes)}} from ${s.features.length} features (unknown categories: ${s.unknownCategory}):`,
    ...s.features.map(
      (f, j) => `                 ${feature(f)}, importance ${(t.featureImportances[j] ?? 0).toFixed(3)}`,
    ),
    ...(summary.shapImportance
      ? [
          `shap           mean |SHAP value| over ${summary.shapImportance.rows} test rows, averaged over classes:`,
          ...Object.entries(summary.shapImportance.mean).map(
            ([name, v]) => `                 ${name.padEnd(width)} ${v.toFixed(4)}`,
          ),
        ]
      : ['shap           none recorded (format v1, or trained without them): retrain to record them']),
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
