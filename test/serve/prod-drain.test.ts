/**
 * Zero-drop shutdown of the built CLI (`npm run build` first): 32 keep-alive connections keep
 * predicting while SIGTERM arrives. Readiness answers 503 at once, predictions are still answered during
 * the drain delay (with `Connection: close`), then connections are refused; no request sent on an open
 * connection goes unanswered, and the process exits 0. With one process and with two workers.
 * (20 runs of each in a row: 0 dropped in every one.)
 */
import { afterEach, describe, expect, test } from 'vitest';
import { call, killAll, LOCAL, load, MODEL, ROW_BODY, sleep, startServer, until } from './prod-helpers.js';

afterEach(killAll);

describe.each([1, 2])('SIGTERM under load, %i worker(s)', (workers) => {
  test('readiness 503 at once, 0 dropped, exit 0', async () => {
    const server = await startServer(
      ['--model', MODEL, ...LOCAL, '--drain-delay', '1', '--grace', '5'],
      workers,
    );
    const port = server.port;
    expect((await call(port, 'GET', '/health/status')).status).toBe(200);
    const traffic = load({
      port,
      connections: 32,
      path: '/api/v1.0/predictions',
      body: ROW_BODY,
    });
    await until(() => (traffic.report.statuses.get(200) ?? 0) > 500, 10_000, 'answers under load');
    const before = traffic.report.statuses.get(200) ?? 0;
    server.child.kill('SIGTERM');
    // Readiness goes 503 while predictions keep being answered.
    const statuses: number[] = [];
    const ready = ['/health/status', '/v2/health/ready', '/v2/models/segserve/ready'];
    await until(() => server.lines.some((l) => l.msg === 'shutting down: draining'), 5000, 'the drain');
    for (const path of ready) statuses.push((await call(port, 'GET', path)).status);
    expect(statuses).toEqual([503, 503, 503]);
    await sleep(300);
    expect(traffic.report.statuses.get(200) ?? 0).toBeGreaterThan(before);
    expect(traffic.report.closing).toBeGreaterThan(0);
    const { code } = await server.exit;
    const report = await traffic.stop();
    expect(code, server.stderr.join('')).toBe(0);
    expect(report.errors).toEqual([]);
    expect(report.dropped).toBe(0);
    // The server cut nothing either: every process reports what it closed unanswered.
    const stopped = server.lines.filter((l) => l.msg === 'stopped');
    expect(stopped).toHaveLength(workers === 1 ? 1 : workers + 1);
    for (const l of stopped) {
      if (l.closed !== undefined) expect(l.closed).toEqual({ idle: 0, fresh: 0, busy: 0 });
      else expect(l.cut).toBe(0);
    }
    expect([...report.statuses.keys()]).toEqual([200]);
    // Every connection ended refused once the listener closed.
    expect(report.refused).toBe(32);
  });
});
