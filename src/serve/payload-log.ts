/**
 * Payload logging as CloudEvents, as Seldon Core's executor logger does it: every request and response
 * of a prediction is POSTed to `--log-url` in CloudEvents binary mode (the payload is the HTTP body as
 * received or as answered; the event's attributes are `Ce-*` headers), the request and response events
 * of one prediction sharing `Ce-Id`.
 *
 * A slow or dead sink never fails or delays a prediction:
 * - `logRequest` / `logResponse` are synchronous, never throw and never touch the network: they put the
 *   event in a bounded queue (at most `queueSize` events and `queueBytes` of bodies) and return. When the
 *   queue is full the NEW event is dropped and counted.
 * - A few senders (`concurrency`) deliver the queue over node:http(s) with one keep-alive connection each
 *   (fetch costs about four times the CPU per event, measured), after the caller's turn of the event loop
 *   (setImmediate), each POST with a timeout.
 * - A failed send (network error, timeout, 408, 429, 5xx) is retried with exponential back-off and jitter,
 *   up to `retries` times and only while a retry budget shared by all events (a token bucket) has a token;
 *   then the event is counted as failed. Any other answer that is not 2xx (4xx, 3xx) fails at once.
 * - After `breakAfter` failed attempts in a row the senders pause (from `pauseMs`, doubling to
 *   `maxPauseMs`, reset by a success), so a dead sink costs a few connection attempts per second, not a
 *   busy loop; meanwhile events wait in the queue, and new ones are dropped when it is full.
 * - `close(graceMs)` stops accepting events, delivers what it can within the grace, then aborts: what
 *   is still queued is counted as dropped, what was in flight as failed.
 *
 * Every event ends in exactly one outcome of `segserve_payload_log_events_total{outcome}`: `sent` (the
 * sink answered 2xx), `failed` (attempted, not delivered) or `dropped` (never attempted: queue full, or
 * still queued at close). Label values are these three only.
 */
import { Agent as HttpAgent, type request as httpRequest, request as plainRequest } from 'node:http';
import { Agent as HttpsAgent, request as tlsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Metric, Registry } from 'prom-client';
import { usageError } from '../errors.js';

export type PayloadLogMode = 'all' | 'request' | 'response';
export type PayloadLogOutcome = 'sent' | 'dropped' | 'failed';

export const PAYLOAD_LOG_MODES: readonly PayloadLogMode[] = ['all', 'request', 'response'];
export const PAYLOAD_LOG_OUTCOMES: readonly PayloadLogOutcome[] = ['sent', 'dropped', 'failed'];
export const PAYLOAD_LOG_METRIC = 'segserve_payload_log_events_total';
export const PAYLOAD_LOG_HELP =
  'Payload-log CloudEvents by outcome: sent (the sink answered 2xx), failed (attempted, retries or budget exhausted), dropped (queue full, or still queued at shutdown)';
export const REQUEST_EVENT_TYPE = 'io.seldon.serving.inference.request';
export const RESPONSE_EVENT_TYPE = 'io.seldon.serving.inference.response';

/** Where outcomes are counted: a prom-client counter (see payloadLogCounter) or anything alike. */
export interface PayloadLogCounter {
  inc(outcome: PayloadLogOutcome, n?: number): void;
}

export interface PayloadLogOptions {
  /** The sink (http: or https:). */
  url: string | URL;
  /** Which events are sent (default all). */
  mode?: PayloadLogMode;
  /** `Ce-Source`: a URI naming this server, e.g. `http://<hostname>:<port>/`. */
  source: string;
  /** `Ce-Modelid`: the served model's name. */
  modelId: string;
  /** `Ce-Endpoint` of entries that name none (default "default", the predictor slot Seldon and KServe name). */
  endpoint?: string;
  /** Most events waiting (default 1,000). */
  queueSize?: number;
  /** Most body bytes waiting (default 64 MiB; a string body counts its length). */
  queueBytes?: number;
  /** Concurrent senders (default 4). */
  concurrency?: number;
  /** Longest one POST may take, answer body included (default 5,000 ms). */
  timeoutMs?: number;
  /** Most retries of one event (default 3). */
  retries?: number;
  /** The first retry's back-off (default 100 ms; then doubling, with jitter, capped at 5 s). */
  backoffMs?: number;
  /** The retry budget shared by all events: a token bucket of `burst` tokens refilled at `perSecond`. */
  retryBudget?: { burst?: number; perSecond?: number };
  /** Failed attempts in a row that pause the senders (default 5). */
  breakAfter?: number;
  /** The first pause (default 500 ms; doubling while failures continue, up to maxPauseMs). */
  pauseMs?: number;
  /** The longest pause (default 30,000 ms). */
  maxPauseMs?: number;
  /** Where outcomes are counted: a Registry (the counter is registered there) or a counter. */
  metrics?: Registry | PayloadLogCounter;
}

