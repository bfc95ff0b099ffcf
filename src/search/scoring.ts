/** The CV scorers, in scikit-learn's names and sign convention (larger is better). */
import { argmax } from '../pipeline/model.js';
import { balancedAccuracyOf, checkScoringInput, confusionCounts, macroF1Of } from './evaluate.js';

export const SCORINGS = [
  'accuracy',
  'neg_mean_absolute_error',
  'neg_log_loss',
  'balanced_accuracy',
  'f1_macro',
  'roc_auc',
] as const;
export type Scoring = (typeof SCORINGS)[number];

/**
 * Log-loss clipping of scikit-learn >= 1.2 (`eps="auto"`: the float64 machine epsilon; 1.1 and
 * earlier clipped at 1e-15). scikit-learn also renormalises the clipped rows, a change below 1e-14
 * for probabilities that sum to 1, which ours do.
 */
const LOG_LOSS_EPS = Number.EPSILON;

/**
 * Area under the ROC curve of `proba[i * k + c]` for telling the rows of class `c` from the others:
 * the Mann-Whitney statistic with tied scores given their average rank, which equals scikit-learn's
 * trapezoidal roc_auc_score (ties included). NaN when the rows are all of class `c` or none are.
 */
function binaryAuc(y: Int32Array, proba: Float64Array, k: number, c: number, order: Int32Array): number {
  const n = y.length;
  const s = (i: number) => proba[i * k + c] as number;
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => s(a) - s(b));
  let positives = 0;
  let positiveRankSum = 0; // half-integers summed: exact in doubles far beyond any real n
  for (let start = 0; start < n; ) {
    const value = s(order[start] as number);
    let end = start;
    let inGroup = 0;
    while (end < n && s(order[end] as number) === value) {
      if (y[order[end] as number] === c) inGroup++;
      end++;
    }
    positiveRankSum += (inGroup * (start + 1 + end)) / 2; // ranks start+1..end, averaged
    positives += inGroup;
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * ROC AUC of class probabilities as scikit-learn's roc_auc_score: with two classes, the AUC of the
 * second (positive) class's probability; with more, the unweighted mean of each class's one-vs-rest AUC
 * (multi_class="ovr", average="macro"). A class whose one-vs-rest AUC is undefined (no rows of it, or
 * only rows of it) is left out of the mean (scikit-learn raises instead); NaN if none is defined.
 */
export function rocAuc(y: Int32Array, proba: Float64Array, nClasses: number): number {
  checkScoringInput(y, proba, nClasses);
  if (nClasses < 2) return Number.NaN;
  const order = new Int32Array(y.length);
  if (nClasses === 2) return binaryAuc(y, proba, 2, 1, order);
  let sum = 0;
  let m = 0;
  for (let c = 0; c < nClasses; c++) {
    const auc = binaryAuc(y, proba, nClasses, c, order);
    if (Number.isNaN(auc)) continue;
    sum += auc;
    m++;
  }
  return m > 0 ? sum / m : Number.NaN;
}

/**
 * Scores class probabilities against true class indices, larger is better (scikit-learn's scorer
 * convention): accuracy; minus the mean absolute error of the class labels taken as numbers (the post's
 * scoring); minus the mean log loss (probabilities clipped at the machine epsilon, as scikit-learn >= 1.2);
 * balanced accuracy; macro F1; ROC AUC (see `rocAuc`). The predicted class is the argmax (first wins);
 * balanced accuracy and macro F1 follow src/search/evaluate.ts (scikit-learn's zero-division 0).
 */
export function score(
  scoring: Scoring,
  proba: Float64Array,
  y: Int32Array,
  classes: readonly number[],
): number {
  const k = classes.length;
  const n = y.length;
  checkScoringInput(y, proba, k);
  switch (scoring) {
    case 'balanced_accuracy':
      return balancedAccuracyOf(confusionCounts(y, proba, k), k);
    case 'f1_macro':
      return macroF1Of(confusionCounts(y, proba, k), k);
    case 'roc_auc':
      return rocAuc(y, proba, k);
    default:
      break;
  }
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
