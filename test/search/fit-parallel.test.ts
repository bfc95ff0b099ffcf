import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import { type ForestParams, fitForest, type TrainingData, type Tree } from '../../src/forest/index.js';
import { fitForestParallel } from '../../src/search/fit-parallel.js';
import { FOREST } from '../forest/helpers.js';

/** sha256 of every tree's arrays, in order. */
function digest(trees: readonly Tree[]): string {
  const h = createHash('sha256');
  for (const t of trees) {
    for (const a of [t.feature, t.threshold, t.left, t.right, t.missingLeft, t.value]) {
      h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    }
  }
  return h.digest('hex');
}

/** 6,000 rows (large enough to be fitted on threads): a few informative columns, NaN in one. */
function data(): TrainingData {
  const r = createRng(4, 4);
  const n = 6000;
  const columns = [0, 1, 2, 3].map((f) =>
    Float64Array.from({ length: n }, () =>
      f === 3 && r.uniform() < 0.2 ? Number.NaN : r.int(f === 0 ? 1000 : 20),
    ),
  );
  const y = Int32Array.from(
    { length: n },
    (_, i) => ((columns[0]![i]! > 400 ? 1 : 0) + (r.uniform() < 0.2 ? 1 : 0)) % 2,
  );
  return { columns, y, nClasses: 2 };
}

const PARAMS: ForestParams = { ...FOREST, nEstimators: 40 };

describe('fitForestParallel', () => {
  const d = data();

  it('gives the trees of fitForest, to the byte, whatever the number of workers', async () => {
    for (const params of [
      PARAMS,
      { ...PARAMS, bootstrap: false, classWeight: 'balanced' as const, nEstimators: 7 },
    ]) {
      const expected = digest(fitForest(d, params, [5, 6]).trees);
      for (const workers of [1, 2, 3]) {
        const f = await fitForestParallel(d, params, [5, 6], workers, 0);
        expect(f.trees.length).toBe(params.nEstimators);
        expect(digest(f.trees)).toBe(expected);
      }
    }
  });

  it('fits a small forest in this thread unless told otherwise (same trees)', async () => {
    const small = { ...PARAMS, nEstimators: 3 };
    const f = await fitForestParallel(d, small, [2], 4);
    expect(digest(f.trees)).toBe(digest(fitForest(d, small, [2]).trees));
  });

  it('predicts as the forest fitted in one thread', async () => {
    const one = fitForest(d, PARAMS, [1]);
    const two = await fitForestParallel(d, PARAMS, [1], 2, 0);
    const x = Float64Array.from([500, 3, 7, Number.NaN, 100, 19, 0, 4]);
    expect(two.predictProba(x, 2)).toEqual(one.predictProba(x, 2));
  });

  it('refuses invalid params, seeds and data with the forest’s own errors', async () => {
    await expect(fitForestParallel(d, { ...PARAMS, minSamplesLeaf: 0 }, [1], 2, 0)).rejects.toThrow(
      /minSamplesLeaf must be an integer >= 1, got 0/,
    );
    await expect(fitForestParallel(d, PARAMS, [-1], 2, 0)).rejects.toThrow(/seed must be/);
    const bad = { ...d, y: d.y.map((c, i) => (i === 9 ? 7 : c)) };
    await expect(fitForestParallel(bad, PARAMS, [1], 2, 0)).rejects.toThrow(/y\[9\]/);
  });
});