/** One call of logRequest / logResponse. */
export interface PayloadLogEntry {
  /** `Ce-Id` and `Ce-Requestid`: the same for the request and its response. */
  requestId: string;
  /** `Ce-Endpoint` (default: the logger's `endpoint` option). */
  endpoint?: string | undefined;
  /** The HTTP body as received or as answered. */
  body: Buffer | string;
  /** Its Content-Type, sent as the event's `Content-Type` (default application/octet-stream). */
  contentType?: string | undefined;
}

export interface PayloadLogStats {
  sent: number;
  dropped: number;
  failed: number;
  /** Events waiting now. */
  queued: number;
  /** Body bytes waiting now. */
  queuedBytes: number;
  /** Events being sent now. */
  inFlight: number;
  /** POSTs started (first attempts and retries). */
  attempts: number;
  /** Retries started. */
  retries: number;
}

interface PayloadEvent {
  type: string;
  requestId: string;
  endpoint: string;
  body: Buffer | string;
  contentType: string;
  /** Date.now() when logged (formatted as Ce-Time by the sender, off the caller's path). */
  time: number;
  size: number;
}

type Attempt = 'ok' | 'retry' | 'fail' | 'aborted';

const OCTET_STREAM = 'application/octet-stream';
/** What a header value may hold here: visible ASCII and spaces, trimmed (undici refuses CR, LF, NUL). */
const HEADER_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const MAX_BACKOFF_MS = 5000;

/**
 * The outcome counter: a collector in prom-client's value format (as src/serve/metrics.ts registers its
 * families), so that counting is a field update and this module loads without prom-client's runtime.
 * Its three series are there from the start, at 0, so that dashboards and alerts see them at once.
 */
class OutcomeCounter implements PayloadLogCounter {
  readonly name = PAYLOAD_LOG_METRIC;
  readonly help = PAYLOAD_LOG_HELP;
  readonly type = 'counter';
  /** How the cluster primary merges the workers' values. */
  readonly aggregator = 'sum';
  private readonly values: Record<PayloadLogOutcome, number> = { sent: 0, dropped: 0, failed: 0 };

  inc(outcome: PayloadLogOutcome, n = 1): void {
    this.values[outcome] += n;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: object[] } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: PAYLOAD_LOG_OUTCOMES.map((outcome) => ({ value: this.values[outcome], labels: { outcome } })),
    };
  }

  reset(): void {
    for (const o of PAYLOAD_LOG_OUTCOMES) this.values[o] = 0;
  }
}

/**
 * The outcome counter `segserve_payload_log_events_total{outcome}` on `registry`: made on the first
 * call, the same counter on later calls (loggers of one process share it).
 * @throws Error when the name is taken by another metric.
 */
export function payloadLogCounter(registry: Registry): PayloadLogCounter {
  const existing = registry.getSingleMetric(PAYLOAD_LOG_METRIC) as unknown;
  if (existing instanceof OutcomeCounter) return existing;
  if (existing !== undefined)
    throw new Error(`${PAYLOAD_LOG_METRIC} is already registered by another metric`);
  const counter = new OutcomeCounter();
  // prom-client's Registry takes any object with name/get/reset; its typings only list its own classes.
  registry.registerMetric(counter as unknown as Metric<string>);
  return counter;
}

