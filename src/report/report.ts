/**
 * The training report: one self-contained HTML file (no script, no network) with the data summary,
 * the CV score of every candidate against its parameters, the confusion matrix as a heatmap, feature
 * importances (Gini, and global SHAP: mean |SHAP value| per feature and class), SHAP dependence of the
 * two most important features, and class balance. Charts are Vega-Lite specs rendered to inline SVG
 * at train time, with vega's headless renderer (no browser, no canvas).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { TreeExplainer } from '../forest/treeshap.js';
import { type Artifact, modelFromArtifact } from '../pipeline/artifact.js';
import type { ForestModel } from '../pipeline/model.js';
import type { ColumnSummary } from '../search/train.js';

export type { ColumnSummary } from '../search/train.js';

export interface ReportInput {
  artifact: Artifact;
  /** Summary of each input column over all rows of the data. */
  columns: ColumnSummary[];
  /** Rows of each class (in artifact.classes order) in the train and test splits. */
  classCounts: { train: number[]; test: number[] };
  timings: Record<string, number>;
  trainedAt: string;
  /**
   * Rows for the SHAP dependence charts (say, the first test rows): encoded, row-major n × features
   * (NaN = missing), and their SHAP values (n × classes × features) when already computed; without
   * values the report explains the rows with the model's forest. Without a sample the report has no
   * dependence charts.
   */
  shapSample?: { x: Float64Array; n: number; values?: Float64Array };
  /** The model (train's result has it); otherwise rebuilt from the artifact when needed. */
  model?: ForestModel;
}

/** Rows drawn in a dependence chart (points = rows × classes). */
export const DEPENDENCE_ROWS = 300;

const WIDTH = 420;
const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';

async function toSvg(spec: TopLevelSpec): Promise<string> {
  const themed = { config: { font: FONT, view: { stroke: null } }, ...spec } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(themed).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

function fmt(x: number | null | undefined, digits = 4): string {
  return x === null || x === undefined ? '–' : x.toFixed(digits);
}

function candidatesChart(a: Artifact): TopLevelSpec | null {
  const search = a.training.search;
  if (!search) return null;
  const values = search.candidates.map((c, i) => ({
    candidate: i,
    score: c.meanScore,
    sd: c.sdScore,
    n_estimators: c.params.n_estimators,
    max_depth: c.params.max_depth === null ? 'None' : String(c.params.max_depth),
    min_samples_split: c.params.min_samples_split,
    min_samples_leaf: c.params.min_samples_leaf,
    bootstrap: c.params.bootstrap ? 'bootstrap' : 'no bootstrap',
    best: i === search.bestIndex ? 'best' : 'other',
  }));
  const depthOrder = [...new Set(values.map((v) => v.max_depth))].sort((x, y) =>
    x === 'None' ? 1 : y === 'None' ? -1 : Number(x) - Number(y),
  );
  return {
    title: `CV ${search.scoring} of each candidate (${search.cv}-fold mean)`,
    data: { values },
    width: WIDTH,
    height: 260,
    mark: { type: 'point', filled: true, opacity: 0.75 },
    encoding: {
      x: {
        field: 'max_depth',
        type: 'ordinal',
        sort: depthOrder,
        title: 'max_depth',
        axis: { labelAngle: 0 },
      },
      xOffset: { field: 'n_estimators', type: 'ordinal' },
      y: { field: 'score', type: 'quantitative', scale: { zero: false }, title: `mean CV ${search.scoring}` },
      color: { field: 'bootstrap', type: 'nominal', title: null },
      shape: {
        field: 'best',
        type: 'nominal',
        scale: { domain: ['best', 'other'], range: ['diamond', 'circle'] },
        title: null,
      },
      size: { field: 'min_samples_leaf', type: 'ordinal', title: 'min_samples_leaf' },
    },
  };
}

function confusionChart(a: Artifact): TopLevelSpec {
  const values = a.training.confusionMatrix.flatMap((row, i) =>
    row.map((count, j) => ({
      truth: String(a.schema.classes[i]),
      predicted: String(a.schema.classes[j]),
      count,
    })),
  );
  return {
    title: 'Confusion matrix on the test split',
    data: { values },
    width: 240,
    height: 240,
    encoding: {
      x: {
        field: 'predicted',
        type: 'ordinal',
        title: `predicted ${a.schema.target}`,
        axis: { labelAngle: 0 },
      },
      y: { field: 'truth', type: 'ordinal', title: `true ${a.schema.target}` },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'count',
            type: 'quantitative',
            scale: { scheme: 'blues', type: 'symlog' },
            legend: null,
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 14 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: {
            condition: {
              test: `datum.count > ${Math.max(...values.map((v) => v.count)) / 4}`,
              value: 'white',
            },
            value: 'black',
          },
        },
      },
    ],
  };
}

