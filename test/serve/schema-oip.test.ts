/**
 * The Open Inference Protocol v2 for any model schema, through inject(): metadata with one input per
 * feature (FP64, INT64, BYTES) and the [N, F] input only when every feature is a number; per-column
 * requests with BYTES strings and nulls; the predicted label output (BYTES or INT64) and the class order
 * in the probabilities' parameters; the same answers as Seldon v1 (one shared row decoder); errors
 * naming input, row, column, value and expectation.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ForestComponent } from '../../src/serve/component.js';
import { type FakeModel, penguinModel, postModel } from './fake-model.js';
import { componentApp, postJson, predict, probabilityRows } from './helpers.js';

const INFER = '/v2/models/segserve/infer';
const FEATURES = ['island', 'bill_length_mm', 'flipper_length_mm', 'body_mass_g', 'sex'];
const DATATYPES = ['BYTES', 'FP64', 'FP64', 'FP64', 'BYTES'];
const ROWS: unknown[][] = [
  ['Biscoe', 46.1, 212, 5200, 'male'],
  ['Dream', null, 190, 3800, null],
  ['Torgersen', 39.1, 181, 3750, 'female'],
];

interface Output {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, unknown>;
  data: unknown[];
}

function outputs(res: LightMyRequestResponse): Output[] {
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { outputs: Output[] }).outputs;
}

function oipError(res: LightMyRequestResponse): string {
  expect(res.statusCode, res.body).toBe(400);
  const body = res.json() as { error: string; code: string };
  expect(Object.keys(body)).toEqual(['error', 'code']);
  expect(body.code).toBe('SEGSERVE_ERR_BAD_DATA');
  expect(res.headers['x-segserve-error-code']).toBe('SEGSERVE_ERR_BAD_DATA');
  return body.error;
}

/** One input per feature, in `order` (feature names), from rows in feature order. */
function columns(rows: unknown[][], order = FEATURES, shape1 = false) {
  return order.map((name) => {
    const j = FEATURES.indexOf(name);
    return {
      name,
      datatype: DATATYPES[j],
      shape: shape1 ? [rows.length, 1] : [rows.length],
      data: shape1 ? rows.map((r) => [r[j]]) : rows.map((r) => r[j]),
    };
  });
}

function appOf(model: FakeModel): Promise<FastifyInstance> {
  return componentApp(new ForestComponent(model));
}

describe('penguins over v2', () => {
  const model = penguinModel();
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await appOf(model);
  });
  afterAll(() => app.close());

  test('metadata: BYTES for string categories, FP64 for numbers, no [N, F] input; the label output', async () => {
    const md = (await app.inject({ method: 'GET', url: '/v2/models/segserve' })).json() as Record<
      string,
      unknown
    >;
    expect(md.inputs).toEqual(FEATURES.map((name, j) => ({ name, datatype: DATATYPES[j], shape: [-1] })));
    expect(md.outputs).toEqual([
      { name: 'probabilities', datatype: 'FP64', shape: [-1, 3] },
      { name: 'species', datatype: 'BYTES', shape: [-1] },
    ]);
  });

  test('per-column BYTES request with nulls: probabilities as Seldon answers, the labels as BYTES', async () => {
    const outs = outputs(await postJson(app, INFER, { inputs: columns(ROWS) }));
    expect(outs.map((o) => o.name)).toEqual(['probabilities', 'species']);
    const [probabilities, species] = outs as [Output, Output];
    expect(probabilities).toMatchObject({
      datatype: 'FP64',
      shape: [3, 3],
      parameters: { classes: ['Adelie', 'Chinstrap', 'Gentoo'] },
    });
    expect(probabilities.data).toEqual(model.predictProba(ROWS).flat());
    const v1 = probabilityRows(await predict(app, { data: { ndarray: ROWS } }));
    expect(probabilities.data).toEqual(v1.flat());
    expect(species).toEqual({ name: 'species', datatype: 'BYTES', shape: [3], data: model.predict(ROWS) });
    for (const label of species.data) expect(typeof label).toBe('string');
  });

  test('inputs in any order, [N] or [N, 1], and a subset (the features left out are missing)', async () => {
    const plain = outputs(await postJson(app, INFER, { inputs: columns(ROWS) }))[0]?.data;
    const reversed = [...FEATURES].reverse();
    expect(outputs(await postJson(app, INFER, { inputs: columns(ROWS, reversed, true) }))[0]?.data).toEqual(
      plain,
    );
    const subset = outputs(
      await postJson(app, INFER, {
        inputs: columns(ROWS, ['island', 'flipper_length_mm', 'body_mass_g']),
        outputs: [{ name: 'probabilities' }],
      }),
    );
    const nulls = ROWS.map((r) => [r[0], null, r[2], r[3], null]);
    expect(subset[0]?.data).toEqual(model.predictProba(nulls).flat());
  });

  test('the label output alone', async () => {
    const outs = outputs(
      await postJson(app, INFER, { inputs: columns(ROWS), outputs: [{ name: 'species' }] }),
    );
    expect(outs.map((o) => o.name)).toEqual(['species']);
    const unknown = await postJson(app, INFER, { inputs: columns(ROWS), outputs: [{ name: 'segment' }] });
    expect(oipError(unknown)).toMatch(
      /unknown output "segment": this model's outputs are probabilities, species/,
    );
  });

  test('errors name the input, row, column, value and what was expected', async () => {
    const cols = columns(ROWS);
    const withData = (j: number, data: unknown[], datatype?: string) =>
      cols.map((c, k) => (k === j ? { ...c, data, ...(datatype ? { datatype } : {}) } : c));
    const bad = async (inputs: unknown[]) => oipError(await postJson(app, INFER, { inputs }));
    expect(await bad(withData(0, ['Biscoe', 'Atlantis', 'Dream']))).toBe(
      'input "island": row 1, column "island": got "Atlantis", expected one of the known categories ["Biscoe", "Dream", "Torgersen"] or null',
    );
    expect(await bad(withData(0, [0, 1, 2], 'INT64'))).toMatch(
      /^input "island": row 0, column "island": got 0, expected one of the known categories/,
    );
    expect(await bad(withData(0, ['Biscoe', 7, 'Dream']))).toBe(
      'input "island": row 1, column "island": got 7, expected a string (BYTES) or null',
    );
    expect(await bad(withData(1, ['46.1', null, '39.1'], 'BYTES'))).toBe(
      'input "bill_length_mm": row 0, column "bill_length_mm": got "46.1", expected a finite number or null',
    );
    expect(await bad(withData(2, [212, 'long', 181]))).toBe(
      'input "flipper_length_mm": row 1, column "flipper_length_mm": got "long", expected a finite number (FP64) or null',
    );
    expect(await bad([...cols.slice(0, 4), { ...cols[4], name: 'species' }])).toMatch(
      /^input "species" is not a feature of the model \(its features: island, bill_length_mm, /,
    );
    expect(
      await bad([{ name: 'input-0', datatype: 'FP64', shape: [1, 5], data: [0, 46.1, 212, 5200, 1] }]),
    ).toMatch(
      /^input "input-0": one input of shape \[N, 5\] takes numbers only, but island, sex take strings: send inputs named island, /,
    );
  });

  test('a model whose features may not be missing: nulls and left-out inputs are 400s', async () => {
    const strict = await appOf(penguinModel({ allowMissing: false }));
    expect(oipError(await postJson(strict, INFER, { inputs: columns(ROWS) }))).toBe(
      'input "bill_length_mm": row 1, column "bill_length_mm": got null, expected a finite number',
    );
    expect(
      oipError(await postJson(strict, INFER, { inputs: columns(ROWS.slice(0, 1), ['island', 'sex']) })),
    ).toBe(
      'the inputs leave out "bill_length_mm", "flipper_length_mm", "body_mass_g", which the model needs (it takes no missing value there)',
    );
    await strict.close();
  });
});

