/**
 * bench/forest: segserve's random forest against scikit-learn's RandomForestClassifier, in one run.
 *
 * 100 trees, max depth 10, sqrt features, bootstrap, on a simulated CSV (default 100,000 rows, seed
 * 1), 60/40 split (the same rows for both: see forest_data.mjs), one thread each. Each side runs as
 * a whole process (read the CSV, fit, predict the test rows), alternating, `--repeat` times; the
 * table shows medians of the whole-process wall time and of the fit alone. Then, in this process,
 * ml-random-forest (the JavaScript peer) and ours fit the same 1,000 training rows.
 *
 * Usage: npm run build && npm run bench:forest [-- --rows 100000 --seed 1 --repeat 3 --csv FILE --python PATH]
 * Passes when time ratio <= 1.0 and |accuracy difference| <= 0.3 points; exits 1 otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readCsv, splitRows } from './forest_data.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    trees: { type: 'string', default: '100' },
    depth: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
    csv: { type: 'string' },
    python: { type: 'string' },
    'baseline-rows': { type: 'string', default: '1000' },
  },
});
// The runs import dist/: refuse a missing or stale build rather than measure old code.
const built = join(root, 'dist/forest/tree.js');
const newestSource = Math.max(
  ...readdirSync(join(root, 'src/forest')).map((f) => statSync(join(root, 'src/forest', f)).mtimeMs),
);
if (!existsSync(built) || statSync(built).mtimeMs < newestSource) {
  console.error('bench/forest: dist/forest is missing or older than src/forest: run `npm run build` first');
  process.exit(2);
}
const python = opt.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const repeat = Math.max(1, Number(opt.repeat));
const single = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };

function run(cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: root, env: single, encoding: 'utf8', maxBuffer: 1 << 24 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr || r.error}`);
  }
  const lines = r.stdout.trim().split('\n');
  return { ...JSON.parse(lines[lines.length - 1]), wallSeconds: wall };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const fmt = (x, digits = 2) => x.toFixed(digits);
const pct = (x) => `${(100 * x).toFixed(3)} %`;

let tmp = null;
let csv = opt.csv;
if (!csv) {
  tmp = mkdtempSync(join(tmpdir(), 'segserve-bench-forest-'));
  csv = join(tmp, 'customers.csv');
  const r = spawnSync(
    process.execPath,
    ['bin/segserve.js', 'simulate', '--rows', opt.rows, '--seed', opt.seed, '--out', csv],
    { cwd: root, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`simulate failed: ${r.stderr}`);
}

try {
  const common = [csv, '--trees', opt.trees, '--depth', opt.depth, '--seed', opt.seed];
  const ours = [];
  const sk = [];
  for (let i = 0; i < repeat; i++) {
    ours.push(run(process.execPath, ['bench/forest_ours.mjs', ...common]));
    sk.push(run(python, ['bench/forest_sklearn.py', ...common]));
  }
  const o = {
    wall: median(ours.map((r) => r.wallSeconds)),
    fit: median(ours.map((r) => r.fitSeconds)),
    acc: ours[0].accuracy,
  };
  const s = {
    wall: median(sk.map((r) => r.wallSeconds)),
    fit: median(sk.map((r) => r.fitSeconds)),
    acc: sk[0].accuracy,
  };

  // The JavaScript peer on a small slice (it is O(n²) per node), in this process.
  const nBase = Number(opt['baseline-rows']);
  const table = await readCsv(csv);
  const { train, test } = splitRows(table, 0.4, nBase);
  const { fitForest } = await import('../dist/forest/index.js');
  const { RandomForestClassifier } = await import('ml-random-forest');
  const params = {
    nEstimators: Number(opt.trees),
    maxDepth: opt.depth === 'none' ? null : Number(opt.depth),
    minSamplesSplit: 2,
    minSamplesLeaf: 1,
    maxFeatures: 'sqrt',
    bootstrap: true,
  };
  const d = train.columns.length;
  const nTest = Math.min(test.n, 10_000);
  const accuracyOf = (predict) => {
    let correct = 0;
    const labels = predict();
    for (let i = 0; i < nTest; i++) if (labels[i] === test.y[i]) correct++;
    return correct / nTest;
  };
  const oursSmall = [];
  let smallForest = null;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    smallForest = fitForest(train, params, [Number(opt.seed)]);
    oursSmall.push((performance.now() - t0) / 1000);
  }
  const oursSmallAcc = accuracyOf(() => {
    const p = smallForest.predictProba(test.x, nTest);
    const K = smallForest.nClasses;
    return Array.from({ length: nTest }, (_, i) => {
      let best = 0;
      for (let k = 1; k < K; k++) if (p[i * K + k] > p[i * K + best]) best = k;
      return best;
    });
  });
  const rows = Array.from({ length: train.y.length }, (_, i) => train.columns.map((c) => c[i]));
  const ml = new RandomForestClassifier({
    nEstimators: Number(opt.trees),
    maxFeatures: Math.max(1, Math.floor(Math.sqrt(d))), // per tree in ml-random-forest, not per split
    replacement: false,
    useSampleBagging: true,
    noOOB: true,
    seed: Number(opt.seed),
    treeOptions: { maxDepth: params.maxDepth ?? undefined },
  });
  const t0 = performance.now();
  ml.train(rows, Array.from(train.y));
  const mlFit = (performance.now() - t0) / 1000;
  const mlAcc = accuracyOf(() =>
    ml.predict(Array.from({ length: nTest }, (_, i) => Array.from(test.x.subarray(i * d, i * d + d)))),
  );

  const ratio = o.wall / s.wall;
  const fitRatio = o.fit / s.fit;
  const accDiff = 100 * (o.acc - s.acc);
  const baseRatio = median(oursSmall) / mlFit;
  const line = (cells) => `| ${cells.join(' | ')} |`;
  console.log(
    `\nforest: ${opt.trees} trees, max depth ${opt.depth}, sqrt features, bootstrap; ` +
      `${ours[0].nTrain.toLocaleString('en')} train / ${ours[0].nTest.toLocaleString('en')} test rows ` +
      `of ${csv}; one thread; medians of ${repeat} alternating whole-process runs\n`,
  );
  console.log(line(['', 'segserve', `scikit-learn (${sk[0].impl.replace('scikit-learn ', '')})`, 'ratio']));
  console.log(line(['---', '---:', '---:', '---:']));
  console.log(line(['whole process, s', fmt(o.wall), fmt(s.wall), fmt(ratio)]));
  console.log(line(['fit only, s', fmt(o.fit), fmt(s.fit), fmt(fitRatio)]));
  console.log(
    line(['test accuracy', pct(o.acc), pct(s.acc), `${accDiff >= 0 ? '+' : ''}${fmt(accDiff, 3)} pt`]),
  );
  console.log(line(['nodes (all trees)', String(ours[0].nodes), String(sk[0].nodes), '']));
  console.log(`\nCSV reader used by segserve's run: ${ours[0].reader}`);
  console.log(
    `\nbaseline peer, ${train.y.length.toLocaleString('en')} training rows (same rows), this process:\n`,
  );
  console.log(line(['', 'segserve', 'ml-random-forest 2.1', 'ratio']));
  console.log(line(['---', '---:', '---:', '---:']));
  console.log(line(['fit, s', fmt(median(oursSmall), 3), fmt(mlFit, 3), fmt(baseRatio, 4)]));
  console.log(
    line([
      `accuracy on ${nTest.toLocaleString('en')} test rows`,
      pct(oursSmallAcc),
      pct(mlAcc),
      `${fmt(100 * (oursSmallAcc - mlAcc), 3)} pt`,
    ]),
  );
  console.log(
    `\nml-random-forest draws its ${Math.max(1, Math.floor(Math.sqrt(d)))} of ${d} features once per tree (its design), ` +
      'not per split; trees, depth and bootstrap as ours. Test accuracy is on the first ' +
      `${nTest.toLocaleString('en')} test rows.`,
  );
  const pass = ratio <= 1.0 && Math.abs(accDiff) <= 0.3;
  console.log(
    `\n${pass ? 'PASS' : 'FAIL'}: time ratio ${fmt(ratio)} (required <= 1.0, goal 0.5), ` +
      `accuracy difference ${fmt(Math.abs(accDiff), 3)} points (required <= 0.3)`,
  );
  process.exitCode = pass ? 0 : 1;
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
