import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadArtifact } from '../../src/pipeline/artifact.js';
import { VERSION } from '../../src/version.js';
import { errorCode, runCli } from '../helpers/cli.js';

const MODEL = join(import.meta.dirname, '..', 'fixtures', 'model.json');

describe('segserve inspect', () => {
  it('describes the model for people', async () => {
    const r = await runCli(['inspect', '--model', MODEL]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('format         segserve-model v1 (read as v2), trained by segserve');
    expect(r.stdout).toMatch(/version {8}sha256:[0-9a-f]{64}/);
    expect(r.stdout).toContain('events (categorical: 0, 1, 2, 3, 4, 5, 6)');
    expect(r.stdout).toMatch(/forest {9}20 trees, \d+ nodes/);
    expect(r.stdout).toContain('params         n_estimators=20 max_depth=8');
    expect(r.stdout).toMatch(/test accuracy {2}\d+\.\d\d% on 2000 rows/);
    expect(r.stdout).toMatch(/sha256 [0-9a-f]{64}/);
    expect(r.stdout).toContain('shap           none recorded (format v1, or trained without them)');
  });

  it('lists the global SHAP importances: averaged over classes for people, per class in JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segserve-inspect-'));
    const data = join(dir, 'customers.csv');
    const model = join(dir, 'model.json');
    expect((await runCli(['simulate', '--rows', '1500', '--out', data])).code).toBe(0);
    const fit = await runCli(['train', '--data', data, '--out', model, '--no-search', '--no-report']);
    expect(fit.code).toBe(0);
    const { artifact } = await loadArtifact(model);
    const shap = artifact.training.shapImportance as { rows: number; values: number[][] };
    const names = ['age', 'income', 'response', 'events'];
    const mean = names.map((_, j) => shap.values.reduce((s, row) => s + (row[j] as number), 0) / 3);
    const order = [...names.keys()].sort((p, q) => (mean[q] as number) - (mean[p] as number));

    const r = await runCli(['inspect', '--model', model]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const at = lines.indexOf(
      `shap           mean |SHAP value| over ${shap.rows} test rows, averaged over classes:`,
    );
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 5)).toEqual(
      order.map(
        (j) => `                 ${(names[j] as string).padEnd(8)} ${(mean[j] as number).toFixed(4)}`,
      ),
    );

    const json = await runCli(['inspect', '--model', model, '--json']);
    const j = JSON.parse(json.stdout) as {
      shapImportance: {
        rows: number;
        mean: Record<string, number>;
        perClass: Record<string, Record<string, number>>;
      };
    };
    expect(j.shapImportance.rows).toBe(shap.rows);
    expect(Object.keys(j.shapImportance.mean)).toEqual(order.map((i) => names[i]));
    expect(Object.values(j.shapImportance.mean)).toEqual(order.map((i) => mean[i]));
    expect(Object.keys(j.shapImportance.perClass)).toEqual(['0', '1', '2']);
    for (const c of [0, 1, 2]) {
      expect(j.shapImportance.perClass[String(c)]).toEqual(
        Object.fromEntries(names.map((name, f) => [name, shap.values[c]?.[f]])),
      );
    }
  });

  it('prints JSON for scripts, with the run facts when the sidecar is there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segserve-inspect-'));
    const model = join(dir, 'm.json');
    copyFileSync(MODEL, model);
    writeFileSync(
      join(dir, 'm.run.json'),
      JSON.stringify({ trainedAt: '2026-01-02T03:04:05.000Z', timings: { total: 1 } }),
    );
    const r = await runCli(['inspect', '--model', model, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({
      format: { name: 'segserve-model', version: 1 },
      trainedAt: '2026-01-02T03:04:05.000Z',
      classes: [0, 1, 2],
      forest: { trees: 20 },
      params: { n_estimators: 20, max_depth: 8 },
      search: null,
    });
    expect(j.confusionMatrix).toHaveLength(3);
    expect(j.shapImportance).toBeNull();
  });

  it('refuses a tampered model with one line and a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segserve-inspect-'));
    const path = join(dir, 'x.json');
    writeFileSync(path, '{"format":{"name":"segserve-model","version":9}}');
    const r = await runCli(['inspect', '--model', path]);
    expect(r.code).toBe(1);
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_MODEL_FILE');
    expect(r.stderr).toBe(
      `segserve: ${path}: model format version 9 is not supported by segserve ${VERSION} (it reads versions 1 and 2) [SEGSERVE_ERR_MODEL_FILE]\n`,
    );
  });
});
