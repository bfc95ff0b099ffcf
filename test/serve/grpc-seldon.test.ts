/**
 * Seldon Core v1 over gRPC (`seldon.protos.Model` and `seldon.protos.Seldon`) with a real
 * @grpc/grpc-js client: Predict with `data.ndarray` (google.protobuf.ListValue), `data.tensor`,
 * `jsonData` (google.protobuf.Value) and `strData`; `meta` echo; SendFeedback; Metadata and
 * ModelMetadata; the same answers as POST /api/v1.0/predictions (names t:0.., bit-identical
 * probabilities); INVALID_ARGUMENT for bad input, UNIMPLEMENTED for GraphMetadata.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Component, ForestComponent } from '../../src/serve/component.js';
import { messageToJson, type PbSeldonMessage } from '../../src/serve/grpc/seldon.js';
import { ERROR_CODE_KEY } from '../../src/serve/grpc/status.js';
import { toList, toValue } from '../../src/serve/grpc/values.js';
import { FakeModel, PENGUIN_SCHEMA } from './fake-model.js';
import { call, callError, type Served, sameBits, serve } from './grpc-helpers.js';
import { findSample, OPERATOR_ENV, parseExposition, predict } from './helpers.js';

const ROWS = [
  [34.0, 100.0, 1, 2],
  [61.0, 25.5, 0, 0],
  [19.0, 250.0, 1, 6],
];

/** A REST answer's JSON value. */
async function rest(s: Served, body: unknown): Promise<Record<string, unknown>> {
  const res = await predict(s.app, body);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Record<string, unknown>;
}

/** A gRPC answer in the JSON form (Values as plain values), plus the raw message. */
async function grpcPredict(
  s: Served,
  message: PbSeldonMessage,
  service: 'model' | 'seldon' = 'model',
): Promise<{ json: Record<string, unknown>; raw: PbSeldonMessage }> {
  const raw = await call<PbSeldonMessage>(s.clients[service], 'Predict', message);
  return { json: messageToJson(raw), raw };
}

const flatNumbers = (rows: unknown): number[] => (rows as number[][]).flat();

describe('the post model', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(new ForestComponent(new FakeModel()), { env: OPERATOR_ENV });
  });
  afterAll(() => s.close());

  test.each(['model', 'seldon'] as const)(
    'Predict (%s service), data.ndarray: the REST answer, bit for bit',
    async (service) => {
      const restAnswer = await rest(s, { data: { ndarray: ROWS }, meta: { puid: 'p-1', tags: { a: 1 } } });
      const { json } = await grpcPredict(
        s,
        { data: { ndarray: toList(ROWS) }, meta: { puid: 'p-1', tags: { a: toValue(1) } } },
        service,
      );
      const data = json.data as { names: string[]; ndarray: number[][] };
      expect(data.names).toEqual(['t:0', 't:1', 't:2']);
      const restData = restAnswer.data as { ndarray: number[][] };
      expect(sameBits(flatNumbers(data.ndarray), flatNumbers(restData.ndarray))).toBe(true);
      expect(json.meta).toEqual(restAnswer.meta);
      expect(json.meta).toMatchObject({
        puid: 'p-1',
        tags: { a: 1 },
        requestPath: { classifier: 'segserve/model:0.1' },
      });
    },
  );

  test('Predict, data.tensor with names in another order: a tensor answer, the REST numbers', async () => {
    const names = ['events', 'age', 'income', 'response'];
    const values = ROWS.flatMap((r) => [r[3], r[0], r[1], r[2]] as number[]);
    const restAnswer = await rest(s, { data: { names, tensor: { shape: [3, 4], values } } });
    const { raw } = await grpcPredict(s, { data: { names, tensor: { shape: [3, 4], values } } });
    expect(raw.data?.tensor?.shape).toEqual([3, 3]);
    const restTensor = (restAnswer.data as { tensor: { values: number[] } }).tensor;
    expect(sameBits(raw.data?.tensor?.values ?? [], restTensor.values)).toBe(true);
    expect(raw.data?.names).toEqual(['t:0', 't:1', 't:2']);
  });

  test('Predict, jsonData records: {names, probabilities, predictions} as REST', async () => {
    const records = [
      { age: 34, income: 100, response: 1, events: 2 },
      { age: 61, income: 25.5, response: 0, events: 0 },
    ];
    const restAnswer = await rest(s, { jsonData: records });
    const { json } = await grpcPredict(s, { jsonData: toValue(records) });
    const got = json.jsonData as { names: string[]; probabilities: number[][]; predictions: number[] };
    const want = restAnswer.jsonData as typeof got;
    expect(got.names).toEqual(want.names);
    expect(got.predictions).toEqual(want.predictions);
    expect(sameBits(got.probabilities.flat(), want.probabilities.flat())).toBe(true);
  });

  test('bad input: INVALID_ARGUMENT with the REST message (row and column)', async () => {
    const bad = [
      [34.0, 100.0, 1, 2],
      [61.0, 25.5, 0, 9],
    ];
    const restRes = await predict(s.app, { data: { ndarray: bad } });
    expect(restRes.statusCode).toBe(400);
    const info = (restRes.json() as { status: { info: string } }).status.info;
    expect(info).toMatch(/row 1, column "events": got 9/);
    const err = await callError(s.clients.model, 'Predict', { data: { ndarray: toList(bad) } });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(info);
    expect(err.metadata.get(ERROR_CODE_KEY)).toEqual(['BAD_DATA']);
  });

  test.each([
    ['strData for the forest', { strData: 'hello' }, /not strData/],
    ['no payload', {}, /Invalid request data type/],
    ['a ragged row', { data: { ndarray: toList([[1, 2, 0]]) } }, /row 0: got 3 values, expected 4/],
    [
      'a tensor of the wrong shape',
      { data: { tensor: { shape: [2, 4], values: [1, 2, 3, 4] } } },
      /cannot reshape/,
    ],
  ])('%s → INVALID_ARGUMENT', async (_what, message, expected) => {
    const err = await callError(s.clients.seldon, 'Predict', message);
    expect(err.code, err.details).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(expected);
  });

  test('SendFeedback: counted as the wrapper counts it; {data: {ndarray: []}} without sendFeedback', async () => {
    const res = await call<PbSeldonMessage>(s.clients.model, 'SendFeedback', {
      request: { data: { ndarray: toList([ROWS[0]]) } },
      response: { data: { ndarray: toList([[0.2, 0.3, 0.5]]) } },
      reward: 1.5,
    });
    expect(messageToJson(res)).toEqual({
      data: { ndarray: [] },
      meta: { requestPath: { classifier: 'segserve/model:0.1' } },
    });
    await call(s.clients.seldon, 'SendFeedback', { request: {}, reward: 0.5 });
    const metrics = parseExposition(await s.app.segserve.metrics.text());
    expect(findSample(metrics.samples, 'seldon_api_model_feedback_total')?.value).toBe(2);
    expect(findSample(metrics.samples, 'seldon_api_model_feedback_reward_total')?.value).toBe(2);
  });

  test('Metadata (Model) and ModelMetadata (Seldon) carry GET /metadata; GraphMetadata is UNIMPLEMENTED', async () => {
    const restMeta = (await s.app.inject({ method: 'GET', url: '/metadata' })).json() as {
      name: string;
      versions: string[];
      platform: string;
      inputs: { messagetype: string; schema: unknown }[];
      custom: Record<string, string>;
    };
    for (const [client, method] of [
      [s.clients.model, 'Metadata'],
      [s.clients.seldon, 'ModelMetadata'],
    ] as const) {
      const m = await call<{
        name: string;
        versions: string[];
        platform: string;
        inputs: { messagetype: string; schema: Parameters<typeof messageToJson>[0]['jsonData'] }[];
        custom: Record<string, string>;
      }>(client, method, {});
      expect(m.name).toBe(restMeta.name);
      expect(m.versions).toEqual(restMeta.versions);
      expect(m.platform).toBe(restMeta.platform);
      expect(m.custom).toEqual(restMeta.custom);
      expect(m.inputs[0]?.messagetype).toBe('ndarray');
      expect(messageToJson({ jsonData: m.inputs[0]?.schema, data_oneof: 'jsonData' }).jsonData).toEqual(
        restMeta.inputs[0]?.schema,
      );
    }
    const err = await callError(s.clients.seldon, 'GraphMetadata', {});
    expect(err.code).toBe(status.UNIMPLEMENTED);
  });
});

