/**
 * Explanations on the wire for the post's model (trained in-process): Seldon v1 `/api/v1.0/explain`
 * and `/explain`, and the Open Inference Protocol's `shap_values` / `expected_value` outputs. Local
 * accuracy on 500 fresh simulated rows through both protocols (Σ SHAP + expected = the served
 * probability within 1e-9, every row and class), a constant column gets exactly 0, the request forms
 * and errors are those of predictions, and components that cannot be explained say so.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TreeExplainer } from '../../src/forest/treeshap.js';
import { type Component, ForestComponent } from '../../src/serve/component.js';
import { customers, type Fitted, postModel, rowMajor } from './explain-fixture.js';
import { FakeModel } from './fake-model.js';
import { componentApp, expectError, parseExposition, postJson, predict, probabilityRows } from './helpers.js';

interface SeldonExplanation {
  data: {
    shap_values: number[][][];
    expected_value: number[];
    feature_names: string[];
    class_names: unknown[];
  };
  meta: Record<string, unknown>;
}

interface OipOutput {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
  parameters?: Record<string, unknown>;
}

const explain = (app: FastifyInstance, body: unknown, url = '/api/v1.0/explain') => postJson(app, url, body);

function explanation(res: LightMyRequestResponse): SeldonExplanation {
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json() as SeldonExplanation;
}

/** The largest |Σ_f shap[k][i][f] + expected[k] - p[i][k]| over rows and classes (K × N × F values). */
function localAccuracyError(shap: number[][][], expected: number[], proba: number[][]): number {
  let worst = 0;
  proba.forEach((p, i) => {
    p.forEach((pk, k) => {
      const contributions = shap[k]?.[i] as number[];
      const sum = contributions.reduce((a, v) => a + v, expected[k] as number);
      worst = Math.max(worst, Math.abs(sum - pk));
    });
  });
  return worst;
}

let post: Fitted;
let app: FastifyInstance;
const fresh = customers(500, 2).rows;

beforeAll(async () => {
  post = postModel();
  app = await componentApp(new ForestComponent(post.model, { drift: post.reference }));
});

afterAll(async () => {
  await app?.close();
});

