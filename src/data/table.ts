/**
 * The columnar table training reads: the named columns of a CSV in ONE streaming pass (csv-parse),
 * numeric columns as Float64Array (NaN = missing) and categorical ones as Int32Array codes into their
 * sorted categories (-1 = missing). No per-cell object is kept: memory is the typed arrays plus one
 * dictionary entry per distinct category.
 *
 * The same pass can also infer a column's kind (mode 'auto': read as numbers and as dictionary codes
 * while both are possible) and gather the statistics of `segserve schema` (missing, distinct,
 * min/mean/max), which is how infer.ts and resolve.ts read a file once.
 *
 * Distinct counts of numeric columns are exact up to DISTINCT_CAP (65,536) values, then reported as a
 * lower bound (`distinctAtLeast`): counting every distinct float of a million-row column would cost
 * more memory than the column itself. Categories are always complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { csvError } from '../errors.js';
import { BadCell, checkReadable, NUMBER, scanError } from './csv.js';
import {
  type Category,
  type ColumnKind,
  DEFAULT_NA_VALUES,
  sortCategories,
  type UnknownCategoryPolicy,
} from './schema.js';

/** A numeric column: `values[i]` is row i, NaN when missing. */
export interface NumericColumn {
  name: string;
  kind: 'numeric';
  values: Float64Array;
}

/** A categorical column: `codes[i]` indexes `categories` (sorted), -1 when missing. */
export interface CategoricalColumn {
  name: string;
  kind: 'categorical';
  codes: Int32Array;
  categories: Category[];
}

export type Column = NumericColumn | CategoricalColumn;

/** A column to read: its kind, and for a categorical one optionally its categories (then fixed). */
export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /** Categorical: the known categories; a cell outside them follows `unknownCategory`. Absent: learned. */
  categories?: readonly Category[];
  /** A missing cell is an error naming the line (the target). */
  required?: boolean;
}

export interface ReadOptions {
  /** Cells read as missing (an empty cell always is). Default DEFAULT_NA_VALUES. */
  naValues?: readonly string[];
  /** A cell outside a column's given categories: an error (default), or read as missing. */
  unknownCategory?: UnknownCategoryPolicy;
}

export interface ColumnsRead {
  /** In the order asked for. */
  columns: Column[];
  nRows: number;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
}

/** Exact distinct counts up to this many values per numeric column; beyond, a lower bound. */
export const DISTINCT_CAP = 1 << 16;

/**
 * Rows per buffer chunk. Kept columns are read into chunks of this many rows and joined once, into an
 * array of the exact length, when the column is finished: no doubling, no spare capacity, no trim copy.
 */
const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;

/** The full chunks and the current one, joined into one array of `n` values. */
function joinChunks<T extends Float64Array | Int32Array>(
  full: T[],
  current: T,
  n: number,
  make: (n: number) => T,
): T {
  const out = make(n);
  let at = 0;
  for (const c of full) {
    out.set(c, at);
    at += c.length;
  }
  out.set(current.subarray(0, n - at), at);
  return out;
}

/** How the scan reads one column. */
export interface ScanPlan {
  name: string;
  /** 'auto' infers: numeric if every non-missing cell is a finite number, else categorical. */
  mode: ColumnKind | 'auto';
  /** Keep the per-row values or codes (else statistics only). */
  keep: boolean;
  categories?: readonly Category[];
  required?: boolean;
  /** Why the column is numeric, for the message when a cell is not a number (e.g. "--numeric"). */
  why?: string;
  /** Count the distinct values of a numeric column (default true; readColumns does not need them). */
  countDistinct?: boolean;
  /**
   * Statistics only, in bounded memory: past DISTINCT_CAP distinct texts, even a categorical column
   * stops collecting them (its categories are then unknown and its distinct count a lower bound). For
   * columns nobody trains on, such as an ignored id column.
   */
  bounded?: boolean;
}

/** What the scan learned of one column (and its data, when kept). */
export interface ColumnScan {
  name: string;
  kind: ColumnKind;
  missing: number;
  /** Distinct non-missing values (a lower bound when distinctAtLeast). */
  distinct: number;
  distinctAtLeast: boolean;
  /** Categorical: sorted (the given ones when fixed). */
  categories?: Category[];
  /** Categorical with fixed categories and unknownCategory 'missing': cells read as missing. */
  unknown: number;
  /** Numeric: over the non-missing cells (NaN when there is none). */
  min: number;
  mean: number;
  max: number;
  /** When kept. */
  column?: Column;
}

