/**
 * bench/forest: segserve's random forest against scikit-learn's RandomForestClassifier, in one run,
 * on the post's simulated data and on real data sets (issue 11).
 *
 * Data sets (forest_data.mjs): post (100,000 simulated rows, the last 40 % as test rows, max depth
 * 10), penguins (test/fixtures; string categories; the 11 incomplete rows left out, as scikit-learn
 * 1.2 refuses NaN), digits and letter (../shared/datasets), wide200 (4,000 synthetic rows × 160
 * categorical + 40 numeric columns, 3 classes); all but post split stratified 70/30 and grown to
 * full depth. Each is encoded as `segserve train` encodes it and written to two numeric CSVs that
 * both sides read. Then, alternating, `--repeat` times: `node bench/forest_ours.mjs` and
 * `python3 bench/forest_sklearn.py fit` (100 trees, max_features sqrt, bootstrap, one thread).
 * Each row prints the medians of both fit times and both predict_proba times (every test row in
 * one call; per run the median of --predict-calls warmed calls in the same process, after a first
 * call that is printed apart, labelled "first call", as it carries the JIT warm-up), their ratios
 * (ours / scikit-learn's, < 1 = faster; predict on the warmed calls) and both test accuracies.
 *
 * --rss ROWS: also the peak resident memory (/usr/bin/time -f %M) of `segserve train --no-search`
 * and of scikit-learn (forest_sklearn.py train: read, fit, score, pickle) on one generated CSV of
 * ROWS rows × 20 numeric features (e.g. --rss 1000000).
 *
 * Usage: npm run build && npm run bench:forest [-- --repeat 3 --only letter,digits --root DIR
 *        --shared DIR --python PATH --rss 1000000 --workers 1 --predict-calls 5]
 * `--root DIR` measures another segserve build (DIR/dist, DIR/bin) instead of this checkout's.
 * Exits 1 when a fit ratio is above 1.0 (0.5 on post) or a predict_proba ratio above 1.0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DATASETS, prepare } from './forest_data.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    only: { type: 'string' },
    root: { type: 'string' },
    shared: { type: 'string', default: join(repo, '..', 'shared', 'datasets') },
    python: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'one-row': { type: 'string', default: '1000' },
    rss: { type: 'string' },
    workers: { type: 'string', default: '1' },
    'predict-calls': { type: 'string', default: '5' },
  },
});
const root = opt.root ?? repo;
if (!opt.root) {
  // The runs import dist/: refuse a missing or stale build rather than measure old code.
  const built = join(root, 'dist/forest/tree.js');
  const newestSource = Math.max(
    ...readdirSync(join(root, 'src/forest')).map((f) => statSync(join(root, 'src/forest', f)).mtimeMs),
  );
  if (!existsSync(built) || statSync(built).mtimeMs < newestSource) {
    console.error('bench/forest: dist/forest is missing or older than src/forest: run `npm run build` first');
    process.exit(2);
  }
}
const python = opt.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const repeat = Math.max(1, Number(opt.repeat));
const single = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
const datasets = DATASETS.filter((d) => !opt.only || opt.only.split(',').includes(d.name));
if (datasets.length === 0 && !opt.rss) {
  console.error(`bench/forest: --only ${opt.only} names no data set (${DATASETS.map((d) => d.name)})`);
  process.exit(2);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: repo, env: single, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr || r.error}`);
  }
  const lines = r.stdout.trim().split('\n');
  return { json: JSON.parse(lines[lines.length - 1]), stderr: r.stderr };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const ms = (s) => (1000 * s).toFixed(s < 0.1 ? 1 : 0);
const pct = (x) => (100 * x).toFixed(2);
const line = (cells) => `| ${cells.join(' | ')} |`;

const tmp = mkdtempSync(join(tmpdir(), 'segserve-bench-forest-'));
let pass = true;
try {
  if (datasets.length > 0) {
    const rows = [];
    let impl = '';
    for (const ds of datasets) {
      const p = await prepare(ds, { root, repo, shared: opt.shared, dir: tmp });
      const depth = ds.depth === null ? 'none' : String(ds.depth);
      const common = [
        ...['--trees', '100', '--depth', depth, '--seed', opt.seed],
        ...['--predict-calls', opt['predict-calls']],
      ];
      const ours = [];
      const sk = [];
      for (let i = 0; i < repeat; i++) {
        ours.push(
          run(process.execPath, [
            'bench/forest_ours.mjs',
            p.trainPath,
            p.testPath,
            ...common,
            '--root',
            root,
            '--one-row',
            i === 0 ? opt['one-row'] : '0',
          ]).json,
        );
        sk.push(run(python, ['bench/forest_sklearn.py', 'fit', p.trainPath, p.testPath, ...common]).json);
      }
      impl = sk[0].impl;
      const o = {
        fit: median(ours.map((r) => r.fitSeconds)),
        pred: median(ours.map((r) => r.predictSeconds)),
        first: median(ours.map((r) => r.firstPredictSeconds)),
        one: ours[0].oneRowSeconds,
        acc: ours[0].accuracy,
      };
      const s = {
        fit: median(sk.map((r) => r.fitSeconds)),
        pred: median(sk.map((r) => r.predictSeconds)),
        first: median(sk.map((r) => r.firstPredictSeconds)),
        acc: sk[0].accuracy,
      };
      const fitRatio = o.fit / s.fit;
      const predRatio = o.pred / s.pred;
      const fitGoal = ds.name === 'post' ? 0.5 : 1.0;
      if (fitRatio > fitGoal || predRatio > 1.0) pass = false;
      rows.push(
        line([
          ds.name,
          `${p.nTrain}+${p.nTest} × ${p.nFeatures} × ${p.nClasses}`,
          ms(o.fit),
          ms(s.fit),
          `**${fitRatio.toFixed(2)}**`,
          ms(o.pred),
          ms(s.pred),
          `**${predRatio.toFixed(2)}**`,
          ms(o.first),
          ms(s.first),
          o.one === null ? '' : `${(1e6 * o.one).toFixed(1)} µs`,
          pct(o.acc),
          pct(s.acc),
        ]),
      );
      console.error(`bench/forest: ${ds.name} done`);
    }
    console.log(
      `\nforest: 100 trees, max_features sqrt, bootstrap, one thread; segserve (${root}) vs ${impl}; ` +
        `medians of ${repeat} alternating whole-process runs; times in ms; predict_proba: every test ` +
        `row in one call, median of ${opt['predict-calls']} warmed calls in the process (the first ` +
        `call, with JIT warm-up, apart)\n`,
    );
    console.log(
      line([
        'data set',
        'train+test × features × classes',
        'fit ours',
        'fit sklearn',
        'fit ratio',
        'predict_proba ours',
        'predict_proba sklearn',
        'predict ratio',
        'first call ours',
        'first call sklearn',
        'ours, one row per call',
        'accuracy ours %',
        'accuracy sklearn %',
      ]),
    );
    console.log(line(['---', '---', ...Array(11).fill('---:')]));
    for (const r of rows) console.log(r);
    console.log('\nGoal: fit ratio <= 1.0 (<= 0.5 on post), predict ratio <= 1.0 on every data set.');
  }

  if (opt.rss) {
    const n = Number(opt.rss);
    const csv = join(tmp, 'rss.csv');
    writeRssData(csv, n);
    const time = (args) => {
      const r = spawnSync('/usr/bin/time', ['-f', '%M', ...args], {
        cwd: repo,
        env: single,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`${args.join(' ')} failed:\n${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      return Number(lines[lines.length - 1]) / 1024;
    };
    const oursArgs = [
      process.execPath,
      join(root, 'bin/segserve.js'),
      'train',
      '--data',
      csv,
      '--target',
      'y',
      '--no-search',
      '--seed',
      opt.seed,
      '--out',
      join(tmp, 'rss-model.json'),
      '--no-report',
      ...(opt.workers ? ['--workers', opt.workers] : []),
    ];
    const skArgs = [
      python,
      'bench/forest_sklearn.py',
      'train',
      csv,
      '--target',
      'y',
      '--out',
      join(tmp, 'rss.pkl'),
    ];
    const oursMb = time(oursArgs);
    const skMb = time(skArgs);
    console.log(
      `\npeak RSS (/usr/bin/time -f %M), ${n.toLocaleString('en')} rows × 20 features, 100 trees:\n`,
    );
    console.log(line(['', 'MB']));
    console.log(line(['---', '---:']));
    console.log(line([`segserve train --no-search --workers ${opt.workers}`, oursMb.toFixed(0)]));
    console.log(line(['scikit-learn (read, fit, score, pickle)', skMb.toFixed(0)]));
    console.log(line(['ratio', (oursMb / skMb).toFixed(2)]));
    if (oursMb > skMb) pass = false;
  }
  console.log(`\n${pass ? 'PASS' : 'FAIL'}`);
  process.exitCode = pass ? 0 : 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * ROWS rows × 20 numeric features (integers 0..99 and one-decimal values) and a class y in 0..2 set
 * by a few of them, no noise: a fit whose memory is the data and the training scratch.
 */
function writeRssData(path, rows) {
  let a = 12345;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const header = `${Array.from({ length: 20 }, (_, j) => `x${j}`).join(',')},y\n`;
  const chunks = [header];
  const x = new Float64Array(20);
  let flag = 'w';
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < 20; j++)
      x[j] = j % 2 === 0 ? Math.floor(rand() * 100) : Math.round(rand() * 1000) / 10;
    const y = x[0] + x[2] > 100 ? (x[1] > 50 ? 2 : 1) : 0;
    chunks.push(`${Array.from(x).join(',')},${y}\n`);
    if (chunks.length >= 10000) {
      writeFileSync(path, chunks.join(''), { flag });
      flag = 'a';
      chunks.length = 0;
    }
  }
  writeFileSync(path, chunks.join(''), { flag });
}
