/**
 * Time and size limits of the built CLI, on raw sockets: a declared Content-Length over --body-limit is
 * answered 413 before one byte of the body is sent; an upload that stalls is cut with a 408 at
 * --request-timeout, and so are headers that never end; the server keeps answering meanwhile.
 * (bench/serve-faults.mjs measures memory and /health/ping latency under 60 stalled uploads.)
 */
import { connect, type Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { call, killAll, LOCAL, MODEL, startServer } from './prod-helpers.js';

afterEach(killAll);

/** Writes `text`, then waits for the server's whole answer (it closes the connection). */
function exchange(port: number, text: string): Promise<{ answer: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer: Buffer.concat(chunks).toString('utf8'), socket }));
    socket.write(text);
  });
}

test('413 before the body is read; 408 for a stalled upload and for headers that never end', async () => {
  const server = await startServer([
    '--model',
    MODEL,
    ...LOCAL,
    '--request-timeout',
    '1',
    '--body-limit',
    '1000000',
    '--drain-delay',
    '0',
  ]);
  const port = server.port;

  // Only the headers are sent: the answer comes anyway, and the connection closes.
  const big = await exchange(
    port,
    'POST /api/v1.0/predictions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50000000\r\n\r\n',
  );
  expect(big.answer).toMatch(/^HTTP\/1\.1 413 /);
  expect(big.answer.toLowerCase()).toContain('connection: close');
  expect(big.answer).toContain('"reason":"MICROSERVICE_PAYLOAD_TOO_LARGE"');
  expect(big.answer).toContain('50000000 bytes');
  // The Open Inference Protocol's envelope on its paths.
  const bigV2 = await exchange(
    port,
    'POST /v2/models/segserve/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50000000\r\n\r\n',
  );
  expect(bigV2.answer).toMatch(/^HTTP\/1\.1 413 /);
  expect(bigV2.answer).toMatch(/\{"error":"the body is 50000000 bytes/);

  // Half a body, then nothing: cut at the request timeout. Meanwhile the server answers others.
  const stalled = exchange(
    port,
    'POST /api/v1.0/predictions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"data":',
  );
  const headersOnly = exchange(port, 'POST /api/v1.0/predictions HTTP/1.1\r\nhost: x\r\ncontent-ty');
  expect((await call(port, 'GET', '/health/ping')).status).toBe(200);
  const cut = await stalled;
  expect(cut.answer).toMatch(/^HTTP\/1\.1 408 /);
  expect(cut.answer).toContain('"reason":"MICROSERVICE_REQUEST_TIMEOUT"');
  expect((await headersOnly).answer).toMatch(/^HTTP\/1\.1 408 /);

  server.child.kill('SIGTERM');
  expect((await server.exit).code).toBe(0);
});
