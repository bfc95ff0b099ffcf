/**
 * Drift gauges on /metrics for the post's model (trained in-process, with its drift reference):
 * in-distribution traffic keeps every PSI < 0.1; the same customers 30 years older give age a PSI
 * > 0.25 while the others stay < 0.1; the gauges equal `segserve drift`'s offline figures
 * (driftCsv, DriftTally) for the same rows, to the last bit. Unknown categories read as missing are
 * counted (penguins); models without a reference show no drift series; a hot swap shows the new
 * model's window; the window size is an option; explanations are not added.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../../src/pipeline/drift.js';
import { DriftTally, driftCsv } from '../../src/pipeline/drift-batch.js';
import type { ForestModel } from '../../src/pipeline/model.js';
import { buildApp } from '../../src/serve/app.js';
import { ForestComponent } from '../../src/serve/component.js';
import { seldonSettings } from '../../src/serve/env.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { Runtime } from '../../src/serve/runtime.js';
import { customers, type Fitted, penguinsModel, postModel, rowMajor } from './explain-fixture.js';
import { componentApp, parseExposition, postJson, predict } from './helpers.js';

const DRIFT_FAMILIES = [
  'segserve_feature_drift_psi',
  'segserve_feature_missing_rate',
  'segserve_feature_unknown_category_rate',
  'segserve_predicted_class_share',
  'segserve_training_class_share',
  'segserve_drift_window_rows',
];

interface Gauges {
  psi: Record<string, number>;
  missing: Record<string, number>;
  unknown: Record<string, number>;
  predicted: Record<string, number>;
  training: Record<string, number>;
  rows: number | undefined;
  /** Every drift sample's label names. */
  labelNames: Set<string>;
  helps: Map<string, string>;
  types: Map<string, string>;
}

async function gauges(metrics: ServeMetrics): Promise<Gauges> {
  const { samples, helps, types } = parseExposition(await metrics.text());
  const by = (name: string, label: string) =>
    Object.fromEntries(
      samples.filter((s) => s.name === name).map((s) => [s.labels[label] as string, s.value]),
    );
  const labelNames = new Set(
    samples.filter((s) => DRIFT_FAMILIES.includes(s.name)).flatMap((s) => Object.keys(s.labels)),
  );
  return {
    psi: by('segserve_feature_drift_psi', 'feature'),
    missing: by('segserve_feature_missing_rate', 'feature'),
    unknown: by('segserve_feature_unknown_category_rate', 'feature'),
    predicted: by('segserve_predicted_class_share', 'segment'),
    training: by('segserve_training_class_share', 'segment'),
    rows: samples.find((s) => s.name === 'segserve_drift_window_rows')?.value,
    labelNames,
    helps,
    types,
  };
}

/** Asserts the gauges show exactly `report`'s figures (categorical features' unknown rates only). */
function expectReport(
  g: Gauges,
  report: DriftReport,
  categorical: readonly string[],
  classes: readonly string[],
) {
  expect(g.rows).toBe(report.rows);
  expect(g.psi).toEqual(Object.fromEntries(report.features.map((f) => [f.name, f.psi])));
  expect(g.missing).toEqual(Object.fromEntries(report.features.map((f) => [f.name, f.missingRate])));
  expect(g.unknown).toEqual(
    Object.fromEntries(
      report.features.filter((f) => categorical.includes(f.name)).map((f) => [f.name, f.unknownRate]),
    ),
  );
  expect(g.predicted).toEqual(Object.fromEntries(classes.map((c, k) => [c, report.classShares.actual[k]])));
  expect(g.training).toEqual(Object.fromEntries(classes.map((c, k) => [c, report.classShares.expected[k]])));
}

/** The offline figures of rows: DriftTally fed the encoded rows and the model's probabilities. */
function tallyOf(fitted: Fitted, x: Float64Array, n: number): DriftReport {
  const proba = new Float64Array(n * fitted.model.classes.length);
  fitted.model.predictEncodedInto(x, n, proba);
  const tally = new DriftTally(fitted.reference);
  tally.add(x, n, proba);
  return tally.report();
}

/** Sends rows as the server sees them in production: batches over Seldon and OIP, and single rows. */
async function send(app: FastifyInstance, rows: number[][]): Promise<void> {
  const third = Math.floor(rows.length / 3);
  for (let at = 0; at < third; at += 100) {
    const res = await predict(app, { data: { ndarray: rows.slice(at, Math.min(at + 100, third)) } });
    expect(res.statusCode, res.body).toBe(200);
  }
  for (let at = third; at < 2 * third; at += 50) {
    const batch = rows.slice(at, Math.min(at + 50, 2 * third));
    const res = await postJson(app, '/v2/models/segserve/infer', {
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [batch.length, 4], data: batch.flat() }],
    });
    expect(res.statusCode, res.body).toBe(200);
  }
  for (let at = 2 * third; at < rows.length; at++) {
    const res = await predict(app, { data: { ndarray: [rows[at]] } });
    expect(res.statusCode, res.body).toBe(200);
  }
}

