/**
 * A user component's answer, as every protocol needs to know it: whether it is a rectangular array of
 * finite numbers (nested arrays or a typed array), its shape, its values flat. Each protocol then
 * carries it in its own form (Seldon's `data`, the Open Inference Protocol's tensor).
 */
import { ServeError } from './errors.js';

export interface Analysis {
  numeric: boolean;
  shape: number[];
}

/** Whether a value is a rectangular array of numbers, and its shape ([] for a number). */
export function analyse(value: unknown): Analysis {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const a = value as unknown as ArrayLike<number>;
    return { numeric: true, shape: [a.length] };
  }
  if (!Array.isArray(value)) return { numeric: typeof value === 'number', shape: [] };
  if (value.length === 0) return { numeric: true, shape: [0] };
  const first = analyse(value[0]);
  if (!first.numeric) return { numeric: false, shape: [value.length] };
  for (let i = 1; i < value.length; i++) {
    const a = analyse(value[i]);
    if (!a.numeric || a.shape.length !== first.shape.length || a.shape.some((d, j) => d !== first.shape[j])) {
      return { numeric: false, shape: [value.length] };
    }
  }
  return { numeric: true, shape: [value.length, ...first.shape] };
}

/** Appends the numbers of a numeric array (see analyse) to `out`; a non-finite one is the component's error. */
export function flatten(value: unknown, out: number[], path: string, what: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new ServeError(
        'COMPONENT_ERROR',
        `${what} returned a non-finite number (${value}) at ${path || '[0]'}`,
      );
    }
    out.push(value);
    return;
  }
  const a = value as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) flatten(a[i], out, `${path}[${i}]`, what);
}

/** Typed arrays become plain arrays so they print as JSON arrays. */
export function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(plain);
  return value;
}
