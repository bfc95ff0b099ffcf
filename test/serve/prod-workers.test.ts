/**
 * Supervised workers (the built CLI, --workers 2): a worker killed with SIGKILL under load is replaced
 * within seconds while the other keeps answering (failures bounded by the dead worker's in-flight
 * requests); replacements that fail never take the healthy worker down; the service ends (exit 1) only
 * when no worker can serve. `segserve_workers` and `segserve_worker_restarts_total` say so.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import {
  call,
  killAll,
  LOCAL,
  load,
  MODEL,
  ROW_BODY,
  samplesOf,
  sleep,
  startServer,
  until,
} from './prod-helpers.js';

afterEach(killAll);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'segserve-workers-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const workerPids = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => l.msg === 'segserve serving').map((l) => l.pid as number);

async function gauges(metricsPort: number) {
  const text = (await call(metricsPort, 'GET', '/metrics')).body;
  const workers = samplesOf(text, 'segserve_workers');
  return {
    serving: workers.find((s) => s.labels.state === 'serving')?.value,
    desired: workers.find((s) => s.labels.state === 'desired')?.value,
    restarts: samplesOf(text, 'segserve_worker_restarts_total')[0]?.value,
  };
}

test('kill -9 of one worker under load: still answering, back to 2 workers', async () => {
  const server = await startServer(['--model', MODEL, ...LOCAL, '--drain-delay', '0'], 2);
  expect(await gauges(server.metricsPort)).toEqual({ serving: 2, desired: 2, restarts: 0 });
  const traffic = load({ port: server.port, connections: 32, path: '/api/v1.0/predictions', body: ROW_BODY });
  await until(() => (traffic.report.statuses.get(200) ?? 0) > 500, 10_000, 'answers under load');
  const [victim] = workerPids(server.lines);
  process.kill(victim as number, 'SIGKILL');
  const answered = traffic.report.statuses.get(200) ?? 0;
  await until(() => workerPids(server.lines).length === 3, 10_000, 'a replacement worker');
  await until(async () => (await gauges(server.metricsPort)).serving === 2, 5000, 'two serving');
  await sleep(200);
  const report = await traffic.stop();
  // Answers went on, and at most the dead worker's in-flight requests (one per connection) failed.
  expect(report.statuses.get(200) ?? 0).toBeGreaterThan(answered);
  expect([...report.statuses.keys()]).toEqual([200]);
  expect(report.dropped).toBeLessThanOrEqual(32);
  expect(report.refused).toBe(0);
  expect(await gauges(server.metricsPort)).toEqual({ serving: 2, desired: 2, restarts: 1 });
  server.child.kill('SIGTERM');
  expect((await server.exit).code).toBe(0);
});

test('replacements that fail never take the healthy worker down; no worker left, the service ends', async () => {
  const mark = join(dir, 'fail');
  const component = join(dir, 'flaky.mjs');
  // A component whose constructor throws while the mark file exists.
  writeFileSync(
    component,
    `import { existsSync } from 'node:fs';
export default class Flaky {
  constructor() { if (existsSync(${JSON.stringify(mark)})) throw new Error('cannot start now'); }
  predict() { return [[1]]; }
}
`,
  );
  const server = await startServer(['--component', component, ...LOCAL, '--drain-delay', '0'], 2);
  writeFileSync(mark, '');
  const [first, second] = workerPids(server.lines);
  process.kill(first as number, 'SIGKILL');
  // Replacements fail (with back-off); the other worker keeps answering.
  await until(
    () => server.lines.filter((l) => l.msg === 'a worker failed to start: trying again').length >= 2,
    10_000,
    'failed replacements',
  );
  const answer = await call(server.port, 'POST', '/api/v1.0/predictions', '{"data":{"ndarray":[[1]]}}');
  expect(answer.status).toBe(200);
  expect(await gauges(server.metricsPort)).toMatchObject({ serving: 1, desired: 2 });
  expect(server.child.exitCode).toBeNull();
  // The healthy worker gone too, and replacements still failing: nothing can serve, the service ends.
  process.kill(second as number, 'SIGKILL');
  const { code } = await server.exit;
  expect(code).toBe(1);
  expect(
    server.lines.some((l) => l.msg === 'no worker is serving and replacements keep failing: stopping'),
  ).toBe(true);
});
