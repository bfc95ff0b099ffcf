/**
 * Drift signals: the training data's reference distribution (stored in the model artifact) and a
 * fixed-size window of recent encoded rows compared with it by the population stability index.
 *
 * Per feature the distribution is a set of bins that always ends with a "missing" bin:
 * - numeric: up to DRIFT_BINS bins cut at the training deciles (quantiles by linear interpolation,
 *   equal cut points merged): bin b holds edges[b-1] < v <= edges[b], the last value bin v > the last
 *   edge (the same `<=` as the trees' splits);
 * - categorical: one bin per category code 0..k-1 of the schema.
 * Shares are fractions of all rows, so a feature's value shares plus its missing rate sum to 1, and a
 * change of the missing rate moves the PSI too.
 *
 * PSI = Σ_b (a_b - e_b) · ln(a_b / e_b) over the bins, e = reference share, a = window share, each
 * floored at PSI_EPSILON (1e-4, as is common) so that an empty bin on either side gives a large but
 * finite term instead of an infinite one. Reading: < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted.
 *
 * The window also gives each feature's missing rate and unknown-category rate, and the shares of the
 * predicted classes against training's. Every label it reports comes from the schema (feature names,
 * class indices), never from request data. The reference is plain numbers and arrays (JSON).
 */
import { type Static, Type } from '@sinclair/typebox';
import { argmax } from './model.js';

/** Bins of a numeric feature's reference: its deciles. */
export const DRIFT_BINS = 10;
/** The floor of every share in the PSI (an empty bin counts as this share). */
export const PSI_EPSILON = 1e-4;
/** Version of the reference's layout (stored with it). */
export const DRIFT_REFERENCE_VERSION = 1;

const Share = Type.Number({ minimum: 0, maximum: 1 });

const NumericReferenceT = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    kind: Type.Literal('numeric'),
    edges: Type.Array(Type.Number(), {
      description: 'Increasing distinct cut points: bin b holds edges[b-1] < v <= edges[b].',
    }),
    shares: Type.Array(Share, {
      minItems: 1,
      description: 'edges.length + 1 value bins: the fraction of all training rows in each.',
    }),
    missingRate: Type.Number({ minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false },
);

const CategoricalReferenceT = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    kind: Type.Literal('categorical'),
    shares: Type.Array(Share, {
      minItems: 1,
      description: 'Per category code (the schema order): the fraction of all training rows.',
    }),
    missingRate: Type.Number({ minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false },
);

/** The drift reference as stored in the artifact: one definition for the type and the JSON Schema. */
export const DriftReferenceT = Type.Object(
  {
    version: Type.Literal(DRIFT_REFERENCE_VERSION),
    rows: Type.Integer({ minimum: 1, description: 'Training rows the reference was computed from.' }),
    features: Type.Array(Type.Union([NumericReferenceT, CategoricalReferenceT]), { minItems: 1 }),
    classShares: Type.Array(Share, {
      minItems: 1,
      description: 'Share of training rows predicted as each class (probability-column order).',
    }),
  },
  { additionalProperties: false },
);

export type NumericReference = Static<typeof NumericReferenceT>;
export type CategoricalReference = Static<typeof CategoricalReferenceT>;
export type FeatureReference = NumericReference | CategoricalReference;
export type DriftReference = Static<typeof DriftReferenceT>;

/** What the reference needs of a feature (a schema FeatureSchema has it). */
export interface DriftFeature {
  name: string;
  kind: 'numeric' | 'categorical';
  /** Categorical: the categories; code c is categories[c]. */
  categories?: readonly unknown[];
}

/** One feature's drift in a window. */
export interface FeatureDrift {
  name: string;
  kind: 'numeric' | 'categorical';
  /** PSI of the window's bins (values and missing) against the reference's; 0 for an empty window. */
  psi: number;
  /** Share of the window's rows where the feature is missing (NaN). */
  missingRate: number;
  /** The reference's (training) missing rate. */
  expectedMissingRate: number;
  /**
   * Unknown categories per window row: the values the decoder reported with countUnknown (for the
   * rows in the window and since the last add), plus categorical codes outside the reference's
   * categories, divided by the rows in the window; capped at 1, 0 for an empty window or a
   * numeric feature. Unknowns the decoder read as missing (policy "missing") count in missingRate too.
   */
  unknownRate: number;
}