function importanceChart(a: Artifact): TopLevelSpec {
  return {
    title: 'Feature importances (mean decrease in Gini)',
    data: {
      values: a.schema.features.map((f, j) => ({
        feature: f.name,
        importance: a.training.featureImportances[j] ?? 0,
      })),
    },
    width: WIDTH,
    height: 24 * a.schema.features.length,
    mark: 'bar',
    encoding: {
      y: { field: 'feature', type: 'nominal', sort: '-x', title: null },
      x: { field: 'importance', type: 'quantitative', title: 'importance' },
    },
  };
}

/** Per feature: mean |SHAP| averaged over classes (the order of the features by global importance). */
function meanOverClasses(values: readonly (readonly number[])[], d: number): number[] {
  const k = values.length;
  return Array.from({ length: d }, (_, j) => values.reduce((s, row) => s + (row[j] ?? 0), 0) / k);
}

function shapImportanceChart(a: Artifact): TopLevelSpec | null {
  const shap = a.training.shapImportance;
  if (!shap) return null;
  const order = meanOverClasses(shap.values, a.schema.features.length);
  const sorted = a.schema.features
    .map((f, j) => ({ name: f.name, mean: order[j] ?? 0 }))
    .sort((x, y) => y.mean - x.mean)
    .map((f) => f.name);
  const values = shap.values.flatMap((row, c) =>
    a.schema.features.map((f, j) => ({
      feature: f.name,
      class: String(a.schema.classes[c]),
      importance: row[j] ?? 0,
    })),
  );
  return {
    title: `Global importance: mean |SHAP value| per class (${shap.rows} test rows)`,
    data: { values },
    width: WIDTH,
    height: 12 * a.schema.features.length * Math.max(2, a.schema.classes.length),
    mark: 'bar',
    encoding: {
      y: { field: 'feature', type: 'nominal', sort: sorted, title: null },
      yOffset: { field: 'class', type: 'nominal', sort: a.schema.classes.map(String) },
      x: {
        field: 'importance',
        type: 'quantitative',
        title: 'mean |SHAP value| (change of the class probability)',
      },
      color: {
        field: 'class',
        type: 'nominal',
        sort: a.schema.classes.map(String),
        title: a.schema.target,
      },
    },
  };
}

/**
 * SHAP dependence of the two most important features (global SHAP importance, else the sample's):
 * each row's SHAP value of the feature for every class against the feature's value. Missing values
 * are left out of a numeric feature's chart and shown as "(missing)" for a categorical one.
 */