export interface ScanResult {
  header: string[];
  scans: ColumnScan[];
  nRows: number;
  sha256: string;
}

function quoteCell(cell: string): string {
  return cell === '' ? 'empty cell' : JSON.stringify(cell);
}

/** A short list of categories for messages: the first 10, then "… (N more)". */
export function listCategories(categories: readonly Category[], max = 10): string {
  const shown = categories.slice(0, max).map((c) => JSON.stringify(c));
  return categories.length > max
    ? `${shown.join(', ')}, … (${categories.length - max} more)`
    : shown.join(', ');
}

/** Parses a cell strictly as a finite number (the same rule as csv.ts); undefined if it is not one. */
export function parseNumber(cell: string): number | undefined {
  if (!NUMBER.test(cell)) return undefined;
  const v = Number(cell);
  return Number.isFinite(v) ? v : undefined;
}

/** Reads one column's cells; `add` is the per-cell hot path. */
class Accumulator {
  readonly plan: ScanPlan;
  missing = 0;
  unknown = 0;
  /** Every non-missing cell so far parsed as a number. */
  numericOk = true;
  sum = 0;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  /** Distinct texts → insertion codes (learned categories, and distinct counting while small). */
  dict: Map<string, number> | null = new Map();
  /** Distinct numbers, once the dictionary is gone (numeric columns past DISTINCT_CAP texts). */
  numbers: Set<number> | null = null;
  numbersCapped = false;
  /** Fixed categories: lookups and which were seen. */
  fixedByText: Map<string, number> | null = null;
  fixedByNumber: Map<number, number> | null = null;
  seen: Uint8Array | null = null;
  fixed: Category[] | null = null;
  /** The current chunk of values (numbers) and codes; full chunks wait in the lists below. */
  values: Float64Array | null = null;
  codes: Int32Array | null = null;
  valueChunks: Float64Array[] = [];
  codeChunks: Int32Array[] = [];
  /** The column turned categorical after its dictionary was dropped: categories need another pass. */
  needsRescan = false;

  constructor(plan: ScanPlan) {
    const capacity = CHUNK;
    this.plan = plan;
    const { mode, keep } = plan;
    if (mode === 'numeric') {
      this.dict = null;
      if (plan.countDistinct !== false) this.numbers = new Set();
    }
    if (keep && mode !== 'categorical') this.values = new Float64Array(capacity);
    if (keep && mode !== 'numeric') this.codes = new Int32Array(capacity);
    if (mode === 'categorical' && plan.categories) {
      this.dict = null;
      this.fixed = sortCategories(plan.categories);
      this.fixedByText = new Map();
      this.fixedByNumber = new Map();
      this.fixed.forEach((c, i) => {
        this.fixedByText?.set(String(c), i);
        if (typeof c === 'number') this.fixedByNumber?.set(c, i);
      });
      this.seen = new Uint8Array(this.fixed.length);
    }
  }

  /** The current chunk is full: keep it and start the next one. */
  nextChunk(): void {
    if (this.values) {
      this.valueChunks.push(this.values);
      this.values = new Float64Array(CHUNK);
    }
    if (this.codes) {
      // An inferred column still numeric after its first chunk keeps numbers only: should it turn
      // categorical later, its codes come from a second pass over that column (rare).
      if (this.plan.mode === 'auto' && this.numericOk) {
        this.codes = null;
        this.codeChunks = [];
        return;
      }
      this.codeChunks.push(this.codes);
      this.codes = new Int32Array(CHUNK);
    }
  }

  /** The kept values, exactly `n` of them (the chunks are released). */
  private takeValues(n: number): Float64Array {
    const out = joinChunks(this.valueChunks, this.values as Float64Array, n, (m) => new Float64Array(m));
    this.valueChunks = [];
    this.values = null;
    return out;
  }

  /** The kept codes, exactly `n` of them (the chunks are released). */
  private takeCodes(n: number): Int32Array {
    const out = joinChunks(this.codeChunks, this.codes as Int32Array, n, (m) => new Int32Array(m));
    this.codeChunks = [];
    this.codes = null;
    return out;
  }

  addMissing(row: number, line: number, cell: string): void {
    if (this.plan.required) {
      throw new BadCell(
        `line ${line}, column "${this.plan.name}": the target is missing (${quoteCell(cell)})`,
      );
    }
    this.missing++;
    if (this.values) this.values[row] = Number.NaN;
    if (this.codes) this.codes[row] = -1;
  }

