import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createReseedableRng, createRng, type Rng } from '../../src/data/random.js';

// The streams as @stdlib builds them eagerly (the generator and its normal sampler at once): segserve's
// generators must draw exactly these numbers, whatever they defer.
const require = createRequire(import.meta.url);
const mt19937 = require('@stdlib/random-base-mt19937') as {
  factory(o: { seed: Uint32Array }): { normalized: () => number };
};
const normal = require('@stdlib/random-base-normal') as {
  factory(mu: number, sigma: number, o: { prng: () => number }): () => number;
};
function reference(...words: number[]): Rng {
  const uniform = mt19937.factory({
    seed: Uint32Array.from(words.length >= 2 ? words : [...words, 0]),
  }).normalized;
  const gauss = normal.factory(0, 1, { prng: uniform });
  return { uniform, normal: gauss, int: (n) => Math.floor(uniform() * n) };
}

/** 400 draws in a fixed mix of kinds (uniform only, normal late, normal first, interleaved). */
function draws(rng: Rng, pattern: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < 400; i++) {
    const kind = pattern[i % pattern.length];
    out.push(kind === 'u' ? rng.uniform() : kind === 'n' ? rng.normal() : rng.int(1000));
  }
  return out;
}

const PATTERNS = ['u', 'n', 'uuuuun', 'nuui', 'iiiiiiiiin'];

describe('createRng', () => {
  it('draws the stdlib stream of its seed words, uniform, normal and integer draws in any order', () => {
    for (const seed of [[0], [42], [1, 2], [7, 3, 99]]) {
      for (const p of PATTERNS) expect(draws(createRng(...seed), p)).toEqual(draws(reference(...seed), p));
    }
  });
});

describe('createReseedableRng', () => {
  it('draws createRng(...words) again after each reseed, through the same functions', () => {
    const rng = createReseedableRng(5, 1, 0);
    const { uniform } = rng;
    for (let t = 0; t < 6; t++) {
      if (t > 0) rng.reseed(5, 1, t);
      const p = PATTERNS[t % PATTERNS.length] as string;
      expect(draws(rng, p)).toEqual(draws(reference(5, 1, t), p));
      expect(rng.uniform).toBe(uniform);
    }
  });
});
