/**
 * Payload logging of gRPC predictions (`--log-url`) with a real @grpc/grpc-js client and a local sink:
 * the same PayloadLogger as REST; each ModelInfer / Predict logs a request and a response CloudEvent
 * sharing Ce-Id (the call's request id), bodies as JSON (proto3's JSON mapping: a Seldon message reads
 * as the REST body); `--log-mode request` logs requests only; an error answer is logged as REST logs
 * its error bodies; a dead sink fails no call.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, test } from 'vitest';
import { ForestComponent } from '../../src/serve/component.js';
import { messageJson } from '../../src/serve/grpc/payload.js';
import type { PbSeldonMessage } from '../../src/serve/grpc/seldon.js';
import {
  PayloadLogger,
  type PayloadLogMode,
  REQUEST_EVENT_TYPE,
  RESPONSE_EVENT_TYPE,
} from '../../src/serve/payload-log.js';
import { deadUrl } from '../helpers/net.js';
import { FakeModel } from './fake-model.js';
import { callWith, type Served, serve } from './grpc-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ROW = [34.0, 100.0, 1, 2];
const INFER_ROW = {
  model_name: 'segserve',
  inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: ROW } }],
};
const SELDON_ROW: PbSeldonMessage = {
  data: { ndarray: { values: [{ listValue: { values: ROW.map((v) => ({ numberValue: v })) } }] } },
};

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startSink(): Promise<{ url: string; events: Received[] }> {
  const events: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      events.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, events };
}

/** REST and gRPC on one runtime, both logging to `url` through one logger. */
async function served(url: string, mode: PayloadLogMode = 'all'): Promise<{ s: Served; log: PayloadLogger }> {
  const log = new PayloadLogger({
    url,
    mode,
    source: 'http://segserve-0:9000/',
    modelId: 'classifier',
    retries: 0,
  });
  const s = await serve(new ForestComponent(new FakeModel()), { payloadLog: log }, { payloadLog: log });
  cleanup.push(() => log.close(0));
  cleanup.push(() => s.close());
  return { s, log };
}

/** Lets the events of answered calls reach the queue (they are logged after the answer), then flushes. */
async function flush(log: PayloadLogger) {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return log.close(10_000);
}

const byType = (events: Received[], type: string) => events.filter((e) => e.headers['ce-type'] === type);