describe('Seldon v1 explain', () => {
  it('500 fresh rows: K × N × F values that add up to the served probabilities within 1e-9', async () => {
    const body = explanation(await explain(app, { data: { ndarray: fresh } }));
    const proba = probabilityRows(await predict(app, { data: { ndarray: fresh } }));
    const { shap_values: shap, expected_value: expected } = body.data;
    expect(shap).toHaveLength(3);
    for (const perClass of shap) {
      expect(perClass).toHaveLength(500);
      for (const row of perClass) expect(row).toHaveLength(4);
    }
    expect(body.data.feature_names).toEqual(['age', 'income', 'response', 'events']);
    expect(body.data.class_names).toEqual([0, 1, 2]);
    expect(expected).toHaveLength(3);
    expect(expected.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 12);
    expect(localAccuracyError(shap, expected, proba)).toBeLessThanOrEqual(1e-9);
    expect(body.meta).toEqual({});
    // The same figures as the explainer run directly on the encoded rows.
    const direct = new TreeExplainer(post.model.forest.trees, 3, 4).explain(rowMajor(fresh), 500);
    expect(expected).toEqual(Array.from(direct.expected));
    expect(shap[1]?.[17]).toEqual(Array.from(direct.values.subarray((17 * 3 + 1) * 4, (17 * 3 + 2) * 4)));
  });

  it('takes every request form of predictions, with the same answer', async () => {
    const rows = fresh.slice(0, 5);
    const want = explanation(await explain(app, { data: { ndarray: rows } })).data;
    const names = ['events', 'age', 'response', 'income'];
    const forms: unknown[] = [
      { data: { tensor: { shape: [5, 4], values: rows.flat() } } },
      { data: { names, ndarray: rows.map((r) => [r[3], r[0], r[2], r[1]]) } },
      { jsonData: rows.map(([age, income, response, events]) => ({ age, income, response, events })) },
    ];
    for (const form of forms) {
      expect(explanation(await explain(app, form)).data).toEqual(want);
      expect(explanation(await explain(app, form, '/explain')).data).toEqual(want);
    }
    // A flat row is one row; a form-encoded message and ?json= are read as for predictions.
    const one = explanation(await explain(app, { data: { ndarray: rows[0] } })).data;
    expect(one.shap_values.map((c) => c[0])).toEqual(want.shap_values.map((c) => c[0]));
    const form = await app.inject({
      method: 'POST',
      url: '/explain',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `json=${encodeURIComponent(JSON.stringify({ data: { ndarray: [rows[0]] } }))}`,
    });
    expect(explanation(form).data).toEqual(one);
    const query = await app.inject({
      method: 'GET',
      url: `/explain?json=${encodeURIComponent(JSON.stringify({ data: { ndarray: [rows[0]] } }))}`,
    });
    expect(explanation(query).data).toEqual(one);
  });

  it('missing values are explained as predicted: still locally accurate', async () => {
    const rows = [
      [34, null, 1, 2],
      [null, 100, null, null],
    ];
    const body = explanation(await explain(app, { data: { ndarray: rows } })).data;
    const proba = probabilityRows(await predict(app, { data: { ndarray: rows } }));
    expect(localAccuracyError(body.shap_values, body.expected_value, proba)).toBeLessThanOrEqual(1e-9);
    // A feature left out of data.names is missing too.
    const subset = explanation(
      await explain(app, { data: { names: ['income', 'age'], ndarray: [[100, null]] } }),
    ).data;
    expect(subset.shap_values.map((c) => c[0])).toEqual(body.shap_values.map((c) => c[1]));
  });

  it('echoes the request meta as predictions do', async () => {
    const body = explanation(
      await explain(app, { meta: { puid: 'abc', tags: { team: 'x' } }, data: { ndarray: [fresh[0]] } }),
    );
    expect(body.meta).toEqual({ puid: 'abc', tags: { team: 'x' } });
  });

  it('bad input: the same 400 as predictions, naming row and column', async () => {
    const bad: unknown[] = [
      { data: { ndarray: [fresh[0], [34, 'many', 1, 2]] } },
      { data: { ndarray: [[34, 100, 1, 9]] } },
      { data: { ndarray: [[34, 100, 1]] } },
      { data: { names: ['age', 'segment'], ndarray: [[34, 1]] } },
      { jsonData: [{ age: 34, income: 100, response: 1, events: 2, segment: 1 }] },
      { strData: 'hello' },
      { data: { ndarray: [[34, 100, 1, 2]] }, meta: 'x' },
    ];
    for (const body of bad) {
      const info = expectError(await explain(app, body), 400, 'MICROSERVICE_BAD_DATA');
      expect(info).toBe(expectError(await predict(app, body), 400, 'MICROSERVICE_BAD_DATA'));
    }
    const info = expectError(
      await explain(app, { data: { ndarray: [fresh[0], [34, 'many', 1, 2]] } }),
      400,
      'MICROSERVICE_BAD_DATA',
    );
    expect(info).toMatch(/^row 1, column "income": got "many", expected a finite number/);
    expectError(await explain(app, '{"data": '), 400, 'MICROSERVICE_BAD_DATA');
  });

  it('more rows than are explained per request: 413 before any work', async () => {
    const many = customers(1001, 5).rows;
    const info = expectError(
      await explain(app, { data: { ndarray: many } }),
      413,
      'MICROSERVICE_PAYLOAD_TOO_LARGE',
    );
    expect(info).toMatch(/1001 rows to explain in one request; at most 1000/);
  });

  it('explanations are not predictions: nothing counted', async () => {
    const before = parseExposition(await app.segserve.metrics.text()).samples.filter(
      (s) => s.name === 'segserve_predictions_total' || s.name === 'segserve_drift_window_rows',
    );
    await explain(app, { data: { ndarray: fresh.slice(0, 50) } });
    const after = parseExposition(await app.segserve.metrics.text()).samples.filter(
      (s) => s.name === 'segserve_predictions_total' || s.name === 'segserve_drift_window_rows',
    );
    expect(after).toEqual(before);
  });
});

