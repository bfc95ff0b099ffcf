/**
 * bench/serve: `segserve serve` (the built CLI, a real trained forest) against a bare Fastify server
 * that parses the same body and returns a constant answer of the same shape (bench/serve-bare.mjs),
 * in the same run, each in its own process, autocannon in this one. A third server, segserve's app over
 * a constant model (bench/serve-constant.mjs), separates the server's own overhead from the forest's
 * prediction time.
 *
 * 1. Single-row predictions, 32 connections, `--duration` seconds each, alternating bare/segserve
 *    `--rounds` times (default 3) after a warm-up; best round of each. Prints req/s, p99 and errors of both, and
 *    the ratio segserve/bare (goal ≥ 0.85; fails below 0.75 or on any error or non-2xx). Done twice: Seldon
 *    v1 (`POST /api/v1.0/predictions`, data.ndarray) and the Open Inference Protocol v2
 *    (`POST /v2/models/segserve/infer`, one FP64 input of shape [1, 4]); the bare peer answers both routes.
 * 2. The latency of a 1,000-row request (sequential, one connection): median and p99 of both (Seldon v1).
 *
 * The model: `--model PATH`, or the one `segserve up` serves: the default simulation (5000 rows) and the
 * post's default search, trained here and cached in bench/out/ (pass `--model` to measure another, e.g.
 * a 100-tree forest of unlimited depth from `segserve train --no-search`).
 *
 * Usage: npm run build && npm run bench:serve [-- --duration 10 --rounds 3 --connections 32 --model FILE]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    model: { type: 'string' },
    'big-requests': { type: 'string', default: '200' },
  },
});
const duration = Number(opt.duration);
const rounds = Math.max(1, Number(opt.rounds));
const connections = Number(opt.connections);
const cli = join(root, 'bin/segserve.js');
if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('run `npm run build` first');

function cliSync(args) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`segserve ${args.join(' ')} failed:\n${r.stderr}`);
}

let model = opt.model;
if (!model) {
  const out = join(root, 'bench/out');
  mkdirSync(out, { recursive: true });
  model = join(out, 'post-model.json');
  if (!existsSync(model)) {
    const csv = join(out, 'post-customers.csv');
    cliSync(['simulate', '--out', csv]);
    cliSync(['train', '--data', csv, '--out', model, '--no-report']);
  }
}

/** Starts a server process and resolves with its port (from its first JSON line with `port`). */
function startServer(name, args) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (b) => {
      buf += b;
      for (const line of buf.split('\n')) {
        try {
          const j = JSON.parse(line);
          if (typeof j.port === 'number' && (j.msg === undefined || j.msg === 'segserve serving')) {
            child.stdout.removeAllListeners('data');
            child.stdout.resume();
            resolve({ name, child, port: j.port });
            return;
          }
        } catch {}
      }
    });
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}) before listening`)));
  });
}

const single = JSON.stringify({ data: { ndarray: [[34.0, 100.0, 1, 2]] } });
const oipSingle = JSON.stringify({
  inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'FP64', data: [[34.0, 100.0, 1, 2]] }],
});
/** The two single-row workloads: the route and the body. */
const protocols = [
  { name: 'seldon v1', path: '/api/v1.0/predictions', body: single },
  { name: 'oip v2', path: '/v2/models/segserve/infer', body: oipSingle },
];
const rows = [];
for (let i = 0; i < 1000; i++) rows.push([18 + (i % 60), 20 + ((i * 37) % 180), i % 2, i % 7]);
const big = JSON.stringify({ data: { ndarray: rows } });

function cannon(port, seconds, protocol) {
  return autocannon({
    url: `http://127.0.0.1:${port}${protocol.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: protocol.body,
    connections,
    duration: seconds,
  });
}

