/**
 * The ordinal encoder of the post's pipeline: each categorical column maps its sorted training
 * categories to 0..k-1 (scikit-learn's OrdinalEncoder, which is the identity when every code appears);
 * numeric columns pass through. Unknown categories are refused, as scikit-learn does by default.
 */
import { type FeatureInfo, ModelInputError } from './types.js';

export class OrdinalEncoder {
  readonly features: readonly FeatureInfo[];
  /** Per feature: raw code → ordinal, or undefined for numeric features. */
  private readonly lookup: (Map<number, number> | undefined)[];
  private readonly expected: string[];

  constructor(features: readonly FeatureInfo[]) {
    this.features = features;
    this.lookup = features.map((f) =>
      f.kind === 'categorical' ? new Map((f.categories ?? []).map((c, i) => [c, i])) : undefined,
    );
    this.expected = features.map((f) =>
      f.kind === 'categorical'
        ? `one of the known categories [${(f.categories ?? []).join(', ')}]`
        : 'a finite number',
    );
  }

  /** Learns the categories of the categorical columns (sorted distinct values). */
  static fit(
    names: readonly string[],
    categorical: ReadonlySet<string>,
    columns: readonly Float64Array[],
  ): OrdinalEncoder {
    return new OrdinalEncoder(
      names.map((name, j) =>
        categorical.has(name)
          ? { name, kind: 'categorical', categories: [...new Set(columns[j])].sort((a, b) => a - b) }
          : { name, kind: 'numeric' },
      ),
    );
  }

  /** Encodes one raw value of feature j, or throws naming `row`. */
  encodeValue(j: number, v: number, row: number): number {
    const map = this.lookup[j];
    const code = map === undefined ? (Number.isFinite(v) ? v : undefined) : map.get(v);
    if (code === undefined)
      throw new ModelInputError(row, this.features[j]?.name ?? `${j}`, this.expected[j] ?? '', v);
    return code;
  }

  /** Encodes n raw rows (row-major, n × d) into `out`. */
  encodeRowsInto(x: Float64Array, n: number, out: Float64Array): void {
    const d = this.features.length;
    for (let i = 0, k = 0; i < n; i++) {
      for (let j = 0; j < d; j++, k++) out[k] = this.encodeValue(j, x[k] as number, i);
    }
  }

  /** Encodes whole columns (training data). */
  encodeColumns(columns: readonly Float64Array[]): Float64Array[] {
    return columns.map((col, j) => col.map((v, i) => this.encodeValue(j, v, i)));
  }
}
