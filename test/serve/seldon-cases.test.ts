/**
 * Replays every recorded Seldon Core v1 case (test/fixtures/seldon-cases, copied from the real v1.18.2
 * wrapper) through inject(), under section 0 of SELDON-PROTOCOL.md: the status (where segserve differs
 * on purpose, the POLICY below), top-level keys, names, payload form and shape, rows summing to 1, the
 * meta echo, the error envelope and its reason, the Prometheus families. Structure, not probability
 * values: the recordings used another model.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp, buildMetricsApp } from '../../src/serve/app.js';
import { ForestComponent, loadComponent } from '../../src/serve/component.js';
import { FakeModel } from './fake-model.js';
import { expectError, findSample, OPERATOR_ENV, parseExposition, probabilityRows } from './helpers.js';

const DIR = fileURLToPath(new URL('../fixtures/seldon-cases/', import.meta.url));
const POST_MODEL = fileURLToPath(new URL('../fixtures/components/post-model.js', import.meta.url));

interface RecordedRequest {
  name: string;
  note: string;
  variant: 'plain' | 'metrics';
  target: 'rest' | 'metrics';
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Case {
  request: RecordedRequest;
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON response, or the text of a .response.txt */
  response: unknown;
  text: string;
}

function loadCases(): Case[] {
  const names = readdirSync(DIR)
    .filter((f) => f.endsWith('.request.json'))
    .map((f) => f.replace('.request.json', ''))
    .sort();
  return names.map((name) => {
    const read = (ext: string) => readFileSync(`${DIR}${name}${ext}`, 'utf8');
    const request = JSON.parse(read('.request.json')) as RecordedRequest;
    const headers: Record<string, string> = {};
    for (const line of read('.headers').split('\n')) {
      const at = line.indexOf(':');
      if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
    }
    const isText = readdirSync(DIR).includes(`${name}.response.txt`);
    const text = read(isText ? '.response.txt' : '.response.json');
    return {
      request,
      status: Number(read('.status').trim()),
      headers,
      response: isText ? text : (JSON.parse(text) as unknown),
      text,
    };
  });
}

/**
 * Section 0: bad client input is a 400 MICROSERVICE_BAD_DATA naming row, column and what was expected
 * (the wrapper gave 500); a single flat row is one row; bare NaN is invalid JSON.
 */
