import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliErrorCode } from '../../src/errors.js';
import { loadArtifact } from '../../src/pipeline/artifact.js';
import { errorCode, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'segserve-train-'));
const data = join(dir, 'customers.csv');

beforeAll(async () => {
  const sim = await runCli(['simulate', '--rows', '5000', '--out', data]);
  expect(sim.code).toBe(0);
});

describe('segserve train', () => {
  it('reproduces the post: default search on 5000 rows, test accuracy >= 99.5%, [34, 100, 1, 2] -> segment 1 at p >= 0.98', async () => {
    const out = join(dir, 'post.json');
    const r = await runCli(['train', '--data', data, '--out', out, '--json'], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ model: out, scoring: 'accuracy', classes: [0, 1, 2], rows: 5000 });
    expect(summary.testAccuracy).toBeGreaterThanOrEqual(0.995);
    expect(summary.cvScore).toBeGreaterThan(0.99);
    expect(typeof summary.seconds).toBe('number');

    const { model, artifact } = await loadArtifact(out);
    const [p] = model.predictProba([[34, 100, 1, 2]]);
    expect(model.predict([[34, 100, 1, 2]])).toEqual([1]);
    expect(p?.[1]).toBeGreaterThanOrEqual(0.98);
    expect(artifact.training.search?.candidates).toHaveLength(100);
    expect(artifact.training.split).toEqual({
      testSize: 0.4,
      stratified: true,
      testData: null,
      trainRows: 3000,
      testRows: 2000,
    });
    // The post's model, stated by the schema file simulate wrote beside the data.
    expect(artifact.schema.target).toBe('segment');
    expect(artifact.schema.features.map((f) => [f.name, f.kind])).toEqual([
      ['age', 'numeric'],
      ['income', 'numeric'],
      ['response', 'categorical'],
      ['events', 'categorical'],
    ]);
    expect(summary.schema).toEqual(artifact.schema);
    expect(artifact.training.confusionMatrix.flat().reduce((s, v) => s + v, 0)).toBe(2000);
    // wall-clock facts sit beside the artifact, not in it
    const run = JSON.parse(readFileSync(join(dir, 'post.run.json'), 'utf8')) as {
      timings: { total: number };
    };
    expect(run.timings.total).toBeGreaterThan(0);
  });

  it('writes a byte-identical artifact with 1 and 2 workers', async () => {
    const args = ['train', '--data', data, '--n-iter', '6', '--seed', '5'];
    const [one, two] = await Promise.all([
      runCli([...args, '--workers', '1', '--out', join(dir, 'w1.json')]),
      runCli([...args, '--workers', '2', '--out', join(dir, 'w2.json')]),
    ]);
    expect([one.code, two.code]).toEqual([0, 0]);
    expect(readFileSync(join(dir, 'w1.json')).equals(readFileSync(join(dir, 'w2.json')))).toBe(true);
    const other = await runCli([...args.slice(0, -1), '6', '--workers', '1', '--out', join(dir, 'w3.json')]);
    expect(other.code).toBe(0);
    expect(readFileSync(join(dir, 'w3.json')).equals(readFileSync(join(dir, 'w1.json')))).toBe(false);
  });

  it('fits one forest with --no-search and prints the summary for people', async () => {
    const out = join(dir, 'fixed.json');
    const r = await runCli([
      'train',
      '--data',
      data,
      '--out',
      out,
      '--no-search',
      '--n-estimators',
      '20',
      '--max-depth',
      '6',
      '--min-samples-leaf',
      '2',
      '--no-bootstrap',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/test accuracy: \d+\.\d\d%/);
    expect(r.stdout).toContain('confusion matrix');
    expect(r.stdout).toContain(`model written to ${out}`);
    const { artifact } = await loadArtifact(out);
    expect(artifact.params).toEqual({
      n_estimators: 20,
      max_depth: 6,
      min_samples_split: 2,
      min_samples_leaf: 2,
      max_features: 'sqrt',
      bootstrap: false,
    });
    expect(artifact.forest.trees).toHaveLength(20);
    expect(artifact.training.search).toBeNull();
    expect(artifact.training.cvScore).toBeNull();
  });

  it('a failed run leaves the previous artifact byte-identical', async () => {
    const out = join(dir, 'keep.json');
    expect(
      (await runCli(['train', '--data', data, '--out', out, '--no-search', '--n-estimators', '3'])).code,
    ).toBe(0);
    const before = readFileSync(out);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'age,income,response,events,segment\n30,100,1,2,1\n31,x,0,2,0\n');
    const r = await runCli([
      'train',
      '--data',
      bad,
      '--target',
      'segment',
      '--numeric',
      'income',
      '--out',
      out,
    ]);
    expect(r.code).toBe(2);
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_CSV');
    expect(r.stderr).toBe(
      `segserve: ${bad}: line 3, column "income": "x" is not a number (numeric by --numeric) [SEGSERVE_ERR_CSV]\n`,
    );
    expect(readFileSync(out).equals(before)).toBe(true);
  });

  const space = join(dir, 'space.json');
  writeFileSync(space, JSON.stringify({ max_depth: [0] }));
  const notJson = join(dir, 'not-json.json');
  writeFileSync(notJson, '{"max_depth": [4');
  it.each<[string[], CliErrorCode, RegExp]>([
    [
      ['--n-iter', '0'],
      'SEGSERVE_ERR_OPTION',
      /option '--n-iter <n>' argument '0' is invalid\. expected a positive integer/,
    ],
    [
      ['--cv', '1'],
      'SEGSERVE_ERR_OPTION',
      /option '--cv <k>' argument '1' is invalid\. expected an integer >= 2/,
    ],
    [
      ['--test-size', '1.5'],
      'SEGSERVE_ERR_OPTION',
      /option '--test-size <f>' argument '1\.5' is invalid\. expected a number in \(0, 1\)/,
    ],
    [
      ['--scoring', 'f1'],
      'SEGSERVE_ERR_OPTION',
      /argument 'f1' is invalid\. Allowed choices are accuracy, neg_mean_absolute_error, neg_log_loss/,
    ],
    [['--workers', '0'], 'SEGSERVE_ERR_OPTION', /option '--workers <n>' argument '0' is invalid/],
    [['--seed', '-3'], 'SEGSERVE_ERR_OPTION', /option '--seed <s>' argument '-3' is invalid/],
    [['--max-depth', '4'], 'SEGSERVE_ERR_OPTION', /--max-depth only apply with --no-search/],
    [
      ['--no-search', '--max-depth', '0'],
      'SEGSERVE_ERR_OPTION',
      /argument '0' is invalid\. expected an integer >= 1 or "none"/,
    ],
    [['--no-search', '--max-features', '9'], 'SEGSERVE_ERR_PARAMS', /max_features.*9/],
    [
      ['--no-search', '--max-features', 'x'],
      'SEGSERVE_ERR_OPTION',
      /expected sqrt, log2, all, an integer >= 1 or a fraction/,
    ],
    [['--target', 'nope'], 'SEGSERVE_ERR_SCHEMA', /"nope".*age, income, class, response, segment, events/],
    [
      ['--class-weight', 'heavy'],
      'SEGSERVE_ERR_OPTION',
      /Allowed choices are none, balanced, balanced_subsample/,
    ],
    [['--unknown-category', 'drop'], 'SEGSERVE_ERR_OPTION', /Allowed choices are error, missing/],
    [
      ['--space', space],
      'SEGSERVE_ERR_PARAMS',
      /space\.json: "max_depth"\[0\]: max_depth must be null \(unlimited\) or an integer >= 1, got 0/,
    ],
    [['--space', notJson], 'SEGSERVE_ERR_CONFIG_FILE', /not-json\.json: invalid JSON/],
    [['--schema', notJson], 'SEGSERVE_ERR_CONFIG_FILE', /not-json\.json: invalid JSON/],
    [['--no-search', '--space', space], 'SEGSERVE_ERR_OPTION', /--space only applies to a search/],
    [
      ['--data', '/nonexistent/c.csv'],
      'SEGSERVE_ERR_INPUT_PATH',
      /cannot read \/nonexistent\/c\.csv: no such file/,
    ],
  ])('refuses %j with one line and %s, writing nothing', async (args, error, message) => {
    const out = join(dir, 'never.json');
    const r = await runCli(['train', '--data', data, '--out', out, ...args]);
    expect(errorCode(r.stderr), r.stderr).toBe(error);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });
});
