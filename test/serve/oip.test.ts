/**
 * The Open Inference Protocol v2 through inject(), beside Seldon v1 on the same app: server metadata,
 * health, model metadata and readiness, inference in both input forms and four datatypes, output
 * selection, id echo, every 400/404/405/413/503 in the `{"error"}` envelope, shared request metrics, and
 * a component with its own predict().
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ErrorCode, errorEntry } from '../../src/errors.js';
import { ModelInputError } from '../../src/pipeline/types.js';
import { prepareComponent } from '../../src/serve/component.js';
import { OIP_LIVE_PATH, OIP_READY_PATH, OIP_SERVER_PATH } from '../../src/serve/constants.js';
import { VERSION } from '../../src/version.js';
import { FakeModel } from './fake-model.js';
import {
  componentApp,
  expectError,
  expectErrorCode,
  findSample,
  forestApp,
  parseExposition,
  postJson,
  predict,
  probabilityRows,
} from './helpers.js';

const INFER = '/v2/models/segserve/infer';
const ROWS = [
  [34.0, 100.0, 1, 2],
  [61.0, 25.5, 0, 0],
  [19.0, 250.0, 1, 6],
];
const NAMES = ['age', 'income', 'response', 'events'];

interface Output {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}
interface InferAnswer {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: Output[];
}

/** A 2xx OIP answer's body. */
function answer(res: LightMyRequestResponse): InferAnswer {
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json() as InferAnswer;
}

function output(res: LightMyRequestResponse, name: string): Output {
  const found = answer(res).outputs.find((o) => o.name === name);
  expect(found, `output ${name} in ${res.body}`).toBeDefined();
  return found as Output;
}

/** Asserts the OIP error envelope with this status; returns the message. */
function expectOipError(res: LightMyRequestResponse, status: number): string {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error: unknown; code: unknown };
  expect(Object.keys(body)).toEqual(['error', 'code']);
  expect(typeof body.error).toBe('string');
  expect((body.error as string).length).toBeGreaterThan(0);
  // The catalogue's code, of this status, in the body and in the header.
  expect(expectErrorCode(res)).toBe(body.code);
  expect(errorEntry(body.code as ErrorCode).status).toBe(status);
  return body.error as string;
}

const matrixInput = (rows: number[][], datatype = 'FP64', nested = false) => ({
  name: 'input-0',
  shape: [rows.length, 4],
  datatype,
  data: nested ? rows : rows.flat(),
});

const columnInputs = (rows: number[][], datatypes = ['FP64', 'FP64', 'INT64', 'INT64'], shape1 = false) =>
  NAMES.map((name, j) => ({
    name,
    shape: shape1 ? [rows.length, 1] : [rows.length],
    datatype: datatypes[j],
    data: shape1 ? rows.map((r) => [r[j]]) : rows.map((r) => r[j]),
  }));

let app: FastifyInstance;
beforeAll(async () => {
  app = await forestApp();
});
afterAll(() => app.close());

describe('server routes', () => {
  test('GET /v2: name, version, extensions', async () => {
    const res = await app.inject({ method: 'GET', url: OIP_SERVER_PATH });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ name: 'segserve', version: VERSION, extensions: [] });
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  test('live and ready answer 200; model ready names the model', async () => {
    const live = await app.inject({ method: 'GET', url: OIP_LIVE_PATH });
    expect(live.statusCode).toBe(200);
    expect(live.json()).toEqual({ live: true });
    const ready = await app.inject({ method: 'GET', url: OIP_READY_PATH });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true });
    const model = await app.inject({ method: 'GET', url: '/v2/models/segserve/ready' });
    expect(model.statusCode).toBe(200);
    expect(model.json()).toEqual({ name: 'segserve', ready: true });
  });

  test('while draining: ready and model ready are 503, live stays 200, connections close', async () => {
    const draining = await forestApp();
    draining.segserve.drain();
    for (const url of [OIP_READY_PATH, '/v2/models/segserve/ready']) {
      const res = await draining.inject({ method: 'GET', url });
      expect(expectOipError(res, 503)).toMatch(/shutting down/);
      expect(res.headers.connection).toBe('close');
    }
    expect((await draining.inject({ method: 'GET', url: OIP_LIVE_PATH })).statusCode).toBe(200);
    await draining.close();
  });

  test('a component whose healthStatus() throws is not ready (503 naming why)', async () => {
    const sick = await componentApp({
      predict: () => [[1]],
      healthStatus: () => {
        throw new Error('database down');
      },
    });
    expect(expectOipError(await sick.inject({ method: 'GET', url: OIP_READY_PATH }), 503)).toMatch(
      /database down/,
    );
    expect((await sick.inject({ method: 'GET', url: OIP_LIVE_PATH })).statusCode).toBe(200);
    await sick.close();
  });
});

