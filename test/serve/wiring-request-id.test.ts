/**
 * The request id (app.ts genReqId, reply.ts send): the caller's X-Request-Id (else Seldon-Puid) when it
 * is a plain value, else a fresh UUID; echoed in X-Request-Id on every answer, errors included; in the
 * server's own error lines. And a readiness 503 while draining is not a warning.
 */

import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { requestId } from '../../src/serve/app.js';
import { componentApp, forestApp, postJson } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ROW = { data: { ndarray: [[34, 100, 1, 2]] } };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function post(a: FastifyInstance, headers: Record<string, string>, body: unknown = ROW) {
  return a.inject({
    method: 'POST',
    url: '/api/v1.0/predictions',
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });
}

describe('request ids', () => {
  test('a plain X-Request-Id is accepted and echoed', async () => {
    app = await forestApp();
    const res = await post(app, { 'x-request-id': 'order-42/7 retry' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('order-42/7 retry');
  });

  test('Seldon-Puid is the fallback; X-Request-Id wins over it', async () => {
    app = await forestApp();
    expect((await post(app, { 'seldon-puid': 'puid-1' })).headers['x-request-id']).toBe('puid-1');
    const both = await post(app, { 'seldon-puid': 'puid-1', 'x-request-id': 'rid-1' });
    expect(both.headers['x-request-id']).toBe('rid-1');
  });

  test('absent: a fresh UUID, a different one per request', async () => {
    app = await forestApp();
    const a = (await post(app, {})).headers['x-request-id'];
    const b = (await post(app, {})).headers['x-request-id'];
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
  });

  test('an invalid header (too long, control characters, blank) is replaced by a UUID', async () => {
    app = await forestApp();
    expect((await post(app, { 'x-request-id': 'x'.repeat(129) })).headers['x-request-id']).toMatch(UUID);
    expect((await post(app, { 'x-request-id': 'x'.repeat(128) })).headers['x-request-id']).toBe(
      'x'.repeat(128),
    );
    expect((await post(app, { 'x-request-id': ' ' })).headers['x-request-id']).toMatch(UUID);
    expect((await post(app, { 'x-request-id': 'café' })).headers['x-request-id']).toMatch(UUID);
    // Node refuses CR/LF in a header, so the function itself is checked for a tab.
    expect(requestId({ headers: { 'x-request-id': 'a\tb' } })).toMatch(UUID);
  });

  test('echoed on errors, 404s and the health routes too', async () => {
    app = await forestApp();
    const bad = await post(app, { 'x-request-id': 'bad-1' }, { data: { ndarray: [['x']] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['x-request-id']).toBe('bad-1');
    const missing = await app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'nf-1' } });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['x-request-id']).toBe('nf-1');
    const v2 = await postJson(app, '/v2/models/nope/infer', {});
    expect(v2.headers['x-request-id']).toMatch(UUID);
    const ping = await app.inject({ method: 'GET', url: '/health/ping', headers: { 'x-request-id': 'p-1' } });
    expect(ping.headers['x-request-id']).toBe('p-1');
  });

  test("segserve's own error lines about a request carry its id", async () => {
    // A component that fails: its 500 is logged at warn by reply.ts.
    app = await componentApp({
      predict() {
        throw new Error('boom');
      },
    });
    const warn = vi.spyOn(app.segserve.log, 'warn');
    const res = await post(app, { 'x-request-id': 'fails-1' });
    expect(res.statusCode).toBe(500);
    expect(res.headers['x-request-id']).toBe('fails-1');
    expect(warn).toHaveBeenCalled();
    expect(warn.mock.calls[0]?.[0]).toMatchObject({ reqId: 'fails-1' });
  });
});

describe('readiness while draining', () => {
  test('the 503 is answered but not logged at warn (nor error)', async () => {
    app = await forestApp();
    const warn = vi.spyOn(app.segserve.log, 'warn');
    const error = vi.spyOn(app.segserve.log, 'error');
    app.segserve.drain();
    const res = await app.inject({ method: 'GET', url: '/health/status' });
    expect(res.statusCode).toBe(503);
    const v2 = await app.inject({ method: 'GET', url: '/v2/health/ready' });
    expect(v2.statusCode).toBe(503);
    expect(warn).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });
});
