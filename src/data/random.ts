/**
 * Seeded randomness for the whole product, from the @stdlib packages: one MT19937 stream (randu
 * with `name: 'mt19937'`, the 53-bit normalized output) per
 * purpose, seeded with an array of 32-bit words (init_by_array), so that a user's seed and a task's
 * coordinates (say candidate and fold) give independent, reproducible streams.
 */
import { createRequire } from 'node:module';

export { isValidSeed, MAX_SEED } from './seed.js';

type Randu = typeof import('@stdlib/random-base-randu');
type Normal = typeof import('@stdlib/random-base-normal');
// The @stdlib packages are CommonJS: required on first use, so commands that draw nothing never load them.
const require = createRequire(import.meta.url);
let stdlib: { randu: Randu; normal: Normal } | undefined;
function loadStdlib(): { randu: Randu; normal: Normal } {
  stdlib ??= {
    randu: require('@stdlib/random-base-randu') as Randu,
    normal: require('@stdlib/random-base-normal') as Normal,
  };
  return stdlib;
}

export interface Rng {
  /** Uniform on [0, 1), 53-bit resolution. */
  uniform: () => number;
  /** Standard normal N(0, 1) (improved ziggurat, drawing from the same stream). */
  normal: () => number;
  /** Uniform integer on [0, n). */
  int: (n: number) => number;
}

/**
 * A generator seeded with `words` (each an integer in [0, 2^32)). The array is always passed with at
 * least two words, so that seed 0 is valid and `[s]` never collides with a numeric seed.
 */
export function createRng(...words: number[]): Rng {
  const seed = Uint32Array.from(words.length >= 2 ? words : [...words, 0]);
  const { randu, normal } = loadStdlib();
  const uniform = randu.factory({ name: 'mt19937', seed });
  const gauss = normal.factory(0, 1, { prng: uniform });
  return { uniform, normal: gauss, int: (n) => Math.floor(uniform() * n) };
}
