/**
 * The hyperparameter space of the randomized search, in scikit-learn's names, and the draw of
 * candidates from it (without replacement, seeded).
 */
import { createRng } from '../data/random.js';
import { paramsError } from '../errors.js';
import { ForestParamError, validateParams } from '../forest/params.js';
import { fromSkParams, type SkParams } from '../pipeline/params.js';

/** The searched parameters: class_weight is a training option applied to every candidate. */
type SearchedParams = Omit<SkParams, 'class_weight'>;
export type Space = { [K in keyof SearchedParams]: SearchedParams[K][] };

export const PARAM_NAMES = [
  'n_estimators',
  'max_depth',
  'min_samples_split',
  'min_samples_leaf',
  'max_features',
  'bootstrap',
] as const satisfies readonly (keyof SkParams)[];

/** scikit-learn's RandomForestClassifier defaults (max_features 'sqrt' = the post's 'auto'). */
export const DEFAULT_PARAMS: SkParams = {
  n_estimators: 100,
  max_depth: null,
  min_samples_split: 2,
  min_samples_leaf: 1,
  max_features: 'sqrt',
  bootstrap: true,
};

/**
 * The post's grid (SIMULATION.md section 4): 5 × 6 × 2 × 3 × 2 = 360 combinations. The post's
 * min_samples_split = 1 is not a valid value (scikit-learn 0.22 refused it), so it is left out.
 */
export const DEFAULT_SPACE: Space = {
  n_estimators: [50, 62, 75, 87, 100],
  max_depth: [3, 4, 6, 8, 10, null],
  min_samples_split: [2, 4],
  min_samples_leaf: [1, 2, 4],
  max_features: ['sqrt'],
  bootstrap: [true, false],
};

const CANDIDATE_STREAM = 0x43414e; // "CAN"

const camelToSnake: Record<string, string> = {
  nEstimators: 'n_estimators',
  maxDepth: 'max_depth',
  minSamplesSplit: 'min_samples_split',
  minSamplesLeaf: 'min_samples_leaf',
  maxFeatures: 'max_features',
  bootstrap: 'bootstrap',
};

/** Validates one parameter set, with messages in scikit-learn's names. */
export function checkParams(p: SkParams, nFeatures: number, source: string): void {
  try {
    validateParams(fromSkParams(p), nFeatures);
  } catch (err) {
    if (!(err instanceof ForestParamError)) throw err;
    const snake = camelToSnake[err.param] ?? err.param;
    throw paramsError(`${source}: ${err.message.replace(err.param, snake)}`);
  }
}

/**
 * Parses a `--space` JSON object: keys are scikit-learn parameter names, values non-empty arrays;
 * a parameter left out takes scikit-learn's default. Replaces the default space whole.
 */
export function parseSpace(json: unknown, nFeatures: number, source: string): Space {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw paramsError(
      `${source}: expected a JSON object such as {"n_estimators": [50, 100], "max_depth": [4, null]}`,
    );
  }
  const obj = json as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(PARAM_NAMES as readonly string[]).includes(key)) {
      throw paramsError(`${source}: unknown parameter "${key}" (known: ${PARAM_NAMES.join(', ')})`);
    }
  }
  const space = {} as Record<string, unknown[]>;
  for (const key of PARAM_NAMES) {
    const values = key in obj ? obj[key] : [DEFAULT_PARAMS[key]];
    if (!Array.isArray(values) || values.length === 0) {
      throw paramsError(`${source}: "${key}" must be a non-empty array of values`);
    }
    values.forEach((v, i) => {
      checkParams({ ...DEFAULT_PARAMS, [key]: v }, nFeatures, `${source}: "${key}"[${i}]`);
    });
    space[key] = values;
  }
  return space as Space;
}

/** Number of distinct combinations in the space. */
export function spaceSize(space: Space): number {
  return PARAM_NAMES.reduce((n, k) => n * space[k].length, 1);
}

/** The i-th combination in a fixed (mixed-radix, last key fastest) order, keys in PARAM_NAMES order. */
function combination(space: Space, index: number): SkParams {
  const picks = new Array<number>(PARAM_NAMES.length);
  for (let k = PARAM_NAMES.length - 1; k >= 0; k--) {
    const n = space[PARAM_NAMES[k] as keyof Space].length;
    picks[k] = index % n;
    index = Math.floor(index / n);
  }
  return Object.fromEntries(
    PARAM_NAMES.map((key, k) => [key, space[key][picks[k] as number]]),
  ) as unknown as SkParams;
}

/**
 * Draws min(nIter, size) distinct combinations (a partial seeded Fisher-Yates over the grid indices),
 * as scikit-learn's ParameterSampler does for a grid of lists.
 */
export function sampleCandidates(space: Space, nIter: number, seed: number): SkParams[] {
  const size = spaceSize(space);
  const take = Math.min(nIter, size);
  const rng = createRng(seed, CANDIDATE_STREAM);
  const order = Int32Array.from({ length: size }, (_, i) => i);
  const out: SkParams[] = [];
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(size - i);
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
    out.push(combination(space, order[i] as number));
  }
  return out;
}
