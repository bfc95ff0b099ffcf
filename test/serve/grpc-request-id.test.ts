/**
 * Request ids over gRPC, as REST takes them (wiring-request-id.test.ts): the call metadata's
 * `x-request-id`, else `seldon-puid`, when a plain value (visible ASCII, at most 128 characters), else
 * a fresh UUID; answered in the initial metadata as `x-request-id` (errors included); the OIP answer's
 * `id` when the request has none; the Seldon `meta.puid` when the client sent the id and the message
 * has none (a generated id is never a puid, as REST). With a real @grpc/grpc-js client.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Component, ForestComponent } from '../../src/serve/component.js';
import { clientRequestId } from '../../src/serve/grpc/payload.js';
import type { PbSeldonMessage } from '../../src/serve/grpc/seldon.js';
import { toList, toValue } from '../../src/serve/grpc/values.js';
import { FakeModel } from './fake-model.js';
import { type Answer, callWith, type Served, serve } from './grpc-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ROW = [34.0, 100.0, 1, 2];
const SELDON_ROW: PbSeldonMessage = { data: { ndarray: toList([ROW]) } };
const INFER_ROW = {
  model_name: 'segserve',
  inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: ROW } }],
};

const idOf = (a: Answer<unknown>): unknown => a.head.get('x-request-id')[0];

describe('gRPC request ids (the forest)', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(new ForestComponent(new FakeModel()));
  });
  afterAll(() => s.close());

  test('OIP ModelInfer: x-request-id in → the same id back in metadata and as the answer id', async () => {
    const a = await callWith<{ id?: string }>(s.clients.oip, 'ModelInfer', INFER_ROW, {
      'x-request-id': 'order-42/7 retry',
    });
    expect(a.err).toBeUndefined();
    expect(idOf(a)).toBe('order-42/7 retry');
    expect(a.res?.id).toBe('order-42/7 retry');
  });

  test("OIP ModelInfer: the request's own id wins for the answer id; the header id is still echoed", async () => {
    const a = await callWith<{ id?: string }>(
      s.clients.oip,
      'ModelInfer',
      { ...INFER_ROW, id: 'body-id' },
      { 'x-request-id': 'rid-1' },
    );
    expect(idOf(a)).toBe('rid-1');
    expect(a.res?.id).toBe('body-id');
  });

  test('OIP ModelInfer: none in → a generated UUID, the same in metadata and answer id, new per call', async () => {
    const a = await callWith<{ id?: string }>(s.clients.oip, 'ModelInfer', INFER_ROW);
    const b = await callWith<{ id?: string }>(s.clients.oip, 'ModelInfer', INFER_ROW);
    expect(idOf(a)).toMatch(UUID);
    expect(a.res?.id).toBe(idOf(a));
    expect(idOf(b)).toMatch(UUID);
    expect(idOf(b)).not.toBe(idOf(a));
  });

  test.each(['model', 'seldon'] as const)(
    'Seldon %s Predict: x-request-id in → metadata and meta.puid; the message puid wins',
    async (service) => {
      const a = await callWith<PbSeldonMessage>(s.clients[service], 'Predict', SELDON_ROW, {
        'x-request-id': 'rid-7',
      });
      expect(a.err).toBeUndefined();
      expect(idOf(a)).toBe('rid-7');
      expect(a.res?.meta?.puid).toBe('rid-7');
      const own = await callWith<PbSeldonMessage>(
        s.clients[service],
        'Predict',
        { ...SELDON_ROW, meta: { puid: 'own-puid' } },
        { 'x-request-id': 'rid-8' },
      );
      expect(idOf(own)).toBe('rid-8');
      expect(own.res?.meta?.puid).toBe('own-puid');
    },
  );

  test('Seldon Predict: none in → a generated id in metadata, no puid (as REST)', async () => {
    const a = await callWith<PbSeldonMessage>(s.clients.model, 'Predict', SELDON_ROW);
    expect(idOf(a)).toMatch(UUID);
    expect(a.res?.meta?.puid ?? '').toBe('');
    // REST, the same request without headers: no puid either.
    const rest = await s.app.inject({
      method: 'POST',
      url: '/api/v1.0/predictions',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ data: { ndarray: [ROW] } }),
    });
    expect((rest.json() as { meta: { puid?: string } }).meta.puid).toBeUndefined();
  });

  test('seldon-puid is the fallback; x-request-id wins over it', async () => {
    const puid = await callWith<PbSeldonMessage>(s.clients.model, 'Predict', SELDON_ROW, {
      'seldon-puid': 'puid-1',
    });
    expect(idOf(puid)).toBe('puid-1');
    expect(puid.res?.meta?.puid).toBe('puid-1');
    const both = await callWith<PbSeldonMessage>(s.clients.model, 'Predict', SELDON_ROW, {
      'seldon-puid': 'puid-1',
      'x-request-id': 'rid-1',
    });
    expect(idOf(both)).toBe('rid-1');
    expect(both.res?.meta?.puid).toBe('rid-1');
  });

  test('an unusable id (over 128 characters, blank) is replaced by a UUID; 128 is kept', async () => {
    const long = await callWith(s.clients.oip, 'ModelInfer', INFER_ROW, { 'x-request-id': 'x'.repeat(129) });
    expect(idOf(long)).toMatch(UUID);
    const max = await callWith(s.clients.oip, 'ModelInfer', INFER_ROW, { 'x-request-id': 'x'.repeat(128) });
    expect(idOf(max)).toBe('x'.repeat(128));
    const blank = await callWith(s.clients.oip, 'ModelInfer', INFER_ROW, { 'x-request-id': ' ' });
    expect(idOf(blank)).toMatch(UUID);
  });

  test('an error answer carries the id in its metadata too', async () => {
    const a = await callWith(
      s.clients.oip,
      'ModelInfer',
      { ...INFER_ROW, model_name: 'nope' },
      { 'x-request-id': 'failing-1' },
    );
    expect(a.err?.code).toBe(grpc.status.NOT_FOUND);
    expect(idOf(a)).toBe('failing-1');
  });

  test('other calls (metadata, feedback) answer the id; feedback meta.puid is the client id, as REST', async () => {
    const md = await callWith(s.clients.oip, 'ServerMetadata', {}, { 'x-request-id': 'meta-1' });
    expect(idOf(md)).toBe('meta-1');
    const fb = await callWith<PbSeldonMessage>(
      s.clients.model,
      'SendFeedback',
      { request: SELDON_ROW, reward: 1 },
      { 'x-request-id': 'fb-1' },
    );
    expect(fb.err).toBeUndefined();
    expect(idOf(fb)).toBe('fb-1');
    expect(fb.res?.meta?.puid).toBe('fb-1');
    const rest = await s.app.inject({
      method: 'POST',
      url: '/api/v1.0/feedback',
      headers: { 'content-type': 'application/json', 'x-request-id': 'fb-1' },
      payload: JSON.stringify({ request: { data: { ndarray: [ROW] } }, reward: 1 }),
    });
    expect((rest.json() as { meta: { puid?: string } }).meta.puid).toBe('fb-1');
  });
});

describe('gRPC request ids (a component)', () => {
  const seen: unknown[] = [];
  const component: Component = {
    predict(X, _names, meta) {
      seen.push(meta?.puid);
      return (X as number[][]).map(() => [0.25, 0.75]);
    },
  };
  let s: Served;
  beforeAll(async () => {
    s = await serve(component);
  });
  afterAll(() => s.close());

  test("OIP: predict() receives the answer id as meta.puid (the client's id, else a generated one)", async () => {
    const a = await callWith<{ id?: string }>(s.clients.oip, 'ModelInfer', INFER_ROW, {
      'x-request-id': 'comp-1',
    });
    expect(a.err).toBeUndefined();
    expect(a.res?.id).toBe('comp-1');
    expect(seen.at(-1)).toBe('comp-1');
    const b = await callWith<{ id?: string }>(s.clients.oip, 'ModelInfer', INFER_ROW);
    expect(b.res?.id).toMatch(UUID);
    expect(seen.at(-1)).toBe(b.res?.id);
  });

  test("Seldon: predict() receives the client's id as meta.puid", async () => {
    const a = await callWith<PbSeldonMessage>(
      s.clients.model,
      'Predict',
      { data: { ndarray: toList([ROW]) }, meta: { tags: { a: toValue(1) } } },
      { 'x-request-id': 'comp-2' },
    );
    expect(a.err).toBeUndefined();
    expect(seen.at(-1)).toBe('comp-2');
    expect(a.res?.meta?.puid).toBe('comp-2');
  });
});

describe('clientRequestId', () => {
  const md = (entries: [string, string | Buffer][]) => {
    const m = new grpc.Metadata();
    for (const [k, v] of entries) m.add(k, v);
    return m;
  };
  test('the REST header rule over metadata', () => {
    expect(clientRequestId(md([]))).toBeUndefined();
    expect(clientRequestId(md([['x-request-id', 'a']]))).toBe('a');
    expect(clientRequestId(md([['seldon-puid', 'p']]))).toBe('p');
    expect(
      clientRequestId(
        md([
          ['x-request-id', 'x'.repeat(200)],
          ['seldon-puid', 'p'],
        ]),
      ),
    ).toBe('p');
    // Repeated: joined as Node joins a repeated HTTP header.
    expect(
      clientRequestId(
        md([
          ['x-request-id', 'a'],
          ['x-request-id', 'b'],
        ]),
      ),
    ).toBe('a, b');
  });
});
