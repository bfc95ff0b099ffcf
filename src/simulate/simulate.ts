/**
 * The simulate stop: draw `rows` customers and write them as CSV, in constant memory.
 */
import { writeChunk, writeFileAtomic } from '../data/atomic.js';
import { COLUMNS, CustomerSampler, emptyCustomer } from './sampler.js';
import type { Spec } from './spec.js';

/** The documented default seed: the post's publication date. */
export const DEFAULT_SEED = 20200413;
/** The author's notebook used 5000 rows. */
export const DEFAULT_ROWS = 5000;

export interface SimulateOptions {
  spec: Spec;
  seed: number;
  rows: number;
  /** Called every `progressEvery` rows with the number of rows written so far. */
  onProgress?: (rowsDone: number) => void;
}

const ROWS_PER_CHUNK = 16384;

/** Writes the CSV (header + rows) to `out`, honouring backpressure. */
export async function writeCustomersCsv(out: NodeJS.WritableStream, opts: SimulateOptions): Promise<void> {
  const sampler = new CustomerSampler(opts.spec, opts.seed);
  const c = emptyCustomer();
  let chunk = `${COLUMNS.join(',')}\n`;
  for (let done = 0; done < opts.rows; ) {
    const end = Math.min(opts.rows, done + ROWS_PER_CHUNK);
    for (; done < end; done++) {
      sampler.next(c);
      chunk += `${c.age},${c.incomeText},${c.class},${c.response},${c.segment},${c.events}\n`;
    }
    await writeChunk(out, chunk);
    chunk = '';
    opts.onProgress?.(done);
  }
  if (chunk) await writeChunk(out, chunk);
}

/** Simulates into `path` atomically: the file appears whole or not at all. */
export function simulateToFile(path: string, opts: SimulateOptions): Promise<void> {
  return writeFileAtomic(path, (out) => writeCustomersCsv(out, opts));
}