describe('Open Inference Protocol explanation outputs', () => {
  const infer = (body: unknown) => postJson(app, '/v2/models/segserve/infer', body);

  function outputs(res: LightMyRequestResponse): Map<string, OipOutput> {
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { outputs: OipOutput[] };
    return new Map(body.outputs.map((o) => [o.name, o]));
  }

  it('500 fresh rows: shap_values [N, K, F] + expected_value = probabilities within 1e-9', async () => {
    const res = await infer({
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [500, 4], data: fresh.flat() }],
      outputs: [{ name: 'probabilities' }, { name: 'shap_values' }, { name: 'expected_value' }],
    });
    const out = outputs(res);
    expect([...out.keys()]).toEqual(['probabilities', 'shap_values', 'expected_value']);
    const shap = out.get('shap_values') as OipOutput;
    const expected = out.get('expected_value') as OipOutput;
    const proba = (out.get('probabilities') as OipOutput).data as number[];
    expect(shap).toMatchObject({
      datatype: 'FP64',
      shape: [500, 3, 4],
      parameters: { classes: [0, 1, 2], features: ['age', 'income', 'response', 'events'] },
    });
    expect(expected).toMatchObject({ datatype: 'FP64', shape: [3], parameters: { classes: [0, 1, 2] } });
    const values = shap.data as number[];
    const e = expected.data as number[];
    expect(values).toHaveLength(500 * 3 * 4);
    let worst = 0;
    for (let i = 0; i < 500; i++) {
      for (let k = 0; k < 3; k++) {
        let sum = e[k] as number;
        for (let f = 0; f < 4; f++) sum += values[(i * 3 + k) * 4 + f] as number;
        worst = Math.max(worst, Math.abs(sum - (proba[i * 3 + k] as number)));
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-9);
    // The same numbers as Seldon's answer, in [N, K, F] order instead of K × N × F.
    const seldon = explanation(await explain(app, { data: { ndarray: fresh } })).data;
    expect(e).toEqual(seldon.expected_value);
    for (const i of [0, 123, 499])
      for (let k = 0; k < 3; k++)
        expect(values.slice((i * 3 + k) * 4, (i * 3 + k + 1) * 4)).toEqual(seldon.shap_values[k]?.[i]);
    // ...and the same probabilities as Seldon's predictions.
    const seldonProba = probabilityRows(await predict(app, { data: { ndarray: fresh } }));
    expect(proba).toEqual(seldonProba.flat());
  });

  it('per-feature inputs, only the outputs asked for, none by default', async () => {
    const rows = fresh.slice(0, 3);
    const columns = ['age', 'income', 'response', 'events'].map((name, j) => ({
      name,
      datatype: j < 2 ? 'FP64' : 'INT64',
      shape: [3],
      data: rows.map((r) => r[j]),
    }));
    const only = outputs(await infer({ inputs: columns, outputs: [{ name: 'expected_value' }] }));
    expect([...only.keys()]).toEqual(['expected_value']);
    const plain = outputs(await infer({ inputs: columns }));
    expect([...plain.keys()]).toEqual(['probabilities', 'segment']);
    const shapOnly = outputs(await infer({ inputs: columns, outputs: [{ name: 'shap_values' }] }));
    const seldon = explanation(await explain(app, { data: { ndarray: rows } })).data;
    expect((shapOnly.get('shap_values') as OipOutput).data).toEqual(
      [0, 1, 2].flatMap((i) => [0, 1, 2].flatMap((k) => seldon.shap_values[k]?.[i] as number[])),
    );
  });

  it('the model metadata lists the explanation outputs', async () => {
    const res = await app.inject({ method: 'GET', url: '/v2/models/segserve' });
    expect(res.statusCode).toBe(200);
    const meta = res.json() as { outputs: { name: string; datatype: string; shape: number[] }[] };
    expect(meta.outputs).toEqual([
      { name: 'probabilities', datatype: 'FP64', shape: [-1, 3] },
      { name: 'segment', datatype: 'INT64', shape: [-1] },
      { name: 'shap_values', datatype: 'FP64', shape: [-1, 3, 4] },
      { name: 'expected_value', datatype: 'FP64', shape: [3] },
    ]);
  });

  it('bad input and too many rows: the same errors as inference', async () => {
    const res = await infer({
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [2, 4], data: [34, 100, 1, 2, 34, 100, 1, 9] }],
      outputs: [{ name: 'shap_values' }],
    });
    expect(res.statusCode).toBe(400);
    expect((res.json() as { error: string }).error).toMatch(
      /^input "input-0": row 1, column "events": got 9/,
    );
    const many = customers(1001, 6).rows;
    const big = await infer({
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1001, 4], data: many.flat() }],
      outputs: [{ name: 'shap_values' }],
    });
    expect(big.statusCode).toBe(413);
    // Without an explanation output the same rows are predicted.
    const ok = await infer({
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1001, 4], data: many.flat() }],
    });
    expect(ok.statusCode).toBe(200);
  });
});