const POST_CATEGORICAL = ['response', 'events'];
const POST_CLASSES = ['0', '1', '2'];

let post: Fitted;
let app: FastifyInstance;
const dir = mkdtempSync(join(tmpdir(), 'segserve-drift-gauges-'));

beforeAll(async () => {
  post = postModel();
  app = await componentApp(new ForestComponent(post.model, { drift: post.reference }));
});

afterAll(async () => {
  await app?.close();
});

describe('the post model: drift over the last 1,000 rows', () => {
  it('before any prediction: the window gauge only, at 0', async () => {
    const g = await gauges(app.segserve.metrics);
    expect(g.rows).toBe(0);
    expect(g.psi).toEqual({});
    expect(g.predicted).toEqual({});
  });

  it('in-distribution traffic: every PSI < 0.1, the figures of DriftTally over the same rows', async () => {
    const rows = customers(1000, 3).rows;
    await send(app, rows);
    const g = await gauges(app.segserve.metrics);
    for (const [feature, psi] of Object.entries(g.psi)) expect(psi, feature).toBeLessThan(0.1);
    expect(Object.keys(g.psi)).toEqual(['age', 'income', 'response', 'events']);
    expectReport(g, tallyOf(post, rowMajor(rows), 1000), POST_CATEGORICAL, POST_CLASSES);
    expect(g.training).toEqual({
      0: post.reference.classShares[0],
      1: post.reference.classShares[1],
      2: post.reference.classShares[2],
    });
    for (const m of Object.values(g.missing)) expect(m).toBe(0);
  });

  it('age + 30 years: age PSI > 0.25, the others < 0.1; equal to `segserve drift` on the same file', async () => {
    const older = customers(1000, 4, 30).rows;
    await send(app, older);
    const g = await gauges(app.segserve.metrics);
    expect(g.psi.age).toBeGreaterThan(0.25);
    for (const f of ['income', 'response', 'events']) expect(g.psi[f], f).toBeLessThan(0.1);
    // The window holds only the last 1,000 rows: the older customers.
    expect(g.rows).toBe(1000);
    const csv = join(dir, 'older.csv');
    writeFileSync(csv, `age,income,response,events\n${older.map((r) => r.join(',')).join('\n')}\n`);
    const offline = await driftCsv(post.model, post.reference, csv);
    expect(offline.report.rows).toBe(1000);
    expectReport(g, offline.report, POST_CATEGORICAL, POST_CLASSES);
  });

  it('explanations are not added to the window', async () => {
    const before = await gauges(app.segserve.metrics);
    const res = await postJson(app, '/api/v1.0/explain', { data: { ndarray: customers(20, 9).rows } });
    expect(res.statusCode).toBe(200);
    expect(await gauges(app.segserve.metrics)).toEqual(before);
  });

  it('every family has HELP text and its type; labels are feature and segment only', async () => {
    const g = await gauges(app.segserve.metrics);
    for (const name of DRIFT_FAMILIES) {
      expect(g.types.get(name), name).toBe('gauge');
      expect((g.helps.get(name) ?? '').length, name).toBeGreaterThan(40);
    }
    expect([...g.labelNames].sort()).toEqual(['feature', 'segment']);
  });
});

describe('unknown categories read as missing (penguins, policy "missing")', () => {
  it('counted per categorical feature, in the missing rate too, as DriftTally counts them', async () => {
    const penguins = await penguinsModel();
    const pApp = await componentApp(new ForestComponent(penguins.model, { drift: penguins.reference }));
    const records = Array.from({ length: 40 }, (_, i) => ({
      island: i % 8 === 0 ? 'Atlantis' : ['Biscoe', 'Dream', 'Torgersen'][i % 3],
      bill_length_mm: 35 + (i % 15),
      flipper_length_mm: 180 + (i % 30),
      body_mass_g: i % 10 === 0 ? null : 3000 + 50 * i,
      sex: i % 5 === 0 ? 'unknown' : i % 2 === 0 ? 'male' : 'female',
    }));
    // Two requests, and a refused one in between (its values never reach the window).
    expect((await predict(pApp, { jsonData: records.slice(0, 25) })).statusCode).toBe(200);
    expect(
      (await predict(pApp, { jsonData: [{ island: 'Atlantis', bill_length_mm: 'x' }] })).statusCode,
    ).toBe(400);
    const names = ['island', 'bill_length_mm', 'flipper_length_mm', 'body_mass_g', 'sex'];
    const rest = records.slice(25).map((r) => names.map((n) => (r as Record<string, unknown>)[n]));
    expect((await predict(pApp, { data: { names, ndarray: rest } })).statusCode).toBe(200);

    const model = penguins.model as ForestModel;
    const x = model.encodeRows(records.map((r) => names.map((n) => (r as Record<string, unknown>)[n])));
    const proba = new Float64Array(40 * 3);
    model.predictEncodedInto(x, 40, proba);
    const tally = new DriftTally(penguins.reference);
    tally.countUnknown(0, records.filter((r) => r.island === 'Atlantis').length);
    tally.countUnknown(4, records.filter((r) => r.sex === 'unknown').length);
    tally.add(x, 40, proba);
    const g = await gauges(pApp.segserve.metrics);
    expectReport(g, tally.report(), ['island', 'sex'], ['Adelie', 'Chinstrap', 'Gentoo']);
    expect(g.unknown.island).toBe(5 / 40);
    expect(g.unknown.sex).toBe(8 / 40);
    expect(g.missing.island).toBe(5 / 40);
    await pApp.close();
  }, 60_000);
});

