/**
 * Property: whatever a client sends (arbitrary JSON on any route, SeldonMessage-shaped JSON with
 * arbitrary parts, arbitrary bytes under any content type), the answer is never a 5xx, always the
 * error envelope when it is an error, and the process keeps serving.
 */
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ForestComponent } from '../../src/serve/component.js';
import { penguinModel } from './fake-model.js';
import { componentApp, forestApp } from './helpers.js';

const ROUTES = [
  ['POST', '/api/v1.0/predictions'],
  ['POST', '/api/v0.1/predictions'],
  ['POST', '/predict'],
  ['GET', '/predict'],
  ['POST', '/api/v1.0/feedback'],
  ['POST', '/send-feedback'],
  ['GET', '/health/status'],
  ['GET', '/metadata'],
  ['POST', '/metadata'],
  ['POST', '/nowhere'],
] as const;

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'multipart/form-data',
  'text/plain',
  'application/octet-stream',
  undefined,
] as const;

let app: FastifyInstance;
beforeAll(async () => {
  app = await forestApp({ maxRows: 50, bodyLimit: 64 * 1024 });
});
afterAll(() => app.close());

function check(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBeLessThan(500);
  expect(res.headers['access-control-allow-origin']).toBe('*');
  if (res.statusCode >= 400) {
    const body = res.json() as { status?: { reason?: unknown; code?: unknown } };
    expect(body.status?.code).toBe(-1);
    expect(typeof body.status?.reason).toBe('string');
  }
  // Never a bare NaN/Infinity: every JSON answer parses.
  if (String(res.headers['content-type']).startsWith('application/json'))
    expect(() => res.json()).not.toThrow();
}

const cell = fc.oneof(
  fc.double(),
  fc.integer({ min: -2, max: 8 }),
  fc.constantFrom(0, 1, 2, 34.5, 100, -0),
  fc.string({ maxLength: 4 }),
  fc.constant(null),
  fc.boolean(),
  fc.jsonValue({ maxDepth: 2 }),
);
const rows = fc.oneof(
  fc.array(fc.array(cell, { minLength: 0, maxLength: 6 }), { maxLength: 8 }),
  fc.array(cell, { maxLength: 6 }),
  fc.jsonValue({ maxDepth: 3 }),
);
const names = fc.oneof(
  fc.shuffledSubarray(['age', 'income', 'response', 'events', 'segment', 'x']),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 5 }),
);
const seldonMessage = fc.record(
  {
    data: fc.oneof(
      fc.record({ ndarray: rows, names }, { requiredKeys: ['ndarray'] }),
      fc.record(
        {
          tensor: fc.record(
            {
              shape: fc.oneof(
                fc.array(fc.integer({ min: -1, max: 6 }), { maxLength: 3 }),
                fc.jsonValue({ maxDepth: 1 }),
              ),
              values: fc.oneof(fc.array(cell, { maxLength: 24 }), fc.jsonValue({ maxDepth: 1 })),
            },
            { requiredKeys: [] },
          ),
          names,
        },
        { requiredKeys: ['tensor'] },
      ),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    jsonData: fc.jsonValue({ maxDepth: 2 }),
    strData: fc.jsonValue({ maxDepth: 1 }),
    binData: fc.oneof(fc.base64String({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 })),
    meta: fc.oneof(
      fc.record(
        {
          puid: fc.jsonValue({ maxDepth: 1 }),
          tags: fc.jsonValue({ maxDepth: 2 }),
          routing: fc.jsonValue({ maxDepth: 1 }),
          requestPath: fc.jsonValue({ maxDepth: 1 }),
          metrics: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 1 }),
    ),
  },
  { requiredKeys: [] },
);

test('SeldonMessage-shaped JSON with arbitrary parts never gives a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(seldonMessage, fc.constantFrom(...ROUTES.slice(0, 6)), async (msg, [method, url]) => {
      const body = JSON.stringify(msg);
      const res =
        method === 'GET'
          ? await app.inject({ method, url: `${url}?json=${encodeURIComponent(body)}` })
          : await app.inject({ method, url, headers: { 'content-type': 'application/json' }, payload: body });
      check(res);
    }),
    { numRuns: 400 },
  );
});

