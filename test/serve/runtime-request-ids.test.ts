/**
 * Request ids on the protocol side (issue 10, point 6) and custom metrics in `meta` (point 9).
 *
 * Seldon: `meta.puid` is the request's own non-empty `meta.puid`, else the id the client sent in
 * `X-Request-Id` (or `Seldon-Puid`); an id the server generated is never a puid, because the wrapper
 * generates none (the recorded answers, e.g. case 01, have `meta: {}`). The component's predict()
 * receives the same puid. A custom metric with tags comes back with `"method"` added to them.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Component, SeldonMeta } from '../../src/serve/component.js';
import { componentApp, forestApp, OPERATOR_ENV } from './helpers.js';

const ROW = [[34.0, 100.0, 1, 2]];

function post(app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });
}

describe('Seldon meta.puid', () => {
  let forest: FastifyInstance;
  let comp: FastifyInstance;
  let seen: SeldonMeta | undefined;
  beforeAll(async () => {
    forest = await forestApp();
    const component: Component = {
      predict: (_X, _names, meta) => {
        seen = meta;
        return [[1, 0]];
      },
    };
    comp = await componentApp(component);
  });
  afterAll(async () => {
    await forest.close();
    await comp.close();
  });

  test('no id sent: no puid (as the wrapper, which generates none)', async () => {
    for (const app of [forest, comp]) {
      const res = await post(app, '/api/v1.0/predictions', { data: { ndarray: ROW } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().meta).toEqual({});
    }
    expect(seen).toEqual({});
  });

  test('X-Request-Id, else Seldon-Puid, becomes meta.puid; the request body’s own puid wins', async () => {
    for (const app of [forest, comp]) {
      const url = '/api/v1.0/predictions';
      const body = { data: { ndarray: ROW } };
      expect((await post(app, url, body, { 'x-request-id': 'r-1' })).json().meta).toEqual({ puid: 'r-1' });
      expect((await post(app, url, body, { 'seldon-puid': 'p-1' })).json().meta).toEqual({ puid: 'p-1' });
      expect(
        (await post(app, url, body, { 'x-request-id': 'r-2', 'seldon-puid': 'p-2' })).json().meta,
      ).toEqual({ puid: 'r-2' });
      const own = await post(
        app,
        url,
        { ...body, meta: { puid: 'mine', tags: { a: 1 } } },
        { 'x-request-id': 'r-3' },
      );
      expect(own.json().meta).toEqual({ puid: 'mine', tags: { a: 1 } });
      const empty = await post(app, url, { ...body, meta: { puid: '' } }, { 'x-request-id': 'r-4' });
      expect(empty.json().meta).toEqual({ puid: 'r-4' });
    }
    await post(comp, '/api/v1.0/predictions', { data: { ndarray: ROW } }, { 'x-request-id': 'r-5' });
    expect(seen).toEqual({ puid: 'r-5' });
  });

  test('feedback echoes the sent id too; an unusable header value is no id', async () => {
    const fb = await post(forest, '/api/v1.0/feedback', { reward: 1 }, { 'x-request-id': 'f-1' });
    expect(fb.json()).toEqual({ data: { ndarray: [] }, meta: { puid: 'f-1' } });
    const long = 'x'.repeat(200);
    const res = await post(
      forest,
      '/api/v1.0/predictions',
      { data: { ndarray: ROW } },
      { 'x-request-id': long },
    );
    expect(res.json().meta.puid).not.toBe(long);
  });
});

describe('meta.metrics', () => {
  test('a metric with tags comes back with method added; one without gets no tags key', async () => {
    const component: Component = {
      predict: () => [[1, 0]],
      metrics: () => [
        { type: 'COUNTER', key: 'plain', value: 1 },
        { type: 'GAUGE', key: 'tagged', value: 2, tags: { shard: 'a', method: 'mine' } },
      ],
    };
    const app = await componentApp(component, { env: OPERATOR_ENV });
    const res = await post(app, '/api/v1.0/predictions', { data: { ndarray: ROW } });
    expect(res.json().meta.metrics).toEqual([
      { type: 'COUNTER', key: 'plain', value: 1 },
      { type: 'GAUGE', key: 'tagged', value: 2, tags: { shard: 'a', method: 'predict' } },
    ]);
    const health = await app.inject({ method: 'GET', url: '/health/status' });
    expect(health.json().meta.metrics[1].tags).toEqual({ shard: 'a', method: 'health' });
    await app.close();
  });
});
