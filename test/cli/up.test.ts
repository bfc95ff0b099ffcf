import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

async function waitForText(text: () => string, wanted: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!text().includes(wanted)) {
    if (Date.now() > until) throw new Error(`"${wanted}" was not printed within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs `segserve up` in `cwd`; once the curl banner is printed, sends the post's request at once (no
 * retry: the banner comes only when the server listens), then stops it with SIGTERM.
 */
async function up(
  cwd: string,
): Promise<{ stdout: string; code: number | null; probabilities: number[]; grpcPort: number }> {
  // A free gRPC port too: test files run in parallel, and the default (5000) would collide.
  const [port, metricsPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawnCli(
    ['up', '--port', String(port), '--metrics-port', String(metricsPort), '--grpc-port', String(grpcPort)],
    { cwd },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b;
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await Promise.race([
      waitForText(() => stdout, 'stop with Ctrl-C', 90_000),
      exited.then((code) => {
        throw new Error(`up exited early with ${code}: ${stderr}`);
      }),
    ]);
    const answer = await fetch(`http://127.0.0.1:${port}/api/v1.0/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"data": {"names": ["age", "income", "response", "events"], "ndarray": [[34.0, 100.0, 1, 2]]}}',
    });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { data: { ndarray: number[][] } };
    child.kill('SIGTERM');
    return { stdout, code: await exited, probabilities: body.data.ndarray[0] ?? [], grpcPort };
  } finally {
    child.kill('SIGKILL');
  }
}

describe('segserve up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segserve-up-'));

  it("simulates, trains and serves in an empty folder: the post's request is segment 1", async () => {
    const first = await up(dir);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('== simulate: 5000 rows into data/customers.csv');
    expect(first.stdout).toContain("== train: the post's randomized search into artifacts/model.json");
    expect(first.stdout).toContain('report: artifacts/model.report.html');
    expect(first.stdout).toMatch(/curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\.0\/predictions/);
    expect(first.stdout).toContain(`gRPC on :${first.grpcPort}`);
    const p = first.probabilities;
    expect(p.indexOf(Math.max(...p))).toBe(1);
    expect(p[1]).toBeGreaterThanOrEqual(0.98);
    statSync(join(dir, 'artifacts', 'model.report.html'));
  });

  it('a second up reuses the data and the model', async () => {
    const data = statSync(join(dir, 'data', 'customers.csv')).mtimeMs;
    const model = statSync(join(dir, 'artifacts', 'model.json')).mtimeMs;
    const second = await up(dir);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('== simulate: reusing data/customers.csv');
    expect(second.stdout).toContain('== train: reusing artifacts/model.json');
    expect(statSync(join(dir, 'data', 'customers.csv')).mtimeMs).toBe(data);
    expect(statSync(join(dir, 'artifacts', 'model.json')).mtimeMs).toBe(model);
    expect(second.probabilities.indexOf(Math.max(...second.probabilities))).toBe(1);
  });
});
