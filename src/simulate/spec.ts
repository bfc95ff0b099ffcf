/**
 * The data-generating process of SIMULATION.md section 2, as data. `DEFAULT_SPEC` is the documented
 * process; `--spec FILE` deep-merges a partial JSON object over it (arrays replace whole), and
 * `parseSpec` validates the result once, at the boundary, so the sampler never re-checks anything.
 */
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import { describeSchemaError } from '../data/json-errors.js';
import { configFileError } from '../errors.js';

export interface AgeBand {
  /** Probability of the band; the bands' probabilities sum to 1. */
  probability: number;
  /** Smallest age of the band (integer, inclusive). */
  min: number;
  /** Largest age of the band (integer, inclusive). */
  max: number;
}

export interface ResponseRule {
  /** Events whose response probability is `ifEvent`. */
  events: number[];
  /** P(response = 1) when the event is in `events`. */
  ifEvent: number;
  /** P(response = 1) otherwise. */
  otherwise: number;
}

export interface ClassThreshold {
  /** The group covers ages below this (and at or above the previous group's); null = all older ages. */
  belowAge: number | null;
  /** Income at or above which the class is at least 1. */
  level1: number;
  /** Income at or above which the class is 2. */
  level2: number;
}

export interface Spec {
  ageBands: AgeBand[];
  /** income = age + |offset + sd * z|, z ~ N(0, 1). */
  income: { offset: number; sd: number };
  /** Ages below this are "younger" for the event weights and the response rule. */
  olderFrom: number;
  /** Event weights per age group; each set is divided by its own sum. Events are 0..length-1. */
  eventWeights: { younger: number[]; older: number[] };
  response: { younger: ResponseRule; older: ResponseRule };
  /** Class thresholds by age group, in increasing `belowAge`, the last one with `belowAge: null`. */
  classThresholds: ClassThreshold[];
}

/** SIMULATION.md section 2, exactly. */
export const DEFAULT_SPEC: Readonly<Spec> = Object.freeze({
  ageBands: [
    { probability: 0.15, min: 16, max: 23 },
    { probability: 0.4, min: 25, max: 48 },
    { probability: 0.2, min: 50, max: 59 },
    { probability: 0.25, min: 61, max: 89 },
  ],
  income: { offset: 20, sd: 100 },
  olderFrom: 50,
  eventWeights: {
    younger: [0.1, 0.75, 0.6, 0.8, 0.5, 0.79, 0.3],
    older: [0.2, 0.55, 0.65, 0.7, 0.63, 0.7, 0.4],
  },
  response: {
    younger: { events: [2, 3, 4, 6], ifEvent: 0.6, otherwise: 0.4 },
    older: { events: [1, 3, 5], ifEvent: 0.6, otherwise: 0.4 },
  },
  classThresholds: [
    { belowAge: 30, level1: 200, level2: 300 },
    { belowAge: 50, level1: 150, level2: 250 },
    { belowAge: 60, level1: 75, level2: 150 },
    { belowAge: null, level1: 150, level2: 200 },
  ],
});

const probability = { type: 'number', minimum: 0, maximum: 1 } as const;
const weights = { type: 'array', minItems: 1, items: { type: 'number', minimum: 0 } } as const;
const responseRule = {
  type: 'object',
  additionalProperties: false,
  required: ['events', 'ifEvent', 'otherwise'],
  properties: {
    events: { type: 'array', items: { type: 'integer', minimum: 0 } },
    ifEvent: probability,
    otherwise: probability,
  },
} as const;

