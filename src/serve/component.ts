/**
 * Components: the post's Python `Model` class, in JavaScript. The server talks to a component, never to
 * the forest: the built-in ForestComponent wraps a loaded artifact; `--component FILE` loads a user's
 * class instead (an ES module whose default export is a class constructed with `{ model }`).
 * Every method is optional and keeps Seldon's semantics; see docs/components.md.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeError, usageError } from '../errors.js';
import type { LoadedModel } from '../pipeline/artifact.js';
import type { DriftReference } from '../pipeline/drift.js';
import type { Category, Model } from '../pipeline/types.js';

export type MetricType = 'COUNTER' | 'GAUGE' | 'TIMER';

/**
 * A custom metric as Seldon defines it. COUNTER adds `value` to `<key>_total`; GAUGE sets `<key>`;
 * TIMER observes `value` milliseconds in the histogram `<key>` (in seconds). `tags` become labels.
 */
export interface SeldonMetric {
  type: MetricType;
  key: string;
  value: number;
  tags?: Record<string, string>;
}

/** The request's `meta`, as `predict` receives it. */
export interface SeldonMeta {
  puid?: string;
  tags?: Record<string, unknown>;
  routing?: Record<string, unknown>;
  requestPath?: Record<string, string>;
  metrics?: unknown[];
}

/**
 * What `predict` (and `sendFeedback`) receive as X: `data.ndarray` as sent (nested arrays), `data.tensor`
 * reshaped to nested arrays, `jsonData` as parsed JSON, `strData` as a string, `binData` as a Buffer.
 */
export type PredictInput = unknown[] | Record<string, unknown> | string | Buffer;

/**
 * What `predict` may return: numbers in nested arrays or a typed array (sent as `data`, mirroring the
 * request form), a plain object (`jsonData`), a string (`strData`) or bytes (`binData`).
 */
export type PredictOutput =
  | readonly unknown[]
  | Float64Array
  | Float32Array
  | Int32Array
  | Record<string, unknown>
  | string
  | Uint8Array;

/** One input or output of the v1 metadata: `{messagetype, schema?}` or `{name, datatype, shape}`. */
export type MetadataTensor =
  | { messagetype: string; schema?: Record<string, unknown> }
  | { name: string; datatype: string; shape: number[] };

/** Seldon's v1 metadata; every key is optional in `initMetadata()` and merged over the defaults. */
export interface SeldonMetadata {
  name?: string;
  versions?: string[];
  platform?: string;
  inputs?: MetadataTensor[];
  outputs?: MetadataTensor[];
  custom?: Record<string, string>;
}

type MaybePromise<T> = T | Promise<T>;

export interface Component {
  /** Returns predictions for X. Without it, a component given `{ model }` predicts with the forest. */
  predict?(X: PredictInput, names: string[], meta: SeldonMeta): MaybePromise<PredictOutput>;
  /** Custom metrics, called after every predict (method="predict"), health status and feedback. */
  metrics?(): MaybePromise<SeldonMetric[]>;
  /** Tags merged into `meta.tags` of every response. */
  tags?(): MaybePromise<Record<string, unknown>>;
  /** Column names of a 2-D answer (default `t:0`, `t:1`, ...). */
  classNames?(): string[];
  /** The payload of `/health/status` (default the string "healthy"); throw to report unhealthy. */
  healthStatus?(): MaybePromise<unknown>;
  /** Metadata merged over the defaults at start-up (then MODEL_METADATA over it). */
  initMetadata?(): MaybePromise<SeldonMetadata>;
  /** Receives feedback; an array it returns is sent back as `data.ndarray`. */
  sendFeedback?(
    features: PredictInput,
    names: string[],
    reward: number,
    truth: PredictInput | undefined,
    routing: number | undefined,
  ): MaybePromise<unknown>;
}

/** What a component class is constructed with. */
export interface ComponentContext {
  /** The model from `--model`, when one was given. */
  model: Model | undefined;
}

export type ComponentClass = new (context: ComponentContext) => Component;

/**
 * Marks a component whose predictions come straight from a Model on the typed-array fast path: the
 * built-in forest, or a user component that defines no `predict` but was given a model.
 */
const FOREST = Symbol('segserve.forest');
/** The training facts of that model the server uses: its drift reference. */
const INSIGHT = Symbol('segserve.insight');

/** What the server knows of a model besides its forest: the artifact's `training` facts it serves from. */
export interface ModelInsight {
  /** The training data's drift reference (`training.drift`; absent in format version 1). */
  drift?: DriftReference | undefined;
}

interface WithForest {
  [FOREST]?: Model;
  [INSIGHT]?: ModelInsight;
}

/** The model a component predicts with on the fast path, if any. */
export function forestOf(component: Component): Model | undefined {
  return (component as WithForest)[FOREST];
}

/** The drift reference of the model a component predicts with on the fast path, if it has one. */
export function driftReferenceOf(component: Component): DriftReference | undefined {
  const c = component as WithForest;
  return c[FOREST] === undefined ? undefined : c[INSIGHT]?.drift;
}

