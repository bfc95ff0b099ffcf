/**
 * The metrics exposition passes `promtool check metrics` (Prometheus' own linter; Debian's `prometheus`
 * package): every family segserve prints has HELP text and a valid name and type, with one process and
 * with the cluster primary's aggregation of two workers, custom metrics included. prom-client's own
 * `nodejs_active_*_total` gauges (a name promtool dislikes, not ours) are set aside. Skipped where
 * promtool is not installed.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { call, killAll, LOCAL, startServer } from './prod-helpers.js';

afterEach(killAll);

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const PROM_CLIENT_OWN =
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

describe.skipIf(!promtool).each([1, 2])('promtool check metrics, %i worker(s)', (workers) => {
  test('nothing of segserve own is reported', async () => {
    const server = await startServer(
      ['--component', 'test/fixtures/components/counter.js', ...LOCAL, '--drain-delay', '0'],
      workers,
    );
    for (let i = 0; i < 4; i++) {
      const res = await call(server.port, 'POST', '/api/v1.0/predictions', '{"data":{"ndarray":[[1]]}}');
      expect(res.status).toBe(200);
    }
    const text = (await call(server.metricsPort, 'GET', '/metrics')).body;
    expect(text).toContain('# HELP served_total ');
    expect(text).toContain('# HELP segserve_workers ');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const problems = `${r.stdout}${r.stderr}`
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !PROM_CLIENT_OWN.test(l));
    expect(problems).toEqual([]);
    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });
});
