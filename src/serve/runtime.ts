/**
 * The served component, as every protocol sees it: the typed-array fast path of the forest, calls into
 * a user component with its errors mapped to the catalogue, custom metrics validated and recorded,
 * metadata built once at start-up, and the draining flag. Protocol folders (seldon/, oip/) translate
 * the wire to and from these calls through the one row decoder they share (`rows`, see rows.ts);
 * nothing here knows a wire format.
 */
import { describeError, usageError } from '../errors.js';
import { type DriftReference, validateReference } from '../pipeline/drift.js';
import { argmax } from '../pipeline/model.js';
import { type Category, type Model, ModelInputError } from '../pipeline/types.js';
import {
  type Component,
  driftReferenceOf,
  forestMetadata,
  forestOf,
  type PredictInput,
  type SeldonMeta,
  type SeldonMetadata,
  type SeldonMetric,
} from './component.js';
import type { SeldonSettings } from './env.js';
import { ServeError } from './errors.js';
import { DEFAULT_MAX_EXPLAIN_ROWS, type Explanation, explainable, ModelExplainer } from './explain.js';
import { type MetricMethod, type SegmentCounter, type ServeMetrics, validateMetrics } from './metrics.js';
import { classLabelValues } from './metrics-classes.js';
import {
  DEFAULT_DRIFT_WINDOW,
  type DriftTracker,
  driftGauges,
  existingDriftGauges,
  MAX_DRIFT_WINDOW,
} from './metrics-drift.js';
import { inputError, RowDecoder } from './rows.js';

export interface RuntimeOptions {
  settings: SeldonSettings;
  metrics: ServeMetrics;
  /** Most rows accepted in one request. */
  maxRows: number;
  /** The model's name (metadata of the forest; the Open Inference Protocol's model name). */
  modelName: string;
  /**
   * Rows kept for the drift gauges (`--drift-window`; default DEFAULT_DRIFT_WINDOW, 0: no drift
   * gauges). Only a model with a drift reference (format version 2) keeps a window.
   */
  driftWindow?: number;
  /** Most rows explained in one request (default DEFAULT_MAX_EXPLAIN_ROWS, never more than maxRows). */
  maxExplainRows?: number;
  /**
   * Milliseconds a component's method (predict, sendFeedback, metrics, tags, healthStatus) may take
   * to settle (`--predict-timeout`; default DEFAULT_PREDICT_TIMEOUT_MS; 0: no limit). Past it the
   * request is answered 504 PREDICT_TIMEOUT and the late result, if any, is dropped.
   */
  predictTimeoutMs?: number;
}

/** The default of `predictTimeoutMs`: 30 s. */
export const DEFAULT_PREDICT_TIMEOUT_MS = 30_000;
/** The largest `predictTimeoutMs` (a day: setTimeout's limit is about 24.8 days). */
export const MAX_PREDICT_TIMEOUT_MS = 86_400_000;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/** The Open Inference Protocol's tensor datatypes (metadata may declare any of them). */
export const DATATYPES: ReadonlySet<string> = new Set([
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
]);

