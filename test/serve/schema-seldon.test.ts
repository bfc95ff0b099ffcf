/**
 * Seldon v1 for any model schema, through inject(): string categories and labels (a penguins-like
 * model), nulls for missing values, data.names reordering and subsets, jsonData records, the names of
 * the probability columns, and every bad value named by row, column, value and expectation (400).
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ModelSchema } from '../../src/data/schema.js';
import { ForestComponent } from '../../src/serve/component.js';
import { FakeModel, type FakeModelOptions, PENGUIN_SCHEMA, penguinModel, postModel } from './fake-model.js';
import { componentApp, expectError, predict, probabilityRows } from './helpers.js';

const FEATURES = ['island', 'bill_length_mm', 'flipper_length_mm', 'body_mass_g', 'sex'];
const R1 = ['Biscoe', 46.1, 212, 5200, 'male'];
const R2 = ['Dream', null, 190, 3800, null];
const R3 = ['Torgersen', 39.1, 181, 3750, 'female'];
const SPECIES = ['Adelie', 'Chinstrap', 'Gentoo'];

function appOf(model: FakeModel): Promise<FastifyInstance> {
  return componentApp(new ForestComponent(model));
}

/** Reorders a row given in feature order into the order of `names`. */
function reorder(row: readonly unknown[], names: readonly string[]): unknown[] {
  return names.map((n) => row[FEATURES.indexOf(n)]);
}

interface RecordsAnswer {
  jsonData: { names: string[]; probabilities: number[][]; predictions: unknown[] };
  meta: unknown;
}