function post(port, body, path = '/api/v1.0/predictions') {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}: ${Buffer.concat(chunks)}`));
          else resolve({ ms, body: Buffer.concat(chunks).toString() });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const servers = [];
const best = new Map();
try {
  servers.push(await startServer('bare fastify', [join(root, 'bench/serve-bare.mjs')]));
  const segArgs = ['serve', '--model', model, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'];
  servers.push(await startServer('segserve', [cli, ...segArgs]));
  servers.push(await startServer('constant', [join(root, 'bench/serve-constant.mjs')]));
  // Correctness first: segserve answers the single row with 3 probabilities summing to 1.
  const check = JSON.parse((await post(servers[1].port, single)).body);
  const p = check.data.ndarray[0];
  if (p.length !== 3 || Math.abs(p[0] + p[1] + p[2] - 1) > 1e-9)
    throw new Error(`bad answer ${JSON.stringify(check)}`);
  // ... and the same row over v2, with the same probabilities.
  const oipCheck = JSON.parse((await post(servers[1].port, oipSingle, protocols[1].path)).body);
  const q = oipCheck.outputs.find((o) => o.name === 'probabilities')?.data;
  if (JSON.stringify(q) !== JSON.stringify(p)) throw new Error(`bad v2 answer ${JSON.stringify(oipCheck)}`);

  for (const protocol of protocols) for (const s of servers) await cannon(s.port, 2, protocol); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const protocol of protocols) {
      // Alternate who goes first, so a burst of outside load does not always hit the same side.
      for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
        const res = await cannon(s.port, duration, protocol);
        const errors = res.errors + res.timeouts + res.non2xx;
        const row = {
          rps: res.requests.average,
          p99: res.latency.p99,
          p50: res.latency.p50,
          errors,
          total: res.requests.total,
        };
        const key = `${protocol.name}|${s.name}`;
        const prev = best.get(key);
        if (!prev || row.rps > prev.rps) best.set(key, { ...row, errors: (prev?.errors ?? 0) + errors });
        else prev.errors += errors;
      }
    }
  }

  const bigLatency = new Map();
  for (const s of servers) {
    for (let i = 0; i < 20; i++) await post(s.port, big);
    const ms = [];
    for (let i = 0; i < Number(opt['big-requests']); i++) ms.push((await post(s.port, big)).ms);
    bigLatency.set(s.name, ms);
  }

  const pad = (x, n) => String(x).padStart(n);
  console.log(
    `\nbench/serve: single-row requests, ${connections} connections, ${duration} s, best of ${rounds}`,
  );
  console.log(`model: ${model}`);
  const ratios = [];
  for (const protocol of protocols) {
    const get = (name) => best.get(`${protocol.name}|${name}`);
    const ratio = get('segserve').rps / get('bare fastify').rps;
    const overhead = get('constant').rps / get('bare fastify').rps;
    ratios.push(ratio);
    console.log(`\n${protocol.name}: POST ${protocol.path}`);
    console.log(
      `${'server'.padEnd(14)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('errors', 9)}`,
    );
    for (const s of servers) {
      const r = get(s.name);
      console.log(
        `${s.name.padEnd(14)}${pad(Math.round(r.rps), 10)}${pad(r.p50, 9)}${pad(r.p99, 9)}${pad(r.errors, 9)}`,
      );
    }
    console.log(`ratio segserve / bare: ${ratio.toFixed(3)} (goal ≥ 0.85, must ≥ 0.75)`);
    console.log(
      `ratio constant / bare: ${overhead.toFixed(3)} (segserve's app over a constant model: the server's own overhead)`,
    );
  }
  console.log(`\n1,000-row request (${opt['big-requests']} sequential, one connection):`);
  for (const [name, ms] of bigLatency) {
    console.log(
      `${name.padEnd(14)} median ${quantile(ms, 0.5).toFixed(2)} ms, p99 ${quantile(ms, 0.99).toFixed(2)} ms`,
    );
  }
  const errors = [...best.values()].reduce((a, r) => a + r.errors, 0);
  const failed = ratios.some((r) => r < 0.75) || errors > 0;
  console.log(failed ? '\nFAIL' : '\nPASS');
  process.exitCode = failed ? 1 : 0;
} finally {
  for (const s of servers) s.child.kill('SIGTERM');
}
