/**
 * The ordinal encoder of the post's pipeline, for any schema: each categorical feature maps its sorted
 * categories (strings or numbers) to 0..k-1 (scikit-learn's OrdinalEncoder); numeric features pass
 * through; a missing value (null, undefined, NaN) encodes as NaN, which the forest routes as missing.
 * An unknown category is refused, or read as missing when the model's policy says "missing".
 */
import type { Category, FeatureSchema, UnknownCategoryPolicy } from '../data/schema.js';
import { ModelInputError } from './types.js';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Per categorical feature: the index of each category, looked up by number or by text. */
interface Lookup {
  byNumber: Map<number, number>;
  byText: Map<string, number>;
}

function lookupOf(categories: readonly Category[]): Lookup {
  const byNumber = new Map<number, number>();
  const byText = new Map<string, number>();
  categories.forEach((c, i) => {
    byText.set(String(c), i);
    if (typeof c === 'number') byNumber.set(c, i);
    else if (NUMBER.test(c)) byNumber.set(Number(c), i);
  });
  return { byNumber, byText };
}

/** A short list of what a feature takes, for error messages. */
function describeCategories(categories: readonly Category[]): string {
  const shown = categories.slice(0, 20).map((c) => JSON.stringify(c));
  const more = categories.length > 20 ? `, … (${categories.length - 20} more)` : '';
  return `one of the known categories [${shown.join(', ')}${more}]`;
}

export class OrdinalEncoder {
  readonly features: readonly FeatureSchema[];
  readonly unknownCategory: UnknownCategoryPolicy;
  /** Per feature: the category lookup, or undefined for numeric features. */
  private readonly lookup: (Lookup | undefined)[];
  private readonly allowMissing: boolean[];
  private readonly expected: string[];

  constructor(features: readonly FeatureSchema[], unknownCategory: UnknownCategoryPolicy = 'error') {
    this.features = features;
    this.unknownCategory = unknownCategory;
    this.lookup = features.map((f) => (f.kind === 'categorical' ? lookupOf(f.categories ?? []) : undefined));
    this.allowMissing = features.map((f) => f.allowMissing !== false);
    this.expected = features.map((f) => {
      const what = f.kind === 'categorical' ? describeCategories(f.categories ?? []) : 'a finite number';
      return f.allowMissing === false ? what : `${what} or null`;
    });
  }

  /** What feature j takes, for messages ("a finite number or null", "one of the known categories [...]"). */
  expectedOf(j: number): string {
    return this.expected[j] ?? '';
  }

  /**
   * Encodes one raw value of feature j: a number for a numeric feature, a category (number or string,
   * matched by value or by its text) for a categorical one, null/undefined/NaN for missing.
   * @throws ModelInputError naming `row`, the feature, the value and what was expected.
   */
  encodeValue(j: number, v: unknown, row: number): number {
    const map = this.lookup[j];
    if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) {
      if (this.allowMissing[j]) return Number.NaN;
      return this.refuse(j, v, row);
    }
    if (map === undefined) {
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      return this.refuse(j, v, row);
    }
    let code: number | undefined;
    if (typeof v === 'number') code = map.byNumber.get(v);
    else if (typeof v === 'string') code = map.byText.get(v);
    else return this.refuse(j, v, row);
    if (code !== undefined) return code;
    if (this.unknownCategory === 'missing') return Number.NaN;
    return this.refuse(j, v, row);
  }

  private refuse(j: number, v: unknown, row: number): never {
    throw new ModelInputError(row, this.features[j]?.name ?? `${j}`, this.expected[j] ?? '', v);
  }

  /** Encodes n raw numeric rows (row-major, n × d; NaN = missing) into `out`. */
  encodeRowsInto(x: Float64Array, n: number, out: Float64Array): void {
    const d = this.features.length;
    for (let i = 0, k = 0; i < n; i++) {
      for (let j = 0; j < d; j++, k++) {
        const v = x[k] as number;
        // A finite number of a numeric feature passes through (v - v is 0 only for finite v).
        out[k] = this.lookup[j] === undefined && v - v === 0 ? v : this.encodeValue(j, v, i);
      }
    }
  }
}