  add(cell: string, row: number, line: number): void {
    const mode = this.plan.mode;
    if (mode === 'categorical') {
      if (this.fixed !== null) this.addFixed(cell, row, line);
      else this.addText(cell, row);
      return;
    }
    // numeric or auto: numbers while every cell is one
    let v: number | undefined;
    if (this.numericOk) {
      v = parseNumber(cell);
      if (v === undefined) {
        if (mode === 'numeric') {
          const why = this.plan.why ? ` (numeric by ${this.plan.why})` : '';
          throw new BadCell(
            `line ${line}, column "${this.plan.name}": ${quoteCell(cell)} is not a number${why}`,
          );
        }
        this.numericOk = false;
        this.values = null; // no longer a numeric column: free its numbers
        this.valueChunks = [];
        this.numbers = null;
        if (this.dict === null && !this.plan.bounded) this.needsRescan = true;
        // Kept, but the codes were let go while it looked numeric: they come from a second pass.
        if (this.plan.keep && this.codes === null) this.needsRescan = true;
      } else {
        this.count++;
        this.sum += v;
        if (v < this.min) this.min = v;
        if (v > this.max) this.max = v;
        if (this.values) this.values[row] = v;
      }
    }
    if (this.dict !== null) {
      if (this.dict.size >= DISTINCT_CAP && (this.numericOk || this.plan.bounded) && !this.dict.has(cell)) {
        this.dropDictionary();
        this.addNumber(v as number);
      } else this.addText(cell, row);
    } else if (this.numbers !== null && v !== undefined) {
      this.addNumber(v);
    }
    // (a bounded column past the cap that is not numeric: nothing more to learn)
  }

  /** Dictionary coding of a learned categorical (or not-yet-known) column. */
  private addText(cell: string, row: number): void {
    const dict = this.dict as Map<string, number>;
    let code = dict.get(cell);
    if (code === undefined) {
      code = dict.size;
      dict.set(cell, code);
    }
    if (this.codes) this.codes[row] = code;
  }

  private addFixed(cell: string, row: number, line: number): void {
    let code = (this.fixedByText as Map<string, number>).get(cell);
    if (code === undefined) {
      const v = parseNumber(cell);
      if (v !== undefined) code = (this.fixedByNumber as Map<number, number>).get(v);
    }
    if (code === undefined) {
      if (this.plan.required || this.unknownPolicy === 'error') {
        throw new BadCell(
          `line ${line}, column "${this.plan.name}": ${quoteCell(cell)} is not one of the known categories ${listCategories(this.fixed as Category[])}` +
            (this.plan.required ? '' : ' (--unknown-category missing reads it as missing)'),
        );
      }
      this.unknown++;
      this.missing++;
      if (this.codes) this.codes[row] = -1;
      return;
    }
    (this.seen as Uint8Array)[code] = 1;
    if (this.codes) this.codes[row] = code;
  }

  /** Set by the scan: what a cell outside fixed categories does. */
  unknownPolicy: UnknownCategoryPolicy = 'error';

  /** A numeric-looking column with too many distinct texts: count numbers instead, drop the codes. */
  private dropDictionary(): void {
    if (this.numericOk) {
      const numbers = new Set<number>();
      for (const text of (this.dict as Map<string, number>).keys()) numbers.add(Number(text));
      this.numbers = numbers;
    }
    this.dict = null;
    this.codes = null;
    this.codeChunks = [];
  }

  private addNumber(v: number): void {
    const numbers = this.numbers as Set<number>;
    if (this.numbersCapped) return;
    numbers.add(v);
    if (numbers.size > DISTINCT_CAP) this.numbersCapped = true;
  }

