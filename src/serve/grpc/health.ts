/**
 * gRPC health checking (`grpc.health.v1.Health`), what Kubernetes' native gRPC probes call
 * (`grpc: {port: 5000}` in a probe, optionally with `service`):
 * - `""` and the served services' names: SERVING when the model is ready (not draining, and the
 *   component's healthStatus() does not throw), else NOT_SERVING; the readiness of GET /health/status;
 * - `"liveness"`: SERVING whenever the process answers (GET /health/ping), for a liveness probe that
 *   must not fail while the server drains;
 * - any other name: NOT_FOUND from Check, SERVICE_UNKNOWN from Watch (as the protocol says).
 * Watch sends the status, then each change (looked at every second while someone watches, and at
 * once on drain or swap); a drain ends every Watch stream after its NOT_SERVING, so that in-flight
 * watches do not hold the graceful shutdown open.
 */

/** The service names a probe may ask about besides "". */
export const LIVENESS_SERVICE = 'liveness';

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** What a Watch stream needs of grpc-js's ServerWritableStream. */
export interface WatchStream {
  write(message: { status: ServingStatus }): boolean;
  end(): void;
  on(event: 'cancelled' | 'close', listener: () => void): unknown;
}

const POLL_MS = 1000;

export class Health {
  private readonly watchers = new Map<WatchStream, { service: string; last: ServingStatus | undefined }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** The services that report the model's readiness (besides ""). */
    private readonly services: ReadonlySet<string>,
    /** Whether the model is ready now. */
    private readonly ready: () => Promise<boolean>,
  ) {}

  /** The status of `service`, or undefined for a service this server does not know. */
  async status(service: string): Promise<ServingStatus | undefined> {
    if (service === LIVENESS_SERVICE) return 'SERVING';
    if (service !== '' && !this.services.has(service)) return undefined;
    return (await this.ready()) ? 'SERVING' : 'NOT_SERVING';
  }

  /** A new Watch stream: its status now, then each change. */
  watch(stream: WatchStream, service: string): void {
    const entry = { service, last: undefined as ServingStatus | undefined };
    this.watchers.set(stream, entry);
    const forget = () => {
      this.watchers.delete(stream);
      if (this.watchers.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
    stream.on('cancelled', forget);
    stream.on('close', forget);
    this.timer ??= setInterval(() => void this.notify(), POLL_MS);
    this.timer.unref();
    void this.send(stream, entry);
  }

  private async send(
    stream: WatchStream,
    entry: { service: string; last: ServingStatus | undefined },
  ): Promise<void> {
    const now = (await this.status(entry.service)) ?? 'SERVICE_UNKNOWN';
    if (now === entry.last || !this.watchers.has(stream)) return;
    entry.last = now;
    stream.write({ status: now });
  }

  /** Looks at every watched status again and sends the changes. */
  async notify(): Promise<void> {
    await Promise.all([...this.watchers].map(([stream, entry]) => this.send(stream, entry)));
  }

  /** Sends NOT_SERVING to every watcher of the model's readiness, then ends every Watch stream. */
  endAll(): void {
    for (const [stream, entry] of this.watchers) {
      if (
        entry.service !== LIVENESS_SERVICE &&
        entry.last !== 'NOT_SERVING' &&
        entry.last !== 'SERVICE_UNKNOWN'
      ) {
        stream.write({ status: 'NOT_SERVING' });
      }
      stream.end();
    }
    this.watchers.clear();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
