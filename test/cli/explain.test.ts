/**
 * `segserve predict --explain` through the spawned CLI: exact TreeSHAP contributions beside the
 * probabilities. Local accuracy on every row (contributions + expected value = the probability,
 * within 1e-9) on the post's v1 fixture model and on a penguins model (string categories and labels,
 * NA cells); a feature the forest was fitted on as a constant column gets exactly 0.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitForest } from '../../src/forest/forest.js';
import { TreeExplainer } from '../../src/forest/treeshap.js';
import { buildArtifact, loadArtifact, loadModel, saveArtifact } from '../../src/pipeline/artifact.js';
import { readCsvBatches } from '../../src/pipeline/batch.js';
import { ForestModel } from '../../src/pipeline/model.js';
import { fromSkParams } from '../../src/pipeline/params.js';
import { errorCode, runCli } from '../helpers/cli.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const V1_MODEL = join(FIXTURES, 'model.json');
const dir = mkdtempSync(join(tmpdir(), 'segserve-explain-'));
const fresh = join(dir, 'fresh.csv');
const penguins = join(dir, 'penguins.csv');
const penguinModel = join(dir, 'penguins.json');
const TOLERANCE = 1e-9;

/** A CSV without quoted commas (what predict writes for these data) as header + rows of cells. */
function readCsv(text: string): { header: string[]; rows: string[][] } {
  const [head, ...lines] = text.trim().split('\n');
  return { header: (head ?? '').split(','), rows: lines.map((l) => l.split(',')) };
}

/**
 * Checks every row of predict --explain's CSV: Σ shap_<feature> + shap_expected = p_<predicted>
 * within 1e-9, and returns the parsed table.
 */
function checkLocalAccuracy(text: string, features: readonly string[], target: string) {
  const { header, rows } = readCsv(text);
  const col = (name: string) => {
    const at = header.indexOf(name);
    expect(at, `column ${name}`).toBeGreaterThanOrEqual(0);
    return at;
  };
  const shapCols = features.map((f) => col(`shap_${f}`));
  const expectedCol = col('shap_expected');
  const predictedCol = col(`predicted_${target}`);
  expect(header.slice(predictedCol + 1)).toEqual([...features.map((f) => `shap_${f}`), 'shap_expected']);
  let worst = 0;
  for (const row of rows) {
    const label = row[predictedCol] as string;
    const p = Number(row[col(`p_${label}`)]);
    const sum = shapCols.reduce((s, c) => s + Number(row[c]), 0) + Number(row[expectedCol]);
    worst = Math.max(worst, Math.abs(sum - p));
  }
  expect(worst).toBeLessThan(TOLERANCE);
  return { header, rows, col };
}

beforeAll(async () => {
  copyFileSync(join(FIXTURES, 'penguins.csv'), penguins);
  const [sim, fit] = await Promise.all([
    runCli(['simulate', '--rows', '500', '--seed', '12', '--out', fresh]),
    runCli([
      'train',
      '--data',
      penguins,
      '--target',
      'species',
      '--n-iter',
      '4',
      '--out',
      penguinModel,
      '--no-report',
    ]),
  ]);
  expect(sim.code).toBe(0);
  expect(fit.stderr).toBe('');
  expect(fit.code).toBe(0);
}, 120_000);

