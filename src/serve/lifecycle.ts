/**
 * Listening and graceful shutdown: the app on the HTTP port, the metrics app on the metrics port.
 * Shutdown drains (health 503, connections close after their response), stops accepting, lets
 * in-flight requests finish, and cuts what is left when the grace period ends. Signals and exit codes
 * belong to the CLI (src/cli/serve.ts).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { SegserveError } from '../errors.js';

export interface ListenOptions {
  host: string;
  port: number;
  /** The metrics app's port, when this process serves metrics. */
  metricsPort?: number;
}

export interface Serving {
  /** The ports actually bound (useful with port 0). */
  readonly port: number;
  readonly metricsPort: number | undefined;
  /**
   * Drains and closes both apps. Resolves true when every in-flight request finished within `graceMs`,
   * false when the grace period ran out and the remaining connections were cut.
   */
  shutdown(graceMs: number): Promise<boolean>;
}

/** Listens, turning the usual refusals into a one-line error naming the address. */
async function listenOn(app: FastifyInstance, host: string, port: number, what: string): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'the address is already in use'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
            ? 'no such local address'
            : ((err as Error).message ?? String(err));
    throw new SegserveError(`cannot listen on ${host}:${port} (${what}): ${why}`, 'failure', { cause: err });
  }
}

function boundPort(app: FastifyInstance): number {
  return (app.server.address() as AddressInfo).port;
}

export async function listen(
  app: FastifyInstance,
  metricsApp: FastifyInstance | undefined,
  options: ListenOptions,
): Promise<Serving> {
  await listenOn(app, options.host, options.port, 'HTTP');
  if (metricsApp !== undefined) {
    try {
      await listenOn(metricsApp, options.host, options.metricsPort ?? 0, 'metrics');
    } catch (err) {
      await app.close();
      throw err;
    }
  }
  const apps = metricsApp === undefined ? [app] : [app, metricsApp];
  let closing: Promise<boolean> | undefined;
  return {
    port: boundPort(app),
    metricsPort: metricsApp === undefined ? undefined : boundPort(metricsApp),
    shutdown(graceMs: number): Promise<boolean> {
      if (closing) return closing;
      app.segserve?.drain();
      closing = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          for (const a of apps) a.server.closeAllConnections();
          resolve(false);
        }, graceMs);
        Promise.all(apps.map((a) => a.close())).then(
          () => {
            clearTimeout(timer);
            resolve(true);
          },
          () => {
            clearTimeout(timer);
            resolve(false);
          },
        );
      });
      return closing;
    },
  };
}