export interface DriftReport {
  /** Rows in the window. */
  rows: number;
  features: FeatureDrift[];
  classShares: {
    /** Training's predicted-class shares. */
    expected: number[];
    /** The window's predicted-class shares (over the rows added with probabilities). */
    actual: number[];
    psi: number;
  };
}

/**
 * Population stability index Σ (a - e) ln(a / e) of two distributions over the same bins, each share
 * floored at `epsilon` (default PSI_EPSILON) so that empty bins give a finite value. Throws when the
 * lengths differ or a share is negative or not finite.
 */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number {
  if (expected.length !== actual.length) {
    throw new Error(
      `psi: expected and actual must have the same number of bins, got ${expected.length} and ${actual.length}`,
    );
  }
  if (!(epsilon > 0)) throw new Error(`psi: epsilon must be > 0, got ${epsilon}`);
  let s = 0;
  for (let b = 0; b < expected.length; b++) {
    const e0 = expected[b]!;
    const a0 = actual[b]!;
    if (!(e0 >= 0 && e0 < Number.POSITIVE_INFINITY) || !(a0 >= 0 && a0 < Number.POSITIVE_INFINITY)) {
      throw new Error(`psi: bin ${b}: shares must be finite numbers >= 0, got expected ${e0}, actual ${a0}`);
    }
    const e = Math.max(e0, epsilon);
    const a = Math.max(a0, epsilon);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}

/** Quantile of sorted values by linear interpolation (numpy's default, R type 7). */
function quantileSorted(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo]!;
  return a + (h - lo) * (sorted[hi]! - a);
}

/** The value bin of v (not NaN): the first b with v <= edges[b], else edges.length. */
export function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Options of buildReference. */
export interface ReferenceOptions {
  /** Value bins of a numeric feature before equal cut points merge (default DRIFT_BINS). */
  bins?: number;
}

/**
 * The drift reference of training data: `columns[j]` is feature j's encoded column (numbers, category
 * codes, NaN = missing), `features[j]` its name and kind, and `proba` the model's probabilities on the
 * same rows (row-major rows × nClasses), whose argmax gives the predicted-class shares. The columns
 * may be given as a function of j, called once per feature, so that only one column need exist at a
 * time. Throws an Error naming the feature and row on bad input (a category code outside its
 * categories, infinity).
 */