const POLICY: Record<string, { status: number; reason?: string; info?: RegExp }> = {
  // The recording's model knew events = 12; ours knows the simulated 0..6, so that row is refused.
  '02_ndarray_multi': {
    status: 400,
    reason: 'MICROSERVICE_BAD_DATA',
    info: /^row 2, column "events": got 12, expected one of the known categories \[0, 1, 2, 3, 4, 5, 6\]/,
  },
  '04_ndarray_1d': { status: 200 },
  '07_tensor_bad_shape': {
    status: 400,
    reason: 'MICROSERVICE_BAD_DATA',
    info: /4 values.*shape \[2,4\] needs 8/,
  },
  // A record {feature: value} is predicted (docs/serving-schemas.md): the wrapper's forest gave 500.
  '08_jsonData': { status: 200 },
  '09_strData': { status: 400, reason: 'MICROSERVICE_BAD_DATA', info: /not strData/ },
  '11_empty_body': { status: 400, reason: 'MICROSERVICE_BAD_DATA', info: /Can't find JSON in data/ },
  '13_invalid_json': { status: 400, reason: 'MICROSERVICE_BAD_DATA', info: /Can't find JSON in data/ },
  '14_empty_object': { status: 400, reason: 'MICROSERVICE_BAD_DATA', info: /Invalid request data type/ },
  '15_meta_only': { status: 400, reason: 'MICROSERVICE_BAD_DATA', info: /Invalid request data type/ },
  '17_wrong_feature_count': {
    status: 400,
    reason: 'MICROSERVICE_BAD_DATA',
    info: /^row 0: got 3 values, expected 4 \(age, income, response, events\), missing column "events"/,
  },
  '18_non_numeric': {
    status: 400,
    reason: 'MICROSERVICE_BAD_DATA',
    info: /^row 0, column "income": got "abc", expected a finite number/,
  },
  '19_nan': { status: 400, reason: 'MICROSERVICE_BAD_DATA', info: /Can't find JSON in data/ },
  '22_ragged_rows': {
    status: 400,
    reason: 'MICROSERVICE_BAD_DATA',
    info: /^row 1: got 2 values, expected 4/,
  },
};

const CASES = loadCases();

function shapeOf(data: Record<string, unknown>): { form: string; shape: number[] } {
  if (data.tensor) return { form: 'tensor', shape: (data.tensor as { shape: number[] }).shape };
  const nd = data.ndarray as unknown[];
  return {
    form: 'ndarray',
    shape: Array.isArray(nd[0]) ? [nd.length, (nd[0] as unknown[]).length] : [nd.length],
  };
}

/** What a recorded success looks like with the fake model: the same structure. */
function expectSameStructure(c: Case, res: LightMyRequestResponse): void {
  const want = c.response as Record<string, unknown>;
  const got = res.json() as Record<string, unknown>;
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  expect(got.meta).toEqual(want.meta);
  if (want.data === undefined) {
    expect(got).toEqual(want);
    return;
  }
  const wd = want.data as Record<string, unknown>;
  const gd = got.data as Record<string, unknown>;
  expect(gd.names).toEqual(wd.names);
  expect(Object.keys(gd).sort()).toEqual(Object.keys(wd).sort());
  if (wd.ndarray !== undefined && (wd.ndarray as unknown[]).length === 0) {
    expect(gd.ndarray).toEqual([]);
    return;
  }
  expect(shapeOf(gd)).toEqual(shapeOf(wd));
  if (gd.tensor) {
    const t = gd.tensor as { shape: number[]; values: number[] };
    expect(t.values).toHaveLength((t.shape[0] as number) * (t.shape[1] as number));
  }
  probabilityRows(res);
}

async function replay(
  app: FastifyInstance,
  metricsApp: FastifyInstance,
  c: Case,
): Promise<LightMyRequestResponse> {
  const r = c.request;
  const target = r.target === 'metrics' ? metricsApp : app;
  return target.inject({
    method: r.method,
    url: r.path,
    headers: r.headers,
    ...(r.body === undefined ? {} : { payload: r.body }),
  });
}

for (const variant of ['plain', 'metrics'] as const) {
  describe(`recorded Seldon cases, variant ${variant}`, () => {
    let app: FastifyInstance;
    let metricsApp: FastifyInstance;
    const env = variant === 'metrics' ? OPERATOR_ENV : {};

    beforeAll(async () => {
      const model = new FakeModel();
      const component =
        variant === 'metrics' ? await loadComponent(POST_MODEL, model) : new ForestComponent(model);
      app = await buildApp(component, { env, processMetrics: false });
      const metrics = app.segserve.metrics;
      metricsApp = buildMetricsApp({
        path: '/metrics',
        collect: () => metrics.text(),
        contentType: metrics.contentType,
      });
    });
    afterAll(async () => {
      await app.close();
      await metricsApp.close();
    });

    // In file order, in one app: the Prometheus scrape (98) sees the feedback sent before it.
    const cases = CASES.filter((c) => c.request.variant === variant);
    test('has cases', () => expect(cases.length).toBeGreaterThan(0));
    for (const c of cases) {
      const policy = POLICY[c.request.name];
      const status = policy?.status ?? c.status;
      test(`${c.request.name}: ${c.request.note} → ${status}`, async () => {
        const res = await replay(app, metricsApp, c);
        expect(res.statusCode, res.body).toBe(status);
        if (c.headers['access-control-allow-origin'] && c.request.target === 'rest') {
          expect(res.headers['access-control-allow-origin']).toBe('*');
        }
        if (status >= 400) {
          const reason = policy?.reason ?? (c.response as { status: { reason: string } }).status.reason;
          const info = expectError(res, status, reason);
          if (policy?.info) expect(info).toMatch(policy.info);
          return;
        }
        const recordedType = c.headers['content-type'] ?? '';
        if (c.request.target === 'metrics') {
          // One charset, not the wrapper's doubled one (section 0).
          expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
          const ours = parseExposition(res.body);
          const theirs = parseExposition(c.text.replace(/ \d+\.\d+$/gm, (v) => ` ${Number(v)}`));
          for (const [family, type] of theirs.types) {
            expect(ours.types.get(family), family).toBe(type);
            // The wrapper prints no HELP; ours describes every family.
            expect(ours.helps.get(family), family).toMatch(/\S/);
          }
          for (const want of theirs.samples) {
            const got = findSample(ours.samples, want.name, { method: want.labels.method ?? '' });
            expect(got, want.name).toBeDefined();
            expect(Object.keys(got?.labels ?? {}).sort()).toEqual(Object.keys(want.labels).sort());
            expect(got?.labels.worker_id).toBe(String(process.pid));
          }
          // What this replay sent: one feedback (case 45) with reward 1.
          expect(findSample(ours.samples, 'seldon_api_model_feedback_total')?.value).toBe(1);
          expect(findSample(ours.samples, 'seldon_api_model_feedback_reward_total')?.value).toBe(1);
          return;
        }
        if (recordedType.startsWith('text/html')) {
          expect(res.headers['content-type']).toBe(recordedType);
          expect(res.body).toBe(c.text);
          return;
        }
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        if (c.request.path.includes('metadata')) {
          const want = c.response as Record<string, unknown>;
          const got = res.json() as Record<string, unknown>;
          expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
          for (const k of Object.keys(want)) expect(typeof got[k], k).toBe(typeof want[k]);
          expect(got.versions).toEqual(want.versions);
          // Real metadata for the forest: its inputs and classes.
          expect(got.inputs).toEqual([
            {
              messagetype: 'ndarray',
              schema: { names: ['age', 'income', 'response', 'events'], shape: [4] },
            },
          ]);
          expect(got.outputs).toEqual([
            { messagetype: 'ndarray', schema: { names: ['t:0', 't:1', 't:2'], shape: [3] } },
          ]);
          return;
        }
        if (c.request.name === '08_jsonData') {
          // One record: one row of probabilities and its predicted label, as jsonData.
          const body = res.json() as {
            jsonData: { names: string[]; probabilities: number[][]; predictions: number[] };
            meta: unknown;
          };
          expect(Object.keys(body).sort()).toEqual(['jsonData', 'meta']);
          expect(body.meta).toEqual({});
          expect(body.jsonData.names).toEqual(['t:0', 't:1', 't:2']);
          const model = new FakeModel();
          const want = model.predictProba([[34, 100, 1, 2]]);
          expect(body.jsonData.probabilities).toEqual(want);
          expect(body.jsonData.predictions).toEqual(model.predict([[34, 100, 1, 2]]));
          return;
        }
        if (c.status !== 200) {
          // Recorded as an error, a success under the policy: a single flat row is one row.
          const rows = probabilityRows(res);
          expect(rows).toHaveLength(1);
          expect(res.json()).toMatchObject({ data: { names: ['t:0', 't:1', 't:2'] }, meta: {} });
          return;
        }
        expectSameStructure(c, res);
      });
    }

    if (variant === 'plain') {
      test('02_ndarray_multi without its unknown category: the recorded structure, 2 rows', async () => {
        const c = CASES.find((k) => k.request.name === '02_ndarray_multi') as Case;
        const body = JSON.parse(c.request.body as string) as { data: { ndarray: number[][] } };
        body.data.ndarray = body.data.ndarray.slice(0, 2);
        const res = await replay(app, metricsApp, {
          ...c,
          request: { ...c.request, body: JSON.stringify(body) },
        });
        const want = c.response as { data: { ndarray: number[][] } };
        want.data.ndarray = want.data.ndarray.slice(0, 2);
        expectSameStructure({ ...c, response: want }, res);
      });
    }
  });
}
