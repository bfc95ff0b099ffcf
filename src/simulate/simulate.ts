/**
 * The simulate stop: draw `rows` customers and write them as CSV, in constant memory.
 */
import { writeChunk, writeFileAtomic, writeTextAtomic } from '../data/atomic.js';
import { type SchemaFile, schemaFileBeside } from '../data/schema.js';
import { CATEGORICAL, FEATURES, TARGET } from '../defaults.js';
import { COLUMNS, CustomerSampler, emptyCustomer, formatIncome, INCOME_DECIMALS } from './sampler.js';
import type { Spec } from './spec.js';

export interface SimulateOptions {
  spec: Spec;
  seed: number;
  rows: number;
  /** Called after each written chunk (about 40,000 rows) with the number of rows written so far. */
  onProgress?: (rowsDone: number) => void;
  /**
   * Reuse a chunk's memory once the stream has called back for it, which keeps peak memory flat. Only
   * for streams that keep no reference to a chunk after its callback (files, sockets, process.stdout);
   * a stream that collects the chunks it is given would see them overwritten.
   */
  recycleChunks?: boolean;
}

/** Rows are encoded straight into byte chunks of this size (no per-row strings: the hot path). */
const CHUNK_BYTES = 1 << 20;
/** More than any row can take: a 3-digit age, a toFixed income (< 32 chars), small integers. */
const MAX_ROW_BYTES = 256;
const INCOME_SCALE = 10 ** INCOME_DECIMALS;
/** Incomes below this are written from their integer number of 1/INCOME_SCALE units. */
const FAST_INCOME_LIMIT = 1e5;
const COMMA = 0x2c;
const DOT = 0x2e;
const NEWLINE = 0x0a;
const ZERO = 0x30;

/** Writes the decimal digits of a non-negative integer at `pos`; returns the position after them. */
function putUint(buf: Buffer, pos: number, n: number): number {
  if (n < 10) {
    buf[pos] = ZERO + n;
    return pos + 1;
  }
  let end = pos + 1;
  for (let t = Math.floor(n / 10); t > 0; t = Math.floor(t / 10)) end++;
  for (let i = end - 1; i >= pos; i--) {
    const q = Math.floor(n / 10);
    buf[i] = ZERO + (n - q * 10);
    n = q;
  }
  return end;
}

/** Writes an income as `income.toFixed(INCOME_DECIMALS)` would; returns the position after it. */
function putIncome(buf: Buffer, pos: number, income: number): number {
  if (!(income < FAST_INCOME_LIMIT)) return pos + buf.write(formatIncome(income), pos, 'latin1');
  // `income` is the double nearest to units / INCOME_SCALE, so this product is within 1e-6 of units.
  const units = Math.round(income * INCOME_SCALE);
  const whole = Math.floor(units / INCOME_SCALE);
  pos = putUint(buf, pos, whole);
  buf[pos] = DOT;
  let frac = units - whole * INCOME_SCALE;
  for (let i = pos + INCOME_DECIMALS; i > pos; i--) {
    const q = Math.floor(frac / 10);
    buf[i] = ZERO + (frac - q * 10);
    frac = q;
  }
  return pos + INCOME_DECIMALS + 1;
}

/** Writes the CSV (header + rows) to `out`, honouring backpressure. */
export async function writeCustomersCsv(out: NodeJS.WritableStream, opts: SimulateOptions): Promise<void> {
  const sampler = new CustomerSampler(opts.spec, opts.seed);
  const c = emptyCustomer();
  // Chunks the stream has called back for, ready for reuse (with `recycleChunks`).
  const free: Buffer[] = [];
  const nextChunk = () => free.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
  let buf = nextChunk();
  let pos = buf.write(`${COLUMNS.join(',')}\n`, 0, 'latin1');
  for (let done = 0; done < opts.rows; ) {
    for (; done < opts.rows && pos <= CHUNK_BYTES - MAX_ROW_BYTES; done++) {
      sampler.next(c);
      pos = putUint(buf, pos, c.age);
      buf[pos++] = COMMA;
      pos = putIncome(buf, pos, c.income);
      buf[pos++] = COMMA;
      pos = putUint(buf, pos, c.class);
      buf[pos++] = COMMA;
      pos = putUint(buf, pos, c.response);
      buf[pos++] = COMMA;
      pos = putUint(buf, pos, c.segment);
      buf[pos++] = COMMA;
      pos = putUint(buf, pos, c.events);
      buf[pos++] = NEWLINE;
    }
    // The stream keeps the chunk until it is written: hand it over and fill another one.
    const full = buf;
    await writeChunk(out, full.subarray(0, pos), opts.recycleChunks ? () => free.push(full) : undefined);
    buf = nextChunk();
    pos = 0;
    opts.onProgress?.(done);
  }
  if (pos > 0) await writeChunk(out, buf.subarray(0, pos)); // header only (rows = 0)
}

/** Simulates into `path` atomically: the file appears whole or not at all. */
export function simulateToFile(path: string, opts: SimulateOptions): Promise<void> {
  return writeFileAtomic(path, (out) => writeCustomersCsv(out, { ...opts, recycleChunks: true }));
}

/**
 * The schema of the simulated data, stating the post's model: target `segment`; features age and
 * income (numeric), response and events (categorical, ordinal-encoded); `class` ignored. Categories
 * are left to the data (they depend on the spec).
 */
export function customersSchema(): SchemaFile {
  const features: readonly string[] = FEATURES;
  return {
    target: TARGET,
    columns: COLUMNS.map((name) => ({
      name,
      role: name === TARGET ? 'target' : features.includes(name) ? 'feature' : 'ignored',
      kind: name === TARGET || CATEGORICAL.has(name) ? 'categorical' : 'numeric',
    })),
  };
}

/**
 * Simulates into `path` and writes the schema beside it (`data/customers.csv` →
 * `data/customers.schema.json`), each atomically; the schema only once the CSV is complete, so a
 * failed run leaves both files as they were. Resolves to the schema file's path.
 */
export async function simulateToFiles(path: string, opts: SimulateOptions): Promise<string> {
  await simulateToFile(path, opts);
  const schemaPath = schemaFileBeside(path);
  await writeTextAtomic(schemaPath, `${JSON.stringify(customersSchema(), null, 2)}\n`);
  return schemaPath;
}