describe('predict --explain on the post’s model (format v1 fixture)', () => {
  it('CSV: contributions of the predicted class; with the expected value they add up to its probability', async () => {
    const r = await runCli(['predict', '--data', fresh, '--model', V1_MODEL, '--explain']);
    expect(r.stderr).toMatch(/^scored and explained 500 rows into stdout in \d+\.\d\d s\n$/);
    expect(r.code).toBe(0);
    const features = ['age', 'income', 'response', 'events'];
    const { header, rows, col } = checkLocalAccuracy(r.stdout, features, 'segment');
    expect(header).toEqual([
      ...features,
      'p_0',
      'p_1',
      'p_2',
      'predicted_segment',
      'shap_age',
      'shap_income',
      'shap_response',
      'shap_events',
      'shap_expected',
    ]);
    expect(rows).toHaveLength(500);
    // shap_expected is the forest's mean prediction of the row's predicted class.
    const model = await loadModel(V1_MODEL);
    const expected = new TreeExplainer(model.forest.trees, 3, 4).expected;
    const predicted = new Set<string>();
    for (const row of rows) {
      const label = row[col('predicted_segment')] as string;
      predicted.add(label);
      expect(Number(row[col('shap_expected')])).toBe(expected[Number(label)]);
    }
    // the rows cover every segment, so every class's contributions were checked
    expect([...predicted].sort()).toEqual(['0', '1', '2']);
  });

  it('JSON lines: the full arrays, classes × features, with names; every class adds up', async () => {
    const r = await runCli([
      'predict',
      '--data',
      fresh,
      '--model',
      V1_MODEL,
      '--explain',
      '--format',
      'jsonl',
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(500);
    let worst = 0;
    for (const line of lines) {
      const row = JSON.parse(line) as Record<string, unknown> & {
        shap_values: number[][];
        expected_value: number[];
      };
      expect(Object.keys(row).slice(-4)).toEqual([
        'shap_values',
        'expected_value',
        'feature_names',
        'class_names',
      ]);
      expect(row.feature_names).toEqual(['age', 'income', 'response', 'events']);
      expect(row.class_names).toEqual([0, 1, 2]);
      expect(row.shap_values).toHaveLength(3);
      row.shap_values.forEach((values, k) => {
        expect(values).toHaveLength(4);
        const sum = values.reduce((s, v) => s + v, 0) + (row.expected_value[k] as number);
        worst = Math.max(worst, Math.abs(sum - (row[`p_${k}`] as number)));
      });
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('refuses an output with two columns of one name, naming it', async () => {
    const clash = join(dir, 'clash.csv');
    writeFileSync(clash, 'age,income,response,events,shap_age\n34,100,1,2,x\n');
    const r = await runCli([
      'predict',
      '--data',
      clash,
      '--model',
      V1_MODEL,
      '--explain',
      '--keep',
      'shap_age',
    ]);
    expect(r.code).toBe(2);
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_OPTION');
    expect(r.stderr).toMatch(/^segserve: --explain: the output would have two columns named "shap_age"/);
  });
});

describe('predict --explain on penguins (string categories, NA cells)', () => {
  it('every row adds up, the row with every measurement missing too', async () => {
    const r = await runCli([
      'predict',
      '--data',
      penguins,
      '--model',
      penguinModel,
      '--keep',
      'species',
      '--explain',
    ]);
    expect(r.code).toBe(0);
    const { model } = await loadArtifact(penguinModel);
    const features = model.features.map((f) => f.name);
    const { rows, col } = checkLocalAccuracy(r.stdout, features, 'species');
    expect(rows).toHaveLength(344);
    const allNa = rows.find((row) => row.slice(1, 6).every((c) => c === 'NA'));
    expect(allNa).toBeDefined();
    // Missing values follow the trees' missing directions, as in prediction: that row adds up too.
    const label = (allNa as string[])[col('predicted_species')];
    expect(['Adelie', 'Chinstrap', 'Gentoo']).toContain(label);
  });

  it('JSON lines give string class names and every class adds up', async () => {
    const r = await runCli([
      'predict',
      '--data',
      penguins,
      '--model',
      penguinModel,
      '--explain',
      '--format',
      'jsonl',
    ]);
    expect(r.code).toBe(0);
    let worst = 0;
    for (const line of r.stdout.trim().split('\n')) {
      const row = JSON.parse(line) as Record<string, unknown> & {
        shap_values: number[][];
        expected_value: number[];
        class_names: string[];
      };
      expect(row.class_names).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
      row.class_names.forEach((c, k) => {
        const sum =
          (row.shap_values[k] as number[]).reduce((s, v) => s + v, 0) + (row.expected_value[k] as number);
        worst = Math.max(worst, Math.abs(sum - (row[`p_${c}`] as number)));
      });
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('a column that was constant in training gets exactly 0 for every row and class', async () => {
    // Refit the penguins forest with a constant column "lab" added (training refuses constant
    // features, so the forest is fitted here): no tree can split on it.
    const { model, artifact } = await loadArtifact(penguinModel);
    const d = model.features.length;
    const columns: number[][] = Array.from({ length: d }, () => []);
    const y: number[] = [];
    await readCsvBatches(model, penguins, { keep: ['species'], cells: true }, ({ x, n, cells }) => {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) (columns[j] as number[]).push(x[i * d + j] as number);
        y.push(model.classes.indexOf((cells[i] as string[])[d] as string));
      }
    });
    const lab = new Float64Array(y.length).fill(1);
    const forest = fitForest(
      { columns: [...columns.map((c) => Float64Array.from(c)), lab], y: Int32Array.from(y), nClasses: 3 },
      fromSkParams({ ...artifact.params, n_estimators: 30 }),
      [7],
    );
    expect(forest.trees.every((t) => !t.feature.includes(d))).toBe(true);
    const schema = {
      ...model.schema,
      features: [...model.schema.features, { name: 'lab', kind: 'numeric' as const, missing: 0 }],
    };
    const { drift: _drift, shapImportance: _shap, ...training } = artifact.training;
    const labModel = join(dir, 'lab.json');
    await saveArtifact(
      labModel,
      buildArtifact(
        new ForestModel(schema, forest),
        { ...artifact.params, n_estimators: 30 },
        {
          ...training,
          featureImportances: Array.from(forest.featureImportances()),
        },
      ),
    );
    const data = join(dir, 'penguins-lab.csv');
    const [head, ...body] = readFileSync(penguins, 'utf8').trim().split('\n');
    writeFileSync(data, `${[`${head},"lab"`, ...body.map((l) => `${l},1`)].join('\n')}\n`);

    const csv = await runCli(['predict', '--data', data, '--model', labModel, '--explain']);
    expect(csv.code).toBe(0);
    const features = [...model.features.map((f) => f.name), 'lab'];
    const { rows, col } = checkLocalAccuracy(csv.stdout, features, 'species');
    expect(rows.map((row) => row[col('shap_lab')])).toEqual(rows.map(() => '0'));

    const jsonl = await runCli([
      'predict',
      '--data',
      data,
      '--model',
      labModel,
      '--explain',
      '--format',
      'jsonl',
    ]);
    expect(jsonl.code).toBe(0);
    for (const line of jsonl.stdout.trim().split('\n')) {
      const row = JSON.parse(line) as { shap_values: number[][] };
      expect(row.shap_values.map((v) => v[d])).toEqual([0, 0, 0]);
      // the other features do carry the prediction
      expect(row.shap_values.flat().some((v) => v !== 0)).toBe(true);
    }
  });
});
