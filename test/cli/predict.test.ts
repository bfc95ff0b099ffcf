import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/pipeline/artifact.js';
import { errorCode, runCli } from '../helpers/cli.js';

const MODEL = join(import.meta.dirname, '..', 'fixtures', 'model.json');
const dir = mkdtempSync(join(tmpdir(), 'segserve-predict-'));
const rows = [
  [34, 100, 1, 2],
  [70, 310.5, 0, 6],
  [20, 40.25, 0, 0],
  [55, 120, 1, 3],
];
const input = join(dir, 'in.csv');
// extra column and another column order: columns are found by name
writeFileSync(
  input,
  `events,id,age,response,income\n${rows.map((r, i) => `${r[3]},${i},${r[0]},${r[2]},${r[1]}`).join('\n')}\n`,
);

describe('segserve predict', () => {
  it('writes the feature columns, one probability column per class and the predicted segment', async () => {
    const r = await runCli(['predict', '--data', input, '--model', MODEL]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^scored 4 rows into stdout in \d+\.\d\d s\n$/);
    const [header, ...lines] = r.stdout.trim().split('\n');
    expect(header).toBe('age,income,response,events,p_0,p_1,p_2,predicted_segment');
    const model = await loadModel(MODEL);
    const proba = model.predictProba(rows);
    lines.forEach((line, i) => {
      const cells = line.split(',').map(Number);
      expect(cells.slice(0, 4)).toEqual(rows[i]);
      // the same numbers the server computes for these rows, to the last bit
      expect(cells.slice(4, 7)).toEqual(proba[i]);
      expect(cells[7]).toBe(model.predict([rows[i] ?? []])[0]);
    });
    expect(lines[0]?.endsWith(',1')).toBe(true); // the post's request is segment 1
  });

  it('writes JSON lines to a file, atomically', async () => {
    const out = join(dir, 'out.jsonl');
    const r = await runCli(['predict', '--data', input, '--model', MODEL, '--format', 'jsonl', '--out', out]);
    expect(r.code).toBe(0);
    const first = JSON.parse(readFileSync(out, 'utf8').split('\n')[0] ?? '') as {
      p_0: number;
      p_1: number;
      p_2: number;
    };
    expect(Object.keys(first)).toEqual([
      'age',
      'income',
      'response',
      'events',
      'p_0',
      'p_1',
      'p_2',
      'predicted_segment',
    ]);
    expect(first.p_0 + first.p_1 + first.p_2).toBeCloseTo(1, 12);
  });

  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'age,income,response,events\n34,100,1,2\n34,100,1,9\n30,x,1,1\n40,50,0,0\n');

  it('stops at the first bad line, naming it', async () => {
    const out = join(dir, 'never.csv');
    const r = await runCli(['predict', '--data', bad, '--model', MODEL, '--out', out]);
    expect(r.code).toBe(2);
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_CSV');
    expect(r.stderr).toBe(
      `segserve: ${bad}: line 3, column "events": "9", expected one of the known categories [0, 1, 2, 3, 4, 5, 6] [SEGSERVE_ERR_CSV]\n`,
    );
  });

  it('with --skip-bad reports bad lines on stderr and scores the rest', async () => {
    const r = await runCli(['predict', '--data', bad, '--model', MODEL, '--skip-bad']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
    expect(r.stderr).toContain(`skipped ${bad}: line 3, column "events": "9"`);
    expect(r.stderr).toContain(`skipped ${bad}: line 4, column "income": "x", expected a finite number`);
    expect(r.stderr).toContain('scored 2 rows, skipped 2 bad rows');
  });

  it('refuses a missing --data, a missing model and a bad format', async () => {
    const noData = await runCli(['predict']);
    expect(noData.code).toBe(2);
    expect(errorCode(noData.stderr)).toBe('SEGSERVE_ERR_OPTION');
    expect(noData.stderr).toBe(
      "segserve: required option '--data <path>' not specified [SEGSERVE_ERR_OPTION]\n",
    );
    const noModel = await runCli(['predict', '--data', input, '--model', join(dir, 'none.json')]);
    expect(noModel.code).toBe(1);
    expect(errorCode(noModel.stderr)).toBe('SEGSERVE_ERR_MODEL_FILE');
    expect(noModel.stderr).toContain('cannot read model');
    const badFormat = await runCli(['predict', '--data', input, '--format', 'xml']);
    expect(badFormat.code).toBe(2);
    expect(errorCode(badFormat.stderr)).toBe('SEGSERVE_ERR_OPTION');
    const noInput = await runCli(['predict', '--data', join(dir, 'none.csv'), '--model', MODEL]);
    expect(noInput.code).toBe(2);
    expect(errorCode(noInput.stderr)).toBe('SEGSERVE_ERR_INPUT_PATH');
  });
});
