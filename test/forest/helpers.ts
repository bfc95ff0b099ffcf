import { createRng } from '../../src/data/random.js';
import type { TrainingData, Tree, TreeParams } from '../../src/forest/index.js';

export const TREE: TreeParams = { maxDepth: null, minSamplesSplit: 2, minSamplesLeaf: 1, maxFeatures: 'all' };

/** Training data from plain arrays: one array per feature, classes 0..max(y). */
export function data(columns: number[][], y: number[], nClasses = Math.max(...y) + 1): TrainingData {
  return { columns: columns.map((c) => Float64Array.from(c)), y: Int32Array.from(y), nClasses };
}

/** Node indices of the leaves. */
export function leaves(tree: Tree): number[] {
  const out: number[] = [];
  for (let i = 0; i < tree.feature.length; i++) if (tree.feature[i] === -1) out.push(i);
  return out;
}

/** Sum of a node's class counts. */
export function nodeTotal(tree: Tree, node: number, nClasses: number): number {
  let s = 0;
  for (let k = 0; k < nClasses; k++) s += tree.value[node * nClasses + k] as number;
  return s;
}

/** The leaf a row (feature values) falls into, walking the tree independently of the library. */
export function leafOf(tree: Tree, row: readonly number[]): number {
  let node = 0;
  while (tree.feature[node] !== -1) {
    const f = tree.feature[node] as number;
    node =
      (row[f] as number) <= (tree.threshold[node] as number)
        ? (tree.left[node] as number)
        : (tree.right[node] as number);
  }
  return node;
}

/**
 * Noisy data set: `d` uniform features, class = (x0 > 0.5) + (x1 > 0.3) with `noise` of the labels
 * replaced by a random class, so unconstrained trees grow deep.
 */
export function noisy(n: number, d: number, seed: number, noise = 0.2): TrainingData {
  const rng = createRng(seed, 77);
  const columns = Array.from({ length: d }, () => new Float64Array(n));
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < d; f++) (columns[f] as Float64Array)[i] = rng.uniform();
    const x0 = (columns[0] as Float64Array)[i] as number;
    const x1 = d > 1 ? ((columns[1] as Float64Array)[i] as number) : 0;
    y[i] = rng.uniform() < noise ? rng.int(3) : Number(x0 > 0.5) + Number(x1 > 0.3);
  }
  return { columns, y, nClasses: 3 };
}

/**
 * Data like the simulation's: segment from an income threshold that depends on a binary flag, plus
 * two noise features (an age-like integer and an events-like code).
 */
export function segments(n: number, seed: number): { data: TrainingData; rows: number[][] } {
  const rng = createRng(seed, 99);
  const rows: number[][] = [];
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const age = 16 + rng.int(74);
    const income = age + Math.abs(20 + 100 * rng.normal());
    const flag = rng.int(2);
    const events = rng.int(7);
    const level = income >= (age < 50 ? 150 : 100) ? 1 : 0;
    y[i] = level + flag;
    rows.push([age, income, flag, events]);
  }
  const columns = [0, 1, 2, 3].map((f) => Float64Array.from(rows, (r) => r[f] as number));
  return { data: { columns, y, nClasses: 3 }, rows };
}