export function buildReference(
  columns: readonly Float64Array[] | ((j: number) => Float64Array),
  features: readonly DriftFeature[],
  proba: Float64Array,
  nClasses: number,
  options: ReferenceOptions = {},
): DriftReference {
  const bins = options.bins ?? DRIFT_BINS;
  if (!Number.isInteger(bins) || bins < 1)
    throw new Error(`drift reference: bins must be an integer >= 1, got ${bins}`);
  if (!Number.isInteger(nClasses) || nClasses < 1) {
    throw new Error(`drift reference: nClasses must be an integer >= 1, got ${nClasses}`);
  }
  const given = typeof columns === 'function' ? features.length : columns.length;
  if (given !== features.length || features.length < 1) {
    throw new Error(
      `drift reference: need one column per feature and at least one, got ${given} columns for ${features.length} features`,
    );
  }
  const column = typeof columns === 'function' ? columns : (j: number) => columns[j]!;
  const n = typeof columns === 'function' ? Math.floor(proba.length / nClasses) : columns[0]!.length;
  if (n < 1) throw new Error('drift reference: needs at least one training row');
  if (proba.length !== n * nClasses) {
    throw new Error(
      `drift reference: proba must hold rows × nClasses = ${n * nClasses} values, got ${proba.length}`,
    );
  }
  const refs: FeatureReference[] = features.map((feat, j) => {
    const col = column(j);
    const where = `drift reference: feature "${feat.name}"`;
    if (col.length !== n) throw new Error(`${where}: column has ${col.length} rows, expected ${n}`);
    let missing = 0;
    for (let i = 0; i < n; i++) {
      const v = col[i]!;
      if (Number.isNaN(v)) missing++;
      else if (!Number.isFinite(v))
        throw new Error(`${where}: row ${i}: ${v} is not a finite number or missing`);
    }
    if (feat.kind === 'categorical') {
      const k = feat.categories?.length ?? 0;
      if (k < 1) throw new Error(`${where}: a categorical feature needs its categories`);
      const counts = new Float64Array(k);
      for (let i = 0; i < n; i++) {
        const v = col[i]!;
        if (Number.isNaN(v)) continue;
        if (!(Number.isInteger(v) && v >= 0 && v < k)) {
          throw new Error(`${where}: row ${i}: ${v} is not a category code in [0, ${k})`);
        }
        counts[v]!++;
      }
      return {
        name: feat.name,
        kind: 'categorical',
        shares: Array.from(counts, (c) => c / n),
        missingRate: missing / n,
      };
    }
    if (feat.kind !== 'numeric') throw new Error(`${where}: kind must be "numeric" or "categorical"`);
    const sorted = new Float64Array(n - missing);
    let m = 0;
    for (let i = 0; i < n; i++) if (!Number.isNaN(col[i]!)) sorted[m++] = col[i]!;
    sorted.sort();
    const edges: number[] = [];
    if (m > 0) {
      for (let b = 1; b < bins; b++) {
        const q = quantileSorted(sorted, b / bins);
        if (edges.length === 0 || q > edges[edges.length - 1]!) edges.push(q);
      }
    }
    const counts = new Float64Array(edges.length + 1);
    for (let i = 0; i < m; i++) counts[binOf(edges, sorted[i]!)]!++;
    return {
      name: feat.name,
      kind: 'numeric',
      edges,
      shares: Array.from(counts, (c) => c / n),
      missingRate: missing / n,
    };
  });
  const classCounts = new Float64Array(nClasses);
  for (let i = 0; i < n; i++) classCounts[argmax(proba, i * nClasses, nClasses)]!++;
  return {
    version: DRIFT_REFERENCE_VERSION,
    rows: n,
    features: refs,
    classShares: Array.from(classCounts, (c) => c / n),
  };
}

/**
 * Throws an Error naming the field unless `ref` is a well-formed reference (the JSON Schema's checks
 * and the cross-field ones: increasing edges, shares per bin, shares that sum to 1), and, when given,
 * one for `nFeatures` features and `nClasses` classes.
 */
export function validateReference(ref: DriftReference, nFeatures?: number, nClasses?: number): void {
  const bad = (what: string): never => {
    throw new Error(`drift reference: ${what}`);
  };
  if (typeof ref !== 'object' || ref === null) bad('must be an object');
  if (ref.version !== DRIFT_REFERENCE_VERSION)
    bad(`version must be ${DRIFT_REFERENCE_VERSION}, got ${String(ref.version)}`);
  if (!Number.isInteger(ref.rows) || ref.rows < 1)
    bad(`rows must be an integer >= 1, got ${String(ref.rows)}`);
  if (!Array.isArray(ref.features) || ref.features.length < 1) bad('features must be a non-empty array');
  if (nFeatures !== undefined && ref.features.length !== nFeatures) {
    bad(`has ${ref.features.length} features, the model has ${nFeatures}`);
  }
  const checkShares = (shares: unknown, where: string, missingRate: number): void => {
    if (!Array.isArray(shares) || shares.length < 1) bad(`${where}.shares must be a non-empty array`);
    let sum = missingRate;
    (shares as unknown[]).forEach((s, b) => {
      if (typeof s !== 'number' || !(s >= 0 && s <= 1))
        bad(`${where}.shares[${b}] must be a number in [0, 1]`);
      sum += s as number;
    });
    if (Math.abs(sum - 1) > 1e-6) bad(`${where}: shares and missingRate must sum to 1, got ${sum}`);
  };
  ref.features.forEach((f, j) => {
    const where = `features[${j}]`;
    if (typeof f !== 'object' || f === null) bad(`${where} must be an object`);
    if (typeof f.name !== 'string' || f.name === '') bad(`${where}.name must be a non-empty string`);
    const mr = f.missingRate;
    if (typeof mr !== 'number' || !(mr >= 0 && mr <= 1))
      bad(`${where}.missingRate must be a number in [0, 1]`);
    if (f.kind === 'numeric') {
      if (!Array.isArray(f.edges)) bad(`${where}.edges must be an array`);
      f.edges.forEach((e, b) => {
        if (typeof e !== 'number' || !Number.isFinite(e)) bad(`${where}.edges[${b}] must be a finite number`);
        if (b > 0 && !(e > f.edges[b - 1]!)) bad(`${where}.edges must be strictly increasing (at ${b})`);
      });
      if (!Array.isArray(f.shares) || f.shares.length !== f.edges.length + 1) {
        bad(`${where}.shares must have edges.length + 1 = ${f.edges.length + 1} entries`);
      }
    } else if (f.kind !== 'categorical') {
      bad(`${where}.kind must be "numeric" or "categorical"`);
    }
    checkShares(f.shares, where, mr);
  });
  if (nClasses !== undefined && (!Array.isArray(ref.classShares) || ref.classShares.length !== nClasses)) {
    bad(`classShares must have ${nClasses} entries`);
  }
  checkShares(ref.classShares, 'classShares', 0);
}