describe("the post's model over v2", () => {
  const model = postModel();
  const ROW = [34, 100, 1, 2];
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await appOf(model);
  });
  afterAll(() => app.close());

  test('the label output keeps its name "segment" (the target), INT64; the classes in parameters', async () => {
    const outs = outputs(
      await postJson(app, INFER, {
        inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], data: ROW }],
      }),
    );
    expect(outs).toEqual([
      {
        name: 'probabilities',
        datatype: 'FP64',
        shape: [1, 3],
        parameters: { classes: [0, 1, 2] },
        data: model.predictProba([ROW])[0],
      },
      { name: 'segment', datatype: 'INT64', shape: [1], data: model.predict([ROW]) },
    ]);
  });

  test('null in a column and in the [N, 4] input, and left-out inputs, are missing values', async () => {
    const expected = model.predictProba([[34, null, 1, null]]).flat();
    const matrix = outputs(
      await postJson(app, INFER, {
        inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 4], data: [[34, null, 1, null]] }],
      }),
    )[0];
    expect(matrix?.data).toEqual(expected);
    const cols = outputs(
      await postJson(app, INFER, {
        inputs: [
          { name: 'events', datatype: 'INT64', shape: [1], data: [null] },
          { name: 'response', datatype: 'INT32', shape: [1], data: [1] },
          { name: 'age', datatype: 'FP32', shape: [1], data: [34] },
        ],
      }),
    )[0];
    expect(cols?.data).toEqual(expected);
    // The same as Seldon v1's answer.
    expect(probabilityRows(await predict(app, { data: { ndarray: [[34, null, 1, null]] } })).flat()).toEqual(
      expected,
    );
  });

  test('BYTES for integer categories is read by their text; BYTES in the [N, 4] input is refused', async () => {
    const text = outputs(
      await postJson(app, INFER, {
        inputs: [
          { name: 'age', datatype: 'FP64', shape: [1], data: [34] },
          { name: 'income', datatype: 'FP64', shape: [1], data: [100] },
          { name: 'response', datatype: 'BYTES', shape: [1], data: ['1'] },
          { name: 'events', datatype: 'BYTES', shape: [1], data: ['2'] },
        ],
      }),
    )[0];
    expect(text?.data).toEqual(model.predictProba([ROW])[0]);
    expect(
      oipError(
        await postJson(app, INFER, {
          inputs: [{ name: 'x', datatype: 'BYTES', shape: [1, 4], data: ['34', '100', '1', '2'] }],
        }),
      ),
    ).toMatch(/^input "x": datatype BYTES is not supported for the input of shape \[N, 4\]/);
  });
});
