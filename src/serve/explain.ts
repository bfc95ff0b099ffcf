/**
 * Explanations for the server, protocol-free: exact TreeSHAP (src/forest/treeshap.ts) of the served
 * forest for encoded rows (the same rows the row decoder writes for predictions, so an explanation
 * is routed exactly as its prediction: thresholds, missing-value directions, the unknown-category
 * policy). One explainer per served model, built on first use (laying out the trees costs about
 * what a few rows do) and kept with the model's runtime, so a hot swap replaces it with the model;
 * its output buffer is reused, grown only when a request needs more.
 *
 * Explaining costs about a few hundred predictions per row, so requests are bounded in rows
 * (`maxRows`, default DEFAULT_MAX_EXPLAIN_ROWS): a larger one is a 413 before any work.
 */
import { TreeExplainer } from '../forest/treeshap.js';
import { ForestModel } from '../pipeline/model.js';
import type { Model } from '../pipeline/types.js';
import { ServeError } from './errors.js';

/** The Open Inference Protocol's output names of an explanation (REST and gRPC alike). */
export const SHAP_OUTPUT = 'shap_values';
export const EXPECTED_OUTPUT = 'expected_value';

/** Most rows explained in one request, unless the server is told otherwise. */
export const DEFAULT_MAX_EXPLAIN_ROWS = 1000;

/** The SHAP values of n rows: valid until the next `explain` of the same runtime. */
export interface Explanation {
  /** Rows. */
  readonly n: number;
  /** Classes (probability columns), K. */
  readonly nClasses: number;
  /** Features, F. */
  readonly nFeatures: number;
  /**
   * Row-major n × K × F (at least that long; a shared buffer): values[(i·K + k)·F + f] is feature f's
   * contribution to row i's probability of class k.
   */
  readonly values: Float64Array;
  /** Per class: the forest's mean prediction over its training samples (Σ_f values + expected = p). */
  readonly expected: Float64Array;
}

/** Whether a model can be explained: a forest of ours (not any object with the Model interface). */
export function explainable(model: Model | undefined): model is ForestModel {
  return model instanceof ForestModel;
}

/** The explainer of one served model. Not reentrant: every call is synchronous, answered before any await. */
export class ModelExplainer {
  readonly maxRows: number;
  private readonly model: ForestModel;
  private explainer: TreeExplainer | undefined;
  private out = new Float64Array(0);

  constructor(model: ForestModel, maxRows: number = DEFAULT_MAX_EXPLAIN_ROWS) {
    this.model = model;
    this.maxRows = maxRows;
  }

  /** The TreeExplainer, built on first use. */
  private get tree(): TreeExplainer {
    this.explainer ??= new TreeExplainer(
      this.model.forest.trees,
      this.model.classes.length,
      this.model.features.length,
    );
    return this.explainer;
  }

  /** Per class: the expected value (builds the explainer if needed). */
  get expected(): Float64Array {
    return this.tree.expected;
  }

  /**
   * SHAP values of n encoded rows (`x` row-major n × F, NaN = missing). More than `maxRows` rows is a
   * PAYLOAD_TOO_LARGE ServeError.
   */
  explain(x: Float64Array, n: number): Explanation {
    if (n > this.maxRows) {
      throw new ServeError(
        'PAYLOAD_TOO_LARGE',
        `${n} rows to explain in one request; at most ${this.maxRows} are explained per request (send fewer rows per call)`,
      );
    }
    const t = this.tree;
    const K = t.nClasses;
    const F = t.nFeatures;
    const size = n * K * F;
    if (this.out.length < size) this.out = new Float64Array(Math.max(size, this.out.length * 2));
    t.explainInto(x, n, this.out);
    return { n, nClasses: K, nFeatures: F, values: this.out, expected: t.expected };
  }
}
