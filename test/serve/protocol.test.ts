/**
 * Seldon Core v1 through inject() with the built-in forest component (on the fake model): routes and
 * aliases, body forms, mirroring, names, meta echo, health, metadata, feedback, CORS, the error
 * catalogue (400/404/405/413/415/503) and the request metrics.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SegserveError } from '../../src/errors.js';
import { CATALOGUE } from '../../src/serve/errors.js';
import { FakeModel } from './fake-model.js';
import {
  componentApp,
  expectError,
  findSample,
  forestApp,
  OPERATOR_ENV,
  parseExposition,
  postJson,
  predict,
  probabilityRows,
} from './helpers.js';

const ROW = [34.0, 100.0, 1, 2];
const ROW2 = [61.0, 25.5, 0, 0];

function multipartBody(parts: { name: string; value: string | Buffer; filename?: string }[]): {
  payload: Buffer;
  headers: Record<string, string>;
} {
  const boundary = 'segserve-test-boundary';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = p.filename
      ? `form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: application/octet-stream`
      : `form-data; name="${p.name}"`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

describe('predictions: routes, aliases and body forms', () => {
  let app: FastifyInstance;
  let expected: number[];
  beforeAll(async () => {
    app = await forestApp();
    expected = new FakeModel().predictProba([ROW])[0] as number[];
  });
  afterAll(() => app.close());

  test('POST /api/v1.0/predictions and /api/v0.1/predictions: ndarray in, ndarray out', async () => {
    for (const url of ['/api/v1.0/predictions', '/api/v0.1/predictions', '/predict']) {
      const res = await postJson(app, url, { data: { ndarray: [ROW, ROW2] } });
      expect(res.json()).toMatchObject({ data: { names: ['t:0', 't:1', 't:2'] }, meta: {} });
      const rows = probabilityRows(res);
      expect(rows).toHaveLength(2);
      expect(rows[0]).toEqual(expected);
    }
  });

  test('GET /predict?json= and a ?json= query parameter winning over the body', async () => {
    const q = encodeURIComponent(JSON.stringify({ data: { ndarray: [ROW] } }));
    const get = await app.inject({ method: 'GET', url: `/predict?json=${q}` });
    expect(probabilityRows(get)[0]).toEqual(expected);
    const post = await app.inject({
      method: 'POST',
      url: `/api/v1.0/predictions?json=${q}`,
      headers: { 'content-type': 'application/json' },
      payload: 'not json at all',
    });
    expect(probabilityRows(post)).toHaveLength(1);
  });

  test('form-encoded json= field', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `json=${encodeURIComponent(JSON.stringify({ data: { ndarray: [ROW] } }))}`,
    });
    expect(probabilityRows(res)[0]).toEqual(expected);
    const noField = await app.inject({
      method: 'POST',
      url: '/api/v1.0/predictions',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: JSON.stringify({ data: { ndarray: [ROW] } }),
    });
    expect(expectError(noField, 400, 'MICROSERVICE_BAD_DATA')).toMatch(/no json field/);
  });

  test('multipart fields: data and meta are JSON, each a field', async () => {
    const body = multipartBody([
      { name: 'data', value: JSON.stringify({ tensor: { shape: [1, 4], values: ROW } }) },
      { name: 'meta', value: JSON.stringify({ puid: 'mp-1' }) },
    ]);
    const res = await app.inject({ method: 'POST', url: '/api/v1.0/predictions', ...body });
    expect(res.json()).toMatchObject({ data: { tensor: { shape: [1, 3] } }, meta: { puid: 'mp-1' } });
    const bad = multipartBody([{ name: 'data', value: '{not json' }]);
    const badRes = await app.inject({ method: 'POST', url: '/api/v1.0/predictions', ...bad });
    expect(expectError(badRes, 400, 'MICROSERVICE_BAD_DATA')).toMatch(
      /multipart field "data" is not valid JSON/,
    );
  });

  test('a single flat row is one row; tensor of shape [4] too', async () => {
    const flat = await predict(app, { data: { ndarray: ROW } });
    expect(probabilityRows(flat)).toEqual([expected]);
    const tensor = await predict(app, { data: { tensor: { shape: [4], values: ROW } } });
    expect(tensor.json()).toMatchObject({ data: { tensor: { shape: [1, 3], values: expected } } });
  });

  test('data.names reorder the columns (ndarray and tensor); bad names are a 400', async () => {
    const names = ['events', 'income', 'age', 'response'];
    const row = [ROW[3], ROW[1], ROW[0], ROW[2]];
    const nd = await predict(app, { data: { names, ndarray: [row] } });
    expect(probabilityRows(nd)).toEqual([expected]);
    const tensor = await predict(app, {
      data: { names, tensor: { shape: [2, 4], values: [...row, ...row] } },
    });
    expect(probabilityRows(tensor)).toEqual([expected, expected]);
    expect((nd.json() as { data: { names: string[] } }).data.names).toEqual(['t:0', 't:1', 't:2']);
    const bad = await predict(app, {
      data: { names: ['age', 'income', 'response', 'segment'], ndarray: [ROW] },
    });
    expect(expectError(bad, 400, 'MICROSERVICE_BAD_DATA')).toMatch(
      /^data\.names\[3\] = "segment" is not a feature of the model \(its features: age, income, response, events\)/,
    );
    // A subset of the features: four values for one name is a row of the wrong length.
    const short = await predict(app, { data: { names: ['age'], ndarray: [ROW] } });
    expect(expectError(short, 400, 'MICROSERVICE_BAD_DATA')).toMatch(
      /^row 0: got 4 values, expected 1 \(age\)/,
    );
  });

  test('empty ndarray: no rows, a 2-D answer with the class names', async () => {
    const res = await predict(app, { data: { ndarray: [] } });
    expect(res.json()).toEqual({ data: { names: ['t:0', 't:1', 't:2'], ndarray: [] }, meta: {} });
  });
});

describe('bad input: 400 naming row, column and what was expected', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await forestApp({ maxRows: 5, bodyLimit: 4096 });
  });
  afterAll(() => app.close());

  const cases: [string, unknown, RegExp][] = [
    [
      'unknown category',
      { data: { ndarray: [[34, 100, 3, 2]] } },
      /^row 0, column "response": got 3, expected one of the known categories \[0, 1\]/,
    ],
    [
      'a string in a numeric column',
      { data: { ndarray: [ROW, [34, '100', 1, 2]] } },
      /^row 1, column "income": got "100", expected a finite number or null/,
    ],
    ['boolean', { data: { ndarray: [[true, 100, 1, 2]] } }, /^row 0, column "age": got true/],
    ['nested', { data: { ndarray: [[[34], 100, 1, 2]] } }, /^row 0, column "age": got \[34\]/],
    [
      'huge number (parses as Infinity)',
      '{"data":{"ndarray":[[1e999,100,1,2]]}}',
      /^row 0, column "age": got Infinity, expected a finite number/,
    ],
    [
      'a row that is not an array',
      { data: { ndarray: [ROW, 5] } },
      /^row 1: got 5, expected an array of 4 values \(age, income, response, events\)/,
    ],
    ['too many values', { data: { ndarray: [[1, 2, 3, 4, 5]] } }, /^row 0: got 5 values, expected 4/],
    [
      'names in a column, by name',
      { data: { names: ['income', 'age', 'response', 'events'], ndarray: [[100, 'x', 1, 2]] } },
      /column "age": got "x"/,
    ],
    [
      'tensor values not numbers',
      { data: { tensor: { shape: [1, 4], values: [1, 'a', 1, 2] } } },
      /tensor\.values\[1\]/,
    ],
    [
      'tensor shape not integers',
      { data: { tensor: { shape: [1.5, 4], values: ROW } } },
      /shape must be an array of non-negative integers/,
    ],
    [
      'tensor of 3 columns',
      { data: { tensor: { shape: [1, 3], values: [1, 2, 3] } } },
      /expected \[rows, 4\]/,
    ],
    ['tftensor', { data: { tftensor: {} } }, /tftensor is not supported/],
    ['data without ndarray or tensor', { data: {} }, /not data with neither ndarray nor tensor/],
    ['data null', { data: null }, /data must be an object/],
    ['an array body', [ROW], /^Invalid request data type: \[\[34,100,1,2\]\]/],
    ['null body', 'null', /Can't find JSON in data/],
    ['bare Infinity', '{"data":{"ndarray":[[Infinity,100,1,2]]}}', /Can't find JSON in data/],
    ['bare -NaN', '{"data":{"ndarray":[[-NaN,100,1,2]]}}', /Can't find JSON in data/],
    ['strData not a string', { strData: 5 }, /strData must be a string/],
    ['binData not base64', { binData: '***' }, /binData must be a base64 string/],
    ['meta not an object', { data: { ndarray: [ROW] }, meta: 'x' }, /meta must be an object/],
    [
      'meta.tags not an object',
      { data: { ndarray: [ROW] }, meta: { tags: [1] } },
      /meta\.tags must be an object/,
    ],
    [
      'meta.puid not a string',
      { data: { ndarray: [ROW] }, meta: { puid: 5 } },
      /meta\.puid must be a string/,
    ],
  ];
  for (const [what, body, info] of cases) {
    test(what, async () => {
      expect(expectError(await predict(app, body), 400, 'MICROSERVICE_BAD_DATA')).toMatch(info);
    });
  }

  test('413: too many rows, too large a body (each in the envelope)', async () => {
    const rows = Array.from({ length: 6 }, () => ROW);
    expect(
      expectError(await predict(app, { data: { ndarray: rows } }), 413, 'MICROSERVICE_PAYLOAD_TOO_LARGE'),
    ).toMatch(/6 rows in one request; at most 5/);
    const big = JSON.stringify({ data: { ndarray: [ROW] }, meta: { tags: { pad: 'x'.repeat(5000) } } });
    expectError(await predict(app, big), 413, 'MICROSERVICE_PAYLOAD_TOO_LARGE');
    const form = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `json=${'x'.repeat(5000)}`,
    });
    expectError(form, 413, 'MICROSERVICE_PAYLOAD_TOO_LARGE');
  });

  test('415: a content type we do not read', async () => {
    for (const type of ['text/plain', 'application/octet-stream', 'application/xml']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1.0/predictions',
        headers: { 'content-type': type },
        payload: '{}',
      });
      expect(expectError(res, 415, 'MICROSERVICE_UNSUPPORTED_MEDIA_TYPE')).toContain(type);
    }
  });

  test('404 unknown path, 405 wrong method (with Allow), both in the envelope with CORS', async () => {
    const missing = await app.inject({ method: 'GET', url: '/api/v2.0/predictions?x=1' });
    expect(expectError(missing, 404, 'MICROSERVICE_NOT_FOUND')).toMatch(
      /no route for GET \/api\/v2\.0\/predictions$/,
    );
    expect(missing.headers['access-control-allow-origin']).toBe('*');
    const wrong = await app.inject({ method: 'GET', url: '/api/v1.0/predictions' });
    expectError(wrong, 405, 'MICROSERVICE_METHOD_NOT_ALLOWED');
    expect(wrong.headers.allow).toBe('OPTIONS, POST');
    const put = await app.inject({ method: 'PUT', url: '/predict', payload: '' });
    expectError(put, 405, 'MICROSERVICE_METHOD_NOT_ALLOWED');
    expect(put.headers.allow).toBe('GET, HEAD, OPTIONS, POST');
    const del = await app.inject({ method: 'DELETE', url: '/health/ping' });
    expectError(del, 405, 'MICROSERVICE_METHOD_NOT_ALLOWED');
    const badUrl = await app.inject({ method: 'GET', url: '/predict%zz' });
    expectError(badUrl, 400, 'MICROSERVICE_BAD_DATA');
    expect(badUrl.headers['access-control-allow-origin']).toBe('*');
  });

  test('every catalogue entry has a stable reason and a 4xx/5xx status', () => {
    for (const [code, entry] of Object.entries(CATALOGUE)) {
      expect(entry.status, code).toBeGreaterThanOrEqual(400);
      expect(entry.reason, code).toMatch(/^MICROSERVICE_[A-Z_]+$/);
    }
  });
});

describe('meta echo', () => {
  test('standalone: meta {}; puid and tags echoed, routing dropped, metrics echoed as-is', async () => {
    const app = await forestApp();
    const plain = await predict(app, { data: { ndarray: [ROW] } });
    expect((plain.json() as { meta: unknown }).meta).toEqual({});
    const res = await predict(app, {
      data: { ndarray: [ROW] },
      meta: {
        puid: 'abc',
        tags: { a: 1, __proto__: 'kept as a key' },
        routing: { x: 1 },
        metrics: [{ key: 'client', type: 'COUNTER', value: 3 }],
        requestPath: { other: 'img:1' },
      },
    });
    expect(res.json()).toMatchObject({
      meta: {
        puid: 'abc',
        tags: { a: 1 },
        metrics: [{ key: 'client', type: 'COUNTER', value: 3 }],
        requestPath: { other: 'img:1' },
      },
    });
    expect((res.json() as { meta: Record<string, unknown> }).meta.routing).toBeUndefined();
    const empty = await predict(app, { data: { ndarray: [ROW] }, meta: { puid: '' } });
    expect((empty.json() as { meta: unknown }).meta).toEqual({});
    // A client's metrics are only echoed, never recorded.
    expect(await app.segserve.metrics.text()).not.toContain('client');
    await app.close();
  });

  test('under the operator: requestPath {unit: image}, the request entries win', async () => {
    const app = await forestApp({ env: OPERATOR_ENV });
    const res = await predict(app, { data: { ndarray: [ROW] } });
    expect((res.json() as { meta: unknown }).meta).toEqual({
      requestPath: { classifier: 'segserve/model:0.1' },
    });
    const over = await predict(app, {
      data: { ndarray: [ROW] },
      meta: { requestPath: { classifier: 'x:2', b: 'c' } },
    });
    expect((over.json() as { meta: unknown }).meta).toEqual({ requestPath: { classifier: 'x:2', b: 'c' } });
    const health = await app.inject({ method: 'GET', url: '/health/status' });
    expect(health.json()).toEqual({
      strData: 'healthy',
      meta: { requestPath: { classifier: 'segserve/model:0.1' } },
    });
    await app.close();
  });

  test('INCLUDE_METRICS_IN_CLIENT_RESPONSE=false leaves metrics out of meta', async () => {
    const app = await forestApp({ env: { INCLUDE_METRICS_IN_CLIENT_RESPONSE: 'false' } });
    const res = await predict(app, {
      data: { ndarray: [ROW] },
      meta: { metrics: [{ key: 'a', type: 'GAUGE', value: 1 }] },
    });
    expect((res.json() as { meta: unknown }).meta).toEqual({});
    await app.close();
  });
});

describe('health, metadata, feedback, CORS', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await forestApp({
      env: { PREDICTIVE_UNIT_IMAGE: 'reg.example:5000/seg/model:1.2' },
      modelName: 'seg-rf',
    });
  });
  afterAll(() => app.close());

  test('health: ping is pong, status is healthy, on both paths', async () => {
    const ping = await app.inject({ method: 'GET', url: '/health/ping' });
    expect(ping.body).toBe('pong');
    expect(ping.headers['content-type']).toBe('text/html; charset=utf-8');
    for (const url of ['/health/status', '/api/v1.0/health/status']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.json()).toEqual({ meta: {}, strData: 'healthy' });
    }
  });

  test('metadata on both paths: the forest inputs, outputs and classes; versions from the image', async () => {
    for (const url of ['/metadata', '/api/v1.0/metadata']) {
      const res = await app.inject({ method: 'GET', url });
      const md = res.json() as Record<string, unknown>;
      expect(md).toMatchObject({
        name: 'seg-rf',
        versions: ['1.2'],
        platform: 'segserve',
        inputs: [
          { messagetype: 'ndarray', schema: { names: ['age', 'income', 'response', 'events'], shape: [4] } },
        ],
        outputs: [{ messagetype: 'ndarray', schema: { names: ['t:0', 't:1', 't:2'], shape: [3] } }],
        custom: {
          classes: '0, 1, 2',
          'feature.events': 'categorical [0, 1, 2, 3, 4, 5, 6]',
          'feature.age': 'numeric',
        },
      });
    }
  });

  test('MODEL_METADATA is merged over the component metadata; a bad one fails at start-up', async () => {
    const merged = await forestApp({ env: { MODEL_METADATA: '{"name":"from-env","custom":{"team":"x"}}' } });
    const md = (await merged.inject({ method: 'GET', url: '/metadata' })).json() as Record<string, unknown>;
    expect(md.name).toBe('from-env');
    expect(md.custom).toEqual({ team: 'x' });
    expect((md.inputs as unknown[]).length).toBe(1);
    await merged.close();
    await expect(forestApp({ env: { MODEL_METADATA: '{"name":5}' } })).rejects.toThrow(SegserveError);
    await expect(forestApp({ env: { MODEL_METADATA: '{"extra":1}' } })).rejects.toThrow(
      /unknown key "extra"/,
    );
    await expect(forestApp({ env: { MODEL_METADATA: 'name: yaml' } })).rejects.toThrow(
      /MODEL_METADATA is not valid JSON/,
    );
    await expect(forestApp({ env: { PREDICTOR_LABELS: '[1]' } })).rejects.toThrow(/PREDICTOR_LABELS/);
  });

  test('feedback on every path; no sendFeedback → empty ndarray; protobuf-like strictness', async () => {
    const fb = {
      request: { data: { ndarray: [ROW] } },
      response: { data: { ndarray: [[0.1, 0.8, 0.1]] } },
      reward: 1.0,
      truth: { data: { ndarray: [[0, 1, 0]] } },
    };
    for (const url of ['/api/v1.0/feedback', '/api/v0.1/feedback', '/send-feedback']) {
      const res = await postJson(app, url, fb);
      expect(res.json()).toEqual({ data: { ndarray: [] }, meta: {} });
    }
    const get = await app.inject({
      method: 'GET',
      url: `/send-feedback?json=${encodeURIComponent(JSON.stringify(fb))}`,
    });
    expect(get.statusCode).toBe(200);
    expect(
      expectError(
        await postJson(app, '/api/v1.0/feedback', { ...fb, extra: 1 }),
        400,
        'MICROSERVICE_BAD_DATA',
      ),
    ).toMatch(/^Invalid JSON: feedback has an unknown field "extra"/);
    expectError(
      await postJson(app, '/api/v1.0/feedback', { ...fb, reward: 'high' }),
      400,
      'MICROSERVICE_BAD_DATA',
    );
    expectError(await postJson(app, '/api/v1.0/feedback', [fb]), 400, 'MICROSERVICE_BAD_DATA');
    expectError(await postJson(app, '/api/v1.0/feedback', { request: 'x' }), 400, 'MICROSERVICE_BAD_DATA');
    const metrics = parseExposition(await app.segserve.metrics.text());
    expect(
      findSample(metrics.samples, 'seldon_api_model_feedback_total', { method: 'feedback' })?.value,
    ).toBe(4);
    expect(findSample(metrics.samples, 'seldon_api_model_feedback_reward_total')?.value).toBe(4);
  });

  test('CORS: every answer allows any origin; a preflight is a 200', async () => {
    for (const url of ['/health/ping', '/health/status', '/metadata', '/api/v1.0/metadata']) {
      expect((await app.inject({ method: 'GET', url })).headers['access-control-allow-origin'], url).toBe(
        '*',
      );
    }
    const fb = await postJson(app, '/api/v1.0/feedback', { reward: 0 });
    expect(fb.headers['access-control-allow-origin']).toBe('*');
    const pre = await app.inject({
      method: 'OPTIONS',
      url: '/api/v1.0/predictions',
      headers: { origin: 'http://example.test', 'access-control-request-method': 'POST' },
    });
    expect(pre.statusCode).toBe(200);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-methods']).toContain('POST');
    const res = await predict(app, { data: { ndarray: [ROW] } });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const err = await predict(app, {});
    expect(err.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('draining', () => {
  test('health status turns 503 in the envelope, responses close their connection, predictions still answer', async () => {
    const app = await forestApp();
    expect(app.segserve.draining).toBe(false);
    app.segserve.drain();
    expect(app.segserve.draining).toBe(true);
    const health = await app.inject({ method: 'GET', url: '/health/status' });
    expectError(health, 503, 'MICROSERVICE_UNAVAILABLE');
    expect(health.headers.connection).toBe('close');
    const ping = await app.inject({ method: 'GET', url: '/health/ping' });
    expect(ping.statusCode).toBe(200);
    const res = await predict(app, { data: { ndarray: [ROW] } });
    expect(res.statusCode).toBe(200);
    expect(res.headers.connection).toBe('close');
    await app.close();
  });
});

describe('request metrics', () => {
  test('the executor histogram per service, method and code; predictions per segment; no request data in labels', async () => {
    const app = await forestApp({ env: OPERATOR_ENV });
    await predict(app, {
      data: { ndarray: [ROW, ROW2, ROW] },
      meta: { puid: 'secret-puid', tags: { t: 'secret-tag' } },
    });
    await predict(app, { data: { ndarray: [[1, 2, 3]] } });
    await app.inject({ method: 'GET', url: '/metadata' });
    await app.inject({ method: 'GET', url: '/health/status' });
    await app.inject({ method: 'GET', url: '/no/such/path/secret-path' });
    const text = await app.segserve.metrics.text();
    expect(text).not.toMatch(/secret/);
    const { samples, types } = parseExposition(text);
    expect(types.get('seldon_api_executor_server_requests_seconds')).toBe('histogram');
    const base = { deployment_name: 'seg', predictor_name: 'default', predictor_version: 'v1' };
    const count = (labels: Record<string, string>) =>
      findSample(samples, 'seldon_api_executor_server_requests_seconds_count', { ...base, ...labels })?.value;
    expect(count({ service: 'predictions', method: 'post', code: '200' })).toBe(1);
    expect(count({ service: 'predictions', method: 'post', code: '400' })).toBe(1);
    expect(count({ service: 'metadata', method: 'get', code: '200' })).toBe(1);
    expect(count({ service: 'status', method: 'get', code: '200' })).toBe(1);
    const buckets = samples
      .filter(
        (s) =>
          s.name === 'seldon_api_executor_server_requests_seconds_bucket' && s.labels.service === 'metadata',
      )
      .map((s) => s.labels.le);
    expect(buckets).toEqual([
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.075',
      '0.1',
      '0.25',
      '0.5',
      '0.75',
      '1',
      '2.5',
      '5',
      '7.5',
      '10',
      '+Inf',
    ]);
    const rows = samples.filter((s) => s.name === 'segserve_predictions_total');
    expect(rows.reduce((a, s) => a + s.value, 0)).toBe(3);
    for (const s of rows) expect(['0', '1', '2']).toContain(s.labels.segment);
    await app.close();
  });
});

test('a component app without forest, standalone', async () => {
  const app = await componentApp({ predict: () => [[1, 0]] });
  expect((await predict(app, { data: { ndarray: [[1]] } })).json()).toEqual({
    data: { names: ['t:0', 't:1'], ndarray: [[1, 0]] },
    meta: {},
  });
  await app.close();
});