describe('a penguins-like model: string categories, null for missing', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(new ForestComponent(new FakeModel(PENGUIN_SCHEMA)));
  });
  afterAll(() => s.close());

  test('Predict, ndarray with strings and nulls: class labels as names, the REST numbers', async () => {
    const rows = [
      ['Biscoe', 45.1, 215, 5000, 'male'],
      ['Torgersen', null, 181, null, 'female'],
    ];
    const restAnswer = await rest(s, { data: { ndarray: rows } });
    const { json } = await grpcPredict(s, { data: { ndarray: toList(rows) } });
    const data = json.data as { names: string[]; ndarray: number[][] };
    expect(data.names).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(
      sameBits(flatNumbers(data.ndarray), flatNumbers((restAnswer.data as { ndarray: unknown }).ndarray)),
    ).toBe(true);
    expect(json.meta).toEqual({});
  });
});

describe('a component with its own predict, tags, metrics and sendFeedback', () => {
  let s: Served;
  const seen: unknown[] = [];
  const component: Component = {
    predict: (X) => (typeof X === 'string' ? `echo ${X}` : [[1, 2]]),
    tags: () => ({ team: 'seg' }),
    metrics: () => [{ type: 'COUNTER', key: 'calls', value: 1 }],
    sendFeedback: (features, names, reward, truth) => {
      seen.push({ features, names, reward, truth });
      return [[reward]];
    },
  };
  beforeAll(async () => {
    s = await serve(component);
  });
  afterAll(() => s.close());

  test('strData in, strData out, with tags and metrics in meta, as REST', async () => {
    const restAnswer = await rest(s, { strData: 'hi' });
    const { json } = await grpcPredict(s, { strData: 'hi' });
    expect(json).toEqual(restAnswer);
    expect(json.strData).toBe('echo hi');
  });

  test('a numeric answer to jsonData is a tensor (the wrapper rule), names t:0..', async () => {
    const restAnswer = await rest(s, { jsonData: { any: 'thing' } });
    const { json, raw } = await grpcPredict(s, { jsonData: toValue({ any: 'thing' }) });
    expect(raw.data?.tensor).toEqual({ shape: [1, 2], values: [1, 2] });
    expect(json).toEqual(restAnswer);
  });

  test('SendFeedback reaches sendFeedback (features, names, reward, truth) and answers its array', async () => {
    const res = await call<PbSeldonMessage>(s.clients.seldon, 'SendFeedback', {
      request: { data: { names: ['a', 'b'], ndarray: toList([[1, 'x']]) } },
      truth: { data: { ndarray: toList([[2]]) } },
      reward: 0.25,
    });
    expect(seen.at(-1)).toEqual({ features: [[1, 'x']], names: ['a', 'b'], reward: 0.25, truth: [[2]] });
    expect(messageToJson(res).data).toEqual({ names: ['t:0'], ndarray: [[0.25]] });
  });
});
