/**
 * Hot model reload of the built CLI under load: `POST /v2/repository/models/{name}/load` (and SIGHUP)
 * re-reads the model file, validates it completely and swaps it in every worker; a refused file is a
 * 400 naming the problem and the old model keeps serving. The version (the artifact's content digest)
 * is in /v2/models/{name}, /metadata, every OIP answer and `segserve_model_info{version}`; with two
 * workers both always serve the same one. 20 swaps alternating two models and an invalid file, 0 failed
 * requests.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { call, killAll, LOCAL, load, MODEL, samplesOf, sleep, startServer, until } from './prod-helpers.js';

afterEach(killAll);

let dir: string;
let modelA: string;
let modelB: string;
const INVALID = '{"format":{"name":"segserve-model","version":1},"features":[';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'segserve-reload-'));
  modelA = readFileSync(MODEL, 'utf8');
  // Another valid model: the same forest with other training facts, hence another content digest.
  const b = JSON.parse(modelA) as { training: { seed: number } };
  b.training.seed += 1;
  modelB = JSON.stringify(b);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Replaces the served file atomically (as a deployment tool would). */
function install(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** The versions `segserve_model_info` reports (one per version any worker serves). */
async function servedVersions(metricsPort: number): Promise<string[]> {
  return samplesOf((await call(metricsPort, 'GET', '/metrics')).body, 'segserve_model_info')
    .filter((s) => s.value === 1)
    .map((s) => s.labels.version as string)
    .sort();
}

const INFER = JSON.stringify({
  inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], data: [34, 100, 1, 2] }],
});

describe.each([1, 2])('reload with %i worker(s)', (workers) => {
  test('swaps under load: valid files swap everywhere, an invalid one is refused, nothing fails', async () => {
    const path = join(dir, `model-${workers}.json`);
    install(path, modelA);
    const server = await startServer(['--model', path, ...LOCAL, '--drain-delay', '0'], workers);
    const { port, metricsPort } = server;
    const first = JSON.parse((await call(port, 'GET', '/v2/models/segserve')).body) as { versions: string[] };
    expect(first.versions).toHaveLength(1);
    const versionA = first.versions[0] as string;
    expect(versionA).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await servedVersions(metricsPort)).toEqual([versionA]);
    const index = await call(port, 'POST', '/v2/repository/index');
    expect(JSON.parse(index.body)).toEqual([
      { name: 'segserve', state: 'READY', reason: '', version: versionA },
    ]);

    const traffic = load({
      port,
      connections: 32,
      path: '/v2/models/segserve/infer',
      body: INFER,
      label: (a) => (JSON.parse(a.body) as { model_version?: string }).model_version ?? 'none',
    });
    await until(() => (traffic.report.statuses.get(200) ?? 0) > 200, 10_000, 'answers under load');

    let current = versionA;
    let versionB: string | undefined;
    for (let swap = 0; swap < 20; swap++) {
      const invalid = swap % 5 === 4;
      install(path, invalid ? INVALID : swap % 2 === 0 ? modelB : modelA);
      const res = await call(port, 'POST', '/v2/repository/models/segserve/load');
      if (invalid) {
        expect(res.status, res.body).toBe(400);
        const { error } = JSON.parse(res.body) as { error: string };
        expect(error).toContain(path);
        expect(error).toMatch(/not valid JSON|truncated/);
      } else {
        expect(res.status, res.body).toBe(200);
        const { version } = JSON.parse(res.body) as { version: string };
        if (swap % 2 === 0) versionB = version;
        expect(version).toBe(swap % 2 === 0 ? versionB : versionA);
        current = version;
      }
      // Every worker serves `current`: one version in the gauge, and in the metadata.
      expect(await servedVersions(metricsPort)).toEqual([current]);
      const meta = JSON.parse((await call(port, 'GET', '/metadata')).body) as { versions: string[] };
      expect(meta.versions).toEqual([current]);
      await sleep(30);
    }
    expect(versionB).toBeDefined();
    expect(versionB).not.toBe(versionA);

    // SIGHUP reloads too.
    install(path, current === versionA ? modelB : modelA);
    const next = current === versionA ? versionB : versionA;
    server.child.kill('SIGHUP');
    await until(async () => (await servedVersions(metricsPort)).join() === next, 10_000, 'the SIGHUP reload');

    const report = await traffic.stop();
    expect(report.errors).toEqual([]);
    expect(report.dropped).toBe(0);
    expect([...report.statuses.keys()]).toEqual([200]);
    // Both models answered under load.
    expect([...report.seen.keys()].sort()).toEqual([versionA, versionB].sort());
    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });
});
