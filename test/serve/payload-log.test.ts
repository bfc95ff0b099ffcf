/**
 * Payload logging (src/serve/payload-log.ts) against real loopback HTTP sinks (node:http): the CloudEvents
 * binary-mode headers and bodies of 100 request/response pairs, the mode filter, a dead sink (calls return
 * at once, nothing throws, drops and failures counted, a bounded number of connection attempts), a slow
 * sink (the queue bound holds, the NEW events are dropped), retries within the budget, the flags.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SegserveError } from '../../src/errors.js';
import {
  PAYLOAD_LOG_HELP,
  PAYLOAD_LOG_METRIC,
  PayloadLogger,
  type PayloadLogOptions,
  type PayloadLogOutcome,
  parsePayloadLogFlags,
  payloadLogCounter,
  REQUEST_EVENT_TYPE,
  RESPONSE_EVENT_TYPE,
  requestIdFrom,
} from '../../src/serve/payload-log.js';
import { deadUrl } from '../helpers/net.js';
import { parseExposition } from './helpers.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Sink {
  url: string;
  events: Received[];
  close(): Promise<void>;
}

type Handler = (ev: Received, res: ServerResponse) => void;

const open: { close(): Promise<void> }[] = [];
const loggers: PayloadLogger[] = [];

afterEach(async () => {
  await Promise.all(loggers.splice(0).map((l) => l.close(0)));
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A loopback sink recording every POST; answers 200 unless `handler` answers otherwise. */
async function startSink(handler?: Handler): Promise<Sink> {
  const events: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const ev = { headers: req.headers, body: Buffer.concat(chunks) };
      events.push(ev);
      if (handler) handler(ev, res);
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const sink = {
    url: `http://127.0.0.1:${port}/events`,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(sink);
  return sink;
}

function logger(options: Partial<PayloadLogOptions> & { url: string }): PayloadLogger {
  const l = new PayloadLogger({ source: 'http://segserve-0:9000/', modelId: 'classifier', ...options });
  loggers.push(l);
  return l;
}

async function counterValues(
  registry: Pick<Registry, 'metrics'>,
): Promise<Record<PayloadLogOutcome, number | undefined>> {
  const { samples, helps, types } = parseExposition(await registry.metrics());
  expect(helps.get(PAYLOAD_LOG_METRIC)).toBe(PAYLOAD_LOG_HELP);
  expect(types.get(PAYLOAD_LOG_METRIC)).toBe('counter');
  const value = (outcome: string) =>
    samples.find((s) => s.name === PAYLOAD_LOG_METRIC && s.labels.outcome === outcome)?.value;
  return { sent: value('sent'), dropped: value('dropped'), failed: value('failed') };
}

const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe('delivery', () => {
  it('sends 100 request/response pairs as 200 CloudEvents with matching ids, headers and bodies', async () => {
    const sink = await startSink();
    const registry = new Registry();
    const log = logger({ url: sink.url, metrics: registry });
    const before = Date.now();
    for (let i = 0; i < 100; i++) {
      const requestId = `req-${i}`;
      log.logRequest({
        requestId,
        endpoint: 'default',
        // A Buffer body with non-ASCII bytes: sent byte for byte.
        body: Buffer.from(JSON.stringify({ data: { ndarray: [[i, 'café']] } })),
        contentType: 'application/json',
      });
      log.logResponse({
        requestId,
        endpoint: 'default',
        body: JSON.stringify({ data: { ndarray: [[i / 100, 1 - i / 100]] }, meta: { puid: requestId } }),
        contentType: 'application/json; charset=utf-8',
      });
    }
    const stats = await log.close(10_000);
    expect(stats).toMatchObject({ sent: 200, dropped: 0, failed: 0, queued: 0, inFlight: 0 });
    expect(sink.events).toHaveLength(200);
    const after = Date.now();

    const byId = new Map<string, Received[]>();
    for (const ev of sink.events) {
      const h = ev.headers;
      expect(h['ce-specversion']).toBe('1.0');
      expect(h['ce-source']).toBe('http://segserve-0:9000/');
      expect(h['ce-modelid']).toBe('classifier');
      expect(h['ce-endpoint']).toBe('default');
      expect(h['ce-requestid']).toBe(h['ce-id']);
      const time = h['ce-time'] as string;
      expect(time).toMatch(RFC3339_UTC);
      expect(Date.parse(time)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(time)).toBeLessThanOrEqual(after);
      const id = h['ce-id'] as string;
      byId.set(id, [...(byId.get(id) ?? []), ev]);
    }
    expect(byId.size).toBe(100);
    for (let i = 0; i < 100; i++) {
      const pair = byId.get(`req-${i}`) ?? [];
      expect(pair.map((e) => e.headers['ce-type']).sort()).toEqual([REQUEST_EVENT_TYPE, RESPONSE_EVENT_TYPE]);
      const request = pair.find((e) => e.headers['ce-type'] === REQUEST_EVENT_TYPE) as Received;
      const response = pair.find((e) => e.headers['ce-type'] === RESPONSE_EVENT_TYPE) as Received;
      expect(request.headers['content-type']).toBe('application/json');
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(request.body.equals(Buffer.from(JSON.stringify({ data: { ndarray: [[i, 'café']] } })))).toBe(
        true,
      );
      expect(JSON.parse(response.body.toString('utf8'))).toEqual({
        data: { ndarray: [[i / 100, 1 - i / 100]] },
        meta: { puid: `req-${i}` },
      });
    }
    expect(await counterValues(registry)).toEqual({ sent: 200, dropped: 0, failed: 0 });
  });

  it.each([
    ['request', REQUEST_EVENT_TYPE],
    ['response', RESPONSE_EVENT_TYPE],
  ] as const)('mode %s sends only %s events', async (mode, type) => {
    const sink = await startSink();
    const log = logger({ url: sink.url, mode });
    for (let i = 0; i < 10; i++) {
      const e = { requestId: `r${i}`, endpoint: 'default', body: '{}', contentType: 'application/json' };
      log.logRequest(e);
      log.logResponse(e);
    }
    expect(await log.close(10_000)).toMatchObject({ sent: 10, dropped: 0, failed: 0 });
    expect(sink.events.map((e) => e.headers['ce-type'])).toEqual(new Array(10).fill(type));
  });

  it('mode all sends both; the counter shows its three series at 0 before any event; default endpoint', async () => {
    const registry = new Registry();
    const sink = await startSink();
    const log = logger({ url: sink.url, metrics: registry, endpoint: 'canary' });
    expect(await counterValues(registry)).toEqual({ sent: 0, dropped: 0, failed: 0 });
    log.logRequest({ requestId: 'a', body: 'x' });
    log.logResponse({ requestId: 'a', endpoint: 'e', body: 'y' });
    await log.close(10_000);
    expect(sink.events.map((e) => e.headers['ce-type']).sort()).toEqual([
      REQUEST_EVENT_TYPE,
      RESPONSE_EVENT_TYPE,
    ]);
    // No content type given: octet-stream; no endpoint given: the logger's.
    expect(sink.events[0]?.headers['content-type']).toBe('application/octet-stream');
    expect(sink.events.map((e) => e.headers['ce-endpoint']).sort()).toEqual(['canary', 'e']);
  });
});

describe('a dead or slow sink never fails or delays the caller', () => {
  it('sink down: calls return at once and throw nothing; failures and drops counted; attempts bounded', async () => {
    const registry = new Registry();
    const log = logger({
      url: await deadUrl(),
      metrics: registry,
      queueSize: 50,
      concurrency: 2,
      // More retries than failures before the pause: no event fails before close, each in-flight one then does.
      retries: 10,
      backoffMs: 1,
      breakAfter: 5,
      // A long pause: after 5 failed attempts in a row nothing more is attempted in this test.
      pauseMs: 60_000,
    });
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      for (let i = 0; i < 1000; i++) {
        const e = { requestId: `r${i}`, endpoint: 'default', body: '{"data":{"ndarray":[[1]]}}' };
        expect(log.logRequest(e)).toBeUndefined();
        expect(log.logResponse(e)).toBeUndefined();
      }
      // Nothing touched the network on the caller's path: the events are queued, the rest dropped.
      expect(log.stats()).toMatchObject({ queued: 50, dropped: 1950, attempts: 0, inFlight: 0 });

      // The senders meet the dead sink while timers keep firing.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      await vi.waitFor(() => expect(log.stats().attempts).toBeGreaterThanOrEqual(5), { timeout: 10_000 });
      await vi.waitFor(() => expect(ticks).toBeGreaterThanOrEqual(5), { timeout: 10_000 });
      clearInterval(timer);
      // Paused after 5 failures in a row: at most the attempt already started by the other sender follows.
      expect(log.stats().attempts).toBeLessThanOrEqual(5 + 1);
      expect(log.stats().failed).toBe(0);

      const stats = await log.close(50);
      expect(stats.sent).toBe(0);
      // The two events in flight (waiting out the pause) are aborted at close: failed; the rest dropped.
      expect(stats.failed).toBe(2);
      expect(stats.sent + stats.dropped + stats.failed).toBe(2000);
      expect(stats).toMatchObject({ queued: 0, inFlight: 0 });
      expect(await counterValues(registry)).toEqual({
        sent: 0,
        dropped: stats.dropped,
        failed: stats.failed,
      });
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('slow sink: the queue holds at most queueSize events; new events are dropped and counted', async () => {
    const held: ServerResponse[] = [];
    let release = false;
    const sink = await startSink((_ev, res) => {
      if (release) res.writeHead(200).end();
      else held.push(res);
    });
    const log = logger({ url: sink.url, queueSize: 20, concurrency: 2, timeoutMs: 60_000 });
    const body = 'x'.repeat(1000);
    for (let i = 0; i < 500; i++) log.logRequest({ requestId: `a${i}`, endpoint: 'e', body });
    expect(log.stats()).toMatchObject({ queued: 20, queuedBytes: 20_000, dropped: 480 });

    // Two senders each hold one event at the sink; the rest wait.
    await vi.waitFor(() => expect(held).toHaveLength(2), { timeout: 10_000 });
    expect(log.stats()).toMatchObject({ queued: 18, inFlight: 2 });
    for (let i = 0; i < 100; i++) log.logRequest({ requestId: `b${i}`, endpoint: 'e', body });
    expect(log.stats()).toMatchObject({ queued: 20, queuedBytes: 20_000, inFlight: 2, dropped: 578 });

    release = true;
    for (const res of held) res.writeHead(200).end();
    const stats = await log.close(10_000);
    expect(stats).toMatchObject({ sent: 22, dropped: 578, failed: 0 });
    expect(sink.events).toHaveLength(22);
  });

  it('the queue is bounded in bytes too', async () => {
    const log = logger({ url: await deadUrl(), queueBytes: 1000 });
    for (let i = 0; i < 10; i++)
      log.logRequest({ requestId: `r${i}`, endpoint: 'e', body: Buffer.alloc(300) });
    expect(log.stats()).toMatchObject({ queued: 3, queuedBytes: 900, dropped: 7 });
    // An event larger than the whole queue is dropped, not sent.
    log.logRequest({ requestId: 'big', endpoint: 'e', body: Buffer.alloc(2000) });
    expect(log.stats()).toMatchObject({ queued: 3, dropped: 8 });
  });

  it('malformed entries and calls after close are dropped, never thrown', async () => {
    const sink = await startSink();
    const log = logger({ url: sink.url });
    // A caller's bug (no body): counted as dropped.
    expect(() =>
      log.logRequest({ requestId: 'x', endpoint: 'e' } as unknown as Parameters<
        PayloadLogger['logRequest']
      >[0]),
    ).not.toThrow();
    // An id that cannot be a header value: attempted never, counted as failed.
    log.logRequest({ requestId: 'bad\nid', endpoint: 'e', body: '{}' });
    const stats = await log.close(10_000);
    expect(stats).toMatchObject({ sent: 0, dropped: 1, failed: 1 });
    log.logResponse({ requestId: 'late', endpoint: 'e', body: '{}' });
    expect(log.stats()).toMatchObject({ dropped: 2 });
    expect(sink.events).toHaveLength(0);
  });
});

describe('retries', () => {
  it('a 503 is retried; success after two 503s counts once as sent', async () => {
    const seen = new Map<string, number>();
    const sink = await startSink((ev, res) => {
      const id = ev.headers['ce-id'] as string;
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      res.writeHead(n <= 2 ? 503 : 200).end();
    });
    const registry = new Registry();
    const log = logger({
      url: sink.url,
      metrics: registry,
      retries: 3,
      backoffMs: 1,
      breakAfter: 1000,
      retryBudget: { burst: 1000 },
    });
    for (let i = 0; i < 10; i++) log.logRequest({ requestId: `r${i}`, endpoint: 'e', body: `{"i":${i}}` });
    const stats = await log.close(10_000);
    expect(stats).toMatchObject({ sent: 10, failed: 0, dropped: 0, attempts: 30, retries: 20 });
    expect([...seen.values()]).toEqual(new Array(10).fill(3));
    // Each retry carried the same event.
    for (const ev of sink.events) expect(ev.body.toString()).toMatch(/^\{"i":\d\}$/);
    expect(await counterValues(registry)).toEqual({ sent: 10, dropped: 0, failed: 0 });
  });

  it('a 4xx fails at once, without retry', async () => {
    const sink = await startSink((_ev, res) => res.writeHead(400).end('no'));
    const log = logger({ url: sink.url, retries: 3, backoffMs: 1 });
    log.logRequest({ requestId: 'r', endpoint: 'e', body: '{}' });
    expect(await log.close(10_000)).toMatchObject({ sent: 0, failed: 1, attempts: 1, retries: 0 });
  });

  it('retries stop when the shared budget is spent; then each event fails after one attempt', async () => {
    const sink = await startSink((_ev, res) => res.writeHead(503).end());
    const log = logger({
      url: sink.url,
      concurrency: 1,
      retries: 3,
      backoffMs: 1,
      breakAfter: 1000,
      retryBudget: { burst: 2, perSecond: 0 },
    });
    for (let i = 0; i < 5; i++) log.logRequest({ requestId: `r${i}`, endpoint: 'e', body: '{}' });
    expect(await log.close(10_000)).toMatchObject({ sent: 0, failed: 5, attempts: 7, retries: 2 });
    expect(sink.events).toHaveLength(7);
  });
});

describe('options', () => {
  it('parses --log-url and --log-mode', () => {
    expect(parsePayloadLogFlags({})).toBeUndefined();
    const all = parsePayloadLogFlags({ logUrl: 'http://logger.seldon:8080/' });
    expect(all?.url.href).toBe('http://logger.seldon:8080/');
    expect(all?.mode).toBe('all');
    expect(parsePayloadLogFlags({ logUrl: 'https://x.example/in', logMode: 'response' })?.mode).toBe(
      'response',
    );
  });

  it.each([
    [{ logUrl: 'not a url' }, /^--log-url "not a url" is not a URL/],
    [{ logUrl: 'ftp://host/x' }, /^--log-url "ftp:\/\/host\/x": expected an http:\/\/ or https:\/\/ URL/],
    [{ logUrl: 'http://u:p@host/' }, /^--log-url: a user or password in the URL is not supported/],
    [{ logUrl: 'http://host/', logMode: 'both' }, /^--log-mode "both": expected all, request or response$/],
    [{ logMode: 'all' }, /^--log-mode needs --log-url/],
  ])('refuses %j with a one-line usage error', (flags, message) => {
    let err: unknown;
    try {
      parsePayloadLogFlags(flags);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SegserveError);
    expect((err as SegserveError).kind).toBe('usage');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('refuses bad constructor options, naming them', () => {
    const base = { url: 'http://127.0.0.1:1/', source: 's', modelId: 'm' };
    expect(() => new PayloadLogger({ ...base, queueSize: 0 })).toThrow(/queueSize must be an integer >= 1/);
    expect(() => new PayloadLogger({ ...base, retries: 1.5 })).toThrow(/retries must be an integer >= 0/);
    expect(() => new PayloadLogger({ ...base, modelId: 'a\nb' })).toThrow(/modelId .* is not a valid header/);
    expect(() => new PayloadLogger({ ...base, url: 'file:///tmp/x' })).toThrow(/expected an http/);
  });

  it('one counter per registry, shared by loggers', async () => {
    const registry = new Registry();
    const a = payloadLogCounter(registry);
    const b = payloadLogCounter(registry);
    a.inc('sent', 2);
    b.inc('sent');
    b.inc('dropped', 4);
    expect(await counterValues(registry)).toEqual({ sent: 3, dropped: 4, failed: 0 });
  });

  it("the cluster primary sums the workers' counters", async () => {
    const workers = [new Registry(), new Registry()];
    payloadLogCounter(workers[0] as Registry).inc('sent', 5);
    payloadLogCounter(workers[1] as Registry).inc('sent', 2);
    payloadLogCounter(workers[1] as Registry).inc('failed');
    const merged = AggregatorRegistry.aggregate(await Promise.all(workers.map((r) => r.getMetricsAsJSON())));
    expect(await counterValues(merged)).toEqual({ sent: 7, dropped: 0, failed: 1 });
  });

  it('takes the request id from X-Request-Id, then Seldon-Puid, when usable', () => {
    expect(requestIdFrom({ 'x-request-id': 'abc', 'seldon-puid': 'p' })).toBe('abc');
    expect(requestIdFrom({ 'seldon-puid': 'p' })).toBe('p');
    expect(requestIdFrom({ 'x-request-id': 'a'.repeat(129), 'seldon-puid': 'p' })).toBe('p');
    expect(requestIdFrom({ 'x-request-id': 'caf\u00e9' })).toBeUndefined();
    expect(requestIdFrom({ 'x-request-id': ['a', 'b'] })).toBeUndefined();
    expect(requestIdFrom({})).toBeUndefined();
  });
});
