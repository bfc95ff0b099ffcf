/**
 * Draws customers row by row from a validated spec (SIMULATION.md section 2, steps 1-7). One
 * generator, a fixed order of draws per row, so the first m rows of an n-row draw equal an m-row draw.
 */
import { createRng, type Rng } from '../data/random.js';
import type { Spec } from './spec.js';

/** Income is written with this many decimals; class is computed from the written value. */
export const INCOME_DECIMALS = 4;

export const COLUMNS = ['age', 'income', 'class', 'response', 'segment', 'events'] as const;

/** Seed stream word reserved for simulation (so train's streams from the same seed differ). */
const SIMULATE_STREAM = 0x53494d; // "SIM"

export interface Customer {
  age: number;
  /** Income as written to CSV (rounded to `INCOME_DECIMALS` decimals): `formatIncome(income)` is the text. */
  income: number;
  class: number;
  response: number;
  segment: number;
  events: number;
}

function cumulative(weights: readonly number[]): Float64Array {
  const total = weights.reduce((s, w) => s + w, 0);
  const out = new Float64Array(weights.length);
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += (weights[i] ?? 0) / total;
    out[i] = acc;
  }
  return out;
}

/** Smallest i with u < cum[i]; the last category if rounding leaves none. */
function pick(cum: Float64Array, u: number): number {
  const last = cum.length - 1;
  for (let i = 0; i < last; i++) if (u < (cum[i] as number)) return i;
  return last;
}

const INCOME_SCALE = 10 ** INCOME_DECIMALS;
/** Below this, `x * INCOME_SCALE` (< 2^30) is within 1.2e-7 (half an ulp) of the exact product. */
const FAST_INCOME_LIMIT = 1e5;
/** A product this close to a tie (…5 in the next decimal) is rounded by `toFixed` instead. */
const TIE_MARGIN = 1e-6;

/**
 * `+x.toFixed(INCOME_DECIMALS)` for x >= 0, the value that is written, without making a string on the
 * hot path. `toFixed` rounds the exact binary value, ties up; so does this, away from near-ties.
 */
export function roundIncome(x: number): number {
  if (x < FAST_INCOME_LIMIT) {
    const r = x * INCOME_SCALE;
    const f = Math.floor(r);
    const d = r - f - 0.5;
    if (d > TIE_MARGIN) return (f + 1) / INCOME_SCALE;
    if (d < -TIE_MARGIN) return f / INCOME_SCALE;
  }
  return +x.toFixed(INCOME_DECIMALS);
}

/** The CSV text of an income returned by `roundIncome`: `INCOME_DECIMALS` decimals. */
export function formatIncome(income: number): string {
  return income.toFixed(INCOME_DECIMALS);
}

/** The class rule of step 6, on the income as written. */
export function classOf(spec: Spec, age: number, income: number): number {
  for (const g of spec.classThresholds) {
    if (g.belowAge === null || age < g.belowAge) return income >= g.level2 ? 2 : income >= g.level1 ? 1 : 0;
  }
  return 0; // unreachable: a validated spec ends with an open group
}

/** The segment rule of step 7. */
export function segmentOf(cls: number, response: number): number {
  return cls === 0 ? response : 1 + response;
}

export class CustomerSampler {
  private readonly uniform: Rng['uniform'];
  private readonly normal: Rng['normal'];
  private readonly bandCum: Float64Array;
  private readonly bandMin: Int32Array;
  private readonly bandSize: Int32Array;
  private readonly eventCum: [younger: Float64Array, older: Float64Array];
  private readonly responseP: [younger: Float64Array, older: Float64Array];
  private readonly classBelow: Float64Array;
  private readonly classT1: Float64Array;
  private readonly classT2: Float64Array;
  private readonly incomeOffset: number;
  private readonly incomeSd: number;
  private readonly olderFrom: number;

  constructor(spec: Spec, seed: number) {
    const rng = createRng(seed, SIMULATE_STREAM);
    this.uniform = rng.uniform;
    this.normal = rng.normal;
    this.bandCum = cumulative(spec.ageBands.map((b) => b.probability));
    this.bandMin = Int32Array.from(spec.ageBands, (b) => b.min);
    this.bandSize = Int32Array.from(spec.ageBands, (b) => b.max - b.min + 1);
    this.eventCum = [cumulative(spec.eventWeights.younger), cumulative(spec.eventWeights.older)];
    const nEvents = spec.eventWeights.younger.length;
    const table = (rule: Spec['response']['younger']) =>
      Float64Array.from({ length: nEvents }, (_, e) =>
        rule.events.includes(e) ? rule.ifEvent : rule.otherwise,
      );
    this.responseP = [table(spec.response.younger), table(spec.response.older)];
    this.classBelow = Float64Array.from(spec.classThresholds, (g) => g.belowAge ?? Number.POSITIVE_INFINITY);
    this.classT1 = Float64Array.from(spec.classThresholds, (g) => g.level1);
    this.classT2 = Float64Array.from(spec.classThresholds, (g) => g.level2);
    this.incomeOffset = spec.income.offset;
    this.incomeSd = spec.income.sd;
    this.olderFrom = spec.olderFrom;
  }

  /** Draws the next customer into `out` (reused to keep the hot loop allocation-free). */
  next(out: Customer): Customer {
    const band = pick(this.bandCum, this.uniform());
    const age = (this.bandMin[band] as number) + Math.floor(this.uniform() * (this.bandSize[band] as number));
    const income = roundIncome(age + Math.abs(this.incomeOffset + this.incomeSd * this.normal()));
    const older = age >= this.olderFrom ? 1 : 0;
    const events = pick(this.eventCum[older], this.uniform());
    const response = this.uniform() < (this.responseP[older][events] as number) ? 1 : 0;
    let g = 0;
    while (age >= (this.classBelow[g] as number)) g++;
    const cls = income >= (this.classT2[g] as number) ? 2 : income >= (this.classT1[g] as number) ? 1 : 0;
    out.age = age;
    out.income = income;
    out.class = cls;
    out.response = response;
    out.segment = cls === 0 ? response : 1 + response;
    out.events = events;
    return out;
  }
}

export function emptyCustomer(): Customer {
  return { age: 0, income: 0, class: 0, response: 0, segment: 0, events: 0 };
}
