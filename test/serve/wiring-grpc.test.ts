/**
 * gRPC wired into `segserve serve` (spawned, the built CLI): served beside REST on --grpc-port, its
 * calls in the request histogram with protocol="grpc", swapped on reload, drained on SIGTERM, and
 * served by every worker with --workers N (each binds the port through node:cluster's shared handle).
 */
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { freePort } from '../helpers/net.js';
import { call, clients } from './grpc-helpers.js';
import { killAll, MODEL, samplesOf, startServer, until } from './prod-helpers.js';

afterEach(killAll);

const BASE = ['--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'];
const INFER = {
  model_name: 'segserve',
  id: 'g1',
  inputs: [
    { name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: [34, 100, 1, 2] } },
  ],
};

interface InferAnswer {
  id: string;
  model_version: string;
  outputs: { name: string; contents: { fp64_contents?: number[] } }[];
}

describe('segserve serve --grpc-port (one process)', () => {
  test('answers ModelInfer, meters it as protocol="grpc", swaps on SIGHUP, drains on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segserve-grpc-'));
    const model = join(dir, 'model.json');
    copyFileSync(MODEL, model);
    const grpcPort = await freePort();
    const server = await startServer([
      '--model',
      model,
      ...BASE,
      '--grpc-port',
      String(grpcPort),
      '--drain-delay',
      '1',
    ]);
    const line = server.lines.find((l) => l.msg === 'segserve serving') as Record<string, unknown>;
    expect(line.grpcPort).toBe(grpcPort);
    const c = await clients(grpcPort);
    try {
      const first = await call<InferAnswer>(c.oip, 'ModelInfer', INFER);
      expect(first.id).toBe('g1');
      expect(first.model_version).toBe(line.version);
      const p = first.outputs.find((o) => o.name === 'probabilities')?.contents.fp64_contents ?? [];
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);

      // One REST call too: both protocols in one histogram, told apart by the protocol label.
      await fetch(`http://127.0.0.1:${server.port}/api/v1.0/predictions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"data":{"ndarray":[[34,100,1,2]]}}',
      });
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
      const counts = samplesOf(text, 'seldon_api_executor_server_requests_seconds_count');
      const grpcPredictions = counts.find(
        (s) => s.labels.protocol === 'grpc' && s.labels.service === 'predictions',
      );
      expect(grpcPredictions?.labels).toMatchObject({ method: 'unary', code: 'OK' });
      expect(grpcPredictions?.value).toBe(1);
      const rest = counts.find((s) => s.labels.protocol === 'rest' && s.labels.service === 'predictions');
      expect(rest?.labels).toMatchObject({ method: 'post', code: '200' });

      // Reload another model: gRPC serves it too (its version is the new artifact's digest).
      // The same forest with other training facts: another content digest.
      const next = JSON.parse(readFileSync(MODEL, 'utf8')) as { training: { seed: number } };
      next.training.seed += 1;
      writeFileSync(`${model}.tmp`, JSON.stringify(next));
      renameSync(`${model}.tmp`, model);
      server.child.kill('SIGHUP');
      await until(() => server.lines.some((l) => l.msg === 'model reloaded'), 20_000, 'the reload');
      const reloaded = server.lines.find((l) => l.msg === 'model reloaded') as Record<string, unknown>;
      expect(reloaded.version).not.toBe(line.version);
      const second = await call<InferAnswer>(c.oip, 'ModelInfer', INFER);
      expect(second.model_version).toBe(reloaded.version);

      // SIGTERM: readiness NOT_SERVING during the drain delay while calls are still answered, exit 0.
      server.child.kill('SIGTERM');
      await until(() => server.lines.some((l) => l.msg === 'shutting down: draining'), 10_000, 'the drain');
      const health = await call<{ status: string }>(c.health, 'Check', { service: '' });
      expect(health.status).toBe('NOT_SERVING');
      const during = await call<InferAnswer>(c.oip, 'ModelInfer', INFER);
      expect(during.id).toBe('g1');
      expect((await server.exit).code).toBe(0);
    } finally {
      c.close();
    }
  });

  test('--grpc-port 0 turns gRPC off', async () => {
    const server = await startServer(['--model', MODEL, ...BASE, '--grpc-port', '0']);
    const line = server.lines.find((l) => l.msg === 'segserve serving') as Record<string, unknown>;
    expect(line.grpcPort).toBeUndefined();
  });
});

describe('segserve serve --workers 2 --grpc-port', () => {
  test('every worker serves gRPC on the one port; calls on separate connections all answer', async () => {
    const grpcPort = await freePort();
    const server = await startServer(
      ['--model', MODEL, ...BASE, '--grpc-port', String(grpcPort), '--drain-delay', '0'],
      2,
    );
    const serving = server.lines.filter((l) => l.msg === 'segserve serving');
    expect(serving).toHaveLength(2);
    for (const l of serving) expect(l.grpcPort).toBe(grpcPort);
    expect(new Set(serving.map((l) => l.pid)).size).toBe(2);
    // Eight clients, eight connections: node:cluster hands them to the workers round-robin.
    const many = await Promise.all(Array.from({ length: 8 }, () => clients(grpcPort)));
    try {
      const answers = await Promise.all(
        many.map((c, i) => call<InferAnswer>(c.oip, 'ModelInfer', { ...INFER, id: `w${i}` })),
      );
      expect(answers.map((a) => a.id)).toEqual(many.map((_, i) => `w${i}`));
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
      const grpcCount = samplesOf(text, 'seldon_api_executor_server_requests_seconds_count')
        .filter((s) => s.labels.protocol === 'grpc' && s.labels.service === 'predictions')
        .reduce((a, s) => a + s.value, 0);
      expect(grpcCount).toBe(8);
    } finally {
      for (const c of many) c.close();
    }
    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });
});