/** Checks an unknown-category count handed to a drift window or tally. */
export function checkUnknownCount(what: string, feature: number, count: number, nFeatures: number): void {
  if (!Number.isInteger(feature) || feature < 0 || feature >= nFeatures) {
    throw new Error(`${what}: feature must be an integer in [0, ${nFeatures}), got ${feature}`);
  }
  if (!Number.isInteger(count) || count < 0)
    throw new Error(`${what}: count must be an integer >= 0, got ${count}`);
}

/** Checks a batch handed to a drift window or tally: n rows of F features, probabilities of K classes. */
export function checkBatch(
  what: string,
  x: Float64Array,
  n: number,
  F: number,
  proba: Float64Array | undefined,
  K: number,
): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: n must be an integer >= 0, got ${n}`);
  if (x.length < n * F)
    throw new Error(`${what}: x must hold n × nFeatures = ${n * F} values, got ${x.length}`);
  if (proba !== undefined && proba.length < n * K) {
    throw new Error(`${what}: proba must hold n × nClasses = ${n * K} values, got ${proba.length}`);
  }
}

/**
 * The last `capacity` encoded rows (a ring buffer: row-major capacity × nFeatures, allocated once)
 * with their predicted classes, and the unknown categories the decoder reported. `add` allocates
 * nothing; `report` compares the window with a reference. Not tied to one model: a swapped model of
 * the same schema reports against its own reference.
 */
export class DriftWindow {
  readonly capacity: number;
  readonly nFeatures: number;
  readonly nClasses: number;
  private readonly rows: Float64Array;
  /** Predicted class per slot, -1 when the row came without probabilities. */
  private readonly classes: Int32Array;
  /** Unknown values attributed to each slot, capacity × nFeatures. */
  private readonly slotUnknown: Uint32Array;
  /** Per feature: the sum of slotUnknown over the slots in the window. */
  private readonly windowUnknown: Float64Array;
  /** Per feature: unknowns reported since the last add (attributed to the next row stored). */
  private readonly pendingUnknown: Float64Array;
  private next = 0;
  private count = 0;

  constructor(nFeatures: number, nClasses: number, capacity = 1000) {
    if (!Number.isInteger(nFeatures) || nFeatures < 1) {
      throw new Error(`drift window: nFeatures must be an integer >= 1, got ${nFeatures}`);
    }
    if (!Number.isInteger(nClasses) || nClasses < 1) {
      throw new Error(`drift window: nClasses must be an integer >= 1, got ${nClasses}`);
    }
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 10_000_000) {
      throw new Error(`drift window: capacity must be an integer in [1, 10000000], got ${capacity}`);
    }
    this.capacity = capacity;
    this.nFeatures = nFeatures;
    this.nClasses = nClasses;
    this.rows = new Float64Array(capacity * nFeatures);
    this.classes = new Int32Array(capacity).fill(-1);
    this.slotUnknown = new Uint32Array(capacity * nFeatures);
    this.windowUnknown = new Float64Array(nFeatures);
    this.pendingUnknown = new Float64Array(nFeatures);
  }

  /** Rows in the window (at most capacity). */
  get size(): number {
    return this.count;
  }

  /**
   * Adds `n` encoded rows (row-major n × nFeatures, NaN = missing), with the model's probabilities
   * for them (n × nClasses) when given; with more than capacity rows, the last capacity are kept.
   */
  add(x: Float64Array, n: number, proba?: Float64Array): void {
    const F = this.nFeatures;
    const K = this.nClasses;
    checkBatch('drift window', x, n, F, proba, K);
    if (n === 0) return;
    const first = Math.max(0, n - this.capacity);
    for (let i = first; i < n; i++) {
      const slot = this.next;
      const at = slot * F;
      this.rows.set(x.subarray(i * F, i * F + F), at);
      this.classes[slot] = proba === undefined ? -1 : argmax(proba, i * K, K);
      for (let f = 0; f < F; f++) {
        const old = this.slotUnknown[at + f]!; // 0 for a slot not yet used
        const now = i === first ? this.pendingUnknown[f]! : 0;
        this.windowUnknown[f] = this.windowUnknown[f]! - old + now;
        this.slotUnknown[at + f] = now;
      }
      this.next = slot + 1 === this.capacity ? 0 : slot + 1;
      if (this.count < this.capacity) this.count++;
    }
    this.pendingUnknown.fill(0);
  }

  /**
   * Counts `count` unknown categories of feature `feature` (0-based, schema order), seen by the
   * decoder in a row that is about to be added, or refused.
   */
  countUnknown(feature: number, count = 1): void {
    checkUnknownCount('drift window', feature, count, this.nFeatures);
    this.pendingUnknown[feature]! += count;
  }

  /** Empties the window (say, when a different model is loaded). */
  clear(): void {
    this.count = 0;
    this.next = 0;
    this.classes.fill(-1);
    this.slotUnknown.fill(0);
    this.windowUnknown.fill(0);
    this.pendingUnknown.fill(0);
  }

  /** The window's drift figures against `reference` (which must be one for nFeatures and nClasses). */
  report(reference: DriftReference): DriftReport {
    const F = this.nFeatures;
    const K = this.nClasses;
    if (reference.features.length !== F || reference.classShares.length !== K) {
      throw new Error(
        `drift window: the reference has ${reference.features.length} features and ${reference.classShares.length} classes, the window ${F} and ${K}`,
      );
    }
    const n = this.count;
    const features = reference.features.map((ref, f): FeatureDrift => {
      const nBins = ref.shares.length;
      const counts = new Float64Array(nBins);
      let missing = 0;
      let invalid = 0;
      for (let s = 0; s < n; s++) {
        const v = this.rows[s * F + f]!;
        if (Number.isNaN(v)) {
          missing++;
        } else if (ref.kind === 'numeric') {
          counts[binOf(ref.edges, v)]!++;
        } else if (Number.isInteger(v) && v >= 0 && v < nBins) {
          counts[v]!++;
        } else {
          // Not a code of the reference's categories: unknown, and counted with the missing values.
          invalid++;
          missing++;
        }
      }
      const actual = n > 0 ? [...Array.from(counts, (c) => c / n), missing / n] : [];
      const unknown =
        ref.kind === 'categorical' ? this.windowUnknown[f]! + this.pendingUnknown[f]! + invalid : 0;
      return {
        name: ref.name,
        kind: ref.kind,
        psi: n > 0 ? psi([...ref.shares, ref.missingRate], actual) : 0,
        missingRate: n > 0 ? missing / n : 0,
        expectedMissingRate: ref.missingRate,
        unknownRate: n > 0 ? Math.min(1, unknown / n) : 0,
      };
    });
    const classCounts = new Float64Array(K);
    let predicted = 0;
    for (let s = 0; s < n; s++) {
      const c = this.classes[s]!;
      if (c >= 0) {
        classCounts[c]!++;
        predicted++;
      }
    }
    const actual = Array.from(classCounts, (c) => (predicted > 0 ? c / predicted : 0));
    return {
      rows: n,
      features,
      classShares: {
        expected: reference.classShares.slice(),
        actual,
        psi: predicted > 0 ? psi(reference.classShares, actual) : 0,
      },
    };
  }
}
