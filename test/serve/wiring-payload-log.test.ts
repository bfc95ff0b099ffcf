/**
 * Payload logging wired into `segserve serve --log-url` (spawned, the built CLI): every prediction's
 * request and response reach the sink as CloudEvents sharing the request id; a dead sink fails no
 * prediction and its lost events are counted on /metrics. gRPC predictions go to the same sink.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { freePort } from '../helpers/net.js';
import { callWith, clients } from './grpc-helpers.js';
import { killAll, LOCAL, MODEL, ROW_BODY, samplesOf, startServer, until } from './prod-helpers.js';

afterEach(killAll);

interface Event {
  id: string;
  type: string;
  requestId: string;
  body: string;
}

/** A sink that stores every event and answers 200. */
async function sink(): Promise<{ server: Server; url: string; events: Event[] }> {
  const events: Event[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      events.push({
        id: String(req.headers['ce-id']),
        type: String(req.headers['ce-type']),
        requestId: String(req.headers['ce-requestid']),
        body,
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, events };
}

async function predictions(port: number, n: number): Promise<{ status: number; id: string | null }[]> {
  const out: { status: number; id: string | null }[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1.0/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': `req-${i}` },
      body: ROW_BODY,
    });
    await res.text();
    out.push({ status: res.status, id: res.headers.get('x-request-id') });
  }
  return out;
}

interface Outcomes {
  sent: number;
  dropped: number;
  failed: number;
}

async function outcomes(metricsPort: number): Promise<Outcomes> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const out: Outcomes = { sent: 0, dropped: 0, failed: 0 };
  for (const s of samplesOf(text, 'segserve_payload_log_events_total'))
    out[s.labels.outcome as keyof Outcomes] = s.value;
  return out;
}

describe('segserve serve --log-url', () => {
  test('100 predictions: 200 events, request and response sharing Ce-Id (the request id)', async () => {
    const s = await sink();
    try {
      const server = await startServer([
        '--model',
        MODEL,
        ...LOCAL,
        '--drain-delay',
        '0',
        '--log-url',
        s.url,
      ]);
      const answers = await predictions(server.port, 100);
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(answers.map((a) => a.id)).toEqual(answers.map((_, i) => `req-${i}`));
      await until(() => s.events.length >= 200, 20_000, '200 events at the sink');
      expect(s.events).toHaveLength(200);
      for (let i = 0; i < 100; i++) {
        const mine = s.events.filter((e) => e.id === `req-${i}`);
        expect(mine.map((e) => e.type).sort()).toEqual([
          'io.seldon.serving.inference.request',
          'io.seldon.serving.inference.response',
        ]);
        for (const e of mine) expect(e.requestId).toBe(`req-${i}`);
        expect(mine.find((e) => e.type.endsWith('request'))?.body).toBe(ROW_BODY);
        expect(mine.find((e) => e.type.endsWith('response'))?.body).toContain('"ndarray"');
      }
      // Health and metadata are not predictions: no events.
      await fetch(`http://127.0.0.1:${server.port}/health/status`);
      await until(async () => (await outcomes(server.metricsPort)).sent === 200, 10_000, 'sent = 200');
      expect(s.events).toHaveLength(200);
      server.child.kill('SIGTERM');
      expect((await server.exit).code).toBe(0);
    } finally {
      s.server.close();
    }
  });

  test('gRPC predictions reach the same sink, under their metadata request id', async () => {
    const s = await sink();
    const grpcPort = await freePort();
    const server = await startServer([
      '--model',
      MODEL,
      ...LOCAL.slice(0, -2), // all but its '--grpc-port 0'
      '--grpc-port',
      String(grpcPort),
      '--drain-delay',
      '0',
      '--log-url',
      s.url,
    ]);
    const c = await clients(grpcPort);
    try {
      for (let i = 0; i < 5; i++) {
        const answer = await callWith<{ id: string }>(
          c.oip,
          'ModelInfer',
          {
            model_name: 'segserve',
            inputs: [
              {
                name: 'input-0',
                datatype: 'FP64',
                shape: [1, 4],
                contents: { fp64_contents: [34, 100, 1, 2] },
              },
            ],
          },
          { 'x-request-id': `g-${i}` },
        );
        expect(answer.res?.id).toBe(`g-${i}`);
        expect(answer.id).toBe(`g-${i}`);
      }
      await until(() => s.events.length >= 10, 20_000, '10 events at the sink');
      for (let i = 0; i < 5; i++) {
        const mine = s.events.filter((e) => e.id === `g-${i}`);
        expect(mine.map((e) => e.type).sort()).toEqual([
          'io.seldon.serving.inference.request',
          'io.seldon.serving.inference.response',
        ]);
        expect(mine.find((e) => e.type.endsWith('response'))?.body).toContain('"probabilities"');
      }
      server.child.kill('SIGTERM');
      expect((await server.exit).code).toBe(0);
    } finally {
      c.close();
      s.server.close();
    }
  });

  test('sink down: no prediction fails; the lost events are counted on /metrics and at shutdown', async () => {
    const s = await sink();
    const deadUrl = s.url;
    await new Promise<void>((r) => s.server.close(() => r()));
    const server = await startServer([
      '--model',
      MODEL,
      ...LOCAL,
      '--drain-delay',
      '0',
      '--grace',
      '1',
      '--log-url',
      deadUrl,
      '--log-mode',
      'all',
    ]);
    const answers = await predictions(server.port, 100);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    await until(async () => (await outcomes(server.metricsPort)).failed > 0, 20_000, 'failures counted');
    const counted = await outcomes(server.metricsPort);
    expect(counted.sent).toBe(0);
    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
    const closed = server.lines.find((l) => l.msg === 'payload log closed') as unknown as Outcomes;
    expect(closed.sent).toBe(0);
    // Every event ends in one outcome: what was not attempted by the end of the grace is dropped.
    expect(closed.failed + closed.dropped).toBe(200);
  });
});
