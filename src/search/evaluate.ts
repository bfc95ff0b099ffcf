/**
 * Holdout evaluation of class probabilities, with scikit-learn's definitions (checked against
 * scikit-learn 1.2 in test/search/sklearn-metrics.json): the predicted class is the argmax of each row's
 * probabilities (the first of equal maxima wins, as numpy's argmax); the confusion matrix has a row per
 * true class and a column per predicted class (sklearn.metrics.confusion_matrix).
 *
 * Zero division, as scikit-learn's default (`zero_division="warn"`, which returns 0): a class never
 * predicted has precision 0, a class with no true rows has recall 0, and F1 is 0 when precision and
 * recall are both 0.
 */
import { argmax } from '../pipeline/model.js';

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** True rows of the class. */
  support: number;
}

export interface Evaluation {
  accuracy: number;
  /** Mean recall over the classes that have true rows (sklearn.metrics.balanced_accuracy_score). */
  balancedAccuracy: number;
  /** confusionMatrix[t][p]: rows of true class t predicted as class p. */
  confusionMatrix: number[][];
  /** One entry per class index 0..nClasses-1 (classes without rows get zeros). */
  perClass: ClassScores[];
  /** Always predicting one class (DummyClassifier(strategy="most_frequent")): which, and its accuracy. */
  majorityBaseline: { classIndex: number; accuracy: number };
  /**
   * Mean F1 over the classes that occur in the truth or the predictions (sklearn.metrics.f1_score
   * with average="macro" and its default labels): a class absent from both is left out.
   */
  macroF1: number;
}

/** Checks the shapes and class indices shared by the evaluation and the scorers. */
export function checkScoringInput(yTrue: Int32Array, proba: Float64Array, nClasses: number): void {
  if (!(Number.isInteger(nClasses) && nClasses >= 1)) {
    throw new RangeError(`nClasses must be an integer >= 1, got ${nClasses}`);
  }
  if (yTrue.length === 0) throw new RangeError('cannot score 0 rows: expected at least one true class');
  if (proba.length !== yTrue.length * nClasses) {
    throw new RangeError(
      `probabilities have ${proba.length} values, expected ${yTrue.length} rows × ${nClasses} classes = ${yTrue.length * nClasses}`,
    );
  }
  for (let i = 0; i < yTrue.length; i++) {
    const c = yTrue[i] as number;
    if (!(c >= 0 && c < nClasses)) {
      throw new RangeError(`row ${i}: true class index ${c} is not in 0..${nClasses - 1}`);
    }
  }
}

/**
 * The confusion matrix as a flat nClasses × nClasses array, row-major: entry t * nClasses + p counts
 * the rows of true class t whose predicted class (argmax) is p.
 */
export function confusionCounts(yTrue: Int32Array, proba: Float64Array, nClasses: number): Int32Array {
  const cm = new Int32Array(nClasses * nClasses);
  for (let i = 0; i < yTrue.length; i++) {
    const cell = (yTrue[i] as number) * nClasses + argmax(proba, i * nClasses, nClasses);
    cm[cell] = (cm[cell] as number) + 1;
  }
  return cm;
}

/** Per-class true positives, true rows (support) and predicted rows of a flat confusion matrix. */
function margins(cm: Int32Array, k: number) {
  const tp = new Int32Array(k);
  const support = new Int32Array(k);
  const predicted = new Int32Array(k);
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const v = cm[t * k + p] as number;
      support[t] = (support[t] as number) + v;
      predicted[p] = (predicted[p] as number) + v;
    }
    tp[t] = cm[t * k + t] as number;
  }
  return { tp, support, predicted };
}

/** Precision, recall, F1 and support of each class, zero division giving 0. */
export function classScores(cm: Int32Array, k: number): ClassScores[] {
  const { tp, support, predicted } = margins(cm, k);
  return Array.from({ length: k }, (_, c) => {
    const hits = tp[c] as number;
    const precision = (predicted[c] as number) > 0 ? hits / (predicted[c] as number) : 0;
    const recall = (support[c] as number) > 0 ? hits / (support[c] as number) : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support: support[c] as number };
  });
}

/** Mean recall over the classes with true rows (balanced_accuracy_score). */
export function balancedAccuracyOf(cm: Int32Array, k: number): number {
  const { tp, support } = margins(cm, k);
  let sum = 0;
  let m = 0;
  for (let c = 0; c < k; c++) {
    if ((support[c] as number) === 0) continue;
    sum += (tp[c] as number) / (support[c] as number);
    m++;
  }
  return m > 0 ? sum / m : 0;
}

/** Mean F1 over the classes seen in the truth or the predictions (f1_score(average="macro")). */
export function macroF1Of(cm: Int32Array, k: number): number {
  const { support, predicted } = margins(cm, k);
  const scores = classScores(cm, k);
  let sum = 0;
  let m = 0;
  for (let c = 0; c < k; c++) {
    if ((support[c] as number) === 0 && (predicted[c] as number) === 0) continue;
    sum += (scores[c] as ClassScores).f1;
    m++;
  }
  return m > 0 ? sum / m : 0;
}

/**
 * Evaluates class probabilities (rows × nClasses, row-major) against the true class index of each row.
 * @param majorityFrom class indices the majority baseline is learnt from (the training rows, as a
 *   DummyClassifier fitted on them); the truth itself by default. Ties go to the lower class index.
 */
export function evaluate(
  yTrue: Int32Array,
  proba: Float64Array,
  nClasses: number,
  majorityFrom: Int32Array = yTrue,
): Evaluation {
  checkScoringInput(yTrue, proba, nClasses);
  const k = nClasses;
  const n = yTrue.length;
  const cm = confusionCounts(yTrue, proba, k);
  let correct = 0;
  for (let c = 0; c < k; c++) correct += cm[c * k + c] as number;
  const perClass = classScores(cm, k);

  const seen = new Int32Array(k);
  for (const c of majorityFrom) {
    if (!(c >= 0 && c < k)) throw new RangeError(`majority baseline: class index ${c} is not in 0..${k - 1}`);
    seen[c] = (seen[c] as number) + 1;
  }
  const classIndex = argmax(seen);
  return {
    accuracy: correct / n,
    balancedAccuracy: balancedAccuracyOf(cm, k),
    confusionMatrix: Array.from({ length: k }, (_, t) => Array.from(cm.subarray(t * k, t * k + k))),
    perClass,
    majorityBaseline: { classIndex, accuracy: (perClass[classIndex] as ClassScores).support / n },
    macroF1: macroF1Of(cm, k),
  };
}