function isStringArray(v: unknown): boolean {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function isIntArray(v: unknown): boolean {
  return Array.isArray(v) && v.every((d) => Number.isSafeInteger(d));
}

function tensorProblem(t: unknown, at: string): string | undefined {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return `${at} must be an object`;
  const o = t as Record<string, unknown>;
  if (o.messagetype !== undefined) {
    if (typeof o.messagetype !== 'string') return `${at}.messagetype must be a string`;
    if (o.schema !== undefined) {
      if (typeof o.schema !== 'object' || o.schema === null || Array.isArray(o.schema))
        return `${at}.schema must be an object`;
      if (['tensor', 'ndarray', 'tftensor'].includes(o.messagetype)) {
        const s = o.schema as Record<string, unknown>;
        if (s.names !== undefined && !isStringArray(s.names)) return `${at}.schema.names must be strings`;
        if (s.shape !== undefined && !isIntArray(s.shape)) return `${at}.schema.shape must be integers`;
      }
    }
    return undefined;
  }
  if (typeof o.name !== 'string') return `${at} needs a messagetype, or a name, datatype and shape`;
  if (typeof o.datatype !== 'string' || !DATATYPES.has(o.datatype))
    return `${at}.datatype must be one of ${[...DATATYPES].join(', ')}`;
  if (!isIntArray(o.shape)) return `${at}.shape must be integers`;
  return undefined;
}

/** Checks metadata against Seldon's v1 metadata schema; returns what is wrong, if anything. */
export function metadataProblem(m: Record<string, unknown>): string | undefined {
  const allowed = new Set(['name', 'versions', 'platform', 'inputs', 'outputs', 'custom']);
  for (const k of Object.keys(m)) if (!allowed.has(k)) return `unknown key "${k}"`;
  if (typeof m.name !== 'string') return '"name" must be a string';
  if (!isStringArray(m.versions)) return '"versions" must be an array of strings';
  if (typeof m.platform !== 'string') return '"platform" must be a string';
  const custom = m.custom;
  if (typeof custom !== 'object' || custom === null || Array.isArray(custom))
    return '"custom" must be an object';
  for (const [k, v] of Object.entries(custom))
    if (typeof v !== 'string') return `"custom.${k}" must be a string`;
  for (const side of ['inputs', 'outputs'] as const) {
    const list = m[side];
    if (!Array.isArray(list)) return `"${side}" must be an array`;
    for (const [i, t] of list.entries()) {
      const problem = tensorProblem(t, `${side}[${i}]`);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** Checks the drift and explain options; a bad one fails start-up (a usage error naming it). */
function checkOptions(
  options: RuntimeOptions,
  model: Model | undefined,
  reference: DriftReference | undefined,
): void {
  const w = options.driftWindow;
  if (w !== undefined && !(Number.isInteger(w) && w >= 0 && w <= MAX_DRIFT_WINDOW)) {
    throw usageError(
      `--drift-window must be an integer from 0 (no drift gauges) to ${MAX_DRIFT_WINDOW}, got ${w}`,
    );
  }
  const t = options.predictTimeoutMs;
  if (t !== undefined && !(Number.isFinite(t) && t >= 0 && t <= MAX_PREDICT_TIMEOUT_MS)) {
    throw usageError(
      `--predict-timeout must be a number of seconds from 0 (no limit) to ${MAX_PREDICT_TIMEOUT_MS / 1000}, got ${t / 1000}`,
    );
  }
  const e = options.maxExplainRows;
  if (e !== undefined && !(Number.isInteger(e) && e >= 1)) {
    throw usageError(`the most rows explained per request must be an integer >= 1, got ${e}`);
  }
  if (model !== undefined && reference !== undefined) {
    try {
      validateReference(reference, model.features.length, model.classes.length);
    } catch (err) {
      throw usageError(`the model's drift reference does not fit it: ${(err as Error).message}`);
    }
    reference.features.forEach((f, j) => {
      const feature = model.features[j];
      if (feature?.name !== f.name || feature.kind !== f.kind) {
        throw usageError(
          `the model's drift reference does not fit it: its feature ${j} is ${f.kind} "${f.name}", the model's is ${feature?.kind} "${feature?.name}"`,
        );
      }
    });
  }
}

export class Runtime {
  readonly component: Component;
  /** The model of the fast path, when predictions come straight from a forest. */
  readonly forest: Model | undefined;
  /** The row decoder every protocol writes the fast path's rows through (with the model). */
  readonly rows: RowDecoder | undefined;
  readonly metrics: ServeMetrics;
  readonly settings: SeldonSettings;
  readonly maxRows: number;
  readonly modelName: string;
  /** Milliseconds a component's method may take (0: no limit); see RuntimeOptions.predictTimeoutMs. */
  readonly predictTimeoutMs: number;
  /** Metadata, built and validated at start-up. */
  readonly metadata: Readonly<SeldonMetadata>;
  /** True once shutdown began: health turns 503, responses close their connection. */
  draining = false;

  /**
   * The drift window of this model (its rows since it was loaded, up to --drift-window), when the
   * model has a drift reference; the drift gauges show the newest runtime's.
   */
  readonly drift: DriftTracker | undefined;

  private out: Float64Array;
  private readonly segmentCounts: Float64Array;
  private readonly segments: SegmentCounter;
  private readonly explainer: ModelExplainer | undefined;

  private constructor(component: Component, options: RuntimeOptions, metadata: SeldonMetadata) {
    this.component = component;
    this.forest = forestOf(component);
    this.metrics = options.metrics;
    this.settings = options.settings;
    this.maxRows = options.maxRows;
    this.predictTimeoutMs = options.predictTimeoutMs ?? DEFAULT_PREDICT_TIMEOUT_MS;
    this.modelName = options.modelName;
    this.metadata = metadata;
    this.rows = this.forest === undefined ? undefined : new RowDecoder(this.forest, options.maxRows);
    const k = this.forest?.classes.length ?? 0;
    this.out = new Float64Array(k * 16);
    this.segmentCounts = new Float64Array(k);
    // Bounded: at most 100 class labels get their own series, the rest share one.
    this.segments = this.metrics.segmentCounter(classLabelValues(this.forest?.classes ?? []));
    this.explainer = explainable(this.forest)
      ? new ModelExplainer(
          this.forest,
          Math.min(options.maxExplainRows ?? DEFAULT_MAX_EXPLAIN_ROWS, options.maxRows),
        )
      : undefined;
    const windowRows = options.driftWindow ?? DEFAULT_DRIFT_WINDOW;
    const reference = driftReferenceOf(component);
    const registry = this.metrics.registry;
    if (this.forest !== undefined && reference !== undefined && windowRows > 0) {
      this.drift = driftGauges(registry).track(
        reference,
        this.forest.features,
        this.forest.classes,
        windowRows,
      );
    } else {
      // A model without drift figures replaces one with them: the gauges show none.
      existingDriftGauges(registry)?.forget();
      this.drift = undefined;
    }
  }

  /**
   * Builds the runtime: metadata = defaults, then the component's initMetadata() (the forest's for a
   * forest-backed component without one), then MODEL_METADATA; validated here, so a bad one fails start-up.
   */
  static async create(component: Component, options: RuntimeOptions): Promise<Runtime> {
    const id = options.settings.identity;
    const defaults: Record<string, unknown> = {
      name: id.metadataName,
      versions: [id.metadataVersion],
      platform: '',
      inputs: [],
      outputs: [],
      custom: {},
    };
    let own: unknown;
    try {
      const forest = forestOf(component);
      own = component.initMetadata
        ? await component.initMetadata()
        : forest
          ? forestMetadata(forest, options.modelName)
          : undefined;
    } catch (err) {
      throw usageError(`initMetadata() threw: ${describeError(err)}`);
    }
    if (own !== undefined && (typeof own !== 'object' || own === null || Array.isArray(own))) {
      throw usageError('initMetadata() must return an object');
    }
    checkOptions(options, forestOf(component), driftReferenceOf(component));
    const merged = { ...defaults, ...(own as object | undefined), ...options.settings.modelMetadata };
    const problem = metadataProblem(merged);
    if (problem) throw usageError(`invalid model metadata (initMetadata() and MODEL_METADATA): ${problem}`);
    return new Runtime(component, options, merged as SeldonMetadata);
  }

  /** The class labels of the fast path's probability columns. */
  get classes(): readonly Category[] {
    return this.forest?.classes ?? [];
  }

  /**
   * The fast path: n encoded rows (row-major, the model's column order, NaN = missing; written by
   * `rows`) → n × k probabilities in a shared buffer that is valid until the next call. Counts
   * predictions per class label, and adds the rows (with the unknown categories `rows` counted while
   * decoding them) to the drift window.
   */
  predictEncoded(x: Float64Array, n: number): Float64Array {
    const model = this.forest;
    if (model === undefined) throw new ServeError('INTERNAL', 'predictEncoded without a model');
    const k = model.classes.length;
    if (this.out.length < n * k) this.out = new Float64Array(Math.max(n * k, this.out.length * 2));
    const out = this.out;
    model.predictEncodedInto(x, n, out);
    const counts = this.segmentCounts;
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = argmax(out, i * k, k);
      counts[c] = (counts[c] as number) + 1;
    }
    this.segments.add(counts);
    const drift = this.drift;
    if (drift !== undefined) {
      const rows = this.rows as RowDecoder;
      if (rows.sawUnknown) {
        drift.add(x, n, out, rows.unknown);
        rows.sawUnknown = false;
      } else drift.add(x, n, out);
    }
    return out;
  }

  /** Whether explanations are served: the predictions come from a forest of ours. */
  get canExplain(): boolean {
    return this.explainer !== undefined;
  }

  /**
   * Exact TreeSHAP of n encoded rows (as `predictEncoded` takes them): values n × K × F in a shared
   * buffer valid until the next call, and the expected value per class. Explanations are not
   * predictions: nothing is counted and the drift window is left alone. Throws NOT_IMPLEMENTED when
   * the component predicts by itself (its answers are not the forest's), PAYLOAD_TOO_LARGE for
   * more rows than are explained per request.
   */
  explain(x: Float64Array, n: number): Explanation {
    this.checkExplain();
    return (this.explainer as ModelExplainer).explain(x, n);
  }

  /** Throws NOT_IMPLEMENTED, saying why, unless explanations are served (see `explain`). */
  checkExplain(): void {
    if (this.explainer !== undefined) return;
    throw new ServeError(
      'NOT_IMPLEMENTED',
      this.forest === undefined
        ? 'explanations are computed from the served forest, and this component predicts with its own predict(): serve a model (--model) with a component that defines no predict(), or none'
        : 'explanations are computed from a forest trained by segserve, and the served model is not one',
    );
  }

  /** Most rows explained in one request (0 when explanations are not served). */
  get maxExplainRows(): number {
    return this.explainer?.maxRows ?? 0;
  }

  /**
   * Refuses a request of n rows for a component (413 PAYLOAD_TOO_LARGE over maxRows), before the
   * component is called; `what` names where the rows are (`data.ndarray`, `the feedback's truth`).
   */
  checkRows(n: number, what: string): void {
    if (n > this.maxRows) {
      throw new ServeError(
        'PAYLOAD_TOO_LARGE',
        `${n} rows in ${what}; at most ${this.maxRows} are accepted in one request`,
      );
    }
  }

  /**
   * Calls a component method, mapping what it throws or rejects with: ModelInputError → 400, a
   * ServeError stays itself, anything else → 500 COMPONENT_ERROR. A promise that does not settle
   * within predictTimeoutMs is a 504 PREDICT_TIMEOUT; the timer is cleared as soon as it settles (a
   * synchronous answer starts none), so nothing outlives the request but the component's own promise.
   */
  private async call<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      const result = fn();
      if (this.predictTimeoutMs === 0 || !isThenable(result)) return await result;
      return await this.settleWithin(result as PromiseLike<T>, what);
    } catch (err) {
      if (err instanceof ModelInputError) throw inputError(err);
      if (err instanceof ServeError) throw err;
      throw new ServeError('COMPONENT_ERROR', `${what} failed: ${describeError(err)}`, { cause: err });
    }
  }

  /** `promise`, or a PREDICT_TIMEOUT rejection if it has not settled within predictTimeoutMs. */
  private settleWithin<T>(promise: PromiseLike<T>, what: string): Promise<T> {
    const ms = this.predictTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new ServeError(
            'PREDICT_TIMEOUT',
            `${what} did not answer within ${ms / 1000} s (--predict-timeout): the request is abandoned, the server keeps serving`,
          ),
        );
      }, ms);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** The component's predict (the generic path). */
  predict(X: PredictInput, names: string[], meta: SeldonMeta): Promise<unknown> {
    const c = this.component;
    return this.call('predict()', () =>
      (c.predict as NonNullable<Component['predict']>).call(c, X, names, meta),
    );
  }

  /** The component's custom metrics: validated, recorded under `method`, and returned for `meta`. */
  async customMetrics(method: MetricMethod): Promise<SeldonMetric[]> {
    const c = this.component;
    if (c.metrics === undefined) return [];
    const raw = await this.call('metrics()', () => (c.metrics as NonNullable<Component['metrics']>).call(c));
    const metrics = validateMetrics(raw);
    this.metrics.recordCustom(metrics, method);
    return metrics;
  }

  /** The component's tags, or undefined. */
  async tags(): Promise<Record<string, unknown> | undefined> {
    const c = this.component;
    if (c.tags === undefined) return undefined;
    const tags = await this.call('tags()', () => (c.tags as NonNullable<Component['tags']>).call(c));
    if (tags === undefined || tags === null) return undefined;
    if (typeof tags !== 'object' || Array.isArray(tags)) {
      throw new ServeError('COMPONENT_ERROR', 'tags() must return an object');
    }
    return tags;
  }

  /** The component's classNames(), or undefined. */
  classNames(): string[] | undefined {
    const c = this.component;
    if (c.classNames === undefined) return undefined;
    let names: unknown;
    try {
      names = c.classNames();
    } catch (err) {
      throw new ServeError('COMPONENT_ERROR', `classNames() failed: ${describeError(err)}`, { cause: err });
    }
    if (!isStringArray(names))
      throw new ServeError('COMPONENT_ERROR', 'classNames() must return an array of strings');
    return names as string[];
  }

  /** The health payload ("healthy" by default); 503 while draining. */
  async health(): Promise<unknown> {
    if (this.draining) throw new ServeError('UNAVAILABLE', 'shutting down: not accepting new work');
    const c = this.component;
    if (c.healthStatus === undefined) return 'healthy';
    return this.call('healthStatus()', () =>
      (c.healthStatus as NonNullable<Component['healthStatus']>).call(c),
    );
  }

  /** Feedback: the wrapper's counters (non-zero reward, executor enabled), then sendFeedback if any. */
  async feedback(
    features: PredictInput,
    names: string[],
    reward: number,
    truth: PredictInput | undefined,
    routing: number | undefined,
  ): Promise<unknown> {
    if (reward !== 0 && this.settings.executorEnabled) this.metrics.countFeedback(reward);
    const c = this.component;
    if (c.sendFeedback === undefined) return undefined;
    return this.call('sendFeedback()', () =>
      (c.sendFeedback as NonNullable<Component['sendFeedback']>).call(
        c,
        features,
        names,
        reward,
        truth,
        routing,
      ),
    );
  }
}
