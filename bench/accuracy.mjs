/**
 * bench/accuracy: segserve's test accuracy on real data against scikit-learn's RandomForestClassifier
 * on the same files, in one run (issue 9: within 0.01).
 *
 * For each data set (letter, digits from ../shared/datasets/): one fixed, seeded, stratified 70/30
 * holdout written as two CSVs in a temporary folder (scikit-learn's train_test_split, see
 * accuracy_sklearn.py; the same two files for both sides). Feature columns constant in the training
 * part are left out on both sides (segserve refuses a constant feature). Then, alternating, `--repeat`
 * times:
 *   ours: node bin/segserve.js train --data train.csv --test-data test.csv --target T --no-search
 *         --n-estimators 100 --max-features sqrt --json --out <tmp>/model.json --no-report
 *   peer: RandomForestClassifier(n_estimators=100, max_features="sqrt", n_jobs=1, random_state=0)
 *         fitted on train.csv, scored on test.csv.
 * Prints a table: data set, rows, both test accuracies, the difference, both training times (the fit
 * alone: segserve's `timings.refit`, scikit-learn's `fit()`; medians) and their ratio; then the
 * whole-process wall times. Exits 1 when |difference| > 0.01 for any data set.
 *
 * Usage: npm run build && npm run bench:accuracy [-- --repeat 3 --datasets DIR --only letter
 *        --split-seed 0 --peer-only --python PATH --cli PATH]
 * --peer-only runs the holdout and scikit-learn's side alone (no segserve build needed); --cli runs
 * another segserve entry point (a build elsewhere) instead of bin/segserve.js, unchecked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    datasets: { type: 'string', default: join(root, '..', 'shared', 'datasets') },
    only: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    'split-seed': { type: 'string', default: '0' },
    'test-size': { type: 'string', default: '0.3' },
    trees: { type: 'string', default: '100' },
    'peer-only': { type: 'boolean', default: false },
    python: { type: 'string' },
    cli: { type: 'string' },
  },
});
const TOLERANCE = 0.01;
// Data sets and their target columns (../shared/datasets/README.md).
const DATASETS = [
  { name: 'letter', file: 'letter.csv', target: 'lettr' },
  { name: 'digits', file: 'digits.csv', target: 'target' },
].filter((d) => !opt.only || opt.only.split(',').includes(d.name));
if (DATASETS.length === 0) {
  console.error(`bench/accuracy: --only ${opt.only} names no data set; expected letter and/or digits`);
  process.exit(2);
}
const python = opt.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const repeat = Math.max(1, Number(opt.repeat) || 1);
const peerOnly = opt['peer-only'];
const single = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };

// The CLI runs dist/: refuse a missing or stale build rather than measure old code.
const cli = opt.cli ?? 'bin/segserve.js';
if (!peerOnly && !opt.cli) {
  const newest = (dir) =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  const built = join(root, 'dist/cli/train.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newest(join(root, 'src'))) {
    console.error('bench/accuracy: dist/ is missing or older than src/: run `npm run build` first');
    process.exit(2);
  }
}

/** Runs a command; returns its last stdout line as JSON and its wall time. */
function run(cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: root, env: single, encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr || r.error}`);
  }
  const out = r.stdout.trim();
  let json;
  try {
    json = JSON.parse(out);
  } catch {
    json = JSON.parse(out.split('\n').at(-1));
  }
  return { json, wall };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const fmt = (x, digits = 2) => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits));
const line = (cells) => `| ${cells.join(' | ')} |`;

const tmp = mkdtempSync(join(tmpdir(), 'segserve-bench-accuracy-'));
const results = [];
try {
  for (const d of DATASETS) {
    const source = join(opt.datasets, d.file);
    if (!existsSync(source)) throw new Error(`${source} does not exist (see --datasets)`);
    const split = run(python, [
      'bench/accuracy_sklearn.py',
      'split',
      source,
      '--target',
      d.target,
      '--out-dir',
      tmp,
      '--test-size',
      opt['test-size'],
      '--seed',
      opt['split-seed'],
    ]).json;
    const drop = split.constant;
    const ours = [];
    const peer = [];
    for (let i = 0; i < repeat; i++) {
      if (!peerOnly) {
        const args = [
          cli,
          'train',
          '--data',
          split.train,
          '--test-data',
          split.test,
          '--target',
          d.target,
          '--no-search',
          '--n-estimators',
          opt.trees,
          '--max-features',
          'sqrt',
          '--json',
          '--out',
          join(tmp, `${d.name}.model.json`),
          '--no-report',
        ];
        if (drop.length > 0) args.push('--ignore', drop.join(','));
        ours.push(run(process.execPath, args));
      }
      const peerArgs = ['bench/accuracy_sklearn.py', 'fit', split.train, split.test, '--target', d.target];
      peerArgs.push('--trees', opt.trees, '--seed', '0', '--drop', drop.join(','));
      peer.push(run(python, peerArgs));
    }
    const o = peerOnly
      ? null
      : {
          acc: ours[0].json.testAccuracy,
          fit: median(ours.map((r) => r.json.timings?.refit ?? Number.NaN)),
          wall: median(ours.map((r) => r.wall)),
        };
    const s = {
      acc: peer[0].json.testAccuracy,
      fit: median(peer.map((r) => r.json.fitSeconds)),
      wall: median(peer.map((r) => r.wall)),
      impl: peer[0].json.impl,
      nFeatures: peer[0].json.nFeatures,
    };
    results.push({ d, split, drop, o, s });
  }

  const impl = results[0]?.s.impl ?? 'scikit-learn';
  console.log(
    `\naccuracy on real data: ${opt.trees} trees, max_features sqrt, bootstrap, unlimited depth; ` +
      `a stratified ${Math.round(100 * (1 - Number(opt['test-size'])))}/${Math.round(100 * Number(opt['test-size']))} ` +
      `holdout (train_test_split, random_state ${opt['split-seed']}), the same files for both; one thread each; ` +
      `peer ${impl} (random_state 0); times are medians of ${repeat} alternating run(s)\n`,
  );
  console.log(
    line([
      'data set',
      'rows (train / test)',
      'segserve accuracy',
      'scikit-learn accuracy',
      'difference',
      'segserve fit, s',
      'scikit-learn fit, s',
      'ratio',
    ]),
  );
  console.log(line(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  for (const { d, split, o, s } of results) {
    const diff = o ? o.acc - s.acc : Number.NaN;
    console.log(
      line([
        d.name,
        `${split.rows.toLocaleString('en')} (${split.trainRows.toLocaleString('en')} / ${split.testRows.toLocaleString('en')})`,
        o ? fmt(o.acc, 4) : 'not run',
        fmt(s.acc, 4),
        o ? `${diff >= 0 ? '+' : ''}${fmt(diff, 4)}` : 'n/a',
        o ? fmt(o.fit) : 'not run',
        fmt(s.fit),
        o ? fmt(o.fit / s.fit) : 'n/a',
      ]),
    );
  }
  console.log('\nwhole process (read, fit, score; segserve also writes the model), s:');
  for (const { d, o, s } of results) {
    console.log(
      `  ${d.name}: segserve ${o ? fmt(o.wall) : 'not run'}, scikit-learn ${fmt(s.wall)}` +
        (o ? `, ratio ${fmt(o.wall / s.wall)}` : ''),
    );
  }
  for (const { d, drop, s } of results) {
    if (drop.length > 0) {
      console.log(
        `  ${d.name}: ${drop.length} feature column(s) constant in the training part left out on both sides ` +
          `(${drop.join(', ')}); ${s.nFeatures} features used`,
      );
    }
  }
  if (peerOnly) {
    console.log('\n--peer-only: segserve not run, nothing to compare');
  } else {
    const worst = Math.max(...results.map(({ o, s }) => Math.abs(o.acc - s.acc)));
    const pass = worst <= TOLERANCE;
    console.log(
      `\n${pass ? 'PASS' : 'FAIL'}: largest |accuracy difference| ${fmt(worst, 4)} (required <= ${TOLERANCE})`,
    );
    process.exitCode = pass ? 0 : 1;
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