test('feedback with arbitrary parts never gives a 5xx', async () => {
  const feedback = fc.record(
    {
      request: seldonMessage,
      response: seldonMessage,
      truth: seldonMessage,
      reward: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(feedback, async (fb) => {
      check(
        await app.inject({
          method: 'POST',
          url: '/api/v1.0/feedback',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(fb),
        }),
      );
    }),
    { numRuns: 200 },
  );
});

test('arbitrary JSON on any route never gives a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), fc.constantFrom(...ROUTES), async (value, [method, url]) => {
      const body = JSON.stringify(value);
      const res =
        method === 'GET'
          ? await app.inject({ method, url: `${url}?json=${encodeURIComponent(body)}` })
          : await app.inject({ method, url, headers: { 'content-type': 'application/json' }, payload: body });
      check(res);
    }),
    { numRuns: 300 },
  );
});

test('arbitrary bytes under any content type never give a 5xx', async () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 256 }),
    fc.string({ unit: 'binary', maxLength: 128 }).map((s) => new TextEncoder().encode(s)),
    // Near-misses of the forms we read.
    fc
      .constantFrom(
        '--xyz\r\nContent-Disposition: form-data; name="data"\r\n\r\n{"ndarray":[[1,2,1,2]]}\r\n--xyz--\r\n',
        '--xyz\r\nContent-Disposition: form-data; name="data"\r\n\r\n{"ndarray"',
        '--xyz\r\nContent-Disposition: form-data; name="binData"; filename="a"\r\n\r\n\u0000\u0001',
        '--xyz\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\n{}\r\n--xyz--\r\n',
        'json=%7B%22data%22%3A%7B%22ndarray%22%3A%5B%5B1%2C2%2C1%2C2%5D%5D%7D%7D',
        'json=%ZZ&json=1',
        '{"data":{"ndarray":[[NaN,1,1,1]]}}',
        '{"data":{"ndarray":[[1,2,1,2]]},"__proto__":{"x":1}}',
      )
      .map((s) => new TextEncoder().encode(s)),
  );
  await fc.assert(
    fc.asyncProperty(
      bytes,
      fc.constantFrom(...CONTENT_TYPES),
      fc.constantFrom(...ROUTES),
      async (payload, type, [method, url]) => {
        const res = await app.inject({
          method,
          url,
          headers: type === undefined ? {} : { 'content-type': type },
          payload: Buffer.from(payload),
        });
        check(res);
      },
    ),
    { numRuns: 500 },
  );
});

test('still serving afterwards', async () => {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1.0/predictions',
    headers: { 'content-type': 'application/json' },
    payload: '{"data":{"ndarray":[[34.0,100.0,1,2]]}}',
  });
  expect(res.statusCode).toBe(200);
});

test('a model with string categories: arbitrary rows, records and v2 inputs never give a 5xx', async () => {
  const penguins = await componentApp(new ForestComponent(penguinModel()), { maxRows: 50 });
  const value = fc.oneof(
    cell,
    fc.constantFrom('Biscoe', 'Dream', 'Torgersen', 'male', 'female', 'Atlantis', '', '1'),
  );
  const feature = fc.constantFrom('island', 'bill_length_mm', 'flipper_length_mm', 'body_mass_g', 'sex', 'x');
  const body = fc.oneof(
    fc.record({
      data: fc.record({ ndarray: fc.array(fc.array(value, { maxLength: 6 }), { maxLength: 4 }) }),
    }),
    fc.record({
      data: fc.record({
        names: fc.uniqueArray(feature, { maxLength: 6 }),
        ndarray: fc.array(fc.array(value, { maxLength: 6 }), { maxLength: 4 }),
      }),
    }),
    fc.record({ jsonData: fc.oneof(fc.dictionary(feature, value), fc.array(fc.dictionary(feature, value))) }),
  );
  const input = fc.record({
    name: feature,
    datatype: fc.constantFrom('FP64', 'FP32', 'INT64', 'INT32', 'BYTES'),
    shape: fc.oneof(fc.constant([2]), fc.constant([2, 1]), fc.constant([2, 5])),
    data: fc.oneof(
      fc.array(value, { maxLength: 10 }),
      fc.array(fc.array(value, { maxLength: 5 }), { maxLength: 2 }),
    ),
  });
  await fc.assert(
    fc.asyncProperty(body, fc.array(input, { minLength: 1, maxLength: 6 }), async (msg, inputs) => {
      const v1 = await penguins.inject({
        method: 'POST',
        url: '/api/v1.0/predictions',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(msg),
      });
      check(v1);
      const v2 = await penguins.inject({
        method: 'POST',
        url: '/v2/models/segserve/infer',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ inputs }),
      });
      expect(v2.statusCode, v2.body).toBeLessThan(500);
      expect(() => v2.json()).not.toThrow();
    }),
    { numRuns: 300 },
  );
  await penguins.close();
});