describe('model metadata', () => {
  test('name, versions, platform, inputs and outputs with -1 for the batch', async () => {
    const res = await app.inject({ method: 'GET', url: '/v2/models/segserve' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      name: 'segserve',
      versions: [],
      platform: 'segserve',
      inputs: [
        { name: 'age', datatype: 'FP64', shape: [-1] },
        { name: 'income', datatype: 'FP64', shape: [-1] },
        { name: 'response', datatype: 'INT64', shape: [-1] },
        { name: 'events', datatype: 'INT64', shape: [-1] },
        { name: 'input-0', datatype: 'FP64', shape: [-1, 4] },
      ],
      outputs: [
        { name: 'probabilities', datatype: 'FP64', shape: [-1, 3] },
        { name: 'segment', datatype: 'INT64', shape: [-1] },
      ],
    });
  });

  test('--model-name renames the model; the image tag is its version, with version routes', async () => {
    const named = await forestApp({
      modelName: 'customers',
      env: { PREDICTIVE_UNIT_IMAGE: 'seg/model:0.3' },
    });
    const meta = (await named.inject({ method: 'GET', url: '/v2/models/customers' })).json() as {
      name: string;
      versions: string[];
    };
    expect(meta).toMatchObject({ name: 'customers', versions: ['0.3'] });
    expectOipError(await named.inject({ method: 'GET', url: '/v2/models/segserve' }), 404);
    const body = { inputs: [matrixInput(ROWS.slice(0, 1))] };
    const plain = answer(await postJson(named, '/v2/models/customers/infer', body));
    expect(plain).toMatchObject({ model_name: 'customers', model_version: '0.3' });
    const versioned = await postJson(named, '/v2/models/customers/versions/0.3/infer', body);
    expect(answer(versioned).outputs).toEqual(plain.outputs);
    expect((await named.inject({ method: 'GET', url: '/v2/models/customers/versions/0.3' })).statusCode).toBe(
      200,
    );
    expect(
      (await named.inject({ method: 'GET', url: '/v2/models/customers/versions/0.3/ready' })).statusCode,
    ).toBe(200);
    expect(
      expectOipError(await postJson(named, '/v2/models/customers/versions/0.4/infer', body), 404),
    ).toMatch(/no version "0.4"/);
    await named.close();
  });

  test('an unknown model is a 404 on every model route', async () => {
    for (const [method, url] of [
      ['GET', '/v2/models/other'],
      ['GET', '/v2/models/other/ready'],
      ['POST', '/v2/models/other/infer'],
    ] as const) {
      const res = await app.inject({
        method,
        url,
        headers: { 'content-type': 'application/json' },
        payload: method === 'POST' ? JSON.stringify({ inputs: [matrixInput(ROWS)] }) : undefined,
      });
      expect(expectOipError(res, 404)).toMatch(/unknown model "other".*"segserve"/);
    }
  });
});