  /** The column's kind, statistics and (when kept) data once every row is read. */
  finish(nRows: number): ColumnScan {
    const { name, mode } = this.plan;
    const kind: ColumnKind = mode === 'auto' ? (this.numericOk ? 'numeric' : 'categorical') : mode;
    const base = {
      name,
      kind,
      missing: this.missing,
      unknown: this.unknown,
      min: this.count > 0 ? this.min : Number.NaN,
      mean: this.count > 0 ? this.sum / this.count : Number.NaN,
      max: this.count > 0 ? this.max : Number.NaN,
    };
    if (kind === 'numeric') {
      let distinct: number;
      let atLeast = false;
      if (this.dict !== null) {
        const numbers = new Set<number>();
        for (const text of this.dict.keys()) numbers.add(Number(text));
        distinct = numbers.size;
      } else if (this.numbers !== null) {
        distinct = Math.min(this.numbers.size, DISTINCT_CAP);
        atLeast = this.numbersCapped;
      } else {
        distinct = Number.NaN; // not counted (countDistinct false)
      }
      const scan: ColumnScan = { ...base, distinct, distinctAtLeast: atLeast };
      this.codes = null;
      this.codeChunks = [];
      if (this.plan.keep) scan.column = { name, kind, values: this.takeValues(nRows) };
      return scan;
    }
    if (this.fixed !== null) {
      const distinct = (this.seen as Uint8Array).reduce((a, b) => a + b, 0);
      const scan: ColumnScan = { ...base, distinct, distinctAtLeast: false, categories: this.fixed };
      if (this.plan.keep)
        scan.column = {
          name,
          kind,
          codes: this.takeCodes(nRows),
          categories: this.fixed,
        };
      return scan;
    }
    if (this.dict === null || (this.plan.keep && this.codes === null)) {
      // Bounded past the cap, or needs a second pass (needsRescan): report what is known.
      return { ...base, distinct: DISTINCT_CAP, distinctAtLeast: true };
    }
    // Learned categories: numbers when every text is one (possible only when forced categorical).
    const texts = [...this.dict.keys()];
    const asNumbers =
      mode === 'categorical' && texts.length > 0 && texts.every((t) => parseNumber(t) !== undefined);
    const categories = sortCategories(asNumbers ? texts.map(Number) : texts);
    const scan: ColumnScan = { ...base, distinct: categories.length, distinctAtLeast: false, categories };
    if (this.plan.keep) {
      const index = new Map<Category, number>(categories.map((c, i) => [c, i]));
      const remap = Int32Array.from(texts, (t) => index.get(asNumbers ? Number(t) : t) as number);
      const codes = this.takeCodes(nRows);
      for (let i = 0; i < nRows; i++) {
        const c = codes[i] as number;
        if (c >= 0) codes[i] = remap[c] as number;
      }
      scan.column = { name, kind, codes, categories };
    }
    return scan;
  }
}

function checkHeader(path: string, header: string[], line: number): void {
  const at = new Map<string, number>();
  header.forEach((name, i) => {
    if (name === '') throw csvError(`${path}: line ${line}: column ${i + 1} of the header has no name`);
    const first = at.get(name);
    if (first !== undefined) {
      throw csvError(
        `${path}: line ${line}: duplicate column name "${name}" in the header (columns ${first + 1} and ${i + 1})`,
      );
    }
    at.set(name, i);
  });
}

/**
 * Reads the header of a CSV file (its first record) without reading the rest.
 * @throws SegserveError (usage) on an empty file, an unnamed or duplicate column; (failure) on I/O.
 */
export async function readHeader(path: string): Promise<string[]> {
  await checkReadable(path);
  let header: string[] | undefined;
  let line = 1;
  const parser = parse({ bom: true, skip_empty_lines: true, to: 1 });
  parser.on('data', (record: string[]) => {
    if (header === undefined) {
      header = record;
      line = parser.info.lines;
    }
  });
  const source = createReadStream(path, { highWaterMark: 1 << 16 });
  try {
    await pipeline(source, parser);
  } catch (err) {
    if (header === undefined) throw scanError(path, err);
  }
  if (header === undefined) throw csvError(`${path}: the file is empty (expected a header line)`);
  checkHeader(path, header, line);
  return header;
}

/**
 * One streaming pass over a CSV file: `choose(header)` says how to read which columns (by name; the
 * others are skipped). Resolves to each planned column's kind, statistics and (when kept) data. A
 * column inferred categorical after it looked numeric for more than DISTINCT_CAP distinct values is
 * read again for its categories (a second pass over that column only; rare).
 * @throws SegserveError (usage) on an empty file, a bad header, no data rows, a ragged row or a bad
 *   cell (naming the file, line, column and value); (failure) on I/O.
 */
