#!/usr/bin/env node
// The post's randomized search (100 candidates of its grid, stratified 3-fold CV, refit, test score)
// on 5000 simulated rows: `segserve train` on both cores against scikit-learn's
// RandomizedSearchCV(n_jobs=-1) (Debian's python3-sklearn), in one run, on the same CSV. Then the size
// of the model file: segserve's JSON artifact against scikit-learn's joblib dump of the same forest.
//
//   npm run build && npm run bench:search        (or: node bench/search.mjs [--repeat 3])
//
// Goals (issue 3): search time ratio <= 1.0; artifact no larger than the joblib file.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PARAMS } from '../dist/search/space.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'bin', 'segserve.js');
const PEER = join(ROOT, 'bench', 'search_sklearn.py');
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-sklearn installs
const argv = process.argv.slice(2);
const repeat = Number(argv[argv.indexOf('--repeat') + 1]) || 1;

function run(command, args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.stderr.on('data', (b) => {
      err += b;
    });
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`));
      else resolve({ seconds, json: JSON.parse(out.trim().split('\n').at(-1)) });
    });
  });
}

const dir = await mkdtemp(join(tmpdir(), 'segserve-bench-search-'));
const data = join(dir, 'customers.csv');
await run(process.execPath, [CLI, 'simulate', '--rows', '5000', '--out', data, '--json']);

const rows = [];
for (let i = 0; i < repeat; i++) {
  const ours = await run(process.execPath, [
    CLI,
    'train',
    '--data',
    data,
    '--out',
    join(dir, 'model.json'),
    '--workers',
    '2',
    '--json',
  ]);
  const peer = await run(PYTHON, [PEER, 'search', data, '-1']);
  rows.push({ ours, peer });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const oursS = median(rows.map((r) => r.ours.seconds));
const peerS = median(rows.map((r) => r.peer.seconds));
const last = rows.at(-1);
console.log(
  '\nrandomized search, 5000 rows, 100 candidates x 3 folds, both cores (whole process, median of',
  repeat,
  ')',
);
console.log('| | seconds | test accuracy | cv accuracy |');
console.log('| --- | --- | --- | --- |');
console.log(
  `| segserve train --workers 2 | ${oursS.toFixed(2)} | ${(last.ours.json.testAccuracy * 100).toFixed(2)}% | ${last.ours.json.cvScore.toFixed(4)} |`,
);
console.log(
  `| scikit-learn RandomizedSearchCV(n_jobs=-1) | ${peerS.toFixed(2)} | ${(last.peer.json.testAccuracy * 100).toFixed(2)}% | ${last.peer.json.cvScore.toFixed(4)} |`,
);
console.log(`ratio segserve / scikit-learn: ${(oursS / peerS).toFixed(2)} (goal <= 1.0)`);

// Model file size for the same forest: segserve's chosen params, and scikit-learn's defaults.
const sizes = [];
for (const params of [last.ours.json.params, DEFAULT_PARAMS]) {
  const model = join(dir, 'fixed.json');
  const flags = [
    '--n-estimators',
    String(params.n_estimators),
    '--max-depth',
    params.max_depth === null ? 'none' : String(params.max_depth),
    '--min-samples-split',
    String(params.min_samples_split),
    '--min-samples-leaf',
    String(params.min_samples_leaf),
    '--max-features',
    String(params.max_features),
    params.bootstrap ? '--bootstrap' : '--no-bootstrap',
  ];
  await run(process.execPath, [
    CLI,
    'train',
    '--data',
    data,
    '--out',
    model,
    '--no-search',
    ...flags,
    '--json',
  ]);
  const ourBytes = (await stat(model)).size;
  const artifact = JSON.parse(await readFile(model, 'utf8'));
  const ourNodes = artifact.forest.trees.reduce((s, t) => s + t.feature.length, 0);
  const { json } = await run(PYTHON, [PEER, 'fixed', data, JSON.stringify(params)]);
  sizes.push({ params, ourBytes, ourNodes, skBytes: json.joblibBytes, skNodes: json.nodes });
}
console.log('\nmodel file size, same params, same data');
console.log('| params | segserve JSON | nodes | scikit-learn joblib | nodes | ratio |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const s of sizes) {
  const p = Object.entries(s.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(
    `| ${p} | ${(s.ourBytes / 1024).toFixed(0)} KiB | ${s.ourNodes} | ${(s.skBytes / 1024).toFixed(0)} KiB | ${s.skNodes} | ${(s.ourBytes / s.skBytes).toFixed(2)} |`,
  );
}
await rm(dir, { recursive: true, force: true });
