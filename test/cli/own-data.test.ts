/**
 * A team's own data through the spawned CLI: penguins (string categories and labels, NA cells) from
 * schema to train to predict, holdout files, class weights, and every bad input as one line, exit 2.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliErrorCode } from '../../src/errors.js';
import { loadArtifact } from '../../src/pipeline/artifact.js';
import { CLI_BIN, errorCode, runCli, spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

const dir = mkdtempSync(join(tmpdir(), 'segserve-own-'));
const penguins = join(dir, 'penguins.csv');
const model = join(dir, 'penguins.json');
copyFileSync(join(import.meta.dirname, '..', 'fixtures', 'penguins.csv'), penguins);

beforeAll(async () => {
  const r = await runCli(['train', '--data', penguins, '--target', 'species', '--out', model, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}, 120_000);

describe('segserve on penguins', () => {
  it('schema: island and sex categorical, the NA counts', async () => {
    const r = await runCli(['schema', '--data', penguins, '--target', 'species', '--json']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as {
      target: string;
      columns: { name: string; kind: string; missing: number; categories?: unknown[] }[];
    };
    expect(schema.target).toBe('species');
    const col = (name: string) => schema.columns.find((c) => c.name === name);
    expect(col('island')).toMatchObject({
      kind: 'categorical',
      missing: 0,
      categories: ['Biscoe', 'Dream', 'Torgersen'],
    });
    expect(col('sex')).toMatchObject({ kind: 'categorical', missing: 11 });
    expect(col('body_mass_g')).toMatchObject({ kind: 'numeric', missing: 2 });
  });

  it('train --target species: test accuracy >= 0.95, string labels in sorted order', async () => {
    const { artifact } = await loadArtifact(model);
    expect(artifact.training.testAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(artifact.schema.classes).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(artifact.training.evaluation.majorityBaseline.label).toBe('Adelie');
    expect(artifact.training.evaluation.perClass).toHaveLength(3);
    const sex = artifact.schema.features.find((f) => f.name === 'sex');
    expect(sex?.categories).toEqual(['female', 'male']);
    expect(sex?.missing).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'penguins.report.html'))).toBe(true);
  });

  it('the same seed gives the same bytes', async () => {
    const again = join(dir, 'again.json');
    const r = await runCli([
      'train',
      '--data',
      penguins,
      '--target',
      'species',
      '--out',
      again,
      '--no-report',
    ]);
    expect(r.code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(model))).toBe(true);
  });

  it('predict --keep species writes all 344 rows, one p_<label> column per class and the label', async () => {
    const out = join(dir, 'scored.csv');
    const r = await runCli([
      'predict',
      '--data',
      penguins,
      '--model',
      model,
      '--keep',
      'species',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    const [header, ...rows] = readFileSync(out, 'utf8').trim().split('\n');
    expect(header).toBe(
      'island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year,species,p_Adelie,p_Chinstrap,p_Gentoo,predicted_species',
    );
    expect(rows).toHaveLength(344);
    // The row with every measurement missing is predicted, not skipped.
    const allNa = rows.find((row) => row.startsWith('Torgersen,NA,NA,NA,NA,NA'));
    expect(allNa?.split(',').at(-1)).toMatch(/^(Adelie|Chinstrap|Gentoo)$/);
    const right = rows.filter((row) => {
      const cells = row.split(',');
      return cells[7] === cells.at(-1);
    }).length;
    expect(right / 344).toBeGreaterThan(0.95);
  });

  it('--test-data evaluates on a given holdout; --class-weight balanced is stored', async () => {
    const lines = readFileSync(penguins, 'utf8').trim().split('\n');
    const [head, ...body] = lines;
    const train = join(dir, 'train.csv');
    const test = join(dir, 'test.csv');
    writeFileSync(train, `${[head, ...body.filter((_, i) => i % 4 !== 0)].join('\n')}\n`);
    writeFileSync(test, `${[head, ...body.filter((_, i) => i % 4 === 0)].join('\n')}\n`);
    const out = join(dir, 'holdout.json');
    const r = await runCli([
      'train',
      '--data',
      train,
      '--test-data',
      test,
      '--target',
      'species',
      '--no-search',
      '--class-weight',
      'balanced',
      '--out',
      out,
      '--json',
      '--no-report',
    ]);
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout) as { testAccuracy: number; perClass: unknown[] };
    expect(summary.testAccuracy).toBeGreaterThan(0.9);
    const { artifact } = await loadArtifact(out);
    expect(artifact.training.split).toMatchObject({ testSize: null, stratified: false, testRows: 86 });
    expect(artifact.training.split.testData?.path).toBe(test);
    expect(artifact.params.class_weight).toBe('balanced');
  });
});

describe('segserve serve on the penguins model (spawned)', () => {
  const NAMES = [
    'island',
    'bill_length_mm',
    'bill_depth_mm',
    'flipper_length_mm',
    'body_mass_g',
    'sex',
    'year',
  ];
  const ROW = ['Biscoe', 47.5, 15.0, 212, 5200, null, 2009];
  let base = '';
  let stop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const child = spawnCli([
      'serve',
      '--model',
      model,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
      '--grpc-port',
      '0',
      '--drain-delay',
      '0',
    ]);
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    stop = async () => {
      child.kill('SIGTERM');
      await exited;
    };
    base = `http://127.0.0.1:${port}`;
    const until = Date.now() + 20_000;
    for (;;) {
      const ok = await fetch(`${base}/health/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > until) throw new Error('the server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  it('answers a Seldon request with strings and nulls, and the same row with reordered names the same', async () => {
    const a = await post('/api/v1.0/predictions', { data: { names: NAMES, ndarray: [ROW] } });
    expect(a.status).toBe(200);
    const data = a.body.data as { names: string[]; ndarray: number[][] };
    expect(data.names).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    const order = [4, 0, 3, 5, 6, 2, 1];
    const b = await post('/api/v1.0/predictions', {
      data: { names: order.map((i) => NAMES[i]), ndarray: [order.map((i) => ROW[i])] },
    });
    expect(b.body).toEqual(a.body);
  });

  it('refuses an unknown island with a 400 naming the column', async () => {
    const r = await post('/api/v1.0/predictions', {
      data: { names: NAMES, ndarray: [['Atlantis', ...ROW.slice(1)]] },
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('column \\"island\\"');
  });

  it('answers an OIP per-column request with BYTES inputs: a Biscoe penguin of 212 mm and 5200 g is a Gentoo', async () => {
    const r = await post('/v2/models/segserve/infer', {
      inputs: [
        { name: 'island', datatype: 'BYTES', shape: [1], data: ['Biscoe'] },
        { name: 'flipper_length_mm', datatype: 'FP64', shape: [1], data: [212] },
        { name: 'body_mass_g', datatype: 'FP64', shape: [1], data: [5200] },
      ],
    });
    expect(r.status).toBe(200);
    const outputs = r.body.outputs as { name: string; datatype: string; data: unknown[] }[];
    const label = outputs.find((o) => o.name === 'species');
    expect(label).toMatchObject({ datatype: 'BYTES', data: ['Gentoo'] });
  });

  it('stops on SIGTERM', async () => {
    await stop();
  });
});

describe('bad own data: one line, exit 2, nothing written', () => {
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const cases: [string, string, string[], CliErrorCode, RegExp][] = [
    ['no target named', 'a,b,y\n1,2,x\n3,4,y\n', [], 'SEGSERVE_ERR_SCHEMA', /--target/],
    [
      'a target that is not a column',
      'a,b,y\n1,2,x\n3,4,y\n',
      ['--target', 'z'],
      'SEGSERVE_ERR_SCHEMA',
      /"z".*a, b, y/,
    ],
    [
      'a class with one row',
      'a,b,y\n1,2,x\n3,4,y\n5,6,y\n',
      ['--target', 'y'],
      'SEGSERVE_ERR_SCHEMA',
      /class "x".*1 row/,
    ],
    [
      'a constant feature',
      'a,b,y\n1,2,x\n1,4,y\n1,6,x\n1,3,y\n',
      ['--target', 'y'],
      'SEGSERVE_ERR_SCHEMA',
      /"a".*constant/,
    ],
    [
      'an entirely missing feature',
      'a,b,y\nNA,2,x\n,4,y\nNA,6,x\nNA,3,y\n',
      ['--target', 'y'],
      'SEGSERVE_ERR_SCHEMA',
      /"a".*missing/,
    ],
    ['a duplicate column name', 'a,a,y\n1,2,x\n3,4,y\n', ['--target', 'y'], 'SEGSERVE_ERR_CSV', /duplicate/],
    ['an empty file', '', ['--target', 'y'], 'SEGSERVE_ERR_CSV', /empty/],
    [
      'a feature that is not a column',
      'a,b,y\n1,2,x\n3,4,y\n',
      ['--target', 'y', '--features', 'a,q'],
      'SEGSERVE_ERR_SCHEMA',
      /"q"/,
    ],
    ['a ragged row', 'a,b,y\n1,2,x\n3,4\n', ['--target', 'y'], 'SEGSERVE_ERR_CSV', /line 3/],
    [
      'a missing target cell',
      'a,b,y\n1,2,x\n3,4,\n5,6,y\n',
      ['--target', 'y'],
      'SEGSERVE_ERR_CSV',
      /line 3.*target/,
    ],
  ];
  it.each(cases)('%s', async (_, text, args, error, message) => {
    const data = write(`bad-${Math.random().toString(36).slice(2)}.csv`, text);
    const out = join(dir, 'never.json');
    const r = await runCli(['train', '--data', data, '--out', out, '--no-search', ...args]);
    expect(errorCode(r.stderr), r.stderr).toBe(error);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain('unexpected error');
    expect(existsSync(out)).toBe(false);
  });
});

describe('an interrupted train', () => {
  it('SIGINT mid-search removes its temporary files and leaves the previous model in place', async () => {
    const work = mkdtempSync(join(tmpdir(), 'segserve-int-'));
    const sim = await runCli(['simulate', '--rows', '20000', '--out', join(work, 'c.csv')]);
    expect(sim.code).toBe(0);
    const out = join(work, 'model.json');
    writeFileSync(out, 'previous model');
    const child = spawn(process.execPath, [CLI_BIN, 'train', '--data', join(work, 'c.csv'), '--out', out], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('interrupted');
    expect(errorCode(stderr)).toBe('SEGSERVE_ERR_INTERRUPTED');
    expect(readFileSync(out, 'utf8')).toBe('previous model');
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 60_000);

  it('SIGTERM mid-write of simulate removes the partial temporary file', async () => {
    const work = mkdtempSync(join(tmpdir(), 'segserve-int-'));
    const out = join(work, 'big.csv');
    writeFileSync(out, 'previous data');
    const child = spawn(process.execPath, [CLI_BIN, 'simulate', '--rows', '50000000', '--out', out], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait until the temporary file is being written, then interrupt.
    const until = Date.now() + 20_000;
    while (!readdirSync(work).some((f) => f.includes('.tmp-')) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(readdirSync(work).some((f) => f.includes('.tmp-'))).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(readFileSync(out, 'utf8')).toBe('previous data');
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 60_000);
});