describe('inference', () => {
  test('[N, 4] (flat or nested) and the named columns ([N] or [N, 1]) give identical probabilities, as v1', async () => {
    const flat = output(await postJson(app, INFER, { inputs: [matrixInput(ROWS)] }), 'probabilities');
    expect(flat).toMatchObject({ datatype: 'FP64', shape: [3, 3] });
    expect(flat.data).toHaveLength(9);
    const nested = output(
      await postJson(app, INFER, { inputs: [matrixInput(ROWS, 'FP64', true)] }),
      'probabilities',
    );
    const columns = output(await postJson(app, INFER, { inputs: columnInputs(ROWS) }), 'probabilities');
    const columns1 = output(
      await postJson(app, INFER, { inputs: columnInputs(ROWS, undefined, true) }),
      'probabilities',
    );
    // Named columns in any order.
    const shuffled = output(
      await postJson(app, INFER, { inputs: [...columnInputs(ROWS)].reverse() }),
      'probabilities',
    );
    for (const other of [nested, columns, columns1, shuffled]) expect(other.data).toEqual(flat.data);
    // The same model as Seldon v1.
    const v1 = probabilityRows(await predict(app, { data: { ndarray: ROWS } }));
    expect(flat.data).toEqual(v1.flat());
    const expected = new FakeModel().predictProba(ROWS).flat();
    expect(flat.data).toEqual(expected);
  });

  test('segment is the most probable class label, INT64 [N]', async () => {
    const res = await postJson(app, INFER, { inputs: [matrixInput(ROWS)] });
    const segment = output(res, 'segment');
    expect(segment).toMatchObject({ datatype: 'INT64', shape: [3] });
    const probabilities = new FakeModel().predictProba(ROWS);
    expect(segment.data).toEqual(probabilities.map((p) => p.indexOf(Math.max(...p))));
    expect(answer(res).outputs.map((o) => o.name)).toEqual(['probabilities', 'segment']);
    expect(answer(res).model_name).toBe('segserve');
  });

  test('a request outputs list selects and orders the outputs', async () => {
    const only = answer(
      await postJson(app, INFER, { inputs: [matrixInput(ROWS)], outputs: [{ name: 'segment' }] }),
    );
    expect(only.outputs.map((o) => o.name)).toEqual(['segment']);
    const both = answer(
      await postJson(app, INFER, {
        inputs: [matrixInput(ROWS)],
        outputs: [{ name: 'segment' }, { name: 'probabilities', parameters: { binary_data: false } }],
      }),
    );
    expect(both.outputs.map((o) => o.name)).toEqual(['segment', 'probabilities']);
    const all = answer(await postJson(app, INFER, { inputs: [matrixInput(ROWS)], outputs: [] }));
    expect(all.outputs.map((o) => o.name)).toEqual(['probabilities', 'segment']);
    const unknown = await postJson(app, INFER, { inputs: [matrixInput(ROWS)], outputs: [{ name: 'proba' }] });
    expect(expectOipError(unknown, 400)).toMatch(/unknown output "proba".*probabilities, segment/);
  });

  test('the request id is echoed, parameters are accepted', async () => {
    const res = answer(
      await postJson(app, INFER, {
        id: 'req-42',
        parameters: { content_type: 'np', custom: 1 },
        inputs: [{ ...matrixInput(ROWS), parameters: { content_type: 'np' } }],
      }),
    );
    expect(res.id).toBe('req-42');
    expect(Object.keys(res)).toEqual(['model_name', 'id', 'outputs']);
    // Without an id: the request id (the client's X-Request-Id or Seldon-Puid, else a generated one).
    const tagged = await app.inject({
      method: 'POST',
      url: INFER,
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-7' },
      payload: { inputs: [matrixInput(ROWS)] },
    });
    expect(answer(tagged).id).toBe('trace-7');
    const puid = await app.inject({
      method: 'POST',
      url: INFER,
      headers: { 'content-type': 'application/json', 'seldon-puid': 'puid-9' },
      payload: { inputs: [matrixInput(ROWS)] },
    });
    expect(answer(puid).id).toBe('puid-9');
    const own = await app.inject({
      method: 'POST',
      url: INFER,
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-8' },
      payload: { id: 'mine', inputs: [matrixInput(ROWS)] },
    });
    expect(answer(own).id).toBe('mine');
    const anonymous = await postJson(app, INFER, { inputs: [matrixInput(ROWS)] });
    const again = await postJson(app, INFER, { inputs: [matrixInput(ROWS)] });
    const ids = [answer(anonymous).id, answer(again).id];
    for (const id of ids) expect(id).toMatch(/^\S+$/);
    expect(ids[0]).not.toBe(ids[1]);
    if (anonymous.headers['x-request-id'] !== undefined)
      expect(ids[0]).toBe(anonymous.headers['x-request-id']);
  });

  test('FP32, INT64 and INT32 inputs; FP32 values are read at single precision', async () => {
    const fp64 = output(await postJson(app, INFER, { inputs: [matrixInput(ROWS)] }), 'probabilities');
    const fp32 = output(await postJson(app, INFER, { inputs: [matrixInput(ROWS, 'FP32')] }), 'probabilities');
    expect(fp32.data).toEqual(fp64.data);
    const ints = ROWS.map((r) => r.map(Math.round));
    const int64 = output(
      await postJson(app, INFER, { inputs: [matrixInput(ints, 'INT64')] }),
      'probabilities',
    );
    const int32 = output(
      await postJson(app, INFER, { inputs: [matrixInput(ints, 'INT32')] }),
      'probabilities',
    );
    const asFloat = output(await postJson(app, INFER, { inputs: [matrixInput(ints)] }), 'probabilities');
    expect(int64.data).toEqual(asFloat.data);
    expect(int32.data).toEqual(asFloat.data);
    // Mixed datatypes across named columns.
    const mixed = output(
      await postJson(app, INFER, { inputs: columnInputs(ROWS, ['FP32', 'FP64', 'INT32', 'INT64']) }),
      'probabilities',
    );
    expect(mixed.data).toEqual(fp64.data);
    // 34.1 is not a float32: FP32 means Math.fround(34.1), as the binary form would carry it.
    const row = [[34.1, 100.3, 1, 2]];
    const single = output(
      await postJson(app, INFER, { inputs: [matrixInput(row, 'FP32')] }),
      'probabilities',
    );
    const rounded = output(
      await postJson(app, INFER, { inputs: [matrixInput([row[0]?.map(Math.fround) ?? []])] }),
      'probabilities',
    );
    expect(single.data).toEqual(rounded.data);
  });

  test('zero rows: empty outputs of the right shape', async () => {
    const res = answer(await postJson(app, INFER, { inputs: [matrixInput([])] }));
    expect(res.outputs).toEqual([
      {
        name: 'probabilities',
        datatype: 'FP64',
        shape: [0, 3],
        parameters: { classes: [0, 1, 2] },
        data: [],
      },
      { name: 'segment', datatype: 'INT64', shape: [0], data: [] },
    ]);
  });

  test('any content type is read as JSON (curl -d sends a form type), or none', async () => {
    const body = JSON.stringify({ inputs: [matrixInput(ROWS)] });
    for (const headers of [
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'text/plain' },
      {},
    ]) {
      const res = await app.inject({ method: 'POST', url: INFER, headers, payload: body });
      expect(output(res, 'probabilities').shape).toEqual([3, 3]);
    }
  });
});