describe('gRPC payload logging', () => {
  test('N predictions over OIP and both Seldon services → 2N events with matching Ce-Id and types', async () => {
    const sink = await startSink();
    const { s, log } = await served(sink.url);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await callWith<{ id: string }>(s.clients.oip, 'ModelInfer', INFER_ROW, {
        'x-request-id': `oip-${i}`,
      });
      expect(a.err).toBeUndefined();
      ids.push(a.id);
    }
    for (const service of ['model', 'seldon'] as const) {
      const a = await callWith(s.clients[service], 'Predict', SELDON_ROW, {
        'x-request-id': `seldon-${service}`,
      });
      expect(a.err).toBeUndefined();
      ids.push(a.id);
    }
    // No id sent: the generated one is the events' Ce-Id.
    const anon = await callWith<{ id: string }>(s.clients.oip, 'ModelInfer', INFER_ROW);
    expect(anon.id).toMatch(UUID);
    ids.push(anon.id);
    // Calls that are not predictions are not logged.
    await callWith(s.clients.oip, 'ServerMetadata', {});

    const stats = await flush(log);
    const n = ids.length;
    expect(stats).toMatchObject({ sent: 2 * n, dropped: 0, failed: 0 });
    expect(sink.events).toHaveLength(2 * n);
    for (const id of ids) {
      const mine = sink.events.filter((e) => e.headers['ce-id'] === id);
      expect(mine.map((e) => e.headers['ce-type']).sort(), id).toEqual([
        REQUEST_EVENT_TYPE,
        RESPONSE_EVENT_TYPE,
      ]);
      for (const e of mine) {
        expect(e.headers['ce-requestid']).toBe(id);
        expect(e.headers['content-type']).toBe('application/json');
        expect(e.headers['ce-modelid']).toBe('classifier');
        expect(e.headers['ce-endpoint']).toBe('default');
      }
    }
    // The bodies: the messages as JSON.
    const oipRequest = byType(sink.events, REQUEST_EVENT_TYPE).find((e) => e.headers['ce-id'] === 'oip-0');
    expect(JSON.parse(oipRequest?.body ?? '')).toEqual({
      model_name: 'segserve',
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: ROW } }],
    });
    const anonResponse = byType(sink.events, RESPONSE_EVENT_TYPE).find((e) => e.headers['ce-id'] === anon.id);
    const answer = JSON.parse(anonResponse?.body ?? '') as {
      id: string;
      outputs: { name: string; contents: { fp64_contents: number[] } }[];
    };
    expect(answer.id).toBe(anon.id);
    expect(answer.outputs.find((o) => o.name === 'probabilities')?.contents.fp64_contents).toHaveLength(3);
  });

  test('a Seldon Predict logs the same JSON as the same prediction over REST', async () => {
    const sink = await startSink();
    const { s, log } = await served(sink.url);
    const restRes = await s.app.inject({
      method: 'POST',
      url: '/api/v1.0/predictions',
      headers: { 'content-type': 'application/json', 'x-request-id': 'rest-1' },
      payload: JSON.stringify({ data: { ndarray: [ROW] } }),
    });
    expect(restRes.statusCode).toBe(200);
    const a = await callWith(s.clients.model, 'Predict', SELDON_ROW, { 'x-request-id': 'grpc-1' });
    expect(a.err).toBeUndefined();
    await flush(log);
    expect(sink.events).toHaveLength(4);
    const body = (id: string, type: string) =>
      JSON.parse(
        sink.events.find((e) => e.headers['ce-id'] === id && e.headers['ce-type'] === type)?.body ?? '',
      );
    expect(body('grpc-1', REQUEST_EVENT_TYPE)).toEqual(body('rest-1', REQUEST_EVENT_TYPE));
    const restAnswer = body('rest-1', RESPONSE_EVENT_TYPE);
    const grpcAnswer = body('grpc-1', RESPONSE_EVENT_TYPE);
    expect(grpcAnswer.meta.puid).toBe('grpc-1');
    expect(restAnswer.meta.puid).toBe('rest-1');
    expect(grpcAnswer.data).toEqual(restAnswer.data);
  });

  test('--log-mode request: request events only', async () => {
    const sink = await startSink();
    const { s, log } = await served(sink.url, 'request');
    for (let i = 0; i < 4; i++) {
      const a = await callWith(s.clients.oip, 'ModelInfer', INFER_ROW, { 'x-request-id': `r-${i}` });
      expect(a.err).toBeUndefined();
    }
    const stats = await flush(log);
    expect(stats).toMatchObject({ sent: 4, dropped: 0, failed: 0 });
    expect(sink.events.map((e) => e.headers['ce-type'])).toEqual(Array(4).fill(REQUEST_EVENT_TYPE));
    expect(sink.events.map((e) => e.headers['ce-id']).sort()).toEqual(['r-0', 'r-1', 'r-2', 'r-3']);
  });

  test('--log-mode response: response events only', async () => {
    const sink = await startSink();
    const { s, log } = await served(sink.url, 'response');
    await callWith(s.clients.model, 'Predict', SELDON_ROW, { 'x-request-id': 'only-response' });
    await flush(log);
    expect(sink.events.map((e) => [e.headers['ce-type'], e.headers['ce-id']])).toEqual([
      [RESPONSE_EVENT_TYPE, 'only-response'],
    ]);
  });

  test('an error answer is logged as the response, as REST logs its error bodies', async () => {
    const sink = await startSink();
    const { s, log } = await served(sink.url);
    const bad = { ...INFER_ROW, inputs: [{ ...INFER_ROW.inputs[0], shape: [1, 5] }] };
    const a = await callWith(s.clients.oip, 'ModelInfer', bad, { 'x-request-id': 'bad-grpc' });
    expect(a.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const rest = await s.app.inject({
      method: 'POST',
      url: '/v2/models/segserve/infer',
      headers: { 'content-type': 'application/json', 'x-request-id': 'bad-rest' },
      payload: JSON.stringify({
        inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 5], data: [1, 2, 3, 4, 5] }],
      }),
    });
    expect(rest.statusCode).toBe(400);
    await flush(log);
    // REST logs both events of its 400; gRPC both of its INVALID_ARGUMENT.
    for (const id of ['bad-rest', 'bad-grpc']) {
      expect(
        sink.events
          .filter((e) => e.headers['ce-id'] === id)
          .map((e) => e.headers['ce-type'])
          .sort(),
      ).toEqual([REQUEST_EVENT_TYPE, RESPONSE_EVENT_TYPE]);
    }
    const response = sink.events.find(
      (e) => e.headers['ce-id'] === 'bad-grpc' && e.headers['ce-type'] === RESPONSE_EVENT_TYPE,
    );
    const status = JSON.parse(response?.body ?? '') as { code: number; message: string; metadata: object };
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.message).toBe(a.err?.details);
    expect(status.metadata).toMatchObject({ 'segserve-error-code': 'BAD_DATA' });
  });

  test('a dead sink: every call still succeeds; the events are counted as not delivered', async () => {
    const { s, log } = await served(await deadUrl());
    for (let i = 0; i < 5; i++) {
      const a = await callWith<{ id: string }>(s.clients.oip, 'ModelInfer', INFER_ROW, {
        'x-request-id': `d-${i}`,
      });
      expect(a.err).toBeUndefined();
      expect(a.res?.id).toBe(`d-${i}`);
      const b = await callWith(s.clients.seldon, 'Predict', SELDON_ROW);
      expect(b.err).toBeUndefined();
    }
    const stats = await log.close(0);
    expect(stats.sent).toBe(0);
    expect(stats.failed + stats.dropped).toBe(20);
  });
});