describe('penguins: string categories, string labels, missing values', () => {
  const model = penguinModel();
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await appOf(model);
  });
  afterAll(() => app.close());

  test('ndarray rows mixing numbers, strings and nulls; names are the class labels', async () => {
    const res = await predict(app, { data: { ndarray: [R1, R2, R3] } });
    expect((res.json() as { data: { names: string[] } }).data.names).toEqual(SPECIES);
    const rows = probabilityRows(res);
    expect(rows).toEqual(model.predictProba([R1, R2, R3]));
    // The missing cells matter: R2 with values instead of nulls answers differently.
    expect(rows[1]).not.toEqual(model.predictProba([['Dream', 40, 190, 3800, 'male']])[0]);
    // A flat row is one row.
    expect(probabilityRows(await predict(app, { data: { ndarray: R1 } }))).toEqual([rows[0]]);
  });

  test('reordered names give the same answer (ndarray and tensor-free)', async () => {
    const names = ['sex', 'body_mass_g', 'island', 'flipper_length_mm', 'bill_length_mm'];
    const plain = probabilityRows(await predict(app, { data: { ndarray: [R1, R2, R3] } }));
    const reordered = probabilityRows(
      await predict(app, { data: { names, ndarray: [R1, R2, R3].map((r) => reorder(r, names)) } }),
    );
    expect(reordered).toEqual(plain);
  });

  test('a subset of names: the features left out are missing', async () => {
    const names = ['flipper_length_mm', 'island', 'body_mass_g'];
    const subset = probabilityRows(await predict(app, { data: { names, ndarray: [[190, 'Dream', 3800]] } }));
    expect(subset).toEqual(probabilityRows(await predict(app, { data: { ndarray: [R2] } })));
  });

  test('unknown category → 400 naming the row, the column, the value and the categories', async () => {
    const res = await predict(app, { data: { ndarray: [R1, ['Atlantis', 40, 200, 4000, 'male']] } });
    expect(expectError(res, 400, 'MICROSERVICE_BAD_DATA')).toBe(
      'row 1, column "island": got "Atlantis", expected one of the known categories ["Biscoe", "Dream", "Torgersen"] or null',
    );
    // Also under reordered names: the column is named, not its position.
    const names = ['sex', 'island', 'bill_length_mm', 'flipper_length_mm', 'body_mass_g'];
    const named = await predict(app, { data: { names, ndarray: [['female', 'Biscoe', 40, 200, 'heavy']] } });
    expect(expectError(named, 400, 'MICROSERVICE_BAD_DATA')).toMatch(
      /^row 0, column "body_mass_g": got "heavy", expected a finite number or null$/,
    );
  });

  const bad: [string, unknown, RegExp][] = [
    [
      'a number for a string category',
      { data: { ndarray: [[0, 40, 200, 4000, 'male']] } },
      /^row 0, column "island": got 0, expected one of the known categories \["Biscoe"/,
    ],
    [
      'a numeric string in a numeric column',
      { data: { ndarray: [R1, ['Biscoe', '46.1', 212, 5200, 'male']] } },
      /^row 1, column "bill_length_mm": got "46.1", expected a finite number or null$/,
    ],
    [
      'a boolean category',
      { data: { ndarray: [['Biscoe', 46.1, 212, 5200, true]] } },
      /^row 0, column "sex": got true, expected one of the known categories \["female", "male"\] or null$/,
    ],
    [
      'a short row',
      { data: { ndarray: [R1, ['Biscoe', 46.1]] } },
      /^row 1: got 2 values, expected 5 \(island, bill_length_mm, .*\), missing column "flipper_length_mm"$/,
    ],
    [
      'a short row under names',
      { data: { names: ['sex', 'island'], ndarray: [['male']] } },
      /^row 0: got 1 values, expected 2 \(sex, island\), missing column "island"$/,
    ],
    [
      'unknown names, all of them named',
      { data: { names: ['island', 'species', 'sex', 'year'], ndarray: [['Biscoe', 'x', 'male', 2007]] } },
      /^data\.names\[1\] = "species", data\.names\[3\] = "year" are not features of the model \(its features: island, bill_length_mm, flipper_length_mm, body_mass_g, sex\)$/,
    ],
    [
      'a name twice',
      { data: { names: ['island', 'sex', 'island'], ndarray: [['Biscoe', 'male', 'Dream']] } },
      /^data\.names\[2\] = "island" appears twice/,
    ],
    [
      'strings in a tensor',
      { data: { tensor: { shape: [1, 5], values: R1 } } },
      /^data\.tensor\.values\[0\]: got "Biscoe", expected a finite number \(a tensor carries numbers only/,
    ],
    [
      'a tensor with a number for a string category',
      { data: { tensor: { shape: [1, 5], values: [1, 40, 200, 4000, 1] } } },
      /^row 0, column "island": got 1, expected one of the known categories/,
    ],
    [
      'rows as objects in ndarray',
      { data: { ndarray: [{ island: 'Biscoe' }] } },
      /^data\.ndarray\[0\] is an object: send rows as arrays .* or records \{feature: value\} in jsonData$/,
    ],
    ['jsonData not a record', { jsonData: 'Biscoe' }, /^jsonData: got "Biscoe", expected a record/],
    [
      'jsonData array of non-records',
      { jsonData: [{ island: 'Biscoe' }, 3] },
      /^jsonData\[1\]: got 3, expected a record/,
    ],
    [
      'jsonData with keys that are not features',
      { jsonData: [{ island: 'Biscoe' }, { island: 'Dream', species: 'Adelie', year: 2007 }] },
      /^jsonData\[1\] has keys that are not features: "species", "year" \(the model's features: island, /,
    ],
    [
      'jsonData with an unknown category',
      { jsonData: [{ island: 'Biscoe' }, { island: 'Dream', sex: 'unknown' }] },
      /^row 1, column "sex": got "unknown", expected one of the known categories \["female", "male"\] or null$/,
    ],
    [
      'strData',
      { strData: 'Biscoe,46.1' },
      /in data\.ndarray or data\.tensor, or records \{feature: value\} in jsonData, not strData$/,
    ],
  ];
  for (const [what, body, info] of bad) {
    test(`400: ${what}`, async () => {
      expect(expectError(await predict(app, body), 400, 'MICROSERVICE_BAD_DATA')).toMatch(info);
    });
  }

  test('jsonData: one record, answered as jsonData with its probabilities and predicted label', async () => {
    const record = {
      island: 'Biscoe',
      bill_length_mm: 46.1,
      flipper_length_mm: 212,
      body_mass_g: 5200,
      sex: 'male',
    };
    const res = await predict(app, { jsonData: record, meta: { puid: 'p1' } });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as RecordsAnswer;
    expect(body).toEqual({
      jsonData: {
        names: SPECIES,
        probabilities: model.predictProba([R1]),
        predictions: model.predict([R1]),
      },
      meta: { puid: 'p1' },
    });
    expect(SPECIES).toContain(body.jsonData.predictions[0]);
  });

  test('jsonData: an array of records in any key order; absent keys and nulls are missing', async () => {
    const records = [
      { sex: 'male', body_mass_g: 5200, flipper_length_mm: 212, bill_length_mm: 46.1, island: 'Biscoe' },
      { island: 'Dream', flipper_length_mm: 190, body_mass_g: 3800, sex: null },
      { island: 'Torgersen', bill_length_mm: 39.1, flipper_length_mm: 181, body_mass_g: 3750, sex: 'female' },
    ];
    const body = (await predict(app, { jsonData: records })).json() as RecordsAnswer;
    expect(body.jsonData.probabilities).toEqual(model.predictProba([R1, R2, R3]));
    expect(body.jsonData.predictions).toEqual(model.predict([R1, R2, R3]));
    // Matches the ndarray answer exactly.
    expect(body.jsonData.probabilities).toEqual(
      probabilityRows(await predict(app, { data: { ndarray: [R1, R2, R3] } })),
    );
    const empty = (await predict(app, { jsonData: [] })).json() as RecordsAnswer;
    expect(empty.jsonData).toEqual({ names: SPECIES, probabilities: [], predictions: [] });
  });

  test('metadata: the class labels as output names, the features with their categories', async () => {
    const md = (await app.inject({ method: 'GET', url: '/metadata' })).json() as Record<string, unknown>;
    expect(md).toMatchObject({
      inputs: [{ messagetype: 'ndarray', schema: { names: FEATURES, shape: [5] } }],
      outputs: [{ messagetype: 'ndarray', schema: { names: SPECIES, shape: [3] } }],
      custom: {
        classes: 'Adelie, Chinstrap, Gentoo',
        'feature.island': 'categorical [Biscoe, Dream, Torgersen]',
        'feature.bill_length_mm': 'numeric',
      },
    });
  });
});

describe('policies of the schema', () => {
  test('unknownCategory "missing": an unknown category is read as a missing value', async () => {
    const model = penguinModel({ unknownCategory: 'missing' });
    const app = await appOf(model);
    const unknown = probabilityRows(
      await predict(app, { data: { ndarray: [['Atlantis', 46.1, 212, 5200, 'unknown']] } }),
    );
    const nulls = probabilityRows(await predict(app, { data: { ndarray: [[null, 46.1, 212, 5200, null]] } }));
    expect(unknown).toEqual(nulls);
    // Still a 400 for a value of the wrong type.
    expect(
      expectError(
        await predict(app, { data: { ndarray: [[true, 46.1, 212, 5200, 'male']] } }),
        400,
        'MICROSERVICE_BAD_DATA',
      ),
    ).toMatch(/^row 0, column "island": got true/);
    await app.close();
  });

  test('features that may not be missing: nulls, absent names and absent keys are 400s naming them', async () => {
    const app = await appOf(penguinModel({ allowMissing: false }));
    expect(
      expectError(await predict(app, { data: { ndarray: [R1, R2] } }), 400, 'MICROSERVICE_BAD_DATA'),
    ).toBe('row 1, column "bill_length_mm": got null, expected a finite number');
    expect(
      expectError(
        await predict(app, { data: { names: ['island', 'body_mass_g'], ndarray: [['Dream', 3800]] } }),
        400,
        'MICROSERVICE_BAD_DATA',
      ),
    ).toBe(
      'data.names leaves out "bill_length_mm", "flipper_length_mm", "sex", which the model needs (it takes no missing value there)',
    );
    expect(
      expectError(
        await predict(app, { jsonData: { island: 'Dream', body_mass_g: 3800 } }),
        400,
        'MICROSERVICE_BAD_DATA',
      ),
    ).toMatch(/^jsonData leaves out "bill_length_mm", "flipper_length_mm", "sex", which the model needs/);
    await app.close();
  });
});

describe("the post's model keeps its answers", () => {
  const ROW = [34.0, 100.0, 1, 2];
  let app: FastifyInstance;
  const model = postModel();
  beforeAll(async () => {
    app = await appOf(model);
  });
  afterAll(() => app.close());

  test('names t:0..t:2, the same probabilities as the fake has always given', async () => {
    const res = await predict(app, { data: { ndarray: [ROW] } });
    expect(res.json()).toEqual({
      data: { names: ['t:0', 't:1', 't:2'], ndarray: [model.predictProba([ROW])[0]] },
      meta: {},
    });
    // The earlier fake's numbers (softmax of the fixed weights), to the last digit.
    expect(probabilityRows(res)[0]).toEqual([0.3343749080248156, 0.3358740586682444, 0.32975103330694]);
  });

  test('null and absent columns are missing values; tensors stay numeric', async () => {
    const nulls = probabilityRows(await predict(app, { data: { ndarray: [[34, null, 1, null]] } }));
    const subset = probabilityRows(
      await predict(app, { data: { names: ['response', 'age'], ndarray: [[1, 34]] } }),
    );
    expect(subset).toEqual(nulls);
    const tensor = probabilityRows(
      await predict(app, {
        data: { names: ['response', 'age'], tensor: { shape: [1, 2], values: [1, 34] } },
      }),
    );
    expect(tensor).toEqual(nulls);
    const record = (await predict(app, { jsonData: { age: 34, response: 1 } })).json() as RecordsAnswer;
    expect(record.jsonData.probabilities).toEqual(nulls);
    expect(record.jsonData.names).toEqual(['t:0', 't:1', 't:2']);
    expect(record.jsonData.predictions).toEqual(model.predict([[34, null, 1, null]]));
  });

  test('a categorical code sent as its text is the same category', async () => {
    const text = probabilityRows(await predict(app, { data: { ndarray: [[34, 100, '1', '2']] } }));
    expect(text).toEqual(probabilityRows(await predict(app, { data: { ndarray: [ROW] } })));
  });

  test('a format-1 model (no missing values): null is a 400 naming row and column', async () => {
    const strict = await appOf(postModel({ allowMissing: false }));
    expect(
      expectError(
        await predict(strict, { data: { ndarray: [ROW, [34, null, 1, 2]] } }),
        400,
        'MICROSERVICE_BAD_DATA',
      ),
    ).toBe('row 1, column "income": got null, expected a finite number');
    await strict.close();
  });
});

describe('names of the probability columns', () => {
  const schemaWith = (classes: ModelSchema['classes']): ModelSchema => ({
    target: 'y',
    features: [{ name: 'x', kind: 'numeric', missing: 0 }],
    classes,
    unknownCategory: 'error',
  });
  const namesFor = async (classes: ModelSchema['classes'], options?: FakeModelOptions): Promise<string[]> => {
    const app = await appOf(new FakeModel(schemaWith(classes), options));
    const res = await predict(app, { data: { ndarray: [[1]] } });
    await app.close();
    return (res.json() as { data: { names: string[] } }).data.names;
  };

  test('t:0..t:K-1 only when the labels are exactly 0..K-1; otherwise the labels as strings', async () => {
    expect(await namesFor([0, 1])).toEqual(['t:0', 't:1']);
    expect(await namesFor([1, 2, 5])).toEqual(['1', '2', '5']);
    expect(await namesFor([0, 2])).toEqual(['0', '2']);
    expect(await namesFor(['no', 'yes'])).toEqual(['no', 'yes']);
  });

  test('PENGUIN_SCHEMA is not changed by a model built on it', () => {
    penguinModel({ allowMissing: false, unknownCategory: 'missing' });
    expect(PENGUIN_SCHEMA.unknownCategory).toBe('error');
    expect(PENGUIN_SCHEMA.features.every((f) => f.allowMissing === undefined)).toBe(true);
  });
});
