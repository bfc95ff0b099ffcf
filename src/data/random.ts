/**
 * Seeded randomness for the whole product, from the @stdlib packages: one MT19937 stream (its 53-bit
 * `normalized` output) per purpose, seeded with an array of 32-bit words (init_by_array), so that a
 * user's seed and a task's
 * coordinates (say candidate and fold) give independent, reproducible streams.
 */
import { createRequire } from 'node:module';

export { isValidSeed, MAX_SEED } from './seed.js';

/** The part of @stdlib/random-base-mt19937 we use; its published types omit `normalized`. */
interface Mt19937Generator {
  normalized: () => number;
  /** The whole generator state (a copy): seed, words and position. */
  state: Uint32Array;
}
interface Mt19937 {
  factory(options: { seed: Uint32Array }): Mt19937Generator;
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

/** The stdlib seed array for `words`: always at least two words (see createRng). */
function seedOf(words: readonly number[]): Uint32Array {
  return Uint32Array.from(words.length >= 2 ? words : [...words, 0]);
}

/**
 * A generator seeded with `words` (each an integer in [0, 2^32)). The array is always passed with at
 * least two words, so that seed 0 is valid and `[s]` never collides with a numeric seed.
 */
export function createRng(...words: number[]): Rng {
  return withNormal(loadStdlib().mt19937.factory({ seed: seedOf(words) }).normalized);
}

/** A generator that can be restarted on another stream (see createReseedableRng). */
export interface ReseedableRng extends Rng {
  /** Restarts the generator as createRng(...words)'s stream. */
  reseed(...words: number[]): void;
}

/**
 * createRng(...words), but restartable: after `reseed(...other)` it draws createRng(...other)'s
 * stream, through the same functions (a hot loop that calls them, one stream after another, keeps
 * calling one function, so its optimised code stays valid). For many short streams in turn, such
 * as one per tree of a forest.
 */
export function createReseedableRng(...words: number[]): ReseedableRng {
  const { mt19937 } = loadStdlib();
  const gen = mt19937.factory({ seed: seedOf(words) });
  const uniform = gen.normalized;
  let rng = withNormal(uniform);
  const reseed = (...next: number[]): void => {
    gen.state = mt19937.factory({ seed: seedOf(next) }).state;
    rng = withNormal(uniform);
  };
  return {
    uniform,
    normal: () => rng.normal(),
    int: (n) => Math.floor(uniform() * n),
    reseed,
  };
}

/**
 * The Rng of a fresh `uniform` stream. The normal generator seeds its own MT19937 from the stream's
 * first draw when it is created; it is created on first use (most streams never draw a normal), but
 * that draw is taken here, so the uniform stream is the same whether or not normal() is called.
 */
function withNormal(uniform: () => number): Rng {
  const first = uniform();
  let gauss: (() => number) | null = null;
  const gaussian = (): number => {
    if (gauss === null) {
      let pending = true;
      const prng = (): number => {
        if (pending) {
          pending = false;
          return first;
        }
        return uniform();
      };
      gauss = loadStdlib().normal.factory(0, 1, { prng });
    }
    return gauss();
  };
  return { uniform, normal: gaussian, int: (n) => Math.floor(uniform() * n) };
}