describe('a constant column gets exactly 0', () => {
  it('through both protocols, for every row and class', async () => {
    const fitted = postModel({ constant: true, trees: 30 });
    const constApp = await componentApp(new ForestComponent(fitted.model));
    const rows = fresh.map((r) => [...r, 7]);
    const seldon = explanation(await explain(constApp, { data: { ndarray: rows } })).data;
    expect(seldon.feature_names).toEqual(['age', 'income', 'response', 'events', 'constant']);
    const proba = probabilityRows(await predict(constApp, { data: { ndarray: rows } }));
    expect(localAccuracyError(seldon.shap_values, seldon.expected_value, proba)).toBeLessThanOrEqual(1e-9);
    let nonZero = 0;
    for (const perClass of seldon.shap_values) {
      for (const row of perClass) {
        expect(row[4]).toBe(0);
        if (row.some((v) => v !== 0)) nonZero++;
      }
    }
    expect(nonZero).toBeGreaterThan(1000); // the other features do get contributions
    const res = await postJson(constApp, '/v2/models/segserve/infer', {
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [500, 5], data: rows.flat() }],
      outputs: [{ name: 'shap_values' }],
    });
    expect(res.statusCode).toBe(200);
    const values = (res.json() as { outputs: OipOutput[] }).outputs[0]?.data as number[];
    expect(values).toHaveLength(500 * 3 * 5);
    for (let at = 4; at < values.length; at += 5) expect(values[at]).toBe(0);
    await constApp.close();
  });
});

describe('what cannot be explained says so', () => {
  it('a component with its own predict(): 501 in the Seldon envelope; no explanation outputs over v2', async () => {
    const own: Component = { predict: () => [[0.2, 0.8]] };
    const ownApp = await componentApp(own);
    const info = expectError(
      await explain(ownApp, { data: { ndarray: [[1, 2]] } }),
      501,
      'MICROSERVICE_NOT_IMPLEMENTED',
    );
    expect(info).toMatch(/own predict\(\)/);
    const res = await postJson(ownApp, '/v2/models/segserve/infer', {
      inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 2], data: [1, 2] }],
      outputs: [{ name: 'shap_values' }],
    });
    expect(res.statusCode).toBe(400);
    expect((res.json() as { error: string }).error).toMatch(/unknown output "shap_values"/);
    await ownApp.close();
  });

  it('a model that is not a forest of ours: 501', async () => {
    const fakeApp = await componentApp(new ForestComponent(new FakeModel()));
    expectError(
      await explain(fakeApp, { data: { ndarray: [[34, 100, 1, 2]] } }),
      501,
      'MICROSERVICE_NOT_IMPLEMENTED',
    );
    const meta = (await fakeApp.inject({ method: 'GET', url: '/v2/models/segserve' })).json() as {
      outputs: { name: string }[];
    };
    expect(meta.outputs.map((o) => o.name)).toEqual(['probabilities', 'segment']);
    await fakeApp.close();
  });

  it('a component without predict() given the model is explained', async () => {
    const { prepareComponent } = await import('../../src/serve/component.js');
    const component = prepareComponent({ tags: () => ({ by: 'component' }) }, post.model, 'inline');
    const taggedApp = await componentApp(component);
    const body = explanation(await explain(taggedApp, { data: { ndarray: [fresh[0]] } }));
    expect(body.meta).toEqual({ tags: { by: 'component' } });
    expect(body.data.shap_values).toHaveLength(3);
    await taggedApp.close();
  });
});
