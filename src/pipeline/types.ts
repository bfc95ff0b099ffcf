/**
 * The model as the rest of segserve sees it: an ordinal encoder plus a forest behind one interface.
 * The server and library users talk to this, never to the forest.
 */

export interface FeatureInfo {
  name: string;
  kind: 'numeric' | 'categorical';
  /** For categorical features: the raw codes seen in training, sorted; code i encodes to i. */
  categories?: number[];
}

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
  /** Input columns in wire order: age, income, response, events. */
  readonly features: readonly FeatureInfo[];
  /** Class labels, in the order of the probability columns (segment 0, 1, 2). */
  readonly classes: readonly number[];
  /** Probabilities for rows of raw values in feature order; throws ModelInputError on a bad value. */
  predictProba(rows: readonly (readonly number[])[]): number[][];
  /** The most probable class label per row. */
  predict(rows: readonly (readonly number[])[]): number[];
  /**
   * Fast path for the server: `x` holds `n` rows of raw values, row-major (n × features.length);
   * writes n × classes.length probabilities into `out`. Throws ModelInputError on a bad value.
   */
  predictProbaInto(x: Float64Array, n: number, out: Float64Array): void;
}
