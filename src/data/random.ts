/**
 * Seeded randomness for the whole product, from the @stdlib packages: one MT19937 stream (its 53-bit
 * `normalized` output) per purpose, seeded with an array of 32-bit words (init_by_array), so that a
 * user's seed and a task's
 * coordinates (say candidate and fold) give independent, reproducible streams.
 */
import { createRequire } from 'node:module';

export { isValidSeed, MAX_SEED } from './seed.js';

/** The part of @stdlib/random-base-mt19937 we use; its published types omit `normalized`. */
interface Mt19937 {
  factory(options: { seed: Uint32Array }): { normalized: () => number };
}
type Normal = typeof import('@stdlib/random-base-normal');
// The @stdlib packages are CommonJS: required on first use, so commands that draw nothing never load them.
const require = createRequire(import.meta.url);
let stdlib: { mt19937: Mt19937; normal: Normal } | undefined;
function loadStdlib(): { mt19937: Mt19937; normal: Normal } {
  stdlib ??= {
    mt19937: require('@stdlib/random-base-mt19937') as Mt19937,
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
  const { mt19937, normal } = loadStdlib();
  const uniform = mt19937.factory({ seed }).normalized;
  const gauss = normal.factory(0, 1, { prng: uniform });
  return { uniform, normal: gauss, int: (n) => Math.floor(uniform() * n) };
}
