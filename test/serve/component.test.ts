/**
 * Components: the post's metrics() (COUNTER 1, GAUGE 10, TIMER 1.1) in meta.metrics and in Prometheus
 * with the Seldon labels from the environment; Seldon's semantics for what predict receives and what its
 * answer becomes; bad metrics; loading a component file.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SegserveError } from '../../src/errors.js';
import { ModelInputError } from '../../src/pipeline/types.js';
import {
  type Component,
  loadComponent,
  type PredictInput,
  type SeldonMeta,
} from '../../src/serve/component.js';
import { TIMER_BUCKETS } from '../../src/serve/metrics.js';
import { FakeModel } from './fake-model.js';
import {
  componentApp,
  expectError,
  findSample,
  OPERATOR_ENV,
  parseExposition,
  postJson,
  predict,
} from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const ROW = [34.0, 100.0, 1, 2];

describe("the post's custom metrics", () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await componentApp(await loadComponent(fixture('components/post-model.js'), new FakeModel()), {
      env: OPERATOR_ENV,
    });
  });
  afterAll(() => app.close());

  test('values in meta.metrics, accumulated/set/observed in Prometheus with the Seldon labels', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await predict(app, { data: { ndarray: [ROW] } });
      expect(res.statusCode).toBe(200);
      expect((res.json() as { meta: unknown }).meta).toEqual({
        metrics: [
          { type: 'COUNTER', key: 'mycounter', value: 1 },
          { type: 'GAUGE', key: 'mygauge', value: 10 },
          { type: 'TIMER', key: 'mytimer', value: 1.1 },
        ],
        tags: { model: 'segserve-rf', variant: 'metrics' },
        requestPath: { classifier: 'segserve/model:0.1' },
      });
    }
    await app.inject({ method: 'GET', url: '/health/status' });

    const { samples, types, helps } = parseExposition(await app.segserve.metrics.text());
    const labels = {
      deployment_name: 'seg',
      image_name: 'segserve/model',
      image_version: '0.1',
      method: 'predict',
      model_image: 'segserve/model',
      model_name: 'classifier',
      model_version: '0.1',
      predictor_name: 'default',
      predictor_version: 'v1',
      seldon_deployment_name: 'seg',
      worker_id: String(process.pid),
    };
    expect(types.get('mycounter_total')).toBe('counter');
    expect(types.get('mygauge')).toBe('gauge');
    expect(types.get('mytimer')).toBe('histogram');
    expect(helps.get('mytimer')).toMatch(/mytimer/);
    const counter = findSample(samples, 'mycounter_total', { method: 'predict' });
    expect(counter?.labels).toEqual(labels);
    expect(counter?.value).toBe(2);
    expect(findSample(samples, 'mycounter_total', { method: 'health' })?.value).toBe(1);
    expect(findSample(samples, 'mygauge', { method: 'predict' })?.value).toBe(10);
    expect(findSample(samples, 'mytimer_count', { method: 'predict' })?.value).toBe(2);
    expect(findSample(samples, 'mytimer_sum', { method: 'predict' })?.value).toBeCloseTo(0.0022, 12);
    const buckets = samples.filter((s) => s.name === 'mytimer_bucket' && s.labels.method === 'predict');
    const recorded = JSON.parse(readFileSync(fixture('seldon-cases/seldon-timer-buckets.json'), 'utf8')) as {
      le: string[];
    };
    expect(buckets.map((b) => b.labels.le)).toEqual(recorded.le);
    expect(buckets[0]?.value).toBe(0); // 0.0011 s > 0.001
    expect(buckets[1]?.value).toBe(2); // ≤ 0.0012341553253454693
    expect(buckets.at(-1)?.value).toBe(2);
    for (const b of buckets) expect({ ...b.labels, le: undefined }).toEqual({ ...labels, le: undefined });
  });

  test('the TIMER bounds are exactly the recorded ones', () => {
    const recorded = JSON.parse(readFileSync(fixture('seldon-cases/seldon-timer-buckets.json'), 'utf8')) as {
      le: string[];
    };
    expect([...TIMER_BUCKETS, '+Inf']).toEqual(recorded.le);
  });
});

describe('bad metrics are a 500 MICROSERVICE_BAD_METRIC, and nothing of them is recorded', () => {
  const bad: [string, unknown][] = [
    ['not an array', { type: 'COUNTER', key: 'a', value: 1 }],
    ['unknown type', [{ type: 'SUMMARY', key: 'a', value: 1 }]],
    ['missing key', [{ type: 'COUNTER', value: 1 }]],
    ['key not a metric name', [{ type: 'GAUGE', key: 'my-gauge', value: 1 }]],
    ['value a string', [{ type: 'GAUGE', key: 'a', value: '1' }]],
    ['value NaN', [{ type: 'GAUGE', key: 'a', value: Number.NaN }]],
    ['negative counter', [{ type: 'COUNTER', key: 'a', value: -1 }]],
    ['negative timer', [{ type: 'TIMER', key: 'a', value: -1 }]],
    ['tag not a string', [{ type: 'GAUGE', key: 'a', value: 1, tags: { n: 1 } }]],
    ['tag named le', [{ type: 'TIMER', key: 'a', value: 1, tags: { le: 'x' } }]],
    [
      'one good, one bad',
      [
        { type: 'GAUGE', key: 'good_one', value: 1 },
        { type: 'GAUGE', key: 'b', value: null },
      ],
    ],
    [
      'two types, one name',
      [
        { type: 'GAUGE', key: 'x', value: 1 },
        { type: 'TIMER', key: 'x', value: 1 },
      ],
    ],
    ['a taken name', [{ type: 'GAUGE', key: 'seldon_api_executor_server_requests_seconds_count', value: 1 }]],
  ];
  for (const [what, metrics] of bad) {
    test(what, async () => {
      const app = await componentApp({ predict: () => [[1]], metrics: () => metrics as never });
      const info = expectError(
        await predict(app, { data: { ndarray: [[1]] } }),
        500,
        'MICROSERVICE_BAD_METRIC',
      );
      expect(info).toMatch(/^Bad metric created during request: /);
      const text = await app.segserve.metrics.text();
      expect(text).not.toMatch(/good_one|^a /m);
      parseExposition(text);
      await app.close();
    });
  }

  test('a key keeps its type across requests; tags make separate series', async () => {
    let n = 0;
    const app = await componentApp({
      predict: () => [[1]],
      metrics: () => {
        n++;
        return n === 3
          ? [{ type: 'TIMER', key: 'flip', value: 1 }]
          : [{ type: 'GAUGE', key: 'flip', value: n, tags: { shard: String(n) } }];
      },
    });
    expect((await predict(app, { data: { ndarray: [[1]] } })).statusCode).toBe(200);
    const res = await predict(app, { data: { ndarray: [[1]] } });
    expect((res.json() as { meta: { metrics: unknown } }).meta.metrics).toEqual([
      { type: 'GAUGE', key: 'flip', value: 2, tags: { shard: '2', method: 'predict' } },
    ]);
    expectError(await predict(app, { data: { ndarray: [[1]] } }), 500, 'MICROSERVICE_BAD_METRIC');
    const { samples } = parseExposition(await app.segserve.metrics.text());
    expect(samples.filter((s) => s.name === 'flip').map((s) => [s.labels.shard, s.value])).toEqual([
      ['1', 1],
      ['2', 2],
    ]);
    await app.close();
  });
});

describe("what predict receives and what its answer becomes (Seldon's semantics)", () => {
  let seen: { X: PredictInput; names: string[]; meta: SeldonMeta }[];
  let answer: unknown;
  let app: FastifyInstance;
  beforeAll(async () => {
    const component: Component = {
      predict(X, names, meta) {
        seen.push({ X, names, meta });
        return answer as never;
      },
      classNames: () => ['low', 'mid', 'high'],
    };
    app = await componentApp(component);
  });
  afterAll(() => app.close());
  const run = async (body: unknown, out: unknown) => {
    seen = [];
    answer = out;
    const res = await predict(app, body);
    return { res, got: seen[0] };
  };

  test('jsonData → an object, strData → a string, binData → a Buffer', async () => {
    const j = await run({ jsonData: { age: 34 } }, { ok: true });
    expect(j.got?.X).toEqual({ age: 34 });
    expect(j.res.json()).toEqual({ jsonData: { ok: true }, meta: {} });
    const s = await run({ strData: '34,100,1,2' }, 'fine');
    expect(s.got?.X).toBe('34,100,1,2');
    expect(s.res.json()).toEqual({ strData: 'fine', meta: {} });
    const b = await run({ binData: Buffer.from([1, 2, 255]).toString('base64') }, Buffer.from('ok'));
    expect(Buffer.isBuffer(b.got?.X)).toBe(true);
    expect([...((b.got?.X as Buffer | undefined) ?? [])]).toEqual([1, 2, 255]);
    expect(b.res.json()).toEqual({ binData: Buffer.from('ok').toString('base64'), meta: {} });
  });

  test('multipart: strData as text, a binData file as bytes', async () => {
    seen = [];
    answer = 'ok';
    const boundary = 'b0undary';
    const payload = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="binData"; filename="x.bin"\r\n`),
      Buffer.from('Content-Type: application/octet-stream\r\n\r\n'),
      Buffer.from([0, 1, 2]),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload,
    });
    expect(res.json()).toEqual({ strData: 'ok', meta: {} });
    expect([...((seen[0]?.X as Buffer | undefined) ?? [])]).toEqual([0, 1, 2]);
    const text = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="strData"\r\n\r\nhello {\r\n--${boundary}--\r\n`,
    });
    expect(text.statusCode).toBe(200);
    expect(seen[1]?.X).toBe('hello {');
  });

  test('ndarray as sent with its names; tensor reshaped; meta passed', async () => {
    const nd = await run({ data: { names: ['a', 'b'], ndarray: [[1, 'x']] }, meta: { puid: 'p' } }, [
      [0.5, 0.25, 0.25],
    ]);
    expect(nd.got).toEqual({ X: [[1, 'x']], names: ['a', 'b'], meta: { puid: 'p' } });
    expect(nd.res.json()).toEqual({
      data: { names: ['low', 'mid', 'high'], ndarray: [[0.5, 0.25, 0.25]] },
      meta: { puid: 'p' },
    });
    const t = await run({ data: { tensor: { shape: [2, 1, 2], values: [1, 2, 3, 4] } } }, [[1, 2, 3]]);
    expect(t.got?.X).toEqual([[[1, 2]], [[3, 4]]]);
    expect(t.res.json()).toEqual({
      data: { names: ['low', 'mid', 'high'], tensor: { shape: [1, 3], values: [1, 2, 3] } },
      meta: {},
    });
    const e = await run({ data: {} }, [1]);
    expect(e.got?.X).toEqual([]);
  });

  test('a 1-D numeric answer: names [], tensor when the request had no data, else the request form', async () => {
    const fromJson = await run({ jsonData: {} }, [0.1, 0.9]);
    expect(fromJson.res.json()).toEqual({
      data: { names: [], tensor: { shape: [2], values: [0.1, 0.9] } },
      meta: {},
    });
    const fromNd = await run({ data: { ndarray: [[1]] } }, new Float64Array([0.1, 0.9]));
    expect(fromNd.res.json()).toEqual({ data: { names: [], ndarray: [0.1, 0.9] }, meta: {} });
    const nonNumeric = await run({ data: { tensor: { shape: [1], values: [1] } } }, [['a', 1]]);
    expect(nonNumeric.res.json()).toEqual({
      data: { names: ['low', 'mid', 'high'], ndarray: [['a', 1]] },
      meta: {},
    });
  });

  test('answers that cannot be sent are a 500; ModelInputError is a 400', async () => {
    expect(
      expectError((await run({ jsonData: {} }, undefined)).res, 500, 'MICROSERVICE_INTERNAL_ERROR'),
    ).toMatch(/Unknown data type returned as payload/);
    expect(
      expectError((await run({ jsonData: {} }, [[1, Number.NaN]])).res, 500, 'MICROSERVICE_INTERNAL_ERROR'),
    ).toMatch(/non-finite number \(NaN\) at \[0\]\[1\]/);
    expectError((await run({ jsonData: {} }, { big: 1n })).res, 500, 'MICROSERVICE_INTERNAL_ERROR');
    const throwing = await componentApp({
      predict: () => {
        throw new Error('boom');
      },
    });
    expect(expectError(await predict(throwing, { jsonData: {} }), 500, 'MICROSERVICE_INTERNAL_ERROR')).toBe(
      'predict() failed: boom',
    );
    await throwing.close();
    const refusing = await componentApp({
      predict: () => {
        throw new ModelInputError(3, 'age', 'an adult age', 4);
      },
    });
    expect(expectError(await predict(refusing, { jsonData: {} }), 400, 'MICROSERVICE_BAD_DATA')).toBe(
      'row 3, column "age": got 4, expected an adult age',
    );
    await refusing.close();
  });
});

describe('other component methods', () => {
  test('healthStatus, sendFeedback, initMetadata', async () => {
    const feedback: unknown[] = [];
    const app = await componentApp(
      {
        predict: () => [[1]],
        healthStatus: () => ({ ready: true }),
        sendFeedback(features, names, reward, truth, routing) {
          feedback.push({ features, names, reward, truth, routing });
          return [[0.5, 0.5]];
        },
        initMetadata: () => ({ name: 'custom', inputs: [{ messagetype: 'jsonData' }] }),
      },
      { env: { PREDICTIVE_UNIT_ID: 'unit', PREDICTIVE_UNIT_IMAGE: 'img:3' } },
    );
    expect((await app.inject({ method: 'GET', url: '/health/status' })).json()).toEqual({
      jsonData: { ready: true },
      meta: { requestPath: { unit: 'img:3' } },
    });
    const fb = await postJson(app, '/api/v1.0/feedback', {
      request: { data: { names: ['a'], ndarray: [[1]] } },
      response: { meta: { routing: { unit: 2 } }, data: { ndarray: [[1]] } },
      reward: 0.5,
      truth: { jsonData: { label: 1 } },
    });
    expect(fb.json()).toEqual({
      data: { names: ['t:0', 't:1'], ndarray: [[0.5, 0.5]] },
      meta: { requestPath: { unit: 'img:3' } },
    });
    expect(feedback).toEqual([
      { features: [[1]], names: ['a'], reward: 0.5, truth: { label: 1 }, routing: 2 },
    ]);
    expect((await app.inject({ method: 'GET', url: '/metadata' })).json()).toEqual({
      name: 'custom',
      versions: ['3'],
      platform: '',
      inputs: [{ messagetype: 'jsonData' }],
      outputs: [],
      custom: {},
    });
    await app.close();
  });

  test('an unhealthy component: healthStatus throws → 500', async () => {
    const app = await componentApp({
      healthStatus: () => {
        throw new Error('db down');
      },
      predict: () => [[1]],
    });
    expect(
      expectError(
        await app.inject({ method: 'GET', url: '/health/status' }),
        500,
        'MICROSERVICE_INTERNAL_ERROR',
      ),
    ).toMatch(/db down/);
    await app.close();
  });

  test('bad metadata from initMetadata fails at start-up', async () => {
    await expect(
      componentApp({ predict: () => [[1]], initMetadata: () => ({ inputs: [{ shape: 'x' }] }) as never }),
    ).rejects.toThrow(/invalid model metadata/);
  });
});

describe('loading a component file', () => {
  test('no predict: the forest predicts on the fast path, with the component metrics and tags', async () => {
    const { default: Post } = (await import(fixture('components/post-model.js'))) as {
      default: new (c: object) => Component;
    };
    class MetricsOnly extends Post {}
    (MetricsOnly.prototype as { predict?: unknown }).predict = undefined;
    const model = new FakeModel();
    const { prepareComponent } = await import('../../src/serve/component.js');
    const component = prepareComponent(new MetricsOnly({ model }), model, 'metrics-only');
    const app = await componentApp(component);
    const res = await predict(app, {
      data: { names: ['events', 'age', 'income', 'response'], ndarray: [[2, 34, 100, 1]] },
    });
    expect(res.json()).toMatchObject({
      data: { names: ['t:0', 't:1', 't:2'] },
      meta: { tags: { variant: 'metrics' } },
    });
    expect(model.calls).toBe(1);
    expect(
      ((await app.inject({ method: 'GET', url: '/metadata' })).json() as { inputs: unknown[] }).inputs,
    ).toHaveLength(1);
    await app.close();
  });

  test('one-line usage errors naming the file', async () => {
    await expect(loadComponent('test/fixtures/components/missing.js')).rejects.toThrow(
      /cannot load component .*missing\.js: no such file/,
    );
    await expect(loadComponent(fixture('components/no-default.js'))).rejects.toThrow(
      /must have a class as its default export/,
    );
    await expect(loadComponent(fixture('components/post-model.js'))).resolves.toBeDefined();
    const err = await loadComponent(fixture('seldon-cases/README.md')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SegserveError);
    expect((err as SegserveError).kind).toBe('usage');
    expect((err as Error).message).not.toContain('\n');
  });

  test('a component without predict needs a model', async () => {
    const { prepareComponent } = await import('../../src/serve/component.js');
    expect(() => prepareComponent({ metrics: () => [] }, undefined, 'x.js')).toThrow(
      /defines no predict\(\) and no --model/,
    );
    expect(() => prepareComponent({ predict: 5 }, undefined, 'x.js')).toThrow(/predict must be a method/);
  });
});
