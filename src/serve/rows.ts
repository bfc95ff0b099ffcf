/**
 * The row decoder every protocol shares: raw wire values (numbers, category strings or numbers, null
 * for missing) → encoded rows in one reused, row-major Float64Array in the model's feature order,
 * ready for `Model.predictEncodedInto`. It knows the schema, never a wire format: a protocol reads its
 * message, places its columns here (`placement`), and writes each value through `encode`; the model
 * says what a value means (`Model.encodeValue`), so every protocol refuses the same values with the
 * same words.
 *
 * It also counts, per feature, the unknown categories a model with the policy "missing" read as
 * missing (a value sent, not null, that encodes as missing) in the request being decoded: the runtime
 * hands them to the drift window with the rows (`unknown`, reset by `buffer`).
 *
 * Errors: a value the model refuses is a ModelInputError (row, column, value, expected), which
 * `inputError` turns into the catalogue's BAD_DATA with a one-line message; column placement problems
 * (unknown names, a name twice, a needed feature left out) are BAD_DATA naming them.
 */
import { type Model, ModelInputError } from '../pipeline/types.js';
import { badData, ServeError } from './errors.js';

/** A short JSON preview of a value for an error message (non-finite numbers as themselves). */
export function preview(v: unknown, max = 60): string {
  let text: string;
  if (typeof v === 'number') text = String(v);
  else if (v === undefined) text = 'nothing';
  else {
    try {
      text = Buffer.isBuffer(v) ? `<${v.length} bytes>` : (JSON.stringify(v) ?? String(v));
    } catch {
      text = String(v);
    }
  }
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/** A value the model refused, as BAD_DATA: `row 2, column "island": got "Atlantis", expected ...`. */
export function inputError(err: ModelInputError, prefix = ''): ServeError {
  return badData(
    `${prefix}row ${err.row}, column ${JSON.stringify(err.column)}: got ${preview(err.value)}, expected ${err.expected}`,
  );
}

/**
 * What anything thrown while decoding becomes: a ModelInputError is the client's (400), a ServeError
 * stays itself, anything else is rethrown as it is (a defect, 500).
 */
export function decodeError(err: unknown, prefix = ''): unknown {
  if (err instanceof ModelInputError) return inputError(err, prefix);
  return err;
}

/**
 * Where the columns of a request go: wire column w holds model column `columns[w]`; the model columns
 * in `absent` are not sent and are written as missing.
 */
export interface Placement {
  readonly columns: Int32Array;
  readonly absent: Int32Array;
}

/** How a protocol names the wire column at position w called `name` (`data.names[3] "x"`, `input "x"`). */
export type ColumnLabel = (w: number, name: string) => string;

export class RowDecoder {
  readonly model: Model;
  /** Features per row. */
  readonly d: number;
  /** Feature names in model order. */
  readonly names: readonly string[];
  /** "age, income, response, events", for messages. */
  readonly list: string;
  /** Per feature: 1 when numeric (a finite number is written as it is). */
  private readonly numeric: Uint8Array;
  /** Per feature: 1 when a request may leave it missing. */
  private readonly optional: Uint8Array;
  private readonly index = new Map<string, number>();
  private scratch: Float64Array;
  /** Whether the model reads an unknown category as missing (its policy "missing"). */
  private readonly unknownAsMissing: boolean;
  /**
   * Per feature: the unknown categories read as missing since the last `buffer` call (that is, in the
   * request being decoded), for the drift window's unknown-category rate.
   */
  readonly unknown: Uint32Array;
  /** Whether `unknown` holds a non-zero count. */
  sawUnknown = false;

  constructor(
    model: Model,
    private readonly maxRows: number,
  ) {
    this.model = model;
    const features = model.features;
    this.d = features.length;
    this.names = features.map((f) => f.name);
    this.list = this.names.join(', ');
    this.numeric = Uint8Array.from(features, (f) => (f.kind === 'numeric' ? 1 : 0));
    this.optional = Uint8Array.from(features, (f) => (f.allowMissing === false ? 0 : 1));
    this.names.forEach((name, j) => {
      this.index.set(name, j);
    });
    this.scratch = new Float64Array(Math.max(1, this.d) * 16);
    this.unknownAsMissing = model.schema.unknownCategory === 'missing';
    this.unknown = new Uint32Array(this.d);
  }

  /** The model column of a feature name, or -1. */
  column(name: string): number {
    return this.index.get(name) ?? -1;
  }

  /** Whether feature j may be missing. */
  mayBeMissing(j: number): boolean {
    return this.optional[j] === 1;
  }

  /**
   * The shared buffer for n rows (valid until the next call; every protocol fills it, predicts and
   * writes its answer before any await). More than maxRows rows is a 413. Starts a request: the
   * unknown-category counts go back to 0.
   */
  buffer(n: number): Float64Array {
    if (this.sawUnknown) this.clearUnknown();
    if (n > this.maxRows) {
      throw new ServeError(
        'PAYLOAD_TOO_LARGE',
        `${n} rows in one request; at most ${this.maxRows} are accepted`,
      );
    }
    const size = n * this.d;
    if (this.scratch.length < size) this.scratch = new Float64Array(Math.max(size, this.scratch.length * 2));
    return this.scratch;
  }

  /** Sets the unknown-category counts back to 0. */
  clearUnknown(): void {
    this.unknown.fill(0);
    this.sawUnknown = false;
  }

  /**
   * Encodes raw value `v` of feature j in row i: a finite number of a numeric feature as it is, else
   * what the model makes of it (category code, NaN for missing). Throws ModelInputError. A value
   * that was sent (not null or NaN) but encodes as missing is an unknown category the model's policy
   * "missing" let through: counted in `unknown`.
   */
  encode(j: number, v: unknown, i: number): number {
    if (this.numeric[j] === 1 && typeof v === 'number' && v - v === 0) return v;
    const e = this.model.encodeValue(j, v, i);
    if (
      this.unknownAsMissing &&
      Number.isNaN(e) &&
      v !== null &&
      v !== undefined &&
      !(typeof v === 'number' && Number.isNaN(v))
    ) {
      this.unknown[j] = (this.unknown[j] as number) + 1;
      this.sawUnknown = true;
    }
    return e;
  }

  /**
   * The placement of wire columns named `names` (each a feature, at most once, in any order); null
   * when they are exactly the features in model order. A feature left out must be allowed missing.
   * `where` names the list in messages ("data.names", "the inputs").
   */
  placement(names: readonly string[], label: ColumnLabel, where: string): Placement | null {
    const d = this.d;
    const columns = new Int32Array(names.length);
    const seen = new Uint8Array(d);
    const unknown: string[] = [];
    let identity = names.length === d;
    for (let w = 0; w < names.length; w++) {
      const name = names[w] as string;
      const j = this.column(name);
      if (j < 0) {
        unknown.push(label(w, name));
        continue;
      }
      if (seen[j] === 1) throw badData(`${label(w, name)} appears twice: each feature at most once`);
      seen[j] = 1;
      columns[w] = j;
      if (j !== w) identity = false;
    }
    if (unknown.length > 0) {
      const shown =
        unknown.length > 10 ? [...unknown.slice(0, 10), `... (${unknown.length - 10} more)`] : unknown;
      throw badData(
        `${shown.join(', ')} ${unknown.length === 1 ? 'is not a feature' : 'are not features'} of the model (its features: ${this.list})`,
      );
    }
    if (identity) return null;
    const absent: number[] = [];
    const needed: string[] = [];
    for (let j = 0; j < d; j++) {
      if (seen[j] === 1) continue;
      absent.push(j);
      if (this.optional[j] === 0) needed.push(JSON.stringify(this.names[j]));
    }
    if (needed.length > 0) {
      throw badData(
        `${where} leave${where.startsWith('the ') ? '' : 's'} out ${needed.join(', ')}, which the model needs (it takes no missing value there)`,
      );
    }
    return { columns, absent: Int32Array.from(absent) };
  }

  /** Writes row i of wire values (in placement order, length already checked) into x. */
  writeRow(row: readonly unknown[], i: number, x: Float64Array, placement: Placement | null): void {
    const d = this.d;
    const base = i * d;
    if (placement === null) {
      for (let j = 0; j < d; j++) x[base + j] = this.encode(j, row[j], i);
      return;
    }
    const { columns, absent } = placement;
    for (let w = 0; w < columns.length; w++) {
      const j = columns[w] as number;
      x[base + j] = this.encode(j, row[w], i);
    }
    for (let a = 0; a < absent.length; a++) x[base + (absent[a] as number)] = Number.NaN;
  }

  /** Writes the missing value into the absent columns of rows 0..n-1. */
  fillAbsent(x: Float64Array, n: number, placement: Placement | null): void {
    if (placement === null || placement.absent.length === 0) return;
    const d = this.d;
    const { absent } = placement;
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < absent.length; a++) x[i * d + (absent[a] as number)] = Number.NaN;
    }
  }

  /**
   * Writes record i (`{feature: value}`; an absent key is a missing value) into x. `what` names the
   * record in messages (`jsonData[2]`). Keys that are not features are refused, naming them.
   */
  writeRecord(record: Readonly<Record<string, unknown>>, i: number, x: Float64Array, what: string): void {
    const keys = Object.keys(record);
    let known = 0;
    for (const key of keys) if (this.index.has(key)) known++;
    if (known !== keys.length) {
      const unknown = keys.filter((k) => !this.index.has(k)).map((k) => JSON.stringify(k));
      const shown = unknown.length > 10 ? [...unknown.slice(0, 10), '...'] : unknown;
      throw badData(
        `${what} has ${unknown.length === 1 ? 'a key that is not a feature' : 'keys that are not features'}: ${shown.join(', ')} (the model's features: ${this.list})`,
      );
    }
    const d = this.d;
    const base = i * d;
    const needed: string[] = [];
    for (let j = 0; j < d; j++) {
      const name = this.names[j] as string;
      if (Object.hasOwn(record, name)) x[base + j] = this.encode(j, record[name], i);
      else if (this.optional[j] === 1) x[base + j] = Number.NaN;
      else needed.push(JSON.stringify(name));
    }
    if (needed.length > 0) {
      throw badData(
        `${what} leaves out ${needed.join(', ')}, which the model needs (it takes no missing value there)`,
      );
    }
  }
}
