/**
 * Issue 2's proof of `segserve simulate`: 100,000 rows with the default spec and seed, as CSV text,
 * checked against every statistic of the reference implementation (SIMULATION.md section 5) and the
 * row invariants, on every row.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SEED } from '../../src/defaults.js';
import { DEFAULT_SPEC, parseSpec } from '../../src/simulate/spec.js';
import {
  COLUMN_NAMES,
  computeStatistic,
  correlation,
  mean,
  parseCustomersCsv,
  quantile,
  type ReferenceStats,
  sampleSd,
  simulateCsv,
  type Table,
} from './stats.js';

const reference = JSON.parse(
  readFileSync(new URL('../fixtures/reference-stats.json', import.meta.url), 'utf8'),
) as ReferenceStats;
const ROWS = reference.n_check; // 100,000
const statNames = Object.keys(reference.stats);

/** Names of the statistics outside their tolerance (or not computable) for a table. */
function failingStatistics(t: Table): string[] {
  return statNames.filter((name) => {
    const { expected, tol_at_n_check: tol } = reference.stats[name] as ReferenceStats['stats'][string];
    return !(Math.abs(computeStatistic(name, t) - expected) <= tol);
  });
}

describe('the statistics helpers', () => {
  it('compute sd with ddof = 1, linear-interpolation quantiles and Pearson correlation', () => {
    const x = [1, 2, 3, 4, 10];
    expect(mean(x)).toBe(4);
    expect(sampleSd(x)).toBeCloseTo(Math.sqrt(50 / 4), 12);
    expect(quantile(x, 0.5)).toBe(3);
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5); // sorts first
    expect(quantile(x, 0.9)).toBeCloseTo(7.6, 12); // h = 3.6: 4 + 0.6 * (10 - 4)
    expect(quantile(x, 1)).toBe(10);
    expect(correlation([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(correlation([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it('computes conditional statistics over the rows meeting the condition', () => {
    const t = parseCustomersCsv(
      // columns in another order than segserve writes them: the header decides
      'events,age,income,class,response,segment\n2,20,100,0,1,1\n2,40,200,1,0,1\n3,55,300,2,1,2\n2,49,49,0,1,1\n',
    );
    expect(computeStatistic('age.band_prop.40-55', t)).toBe(0.75);
    expect(computeStatistic('age.prop_lt50', t)).toBe(0.75);
    expect(computeStatistic('response.rate_given_age_lt50_event.2', t)).toBeCloseTo(2 / 3, 15);
    expect(computeStatistic('response.rate_given_age_ge50', t)).toBe(1);
    expect(computeStatistic('class.prop_given_age_30to49.1', t)).toBe(0.5); // ages 40 and 49
    expect(computeStatistic('segment.prop_given_response.1.2', t)).toBeCloseTo(1 / 3, 15);
    expect(computeStatistic('class.mean_income.0', t)).toBe(74.5);
    expect(computeStatistic('income_minus_age.median', t)).toBe(120);
    expect(computeStatistic('events.prop_given_age_ge50.3', t)).toBe(1);
  });

  it('refuses a statistic it does not know, and a CSV without the six columns', () => {
    const t = parseCustomersCsv('age,income,class,response,segment,events\n20,30,0,0,0,1\n');
    expect(() => computeStatistic('income.kurtosis', t)).toThrow('no rule computes the statistic');
    expect(() => parseCustomersCsv('age,income\n1,2\n')).toThrow('no column "class"');
    expect(() => parseCustomersCsv('age,income,class,response,segment,events\n1,x,0,0,0,0\n')).toThrow(
      'line 2, column income',
    );
  });
});

describe(`simulate: ${ROWS} rows, default spec, seed ${DEFAULT_SEED}`, () => {
  let csv: string;
  let table: Table;
  let lines: string[];

  beforeAll(async () => {
    csv = await simulateCsv(DEFAULT_SPEC, DEFAULT_SEED, ROWS);
    table = parseCustomersCsv(csv);
    lines = csv.split('\n');
  });

  it('the fixture holds the 97 statistics of SIMULATION.md section 5', () => {
    expect(statNames).toHaveLength(97);
    expect(ROWS).toBe(100_000);
  });

  it('every statistic of the fixture is computed (none skipped)', () => {
    const uncomputed = statNames.filter((name) => {
      try {
        return !Number.isFinite(computeStatistic(name, table));
      } catch {
        return true;
      }
    });
    expect(uncomputed).toEqual([]);
  });

  it.each(statNames)('%s is within its tolerance', (name) => {
    const { expected, tol_at_n_check: tol } = reference.stats[name] as ReferenceStats['stats'][string];
    const value = computeStatistic(name, table);
    expect(Number.isFinite(value), `${name} = ${value}`).toBe(true);
    expect(
      Math.abs(value - expected),
      `${name} = ${value}, expected ${expected} ± ${tol}`,
    ).toBeLessThanOrEqual(tol);
  });

  describe('row invariants (SIMULATION.md section 5), on every row', () => {
    const ALLOWED_AGES = new Set<number>();
    for (const [lo, hi] of [
      [16, 23],
      [25, 48],
      [50, 59],
      [61, 89],
    ] as const) {
      for (let a = lo; a <= hi; a++) ALLOWED_AGES.add(a);
    }

    /** Row numbers (1-based data rows) failing `ok`; at most 5 reported. */
    const violations = (ok: (i: number) => boolean): number[] => {
      const bad: number[] = [];
      for (let i = 0; i < table.rows && bad.length < 5; i++) if (!ok(i)) bad.push(i + 1);
      return bad;
    };

    /** SIMULATION.md step 6, written out again here rather than imported from the code under test. */
    const expectedClass = (age: number, income: number): number => {
      const [t1, t2] = age < 30 ? [200, 300] : age < 50 ? [150, 250] : age < 60 ? [75, 150] : [150, 200];
      return income >= t2 ? 2 : income >= t1 ? 1 : 0;
    };

    it('has the header and exactly the requested number of rows, each in the written format', () => {
      expect(lines[0]).toBe(COLUMN_NAMES.join(','));
      expect(lines.at(-1)).toBe(''); // the file ends with a newline
      expect(table.rows).toBe(ROWS);
      // integers, income with exactly 4 decimals
      const format = /^\d+,\d+\.\d{4},[0-2],[01],[0-2],\d+$/;
      const bad = lines.slice(1, -1).filter((line) => !format.test(line));
      expect(bad.slice(0, 5)).toEqual([]);
    });

    it('age is in the allowed set (16-23, 25-48, 50-59, 61-89)', () => {
      expect(violations((i) => ALLOWED_AGES.has(table.age[i] as number))).toEqual([]);
      expect(new Set(table.age).size).toBe(ALLOWED_AGES.size); // and each allowed age occurs
    });

    it('income >= age', () => {
      expect(violations((i) => (table.income[i] as number) >= (table.age[i] as number))).toEqual([]);
    });

    it('events is an integer in 0..6', () => {
      expect(violations((i) => [0, 1, 2, 3, 4, 5, 6].includes(table.events[i] as number))).toEqual([]);
    });

    it('response is 0 or 1', () => {
      expect(violations((i) => table.response[i] === 0 || table.response[i] === 1)).toEqual([]);
    });

    it('class is the rule of step 6 applied to age and the written income', () => {
      expect(
        violations(
          (i) => table.class[i] === expectedClass(table.age[i] as number, table.income[i] as number),
        ),
      ).toEqual([]);
    });

    it('segment is the rule of step 7 applied to class and response', () => {
      expect(
        violations((i) => {
          const r = table.response[i] as number;
          return table.segment[i] === (table.class[i] === 0 ? r : 1 + r);
        }),
      ).toEqual([]);
    });
  });
});

describe('the check discriminates (SIMULATION.md section 5)', () => {
  // Wrong readings of the post must fail many statistics, or the check above proves nothing. The
  // reference found 31, 38 and 16 failures; this seed gives 31, 39 and 14. The floors leave room.
  it.each([
    {
      label: 'the notebook ages, uniform on 16..74',
      override: { ageBands: [{ probability: 1, min: 16, max: 74 }] },
      atLeast: 25,
    },
    { label: 'income sd 10 (100 read as a variance)', override: { income: { sd: 10 } }, atLeast: 30 },
    {
      label: 'the a < 50 response rule for all ages',
      override: { response: { older: { events: [2, 3, 4, 6] } } },
      atLeast: 10,
    },
  ])('$label fails at least $atLeast statistics', async ({ override, atLeast }) => {
    const t = parseCustomersCsv(await simulateCsv(parseSpec(override), DEFAULT_SEED, ROWS));
    expect(failingStatistics(t).length).toBeGreaterThanOrEqual(atLeast);
  });
});
