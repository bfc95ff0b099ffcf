/** The CV scorers, in scikit-learn's names and sign convention (larger is better). */
import { argmax } from '../pipeline/model.js';

export const SCORINGS = ['accuracy', 'neg_mean_absolute_error', 'neg_log_loss'] as const;
export type Scoring = (typeof SCORINGS)[number];

/** scikit-learn's historical log-loss clipping. */
const LOG_LOSS_EPS = 1e-15;

/**
 * Scores class probabilities against true class indices, larger is better (scikit-learn's scorer
 * convention): accuracy; minus the mean absolute error of the class labels taken as numbers (the post's
 * scoring); minus the mean log loss.
 */
export function score(
  scoring: Scoring,
  proba: Float64Array,
  y: Int32Array,
  classes: readonly number[],
): number {
  const k = classes.length;
  const n = y.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const truth = y[i] as number;
    if (scoring === 'neg_log_loss') {
      total += Math.log(Math.max(LOG_LOSS_EPS, proba[i * k + truth] as number));
      continue;
    }
    const best = argmax(proba, i * k, k);
    if (scoring === 'accuracy') total += best === truth ? 1 : 0;
    else total -= Math.abs((classes[best] as number) - (classes[truth] as number));
  }
  return total / n;
}
