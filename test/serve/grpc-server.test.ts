/**
 * The gRPC server around the services: grpc.health.v1 (Check and Watch, what Kubernetes' gRPC probes
 * call), readiness while the runtime drains, graceful drain (calls in flight finish, new calls are
 * UNAVAILABLE, the grace period cuts the rest), the request hook the metrics are fed from, a model
 * swap, a component's answers and failures, the message size limit, and a port in use.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Component, ForestComponent } from '../../src/serve/component.js';
import { startGrpcServer } from '../../src/serve/grpc/server.js';
import { ERROR_CODE_KEY, grpcCodeName } from '../../src/serve/grpc/status.js';
import { toList } from '../../src/serve/grpc/values.js';
import { FakeModel, PENGUIN_SCHEMA } from './fake-model.js';
import { call, callError, doublesOf, rawFp64, type Served, serve } from './grpc-helpers.js';
import { forestApp } from './helpers.js';

const ONE_ROW = {
  model_name: 'segserve',
  inputs: [
    { name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: [34, 100, 1, 2] } },
  ],
};

/** A promise and its resolver. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('health checking and readiness', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(new ForestComponent(new FakeModel()));
  });
  afterAll(() => s.close());

  test('Check: SERVING for "", each served service and "liveness"; NOT_FOUND for another name', async () => {
    for (const service of [
      '',
      'inference.GRPCInferenceService',
      'seldon.protos.Model',
      'seldon.protos.Seldon',
      'liveness',
    ]) {
      expect(await call(s.clients.health, 'Check', { service })).toEqual({ status: 'SERVING' });
    }
    const err = await callError(s.clients.health, 'Check', { service: 'foo.Bar' });
    expect(err.code).toBe(grpc.status.NOT_FOUND);
  });

  test('while the runtime drains: NOT_SERVING and ready false, liveness SERVING, predictions still served', async () => {
    s.app.segserve.drain();
    try {
      expect(await call(s.clients.health, 'Check', { service: '' })).toEqual({ status: 'NOT_SERVING' });
      expect(await call(s.clients.health, 'Check', { service: 'liveness' })).toEqual({ status: 'SERVING' });
      expect((await call<{ ready?: boolean }>(s.clients.oip, 'ServerReady', {})).ready ?? false).toBe(false);
      expect(
        (await call<{ ready?: boolean }>(s.clients.oip, 'ModelReady', { name: 'segserve' })).ready ?? false,
      ).toBe(false);
      expect((await s.app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(503);
      // As REST during the drain delay: predictions are answered until the listener closes.
      const res = await call<{ outputs: unknown[] }>(s.clients.oip, 'ModelInfer', ONE_ROW);
      expect(res.outputs).toHaveLength(2);
    } finally {
      s.app.segserve.runtime.draining = false;
    }
  });

  test('the request hook sees each measured call: service, RPC, status code', async () => {
    s.calls.length = 0;
    await call(s.clients.oip, 'ModelInfer', ONE_ROW);
    await callError(s.clients.oip, 'ModelInfer', { ...ONE_ROW, model_name: 'x' });
    await call(s.clients.model, 'Predict', { data: { ndarray: toList([[34, 100, 1, 2]]) } });
    await call(s.clients.oip, 'ServerLive', {});
    await call(s.clients.seldon, 'ModelMetadata', {});
    expect(s.calls).toEqual([
      { service: 'predictions', rpc: '/inference.GRPCInferenceService/ModelInfer', code: 0 },
      { service: 'predictions', rpc: '/inference.GRPCInferenceService/ModelInfer', code: 5 },
      { service: 'predictions', rpc: '/seldon.protos.Model/Predict', code: 0 },
      { service: 'metadata', rpc: '/seldon.protos.Seldon/ModelMetadata', code: 0 },
    ]);
    expect([0, 3, 5, 14].map(grpcCodeName)).toEqual(['OK', 'InvalidArgument', 'NotFound', 'Unavailable']);
  });

  test('swap: new calls are answered by the new runtime', async () => {
    const other = await forestApp();
    const penguins = await (await import('../../src/serve/app.js')).buildApp(
      new ForestComponent(new FakeModel(PENGUIN_SCHEMA)),
      { env: {}, processMetrics: false },
    );
    try {
      s.grpc.swap(penguins.segserve.runtime);
      const m = await call<{ inputs: { name: string }[] }>(s.clients.oip, 'ModelMetadata', {
        name: 'segserve',
      });
      expect(m.inputs.map((t) => t.name)).toContain('island');
    } finally {
      s.grpc.swap(other.segserve.runtime);
      await penguins.close();
    }
    const m = await call<{ inputs: { name: string }[] }>(s.clients.oip, 'ModelMetadata', {
      name: 'segserve',
    });
    expect(m.inputs.map((t) => t.name)).toContain('age');
    await other.close();
  });

  test('a message over the size limit: RESOURCE_EXHAUSTED', async () => {
    const small = await serve(new ForestComponent(new FakeModel()), {}, { maxMessageBytes: 1024 });
    try {
      const rows = 200;
      const err = await callError(small.clients.oip, 'ModelInfer', {
        model_name: 'segserve',
        inputs: [{ name: 'x', datatype: 'FP64', shape: [rows, 4] }],
        raw_input_contents: [rawFp64(new Array(rows * 4).fill(1))],
      });
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      await small.close();
    }
  });

  test('a port in use: a one-line error naming the address', async () => {
    const app = await forestApp();
    try {
      await expect(
        startGrpcServer({
          runtime: app.segserve.runtime,
          port: s.grpc.port,
          host: '127.0.0.1',
          log: { error() {}, warn() {} },
        }),
      ).rejects.toThrow(
        new RegExp(`cannot listen on 127.0.0.1:${s.grpc.port} \\(gRPC\\): the address is already in use`),
      );
    } finally {
      await app.close();
    }
  });
});

describe('graceful drain', () => {
  test('calls in flight finish, a new call is UNAVAILABLE, Watch ends on NOT_SERVING; drain reports clean', async () => {
    const started = deferred();
    const release = deferred<number[][]>();
    const component: Component = {
      predict: () => {
        started.resolve();
        return release.promise;
      },
    };
    const s = await serve(component);
    try {
      const watched: string[] = [];
      const watch = s.clients.health.Watch({ service: '' });
      const ended = new Promise<void>((resolve) => {
        watch.on('data', (m: { status: string }) => watched.push(m.status));
        watch.on('end', resolve);
        watch.on('error', () => resolve());
      });
      const first = deferred();
      watch.once('data', () => first.resolve());
      await first.promise;

      const inFlight = call(s.clients.model, 'Predict', { strData: 'x' });
      await started.promise;
      const drained = s.grpc.drain(10_000);
      expect(s.grpc.closing).toBe(true);
      const refused = await callError(s.clients.seldon, 'Predict', { strData: 'y' });
      expect(refused.code).toBe(grpc.status.UNAVAILABLE);
      release.resolve([[0.25, 0.75]]);
      const answer = await inFlight;
      expect(answer).toMatchObject({ data: { tensor: { shape: [1, 2], values: [0.25, 0.75] } } });
      expect(await drained).toBe(true);
      await ended;
      expect(watched).toEqual(['SERVING', 'NOT_SERVING']);
    } finally {
      await s.close();
    }
  });

  test('a call that outlives the grace period is cut, and drain says so', async () => {
    const started = deferred();
    const s = await serve({
      predict: () => {
        started.resolve();
        return new Promise<never>(() => {});
      },
    });
    try {
      const inFlight = callError(s.clients.model, 'Predict', { strData: 'x' });
      await started.promise;
      expect(await s.grpc.drain(50)).toBe(false);
      const err = await inFlight;
      expect([grpc.status.CANCELLED, grpc.status.UNAVAILABLE, grpc.status.INTERNAL]).toContain(err.code);
    } finally {
      await s.close();
    }
  });
});

describe('a component over the Open Inference Protocol', () => {
  let s: Served;
  let answer: unknown = [[0.1, 0.9]];
  beforeAll(async () => {
    s = await serve({
      predict: (X) => {
        if (Array.isArray(X) && X[0] && (X[0] as unknown[])[0] === -1) throw new Error('boom');
        return answer as number[][];
      },
    });
  });
  afterAll(() => s.close());

  test('its rows reach predict(); the answer is the output "predict", typed or raw', async () => {
    const typed = await call<{
      outputs: { name: string; shape: number[]; contents: { fp64_contents: number[] } }[];
    }>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: [{ name: 'a', datatype: 'FP64', shape: [1], contents: { fp64_contents: [3] } }],
    });
    expect(typed.outputs).toEqual([
      { name: 'predict', datatype: 'FP64', shape: [1, 2], contents: { fp64_contents: [0.1, 0.9] } },
    ]);
    const raw = await call<{ raw_output_contents: Buffer[] }>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: [{ name: 'a', datatype: 'FP64', shape: [1] }],
      raw_input_contents: [rawFp64([3])],
    });
    expect(doublesOf(raw.raw_output_contents[0] as Buffer)).toEqual([0.1, 0.9]);
  });

  test('an answer the protocol cannot carry: UNIMPLEMENTED; a throwing predict: UNKNOWN (COMPONENT_ERROR)', async () => {
    answer = 'text';
    try {
      const err = await callError(s.clients.oip, 'ModelInfer', {
        model_name: 'segserve',
        inputs: [{ name: 'a', datatype: 'FP64', shape: [1], contents: { fp64_contents: [3] } }],
      });
      expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      answer = [[0.1, 0.9]];
    }
    const err = await callError(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: [{ name: 'a', datatype: 'FP64', shape: [1], contents: { fp64_contents: [-1] } }],
    });
    expect(err.code).toBe(grpc.status.UNKNOWN);
    expect(err.metadata.get(ERROR_CODE_KEY)).toEqual(['COMPONENT_ERROR']);
    expect(err.details).toMatch(/predict\(\) failed: .*boom/);
  });
});
