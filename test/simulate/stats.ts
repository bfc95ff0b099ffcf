/**
 * The statistics of test/fixtures/reference-stats.json (a copy of ../shared/REFERENCE_STATS.json),
 * computed from CSV text exactly as the fixture's `how_to_check` says: sd with ddof = 1, quantiles by
 * linear interpolation (numpy's default), conditional rates over the rows that meet the condition.
 *
 * `computeStatistic` reads the statistic's name and throws for a name no rule understands, so a
 * statistic added to the fixture can never be skipped silently.
 */
import { Writable } from 'node:stream';
import { writeCustomersCsv } from '../../src/simulate/simulate.js';
import type { Spec } from '../../src/simulate/spec.js';

export const COLUMN_NAMES = ['age', 'income', 'class', 'response', 'segment', 'events'] as const;
export type ColumnName = (typeof COLUMN_NAMES)[number];

/** The six columns of a customers CSV, plus the derived `income_minus_age`. */
export type Table = Record<ColumnName | 'income_minus_age', Float64Array> & { rows: number };

export interface ReferenceStat {
  expected: number;
  tol_at_n_check: number;
}

export interface ReferenceStats {
  n_check: number;
  seed: number;
  stats: Record<string, ReferenceStat>;
}

/** Runs the library's CSV writer into a string: the very bytes `segserve simulate` writes. */
export async function simulateCsv(spec: Spec, seed: number, rows: number): Promise<string> {
  const chunks: string[] = [];
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  await writeCustomersCsv(sink, { spec, seed, rows });
  return chunks.join('');
}

/** Parses a customers CSV whose header names the six columns in any order. */
export function parseCustomersCsv(text: string): Table {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const header = (lines[0] ?? '').split(',');
  const index = COLUMN_NAMES.map((name) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`CSV header "${lines[0]}" has no column "${name}"`);
    return i;
  });
  const rows = lines.length - 1;
  const cols = COLUMN_NAMES.map(() => new Float64Array(rows));
  for (let r = 0; r < rows; r++) {
    const cells = (lines[r + 1] as string).split(',');
    if (cells.length !== header.length) {
      throw new Error(`line ${r + 2}: ${cells.length} cells, expected ${header.length}`);
    }
    for (let c = 0; c < COLUMN_NAMES.length; c++) {
      const cell = cells[index[c] as number] as string;
      const v = Number(cell);
      if (cell.trim() === '' || !Number.isFinite(v)) {
        throw new Error(`line ${r + 2}, column ${COLUMN_NAMES[c]}: "${cell}" is not a number`);
      }
      (cols[c] as Float64Array)[r] = v;
    }
  }
  const [age, income, cls, response, segment, events] = cols as [
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  const incomeMinusAge = income.map((v, i) => v - (age[i] as number));
  return {
    rows,
    age,
    income,
    class: cls,
    response,
    segment,
    events,
    income_minus_age: incomeMinusAge,
  };
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] as number;
  return s / x.length;
}

/** Sample standard deviation (ddof = 1), two-pass. */
export function sampleSd(x: ArrayLike<number>): number {
  const m = mean(x);
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += ((x[i] as number) - m) ** 2;
  return Math.sqrt(ss / (x.length - 1));
}

/** Quantile by linear interpolation between order statistics (numpy's default, R type 7). */
export function quantile(x: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(x).sort();
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo] as number;
  return a + (h - lo) * ((sorted[hi] as number) - a);
}

/** Pearson correlation. */
export function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}

type RowTest = (t: Table, i: number) => boolean;

/** `age_lt50`, `age_ge60`, `age_30to49` (both bounds inclusive). */
const AGE_CONDITION = 'age_(?:lt\\d+|ge\\d+|\\d+to\\d+)';

function ageCondition(text: string): RowTest {
  const m = /^age_(?:lt(\d+)|ge(\d+)|(\d+)to(\d+))$/.exec(text);
  if (!m) throw new Error(`unknown condition "${text}"`);
  const [, lt, ge, from, to] = m;
  if (lt !== undefined) return (t, i) => (t.age[i] as number) < Number(lt);
  if (ge !== undefined) return (t, i) => (t.age[i] as number) >= Number(ge);
  return (t, i) => (t.age[i] as number) >= Number(from) && (t.age[i] as number) <= Number(to);
}

const equals =
  (column: keyof Table & string, value: number): RowTest =>
  (t, i) =>
    (t[column] as Float64Array)[i] === value;

const both =
  (a: RowTest, b: RowTest): RowTest =>
  (t, i) =>
    a(t, i) && b(t, i);

const always: RowTest = () => true;

