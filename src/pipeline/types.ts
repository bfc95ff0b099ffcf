/**
 * The model as the rest of segserve sees it: the schema (features, categories, classes), an ordinal
 * encoder and a forest behind one interface. The server and library users talk to this, never to the
 * forest.
 *
 * Two representations of a row:
 * - raw (wire) values: a number for a numeric feature; a category (string or number) for a categorical
 *   one; null or undefined for a missing value;
 * - encoded values (Float64Array, row-major n × features): the number itself for a numeric feature,
 *   the category's index in `categories` for a categorical one, NaN for missing. The forest reads these.
 */
import type { Category, FeatureSchema, ModelSchema, UnknownCategoryPolicy } from '../data/schema.js';

export type { Category, FeatureSchema, ModelSchema, UnknownCategoryPolicy };

/** A feature as the model exposes it (the schema's feature). */
export type FeatureInfo = FeatureSchema;

/** A request value the model cannot take: names the row (0-based), the column and what was expected. */
export class ModelInputError extends Error {
  constructor(
    readonly row: number,
    readonly column: string,
    readonly expected: string,
    readonly value: unknown,
  ) {
    super(
      `row ${row}, column "${column}": got ${JSON.stringify(value) ?? String(value)}, expected ${expected}`,
    );
    this.name = 'ModelInputError';
  }
}

export interface Model {
  readonly schema: ModelSchema;
  /** Input columns in wire order (schema.features). */
  readonly features: readonly FeatureInfo[];
  /** Class labels, in the order of the probability columns (schema.classes). */
  readonly classes: readonly Category[];
  /**
   * Encodes one raw value of feature j (number, string, null/undefined for missing): the number for a
   * numeric feature, the category index for a categorical one, NaN for missing (and for an unknown
   * category when the policy is "missing"). Throws ModelInputError naming `row` otherwise.
   */
  encodeValue(j: number, v: unknown, row: number): number;
  /** Probabilities for n encoded rows (row-major n × features, NaN = missing) into out (n × classes). */
  predictEncodedInto(x: Float64Array, n: number, out: Float64Array): void;
  /**
   * Fast path for all-numeric wire values: `x` holds n rows of raw numbers (a categorical feature's
   * category itself, NaN for missing), encodes them and writes n × classes probabilities into `out`.
   * Throws ModelInputError on a bad value.
   */
  predictProbaInto(x: Float64Array, n: number, out: Float64Array): void;
  /** Probabilities for rows of raw values in feature order; throws ModelInputError on a bad value. */
  predictProba(rows: readonly (readonly unknown[])[]): number[][];
  /** The most probable class label per row. */
  predict(rows: readonly (readonly unknown[])[]): Category[];
}