export async function scanColumns(
  path: string,
  choose: (header: string[]) => ScanPlan[],
  opts: ReadOptions = {},
): Promise<ScanResult> {
  const first = await scanOnce(path, choose, opts);
  const again = first.accs.filter((a) => a.needsRescan).map((a) => a.plan);
  const scans = first.accs.map((a) => a.finish(first.nRows));
  if (again.length > 0) {
    const plans = again.map((p): ScanPlan => ({ ...p, mode: 'categorical' }));
    const second = await scanOnce(path, () => plans, opts);
    for (const acc of second.accs) {
      const redo = acc.finish(second.nRows);
      const i = scans.findIndex((s) => s.name === redo.name);
      const old = scans[i] as ColumnScan;
      scans[i] = { ...redo, min: old.min, mean: old.mean, max: old.max };
    }
  }
  return { header: first.header, scans, nRows: first.nRows, sha256: first.sha256 };
}

async function scanOnce(
  path: string,
  choose: (header: string[]) => ScanPlan[],
  opts: ReadOptions,
): Promise<{ header: string[]; accs: Accumulator[]; nRows: number; sha256: string }> {
  await checkReadable(path);
  const na = new Set(opts.naValues ?? DEFAULT_NA_VALUES);
  na.add('');
  // Most cells are longer than any NA marker: a length test spares hashing them.
  const naLength = Math.max(...[...na].map((v) => v.length));
  let header: string[] | undefined;
  let accs: Accumulator[] = [];
  let index: Int32Array = new Int32Array(0); // accs[j] reads record position index[j]
  let nRows = 0;
  const hash = createHash('sha256');
  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: false });

  const onHeader = (record: string[], line: number): void => {
    checkHeader(path, record, line);
    header = record;
    const plans = choose(record);
    accs = plans.map((p) => {
      const acc = new Accumulator(p);
      acc.unknownPolicy = opts.unknownCategory ?? 'error';
      return acc;
    });
    index = Int32Array.from(plans, (p) => {
      const at = record.indexOf(p.name);
      if (at < 0)
        throw csvError(`${path}: no column "${p.name}" in the header (columns: ${record.join(', ')})`);
      return at;
    });
  };

  // Records are pushed synchronously while a chunk is parsed, so in flowing mode `parser.info.lines`
  // is the line of the record at hand (as in csv.ts).
  parser.on('data', (record: string[]) => {
    if (parser.destroyed) return;
    const line = parser.info.lines;
    try {
      if (header === undefined) {
        onHeader(record, line);
        return;
      }
      const at = nRows & (CHUNK - 1); // the row's place in its columns' current chunk
      if (at === 0 && nRows > 0) for (const acc of accs) acc.nextChunk();
      for (let j = 0; j < accs.length; j++) {
        const acc = accs[j] as Accumulator;
        const cell = record[index[j] as number] as string;
        if (cell.length <= naLength && na.has(cell)) acc.addMissing(at, line, cell);
        else acc.add(cell, at, line);
      }
      nRows++;
    } catch (err) {
      parser.destroy(err as Error); // pipeline() rejects with it
    }
  });

  const source = createReadStream(path, { highWaterMark: 1 << 20 });
  source.on('data', (chunk) => hash.update(chunk));
  try {
    await pipeline(source, parser);
  } catch (err) {
    throw scanError(path, err);
  }
  if (header === undefined) throw csvError(`${path}: the file is empty (expected a header line)`);
  if (nRows === 0) throw csvError(`${path}: no data rows after the header`);
  return { header, accs, nRows, sha256: hash.digest('hex') };
}

/**
 * Reads the named columns of a CSV file in one streaming pass into typed arrays, in the order asked
 * for. Categorical columns without given categories learn them from all rows (sorted; numbers when
 * every cell is a number, so a 0/1 column keeps the numbers 0 and 1); with given categories, a cell
 * outside them is an error naming the line, column, value and categories, or, with unknownCategory
 * 'missing', is read as missing.
 * @throws SegserveError (usage) on a missing column, an empty file, no rows, a ragged row or a bad
 *   cell; (failure) on I/O.
 */
export async function readColumns(
  path: string,
  columns: readonly ColumnSpec[],
  opts: ReadOptions = {},
): Promise<ColumnsRead> {
  const plans = columns.map(
    (c): ScanPlan => ({
      name: c.name,
      mode: c.kind,
      keep: true,
      ...(c.kind === 'categorical' && c.categories ? { categories: c.categories } : {}),
      ...(c.required ? { required: true } : {}),
      countDistinct: false,
    }),
  );
  const { scans, nRows, sha256 } = await scanColumns(path, () => plans, opts);
  return { columns: scans.map((s) => s.column as Column), nRows, sha256 };
}
