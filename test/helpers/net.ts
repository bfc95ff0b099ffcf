/** Network helpers for tests that start servers or need a place where nothing listens. */
import { createServer } from 'node:net';

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A URL on which nothing listens (connection refused). */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/`;
}