describe('which models show drift', () => {
  it('a model without a drift reference (format version 1) shows no drift series', async () => {
    const plain = await componentApp(new ForestComponent(post.model));
    await send(plain, customers(30, 5).rows);
    const text = await plain.segserve.metrics.text();
    for (const name of DRIFT_FAMILIES) expect(text).not.toContain(name);
    await plain.close();
  });

  it('a hot swap shows the new model`s window; the old one cannot take the gauges back', async () => {
    const metrics = new ServeMetrics({ identity: seldonSettings({}).identity, processMetrics: false });
    const component = () => new ForestComponent(post.model, { drift: post.reference });
    const first = await buildApp(component(), { env: {}, metrics });
    await send(first, customers(30, 5).rows);
    expect((await gauges(metrics)).rows).toBe(30);
    const second = await buildApp(component(), { env: {}, metrics });
    expect((await gauges(metrics)).rows).toBe(0);
    // Requests still finishing on the old app change nothing shown.
    await send(first, customers(30, 6).rows);
    expect((await gauges(metrics)).rows).toBe(0);
    const rows = customers(60, 7).rows;
    await send(second, rows);
    expectReport(await gauges(metrics), tallyOf(post, rowMajor(rows), 60), POST_CATEGORICAL, POST_CLASSES);
    // A model without a reference swapped in: no drift figures (the window gauge, if any, says 0).
    const third = await buildApp(new ForestComponent(post.model), { env: {}, metrics });
    await send(third, rows);
    const g = await gauges(metrics);
    expect(g.psi).toEqual({});
    expect(g.rows ?? 0).toBe(0);
    await Promise.all([first.close(), second.close(), third.close()]);
  });
});

describe('the window size (--drift-window)', () => {
  const options = (metrics: ServeMetrics, driftWindow?: number) => ({
    settings: seldonSettings({}),
    metrics,
    maxRows: 100_000,
    modelName: 'segserve',
    driftWindow,
  });
  const newMetrics = () => new ServeMetrics({ identity: seldonSettings({}).identity, processMetrics: false });

  it('keeps the last N rows predicted through the runtime (as gRPC calls it)', async () => {
    const metrics = newMetrics();
    const runtime = await Runtime.create(
      new ForestComponent(post.model, { drift: post.reference }),
      options(metrics, 50),
    );
    const rows = customers(120, 8).rows;
    const x = rowMajor(rows);
    runtime.predictEncoded(x, 70);
    runtime.predictEncoded(x.subarray(70 * 4), 50);
    expectReport(
      await gauges(metrics),
      tallyOf(post, x.subarray(70 * 4), 50),
      POST_CATEGORICAL,
      POST_CLASSES,
    );
  });

  it('0 turns drift off; a bad value fails start-up naming the option', async () => {
    const metrics = newMetrics();
    const runtime = await Runtime.create(
      new ForestComponent(post.model, { drift: post.reference }),
      options(metrics, 0),
    );
    expect(runtime.drift).toBeUndefined();
    runtime.predictEncoded(rowMajor(customers(5, 8).rows), 5);
    expect(await metrics.text()).not.toContain('segserve_feature_drift_psi');
    for (const bad of [-1, 1.5, 2_000_000]) {
      await expect(
        Runtime.create(
          new ForestComponent(post.model, { drift: post.reference }),
          options(newMetrics(), bad),
        ),
      ).rejects.toThrow(/--drift-window must be an integer from 0/);
    }
  });

  it('a drift reference that does not fit the model fails start-up', async () => {
    const other = { ...post.reference, features: post.reference.features.slice(0, 3) };
    await expect(
      Runtime.create(new ForestComponent(post.model, { drift: other }), options(newMetrics())),
    ).rejects.toThrow(/drift reference does not fit/);
    const renamed = {
      ...post.reference,
      features: post.reference.features.map((f, j) => (j === 1 ? { ...f, name: 'salary' } : f)),
    };
    await expect(
      Runtime.create(new ForestComponent(post.model, { drift: renamed }), options(newMetrics())),
    ).rejects.toThrow(/feature 1 is numeric "salary"/);
  });
});
