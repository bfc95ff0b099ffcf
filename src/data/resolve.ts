/**
 * What a training run trains on, resolved with this precedence: command-line flags, then `--schema
 * FILE`, then the schema file beside the data (`data/customers.csv` → `data/customers.schema.json`),
 * then inference. The data is read in ONE streaming pass that also infers the kinds nobody stated and
 * yields the typed columns training uses (`table`), so the caller need not read the file again.
 *
 * Roles: the target is the target; with `--features` only those columns are features; `--ignore` and a
 * schema file's role 'ignored' leave columns out; every other column is a feature. A column a schema
 * file names as target is left out when the command line picks another target. Kinds: flags, then the
 * file, then inference; the target is always categorical (class labels).
 *
 * Every problem is one line (a SegserveError, exit 2) naming the file, column, line or value, coded
 * SEGSERVE_ERR_SCHEMA (roles and kinds against the data), SEGSERVE_ERR_CONFIG_FILE (the schema file
 * itself), SEGSERVE_ERR_CSV (the data's cells) or SEGSERVE_ERR_INPUT_PATH (a missing file).
 */
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import { configFileError, inputPathError, schemaError } from '../errors.js';
import { ioError } from './atomic.js';
import { columnSchemaOf, listColumns, normalizeNaValues } from './infer.js';
import { describeSchemaError } from './json-errors.js';
import {
  type Category,
  type ColumnKind,
  type ColumnSchema,
  type DataSchema,
  type SchemaFile,
  schemaFileBeside,
  sortCategories,
  type UnknownCategoryPolicy,
} from './schema.js';
import {
  type CategoricalColumn,
  type Column,
  type ColumnScan,
  type ColumnsRead,
  readHeader,
  type ScanPlan,
  scanColumns,
} from './table.js';

/** The command line's say in the schema; every field optional (absent = not given). */
export interface ResolveFlags {
  /** --target COL */
  target?: string;
  /** --features a,b,c: only these are features, in this order (the model's wire order). */
  features?: string[];
  /** --ignore x,y */
  ignore?: string[];
  /** --categorical a,b */
  categorical?: string[];
  /** --numeric a,b */
  numeric?: string[];
  /** --schema FILE (else the file beside the data, if any). */
  schemaPath?: string;
  /** --na-values a,b (an empty cell is always missing). */
  naValues?: string[];
  /** --unknown-category error|missing. Leave undefined when not given, so a schema file's applies. */
  unknownCategory?: UnknownCategoryPolicy;
}

/** A feature as training reads it: name, kind and, for a categorical one, its sorted categories. */
export interface FeatureSpec {
  name: string;
  kind: ColumnKind;
  categories?: Category[];
}

export interface ResolvedSchema {
  /** Every column of the data with its role, kind and statistics (ignored ones described as inferred). */
  schema: DataSchema;
  /** The features, in wire order, with their final kinds and categories (as read from the data). */
  features: FeatureSpec[];
  target: string;
  /** The class labels, sorted (numbers when every label is one). */
  classes: Category[];
  /** Cells read as missing ('' first). */
  naValues: string[];
  unknownCategory: UnknownCategoryPolicy;
  /** Where the schema came from, most important first, for the summary (e.g. "schema file x.json"). */
  sources: string[];
  /** The data, read in the same pass: the features in `features` order, then the target. */
  table: ColumnsRead;
}

/** The JSON Schema of a schema file. Statistics (`rows`, `missing`, ...) are allowed and ignored. */
export const SCHEMA_FILE_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    target: { type: ['string', 'null'] },
    naValues: { type: 'array', items: { type: 'string' } },
    unknownCategory: { enum: ['error', 'missing'] },
    rows: { type: 'integer', minimum: 0 },
    columns: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1 },
          role: { enum: ['target', 'feature', 'ignored'] },
          kind: { enum: ['numeric', 'categorical'] },
          categories: { type: 'array', minItems: 1, items: { type: ['string', 'number'] } },
          missing: { type: 'integer', minimum: 0 },
          distinct: { type: 'integer', minimum: 0 },
          distinctAtLeast: { type: 'boolean' },
          min: { type: ['number', 'null'] },
          mean: { type: ['number', 'null'] },
          max: { type: ['number', 'null'] },
        },
      },
    },
  },
} as const;

