/**
 * bench/serve-grpc: segserve's gRPC port (the built dist: buildApp + startGrpcServer on a trained
 * forest, REST listening beside it in the same process, the request hook recording into the request
 * histogram) against a plain @grpc/grpc-js server on the same .proto files that answers a constant of
 * the same shape, in the same run, each in its own process; the load comes from this process (grpc-js
 * `--concurrency` unary calls in flight, default 32 streams over `--channels` HTTP/2 connections): h2load
 * (nghttp2-client) when it is on PATH, a C client that leaves the server its core on a small machine;
 * else grpc-js clients (`--client grpc-js` forces them; on 2 cores they, not the servers, are then the
 * bottleneck: the server was 37 % busy, measured).
 *
 * Cases, single-row: Open Inference ModelInfer with typed `contents` (one FP64 input [1, 4]), the same
 * with `raw_input_contents` (answered raw), and Seldon v1 Predict (data.ndarray). Each case alternates
 * plain/segserve `--rounds` times (default 3) after a warm-up, `--duration` seconds each; best round of
 * each. Prints req/s, p50 and p99 (client-side) of both and the ratio segserve/plain; any error fails.
 * With `--rest`, segserve's REST port (same process) is measured too, for scale: the same single row
 * over `POST /v2/models/segserve/infer`, `--concurrency` keep-alive connections (h2load --h1, or
 * autocannon with the grpc-js client).
 *
 * `--cpu-prof`: runs the segserve server under --cpu-prof for one typed ModelInfer round and prints
 * where its CPU time goes (self time by package: grpc-js, protobufjs, segserve, Node internals, GC).
 *
 * Usage: npm run build && node bench/serve-grpc.mjs [--duration 5 --rounds 3 --concurrency 32
 *        --channels 1 --model FILE --dist DIR --rest --cpu-prof]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    channels: { type: 'string', default: '1' },
    model: { type: 'string' },
    dist: { type: 'string', default: join(root, 'dist') },
    rest: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    client: { type: 'string' },
    // internal: run as a server process
    serve: { type: 'string' },
  },
});
const dist = resolve(opt.dist);
const distUrl = (p) => pathToFileURL(join(dist, p)).href;

const ROW = [34.0, 100.0, 1, 2];
const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true };

async function loadDefinition() {
  const loader = await import('@grpc/proto-loader');
  const dir = join(dist, '..', 'proto');
  return loader.load(['inference.proto', 'seldon.proto'], {
    ...LOADER_OPTIONS,
    includeDirs: [existsSync(dir) ? dir : join(root, 'proto')],
  });
}

// ---------------------------------------------------------------- server processes

/** segserve: the REST app and the gRPC port on one runtime, as the CLI runs them. */
async function serveSegserve(modelPath) {
  const { buildApp } = await import(distUrl('serve/app.js'));
  const { ForestComponent } = await import(distUrl('serve/component.js'));
  const { loadArtifact } = await import(distUrl('pipeline/artifact.js'));
  const { startGrpcServer } = await import(distUrl('serve/grpc/server.js'));
  const { model, version } = await loadArtifact(modelPath);
  const app = await buildApp(new ForestComponent(model), { env: {}, modelVersion: version });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const metrics = app.segserve.metrics;
  const grpc = await startGrpcServer({
    runtime: app.segserve.runtime,
    port: 0,
    host: '127.0.0.1',
    // What the lead wires: the request histogram, with the RPC's status code.
    onRequest: (service, _rpc, code, seconds) => metrics.observeRequest(service, 'unary', code, seconds),
  });
  const stop = async () => {
    await grpc.drain(1000);
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(JSON.stringify({ grpcPort: grpc.port, restPort: app.server.address().port }));
}

/** A plain grpc-js server: the same protos, a constant answer of the same shape (no decoding). */
async function servePlain() {
  const grpc = await import('@grpc/grpc-js');
  const definition = await loadDefinition();
  const server = new grpc.Server();
  const probabilities = [0.2, 0.5, 0.3];
  const typed = {
    model_name: 'segserve',
    model_version: 'v',
    outputs: [
      {
        name: 'probabilities',
        datatype: 'FP64',
        shape: [1, 3],
        parameters: { classes: { string_param: '[0,1,2]' } },
        contents: { fp64_contents: probabilities },
      },
      { name: 'segment', datatype: 'INT64', shape: [1], contents: { int64_contents: [1] } },
    ],
  };
  const rawProbabilities = Buffer.alloc(24);
  for (const [i, p] of probabilities.entries()) rawProbabilities.writeDoubleLE(p, i * 8);
  const rawLabel = Buffer.alloc(8);
  rawLabel.writeBigInt64LE(1n);
  const raw = {
    model_name: 'segserve',
    model_version: 'v',
    outputs: typed.outputs.map(({ contents: _, ...o }) => o),
    raw_output_contents: [rawProbabilities, rawLabel],
  };
  const seldon = {
    data: {
      names: ['t:0', 't:1', 't:2'],
      ndarray: {
        values: [{ listValue: { values: probabilities.map((p) => ({ numberValue: p })) } }],
      },
    },
    meta: {},
  };
  server.addService(definition['inference.GRPCInferenceService'], {
    ModelInfer: (call, cb) => cb(null, (call.request.raw_input_contents?.length ?? 0) > 0 ? raw : typed),
  });
  server.addService(definition['seldon.protos.Seldon'], { Predict: (_call, cb) => cb(null, seldon) });
  const port = await new Promise((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
  console.log(JSON.stringify({ grpcPort: port }));
}

// ---------------------------------------------------------------- the load

function startServer(name, kind, modelPath, nodeArgs = []) {
  const args = [...nodeArgs, fileURLToPath(import.meta.url), '--serve', kind, '--dist', dist];
  if (modelPath) args.push('--model', modelPath);
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolveStart, reject) => {
    let buf = '';
    child.stdout.on('data', (b) => {
      buf += b;
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolveStart({ name, child, ...JSON.parse(line) });
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening`)));
  });
}

function stopServer(s) {
  return new Promise((r) => {
    s.child.removeAllListeners('exit');
    s.child.once('exit', r);
    s.child.kill('SIGTERM');
  });
}

const REQUESTS = {
  typed: {
    service: 'oip',
    method: 'ModelInfer',
    request: {
      model_name: 'segserve',
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: ROW } }],
    },
  },
  raw: {
    service: 'oip',
    method: 'ModelInfer',
    request: {
      model_name: 'segserve',
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4] }],
      raw_input_contents: [Buffer.from(new Float64Array(ROW).buffer)],
    },
  },
  seldon: {
    service: 'seldon',
    method: 'Predict',
    request: {
      data: { ndarray: { values: [{ listValue: { values: ROW.map((v) => ({ numberValue: v })) } }] } },
    },
  },
};

/** `concurrency` unary calls in flight for `seconds`: req/s, p50, p99 (ms), errors. */
async function load(grpc, definition, port, which, seconds, concurrency, channels) {
  const { service, method, request } = REQUESTS[which];
  const Ctor = grpc.makeGenericClientConstructor(
    definition[service === 'oip' ? 'inference.GRPCInferenceService' : 'seldon.protos.Seldon'],
    service,
  );
  const clients = [];
  for (let c = 0; c < channels; c++) {
    // A distinct option per client: its own channel (HTTP/2 connection).
    clients.push(
      new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.bench_channel': c }),
    );
  }
  const latencies = new Float64Array(4_000_000);
  let n = 0;
  let errors = 0;
  let firstError;
  const started = performance.now();
  const end = started + seconds * 1000;
  await new Promise((done) => {
    let running = concurrency;
    const one = (k) => {
      const client = clients[k % channels];
      const t0 = performance.now();
      client[method](request, (err) => {
        const t1 = performance.now();
        if (err) {
          errors++;
          firstError ??= err;
        } else if (n < latencies.length) latencies[n++] = t1 - t0;
        if (t1 < end) one(k);
        else if (--running === 0) done();
      });
    };
    for (let k = 0; k < concurrency; k++) one(k);
  });
  const elapsed = (performance.now() - started) / 1000;
  for (const c of clients) c.close();
  const sorted = latencies.subarray(0, n).sort();
  const pct = (p) => sorted[Math.min(n - 1, Math.floor((p / 100) * n))] ?? Number.NaN;
  return { rps: n / elapsed, p50: pct(50), p99: pct(99), errors, firstError };
}

/** The request of a case as a gRPC frame (5-byte header: not compressed, big-endian length). */
function grpcFrame(definition, which) {
  const { service, method, request } = REQUESTS[which];
  const svc = definition[service === 'oip' ? 'inference.GRPCInferenceService' : 'seldon.protos.Seldon'];
  const message = svc[method].requestSerialize(request);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return { frame, path: svc[method].path };
}

/**
 * The same load from h2load (nghttp2's HTTP/2 load generator, C: it costs the server's core far less
 * than a grpc-js client): one connection per channel, `concurrency` streams in flight. h2load sees
 * HTTP status only (gRPC's status is in the trailers), so each case is checked with a grpc-js call
 * before and after.
 */
function loadH2(definition, port, which, seconds, concurrency, channels) {
  const { frame, path } = grpcFrame(definition, which);
  const dir = join(tmpdir(), `segserve-grpc-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const body = join(dir, `${which}.bin`);
  const log = join(dir, 'h2load.log');
  writeFileSync(body, frame);
  rmSync(log, { force: true });
  const r = spawnSync(
    'h2load',
    [
      '-c',
      String(channels),
      '-m',
      String(Math.ceil(concurrency / channels)),
      '-t',
      '1',
      '-D',
      String(seconds),
      '-d',
      body,
      '-H',
      'content-type: application/grpc',
      '-H',
      'te: trailers',
      `--log-file=${log}`,
      `http://127.0.0.1:${port}${path}`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`h2load failed: ${r.stderr || r.stdout}`);
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(r.stdout)?.[1]);
  const failed =
    /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored/.exec(r.stdout);
  const errors = failed ? Number(failed[1]) + Number(failed[2]) : 1;
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  const latencies = Float64Array.from(lines, (l) => Number(l.split('\t')[2]) / 1000).sort();
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return {
    rps,
    p50: pct(50),
    p99: pct(99),
    errors,
    firstError: errors > 0 ? new Error(r.stdout.split('\n').slice(-12).join('\n')) : undefined,
  };
}

/** h2load over HTTP/1.1 (keep-alive), one request in flight per connection: the REST port's figures. */
function loadH1(url, json, seconds, connections) {
  const dir = join(tmpdir(), `segserve-grpc-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const body = join(dir, 'rest.json');
  const log = join(dir, 'h1.log');
  writeFileSync(body, json);
  rmSync(log, { force: true });
  const r = spawnSync(
    'h2load',
    [
      '--h1',
      '-c',
      String(connections),
      '-m',
      '1',
      '-t',
      '1',
      '-D',
      String(seconds),
      '-d',
      body,
      '-H',
      'content-type: application/json',
      `--log-file=${log}`,
      url,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`h2load failed: ${r.stderr || r.stdout}`);
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(r.stdout)?.[1]);
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  const statuses = lines.map((l) => Number(l.split('\t')[1]));
  const latencies = Float64Array.from(lines, (l) => Number(l.split('\t')[2]) / 1000).sort();
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { rps, p50: pct(50), p99: pct(99), errors: statuses.filter((c) => c !== 200).length };
}

/** One grpc-js call of a case: throws unless it is answered OK. */
async function check(grpc, definition, port, which) {
  const { service, method, request } = REQUESTS[which];
  const Ctor = grpc.makeGenericClientConstructor(
    definition[service === 'oip' ? 'inference.GRPCInferenceService' : 'seldon.protos.Seldon'],
    service,
  );
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    await new Promise((ok, fail) => client[method](request, (err, res) => (err ? fail(err) : ok(res))));
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------- where the time goes

const CATEGORIES = [
  ['grpc-js', /@grpc\/grpc-js/],
  ['protobufjs + proto-loader', /protobufjs|@grpc\/proto-loader|@protobufjs/],
  ['segserve: forest', /\/dist\/(forest|pipeline)\//],
  ['segserve: serve (decode, encode, metrics)', /\/dist\//],
  [
    'node: http2, streams, net',
    /node:(internal\/)?(http2|stream|net|internal\/stream|internal\/http2|_stream)|internal\/(http2|streams|stream_base)/,
  ],
  ['node: other', /node:|^internal\//],
];

/** The profile's samples after `skipMs` (start-up and module loading left out). */
function summarizeProfile(dir, skipMs) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return undefined;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const dt = profile.timeDeltas.reduce((a, b) => a + b, 0) / profile.samples.length / 1000; // ms per sample
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const hits = new Map();
  let at = 0;
  let wall = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] / 1000;
    if (at < skipMs) continue;
    wall += profile.timeDeltas[i] / 1000;
    const id = profile.samples[i];
    hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  const byCategory = new Map();
  const byFunction = new Map();
  let total = 0;
  for (const [id, count] of hits) {
    const { callFrame } = byId.get(id);
    const url = callFrame.url ?? '';
    const fn = callFrame.functionName || '(anonymous)';
    let category;
    if (fn === '(idle)') category = 'idle';
    else if (fn === '(garbage collector)') category = 'GC';
    else if (fn === '(program)') category = 'V8 (program)';
    else if (url === '') category = 'native / V8 builtins';
    else category = CATEGORIES.find(([, re]) => re.test(url))?.[0] ?? url;
    byCategory.set(category, (byCategory.get(category) ?? 0) + count);
    if (category !== 'idle') {
      const key = `${fn} (${url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/')}:${callFrame.lineNumber + 1})`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + count);
      total += count;
    }
  }
  return { dt, total, wall, byCategory, byFunction };
}

// ---------------------------------------------------------------- main

async function main() {
  if (!existsSync(join(dist, 'serve/grpc/server.js'))) {
    throw new Error(`no build at ${dist}: run \`npm run build\` first (or pass --dist DIR)`);
  }
  const grpc = await import('@grpc/grpc-js');
  const definition = await loadDefinition();
  const duration = Number(opt.duration);
  const rounds = Math.max(1, Number(opt.rounds));
  const concurrency = Number(opt.concurrency);
  const channels = Math.max(1, Number(opt.channels));
  const h2loadFound = spawnSync('h2load', ['--version'], { encoding: 'utf8' }).status === 0;
  const client = opt.client ?? (h2loadFound ? 'h2load' : 'grpc-js');
  if (client === 'h2load' && !h2loadFound)
    throw new Error('--client h2load: h2load is not on PATH (apt-get install nghttp2-client)');
  const run = async (port, which, seconds) => {
    if (client === 'grpc-js') return load(grpc, definition, port, which, seconds, concurrency, channels);
    await check(grpc, definition, port, which);
    const res = loadH2(definition, port, which, seconds, concurrency, channels);
    await check(grpc, definition, port, which);
    return res;
  };
  const benchModel = join(root, 'bench/out/post-model.json');
  const modelPath = resolve(
    opt.model ?? (existsSync(benchModel) ? benchModel : join(root, 'test/fixtures/model.json')),
  );
  console.log(
    `model ${modelPath}\nload from ${client}: ${concurrency} unary calls in flight over ${channels} HTTP/2 connection(s), ${duration} s rounds, best of ${rounds}\n`,
  );

  const segserve = await startServer('segserve', 'segserve', modelPath);
  const plain = await startServer('plain grpc-js', 'plain');
  let failed = false;
  try {
    for (const which of ['typed', 'raw', 'seldon']) {
      await run(segserve.grpcPort, which, 1); // warm-up
      await run(plain.grpcPort, which, 1);
      const best = { plain: undefined, segserve: undefined };
      for (let r = 0; r < rounds; r++) {
        for (const s of [plain, segserve]) {
          const key = s === plain ? 'plain' : 'segserve';
          const res = await run(s.grpcPort, which, duration);
          if (res.errors > 0) {
            failed = true;
            console.error(`${s.name} ${which}: ${res.errors} errors, first: ${res.firstError?.message}`);
          }
          if (best[key] === undefined || res.rps > best[key].rps) best[key] = res;
        }
      }
      const label = {
        typed: 'ModelInfer, typed contents, FP64 [1, 4]',
        raw: 'ModelInfer, raw_input_contents, FP64 [1, 4]',
        seldon: 'seldon.protos.Seldon/Predict, data.ndarray [[4 values]]',
      }[which];
      console.log(label);
      for (const key of ['plain', 'segserve']) {
        const b = best[key];
        console.log(
          `  ${key.padEnd(9)} ${b.rps.toFixed(0).padStart(7)} req/s   p50 ${b.p50.toFixed(2)} ms   p99 ${b.p99.toFixed(2)} ms`,
        );
      }
      console.log(`  ratio segserve/plain: ${(best.segserve.rps / best.plain.rps).toFixed(2)}\n`);
    }
    if (opt.rest) {
      const body = JSON.stringify({
        inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4], data: ROW }],
      });
      const url = `http://127.0.0.1:${segserve.restPort}/v2/models/segserve/infer`;
      let line;
      if (client === 'h2load') {
        const r = loadH1(url, body, duration, concurrency);
        line = `${r.rps.toFixed(0)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   (h2load --h1, errors ${r.errors})`;
        if (r.errors > 0) failed = true;
      } else {
        const autocannon = (await import('autocannon')).default;
        const r = await autocannon({
          url,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          connections: concurrency,
          duration,
        });
        line = `${r.requests.average.toFixed(0)} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   (autocannon, non-2xx ${r.non2xx})`;
      }
      console.log(
        `REST beside it (same process), POST /v2/models/segserve/infer, ${concurrency} connections:`,
      );
      console.log(`  segserve  ${line}\n`);
    }
  } finally {
    await stopServer(segserve);
    await stopServer(plain);
  }

  if (opt['cpu-prof']) {
    const dir = join(root, 'bench/out/grpc-prof');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const spawned = performance.now();
    const profiled = await startServer('segserve (profiled)', 'segserve', modelPath, [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
    ]);
    await run(profiled.grpcPort, 'typed', 1); // warm-up
    const skipMs = performance.now() - spawned;
    const res = await run(profiled.grpcPort, 'typed', duration);
    await stopServer(profiled);
    const summary = summarizeProfile(dir, skipMs);
    if (summary) {
      const { dt, total, wall, byCategory, byFunction } = summary;
      const busyMs = total * dt;
      console.log(
        `where segserve's time goes (typed ModelInfer, ${res.rps.toFixed(0)} req/s under the profiler): busy ${busyMs.toFixed(0)} of ${wall.toFixed(0)} ms (${((100 * busyMs) / wall).toFixed(0)} % of one core), ${((1000 * busyMs) / (res.rps * duration)).toFixed(1)} µs per call`,
      );
      const busy = [...byCategory].filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1]);
      for (const [k, v] of busy.slice(0, 10))
        console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
      console.log('  top functions (self time):');
      for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
        console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
      }
      console.log(`  (profile in ${dir})`);
    }
  }
  if (failed) process.exitCode = 1;
}

if (opt.serve === 'segserve') {
  await serveSegserve(opt.model);
} else if (opt.serve === 'plain') {
  await servePlain();
} else {
  await main();
}
