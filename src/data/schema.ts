/**
 * The data schema: what a CSV's columns are (role, kind, categories, missing counts) and what a model
 * is trained on. It is inferred from a CSV (infer.ts), written and read as JSON (`segserve schema
 * --out`, `<data>.schema.json`), resolved against the command line (resolve.ts), and the model part of
 * it is stored in the artifact and drives every decoder. Nothing here names the post's columns.
 */

/** A category of a categorical column, or a class label: numbers when every value is numeric. */
export type Category = string | number;
export type ColumnKind = 'numeric' | 'categorical';
export type ColumnRole = 'target' | 'feature' | 'ignored';
/** What prediction does with a category it never saw in training. */
export type UnknownCategoryPolicy = 'error' | 'missing';

/** Cells read as missing unless `--na-values` says otherwise (an empty cell is always missing). */
export const DEFAULT_NA_VALUES: readonly string[] = ['', 'NA', 'NaN', 'null', '?'];

/** One column of a data schema, as `segserve schema --json` prints it and `--out` writes it. */
export interface ColumnSchema {
  name: string;
  role: ColumnRole;
  kind: ColumnKind;
  /** Missing cells. */
  missing: number;
  /** Distinct non-missing values (a lower bound when `distinctAtLeast`). */
  distinct: number;
  /**
   * True when `distinct` is a lower bound: numeric columns count distinct values exactly up to 65,536,
   * then stop (counting every distinct float of a large column would cost more than the column).
   */
  distinctAtLeast?: boolean;
  /** Categorical: the distinct values, sorted (numbers ascending, or strings by code unit). */
  categories?: Category[];
  /** Numeric: over the non-missing cells (absent when every cell is missing). */
  min?: number;
  mean?: number;
  max?: number;
}

/** A whole data schema (inferred, or read from a file and completed by inference). */
export interface DataSchema {
  /** The target column, or null when none is known yet. */
  target: string | null;
  naValues: string[];
  unknownCategory: UnknownCategoryPolicy;
  /** Data rows of the file the statistics come from. */
  rows: number;
  columns: ColumnSchema[];
}

/**
 * A schema file as a person may write or edit it: only `columns[].name` is required; any other field
 * given overrides inference (role, kind, categories). Statistics in it are ignored (recomputed).
 */
export interface SchemaFile {
  target?: string | null;
  naValues?: string[];
  unknownCategory?: UnknownCategoryPolicy;
  columns?: {
    name: string;
    role?: ColumnRole;
    kind?: ColumnKind;
    categories?: Category[];
  }[];
}

/** One feature of a model: wire order, kind, categories (code i = categories[i]). */
export interface FeatureSchema {
  name: string;
  kind: ColumnKind;
  /** Categorical only: sorted, all numbers or all strings. */
  categories?: Category[];
  /** Training rows where this feature was missing. */
  missing: number;
  /**
   * Whether a request may leave this feature missing (null, or absent from `names`); absent = true.
   * Models of format version 1 never saw missing values and refuse them (false).
   */
  allowMissing?: boolean;
}

/** The model's schema: stored in the artifact, it drives encoding and every decoder. */
export interface ModelSchema {
  target: string;
  features: FeatureSchema[];
  /** Class labels in probability-column order (sorted, all numbers or all strings). */
  classes: Category[];
  unknownCategory: UnknownCategoryPolicy;
  /** The CSV cells read as missing in training (`segserve predict` reads files the same way). */
  naValues?: string[];
}

/**
 * Sorts distinct categories the way the encoder numbers them: numbers ascending when every value is a
 * number, else strings by UTF-16 code unit (numbers then compare as their JSON text).
 */
export function sortCategories(values: Iterable<Category>): Category[] {
  const all = [...new Set(values)];
  if (all.every((v) => typeof v === 'number')) return (all as number[]).sort((a, b) => a - b);
  const text = [...new Set(all.map((v) => String(v)))];
  return text.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The schema file that goes with a data file: `data/customers.csv` → `data/customers.schema.json`;
 * a file without a `.csv` extension gets `.schema.json` appended (`data/x.tsv` → `data/x.tsv.schema.json`).
 */
export function schemaFileBeside(dataPath: string): string {
  return /\.csv$/i.test(dataPath) ? dataPath.replace(/\.csv$/i, '.schema.json') : `${dataPath}.schema.json`;
}
