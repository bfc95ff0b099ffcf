#!/usr/bin/env node
// Benchmark of `segserve simulate` against its peer, a straightforward vectorised numpy version of the
// same spec (bench/simulate_numpy.py), in one run on the same machine.
//
//   npm run build && npm run bench:simulate            (or: node bench/simulate.mjs [--repeat 3] [--no-10m])
//
// Each run is a separate process writing a CSV file to a temporary folder; wall seconds are measured
// around the process (start-up included, for both) and peak RSS is the process's maximum resident set
// size, from GNU time (`/usr/bin/time`, Debian package "time") or, without it, polled from /proc.
// Goals (issue 2): 1M rows in at most 0.25x numpy's time; 10M rows with a peak RSS under 150 MB.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// SEGSERVE_BIN=path/to/segserve.js compares another build (say, before and after a change).
const CLI = process.env.SEGSERVE_BIN ?? join(ROOT, 'bin', 'segserve.js');
const PEER = join(ROOT, 'bench', 'simulate_numpy.py');
const GNU_TIME = '/usr/bin/time';
const RATIO_GOAL = 0.25;
const RSS_GOAL_MB = 150;

const argv = process.argv.slice(2);
const repeat = Number(argv[argv.indexOf('--repeat') + 1]) || 3;
const with10M = !argv.includes('--no-10m');

if (!process.env.SEGSERVE_BIN && !existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('bench: dist/ is missing, run `npm run build` first');
  process.exit(1);
}
if (spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0) {
  console.error('bench: python3 with numpy is required for the peer (Debian: apt-get install python3-numpy)');
  process.exit(1);
}
const haveGnuTime = spawnSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;

/** Peak RSS (kB) of a running process, polled from /proc (fallback when GNU time is missing). */
function pollPeak(pid, state) {
  const timer = setInterval(async () => {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      state.peakKb = Math.max(state.peakKb, kb);
    } catch {
      // the process has exited
    }
  }, 10);
  return () => clearInterval(timer);
}

/** Runs a command to completion; returns wall seconds and peak RSS in MB. */
async function measure(command, args) {
  const report = join(workdir, 'time.txt');
  const [cmd, cmdArgs] = haveGnuTime
    ? [GNU_TIME, ['-o', report, '-f', '%M', command, ...args]]
    : [command, args];
  const state = { peakKb: 0 };
  const started = performance.now();
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  const stopPolling = haveGnuTime ? () => {} : pollPeak(child.pid, state);
  let stderr = '';
  child.stderr.on('data', (b) => {
    stderr += b;
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  const seconds = (performance.now() - started) / 1000;
  stopPolling();
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr}`);
  const peakKb = haveGnuTime
    ? Number((await readFile(report, 'utf8')).trim().split('\n').at(-1))
    : state.peakKb;
  return { seconds, rssMb: peakKb / 1024 };
}

const ours = (rows, out) =>
  measure(process.execPath, [CLI, 'simulate', '--rows', String(rows), '--out', out]);
const numpy = (rows, out) => measure('python3', [PEER, String(rows), out]);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function expectRows(path, rows) {
  const bytes = (await stat(path)).size;
  const lines = Number(spawnSync('wc', ['-l', path], { encoding: 'utf8' }).stdout.trim().split(/\s+/)[0]);
  if (lines !== rows + 1) throw new Error(`${path}: ${lines} lines, expected ${rows + 1}`);
  return bytes;
}

const workdir = await mkdtemp(join(tmpdir(), 'segserve-bench-'));
try {
  const results = [];
  const M = 1_000_000;
  // Interleaved, so that a busy moment of the machine hits both sides alike; the median of each.
  const runs = { ours: [], numpy: [], startup: [] };
  for (let i = 0; i < repeat; i++) {
    runs.ours.push(await ours(M, join(workdir, 'ours-1m.csv')));
    runs.numpy.push(await numpy(M, join(workdir, 'numpy-1m.csv')));
    runs.startup.push(await ours(1, join(workdir, 'ours-1.csv')));
  }
  await expectRows(join(workdir, 'ours-1m.csv'), M);
  await expectRows(join(workdir, 'numpy-1m.csv'), M);
  const pick = (rs) => ({
    seconds: median(rs.map((r) => r.seconds)),
    rssMb: Math.max(...rs.map((r) => r.rssMb)),
  });
  results.push({ what: 'segserve simulate', rows: M, ...pick(runs.ours) });
  results.push({ what: 'numpy (bench/simulate_numpy.py)', rows: M, ...pick(runs.numpy) });
  const startup = pick(runs.startup);
  await rm(join(workdir, 'numpy-1m.csv'));
  await rm(join(workdir, 'ours-1m.csv'));
  if (with10M) {
    const out = join(workdir, 'ours-10m.csv');
    results.push({ what: 'segserve simulate', rows: 10 * M, ...(await ours(10 * M, out)) });
    await expectRows(out, 10 * M);
    await rm(out);
  }

  const fmt = (n) => n.toLocaleString('en-US');
  console.log(`segserve simulate vs numpy, median of ${repeat} runs at 1M rows (node ${process.version})`);
  if (process.env.SEGSERVE_BIN) console.log(`segserve: ${CLI}`);
  console.log(`peak RSS from ${haveGnuTime ? 'GNU time (%M)' : '/proc VmHWM, polled every 10 ms'}\n`);
  console.log(
    `${'command'.padEnd(34)}${'rows'.padStart(12)}${'wall s'.padStart(10)}${'peak RSS MB'.padStart(14)}`,
  );
  for (const r of results) {
    console.log(
      `${r.what.padEnd(34)}${fmt(r.rows).padStart(12)}${r.seconds.toFixed(2).padStart(10)}${r.rssMb.toFixed(0).padStart(14)}`,
    );
  }
  const ratio = (results[0]?.seconds ?? 0) / (results[1]?.seconds ?? 1);
  console.log(
    `\nratio ours/numpy at 1M rows: ${ratio.toFixed(3)} (goal <= ${RATIO_GOAL}: ${ratio <= RATIO_GOAL ? 'met' : 'MISSED'})`,
  );
  const perRow = (results[0]?.seconds ?? 0) - startup.seconds;
  console.log(
    `of which start-up: ${startup.seconds.toFixed(2)} s (segserve simulate --rows 1, peak RSS ${startup.rssMb.toFixed(0)} MB);` +
      ` drawing and writing 1M rows: ${perRow.toFixed(2)} s`,
  );
  const big = results[2];
  if (big) {
    const ok = big.rssMb < RSS_GOAL_MB;
    console.log(
      `peak RSS at 10M rows: ${big.rssMb.toFixed(0)} MB (goal < ${RSS_GOAL_MB} MB: ${ok ? 'met' : 'MISSED'})`,
    );
  }
} finally {
  await rm(workdir, { recursive: true, force: true });
}
