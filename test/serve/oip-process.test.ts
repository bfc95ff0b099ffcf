/**
 * The built CLI as a container platform starts it (`npm run build` first; `npm test` does it):
 * KServe's `PORT=<p> PROTOCOL=v2 segserve serve --model ...` answers /v2/health/ready on port p, and the
 * image's `SEGSERVE_MODEL` names the model; a bad PROTOCOL fails before listening with one line.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { OIP_READY_PATH, SELDON_LIVENESS_PATH } from '../../src/serve/constants.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

const MODEL = 'test/fixtures/model.json';

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts `segserve serve ...` and resolves with its "segserve serving" log line. */
function serve(args: string[], env: Record<string, string>): Promise<Record<string, unknown>> {
  const child = spawnCli(['serve', ...args], { env });
  children.push(child);
  const stderr: string[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b.toString()));
  let buffer = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      buffer += b.toString();
      for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
        const text = buffer.slice(0, at);
        buffer = buffer.slice(at + 1);
        try {
          const line = JSON.parse(text) as Record<string, unknown>;
          if (line.msg === 'segserve serving') resolve(line);
        } catch {}
      }
    });
    child.on('close', (code) => reject(new Error(`exited ${code} before serving: ${stderr.join('')}`)));
  });
}

const LOCAL = ['--host', '127.0.0.1', '--metrics-port', '0', '--grpc-port', '0'];

describe('as KServe starts it', () => {
  test('PORT=<p> PROTOCOL=v2 segserve serve --model ... answers /v2/health/ready on p', async () => {
    const port = await freePort();
    const line = await serve(['--model', MODEL, ...LOCAL], { PORT: String(port), PROTOCOL: 'v2' });
    expect(line).toMatchObject({ port, protocol: 'v2' });
    const ready = await fetch(`http://127.0.0.1:${port}${OIP_READY_PATH}`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    // The real artifact answers v2 inference, and v1 on the same port.
    const infer = await fetch(`http://127.0.0.1:${port}/v2/models/segserve/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: '1',
        inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [34, 100, 1, 2] }],
      }),
    });
    expect(infer.status).toBe(200);
    const body = (await infer.json()) as { id: string; outputs: { name: string; data: number[] }[] };
    expect(body.id).toBe('1');
    const p = body.outputs[0]?.data ?? [];
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect((await fetch(`http://127.0.0.1:${port}${SELDON_LIVENESS_PATH}`)).status).toBe(200);
  });

  test('SEGSERVE_MODEL names the model when --model is not given', async () => {
    const line = await serve([...LOCAL, '--port', '0'], { SEGSERVE_MODEL: MODEL });
    expect(line.model).toBe(MODEL);
    const meta = await fetch(`http://127.0.0.1:${line.port as number}/v2/models/segserve`);
    // The prediction's two outputs, and the explanation's two (docs/explain.md).
    const outputs = ((await meta.json()) as { outputs: { name: string }[] }).outputs.map((o) => o.name);
    expect(outputs).toEqual(['probabilities', 'segment', 'shap_values', 'expected_value']);
  });

  test('a bad PROTOCOL or a missing SEGSERVE_MODEL fails before listening, with one line', async () => {
    const bad = await runCli(['serve', '--model', MODEL, ...LOCAL, '--port', '0'], {
      env: { PROTOCOL: 'grpc' },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/PROTOCOL=grpc/);
    const missing = await runCli(['serve', ...LOCAL, '--port', '0'], {
      env: { SEGSERVE_MODEL: '/nonexistent/model.json' },
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/\/nonexistent\/model\.json.*\$SEGSERVE_MODEL/);
  });
});