describe('messageJson', () => {
  test("proto3's JSON mapping where proto-loader's form differs", () => {
    const json = JSON.parse(
      messageJson({
        id: 'x',
        raw_input_contents: [Buffer.from([1, 2, 3])],
        parameters: { p: { string_param: 's', parameter_choice: 'string_param' } },
        outputs: [{ contents: { fp64_contents: [1, Number.NaN, Number.POSITIVE_INFINITY] } }],
        data_oneof: 'data',
        data: {
          data_oneof: 'ndarray',
          ndarray: {
            values: [{ kind: 'listValue', listValue: { values: [{ kind: 'nullValue', nullValue: 0 }] } }],
          },
        },
        jsonData: {
          kind: 'structValue',
          structValue: { fields: { a: { kind: 'stringValue', stringValue: 'b' } } },
        },
        meta: { tags: { t: { numberValue: 2 } }, metrics: [{ key: 'k', tags: { a: 'b' } }] },
      }),
    );
    expect(json).toEqual({
      id: 'x',
      raw_input_contents: ['AQID'],
      parameters: { p: { string_param: 's' } },
      outputs: [{ contents: { fp64_contents: [1, 'NaN', 'Infinity'] } }],
      data: { ndarray: [[null]] },
      jsonData: { a: 'b' },
      meta: { tags: { t: 2 }, metrics: [{ key: 'k', tags: { a: 'b' } }] },
    });
  });

  test('a message nested too deep is a one-line note, not an exception', () => {
    let v: unknown = { numberValue: 1 };
    for (let i = 0; i < 200; i++) v = { listValue: { values: [v] } };
    expect(JSON.parse(messageJson({ jsonData: v }))).toEqual({
      error: expect.stringMatching(/nests more than 64 levels/),
    });
  });
});