function isCounter(m: Registry | PayloadLogCounter): m is PayloadLogCounter {
  return typeof (m as Partial<Registry>).registerMetric !== 'function';
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < min)
    throw usageError(`payload log: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function nonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0)
    throw usageError(`payload log: ${name} must be a number >= 0, got ${String(v)}`);
  return v;
}

function headerValue(name: string, v: string): string {
  if (typeof v !== 'string' || !HEADER_VALUE.test(v) || v.length > 1024) {
    throw usageError(
      `payload log: ${name} ${JSON.stringify(String(v)).slice(0, 100)} is not a valid header value (visible ASCII, at most 1024 characters)`,
    );
  }
  return v;
}

/**
 * Checks a sink URL: http or https, no user:password (fetch refuses credentials in URLs).
 * @throws SegserveError (usage) with a one-line message naming `what`.
 */
export function parseSinkUrl(value: string | URL, what = '--log-url'): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw usageError(
      `${what} ${JSON.stringify(String(value))} is not a URL: expected http://host[:port]/path`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(
      `${what} ${JSON.stringify(String(value))}: expected an http:// or https:// URL, not ${url.protocol}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw usageError(
      `${what}: a user or password in the URL is not supported (fetch refuses credentials in URLs)`,
    );
  }
  return url;
}

/** The CLI flags, as commander gives them. */
export interface PayloadLogFlags {
  logUrl?: string | undefined;
  logMode?: string | undefined;
}

/**
 * Validates `--log-url URL` and `--log-mode all|request|response` (default all): the sink and the mode,
 * or undefined when no --log-url is given (payload logging off).
 * @throws SegserveError (usage) with a one-line message naming the flag and what it expects.
 */
export function parsePayloadLogFlags(flags: PayloadLogFlags): { url: URL; mode: PayloadLogMode } | undefined {
  const { logUrl, logMode } = flags;
  if (logMode !== undefined && !(PAYLOAD_LOG_MODES as readonly string[]).includes(logMode)) {
    throw usageError(`--log-mode ${JSON.stringify(logMode)}: expected all, request or response`);
  }
  if (logUrl === undefined) {
    if (logMode !== undefined) throw usageError('--log-mode needs --log-url (where to send the events)');
    return undefined;
  }
  return { url: parseSinkUrl(logUrl), mode: (logMode ?? 'all') as PayloadLogMode };
}

/**
 * A request id for the events of one prediction: the caller's `X-Request-Id` if it is a usable header
 * value (visible ASCII, at most 128 characters), else Seldon's `Seldon-Puid`, else undefined (the caller
 * then makes one, e.g. crypto.randomUUID()).
 */
export function requestIdFrom(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined {
  for (const name of ['x-request-id', 'seldon-puid']) {
    const v = headers[name];
    if (typeof v === 'string' && v.length <= 128 && HEADER_VALUE.test(v)) return v;
  }
  return undefined;
}

/** Payload logging to one sink. See the file's comment. */
export class PayloadLogger {
  readonly url: URL;
  readonly mode: PayloadLogMode;
  private readonly source: string;
  private readonly modelId: string;
  private readonly endpoint: string;
  private readonly logsRequests: boolean;
  private readonly logsResponses: boolean;
  private readonly capacity: number;
  private readonly maxBytes: number;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly burst: number;
  private readonly perSecond: number;
  private readonly breakAfter: number;
  private readonly pauseMs: number;
  private readonly maxPauseMs: number;
  private readonly counter: PayloadLogCounter | undefined;

  // The queue: a ring buffer of `capacity` slots.
  private readonly ring: (PayloadEvent | undefined)[];
  private head = 0;
  private count = 0;
  private bytes = 0;

  private active = 0;
  private inFlight = 0;
  private wakeScheduled = false;
  private tokens: number;
  private tokensAt = Date.now();
  private failuresInARow = 0;
  private nextPauseMs: number;
  private pausedUntil = 0;
  private closing = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  private idleWaiters: (() => void)[] = [];
  private readonly totals = { sent: 0, dropped: 0, failed: 0, attempts: 0, retries: 0 };

  /** @throws SegserveError (usage) for a bad option, naming it. */
  constructor(options: PayloadLogOptions) {
    this.url = parseSinkUrl(options.url, 'payload log url');
    const mode = options.mode ?? 'all';
    if (!PAYLOAD_LOG_MODES.includes(mode))
      throw usageError(`payload log: mode ${JSON.stringify(mode)}: expected all, request or response`);
    this.mode = mode;
    this.logsRequests = mode !== 'response';
    this.logsResponses = mode !== 'request';
    this.source = headerValue('source', options.source);
    this.modelId = headerValue('modelId', options.modelId);
    this.endpoint = headerValue('endpoint', options.endpoint ?? 'default');
    this.capacity = positiveInt('queueSize', options.queueSize, 1000);
    this.maxBytes = positiveInt('queueBytes', options.queueBytes, 64 * 1024 * 1024);
    this.concurrency = positiveInt('concurrency', options.concurrency, 4);
    this.timeoutMs = positiveInt('timeoutMs', options.timeoutMs, 5000);
    this.maxRetries = positiveInt('retries', options.retries, 3, 0);
    this.backoffMs = nonNegative('backoffMs', options.backoffMs, 100);
    this.burst = nonNegative('retryBudget.burst', options.retryBudget?.burst, 20);
    this.perSecond = nonNegative('retryBudget.perSecond', options.retryBudget?.perSecond, 5);
    this.breakAfter = positiveInt('breakAfter', options.breakAfter, 5);
    this.pauseMs = nonNegative('pauseMs', options.pauseMs, 500);
    this.maxPauseMs = Math.max(this.pauseMs, nonNegative('maxPauseMs', options.maxPauseMs, 30_000));
    this.nextPauseMs = this.pauseMs;
    this.tokens = this.burst;
    this.ring = new Array<PayloadEvent | undefined>(this.capacity).fill(undefined);
    const tls = this.url.protocol === 'https:';
    // One keep-alive connection per sender.
    const agentOptions = { keepAlive: true, maxSockets: this.concurrency };
    this.agent = tls ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.request = tls ? (tlsRequest as typeof httpRequest) : plainRequest;
    const m = options.metrics;
    this.counter = m === undefined ? undefined : isCounter(m) ? m : payloadLogCounter(m);
  }

  /** Logs a request (mode all or request). Never throws, never waits. */
  logRequest(entry: PayloadLogEntry): void {
    if (this.logsRequests) this.enqueue(REQUEST_EVENT_TYPE, entry);
  }

  /** Logs a response (mode all or response). Never throws, never waits. */
  logResponse(entry: PayloadLogEntry): void {
    if (this.logsResponses) this.enqueue(RESPONSE_EVENT_TYPE, entry);
  }

  /** The counts so far and the queue now. */
  stats(): PayloadLogStats {
    return { ...this.totals, queued: this.count, queuedBytes: this.bytes, inFlight: this.inFlight };
  }

  /**
   * Stops accepting events (later ones are dropped), delivers what it can within `graceMs`, then aborts
   * what is left: still queued → dropped, in flight → failed. Resolves with the final stats.
   */
  async close(graceMs = 5000): Promise<PayloadLogStats> {
    this.closing = true;
    this.kick();
    if (!this.idle()) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        timer = setTimeout(resolve, Math.max(0, graceMs));
      });
      clearTimeout(timer);
    }
    if (!this.stopped) {
      this.stopped = true;
      this.abort.abort();
      let n = 0;
      while (this.count > 0) {
        this.shift();
        n++;
      }
      this.tally('dropped', n);
    }
    // Aborted sends and sleeps settle within a turn or two of the event loop.
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.agent.destroy();
    return this.stats();
  }

  private enqueue(type: string, entry: PayloadLogEntry): void {
    try {
      const body = entry.body;
      const size = body.length;
      if (this.closing || this.count >= this.capacity || this.bytes + size > this.maxBytes) {
        this.tally('dropped', 1);
        return;
      }
      const ct = entry.contentType;
      this.ring[(this.head + this.count) % this.capacity] = {
        type,
        requestId: entry.requestId,
        endpoint: entry.endpoint ?? this.endpoint,
        body,
        contentType: ct === undefined || ct === '' ? OCTET_STREAM : ct,
        time: Date.now(),
        size,
      };
      this.count++;
      this.bytes += size;
      this.kick();
    } catch {
      // Never on the caller's path: a malformed entry (no body) is a dropped event.
      this.tally('dropped', 1);
    }
  }

  private shift(): PayloadEvent | undefined {
    if (this.count === 0) return undefined;
    const ev = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    if (ev !== undefined) this.bytes -= ev.size;
    return ev;
  }

  private tally(outcome: PayloadLogOutcome, n: number): void {
    if (n === 0) return;
    this.totals[outcome] += n;
    try {
      this.counter?.inc(outcome, n);
    } catch {
      // A failing counter must not fail the caller.
    }
  }

  private idle(): boolean {
    return this.active === 0 && (this.count === 0 || this.stopped);
  }

  private notifyIdle(): void {
    if (!this.idle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Starts senders after this turn of the event loop (one scheduled wake for any number of events). */
  private kick(): void {
    if (this.wakeScheduled || this.active >= this.concurrency || this.stopped) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      while (this.active < this.concurrency && this.count > 0 && !this.stopped) void this.sender();
      this.notifyIdle();
    });
  }

  private async sender(): Promise<void> {
    this.active++;
    try {
      while (!this.stopped) {
        const wait = this.pausedUntil - Date.now();
        if (wait > 0) {
          await this.sleep(wait);
          continue;
        }
        const ev = this.shift();
        if (ev === undefined) break;
        this.inFlight++;
        try {
          await this.deliver(ev);
        } finally {
          this.inFlight--;
        }
      }
    } catch {
      // deliver never throws; nothing may escape a sender (it runs detached).
    } finally {
      this.active--;
      this.notifyIdle();
    }
  }

  /** Sends one event with its retries; counts its outcome. */
  private async deliver(ev: PayloadEvent): Promise<void> {
    const headers = this.headersOf(ev);
    if (headers === undefined) {
      this.tally('failed', 1);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const result = await this.post(ev, headers);
      if (result === 'ok') {
        this.failuresInARow = 0;
        this.nextPauseMs = this.pauseMs;
        this.tally('sent', 1);
        return;
      }
      if (result === 'fail' || result === 'aborted') {
        this.tally('failed', 1);
        return;
      }
      this.noteFailure();
      if (attempt >= this.maxRetries || this.stopped || !this.takeToken()) {
        this.tally('failed', 1);
        return;
      }
      const backoff = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      await this.sleep(Math.max(backoff, this.pausedUntil - Date.now()));
      if (this.stopped) {
        this.tally('failed', 1);
        return;
      }
      this.totals.retries++;
    }
  }

  /** The event's headers, or undefined when a value given by the caller cannot be a header. */
  private headersOf(ev: PayloadEvent): Record<string, string> | undefined {
    const { requestId, endpoint, contentType } = ev;
    if (typeof requestId !== 'string' || requestId.length > 1024 || !HEADER_VALUE.test(requestId))
      return undefined;
    if (typeof endpoint !== 'string' || endpoint.length > 1024 || !HEADER_VALUE.test(endpoint))
      return undefined;
    return {
      'content-type': HEADER_VALUE.test(contentType) ? contentType : OCTET_STREAM,
      'ce-specversion': '1.0',
      'ce-id': requestId,
      'ce-type': ev.type,
      'ce-source': this.source,
      'ce-time': new Date(ev.time).toISOString(),
      'ce-modelid': this.modelId,
      'ce-requestid': requestId,
      'ce-endpoint': endpoint,
    };
  }

  /** One POST: node:http with a keep-alive agent (a quarter of fetch's CPU per event, measured). */
  private post(ev: PayloadEvent, headers: Record<string, string>): Promise<Attempt> {
    this.totals.attempts++;
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const done = (result: Attempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const failed = (): void => done(this.abort.signal.aborted ? 'aborted' : 'retry');
      try {
        const req = this.request(
          this.url,
          {
            method: 'POST',
            headers: { ...headers, 'content-length': String(Buffer.byteLength(ev.body)) },
            agent: this.agent,
            signal: this.abort.signal,
          },
          (res) => {
            const status = res.statusCode ?? 0;
            res.on('error', failed);
            res.on('aborted', failed);
            // Read the (small) answer so that the connection is reused.
            res.on('end', () =>
              done(
                status >= 200 && status < 300
                  ? 'ok'
                  : status >= 500 || status === 408 || status === 429
                    ? 'retry'
                    : 'fail',
              ),
            );
            res.resume();
          },
        );
        req.on('error', failed);
        timer = setTimeout(() => req.destroy(new Error('payload log: timed out')), this.timeoutMs);
        timer.unref();
        req.end(ev.body);
      } catch {
        // A header or URL node:http refuses (validated earlier, so not expected): not worth a retry.
        done('fail');
      }
    });
  }

  /** A failed attempt: after breakAfter in a row, the senders pause (longer each time). */
  private noteFailure(): void {
    this.failuresInARow++;
    if (this.failuresInARow >= this.breakAfter) {
      this.failuresInARow = 0;
      this.pausedUntil = Date.now() + this.nextPauseMs;
      this.nextPauseMs = Math.min(this.maxPauseMs, this.nextPauseMs * 2);
    }
  }

  /** Takes a retry token if the budget has one. */
  private takeToken(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.tokensAt) / 1000) * this.perSecond);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Waits `ms` (not keeping the process alive); cut short by close's abort. */
  private async sleep(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal, ref: false });
    } catch {
      // aborted
    }
  }
}
