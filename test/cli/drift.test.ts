/**
 * `segserve drift` through the spawned CLI: a model trained on simulated customers against fresh
 * data of the same process (every PSI < 0.1, exit 0) and against the same data with age shifted by
 * +30 years (age's PSI > 0.25, the others < 0.1, exit 3 with --fail-above 0.25); the figures equal a
 * DriftWindow's over the same rows; unknown categories and unreadable numbers are counted, not
 * fatal; bad input exits 2 with one line.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadArtifact } from '../../src/pipeline/artifact.js';
import { readCsvBatches } from '../../src/pipeline/batch.js';
import { DriftWindow } from '../../src/pipeline/drift.js';
import { errorCode, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'segserve-drift-'));
const training = join(dir, 'customers.csv');
const model = join(dir, 'model.json');
const fresh = join(dir, 'fresh.csv');
const older = join(dir, 'older.csv');

interface Summary {
  rows: number;
  referenceRows: number;
  failAbove: number | null;
  features: {
    name: string;
    psi: number;
    status: string;
    missingRate: number;
    expectedMissingRate: number;
    unknownRate: number;
    unknownCells: number;
    badCells: number;
  }[];
  classShares: { classes: unknown[]; expected: number[]; actual: number[]; psi: number };
  exceeded: string[];
}

const psiOf = (s: Summary) => Object.fromEntries(s.features.map((f) => [f.name, f.psi]));

beforeAll(async () => {
  const sims = await Promise.all([
    runCli(['simulate', '--rows', '5000', '--seed', '1', '--out', training]),
    runCli(['simulate', '--rows', '3000', '--seed', '2', '--out', fresh]),
  ]);
  for (const r of sims) expect(r.code).toBe(0);
  const r = await runCli(['train', '--data', training, '--out', model, '--n-iter', '4', '--no-report']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // The same customers 30 years older: only the age column changes.
  const [head, ...lines] = readFileSync(fresh, 'utf8').trim().split('\n');
  const age = (head ?? '').split(',').indexOf('age');
  const shifted = lines.map((l) => {
    const cells = l.split(',');
    cells[age] = String(Number(cells[age]) + 30);
    return cells.join(',');
  });
  writeFileSync(older, `${[head, ...shifted].join('\n')}\n`);
}, 120_000);

describe('segserve drift', () => {
  it('fresh data of the same process: every PSI < 0.1, exit 0 with --fail-above 0.25', async () => {
    const r = await runCli(['drift', '--model', model, '--data', fresh, '--json', '--fail-above', '0.25']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.rows).toBe(3000);
    expect(s.failAbove).toBe(0.25);
    expect(s.features.map((f) => f.name)).toEqual(['age', 'income', 'response', 'events']);
    for (const f of s.features) {
      expect(f.psi, f.name).toBeLessThan(0.1);
      expect(f.status).toBe('stable');
      expect(f).toMatchObject({ missingRate: 0, expectedMissingRate: 0, unknownRate: 0, badCells: 0 });
    }
    expect(s.classShares.psi).toBeLessThan(0.1);
    expect(s.exceeded).toEqual([]);
  });

  it('age + 30 years: age shifted (PSI > 0.25), the others stable, exit 3 naming age', async () => {
    const r = await runCli(['drift', '--model', model, '--data', older, '--json', '--fail-above', '0.25']);
    expect(r.code).toBe(3);
    const s = JSON.parse(r.stdout) as Summary;
    const psi = psiOf(s);
    expect(psi.age).toBeGreaterThan(0.25);
    expect(s.features.find((f) => f.name === 'age')?.status).toBe('shifted');
    for (const name of ['income', 'response', 'events']) expect(psi[name], name).toBeLessThan(0.1);
    expect(s.exceeded).toEqual(['age']);
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_DRIFT');
    expect(r.stderr).toMatch(
      /^segserve: drift: PSI above --fail-above 0\.25: age \d+\.\d{4} \[SEGSERVE_ERR_DRIFT\]\n$/,
    );
    // without --fail-above the figures are the same and the exit is 0
    const plain = await runCli(['drift', '--model', model, '--data', older, '--json']);
    expect(plain.code).toBe(0);
    expect(psiOf(JSON.parse(plain.stdout) as Summary)).toEqual(psi);
  });

  it('prints a table for people', async () => {
    const r = await runCli(['drift', '--model', model, '--data', older]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      `drift of ${older} (3,000 rows) against the training data of ${model} (3,000 rows)`,
    );
    expect(lines.find((l) => l.trimStart().startsWith('age '))).toMatch(
      /^ {2}age +numeric +\d+\.\d{4} +shifted +0\.0% +\(0\.0%\) +–$/,
    );
    expect(lines.find((l) => l.trimStart().startsWith('events '))).toMatch(
      /^ {2}events +categorical +0\.0\d{3} +stable +0\.0% +\(0\.0%\) +0\.0%$/,
    );
    expect(lines.at(-1)).toMatch(
      /^predicted segment: 0 \d+\.\d% \(training \d+\.\d%\), 1 .*; PSI \d\.\d{4} \w+$/,
    );
  });

  it('gives the figures of a DriftWindow holding the same rows', async () => {
    const r = await runCli(['drift', '--model', model, '--data', older, '--json']);
    const s = JSON.parse(r.stdout) as Summary;
    const { model: m, artifact } = await loadArtifact(model);
    const window = new DriftWindow(4, 3, 3000);
    await readCsvBatches(m, older, {}, ({ x, n }) => {
      const proba = new Float64Array(n * 3);
      m.predictEncodedInto(x, n, proba);
      window.add(x, n, proba);
    });
    const report = window.report(artifact.training.drift as NonNullable<typeof artifact.training.drift>);
    expect(s.rows).toBe(report.rows);
    expect(
      s.features.map(({ name, psi, missingRate, expectedMissingRate, unknownRate }) => ({
        name,
        psi,
        missingRate,
        expectedMissingRate,
        unknownRate,
      })),
    ).toEqual(report.features.map(({ kind: _kind, ...f }) => f));
    expect(s.classShares).toMatchObject(report.classShares);
  });

  it('counts unknown categories and unreadable numbers as missing, and says how many', async () => {
    const odd = join(dir, 'odd.csv');
    const [head, ...lines] = readFileSync(fresh, 'utf8').trim().split('\n');
    const cols = (head ?? '').split(',');
    const events = cols.indexOf('events');
    const income = cols.indexOf('income');
    const rows = lines.slice(0, 1000).map((l, i) => {
      const cells = l.split(',');
      if (i % 10 === 0) cells[events] = '9'; // 100 unknown events
      if (i % 50 === 0) cells[income] = 'n/a?'; // 20 unreadable incomes
      if (i % 100 === 1) cells[income] = 'NA'; // 10 missing incomes
      return cells.join(',');
    });
    writeFileSync(odd, `${[head, ...rows].join('\n')}\n`);
    const r = await runCli(['drift', '--model', model, '--data', odd, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    const f = (name: string) => s.features.find((x) => x.name === name);
    expect(f('events')).toMatchObject({ unknownCells: 100, unknownRate: 0.1, missingRate: 0.1, badCells: 0 });
    expect(f('income')).toMatchObject({ badCells: 20, missingRate: 0.03, unknownRate: 0, unknownCells: 0 });
    expect(f('age')).toMatchObject({ badCells: 0, missingRate: 0 });
    // 10% missing where training had none is a shift of its own
    expect(f('events')?.psi).toBeGreaterThan(0.25);
    const text = await runCli(['drift', '--model', model, '--data', odd]);
    expect(text.stdout).toMatch(/ {2}income .* \(20 unreadable cells read as missing\)\n/);
    expect(text.stdout).toMatch(/ {2}events .* 10\.0%\n/);
  });

  describe('bad input: one line, exit 2', () => {
    const write = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const V1 = join(import.meta.dirname, '..', 'fixtures', 'model.json');
    const cases: [string, () => string[], string, RegExp][] = [
      [
        'a model without a drift reference (format v1)',
        () => ['--model', V1, '--data', fresh],
        'SEGSERVE_ERR_NO_DRIFT_REFERENCE',
        /^segserve: .*model\.json: the model has no drift reference \(format v1, .*retrain it with `segserve train`/,
      ],
      [
        'no such data file',
        () => ['--model', model, '--data', join(dir, 'none.csv')],
        'SEGSERVE_ERR_INPUT_PATH',
        /no such file/,
      ],
      [
        'a missing column',
        () => ['--model', model, '--data', write('nocol.csv', 'age,income,response\n30,100,1\n')],
        'SEGSERVE_ERR_CSV',
        /missing column "events" in the header/,
      ],
      [
        'an empty file',
        () => ['--model', model, '--data', write('empty.csv', '')],
        'SEGSERVE_ERR_CSV',
        /the file is empty/,
      ],
      [
        'a header without rows',
        () => ['--model', model, '--data', write('head.csv', 'age,income,response,events\n')],
        'SEGSERVE_ERR_CSV',
        /no data rows/,
      ],
      [
        'a ragged row',
        () => ['--model', model, '--data', write('ragged.csv', 'age,income,response,events\n30,100,1\n')],
        'SEGSERVE_ERR_CSV',
        /line 2/,
      ],
      [
        'a bad --fail-above',
        () => ['--model', model, '--data', fresh, '--fail-above', 'high'],
        'SEGSERVE_ERR_OPTION',
        /--fail-above/,
      ],
      [
        'a negative --fail-above',
        () => ['--model', model, '--data', fresh, '--fail-above', '-1'],
        'SEGSERVE_ERR_OPTION',
        /--fail-above/,
      ],
      ['no --data', () => ['--model', model], 'SEGSERVE_ERR_OPTION', /required option '--data <path>'/],
    ];
    it.each(cases)('%s', async (_name, args, code, message) => {
      const r = await runCli(['drift', ...args()]);
      expect(errorCode(r.stderr), r.stderr).toBe(code);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  });
});
