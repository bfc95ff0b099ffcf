/**
 * Hyperparameters under the names users read and write (the artifact, `--space`, `--json`): scikit-learn's.
 */
import type { ForestParams, MaxFeatures } from '../forest/types.js';

/** RandomForestClassifier's parameters, in scikit-learn's names. */
export interface SkParams {
  n_estimators: number;
  max_depth: number | null;
  min_samples_split: number;
  min_samples_leaf: number;
  max_features: MaxFeatures;
  bootstrap: boolean;
  /** null (every row weighs 1), or scikit-learn's "balanced" / "balanced_subsample". */
  class_weight?: ClassWeight;
}

export type ClassWeight = null | 'balanced' | 'balanced_subsample';

export function toSkParams(p: ForestParams): SkParams {
  return {
    n_estimators: p.nEstimators,
    max_depth: p.maxDepth,
    min_samples_split: p.minSamplesSplit,
    min_samples_leaf: p.minSamplesLeaf,
    max_features: p.maxFeatures,
    bootstrap: p.bootstrap,
    ...(p.classWeight ? { class_weight: p.classWeight } : {}),
  };
}

export function fromSkParams(s: SkParams): ForestParams {
  return {
    nEstimators: s.n_estimators,
    maxDepth: s.max_depth,
    minSamplesSplit: s.min_samples_split,
    minSamplesLeaf: s.min_samples_leaf,
    maxFeatures: s.max_features,
    bootstrap: s.bootstrap,
    classWeight: s.class_weight ?? null,
  };
}
