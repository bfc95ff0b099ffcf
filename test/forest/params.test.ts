import { describe, expect, it } from 'vitest';
import {
  ForestParamError,
  type ForestParams,
  resolveMaxFeatures,
  TreeBuilder,
  validateParams,
  validateTrainingData,
} from '../../src/forest/index.js';
import { data } from './helpers.js';

const OK: ForestParams = {
  nEstimators: 100,
  maxDepth: 10,
  minSamplesSplit: 2,
  minSamplesLeaf: 1,
  maxFeatures: 'sqrt',
  bootstrap: true,
  classWeight: null,
};

describe('resolveMaxFeatures', () => {
  it.each([
    ['sqrt', 4, 2],
    ['sqrt', 10, 3],
    ['sqrt', 1, 1],
    ['log2', 10, 3],
    ['log2', 1, 1],
    ['log2', 2, 1],
    ['all', 7, 7],
    [3, 4, 3],
    [1, 1, 1],
    [0.5, 4, 2],
    [0.3, 10, 3],
    [0.05, 4, 1],
  ] as const)('%s of %i features is %i', (maxFeatures, d, expected) => {
    expect(resolveMaxFeatures(maxFeatures, d)).toBe(expected);
  });
});

describe('validateParams', () => {
  it('accepts valid params, including unlimited depth and every maxFeatures form', () => {
    expect(() => validateParams(OK, 4)).not.toThrow();
    for (const maxFeatures of ['sqrt', 'log2', 'all', 1, 4, 0.5, 0.99] as const) {
      expect(() => validateParams({ ...OK, maxDepth: null, maxFeatures }, 4)).not.toThrow();
    }
    for (const classWeight of [null, 'balanced', 'balanced_subsample'] as const) {
      expect(() => validateParams({ ...OK, classWeight }, 4)).not.toThrow();
    }
    // Plain-JS callers that omit classWeight get none.
    const { classWeight: _omitted, ...withoutClassWeight } = OK;
    expect(() => validateParams(withoutClassWeight as ForestParams, 4)).not.toThrow();
  });

  it.each([
    ['nEstimators', { nEstimators: 0 }, 'nEstimators must be an integer >= 1, got 0'],
    ['nEstimators', { nEstimators: 2.5 }, 'nEstimators must be an integer >= 1, got 2.5'],
    ['maxDepth', { maxDepth: 0 }, 'maxDepth must be null (unlimited) or an integer >= 1, got 0'],
    ['maxDepth', { maxDepth: -3 }, 'maxDepth must be null (unlimited) or an integer >= 1, got -3'],
    ['minSamplesSplit', { minSamplesSplit: 1 }, 'minSamplesSplit must be an integer >= 2, got 1'],
    ['minSamplesSplit', { minSamplesSplit: 2.5 }, 'minSamplesSplit must be an integer >= 2, got 2.5'],
    ['minSamplesLeaf', { minSamplesLeaf: 0 }, 'minSamplesLeaf must be an integer >= 1, got 0'],
    [
      'maxFeatures',
      { maxFeatures: 0 },
      "maxFeatures must be 'sqrt', 'log2', 'all', an integer in [1, 4] or a fraction in (0, 1), got 0",
    ],
    ['maxFeatures', { maxFeatures: 5 }, 'an integer in [1, 4] or a fraction in (0, 1), got 5'],
    ['maxFeatures', { maxFeatures: 1.5 }, 'got 1.5'],
    ['maxFeatures', { maxFeatures: -0.5 }, 'got -0.5'],
    ['maxFeatures', { maxFeatures: Number.NaN }, 'got NaN'],
    ['maxFeatures', { maxFeatures: 'auto' }, 'got "auto"'],
    ['bootstrap', { bootstrap: 'yes' }, 'bootstrap must be true or false, got "yes"'],
    [
      'classWeight',
      { classWeight: 'auto' },
      `classWeight must be null, 'balanced' or 'balanced_subsample', got "auto"`,
    ],
    ['classWeight', { classWeight: 1 }, 'got 1'],
  ])('refuses a bad %s: %j', (param, change, message) => {
    // Casts: the bad values are deliberately outside the declared types.
    const params = { ...OK, ...change } as unknown as ForestParams;
    let error: unknown;
    try {
      validateParams(params, 4);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ForestParamError);
    expect((error as ForestParamError).param).toBe(param);
    expect((error as Error).message).toContain(message);
  });

  it('refuses a number of features below 1', () => {
    expect(() => validateParams(OK, 0)).toThrow(/nFeatures must be an integer >= 1/);
  });
});

describe('validateTrainingData', () => {
  it.each([
    ['a class out of range', data([[1, 2]], [0, 2], 2), /y\[1\] must be a class index in \[0, 2\), got 2/],
    [
      'an infinite value',
      data([[1, Number.POSITIVE_INFINITY]], [0, 1]),
      /columns\[0\]\[1\] must be a finite number or NaN \(missing\), got Infinity/,
    ],
    [
      'a -infinite value',
      data([[Number.NEGATIVE_INFINITY, 1]], [0, 1]),
      /columns\[0\]\[0\] .* got -Infinity/,
    ],
    ['columns of different lengths', data([[1, 2], [1]], [0, 1]), /columns\[1\] must be of length 2/],
    ['no rows', data([[]], [], 2), /y must be at least one row/],
    ['no features', data([], [0, 1]), /columns must be at least one feature column/],
    ['too many classes', data([[1]], [0], 65537), /nClasses must be an integer in \[1, 65536\], got 65537/],
  ])('refuses %s', (_what, d, message) => {
    expect(() => validateTrainingData(d)).toThrow(message);
    expect(() => new TreeBuilder(d)).toThrow(ForestParamError);
  });

  it('accepts NaN (a missing value), even a column entirely missing', () => {
    expect(() => validateTrainingData(data([[1, Number.NaN]], [0, 1]))).not.toThrow();
    expect(() =>
      validateTrainingData(
        data(
          [
            [Number.NaN, Number.NaN],
            [1, 2],
          ],
          [0, 1],
        ),
      ),
    ).not.toThrow();
  });
});