function dependenceChart(input: ReportInput): TopLevelSpec | null {
  const sample = input.shapSample;
  const a = input.artifact;
  if (!sample || sample.n < 1) return null;
  const d = a.schema.features.length;
  const k = a.schema.classes.length;
  const n = Math.min(sample.n, DEPENDENCE_ROWS);
  let values = sample.values;
  if (!values || values.length < n * k * d) {
    const model = input.model ?? modelFromArtifact(a);
    values = new TreeExplainer(model.forest.trees, k, d).explain(sample.x.subarray(0, n * d), n).values;
  }
  const v = values;
  const importance =
    a.training.shapImportance?.values ??
    Array.from({ length: k }, (_, c) =>
      Array.from({ length: d }, (_, j) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += Math.abs(v[(i * k + c) * d + j] as number);
        return s / n;
      }),
    );
  const mean = meanOverClasses(importance, d);
  const top = mean
    .map((m, j) => ({ m, j }))
    .sort((x, y) => y.m - x.m || x.j - y.j)
    .slice(0, 2)
    .map((t) => t.j);
  const classes = a.schema.classes.map(String);
  const panels = top.map((j) => {
    const f = a.schema.features[j] as Artifact['schema']['features'][number];
    const numeric = f.kind === 'numeric';
    const rows: { value: number | string; shap: number; class: string }[] = [];
    let missing = 0;
    for (let i = 0; i < n; i++) {
      const x = sample.x[i * d + j] as number;
      if (Number.isNaN(x) && numeric) {
        missing++;
        continue;
      }
      const value = numeric ? x : Number.isNaN(x) ? '(missing)' : String(f.categories?.[x] ?? x);
      for (let c = 0; c < k; c++) {
        rows.push({ value, shap: v[(i * k + c) * d + j] as number, class: classes[c] as string });
      }
    }
    const categories = [...(f.categories ?? []).map(String), '(missing)'];
    return {
      title: {
        text: f.name,
        ...(missing > 0
          ? { subtitle: `${missing} missing ${missing === 1 ? 'value' : 'values'} not shown` }
          : {}),
      },
      data: { values: rows },
      width: 280,
      height: 220,
      mark: numeric
        ? { type: 'point' as const, filled: true, opacity: 0.5, size: 18 }
        : { type: 'tick' as const, opacity: 0.6 },
      encoding: {
        x: numeric
          ? { field: 'value', type: 'quantitative' as const, title: f.name, scale: { zero: false } }
          : {
              field: 'value',
              type: 'ordinal' as const,
              title: f.name,
              sort: categories,
              axis: { labelAngle: 0 },
            },
        ...(numeric ? {} : { xOffset: { field: 'class', type: 'nominal' as const, sort: classes } }),
        y: { field: 'shap', type: 'quantitative' as const, title: `SHAP value of ${f.name}` },
        color: { field: 'class', type: 'nominal' as const, sort: classes, title: a.schema.target },
      },
    };
  });
  return {
    title: `SHAP dependence of the top features, per class (${n} rows)`,
    hconcat: panels,
  } as TopLevelSpec;
}

function balanceChart(a: Artifact, counts: ReportInput['classCounts']): TopLevelSpec {
  const values = (['train', 'test'] as const).flatMap((split) =>
    a.schema.classes.map((c, i) => ({ split, class: String(c), rows: counts[split][i] ?? 0 })),
  );
  return {
    title: `Class balance (${a.schema.target})`,
    data: { values },
    width: WIDTH,
    height: 160,
    mark: 'bar',
    encoding: {
      x: { field: 'class', type: 'nominal', title: a.schema.target, axis: { labelAngle: 0 } },
      xOffset: { field: 'split', type: 'nominal' },
      y: { field: 'rows', type: 'quantitative' },
      color: { field: 'split', type: 'nominal', title: null },
    },
  };
}

