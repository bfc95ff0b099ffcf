/**
 * Bounds on what a request may be (in process, through inject): JSON nesting deeper than MAX_JSON_DEPTH
 * is a 400 on every route and in every place JSON travels (body, form field, query parameter, multipart
 * part; Seldon and Open Inference), found by a byte scan before parsing; brackets inside strings do
 * not count; the bound itself is accepted. The scan is checked against JSON.parse on random texts.
 */
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadArtifact } from '../../src/pipeline/artifact.js';
import { buildApp } from '../../src/serve/app.js';
import { ForestComponent } from '../../src/serve/component.js';
import { MAX_JSON_DEPTH } from '../../src/serve/constants.js';
import { depthExceededAt } from '../../src/serve/json-depth.js';

const MODEL = 'test/fixtures/model.json';
const DEEP = 100_000;
const TOO_DEEP = new RegExp(`nests arrays and objects more than ${MAX_JSON_DEPTH} deep`);

const arrays = (d: number, inner = '1') => `${'['.repeat(d)}${inner}${']'.repeat(d)}`;
const objects = (d: number, inner = '1') => `${'{"a":'.repeat(d)}${inner}${'}'.repeat(d)}`;
const mixed = (d: number) => `${'[{"a":'.repeat(d / 2)}1${'}]'.repeat(d / 2)}`;

/** A deep value wrapped in each place a request carries JSON: [route, content type, body] per shape. */
function shapes(deep: string): [string, string, string, string][] {
  const json = 'application/json';
  const form = 'application/x-www-form-urlencoded';
  return [
    ['body: top-level array', '/api/v1.0/predictions', json, deep],
    ['body: data.ndarray', '/api/v1.0/predictions', json, `{"data":{"ndarray":${deep}}}`],
    [
      'body: data.tensor.values',
      '/api/v1.0/predictions',
      json,
      `{"data":{"tensor":{"shape":[1],"values":${deep}}}}`,
    ],
    ['body: jsonData', '/api/v1.0/predictions', json, `{"jsonData":${deep}}`],
    [
      'body: meta.tags',
      '/api/v1.0/predictions',
      json,
      `{"data":{"ndarray":[[34,100,1,2]]},"meta":{"tags":{"t":${deep}}}}`,
    ],
    ['body: /predict', '/predict', json, `{"data":{"ndarray":${deep}}}`],
    ['feedback: request', '/api/v1.0/feedback', json, `{"request":{"data":{"ndarray":${deep}}},"reward":1}`],
    ['feedback: truth', '/api/v1.0/feedback', json, `{"truth":${deep},"reward":1}`],
    [
      'form field json',
      '/api/v1.0/predictions',
      form,
      `json=${encodeURIComponent(`{"data":{"ndarray":${deep}}}`)}`,
    ],
    [
      'OIP: inputs[0].data',
      '/v2/models/segserve/infer',
      json,
      `{"inputs":[{"name":"age","datatype":"FP64","shape":[1],"data":${deep}}]}`,
    ],
    ['OIP: parameters', '/v2/models/segserve/infer', json, `{"inputs":[],"parameters":{"p":${deep}}}`],
    ['OIP: top-level', '/v2/models/segserve/infer', json, deep],
    ['OIP: generic route', '/v2/models/other/infer', json, deep],
  ];
}

let app: FastifyInstance;
beforeAll(async () => {
  const { model } = await loadArtifact(MODEL);
  app = await buildApp(new ForestComponent(model), {
    env: {},
    processMetrics: false,
    bodyLimit: 50 * 1024 * 1024,
  });
});
afterAll(() => app.close());

function post(url: string, type: string, payload: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload });
}

describe('deeply nested JSON is a 400, never a 500', () => {
  for (const [name, build] of [
    ['arrays', (d: number) => arrays(d)],
    ['objects', (d: number) => objects(d)],
    ['mixed', mixed],
  ] as const) {
    test.each(shapes(build(DEEP)))(`${name} in %s`, async (_what, url, type, payload) => {
      const res = await post(url, type, payload);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.body).toMatch(TOO_DEEP);
    });
  }

  test('a ?json= query parameter and a multipart part too', async () => {
    const deep = arrays(2000);
    const query = await app.inject({
      method: 'GET',
      url: `/predict?json=${encodeURIComponent(`{"data":{"ndarray":${deep}}}`)}`,
    });
    expect(query.statusCode, query.body).toBe(400);
    expect(query.body).toMatch(TOO_DEEP);
    const boundary = 'XyZ';
    const multipart = await app.inject({
      method: 'POST',
      url: '/api/v1.0/predictions',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n{"ndarray":${deep}}\r\n--${boundary}--\r\n`,
    });
    expect(multipart.statusCode, multipart.body).toBe(400);
    expect(multipart.body).toMatch(TOO_DEEP);
  });

  test('brackets inside strings do not count; the bound itself is not refused for depth', async () => {
    const inString = JSON.stringify({
      data: { ndarray: [[34, 100, 1, 2]] },
      meta: { tags: { note: `[{"\\\\"${'['.repeat(DEEP)}` } },
    });
    expect((await post('/api/v1.0/predictions', 'application/json', inString)).statusCode).toBe(200);
    // MAX_JSON_DEPTH levels: data.ndarray's rows at the bottom of nested tags.
    const atBound = `{"data":{"ndarray":[[34,100,1,2]]},"meta":{"tags":{"t":${arrays(MAX_JSON_DEPTH - 3)}}}}`;
    expect(depthExceededAt(atBound)).toBe(-1);
    expect((await post('/api/v1.0/predictions', 'application/json', atBound)).statusCode).toBe(200);
    const overBound = `{"data":{"ndarray":[[34,100,1,2]]},"meta":{"tags":{"t":${arrays(MAX_JSON_DEPTH - 2)}}}}`;
    expect(depthExceededAt(overBound)).toBeGreaterThan(0);
    expect((await post('/api/v1.0/predictions', 'application/json', overBound)).statusCode).toBe(400);
  });
});

/** The nesting depth of a parsed value (what the scan must find in its text). */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (typeof v === 'object' && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

test('the scan agrees with the parsed depth of any JSON, strings with brackets and escapes included', () => {
  const value = fc.letrec((tie) => ({
    leaf: fc.oneof(
      fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a') }),
      fc.integer(),
      fc.constant(null),
    ),
    node: fc.oneof(
      { depthSize: 'small' },
      tie('leaf'),
      fc.array(tie('node'), { maxLength: 3 }),
      fc.dictionary(fc.string({ unit: fc.constantFrom('[', '{', '"', 'k') }), tie('node'), { maxKeys: 3 }),
    ),
  })).node;
  fc.assert(
    fc.property(value, fc.integer({ min: 0, max: 8 }), (v, max) => {
      const text = JSON.stringify(v);
      expect(depthExceededAt(text, max) >= 0).toBe(depthOf(v) > max);
    }),
    { numRuns: 2000 },
  );
});
