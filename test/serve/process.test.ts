/**
 * The built CLI as a process (`npm run build` first; `npm test` does it): SIGTERM during a slow
 * in-flight request lets it finish and exits 0; the grace period bounds the wait; a bad model fails
 * before listening with one line; a tiny real artifact serves; --workers aggregates metrics.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { findSample, parseExposition } from './helpers.js';

const SLOW = 'test/fixtures/components/slow.js';
const COUNTER = 'test/fixtures/components/counter.js';
const LOCAL = [
  '--host',
  '127.0.0.1',
  '--port',
  '0',
  '--metrics-port',
  '0',
  '--grpc-port',
  '0',
  '--drain-delay',
  '0',
];

interface Running {
  child: ChildProcessWithoutNullStreams;
  lines: Record<string, unknown>[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts `segserve serve ...` and resolves once a log line matches `ready`. */
function start(
  args: string[],
  ready: (line: Record<string, unknown>) => boolean,
  env: Record<string, string> = {},
) {
  const child = spawnCli(['serve', ...args], { env });
  children.push(child);
  const running: Running = {
    child,
    lines: [],
    stderr: [],
    exit: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal }))),
  };
  child.stderr.on('data', (b: Buffer) => running.stderr.push(b.toString()));
  let buffer = '';
  return new Promise<{ running: Running; line: Record<string, unknown> }>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      buffer += b.toString();
      let at = buffer.indexOf('\n');
      while (at >= 0) {
        const text = buffer.slice(0, at);
        buffer = buffer.slice(at + 1);
        at = buffer.indexOf('\n');
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        running.lines.push(line);
        if (ready(line)) resolve({ running, line });
      }
    });
    void running.exit.then(({ code }) =>
      reject(new Error(`exited ${code} before ready: ${running.stderr.join('')}`)),
    );
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request on a fresh connection (no keep-alive agent). */
function call(port: number, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const slowBody = (ms: number) => JSON.stringify({ jsonData: {}, meta: { tags: { sleepMs: ms } } });
const isServing = (l: Record<string, unknown>) => l.msg === 'segserve serving';

describe('graceful shutdown', () => {
  test('SIGTERM during a slow request: it completes, new connections are refused, exit 0', async () => {
    // No drain delay here: the listener closes at once (test/serve/prod-drain.test.ts tests the delay).
    const { running, line } = await start(
      ['--component', SLOW, ...LOCAL, '--grace', '10', '--drain-delay', '0'],
      isServing,
    );
    const port = line.port as number;
    expect((await call(port, 'GET', '/health/status')).status).toBe(200);
    // A ?json= larger than Node's header limit gets the envelope too.
    const huge = await call(port, 'GET', `/predict?json=${'x'.repeat(20_000)}`);
    expect(huge.status).toBe(431);
    expect(JSON.parse(huge.body)).toMatchObject({ status: { reason: 'MICROSERVICE_HEADERS_TOO_LARGE' } });

    const started = Date.now();
    const inFlight = call(port, 'POST', '/api/v1.0/predictions', slowBody(1500));
    await sleep(400);
    running.child.kill('SIGTERM');
    await sleep(300);
    await expect(call(port, 'GET', '/health/ping')).rejects.toThrow(/ECONNREFUSED/);
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      data: { names: ['t:0', 't:1', 't:2'], tensor: { shape: [1, 3], values: [0.2, 0.3, 0.5] } },
      meta: { tags: { sleepMs: 1500 } },
    });
    expect(answer.headers.connection).toBe('close');
    const { code } = await running.exit;
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(running.lines.map((l) => l.msg)).toContain('stopped');
  });

  test('the grace period bounds the wait: a request slower than it is cut, exit 1', async () => {
    const { running, line } = await start(['--component', SLOW, ...LOCAL, '--grace', '0.5'], isServing);
    const inFlight = call(line.port as number, 'POST', '/api/v1.0/predictions', slowBody(5000));
    await sleep(300);
    const started = Date.now();
    running.child.kill('SIGINT');
    await expect(inFlight).rejects.toThrow();
    const { code } = await running.exit;
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('start-up', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segserve-serve-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a missing, truncated or foreign model exits non-zero with one line, before listening', async () => {
    writeFileSync(join(dir, 'truncated.json'), '{"format":{"name":"segserve-model","vers');
    writeFileSync(join(dir, 'foreign.json'), '{"hello":"world"}');
    for (const file of ['missing.json', 'truncated.json', 'foreign.json']) {
      const r = await runCli(['serve', '--model', join(dir, file), ...LOCAL]);
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^segserve: .*${file.replace('.', '\\.')}`));
      expect(r.stdout).not.toContain('listening');
    }
    const badEnv = await runCli(['serve', '--component', SLOW, ...LOCAL], {
      env: { SELDON_LOG_LEVEL: 'LOUD' },
    });
    expect(badEnv.code).toBe(2);
    // (The catalogue code at the end of the line, when the CLI prints one.)
    expect(badEnv.stderr).toMatch(
      /^segserve: SELDON_LOG_LEVEL=LOUD: expected DEBUG, INFO, WARNING or ERROR( \[SEGSERVE_ERR_\w+\])?\n$/,
    );
    const samePort = await runCli(['serve', '--component', SLOW, '--port', '7000', '--metrics-port', '7000']);
    expect(samePort.code).toBe(2);
    const taken = createServer();
    await new Promise<void>((res) => taken.listen(0, '127.0.0.1', res));
    const port = String((taken.address() as AddressInfo).port);
    const busy = await runCli([
      'serve',
      '--component',
      SLOW,
      '--host',
      '127.0.0.1',
      '--port',
      port,
      '--metrics-port',
      '0',
      '--grpc-port',
      '0',
    ]);
    taken.close();
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(
      new RegExp(
        `^segserve: cannot listen on 127\\.0\\.0\\.1:${port} \\(HTTP\\): the address is already in use( \\[SEGSERVE_ERR_\\w+\\])?\n$`,
      ),
    );
  });

  test('a tiny real artifact serves predictions and metrics; the Seldon environment is honoured', async () => {
    const leaf = (p: number[]) => p;
    const artifact = {
      format: { name: 'segserve-model', version: 1 },
      segserveVersion: '0.1.0',
      target: 'segment',
      features: [
        { name: 'age', kind: 'numeric' },
        { name: 'income', kind: 'numeric' },
        { name: 'response', kind: 'categorical', categories: [0, 1] },
        { name: 'events', kind: 'categorical', categories: [0, 1, 2, 3, 4, 5, 6] },
      ],
      classes: [0, 1, 2],
      params: {
        n_estimators: 1,
        max_depth: null,
        min_samples_split: 2,
        min_samples_leaf: 1,
        max_features: 'sqrt',
        bootstrap: true,
      },
      forest: {
        trees: [
          {
            feature: [0, -1, -1],
            threshold: [50, 0, 0],
            left: [1, -1, -1],
            right: [2, -1, -1],
            value: [...leaf([0.5, 0.25, 0.25]), ...leaf([0.25, 0.5, 0.25]), ...leaf([0.75, 0, 0.25])],
          },
        ],
      },
      training: {
        seed: 1,
        data: { path: 'customers.csv', sha256: '0'.repeat(64), rows: 10 },
        split: { testSize: 0.4, trainRows: 6, testRows: 4 },
        testAccuracy: 0.5,
        confusionMatrix: [
          [1, 0, 0],
          [0, 1, 0],
          [1, 0, 1],
        ],
      },
    };
    const path = join(dir, 'tiny.json');
    writeFileSync(path, JSON.stringify(artifact));
    const { running, line } = await start(['--model', path, ...LOCAL, '--model-name', 'tiny'], isServing, {
      PREDICTIVE_UNIT_METRICS_ENDPOINT: '/prometheus',
      PREDICTIVE_UNIT_ID: 'classifier',
      PREDICTIVE_UNIT_IMAGE: 'segserve/model:0.1',
    });
    expect(line.metricsPath).toBe('/prometheus');
    const res = await call(
      line.port as number,
      'POST',
      '/api/v1.0/predictions',
      JSON.stringify({
        data: {
          ndarray: [
            [34, 100, 1, 2],
            [61, 25.5, 0, 0],
          ],
        },
      }),
    );
    expect(res.status, res.body).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      data: {
        names: ['t:0', 't:1', 't:2'],
        ndarray: [
          [0.25, 0.5, 0.25],
          [0.75, 0, 0.25],
        ],
      },
      meta: { requestPath: { classifier: 'segserve/model:0.1' } },
    });
    const bad = await call(
      line.port as number,
      'POST',
      '/api/v1.0/predictions',
      '{"data":{"ndarray":[[34,100,7,2]]}}',
    );
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).status.info).toMatch(/^row 0, column "response": got 7/);
    const md = JSON.parse((await call(line.port as number, 'GET', '/metadata')).body) as { name: string };
    expect(md.name).toBe('tiny');
    const scrape = await call(line.metricsPort as number, 'GET', '/prometheus');
    expect(scrape.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    // prom-client prints NaN as "Nan" (event-loop lag before its first sample); Prometheus reads either.
    const { samples, types } = parseExposition(scrape.body.replace(/ Nan$/gm, ' NaN'));
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(findSample(samples, 'segserve_predictions_total', { segment: '1' })?.value).toBe(1);
    expect((await call(line.metricsPort as number, 'GET', '/metrics')).status).toBe(404);
    running.child.kill('SIGTERM');
    expect((await running.exit).code).toBe(0);
  });
});

test('--workers 2: requests spread over workers, metrics aggregated on the primary, SIGTERM exits 0', async () => {
  const { running, line } = await start(
    ['--component', COUNTER, ...LOCAL, '--workers', '2'],
    (l) => l.msg === 'segserve primary',
  );
  const metricsPort = line.metricsPort as number;
  // Wait for both workers.
  const deadline = Date.now() + 15_000;
  while (running.lines.filter(isServing).length < 2 && Date.now() < deadline) await sleep(50);
  const workers = running.lines.filter(isServing);
  expect(workers).toHaveLength(2);
  const port = workers[0]?.port as number;
  for (let i = 0; i < 8; i++) {
    const res = await call(port, 'POST', '/api/v1.0/predictions', '{"data":{"ndarray":[[1]]}}');
    expect(res.status).toBe(200);
  }
  const { samples } = parseExposition(
    (await call(metricsPort, 'GET', '/metrics')).body.replace(/ Nan$/gm, ' NaN'),
  );
  const served = samples.filter((s) => s.name === 'served_total');
  expect(served.reduce((a, s) => a + s.value, 0)).toBe(8);
  expect(new Set(served.map((s) => s.labels.worker_id)).size).toBe(2);
  const count = findSample(samples, 'seldon_api_executor_server_requests_seconds_count', {
    service: 'predictions',
  });
  expect(count?.value).toBe(8);
  running.child.kill('SIGTERM');
  expect((await running.exit).code).toBe(0);
});
