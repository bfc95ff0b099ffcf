import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PARAMS,
  DEFAULT_SPACE,
  parseSpace,
  sampleCandidates,
  spaceSize,
} from '../../src/search/space.js';

describe('search space', () => {
  it("is the post's grid without min_samples_split = 1: 360 combinations", () => {
    expect(spaceSize(DEFAULT_SPACE)).toBe(5 * 6 * 2 * 3 * 2);
    expect(DEFAULT_SPACE.min_samples_split).toEqual([2, 4]);
  });

  it('draws distinct candidates, reproducibly from the seed', () => {
    const a = sampleCandidates(DEFAULT_SPACE, 100, 42);
    expect(a).toHaveLength(100);
    expect(new Set(a.map((p) => JSON.stringify(p))).size).toBe(100);
    expect(sampleCandidates(DEFAULT_SPACE, 100, 42)).toEqual(a);
    expect(sampleCandidates(DEFAULT_SPACE, 100, 43)).not.toEqual(a);
    for (const p of a) {
      expect(DEFAULT_SPACE.n_estimators).toContain(p.n_estimators);
      expect(DEFAULT_SPACE.max_depth).toContain(p.max_depth);
    }
  });

  it('takes the whole grid when n_iter exceeds it', () => {
    const space = parseSpace({ n_estimators: [5, 10], bootstrap: [true, false] }, 4, 's.json');
    const all = sampleCandidates(space, 100, 1);
    expect(all).toHaveLength(4);
    expect(new Set(all.map((p) => `${p.n_estimators}/${p.bootstrap}`))).toEqual(
      new Set(['5/true', '5/false', '10/true', '10/false']),
    );
  });

  it("fills parameters a --space file leaves out with scikit-learn's defaults", () => {
    const space = parseSpace({ max_depth: [3, null] }, 4, 's.json');
    expect(space.max_depth).toEqual([3, null]);
    expect(space.n_estimators).toEqual([DEFAULT_PARAMS.n_estimators]);
    expect(space.max_features).toEqual(['sqrt']);
  });

  it.each<[unknown, string]>([
    [[1], 's.json: expected a JSON object'],
    [{ n_trees: [1] }, 's.json: unknown parameter "n_trees" (known: n_estimators, max_depth'],
    [{ max_depth: [] }, 's.json: "max_depth" must be a non-empty array of values'],
    [{ max_depth: 3 }, 's.json: "max_depth" must be a non-empty array of values'],
    [
      { min_samples_split: [2, 1] },
      's.json: "min_samples_split"[1]: min_samples_split must be an integer >= 2, got 1',
    ],
    [{ max_features: ['auto'] }, 's.json: "max_features"[0]: max_features must be'],
    [{ bootstrap: ['yes'] }, 's.json: "bootstrap"[0]: bootstrap must be true or false'],
  ])('refuses %j', (json, message) => {
    expect(() => parseSpace(json, 4, 's.json')).toThrow(message);
    expect(() => parseSpace(json, 4, 's.json')).toThrow(
      expect.objectContaining({ code: 'SEGSERVE_ERR_PARAMS' }) as unknown as Error,
    );
  });
});
