/** Seeds are 32-bit words: integers in [0, 2^32). */
export const MAX_SEED = 2 ** 32 - 1;

/** True for an integer seed in [0, 2^32). */
export function isValidSeed(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_SEED;
}