function table(headers: string[], rows: (string | number)[][]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Renders the report as one HTML document. */
export async function renderReport(input: ReportInput): Promise<string> {
  const { artifact: a, columns } = input;
  const t = a.training;
  const charts: [string, TopLevelSpec | null][] = [
    ['candidates', candidatesChart(a)],
    ['confusion', confusionChart(a)],
    ['importances', importanceChart(a)],
    ['shap-importance', shapImportanceChart(a)],
    ['dependence', dependenceChart(input)],
    ['balance', balanceChart(a, input.classCounts)],
  ];
  const figures = await Promise.all(
    charts
      .filter((c): c is [string, TopLevelSpec] => c[1] !== null)
      .map(async ([id, spec]) => `<figure id="chart-${id}" class="chart">${await toSvg(spec)}</figure>`),
  );
  const best = t.search
    ? [...t.search.candidates.entries()]
        .sort((x, y) => y[1].meanScore - x[1].meanScore || x[0] - y[0])
        .slice(0, 10)
    : [];
  const paramNames = Object.keys(a.params) as (keyof Artifact['params'])[];
  const show = (v: unknown) => (v === null ? 'None' : String(v));
  const params = paramNames.map((k) => [k, show(a.params[k])]);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>segserve training report</title>
<style>
  body { font-family: ${FONT}; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1a1a1a; }
  h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
  table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
  th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
  th { background: #f5f5f5; } td:first-child, th:first-child { text-align: left; }
  .facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
  .facts dt { color: #555; } .facts dd { margin: 0; font-variant-numeric: tabular-nums; }
  figure.chart { margin: 1rem 0; } code { font-size: 0.85rem; }
</style>
</head>
<body>
<h1>segserve training report</h1>
<dl class="facts">
  <dt>model</dt><dd>${escapeHtml(a.schema.target)} ~ ${escapeHtml(a.schema.features.map((f) => f.name).join(' + '))}, ${a.forest.trees.length} trees</dd>
  <dt>test accuracy</dt><dd id="test-accuracy">${(t.testAccuracy * 100).toFixed(2)}% on ${t.split.testRows} rows${t.split.testData ? ` of <code>${escapeHtml(t.split.testData.path)}</code>` : ''}</dd>
  <dt>baseline</dt><dd id="baseline">${(t.evaluation.majorityBaseline.accuracy * 100).toFixed(2)}% by always predicting the majority class ${escapeHtml(JSON.stringify(t.evaluation.majorityBaseline.label))}; balanced accuracy ${(t.evaluation.balancedAccuracy * 100).toFixed(2)}%, macro F1 ${fmt(t.evaluation.macroF1)}</dd>
  <dt>CV score</dt><dd>${t.search ? `${escapeHtml(t.search.scoring)} ${fmt(t.cvScore)} ± ${fmt(t.cvScoreSd)} (${t.search.candidates.length} candidates × ${t.search.cv} folds)` : 'no search'}</dd>
  <dt>data</dt><dd><code>${escapeHtml(t.data.path)}</code>, ${t.data.rows} rows (train ${t.split.trainRows}, test ${t.split.testRows}), sha256 <code>${t.data.sha256.slice(0, 16)}…</code></dd>
  <dt>seed</dt><dd>${t.seed}</dd>
  <dt>trained</dt><dd>${escapeHtml(input.trainedAt)} by segserve ${escapeHtml(a.segserveVersion)}; ${Object.entries(
    input.timings,
  )
    .map(([k, v]) => `${k} ${v.toFixed(2)} s`)
    .join(', ')}</dd>
</dl>
<h2>Data</h2>
${table(
  ['column', 'kind', 'missing', 'mean', 'sd', 'min', 'max'],
  columns.map((c) =>
    c.kind === 'numeric'
      ? [c.name, c.kind, c.missing, fmt(c.mean, 3), fmt(c.sd, 3), c.min, c.max]
      : [
          c.name,
          `categorical (${a.schema.features.find((f) => f.name === c.name)?.categories?.length ?? '?'} categories)`,
          c.missing,
          '–',
          '–',
          '–',
          '–',
        ],
  ),
)}
<h2>Per class (test rows)</h2>
${table(
  ['class', 'precision', 'recall', 'F1', 'support'],
  t.evaluation.perClass.map((p, i) => [
    String(a.schema.classes[i]),
    fmt(p.precision),
    fmt(p.recall),
    fmt(p.f1),
    p.support,
  ]),
)}
<h2>Chosen parameters</h2>
${table(['parameter', 'value'], params)}
<h2>Charts</h2>
${figures.join('\n')}
${
  best.length > 0
    ? `<h2>Top candidates</h2>\n${table(
        ['#', 'mean score', 'sd', ...Object.keys(a.params)],
        best.map(([i, c]) => [
          i,
          fmt(c.meanScore),
          fmt(c.sdScore),
          ...Object.values(c.params).map((v) => (v === null ? 'None' : String(v))),
        ]),
      )}`
    : ''
}
</body>
</html>
`;
}