let compiled: ValidateFunction<SchemaFile> | undefined;
function validator(): ValidateFunction<SchemaFile> {
  if (!compiled) {
    // ajv (CommonJS) is required on first use only: training without a schema file never loads it.
    const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
    compiled = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true }).compile<SchemaFile>(
      SCHEMA_FILE_JSON_SCHEMA,
    );
  }
  return compiled;
}

/**
 * Reads and validates a schema file (the JSON `segserve schema --out` writes, possibly edited): its
 * structure (unknown keys, wrong types) and its own consistency (a column listed twice, two targets,
 * categories on a numeric column, a category listed twice). Whether its columns exist is checked
 * against the data by resolveSchema.
 * @throws SegserveError (SEGSERVE_ERR_CONFIG_FILE) naming the file and the key; SEGSERVE_ERR_INPUT_PATH
 *   for a missing file.
 */
export async function readSchemaFile(path: string): Promise<SchemaFile> {
  let text: string;
  try {
    const { readFile } = await import('node:fs/promises');
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw inputPathError(path, err, 'schema file') ?? ioError('read', path, err);
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw configFileError(`${path}: invalid JSON (${(err as Error).message})`);
  }
  const validate = validator();
  if (!validate(value)) {
    const first = validate.errors?.[0];
    throw configFileError(`${path}: ${first ? describeSchemaError(first) : 'invalid schema file'}`);
  }
  const file = value;
  const seen = new Set<string>();
  let roleTarget: string | undefined;
  (file.columns ?? []).forEach((c, i) => {
    if (seen.has(c.name))
      throw configFileError(`${path}: "columns[${i}].name": column "${c.name}" is listed twice`);
    seen.add(c.name);
    if (c.role === 'target') {
      if (roleTarget !== undefined) {
        throw configFileError(`${path}: "columns[${i}].role": two targets ("${roleTarget}" and "${c.name}")`);
      }
      roleTarget = c.name;
      if (file.target != null && file.target !== c.name) {
        throw configFileError(
          `${path}: "columns[${i}].role": "${c.name}" is marked target but "target" is "${file.target}"`,
        );
      }
    }
    if (c.categories) {
      if (c.kind === 'numeric') {
        throw configFileError(`${path}: "columns[${i}].categories" given for a numeric column ("${c.name}")`);
      }
      const sorted = sortCategories(c.categories);
      if (sorted.length !== c.categories.length) {
        const dup = c.categories.find(
          (v, j) => c.categories?.findIndex((w) => String(w) === String(v)) !== j,
        );
        throw configFileError(`${path}: "columns[${i}].categories" lists ${JSON.stringify(dup)} twice`);
      }
    }
  });
  return file;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Names in `list` that are not columns → one line naming the flag, the name and the columns. */
function checkNames(
  what: string,
  list: readonly string[] | undefined,
  header: readonly string[],
  dataPath: string,
) {
  for (const name of list ?? []) {
    if (!header.includes(name)) {
      throw schemaError(
        `${what}: "${name}" is not a column of ${dataPath} (columns: ${listColumns(header)})`,
      );
    }
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Resolves the schema of `dataPath` for training (flags, then `--schema`, then the schema file beside
 * the data, then inference) and reads its features and target in the same single streaming pass.
 * @throws SegserveError (usage), one line each: no target known (listing the columns), a target,
 *   feature or flag naming no column, the target listed as a feature, a feature left in and ignored,
 *   no feature left, a bad schema file (naming the key), a non-numeric cell in a numeric column or a
 *   category outside a schema file's list (naming the line and value), a missing target (naming the
 *   line), fewer than 2 classes or a class with fewer than 2 rows, a feature entirely missing or
 *   constant, an empty file, a duplicate column name, a ragged row, no data rows; (failure) on I/O.
 */
export async function resolveSchema(dataPath: string, flags: ResolveFlags = {}): Promise<ResolvedSchema> {
  const header = await readHeader(dataPath);
  const sources: string[] = [];
  const used = (
    [
      ['target', '--target'],
      ['features', '--features'],
      ['ignore', '--ignore'],
      ['categorical', '--categorical'],
      ['numeric', '--numeric'],
      ['naValues', '--na-values'],
      ['unknownCategory', '--unknown-category'],
    ] as const
  )
    .filter(([key]) => flags[key] !== undefined)
    .map(([, flag]) => flag);
  if (used.length > 0) sources.push(`command line (${used.join(', ')})`);

  // The schema file: --schema, else the one beside the data.
  let file: SchemaFile | undefined;
  let filePath: string | undefined;
  if (flags.schemaPath !== undefined) {
    filePath = flags.schemaPath;
    file = await readSchemaFile(filePath);
    sources.push(`schema file ${filePath}`);
  } else {
    const beside = schemaFileBeside(dataPath);
    if (await exists(beside)) {
      filePath = beside;
      file = await readSchemaFile(beside);
      sources.push(`schema file ${beside} (beside the data)`);
    }
  }
  const fileCols = new Map((file?.columns ?? []).map((c) => [c.name, c]));
  if (file && filePath) {
    for (const c of file.columns ?? []) {
      if (!header.includes(c.name)) {
        throw schemaError(
          `${filePath}: column "${c.name}" is not in ${dataPath} (columns: ${listColumns(header)})`,
        );
      }
    }
    if (file.target != null && !header.includes(file.target)) {
      throw schemaError(
        `${filePath}: target "${file.target}" is not a column of ${dataPath} (columns: ${listColumns(header)})`,
      );
    }
  }
  const fileTarget =
    file?.target ?? (file?.columns ?? []).find((c) => c.role === 'target')?.name ?? undefined;

  const naValues = normalizeNaValues(flags.naValues ?? file?.naValues);
  const unknownCategory: UnknownCategoryPolicy = flags.unknownCategory ?? file?.unknownCategory ?? 'error';

  // The target.
  const target = flags.target ?? fileTarget;
  if (target === undefined) {
    const hint = filePath ? ` (${filePath} names none)` : '';
    throw schemaError(`--target is required: name one of the columns ${listColumns(header)}${hint}`);
  }
  if (!header.includes(target)) {
    throw schemaError(
      `--target: "${target}" is not a column of ${dataPath} (columns: ${listColumns(header)})`,
    );
  }

  // Flags that name columns.
  checkNames('--features', flags.features, header, dataPath);
  checkNames('--ignore', flags.ignore, header, dataPath);
  checkNames('--categorical', flags.categorical, header, dataPath);
  checkNames('--numeric', flags.numeric, header, dataPath);
  const ignore = new Set(flags.ignore ?? []);
  const categorical = new Set(flags.categorical ?? []);
  const numeric = new Set(flags.numeric ?? []);
  for (const name of categorical) {
    if (numeric.has(name)) throw schemaError(`"${name}" is given both --categorical and --numeric`);
  }
  if (flags.features?.includes(target)) {
    throw schemaError(`--features: "${target}" is the target; a column cannot be both`);
  }
  if (ignore.has(target)) throw schemaError(`--ignore: "${target}" is the target; it cannot be ignored`);
  if (numeric.has(target)) {
    throw schemaError(`--numeric: "${target}" is the target, which is always categorical (class labels)`);
  }
  for (const name of flags.features ?? []) {
    if (ignore.has(name)) throw schemaError(`"${name}" is given both --features and --ignore`);
  }

  // Roles.
  let featureNames: string[];
  if (flags.features !== undefined) {
    featureNames = [...new Set(flags.features)];
  } else {
    featureNames = header.filter((name) => {
      if (name === target || ignore.has(name)) return false;
      const role = fileCols.get(name)?.role;
      // A column the file calls the target, when the command line picked another one, stays out.
      return role !== 'ignored' && role !== 'target' && name !== fileTarget;
    });
  }
  if (featureNames.length === 0) {
    throw schemaError(
      `no feature left: every column of ${dataPath} but the target "${target}" is ignored (columns: ${listColumns(header)})`,
    );
  }

  // Kinds: flags, then the file, then inference.
  const inferred: string[] = [];
  const planOf = (name: string): ScanPlan => {
    const stated = fileCols.get(name);
    if (name === target) {
      const categories = stated?.categories;
      return { name, mode: 'categorical', keep: true, required: true, ...(categories ? { categories } : {}) };
    }
    if (categorical.has(name)) {
      const categories = stated?.categories;
      return { name, mode: 'categorical', keep: true, ...(categories ? { categories } : {}) };
    }
    if (numeric.has(name)) return { name, mode: 'numeric', keep: true, why: '--numeric' };
    if (stated?.kind === 'numeric') return { name, mode: 'numeric', keep: true, why: filePath as string };
    if (stated?.kind === 'categorical') {
      const categories = stated.categories;
      return { name, mode: 'categorical', keep: true, ...(categories ? { categories } : {}) };
    }
    inferred.push(name);
    return { name, mode: 'auto', keep: true };
  };
  const featurePlans = featureNames.map(planOf);
  const targetPlan = planOf(target);
  const trained = new Set([...featureNames, target]);
  const plans = header.map(
    (name): ScanPlan =>
      trained.has(name)
        ? name === target
          ? targetPlan
          : (featurePlans[featureNames.indexOf(name)] as ScanPlan)
        : { name, mode: 'auto', keep: false, bounded: true },
  );
  if (inferred.length > 0) sources.push(`inferred from ${dataPath} (kind of ${inferred.join(', ')})`);

  const { scans, nRows, sha256 } = await scanColumns(dataPath, () => plans, { naValues, unknownCategory });
  const scanOf = (name: string) => scans[header.indexOf(name)] as ColumnScan;

  // The target: at least 2 classes, each with at least 2 rows.
  const targetScan = scanOf(target);
  const targetCol = targetScan.column as CategoricalColumn;
  const counts = new Int32Array(targetCol.categories.length);
  for (const c of targetCol.codes) counts[c] = (counts[c] as number) + 1;
  const present = targetCol.categories.filter((_, i) => (counts[i] as number) > 0);
  if (present.length < 2) {
    throw schemaError(
      `${dataPath}: the target "${target}" has ${present.length === 1 ? `one class only (${JSON.stringify(present[0])})` : 'no class'}; a classifier needs at least 2`,
    );
  }
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    if (n === 1) {
      throw schemaError(
        `${dataPath}: class ${JSON.stringify(targetCol.categories[i])} of the target "${target}" has 1 row; every class needs at least 2 (drop the row or merge the class)`,
      );
    }
  }

  // Features: not entirely missing, not constant.
  for (const name of featureNames) {
    const s = scanOf(name);
    const hint = `drop it with --ignore ${name}`;
    if (s.missing === nRows) {
      throw schemaError(
        `${dataPath}: feature "${name}" is entirely missing (${plural(nRows, 'row')}); ${hint}`,
      );
    }
    const col = s.column as Column;
    const constant = s.missing === 0 && (col.kind === 'numeric' ? s.min === s.max : s.distinct === 1);
    if (constant) {
      const value = col.kind === 'numeric' ? s.min : (col.categories[col.codes[0] as number] as Category);
      throw schemaError(
        `${dataPath}: feature "${name}" is constant (${JSON.stringify(value)} in every row); ${hint}`,
      );
    }
  }

  // The result.
  const featureCols = featureNames.map((name) => scanOf(name).column as Column);
  const features = featureCols.map(
    (c): FeatureSpec =>
      c.kind === 'categorical'
        ? { name: c.name, kind: c.kind, categories: c.categories }
        : { name: c.name, kind: c.kind },
  );
  const columns: ColumnSchema[] = header.map((name, j) => {
    const s = scans[j] as ColumnScan;
    const role = name === target ? 'target' : trained.has(name) ? 'feature' : 'ignored';
    const col = columnSchemaOf(s, role);
    return col;
  });
  return {
    schema: { target, naValues, unknownCategory, rows: nRows, columns },
    features,
    target,
    classes: targetCol.categories,
    naValues,
    unknownCategory,
    sources: sources.length > 0 ? sources : [`inferred from ${dataPath}`],
    table: { columns: [...featureCols, targetCol], nRows, sha256 },
  };
}
