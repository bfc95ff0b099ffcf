import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { runCli } from '../helpers/cli.js';

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
  });

  it('refuses a tampered model with one line and a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segserve-inspect-'));
    const path = join(dir, 'x.json');
    writeFileSync(path, '{"format":{"name":"segserve-model","version":9}}');
    const r = await runCli(['inspect', '--model', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `segserve: ${path}: model format version 9 is not supported by segserve ${VERSION} (it reads versions 1 and 2)\n`,
    );
  });
});