/** The insight of a loaded artifact (what ForestComponent and loadComponent take). */
export function insightOf(loaded: LoadedModel | undefined): ModelInsight | undefined {
  return loaded === undefined ? undefined : { drift: loaded.artifact.training.drift };
}

/**
 * The names of a model's probability columns in Seldon answers and metadata: `t:0` … `t:K-1` (the
 * wrapper's default) when the class labels are exactly the numbers 0 … K-1, as the post's segments;
 * otherwise the class labels themselves, as strings.
 */
export function classNamesOf(classes: readonly Category[]): string[] {
  const indexed = classes.every((c, i) => c === i);
  return classes.map((c, i) => (indexed ? `t:${i}` : String(c)));
}

/** Metadata describing a model's inputs and outputs (names, shapes, classes). */
export function forestMetadata(model: Model, name: string): SeldonMetadata {
  const custom: Record<string, string> = {
    output: 'predict_proba',
    classes: model.classes.join(', '),
  };
  for (const f of model.features) {
    custom[`feature.${f.name}`] =
      f.kind === 'categorical' ? `categorical [${(f.categories ?? []).join(', ')}]` : 'numeric';
  }
  return {
    name,
    platform: 'segserve',
    inputs: [
      {
        messagetype: 'ndarray',
        schema: { names: model.features.map((f) => f.name), shape: [model.features.length] },
      },
    ],
    outputs: [
      {
        messagetype: 'ndarray',
        schema: { names: classNamesOf(model.classes), shape: [model.classes.length] },
      },
    ],
    custom,
  };
}

/**
 * The built-in component: the forest's predict_proba, no custom metrics or tags. The server predicts
 * through the model's typed-array fast path (raw wire values encoded by the shared row decoder) and
 * describes it in the metadata (inputs, outputs, classes); `predict` serves direct callers.
 */
export class ForestComponent implements Component {
  readonly model: Model;

  /** `insight`: the artifact's drift reference, for the drift gauges (see insightOf). */
  constructor(model: Model, insight?: ModelInsight) {
    this.model = model;
    (this as WithForest)[FOREST] = model;
    if (insight !== undefined) (this as WithForest)[INSIGHT] = insight;
  }

  /** The component of a loaded artifact: its model and drift reference. */
  static of(loaded: LoadedModel): ForestComponent {
    return new ForestComponent(loaded.model, insightOf(loaded));
  }

  predict(X: PredictInput): number[][] {
    if (!Array.isArray(X)) throw new TypeError('the forest takes rows of values (arrays in feature order)');
    return this.model.predictProba(X as unknown[][]);
  }
}

const METHODS = [
  'predict',
  'metrics',
  'tags',
  'classNames',
  'healthStatus',
  'initMetadata',
  'sendFeedback',
] as const;

/**
 * Checks an instance's optional methods and, when it has no `predict`, attaches the model to predict
 * with (and its insight: the drift reference). Throws a usage error naming the component when it
 * cannot serve.
 */
export function prepareComponent(
  instance: unknown,
  model: Model | undefined,
  source: string,
  insight?: ModelInsight,
): Component {
  if (typeof instance !== 'object' || instance === null) {
    throw usageError(`component ${source}: the constructor did not return an object`);
  }
  const c = instance as Record<string, unknown>;
  for (const m of METHODS) {
    if (c[m] !== undefined && typeof c[m] !== 'function') {
      throw usageError(`component ${source}: ${m} must be a method, got ${typeof c[m]}`);
    }
  }
  const component = instance as Component;
  if (component.predict === undefined && forestOf(component) === undefined) {
    if (model === undefined) {
      throw usageError(`component ${source} defines no predict() and no --model was given to predict with`);
    }
    (component as WithForest)[FOREST] = model;
    if (insight !== undefined) (component as WithForest)[INSIGHT] = insight;
  }
  return component;
}

/**
 * Loads `--component FILE`: imports the ES module, constructs its default export with `{ model }`.
 * `insight` (the model's drift reference) serves the drift gauges when the component has no predict.
 * @throws SegserveError (usage) with a one-line message naming the file.
 */
export async function loadComponent(file: string, model?: Model, insight?: ModelInsight): Promise<Component> {
  const path = resolve(file);
  if (!existsSync(path)) throw usageError(`cannot load component ${file}: no such file`);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (err) {
    throw usageError(`cannot load component ${file}: ${describeError(err).split('\n')[0]}`);
  }
  const Ctor = mod.default;
  if (typeof Ctor !== 'function') {
    throw usageError(`component ${file} must have a class as its default export (export default class ...)`);
  }
  let instance: unknown;
  try {
    instance = new (Ctor as ComponentClass)({ model });
  } catch (err) {
    throw usageError(`component ${file}: the constructor threw: ${describeError(err).split('\n')[0]}`);
  }
  return prepareComponent(instance, model, file, insight);
}
