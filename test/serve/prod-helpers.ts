/**
 * For the production tests (test/serve/prod-*.test.ts): a spawned `segserve serve` with its JSON log
 * lines, and a load client on raw sockets that knows, for every request, whether it was answered,
 * refused (the listener was closed: not a drop) or dropped (sent on an open connection, never answered).
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { spawnCli } from '../helpers/cli.js';

export const MODEL = 'test/fixtures/model.json';
// gRPC off: test files run in parallel, and the default gRPC port (5000) would collide.
export const LOCAL = ['--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--grpc-port', '0'];
export const ROW_BODY = '{"data":{"ndarray":[[34,100,1,2]]}}';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Server {
  child: ChildProcessWithoutNullStreams;
  lines: Record<string, unknown>[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The HTTP port (every worker's is the same). */
  port: number;
  metricsPort: number;
}

const running: ChildProcessWithoutNullStreams[] = [];

/** Kills what a test left running (call in afterEach). */
export function killAll(): void {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Waits until `pred` holds (polling), or fails after `ms`. */
export async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Starts `segserve serve args` and resolves once it (and all `workers`) serve. */
export async function startServer(args: string[], workers = 1): Promise<Server> {
  const child = spawnCli(['serve', ...args, ...(workers > 1 ? ['--workers', String(workers)] : [])]);
  running.push(child);
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  let exited = false;
  void exit.then(() => {
    exited = true;
  });
  child.stderr.on('data', (b: Buffer) => stderr.push(b.toString()));
  let buffer = '';
  child.stdout.on('data', (b: Buffer) => {
    buffer += b.toString();
    let at = buffer.indexOf('\n');
    while (at >= 0) {
      const text = buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
      at = buffer.indexOf('\n');
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  const serving = () => lines.filter((l) => l.msg === 'segserve serving');
  await until(
    () =>
      exited ||
      (serving().length >= workers && (workers === 1 || lines.some((l) => l.msg === 'segserve primary'))),
    20_000,
    'the server to serve',
  );
  if (exited) throw new Error(`segserve exited before serving: ${stderr.join('')}`);
  const first = serving()[0] as Record<string, unknown>;
  const primary = lines.find((l) => l.msg === 'segserve primary');
  return {
    child,
    lines,
    stderr,
    exit,
    port: first.port as number,
    metricsPort: (primary?.metricsPort ?? first.metricsPort) as number,
  };
}

/**
 * The samples of one metric in a Prometheus text exposition: labels and value. (Only what these tests
 * read; prom-client prints an unset gauge as `Nan`, which a strict parser would refuse.)
 */
export function samplesOf(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = l[2] as string;
    }
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses one HTTP/1.1 response (with Content-Length) from the start of `buf`, or undefined if incomplete. */
function parseResponse(buf: Buffer): { answer: Answer; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(head[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const at = line.indexOf(':');
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < end + 4 + length) return undefined;
  return {
    answer: { status, headers, body: buf.subarray(end + 4, end + 4 + length).toString('utf8') },
    used: end + 4 + length,
  };
}

/** One request on its own connection (closed after the answer). Rejects on any socket error. */
export function call(
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const parsed = parseResponse(buf);
      if (parsed) {
        socket.destroy();
        resolve(parsed.answer);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed without an answer')));
    socket.write(requestText(method, path, body, { connection: 'close', ...headers }));
  });
}

function requestText(
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
) {
  let head = `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body !== undefined)
    head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  return `${head}\r\n${body ?? ''}`;
}

export interface LoadReport {
  /** Answers by status. */
  statuses: Map<number, number>;
  /** Requests sent on an open connection that got no answer. */
  dropped: number;
  /** Of those, how many were the first request on a connection just opened. */
  droppedFresh: number;
  /** Connections refused (the listener closed): not drops. */
  refused: number;
  /** Answers that carried `Connection: close`. */
  closing: number;
  /** Answers per distinct `check(answer)` value (e.g. the model version that answered). */
  seen: Map<string, number>;
  errors: string[];
}

export interface LoadOptions {
  port: number;
  connections: number;
  method?: string;
  path: string;
  body?: string;
  /** Labels each answer (counted in `seen`). */
  label?: (a: Answer) => string;
}

/**
 * Keeps `connections` keep-alive connections busy, one request at a time each, reconnecting when an
 * answer says `Connection: close`, until stop() (or every connection is refused).
 */
export function load(options: LoadOptions): { stop: () => Promise<LoadReport>; report: LoadReport } {
  const report: LoadReport = {
    statuses: new Map(),
    dropped: 0,
    droppedFresh: 0,
    refused: 0,
    closing: 0,
    seen: new Map(),
    errors: [],
  };
  let stopped = false;
  const request = requestText(options.method ?? 'POST', options.path, options.body, {});
  const lane = async (): Promise<void> => {
    while (!stopped) {
      const socket = connect(options.port, '127.0.0.1');
      const outcome = await serveLane(socket);
      socket.destroy();
      if (outcome === 'refused') {
        report.refused++;
        return;
      }
    }
  };
  /** Sends requests on one connection until it closes; 'refused' when it never connected. */
  const serveLane = (socket: Socket): Promise<'refused' | 'closed'> =>
    new Promise((resolve) => {
      let connected = false;
      let waiting = false;
      let answered = 0;
      let buf = Buffer.alloc(0);
      const send = () => {
        if (stopped) {
          resolve('closed');
          return;
        }
        waiting = true;
        socket.write(request);
      };
      socket.on('connect', () => {
        connected = true;
        send();
      });
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const parsed = parseResponse(buf);
        if (!parsed) return;
        buf = buf.subarray(parsed.used);
        waiting = false;
        answered++;
        const { answer } = parsed;
        report.statuses.set(answer.status, (report.statuses.get(answer.status) ?? 0) + 1);
        if (options.label) {
          const key = options.label(answer);
          report.seen.set(key, (report.seen.get(key) ?? 0) + 1);
        }
        if (answer.headers.connection === 'close') {
          report.closing++;
          resolve('closed');
          return;
        }
        send();
      });
      const fail = (why: string) => {
        if (!connected) {
          resolve('refused');
          return;
        }
        if (waiting) {
          waiting = false;
          report.dropped++;
          if (answered === 0) report.droppedFresh++;
          if (report.errors.length < 10) report.errors.push(why);
        }
        resolve('closed');
      };
      socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
      socket.on('close', () => fail('closed without an answer'));
    });
  const lanes = Array.from({ length: options.connections }, () => lane());
  return {
    report,
    stop: async () => {
      stopped = true;
      await Promise.all(lanes);
      return report;
    },
  };
}
