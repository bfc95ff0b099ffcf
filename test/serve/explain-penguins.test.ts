/**
 * Explanations of a model with string categories and string labels (penguins, trained by `train()`
 * in-process, unknown categories read as missing): `data.names` and `jsonData` requests through
 * Seldon, BYTES inputs through the Open Inference Protocol, local accuracy with missing cells, an
 * unknown category explained exactly as a missing value, and the decoder's errors.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForestComponent } from '../../src/serve/component.js';
import { type Fitted, penguinsModel } from './explain-fixture.js';
import { componentApp, expectError, postJson } from './helpers.js';

interface Data {
  shap_values: number[][][];
  expected_value: number[];
  feature_names: string[];
  class_names: unknown[];
}

const FEATURES = ['island', 'bill_length_mm', 'flipper_length_mm', 'body_mass_g', 'sex'];
const RECORDS = [
  { island: 'Biscoe', bill_length_mm: 46.1, flipper_length_mm: 212, body_mass_g: 5200, sex: 'male' },
  { island: 'Dream', flipper_length_mm: 190, body_mass_g: 3800 },
  { island: 'Torgersen', bill_length_mm: 39.1, flipper_length_mm: 181, body_mass_g: 3750, sex: 'female' },
  { island: 'Dream', bill_length_mm: 49.5, flipper_length_mm: 200, body_mass_g: null, sex: 'male' },
];

let penguins: Fitted;
let app: FastifyInstance;

beforeAll(async () => {
  penguins = await penguinsModel();
  app = await componentApp(new ForestComponent(penguins.model, { drift: penguins.reference }));
}, 60_000);

afterAll(async () => {
  await app?.close();
});

async function explainData(body: unknown): Promise<Data> {
  const res = await postJson(app, '/api/v1.0/explain', body);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { data: Data }).data;
}

describe('penguins explained', () => {
  it('jsonData records: locally accurate against the jsonData probabilities, string class names', async () => {
    const data = await explainData({ jsonData: RECORDS });
    expect(data.feature_names).toEqual(FEATURES);
    expect(data.class_names).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    const res = await postJson(app, '/api/v1.0/predictions', { jsonData: RECORDS });
    const proba = (res.json() as { jsonData: { probabilities: number[][] } }).jsonData.probabilities;
    expect(proba).toHaveLength(4);
    proba.forEach((p, i) => {
      p.forEach((pk, k) => {
        const contributions = (data.shap_values[k] as number[][])[i] as number[];
        const sum = contributions.reduce((a, v) => a + v, data.expected_value[k] as number);
        expect(Math.abs(sum - pk)).toBeLessThanOrEqual(1e-9);
      });
    });
    // One record is one row.
    const one = await explainData({ jsonData: RECORDS[0] });
    expect(one.shap_values.map((c) => c[0])).toEqual(data.shap_values.map((c) => c[0]));
  });

  it('data.names in any order (a subset: the rest missing) gives the jsonData answer', async () => {
    const names = ['sex', 'body_mass_g', 'island', 'flipper_length_mm', 'bill_length_mm'];
    const rows = RECORDS.map((r) => names.map((n) => (r as Record<string, unknown>)[n] ?? null));
    const byNames = await explainData({ data: { names, ndarray: rows } });
    expect(byNames).toEqual(await explainData({ jsonData: RECORDS }));
    const subset = await explainData({
      data: { names: ['island', 'flipper_length_mm'], ndarray: [['Dream', 190]] },
    });
    const record = await explainData({ jsonData: { island: 'Dream', flipper_length_mm: 190 } });
    expect(subset).toEqual(record);
  });

  it('an unknown category (policy "missing") is explained as a missing value', async () => {
    const unknown = await explainData({ jsonData: { ...RECORDS[0], island: 'Atlantis' } });
    const missing = await explainData({ jsonData: { ...RECORDS[0], island: null } });
    expect(unknown).toEqual(missing);
  });

  it('over v2: BYTES inputs with nulls, shap_values equal to Seldon`s', async () => {
    const column = (name: string) => RECORDS.map((r) => (r as Record<string, unknown>)[name] ?? null);
    const res = await postJson(app, '/v2/models/segserve/infer', {
      inputs: FEATURES.map((name) => ({
        name,
        datatype: name === 'island' || name === 'sex' ? 'BYTES' : 'FP64',
        shape: [4],
        data: column(name),
      })),
      outputs: [{ name: 'species' }, { name: 'shap_values' }, { name: 'expected_value' }],
    });
    expect(res.statusCode, res.body).toBe(200);
    const outputs = (res.json() as { outputs: { name: string; shape: number[]; data: unknown[] }[] }).outputs;
    expect(outputs.map((o) => o.name)).toEqual(['species', 'shap_values', 'expected_value']);
    expect(outputs[1]?.shape).toEqual([4, 3, 5]);
    const seldon = await explainData({ jsonData: RECORDS });
    expect(outputs[1]?.data).toEqual(
      [0, 1, 2, 3].flatMap((i) => [0, 1, 2].flatMap((k) => seldon.shap_values[k]?.[i] as number[])),
    );
    expect(outputs[2]?.data).toEqual(seldon.expected_value);
  });

  it('bad values: 400 naming row and column, as predictions', async () => {
    const bodies: unknown[] = [
      { jsonData: [RECORDS[0], { ...RECORDS[1], bill_length_mm: '46.1' }] },
      { data: { ndarray: [['Biscoe', 46.1, 212, 5200]] } },
      { jsonData: [{ ...RECORDS[0], species: 'Adelie' }] },
      {
        data: {
          ndarray: [
            ['Biscoe', 46.1, 212, 5200, 'male'],
            [true, 46.1, 212, 5200, 'male'],
          ],
        },
      },
    ];
    for (const body of bodies) {
      const info = expectError(await postJson(app, '/api/v1.0/explain', body), 400, 'MICROSERVICE_BAD_DATA');
      expect(info).toBe(
        expectError(await postJson(app, '/api/v1.0/predictions', body), 400, 'MICROSERVICE_BAD_DATA'),
      );
    }
    const info = expectError(
      await postJson(app, '/api/v1.0/explain', bodies[0]),
      400,
      'MICROSERVICE_BAD_DATA',
    );
    expect(info).toMatch(/^row 1, column "bill_length_mm": got "46\.1", expected a finite number/);
  });
});
