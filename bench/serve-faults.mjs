/**
 * bench/serve-faults: `segserve serve` (the built CLI) under the faults a public endpoint meets, with
 * /health/ping latency measured during each attack and printed beside the same measure at rest (the
 * peer run), and the server's memory (RSS from /proc, heap from its own metrics) before, at the peak,
 * and after.
 *
 * 1. Model memory: bytes of heap (+ typed-array memory) per byte of model file, retained after loading
 *    and at the peak of loading, for test/fixtures/model.json and a bigger forest (--big-model FILE, or
 *    a 2,000-tree forest trained here into bench/out/).
 * 2. Slow clients: 60 uploads declaring 9.5 MB that send 9 MB and stall: all cut at --request-timeout
 *    (408), memory back to its baseline.
 * 3. Large clients: N concurrent maximum-size (--body-limit) JSON bodies: the peak memory per body.
 * 4. Over-limit Content-Length: 60 requests declaring 50 MB: 413 without the body being read.
 * 5. Deep JSON: an 8 MB body of `[`: 400, and how long the event loop was blocked (ping latency).
 *
 * Usage: npm run build && node bench/serve-faults.mjs [-- --timeout 5 --concurrent 6 --big-model FILE]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    timeout: { type: 'string', default: '5' },
    concurrent: { type: 'string', default: '6' },
    'body-limit': { type: 'string', default: String(10 * 1024 * 1024) },
    'big-model': { type: 'string' },
    'measure-model': { type: 'string' },
    settle: { type: 'string', default: '2' },
  },
});
const cli = join(root, 'bin/segserve.js');
if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('run `npm run build` first');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const settle = Number(opt.settle ?? 2);
const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MB`;

// ---- 1. model memory (a child with --expose-gc runs this part) -------------------------------------
if (opt['measure-model']) {
  const { readModelFile, loadArtifactText } = await import(
    pathToFileURL(join(root, 'dist/pipeline/artifact.js')).href
  );
  const { ForestComponent } = await import(pathToFileURL(join(root, 'dist/serve/component.js')).href);
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  globalThis.gc();
  const base = used();
  let text = await readModelFile(opt['measure-model']);
  const loaded = loadArtifactText(text, opt['measure-model']);
  const peak = used() - base;
  const component = new ForestComponent(loaded.model);
  text = undefined;
  // What the server keeps: the model (typed arrays, schema); the file's text and JSON are dropped.
  const keep = [component.model];
  globalThis.gc();
  globalThis.gc();
  const retained = used() - base;
  process.stdout.write(`${JSON.stringify({ peak, retained, kept: keep.length })}\n`);
  process.exit(0);
}

function measureModel(file) {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', fileURLToPath(import.meta.url), '--measure-model', file],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return { bytes: statSync(file).size, ...JSON.parse(r.stdout) };
}

let big = opt['big-model'];
if (!big) {
  const out = join(root, 'bench/out');
  mkdirSync(out, { recursive: true });
  big = join(out, 'faults-big-model.json');
  if (!existsSync(big)) {
    const csv = join(out, 'faults-customers.csv');
    for (const args of [
      ['simulate', '--out', csv, '--rows', '20000'],
      ['train', '--data', csv, '--out', big, '--no-search', '--n-estimators', '2000', '--no-report'],
    ]) {
      const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`segserve ${args.join(' ')}: ${r.stderr}`);
    }
  }
}
console.log('1. model memory (heap + typed arrays, per byte of model file)');
for (const file of [join(root, 'test/fixtures/model.json'), big]) {
  const m = measureModel(file);
  console.log(
    `   ${file.slice(root.length + 1).padEnd(36)} ${mb(m.bytes).padStart(9)} file: retained ${mb(m.retained)} (${(m.retained / m.bytes).toFixed(2)} B/B), peak while loading ${mb(m.peak)} (${(m.peak / m.bytes).toFixed(2)} B/B)`,
  );
}

// ---- the server ---------------------------------------------------------------------------------------
const timeoutS = Number(opt.timeout);
const bodyLimit = Number(opt['body-limit']);
const server = spawn(
  process.execPath,
  [
    cli,
    'serve',
    '--model',
    big,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--request-timeout',
    String(timeoutS),
    '--body-limit',
    String(bodyLimit),
    '--drain-delay',
    '0',
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
const { port, metricsPort } = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (b) => {
    buf += b;
    for (const line of buf.split('\n')) {
      try {
        const j = JSON.parse(line);
        if (j.msg === 'segserve serving') resolve(j);
      } catch {}
    }
  });
  server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
});
server.stdout.resume();

const rss = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
};

/** One request on its own connection; resolves with [status, ms] or [error, ms]. */
function request(text, p = port) {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(p, '127.0.0.1');
    let buf = '';
    socket.on('data', (d) => {
      buf += d;
    });
    socket.on('error', (e) => resolve([e.code, performance.now() - started, buf]));
    socket.on('close', () =>
      resolve([Number(buf.split(' ')[1]) || buf.slice(0, 30), performance.now() - started, buf]),
    );
    socket.write(text);
  });
}
const get = (path, p) => request(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`, p);
async function heapUsed() {
  const [, , text] = await get('/metrics', metricsPort);
  return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? Number.NaN);
}

/** /health/ping every 50 ms and RSS every 20 ms until stop(): latencies (ms) and the peak RSS. */
function watch() {
  const pings = [];
  let peak = rss();
  let on = true;
  const pinging = (async () => {
    while (on) {
      const [status, ms] = await get('/health/ping');
      pings.push(status === 200 ? ms : Number.POSITIVE_INFINITY);
      await sleep(50);
    }
  })();
  const sampling = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 20);
  return async () => {
    on = false;
    clearInterval(sampling);
    await pinging;
    pings.sort((a, b) => a - b);
    const q = (f) => pings[Math.min(pings.length - 1, Math.floor(f * pings.length))] ?? Number.NaN;
    return { p50: q(0.5), p99: q(0.99), max: pings[pings.length - 1], n: pings.length, peak };
  };
}
const fmtPing = (p) =>
  `ping p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms, max ${p.max.toFixed(1)} ms (${p.n})`;

await sleep(500);
const restStop = watch();
await sleep(1500);
const rest = await restStop();
const baseRss = rss();
const baseHeap = await heapUsed();
console.log(
  `\nserver at rest: RSS ${mb(baseRss)}, heap ${mb(baseHeap)}; ${fmtPing(rest)}  (the peer of every ratio below)`,
);

// ---- 2. 60 stalled uploads ---------------------------------------------------------------------------
{
  const declared = 9.5 * 1024 * 1024;
  const sent = 9 * 1024 * 1024;
  const chunk = Buffer.from(`{"data":{"ndarray":[${'[1,2,0,3],'.repeat(sent / 10 - 3)}`);
  const stop = watch();
  const started = performance.now();
  const cuts = await Promise.all(
    Array.from(
      { length: 60 },
      () =>
        new Promise((resolve) => {
          const socket = connect(port, '127.0.0.1');
          let answer = '';
          socket.on('data', (d) => {
            answer += d;
          });
          socket.on('error', () => {});
          socket.on('close', () => resolve([answer.split(' ')[1] ?? 'closed', performance.now() - started]));
          socket.write(
            `POST /api/v1.0/predictions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${declared}\r\n\r\n`,
          );
          socket.write(chunk);
        }),
    ),
  );
  const during = await stop();
  await sleep(settle * 1000);
  const after = rss();
  const heapAfter = await heapUsed();
  const statuses = [...new Set(cuts.map((c) => c[0]))].join(',');
  const cutAt = Math.max(...cuts.map((c) => c[1])) / 1000;
  console.log(`\n2. 60 stalled uploads (9 of 9.5 MB sent), --request-timeout ${timeoutS} s`);
  console.log(
    `   all cut: ${statuses} by ${cutAt.toFixed(1)} s; RSS peak ${mb(during.peak)}, ${settle} s later ${mb(after)} (baseline ${mb(baseRss)}); heap ${mb(heapAfter)} (baseline ${mb(baseHeap)})`,
  );
  console.log(`   ${fmtPing(during)}; p99 ratio to rest ${(during.p99 / rest.p99).toFixed(1)}`);
}

// ---- 3. N concurrent maximum-size bodies ---------------------------------------------------------------
{
  const n = Number(opt.concurrent);
  const row = '[34,100,1,2],';
  const rows = Math.floor((bodyLimit - 40) / row.length);
  const body = `{"data":{"ndarray":[${row.repeat(rows - 1)}[34,100,1,2]]}}`;
  const before = rss();
  const stop = watch();
  const results = await Promise.all(
    Array.from({ length: n }, () =>
      request(
        `POST /api/v1.0/predictions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      ),
    ),
  );
  const during = await stop();
  await sleep(settle * 1000);
  // Admitted: parsed (then answered 200, or 413 for more rows than --max-rows); the others were refused
  // unread with 503 (the body budget), which a client still writing its body sees as EPIPE.
  const admitted = results.filter((r) => r[0] === 200 || r[0] === 413).length;
  console.log(
    `\n3. ${n} concurrent ${mb(Buffer.byteLength(body))} bodies (${rows} rows each): ${admitted} admitted; answers ${results.map((r) => r[0]).join(',')}`,
  );
  console.log(
    `   RSS ${mb(before)} → peak ${mb(during.peak)}: ${mb((during.peak - before) / Math.max(1, admitted))} per admitted body (${((during.peak - before) / Math.max(1, admitted) / Buffer.byteLength(body)).toFixed(1)} B per body byte); ${settle} s later ${mb(rss())}, heap ${mb(await heapUsed())}`,
  );
  console.log(`   ${fmtPing(during)}; p99 ratio to rest ${(during.p99 / rest.p99).toFixed(1)}`);
}

// ---- 4. over-limit Content-Length ------------------------------------------------------------------------
{
  const stop = watch();
  const results = await Promise.all(
    Array.from({ length: 60 }, () =>
      request(
        'POST /api/v1.0/predictions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 52428800\r\n\r\n',
      ),
    ),
  );
  const during = await stop();
  console.log(
    `\n4. 60 requests declaring 50 MB, no body sent: ${[...new Set(results.map((r) => r[0]))].join(',')} in at most ${Math.max(...results.map((r) => r[1])).toFixed(1)} ms; RSS peak ${mb(during.peak)}`,
  );
  console.log(`   ${fmtPing(during)}`);
}

// ---- 5. deep JSON -----------------------------------------------------------------------------------------
{
  const body = '['.repeat(8 * 1024 * 1024);
  const stop = watch();
  const [status, ms] = await request(
    `POST /api/v1.0/predictions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
  await sleep(300);
  const during = await stop();
  console.log(`\n5. an 8 MB body of "[": ${status} in ${ms.toFixed(0)} ms`);
  console.log(`   ${fmtPing(during)}; max ratio to rest ${(during.max / rest.max).toFixed(1)}`);
}

server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