/** JSON Schema of a complete spec (after merging over the defaults). */
export const SPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['ageBands', 'income', 'olderFrom', 'eventWeights', 'response', 'classThresholds'],
  properties: {
    ageBands: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['probability', 'min', 'max'],
        properties: {
          probability,
          min: { type: 'integer', minimum: 0, maximum: 200 },
          max: { type: 'integer', minimum: 0, maximum: 200 },
        },
      },
    },
    income: {
      type: 'object',
      additionalProperties: false,
      required: ['offset', 'sd'],
      properties: { offset: { type: 'number' }, sd: { type: 'number', minimum: 0 } },
    },
    olderFrom: { type: 'number' },
    eventWeights: {
      type: 'object',
      additionalProperties: false,
      required: ['younger', 'older'],
      properties: { younger: weights, older: weights },
    },
    response: {
      type: 'object',
      additionalProperties: false,
      required: ['younger', 'older'],
      properties: { younger: responseRule, older: responseRule },
    },
    classThresholds: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['belowAge', 'level1', 'level2'],
        properties: {
          belowAge: { type: ['number', 'null'] },
          level1: { type: 'number' },
          level2: { type: 'number' },
        },
      },
    },
  },
} as const;

let compiled: ValidateFunction<Spec> | undefined;
/** Compiled on first use: `segserve simulate` without --spec never pays for it (start-up time). */
function validator(): ValidateFunction<Spec> {
  if (!compiled) {
    // ajv (CommonJS) is required here, not imported: simulating without --spec never loads it.
    const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
    compiled = new Ajv({ allErrors: false, strict: true }).compile<Spec>(SPEC_SCHEMA);
  }
  return compiled;
}

const SUM_TOLERANCE = 1e-9;

function semanticProblem(spec: Spec): string | undefined {
  const sum = spec.ageBands.reduce((s, b) => s + b.probability, 0);
  if (Math.abs(sum - 1) > SUM_TOLERANCE) return `"ageBands" probabilities sum to ${sum}, expected 1`;
  for (const [i, band] of spec.ageBands.entries()) {
    if (band.min > band.max) return `"ageBands[${i}]" is empty: min ${band.min} > max ${band.max}`;
  }
  const nEvents = spec.eventWeights.younger.length;
  for (const group of ['younger', 'older'] as const) {
    const w = spec.eventWeights[group];
    if (w.length !== nEvents) {
      return `"eventWeights.${group}" has ${w.length} weights, expected ${nEvents} (as "eventWeights.younger")`;
    }
    if (!(w.reduce((s, x) => s + x, 0) > 0)) return `"eventWeights.${group}" weights sum to 0, expected > 0`;
    for (const [i, e] of spec.response[group].events.entries()) {
      if (e >= nEvents) {
        return `"response.${group}.events[${i}]" is ${e}, expected an event in 0..${nEvents - 1}`;
      }
    }
  }
  const t = spec.classThresholds;
  for (const [i, g] of t.entries()) {
    const last = i === t.length - 1;
    if (last !== (g.belowAge === null)) {
      return last
        ? `"classThresholds[${i}].belowAge" must be null: the last group covers all older ages`
        : `"classThresholds[${i}].belowAge" is null, but only the last group may be open-ended`;
    }
    const prev = i > 0 ? t[i - 1]?.belowAge : undefined;
    if (g.belowAge !== null && prev != null && g.belowAge <= prev) {
      return `"classThresholds[${i}].belowAge" is ${g.belowAge}, expected more than ${prev}`;
    }
    if (g.level2 < g.level1) {
      return `"classThresholds[${i}].level2" is ${g.level2}, expected at least level1 (${g.level1})`;
    }
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; anything else (arrays included) replaces. */
function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

/**
 * Merges a partial spec (parsed JSON) over the defaults and validates it.
 * @param source names the origin in error messages, e.g. the file path.
 */
export function parseSpec(override: unknown, source = 'spec'): Spec {
  if (!isPlainObject(override)) throw configFileError(`${source}: expected a JSON object of spec overrides`);
  const merged = deepMerge(structuredClone(DEFAULT_SPEC), override);
  const validate = validator();
  if (!validate(merged)) {
    const first = validate.errors?.[0];
    throw configFileError(`${source}: ${first ? describeSchemaError(first) : 'invalid spec'}`);
  }
  const problem = semanticProblem(merged);
  if (problem) throw configFileError(`${source}: ${problem}`);
  return merged;
}
