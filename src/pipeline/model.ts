/**
 * The model: schema + ordinal encoder + forest, with plain-array methods for library users and
 * typed-array fast paths for the server.
 */
import type { ModelSchema } from '../data/schema.js';
import type { Forest } from '../forest/forest.js';
import { OrdinalEncoder } from './encoder.js';
import { type Category, type FeatureInfo, type Model, ModelInputError } from './types.js';

export class ForestModel implements Model {
  readonly schema: ModelSchema;
  readonly features: readonly FeatureInfo[];
  readonly classes: readonly Category[];
  readonly encoder: OrdinalEncoder;
  private scratch = new Float64Array(0);

  constructor(
    schema: ModelSchema,
    readonly forest: Forest,
  ) {
    if (forest.nFeatures !== schema.features.length || forest.nClasses !== schema.classes.length) {
      throw new Error(
        `the forest takes ${forest.nFeatures} features and ${forest.nClasses} classes, the schema has ${schema.features.length} and ${schema.classes.length}`,
      );
    }
    this.schema = schema;
    this.features = schema.features;
    this.classes = schema.classes;
    this.encoder = new OrdinalEncoder(schema.features, schema.unknownCategory);
  }

  encodeValue(j: number, v: unknown, row: number): number {
    return this.encoder.encodeValue(j, v, row);
  }

  predictEncodedInto(x: Float64Array, n: number, out: Float64Array): void {
    this.forest.predictProbaInto(x, n, out);
  }

  predictProbaInto(x: Float64Array, n: number, out: Float64Array): void {
    const size = n * this.features.length;
    if (this.scratch.length < size) this.scratch = new Float64Array(size);
    this.encoder.encodeRowsInto(x, n, this.scratch);
    this.forest.predictProbaInto(this.scratch, n, out);
  }

  /** Encodes rows of raw values (arrays in feature order) row-major. */
  encodeRows(rows: readonly (readonly unknown[])[]): Float64Array {
    const d = this.features.length;
    const x = new Float64Array(rows.length * d);
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== d) {
        throw new ModelInputError(
          i,
          '*',
          `an array of ${d} values (${this.features.map((f) => f.name).join(', ')})`,
          row,
        );
      }
      for (let j = 0; j < d; j++) x[i * d + j] = this.encoder.encodeValue(j, row[j], i);
    });
    return x;
  }

  predictProba(rows: readonly (readonly unknown[])[]): number[][] {
    const k = this.classes.length;
    const x = this.encodeRows(rows);
    const out = new Float64Array(rows.length * k);
    this.forest.predictProbaInto(x, rows.length, out);
    return rows.map((_, i) => Array.from(out.subarray(i * k, (i + 1) * k)));
  }

  predict(rows: readonly (readonly unknown[])[]): Category[] {
    return this.predictProba(rows).map((p) => this.classes[argmax(p)] as Category);
  }
}

/** Index of the largest value; the first one on ties (as numpy's argmax). */
export function argmax(p: ArrayLike<number>, from = 0, length = p.length - from): number {
  let best = 0;
  for (let c = 1; c < length; c++) if ((p[from + c] as number) > (p[from + best] as number)) best = c;
  return best;
}