describe('errors: {"error": "..."} naming what is wrong', () => {
  const bad = async (body: unknown): Promise<string> => expectOipError(await postJson(app, INFER, body), 400);

  test('shape', async () => {
    expect(await bad({ inputs: [{ ...matrixInput(ROWS), shape: [3, 5] }] })).toMatch(
      /input "input-0" has shape \[3, 5\]: expected one input of shape \[N, 4\]/,
    );
    expect(
      await bad({ inputs: [{ name: 'x', shape: [4], datatype: 'FP64', data: [34, 100, 1, 2] }] }),
    ).toMatch(/shape \[4\]/);
    expect(await bad({ inputs: [{ ...matrixInput(ROWS), shape: [3, -4] }] })).toMatch(/shape must be/);
    expect(await bad({ inputs: [{ ...matrixInput(ROWS), shape: '3x4' }] })).toMatch(/shape must be/);
    const cols = columnInputs(ROWS);
    cols[1] = { ...(cols[1] as (typeof cols)[number]), shape: [3, 2] };
    expect(await bad({ inputs: cols })).toMatch(
      /input "income" has shape \[3, 2\]: expected \[N\] or \[N, 1\]/,
    );
  });

  test('datatype', async () => {
    expect(await bad({ inputs: [matrixInput(ROWS, 'BYTES')] })).toMatch(/datatype BYTES is not supported/);
    expect(await bad({ inputs: [matrixInput(ROWS, 'float64')] })).toMatch(/datatype must be FP64, FP32/);
    expect(await bad({ inputs: [matrixInput([[34.5, 100, 1, 2]], 'INT64')] })).toMatch(
      /row 0, column "age": got 34.5, expected an integer \(INT64/,
    );
    expect(await bad({ inputs: [matrixInput([[34, 3e9, 1, 2]], 'INT32')] })).toMatch(
      /column "income": got 3000000000, expected an integer in .*INT32/,
    );
    expect(await bad({ inputs: [matrixInput([[34, 1e39, 1, 2]], 'FP32')] })).toMatch(/FP32 range/);
    expect(await bad({ inputs: [matrixInput([[34, 'a lot', 1, 2]] as unknown as number[][])] })).toMatch(
      /row 0, column "income": got "a lot", expected a finite number \(FP64\)/,
    );
    const cols = columnInputs(ROWS);
    (cols[3] as { data: unknown[] }).data = [2, 'two', 1];
    expect(await bad({ inputs: cols })).toMatch(
      /^input "events": row 1, column "events": got "two", expected an integer \(INT64/,
    );
    (cols[3] as { data: unknown[] }).data = [2, 1.5, 1];
    expect(await bad({ inputs: cols })).toMatch(/input "events": row 1, column "events": got 1.5/);
  });

  test('length', async () => {
    expect(await bad({ inputs: [{ ...matrixInput(ROWS), data: ROWS.flat().slice(1) }] })).toMatch(
      /data has 11 values, but shape \[3, 4\] needs 12/,
    );
    const ragged = [ROWS[0], [61.0, 25.5, 0]];
    expect(await bad({ inputs: [{ ...matrixInput(ROWS.slice(0, 2)), data: ragged }] })).toMatch(
      /data\[1\] has 3 elements, but shape \[2, 4\] needs 4/,
    );
    const cols = columnInputs(ROWS);
    cols[2] = { ...(cols[2] as (typeof cols)[number]), shape: [2], data: [1, 0] };
    expect(await bad({ inputs: cols })).toMatch(/input "response" has 2 rows but input "age" has 3/);
  });

  test('unknown category', async () => {
    expect(await bad({ inputs: [matrixInput([[34, 100, 1, 9]])] })).toMatch(/row 0, column "events": got 9/);
  });

  test('inputs that are not the model', async () => {
    const cols = columnInputs(ROWS);
    expect(await bad({ inputs: [...cols.slice(0, 3), { ...cols[0], name: 'speed' }] })).toMatch(
      /^input "speed" is not a feature of the model \(its features: age, income, response, events\)/,
    );
    expect(await bad({ inputs: [...cols.slice(0, 3), cols[0]] })).toMatch(/input "age" appears twice/);
    expect(await bad({ inputs: [{ ...matrixInput(ROWS), name: 'rows', shape: [3, 4, 1] }] })).toMatch(
      /^input "rows" has shape \[3, 4, 1\]: expected one input of shape \[N, 4\]/,
    );
    expect(await bad({ inputs: [] })).toMatch(/"inputs" must be a non-empty array/);
    expect(await bad({ inputs: [42] })).toMatch(/inputs\[0\] must be an object/);
    expect(await bad({ inputs: [{ shape: [1, 4], datatype: 'FP64', data: ROWS[0] }] })).toMatch(
      /inputs\[0\]\.name must be a string/,
    );
    expect(await bad({ inputs: [{ ...matrixInput(ROWS), data: 'rows' }] })).toMatch(/data must be an array/);
    expect(await bad({ inputs: [{ ...matrixInput(ROWS), parameters: { binary_data_size: 48 } }] })).toMatch(
      /binary tensor data extension is not supported/,
    );
  });

  test('a body that is not a request object', async () => {
    expect(await bad([1, 2, 3])).toMatch(/must be a JSON object/);
    expect(await bad('"text"')).toMatch(/must be a JSON object/);
    expect(await bad('42')).toMatch(/must be a JSON object/);
    expect(await bad('null')).toMatch(/no body/);
    expect(await bad('{"inputs": [')).toMatch(/not valid JSON/);
    expect(await bad('')).toMatch(/empty/);
    expect(await bad({ id: 7, inputs: [matrixInput(ROWS)] })).toMatch(/"id" must be a string/);
    expect(await bad({ parameters: [], inputs: [matrixInput(ROWS)] })).toMatch(
      /"parameters" must be an object/,
    );
    expect(await bad({ inputs: [matrixInput(ROWS)], outputs: 'segment' })).toMatch(
      /"outputs" must be an array/,
    );
    const none = await app.inject({ method: 'POST', url: INFER });
    expect(expectOipError(none, 400)).toMatch(/no body/);
  });

  test('too many rows is a 413, too large a body a 413', async () => {
    const small = await forestApp({ maxRows: 2, bodyLimit: 2000 });
    expect(expectOipError(await postJson(small, INFER, { inputs: [matrixInput(ROWS)] }), 413)).toMatch(
      /3 rows.*at most 2/,
    );
    const big = { inputs: [{ ...matrixInput(ROWS), data: new Array(1000).fill(1) }] };
    expectOipError(await postJson(small, INFER, big), 413);
    await small.close();
  });

  test('unknown paths under /v2 are 404 and wrong methods 405, in the v2 envelope', async () => {
    expect(expectOipError(await app.inject({ method: 'GET', url: '/v2/repository/index' }), 404)).toMatch(
      /no route for GET \/v2\/repository\/index/,
    );
    const wrong = await app.inject({ method: 'GET', url: INFER });
    expect(expectOipError(wrong, 405)).toMatch(/GET is not allowed/);
    expect(wrong.headers.allow).toBe('OPTIONS, POST');
    expectOipError(await app.inject({ method: 'GET', url: '/v2/models/%zz' }), 400);
    // Seldon's paths keep Seldon's envelope.
    expectError(await app.inject({ method: 'GET', url: '/nowhere' }), 404, 'MICROSERVICE_NOT_FOUND');
  });

  test('PROTOCOL=v2 answers paths of neither protocol in the v2 envelope; v1 routes keep theirs', async () => {
    const v2 = await forestApp({ protocol: 'v2' });
    expect(expectOipError(await v2.inject({ method: 'GET', url: '/nowhere' }), 404)).toMatch(/no route/);
    expectError(await predict(v2, { data: { ndarray: 'x' } }), 400, 'MICROSERVICE_BAD_DATA');
    await v2.close();
  });

  test('CORS preflight on the v2 routes', async () => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: INFER,
      headers: { origin: 'http://example.com', 'access-control-request-method': 'POST' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('shared with v1', () => {
  test('request metrics: one histogram for both protocols, segments counted', async () => {
    const shared = await forestApp();
    await predict(shared, { data: { ndarray: ROWS } });
    await postJson(shared, INFER, { inputs: [matrixInput(ROWS)] });
    await postJson(shared, INFER, { inputs: [matrixInput(ROWS, 'BYTES')] });
    await shared.inject({ method: 'GET', url: OIP_READY_PATH });
    await shared.inject({ method: 'GET', url: '/v2/models/segserve' });
    const { samples } = parseExposition(await shared.segserve.metrics.text());
    const count = (labels: Record<string, string>) =>
      findSample(samples, 'seldon_api_executor_server_requests_seconds_count', labels)?.value;
    expect(count({ service: 'predictions', method: 'post', code: '200' })).toBe(2);
    expect(count({ service: 'predictions', method: 'post', code: '400' })).toBe(1);
    expect(count({ service: 'status', method: 'get', code: '200' })).toBe(1);
    expect(count({ service: 'metadata', method: 'get', code: '200' })).toBe(1);
    const segments = samples
      .filter((s) => s.name === 'segserve_predictions_total')
      .reduce((a, s) => a + s.value, 0);
    expect(segments).toBe(6);
    await shared.close();
  });

  test("a forest-backed component's metrics() are recorded after an inference", async () => {
    const component = prepareComponent(
      { metrics: () => [{ type: 'COUNTER', key: 'oip_served', value: 2 }] },
      new FakeModel(),
      'test',
    );
    const counted = await componentApp(component);
    output(await postJson(counted, INFER, { inputs: [matrixInput(ROWS)] }), 'probabilities');
    const { samples } = parseExposition(await counted.segserve.metrics.text());
    expect(findSample(samples, 'oip_served_total', { method: 'predict' })?.value).toBe(2);
    await counted.close();
  });
});

describe('a component with its own predict()', () => {
  let comp: FastifyInstance;
  let seen: { X: unknown; names: string[]; meta: unknown } | undefined;
  beforeAll(async () => {
    comp = await componentApp({
      predict(X, names, meta) {
        seen = { X, names, meta };
        if (!Array.isArray(X)) throw new ModelInputError(0, '*', 'rows', X);
        if ((X as number[][])[0]?.[0] === -1) return { not: 'a tensor' };
        if ((X as number[][])[0]?.[0] === -2) throw new ModelInputError(0, 'age', 'a positive age', -2);
        return (X as number[][]).map((r) => [r.reduce((a, b) => a + b, 0), 1]);
      },
      metrics: () => [{ type: 'COUNTER', key: 'oip_served', value: 1 }],
      initMetadata: () => ({
        inputs: [{ name: 'x', datatype: 'FP64', shape: [-1, 2] }, { messagetype: 'ndarray' }],
        outputs: [{ name: 'predict', datatype: 'FP64', shape: [-1, 2] }],
      }),
    });
  });
  afterAll(() => comp.close());

  test('receives the rows (and the column names of named inputs); answers the output "predict"', async () => {
    const res = answer(
      await postJson(comp, INFER, {
        id: 'abc',
        inputs: [{ name: 'x', shape: [2, 2], datatype: 'INT32', data: [1, 2, 3, 4] }],
      }),
    );
    expect(seen).toEqual({
      X: [
        [1, 2],
        [3, 4],
      ],
      names: [],
      meta: { puid: 'abc' },
    });
    expect(res).toEqual({
      model_name: 'segserve',
      id: 'abc',
      outputs: [{ name: 'predict', datatype: 'FP64', shape: [2, 2], data: [3, 1, 7, 1] }],
    });
    await postJson(comp, INFER, {
      inputs: [
        { name: 'a', shape: [1], datatype: 'FP64', data: [5] },
        { name: 'b', shape: [1, 1], datatype: 'FP64', data: [[6]] },
      ],
    });
    expect(seen).toMatchObject({ X: [[5, 6]], names: ['a', 'b'] });
    // No id in the request: the component's meta.puid is the request id the answer carries.
    expect((seen as { meta: { puid?: unknown } }).meta.puid).toMatch(/^\S+$/);
    const { samples } = parseExposition(await comp.segserve.metrics.text());
    expect(findSample(samples, 'oip_served_total', { method: 'predict' })?.value).toBe(2);
  });

  test('metadata passes the tensor-style inputs and outputs of initMetadata()', async () => {
    expect((await comp.inject({ method: 'GET', url: '/v2/models/segserve' })).json()).toEqual({
      name: 'segserve',
      versions: [],
      platform: '',
      inputs: [{ name: 'x', datatype: 'FP64', shape: [-1, 2] }],
      outputs: [{ name: 'predict', datatype: 'FP64', shape: [-1, 2] }],
    });
  });

  test('errors: its ModelInputError is a 400, a non-tensor answer a 501, other outputs a 400', async () => {
    const one = (v: number) => ({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP64', data: [v, 0] }] });
    expect(expectOipError(await postJson(comp, INFER, one(-2)), 400)).toMatch(/column "age".*positive age/);
    expect(expectOipError(await postJson(comp, INFER, one(-1)), 501)).toMatch(
      /jsonData.*\/api\/v1\.0\/predictions/,
    );
    expect(
      expectOipError(await postJson(comp, INFER, { ...one(1), outputs: [{ name: 'segment' }] }), 400),
    ).toMatch(/unknown output "segment".*predict/);
  });
});
