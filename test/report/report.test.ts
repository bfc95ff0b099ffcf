import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArtifact } from '../../src/pipeline/artifact.js';
import { readCsvBatches } from '../../src/pipeline/batch.js';
import { DEPENDENCE_ROWS, renderReport } from '../../src/report/report.js';
import { train } from '../../src/search/train.js';
import { haveChromium, launchChromium } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'segserve-report-'));
const report = join(dir, 'model.report.html');
const data = join(dir, 'customers.csv');
/** The ids of the charts a report has, in order. */
const chartIds = (html: string) => [...html.matchAll(/<figure id="chart-([\w-]+)"/g)].map((m) => m[1]);

beforeAll(async () => {
  expect((await runCli(['simulate', '--rows', '2000', '--out', data])).code).toBe(0);
  const r = await runCli([
    'train',
    '--data',
    data,
    '--out',
    join(dir, 'model.json'),
    '--n-iter',
    '6',
    '--json',
  ]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ report });
});

describe('training report', () => {
  it('is one self-contained file: no script, no stylesheet or image fetched from anywhere', () => {
    const html = readFileSync(report, 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)=["']?https?:/i);
    expect(html.match(/<svg/g)).toHaveLength(6);
    expect(chartIds(html)).toEqual([
      'candidates',
      'confusion',
      'importances',
      'shap-importance',
      'dependence',
      'balance',
    ]);
    expect(html).toContain('Top candidates');
  });

  it('draws global SHAP importance: one bar per feature and class, from the artifact', async () => {
    const html = readFileSync(report, 'utf8');
    const { artifact } = await loadArtifact(join(dir, 'model.json'));
    const shap = artifact.training.shapImportance;
    expect(shap?.values).toHaveLength(3);
    const figure = html.slice(html.indexOf('id="chart-shap-importance"'), html.indexOf('id="chart-balance"'));
    expect(figure).toContain(`Global importance: mean |SHAP value| per class (${shap?.rows} test rows)`);
    // 4 features × 3 classes bars (vega draws each as a path in the rect mark's group)
    const bars = figure.slice(figure.indexOf('mark-rect'));
    expect(bars.slice(0, bars.indexOf('</g>')).match(/<path/g)).toHaveLength(12);
  });

  it('with a sample of rows, draws the SHAP dependence of the two most important features', async () => {
    const result = await train({
      dataPath: data,
      schema: {},
      seed: 3,
      testSize: 0.4,
      classWeight: null,
      mode: {
        kind: 'fixed',
        params: {
          n_estimators: 20,
          max_depth: 6,
          min_samples_split: 2,
          min_samples_leaf: 1,
          max_features: 'sqrt',
          bootstrap: true,
        },
      },
      workers: 1,
    });
    const rows: number[] = [];
    await readCsvBatches(result.model, data, {}, ({ x, n }) => {
      if (rows.length < 400 * 4) rows.push(...x.subarray(0, n * 4));
    });
    const x = Float64Array.from(rows.slice(0, 400 * 4));
    const input = { ...result, trainedAt: 'now' };
    const html = await renderReport({ ...input, shapSample: { x, n: 400 } });
    expect(chartIds(html)).toEqual(['confusion', 'importances', 'shap-importance', 'dependence', 'balance']);
    const figure = html.slice(html.indexOf('id="chart-dependence"'), html.indexOf('id="chart-balance"'));
    // the two features of largest mean |SHAP| averaged over classes, in that order
    const shap = result.artifact.training.shapImportance?.values as number[][];
    const names = result.model.features.map((f) => f.name);
    const mean = names.map((_, j) => shap.reduce((s, row) => s + (row[j] as number), 0) / 3);
    const top = [...names.keys()].sort((p, q) => (mean[q] as number) - (mean[p] as number)).slice(0, 2);
    const titles = [...new Set([...figure.matchAll(/SHAP value of (\w+)/g)].map((m) => m[1]))];
    expect(titles).toEqual(top.map((j) => names[j]));
    // one mark per row and class in each panel (no missing values in simulated data)
    expect(figure.match(/<path/g)?.length).toBeGreaterThanOrEqual(2 * DEPENDENCE_ROWS * 3);
    expect(figure).toContain(`SHAP dependence of the top features, per class (${DEPENDENCE_ROWS} rows)`);
    // given values are drawn as given: the same chart from precomputed values
    const { TreeExplainer } = await import('../../src/forest/treeshap.js');
    const values = new TreeExplainer(result.model.forest.trees, 3, 4).explain(x, 400).values;
    const again = await renderReport({ ...input, shapSample: { x, n: 400, values } });
    expect(again).toBe(html);
  }, 60_000);

  describe.skipIf(!haveChromium)('in headless Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('draws every chart with marks and logs no errors, offline', async () => {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) problems.push(`network request to ${req.url()}`);
      });
      await page.goto(pathToFileURL(report).href);
      for (const id of [
        'candidates',
        'confusion',
        'importances',
        'shap-importance',
        'dependence',
        'balance',
      ]) {
        const chart = page.locator(`#chart-${id} svg`);
        await expect(chart.count()).resolves.toBe(1);
        const marks = await page.locator(`#chart-${id} svg g[class*="role-mark"] > *`).count();
        expect(marks, `${id} chart marks`).toBeGreaterThan(2);
        const box = await chart.boundingBox();
        expect(box?.width).toBeGreaterThan(100);
        expect(box?.height).toBeGreaterThan(100);
      }
      // one cell per class pair in the heatmap
      expect(await page.locator('#chart-confusion g.mark-rect path').count()).toBe(9);
      await expect(page.locator('#test-accuracy').textContent()).resolves.toMatch(/^\d+\.\d\d% on 800 rows$/);
      expect(problems).toEqual([]);
    });
  });
});
