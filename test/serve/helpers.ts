/** Shared helpers for the serve tests: apps on the fake model, JSON requests, an exposition checker. */
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { ERRORS, errorEntry, type ServerErrorCode } from '../../src/errors.js';
import { type AppOptions, buildApp } from '../../src/serve/app.js';
import { type Component, ForestComponent } from '../../src/serve/component.js';
import { seldonSettings } from '../../src/serve/env.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { oipRoutes } from '../../src/serve/oip/routes.js';
import { Runtime, type RuntimeOptions } from '../../src/serve/runtime.js';
import { seldonErrorHandler, seldonRoutes } from '../../src/serve/seldon/routes.js';
import { FakeModel } from './fake-model.js';

/** The identity variables a SeldonDeployment sets (the recordings' `metrics` variant). */
export const OPERATOR_ENV: Record<string, string> = {
  PREDICTIVE_UNIT_ID: 'classifier',
  PREDICTIVE_UNIT_IMAGE: 'segserve/model:0.1',
  SELDON_DEPLOYMENT_ID: 'seg',
  PREDICTOR_ID: 'default',
  PREDICTOR_LABELS: '{"version":"v1"}',
};

export function forestApp(options: AppOptions = {}): Promise<FastifyInstance> {
  return buildApp(new ForestComponent(new FakeModel()), { env: {}, processMetrics: false, ...options });
}

export function componentApp(component: Component, options: AppOptions = {}): Promise<FastifyInstance> {
  return buildApp(component, { env: {}, processMetrics: false, ...options });
}

export function postJson(app: FastifyInstance, url: string, body: unknown): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function predict(app: FastifyInstance, body: unknown): Promise<LightMyRequestResponse> {
  return postJson(app, '/api/v1.0/predictions', body);
}

/** Asserts a Seldon error envelope with this HTTP status and reason; returns its info. */
export function expectError(res: LightMyRequestResponse, status: number, reason: string): string {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { status: { code: number; info: string; reason: string; status: number } };
  expect(Object.keys(body)).toEqual(['status']);
  expect(body.status.code).toBe(-1);
  expect(body.status.status).toBe(1);
  expect(body.status.reason).toBe(reason);
  expect(typeof body.status.info).toBe('string');
  expect(body.status.info.length).toBeGreaterThan(0);
  const code = expectErrorCode(res);
  expect(errorEntry(code).status, code).toBe(status);
  expect(errorEntry(code).reason, code).toBe(reason);
  return body.status.info;
}

/** The catalogue code of an error answer (its `x-segserve-error-code` header), checked to be one. */
export function expectErrorCode(res: LightMyRequestResponse): ServerErrorCode {
  const code = res.headers['x-segserve-error-code'];
  expect(typeof code, `no x-segserve-error-code header on ${res.statusCode} ${res.body}`).toBe('string');
  expect(Object.keys(ERRORS)).toContain(code);
  return code as ServerErrorCode;
}

/** The rows of a 200 prediction answer (ndarray or tensor), each checked to sum to 1. */
export function probabilityRows(res: LightMyRequestResponse): number[][] {
  expect(res.statusCode, res.body).toBe(200);
  const data = (
    res.json() as { data: { ndarray?: number[][]; tensor?: { shape: number[]; values: number[] } } }
  ).data;
  let rows: number[][];
  if (data.tensor) {
    const [n, k] = data.tensor.shape as [number, number];
    rows = Array.from({ length: n }, (_, i) => data.tensor?.values.slice(i * k, (i + 1) * k) ?? []);
  } else rows = data.ndarray ?? [];
  for (const row of rows) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  return rows;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses Prometheus text exposition and checks it is valid: one HELP and one TYPE per family, before
 * its samples; every sample belongs to the family above it; no series twice; well-formed labels.
 */
export function parseExposition(text: string): {
  samples: Sample[];
  types: Map<string, string>;
  helps: Map<string, string>;
} {
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  let family: string | undefined;
  const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const map = kind === 'HELP' ? helps : types;
      expect(map.has(name), `second # ${kind} for ${name}`).toBe(false);
      map.set(name, rest);
      family = name;
      continue;
    }
    const m = sampleRe.exec(line);
    expect(m, `malformed line: ${line}`).not.toBeNull();
    const [, name, , labelText, valueText] = m as unknown as [
      string,
      string,
      string,
      string | undefined,
      string,
    ];
    const type = family === undefined ? undefined : types.get(family);
    const suffixes =
      type === 'histogram'
        ? ['_bucket', '_sum', '_count']
        : type === 'summary'
          ? ['', '_sum', '_count']
          : [''];
    expect(
      family !== undefined && suffixes.some((s) => name === `${family}${s}`),
      `${name} outside its family`,
    ).toBe(true);
    const labels: Record<string, string> = {};
    if (labelText) {
      labelRe.lastIndex = 0;
      let at = 0;
      while (at < labelText.length) {
        labelRe.lastIndex = at;
        const lm = labelRe.exec(labelText);
        expect(lm, `malformed labels: ${labelText}`).not.toBeNull();
        const [whole, k, v] = lm as unknown as [string, string, string];
        expect(labels[k], `label ${k} twice`).toBeUndefined();
        labels[k] = v;
        at += whole.length;
      }
    }
    const key = `${name}{${Object.entries(labels)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}}`;
    expect(seen.has(key), `series twice: ${key}`).toBe(false);
    seen.add(key);
    // The text format's values: a float, +Inf, -Inf or NaN (prom-client's event-loop lag is NaN until
    // its first sample, so an early scrape legitimately shows it).
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    expect(valueText === 'NaN' || !Number.isNaN(value), `bad value in ${line}`).toBe(true);
    samples.push({ name, labels, value });
  }
  return { samples, types, helps };
}

export function findSample(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): Sample | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/**
 * A bare app serving `component` over both protocols with Runtime options that buildApp does not take
 * (yet): the protocols' own plugins and error handlers on a plain Fastify instance.
 */
export async function runtimeApp(
  component: Component,
  options: Partial<RuntimeOptions> = {},
): Promise<FastifyInstance> {
  const settings = seldonSettings({});
  const runtime = await Runtime.create(component, {
    settings,
    metrics: new ServeMetrics({ identity: settings.identity, processMetrics: false }),
    maxRows: 100_000,
    modelName: 'segserve',
    ...options,
  });
  const app = Fastify();
  app.setErrorHandler(seldonErrorHandler);
  await app.register(seldonRoutes, { runtime });
  await app.register(oipRoutes, { runtime, bodyLimit: 1 << 20 });
  return app;
}