/** Values of `column` over the rows meeting `where`. */
function select(t: Table, column: keyof Table & string, where: RowTest): Float64Array {
  const src = t[column] as Float64Array;
  const out: number[] = [];
  for (let i = 0; i < t.rows; i++) if (where(t, i)) out.push(src[i] as number);
  return Float64Array.from(out);
}

/** Fraction of the rows meeting `given` that also meet `event`. */
function proportion(t: Table, event: RowTest, given: RowTest = always): number {
  let n = 0;
  let k = 0;
  for (let i = 0; i < t.rows; i++) {
    if (!given(t, i)) continue;
    n++;
    if (event(t, i)) k++;
  }
  return k / n; // NaN when no row meets the condition: never within a tolerance
}

function summary(x: Float64Array, what: string): number {
  if (what === 'mean') return mean(x);
  if (what === 'sd') return sampleSd(x);
  if (what === 'min') return x.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  if (what === 'max') return x.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  if (what === 'median') return quantile(x, 0.5);
  const p = /^p(\d+)$/.exec(what);
  if (p) return quantile(x, Number(p[1]) / 100);
  throw new Error(`unknown summary "${what}"`);
}

type Rule = [pattern: RegExp, compute: (t: Table, m: string[]) => number];

/** One rule per family of statistic names; `m` is the regex match (m[1] the first group). */
const RULES: Rule[] = [
  // age.band_prop.16-23: P(16 <= age <= 23)
  [/^age\.band_prop\.(\d+)-(\d+)$/, (t, m) => proportion(t, ageCondition(`age_${m[1]}to${m[2]}`))],
  // age.mean, income.sd, income_minus_age.p90, ...
  [
    /^(age|income|income_minus_age)\.(mean|sd|min|max|median|p\d+)$/,
    (t, m) => summary(t[m[1] as ColumnName], m[2] as string),
  ],
  // corr.age_income
  [/^corr\.(age|income)_(age|income)$/, (t, m) => correlation(t[m[1] as 'age'], t[m[2] as 'age'])],
  // age.prop_lt50: P(age < 50)
  [/^age\.prop_((?:lt|ge)\d+)$/, (t, m) => proportion(t, ageCondition(`age_${m[1]}`))],
  // events.prop.3, class.prop.0, segment.prop.2
  [
    /^(events|class|segment)\.prop\.(\d+)$/,
    (t, m) => proportion(t, equals(m[1] as ColumnName, Number(m[2]))),
  ],
  // events.prop_given_age_lt50.3, class.prop_given_age_30to49.2
  [
    new RegExp(`^(events|class)\\.prop_given_(${AGE_CONDITION})\\.(\\d+)$`),
    (t, m) => proportion(t, equals(m[1] as ColumnName, Number(m[3])), ageCondition(m[2] as string)),
  ],
  // response.rate
  [/^response\.rate$/, (t) => proportion(t, equals('response', 1))],
  // response.rate_given_age_ge50
  [
    new RegExp(`^response\\.rate_given_(${AGE_CONDITION})$`),
    (t, m) => proportion(t, equals('response', 1), ageCondition(m[1] as string)),
  ],
  // response.rate_given_event.2
  [
    /^response\.rate_given_event\.(\d+)$/,
    (t, m) => proportion(t, equals('response', 1), equals('events', Number(m[1]))),
  ],
  // response.rate_given_age_lt50_event.2
  [
    new RegExp(`^response\\.rate_given_(${AGE_CONDITION})_event\\.(\\d+)$`),
    (t, m) =>
      proportion(
        t,
        equals('response', 1),
        both(ageCondition(m[1] as string), equals('events', Number(m[2]))),
      ),
  ],
  // class.mean_age.0, segment.mean_income.2: mean of age/income over the rows of that class/segment
  [
    /^(class|segment)\.mean_(age|income)\.(\d+)$/,
    (t, m) => mean(select(t, m[2] as ColumnName, equals(m[1] as ColumnName, Number(m[3])))),
  ],
  // segment.prop_given_response.0.1: P(segment = 1 | response = 0)
  [
    /^segment\.prop_given_response\.(\d+)\.(\d+)$/,
    (t, m) => proportion(t, equals('segment', Number(m[2])), equals('response', Number(m[1]))),
  ],
];

/** Computes the statistic called `name`; throws if no rule knows the name. */
export function computeStatistic(name: string, t: Table): number {
  for (const [pattern, compute] of RULES) {
    const m = pattern.exec(name);
    if (m) return compute(t, [...m] as string[]);
  }
  throw new Error(`no rule computes the statistic "${name}"`);
}
